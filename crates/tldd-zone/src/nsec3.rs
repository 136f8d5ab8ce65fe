//! The NSEC3 chain of one zone version (RFC 5155).
//!
//! NSEC3 records are not ordinary names: their owners (`<base32hex hash>.<origin>`)
//! never enter [`Zone::names`](super::Zone); they live here, keyed by the raw
//! 20-octet SHA-1 hash, sorted. The chain is split into [`CHAIN_SHARDS`]
//! copy-on-write shards by the leading bits of the hash (hashes are uniform,
//! so shards stay balanced): a version made by an update clones the shard
//! array (pointers) and rebuilds only the shards it splices, like the
//! delegation table.
//!
//! Lookups: [`Nsec3Chain::get`] (the record owned by a hash) and
//! [`Nsec3Chain::covering`] (the record whose span `(owner, next)` holds a hash
//! that has no record); both are one shard pick plus a binary search.
//! Splicing ([`Nsec3Chain::insert`], [`Nsec3Chain::remove`]) keeps the order; the
//! caller (the signer) fixes the predecessor's "next hashed owner" and re-signs it.
//!
//! The hashes of the apex and of `*.<apex>` are computed once per version
//! ([`Nsec3Chain::apex_hash`], [`Nsec3Chain::wildcard_hash`]), so a denial
//! proof costs one SHA-1 of the query name's next-closer name.
use super::rdata::NSEC3;
use super::rrset::RRset;
use data_encoding::BASE32HEX_NOPAD;
use std::sync::Arc;

/// SHA-1 digest length: the only NSEC3 hash algorithm (RFC 5155 §11).
pub const HASH_LEN: usize = 20;

/// Copy-on-write shards of the chain (by the top 10 bits of the hash).
pub const CHAIN_SHARDS: usize = 1024;

/// An NSEC3 hash.
pub type Hash = [u8; HASH_LEN];

/// NSEC3 flags: Opt-Out (RFC 5155 §3.1.2.1).
pub const FLAG_OPT_OUT: u8 = 1;

/// The NSEC3PARAM values shared by the chain.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Nsec3Params {
    /// Hash algorithm; 1 (SHA-1) is the only one defined.
    pub algorithm: u8,
    /// Iterations beyond the first hash (RFC 9276: 0).
    pub iterations: u16,
    pub salt: Vec<u8>,
    /// Whether the chain's records carry the Opt-Out flag.
    pub opt_out: bool,
}

impl Nsec3Params {
    /// The NSEC3PARAM RDATA (flags 0, RFC 5155 §4.1.2).
    pub fn param_rdata(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(5 + self.salt.len());
        v.push(self.algorithm);
        v.push(0);
        v.extend_from_slice(&self.iterations.to_be_bytes());
        v.push(self.salt.len() as u8);
        v.extend_from_slice(&self.salt);
        v
    }

    /// Reads NSEC3PARAM RDATA (the opt-out bit is not part of it).
    pub fn from_param_rdata(rd: &[u8]) -> Option<Nsec3Params> {
        let salt_len = *rd.get(4)? as usize;
        let salt = rd.get(5..5 + salt_len)?.to_vec();
        (rd.len() == 5 + salt_len).then(|| Nsec3Params {
            algorithm: rd[0],
            iterations: u16::from_be_bytes([rd[2], rd[3]]),
            salt,
            opt_out: false,
        })
    }

    /// The hash of `name` (lower-case wire) under these parameters.
    #[inline]
    pub fn hash(&self, name: &[u8]) -> Hash {
        hash_name(name, &self.salt, self.iterations)
    }
}

/// RFC 5155 §5: IH(salt, x, 0) = H(x || salt); IH(salt, x, k) = H(IH(salt, x, k-1) || salt).
/// `name` must already be in canonical (lower-case) wire form.
#[inline]
pub fn hash_name(name: &[u8], salt: &[u8], iterations: u16) -> Hash {
    use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};
    let mut c = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    c.update(name);
    c.update(salt);
    let mut h = c.finish();
    for _ in 0..iterations {
        let mut c = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        c.update(h.as_ref());
        c.update(salt);
        h = c.finish();
    }
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(h.as_ref());
    out
}

/// Writes the owner name of an NSEC3 record (`<base32hex>.<origin>`, lower
/// case wire) into `out`; returns its length.
#[inline]
pub fn owner_name(hash: &Hash, origin: &[u8], out: &mut [u8; 256]) -> usize {
    out[0] = 32;
    BASE32HEX_NOPAD.encode_mut(hash, &mut out[1..33]);
    out[1..33].make_ascii_lowercase();
    let n = 33 + origin.len();
    out[33..n].copy_from_slice(origin);
    n
}

/// The hash an NSEC3 owner name's first label spells, if it is one.
pub fn hash_of_owner(owner: &[u8]) -> Option<Hash> {
    if owner.first() != Some(&32) || owner.len() < 33 {
        return None;
    }
    let label = owner[1..33].to_ascii_uppercase();
    let v = BASE32HEX_NOPAD.decode(&label).ok()?;
    v.try_into().ok()
}

/// Reads the fields of NSEC3 RDATA.
#[derive(Clone, Copy, Debug)]
pub struct Nsec3Rdata<'a> {
    pub algorithm: u8,
    pub flags: u8,
    pub iterations: u16,
    pub salt: &'a [u8],
    pub next: &'a [u8],
    pub bitmap: &'a [u8],
}

impl<'a> Nsec3Rdata<'a> {
    pub fn parse(rd: &'a [u8]) -> Option<Nsec3Rdata<'a>> {
        let salt_len = *rd.get(4)? as usize;
        let salt = rd.get(5..5 + salt_len)?;
        let hl = *rd.get(5 + salt_len)? as usize;
        let next = rd.get(6 + salt_len..6 + salt_len + hl)?;
        Some(Nsec3Rdata {
            algorithm: rd[0],
            flags: rd[1],
            iterations: u16::from_be_bytes([rd[2], rd[3]]),
            salt,
            next,
            bitmap: &rd[6 + salt_len + hl..],
        })
    }

    /// Whether the type bitmap has `t`.
    pub fn has_type(&self, t: u16) -> bool {
        bitmap_has(self.bitmap, t)
    }
}

/// Whether an RFC 4034 §4.1.2 type bitmap has `t`.
pub fn bitmap_has(mut bm: &[u8], t: u16) -> bool {
    let (win, low) = ((t >> 8) as u8, (t & 0xff) as usize);
    while bm.len() >= 2 {
        let (w, len) = (bm[0], bm[1] as usize);
        let Some(bits) = bm.get(2..2 + len) else {
            return false;
        };
        if w == win {
            return bits
                .get(low / 8)
                .is_some_and(|b| b & (0x80 >> (low % 8)) != 0);
        }
        bm = &bm[2 + len..];
    }
    false
}

/// Builds NSEC3 RDATA.
pub fn build_rdata(p: &Nsec3Params, next: &Hash, bitmap: &[u8], out: &mut Vec<u8>) {
    out.push(p.algorithm);
    out.push(if p.opt_out { FLAG_OPT_OUT } else { 0 });
    out.extend_from_slice(&p.iterations.to_be_bytes());
    out.push(p.salt.len() as u8);
    out.extend_from_slice(&p.salt);
    out.push(HASH_LEN as u8);
    out.extend_from_slice(next);
    out.extend_from_slice(bitmap);
}

/// One NSEC3 record: its owner hash and its RRset (one RDATA, with RRSIGs).
#[derive(Clone, Debug)]
pub struct Nsec3Rec {
    pub hash: Hash,
    pub rrset: RRset,
}

impl Nsec3Rec {
    pub fn new(hash: Hash, ttl: u32, rdata: &[u8]) -> Nsec3Rec {
        Nsec3Rec {
            hash,
            rrset: RRset::new(NSEC3, ttl, &[rdata]),
        }
    }

    /// The NSEC3 RDATA.
    pub fn rdata(&self) -> &[u8] {
        self.rrset.rdatas().next().unwrap_or(&[])
    }

    pub fn fields(&self) -> Option<Nsec3Rdata<'_>> {
        Nsec3Rdata::parse(self.rdata())
    }

    pub fn opt_out(&self) -> bool {
        self.rdata().get(1).is_some_and(|f| f & FLAG_OPT_OUT != 0)
    }

    /// Whether this record's span covers `h` (strictly between owner and
    /// next, with the wrap-around at the end of the chain).
    pub fn covers(&self, h: &Hash) -> bool {
        let Some(f) = self.fields() else { return false };
        let next = f.next;
        let own = &self.hash[..];
        if own < next {
            own < &h[..] && &h[..] < next
        } else {
            // Last record (or the only one): wraps.
            &h[..] > own || &h[..] < next
        }
    }
}

/// The sorted chain of one version.
#[derive(Clone)]
pub struct Nsec3Chain {
    pub params: Nsec3Params,
    /// TTL of the NSEC3 records (RFC 9077: min(SOA TTL, SOA MINIMUM)).
    pub ttl: u32,
    /// Hash of the apex.
    pub apex_hash: Hash,
    /// Hash of `*.<apex>`.
    pub wildcard_hash: Hash,
    shards: Box<[Arc<Vec<Nsec3Rec>>]>,
    count: usize,
}

impl std::fmt::Debug for Nsec3Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nsec3Chain")
            .field("params", &self.params)
            .field("len", &self.count)
            .finish()
    }
}

/// Hash order without a `memcmp` call per step: the first 8 octets as one
/// integer decide almost always (profiled: `memcmp` was 4% of signing 1M).
#[inline]
fn cmp_hash(a: &Hash, b: &Hash) -> std::cmp::Ordering {
    let head = |h: &Hash| u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
    head(a).cmp(&head(b)).then_with(|| a[8..].cmp(&b[8..]))
}

#[inline]
fn shard_of(h: &[u8]) -> usize {
    ((h[0] as usize) << 2 | (h[1] as usize) >> 6) & (CHAIN_SHARDS - 1)
}

impl Nsec3Chain {
    /// An empty chain for `origin` (lower-case wire).
    pub fn new(params: Nsec3Params, origin: &[u8], ttl: u32) -> Nsec3Chain {
        let apex_hash = params.hash(origin);
        let mut wc = Vec::with_capacity(origin.len() + 2);
        wc.extend_from_slice(b"\x01*");
        wc.extend_from_slice(origin);
        let wildcard_hash = params.hash(&wc);
        let empty = Arc::new(Vec::new());
        Nsec3Chain {
            params,
            ttl,
            apex_hash,
            wildcard_hash,
            shards: vec![empty; CHAIN_SHARDS].into(),
            count: 0,
        }
    }

    /// Fills an empty chain from records sorted by hash (no duplicates).
    pub fn fill_sorted(&mut self, recs: Vec<Nsec3Rec>) {
        debug_assert!(recs.windows(2).all(|w| w[0].hash < w[1].hash));
        let mut per: Vec<Vec<Nsec3Rec>> = (0..CHAIN_SHARDS).map(|_| Vec::new()).collect();
        self.count = recs.len();
        for r in recs {
            per[shard_of(&r.hash)].push(r);
        }
        self.shards = per.into_iter().map(Arc::new).collect();
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The record owned by `h`.
    #[inline]
    pub fn get(&self, h: &Hash) -> Option<&Nsec3Rec> {
        let s = &self.shards[shard_of(h)];
        s.binary_search_by(|r| cmp_hash(&r.hash, h))
            .ok()
            .map(|i| &s[i])
    }

    /// The record matching `h` (`Ok`) or the one covering it (`Err`).
    /// `None` only for an empty chain.
    #[inline]
    pub fn lookup(&self, h: &Hash) -> Option<Result<&Nsec3Rec, &Nsec3Rec>> {
        let si = shard_of(h);
        let s = &self.shards[si];
        match s.binary_search_by(|r| cmp_hash(&r.hash, h)) {
            Ok(i) => Some(Ok(&s[i])),
            Err(i) if i > 0 => Some(Err(&s[i - 1])),
            Err(_) => self.last_before_shard(si).map(Err),
        }
    }

    /// The record whose span covers `h` (greatest owner below `h`, wrapping);
    /// the matching record itself if `h` has one.
    #[inline]
    pub fn covering(&self, h: &Hash) -> Option<&Nsec3Rec> {
        self.lookup(h).map(|r| r.unwrap_or_else(|c| c))
    }

    /// The last record of the nearest non-empty shard before `si`, wrapping.
    fn last_before_shard(&self, si: usize) -> Option<&Nsec3Rec> {
        (1..=CHAIN_SHARDS)
            .map(|k| &self.shards[(si + CHAIN_SHARDS - k) % CHAIN_SHARDS])
            .find_map(|s| s.last())
    }

    /// The first record of the nearest non-empty shard after `si`, wrapping.
    fn first_after_shard(&self, si: usize) -> Option<&Nsec3Rec> {
        (1..=CHAIN_SHARDS)
            .map(|k| &self.shards[(si + k) % CHAIN_SHARDS])
            .find_map(|s| s.first())
    }

    /// The record before `h` in chain order (wrapping), `h` itself excluded.
    pub fn predecessor(&self, h: &Hash) -> Option<&Nsec3Rec> {
        let si = shard_of(h);
        let s = &self.shards[si];
        let i = s.partition_point(|r| r.hash < *h);
        if i > 0 {
            Some(&s[i - 1])
        } else {
            self.last_before_shard(si).filter(|r| r.hash != *h)
        }
    }

    /// The record after `h` in chain order (wrapping), `h` itself excluded.
    pub fn successor(&self, h: &Hash) -> Option<&Nsec3Rec> {
        let si = shard_of(h);
        let s = &self.shards[si];
        let i = s.partition_point(|r| r.hash <= *h);
        if i < s.len() {
            Some(&s[i])
        } else {
            self.first_after_shard(si).filter(|r| r.hash != *h)
        }
    }

    /// Inserts or replaces the record of `rec.hash`; copies the shard if
    /// another version shares it. The caller keeps the "next" fields right.
    pub fn insert(&mut self, rec: Nsec3Rec) {
        let s = Arc::make_mut(&mut self.shards[shard_of(&rec.hash)]);
        match s.binary_search_by(|r| cmp_hash(&r.hash, &rec.hash)) {
            Ok(i) => s[i] = rec,
            Err(i) => {
                s.insert(i, rec);
                self.count += 1;
            }
        }
    }

    /// Removes the record of `h`.
    pub fn remove(&mut self, h: &Hash) -> Option<Nsec3Rec> {
        let s = Arc::make_mut(&mut self.shards[shard_of(h)]);
        let i = s.binary_search_by(|r| cmp_hash(&r.hash, h)).ok()?;
        self.count -= 1;
        Some(s.remove(i))
    }

    /// All records in hash order.
    pub fn iter(&self) -> impl Iterator<Item = &Nsec3Rec> {
        self.shards.iter().flat_map(|s| s.iter())
    }

    /// The shards, in order (each sorted); for parallel walks.
    pub fn shards(&self) -> &[Arc<Vec<Nsec3Rec>>] {
        &self.shards
    }

    /// Mutable shards (copied on write), for parallel re-signing. The caller
    /// must not change hashes.
    pub fn shards_mut(&mut self) -> impl Iterator<Item = &mut Vec<Nsec3Rec>> {
        self.shards.iter_mut().map(Arc::make_mut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        super::super::name::from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
        v
    }

    #[test]
    fn rfc5155_appendix_a_hashes() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let enc = |s: &str| {
            BASE32HEX_NOPAD
                .encode(&hash_name(&wire(s), &salt, 12))
                .to_ascii_lowercase()
        };
        assert_eq!(enc("example."), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
        assert_eq!(enc("a.example."), "35mthgpgcu1qg68fab165klnsnk3dpvl");
        assert_eq!(enc("*.w.example."), "r53bq7cc2uvmubfu5ocmm6pers9tk9en");
    }

    #[test]
    fn owner_round_trip() {
        let h = hash_name(&wire("x.shop."), &[], 0);
        let mut buf = [0u8; 256];
        let n = owner_name(&h, &wire("shop."), &mut buf);
        assert_eq!(hash_of_owner(&buf[..n]), Some(h));
    }

    fn rec(h: u8) -> Nsec3Rec {
        let mut hash = [0u8; HASH_LEN];
        hash[0] = h;
        Nsec3Rec::new(hash, 0, &[1, 0, 0, 0, 0, 20])
    }

    #[test]
    fn lookup_and_splice() {
        let p = Nsec3Params {
            algorithm: 1,
            ..Default::default()
        };
        let mut c = Nsec3Chain::new(p, &wire("shop."), 0);
        c.fill_sorted(vec![rec(0x10), rec(0x80), rec(0xf0)]);
        let mut h = [0u8; HASH_LEN];
        h[0] = 0x05;
        assert_eq!(c.covering(&h).unwrap().hash[0], 0xf0); // wraps
        h[0] = 0x80;
        assert!(matches!(c.lookup(&h), Some(Ok(r)) if r.hash[0] == 0x80));
        h[0] = 0x81;
        assert_eq!(c.covering(&h).unwrap().hash[0], 0x80);
        c.insert(rec(0x90));
        assert_eq!(c.covering(&h).unwrap().hash[0], 0x80);
        h[0] = 0x95;
        assert_eq!(c.covering(&h).unwrap().hash[0], 0x90);
        assert_eq!(c.predecessor(&rec(0x10).hash).unwrap().hash[0], 0xf0);
        assert_eq!(c.successor(&rec(0xf0).hash).unwrap().hash[0], 0x10);
        c.remove(&rec(0x90).hash);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c.iter().map(|r| r.hash[0]).collect::<Vec<_>>(),
            vec![0x10, 0x80, 0xf0]
        );
    }
}
