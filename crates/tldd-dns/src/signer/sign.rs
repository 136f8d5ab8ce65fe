//! Signing a zone version: DNSKEY and NSEC3PARAM at the apex, the NSEC3
//! chain, and RRSIGs over exactly the authoritative RRsets (RFC 4035 §2.2):
//! apex RRsets, other authoritative names, DS at cuts, NSEC3 — never the
//! NS RRset of a cut nor glue.
//!
//! Full signing is parallel (rayon) at every stage: hashing the chain's
//! names, sorting, building and signing the NSEC3 records in chunks, and
//! signing DS RRsets shard by shard of the delegation table. Each worker
//! reuses one [`Scratch`]; keys are given batches ([`SigningKey::sign_many`])
//! so an HSM backend can keep its sessions busy.
//!
//! For incremental re-signing, [`Signer::sign_rrset`] signs one RRset and
//! `chain::update_name` splices the chain for one changed name.
use super::bitmap::{self, delegation_bitmap};
use super::key::SigningKey;
use super::rrsig::{append_canonical_rrset, rrsig_labels, RrsigFields, Scratch};
use crate::config::DnssecConfig;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tldd_zone::nsec3::{self, Hash, Nsec3Chain, Nsec3Params, Nsec3Rec};
use tldd_zone::rdata::{CDNSKEY, CDS, DNSKEY, NSEC, NSEC3, NSEC3PARAM, RRSIG};
use tldd_zone::{RRset, Zone};

/// Why a zone could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no signing keys for the zone")]
    NoKeys,
    #[error("keys of algorithm {0}: every algorithm needs a key that signs the zone (ZSK or CSK)")]
    MissingZsk(u8),
    #[error("signing with key {tag}: {message}")]
    Key { tag: u16, message: String },
    #[error("NSEC3 hash collision between {0} and another name; change the salt")]
    Collision(String),
    #[error("zone has no SOA")]
    NoSoa,
    #[error("bad [zone.dnssec] setting: {0}")]
    Config(String),
    #[error("zone is not signed (no NSEC3 chain)")]
    Unsigned,
}

/// Signing parameters (from `[zone.dnssec]`).
#[derive(Clone, Debug)]
pub struct SignOptions {
    pub opt_out: bool,
    pub iterations: u16,
    pub salt: Vec<u8>,
    /// Seconds from now to expiration.
    pub validity: u32,
    /// Seconds inception lies in the past (clock skew allowance).
    pub inception_offset: u32,
    /// Unix time of signing.
    pub now: u64,
    /// TTL of the DNSKEY RRset (`[zone.dnssec] dnskey_ttl`).
    pub dnskey_ttl: u32,
}

impl SignOptions {
    pub fn from_config(cfg: &DnssecConfig) -> Result<SignOptions, SignError> {
        let salt = cfg.nsec3_salt.trim();
        let salt = if salt.is_empty() || salt == "-" {
            Vec::new()
        } else {
            hex::decode(salt).map_err(|_| SignError::Config("nsec3_salt is not hex".into()))?
        };
        if salt.len() > 255 {
            return Err(SignError::Config(
                "nsec3_salt longer than 255 octets".into(),
            ));
        }
        let validity = crate::config::parse_duration(&cfg.signature_validity)
            .filter(|v| (3600..(1 << 31)).contains(v))
            .ok_or_else(|| {
                SignError::Config(format!(
                    "signature_validity {:?} (1h .. 68 years)",
                    cfg.signature_validity
                ))
            })? as u32;
        Ok(SignOptions {
            opt_out: cfg.nsec3_opt_out,
            iterations: cfg.nsec3_iterations,
            salt,
            validity,
            inception_offset: 3600,
            now: unix_now(),
            dnskey_ttl: cfg.dnskey_ttl(),
        })
    }

    pub fn params(&self) -> Nsec3Params {
        Nsec3Params {
            algorithm: 1,
            iterations: self.iterations,
            salt: self.salt.clone(),
            opt_out: self.opt_out,
        }
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs RRsets of one zone with a set of keys.
pub struct Signer<'k, K: SigningKey> {
    keys: &'k [K],
    /// Keys signing the DNSKEY RRset.
    ksk: Vec<usize>,
    /// Keys signing everything else.
    zsk: Vec<usize>,
    origin: Box<[u8]>,
    pub inception: u32,
    pub expiration: u32,
    signed: AtomicU64,
}

struct Job {
    key: usize,
    item: usize,
    hdr: (u32, u32),
    end: u32,
}

impl<'k, K: SigningKey> Signer<'k, K> {
    /// KSKs (SEP bit) sign DNSKEY, the others the rest; an algorithm with
    /// only SEP keys (a CSK) signs everything with them.
    pub fn new(origin: &[u8], keys: &'k [K], opts: &SignOptions) -> Result<Self, SignError> {
        if keys.is_empty() {
            return Err(SignError::NoKeys);
        }
        let mut ksk = Vec::new();
        let mut zsk = Vec::new();
        let mut algs: Vec<u8> = keys.iter().map(|k| k.algorithm()).collect();
        algs.sort_unstable();
        algs.dedup();
        for alg in algs {
            let of_alg: Vec<usize> = (0..keys.len())
                .filter(|&i| keys[i].algorithm() == alg)
                .collect();
            let k: Vec<usize> = of_alg
                .iter()
                .copied()
                .filter(|&i| keys[i].is_ksk())
                .collect();
            let z: Vec<usize> = of_alg
                .iter()
                .copied()
                .filter(|&i| !keys[i].is_ksk())
                .collect();
            match (k.is_empty(), z.is_empty()) {
                (false, false) => {
                    ksk.extend(k);
                    zsk.extend(z);
                }
                (true, false) => {
                    ksk.extend(&z);
                    zsk.extend(z);
                }
                (false, true) => {
                    zsk.extend(&k);
                    ksk.extend(k);
                }
                (true, true) => return Err(SignError::MissingZsk(alg)),
            }
        }
        let now = opts.now;
        Ok(Signer {
            keys,
            ksk,
            zsk,
            origin: origin.to_ascii_lowercase().into(),
            inception: now.saturating_sub(opts.inception_offset as u64) as u32,
            expiration: (now + opts.validity as u64) as u32,
            signed: AtomicU64::new(0),
        })
    }

    /// RRsets signed so far.
    pub fn signed(&self) -> u64 {
        self.signed.load(Ordering::Relaxed)
    }

    /// The DNSKEY RDATAs of the keys.
    pub fn dnskey_rdatas(&self) -> Vec<&[u8]> {
        self.keys.iter().map(|k| k.dnskey_rdata()).collect()
    }

    /// Signs one RRset (replacing its RRSIGs). `owner`: lower-case wire.
    pub fn sign_rrset(
        &self,
        owner: &[u8],
        set: &mut RRset,
        sc: &mut Scratch,
    ) -> Result<(), SignError> {
        self.sign_rrsets(&mut [(owner, set)], sc)
    }

    /// Signs a batch of RRsets (replacing their RRSIGs); each key gets the
    /// batch's inputs in one `sign_many` call.
    pub fn sign_rrsets(
        &self,
        items: &mut [(&[u8], &mut RRset)],
        sc: &mut Scratch,
    ) -> Result<(), SignError> {
        let mut jobs: Vec<Job> = Vec::with_capacity(items.len() * self.zsk.len());
        let buf = &mut sc.input;
        buf.clear();
        for (ii, (owner, set)) in items.iter().enumerate() {
            // RFC 7344 §4.1: CDS and CDNSKEY are signed like the DNSKEY
            // RRset, by the key(s) the parent's DS points at.
            let ks = if matches!(set.rtype, DNSKEY | CDS | CDNSKEY) {
                &self.ksk
            } else {
                &self.zsk
            };
            for &ki in ks {
                let k = &self.keys[ki];
                let f = RrsigFields {
                    covered: set.rtype,
                    algorithm: k.algorithm(),
                    labels: rrsig_labels(owner),
                    original_ttl: set.ttl,
                    expiration: self.expiration,
                    inception: self.inception,
                    key_tag: k.key_tag(),
                    signer: &self.origin,
                };
                let hs = buf.len() as u32;
                f.write(buf);
                let he = buf.len() as u32;
                append_canonical_rrset(
                    buf,
                    owner,
                    set.rtype,
                    set.ttl,
                    set.rdatas(),
                    &mut sc.canon,
                    &mut sc.spans,
                );
                jobs.push(Job {
                    key: ki,
                    item: ii,
                    hdr: (hs, he),
                    end: buf.len() as u32,
                });
            }
        }
        let mut sigs: Vec<Vec<u8>> = vec![Vec::new(); jobs.len()];
        let mut used: Vec<usize> = jobs.iter().map(|j| j.key).collect();
        used.sort_unstable();
        used.dedup();
        for ki in used {
            let idx: Vec<usize> = (0..jobs.len()).filter(|&j| jobs[j].key == ki).collect();
            let inputs: Vec<&[u8]> = idx
                .iter()
                .map(|&j| &buf[jobs[j].hdr.0 as usize..jobs[j].end as usize])
                .collect();
            let key = &self.keys[ki];
            for (j, r) in idx.iter().zip(key.sign_many(&inputs)) {
                sigs[*j] = r.map_err(|message| SignError::Key {
                    tag: key.key_tag(),
                    message,
                })?;
            }
        }
        let mut j = 0;
        let mut packed: Vec<u8> = Vec::new();
        for (ii, (_, set)) in items.iter_mut().enumerate() {
            packed.clear();
            let mut spans: smallvec::SmallVec<[(usize, usize); 4]> = smallvec::SmallVec::new();
            while j < jobs.len() && jobs[j].item == ii {
                let s = packed.len();
                packed.extend_from_slice(&buf[jobs[j].hdr.0 as usize..jobs[j].hdr.1 as usize]);
                packed.extend_from_slice(&sigs[j]);
                spans.push((s, packed.len()));
                j += 1;
            }
            let refs: smallvec::SmallVec<[&[u8]; 4]> =
                spans.iter().map(|&(s, e)| &packed[s..e]).collect();
            set.set_sigs(&refs);
        }
        self.signed.fetch_add(items.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// What a full signing did.
#[derive(Debug, Clone, Default)]
pub struct SignStats {
    pub rrsets_signed: u64,
    pub nsec3_records: usize,
    pub seconds_hashing: f64,
    pub seconds_signing: f64,
}

/// Signs a copy of `zone` with the configured parameters and `keys`
/// (what `tldd serve` calls on a `[zone.dnssec]` zone).
pub fn sign_zone<K: SigningKey>(
    zone: &Zone,
    cfg: &DnssecConfig,
    keys: &[K],
) -> Result<Zone, SignError> {
    let opts = SignOptions::from_config(cfg)?;
    let mut z = zone.clone();
    sign_in_place(&mut z, &opts, keys, &|_| {})?;
    Ok(z)
}

/// Signs `zone` in place (full signing): old signatures and chain replaced.
/// `progress` is called now and then with the number of RRsets signed so far.
pub fn sign_in_place<K: SigningKey>(
    zone: &mut Zone,
    opts: &SignOptions,
    keys: &[K],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SignStats, SignError> {
    let signer = Signer::new(&zone.origin, keys, opts)?;
    zone.soa().ok_or(SignError::NoSoa)?;
    let params = opts.params();
    let origin = zone.origin.clone();

    // Apex: DNSKEY (configured keys added to any in the file), NSEC3PARAM;
    // leftovers of an earlier signing (NSEC) removed.
    zone.apex.remove(NSEC);
    zone.apex.remove(NSEC3);
    zone.apex.remove(RRSIG);
    let mut dnskeys: Vec<Vec<u8>> = zone
        .apex
        .get(DNSKEY)
        .map(|s| s.rdatas().map(<[u8]>::to_vec).collect())
        .unwrap_or_default();
    for rd in signer.dnskey_rdatas() {
        if !dnskeys.iter().any(|d| d == rd) {
            dnskeys.push(rd.to_vec());
        }
    }
    let refs: Vec<&[u8]> = dnskeys.iter().map(|v| v.as_slice()).collect();
    zone.apex.put(RRset::new(DNSKEY, opts.dnskey_ttl, &refs));
    // The TTL of the NSEC3 records (RFC 9077: the negative TTL); 0 made
    // validators warn and gained nothing.
    zone.apex.put(RRset::new(
        NSEC3PARAM,
        zone.negative_ttl(),
        &[&params.param_rdata()],
    ));
    for node in zone.names.values_mut() {
        node.remove(NSEC);
        node.remove(NSEC3);
        node.remove(RRSIG);
    }

    // Apex and the other authoritative names.
    let mut sc = Scratch::default();
    {
        let mut items: Vec<(&[u8], &mut RRset)> =
            zone.apex.rrsets.iter_mut().map(|s| (&*origin, s)).collect();
        signer.sign_rrsets(&mut items, &mut sc)?;
    }
    {
        let mut items: Vec<(&[u8], &mut RRset)> = zone
            .names
            .iter_mut()
            .flat_map(|(n, node)| node.rrsets.iter_mut().map(move |s| (&**n, s)))
            .collect();
        if !items.is_empty() {
            signer.sign_rrsets(&mut items, &mut sc)?;
        }
    }

    // The NSEC3 chain: hash in parallel, sort, build and sign in chunks.
    let t = std::time::Instant::now();
    let mut chain = Nsec3Chain::new(params.clone(), &origin, zone.negative_ttl());
    let (entries, bitmaps) = chain_entries(zone, &params)?;
    let seconds_hashing = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let n = entries.len();
    let first_err: Mutex<Option<SignError>> = Mutex::new(None);
    const CHUNK: usize = 512;
    let last_report = AtomicU64::new(0);
    let recs: Vec<Vec<Nsec3Rec>> = entries
        .par_chunks(CHUNK)
        .enumerate()
        .map_init(Scratch::default, |sc, (ci, chunk)| {
            let mut recs = Vec::with_capacity(chunk.len());
            let mut rd = Vec::with_capacity(64);
            for (k, e) in chunk.iter().enumerate() {
                let next = &entries[(ci * CHUNK + k + 1) % n].0;
                rd.clear();
                nsec3::build_rdata(&params, next, &bitmaps[e.1 as usize], &mut rd);
                recs.push(Nsec3Rec::new(e.0, chain.ttl, &rd));
            }
            let mut owners = vec![[0u8; 256]; 0];
            owners.reserve(recs.len());
            let mut lens = Vec::with_capacity(recs.len());
            for r in &recs {
                let mut o = [0u8; 256];
                lens.push(nsec3::owner_name(&r.hash, &origin, &mut o));
                owners.push(o);
            }
            let mut items: Vec<(&[u8], &mut RRset)> = recs
                .iter_mut()
                .zip(owners.iter().zip(&lens))
                .map(|(r, (o, &l))| (&o[..l], &mut r.rrset))
                .collect();
            if let Err(e) = signer.sign_rrsets(&mut items, sc) {
                first_err.lock().unwrap().get_or_insert(e);
            }
            report(&signer, &last_report, progress);
            recs
        })
        .collect();
    if let Some(e) = first_err.lock().unwrap().take() {
        return Err(e);
    }
    chain.fill_sorted(recs.into_iter().flatten().collect());
    let nsec3_records = chain.len();

    // DS at cuts, shard by shard; NS at cuts carries no RRSIG.
    zone.cuts.par_for_each_shard_mut(|it| {
        let mut items: Vec<(&[u8], &mut RRset)> = Vec::new();
        for d in it {
            if d.ns.sigs().next().is_some() {
                d.ns.set_sigs(&[]);
            }
            if let Some(ds) = d.ds.as_mut() {
                items.push((&d.name, &mut **ds));
            }
        }
        if items.is_empty() {
            return;
        }
        thread_local! {
            static SC: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
        }
        let r = SC.with(|sc| signer.sign_rrsets(&mut items, &mut sc.borrow_mut()));
        if let Err(e) = r {
            first_err.lock().unwrap().get_or_insert(e);
        }
        report(&signer, &last_report, progress);
    });
    if let Some(e) = first_err.lock().unwrap().take() {
        return Err(e);
    }
    zone.nsec3 = Some(chain);
    progress(signer.signed());
    Ok(SignStats {
        rrsets_signed: signer.signed(),
        nsec3_records,
        seconds_hashing,
        seconds_signing: t.elapsed().as_secs_f64(),
    })
}

fn report<K: SigningKey>(s: &Signer<'_, K>, last: &AtomicU64, progress: &(dyn Fn(u64) + Sync)) {
    let n = s.signed();
    let l = last.load(Ordering::Relaxed);
    if n >= l + 10_000
        && last
            .compare_exchange(l, n, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        progress(n);
    }
}

/// (hash, bitmap index) of each name of the chain, sorted; the bitmaps.
pub(crate) type ChainEntries = (Vec<(Hash, u32)>, Vec<Vec<u8>>);

/// The names of the chain with their bitmaps: (hash, bitmap index) sorted by
/// hash, and the bitmaps (0: NS; 1: NS DS RRSIG; then apex and names).
pub(crate) fn chain_entries(zone: &Zone, params: &Nsec3Params) -> Result<ChainEntries, SignError> {
    let mut bitmaps = vec![delegation_bitmap(false), delegation_bitmap(true)];
    let mut entries: Vec<(Hash, u32)> = Vec::new();
    bitmaps.push(bitmap::node_bitmap(&zone.apex));
    entries.push((params.hash(&zone.origin), 2));
    for (name, node) in &zone.names {
        bitmaps.push(bitmap::node_bitmap(node));
        entries.push((params.hash(name), bitmaps.len() as u32 - 1));
    }
    let opt_out = params.opt_out;
    let cuts: Vec<Vec<(Hash, u32)>> = zone
        .cuts
        .par_shards()
        .map(|it| {
            it.filter_map(|d| match (&d.ds, opt_out) {
                (Some(_), _) => Some((params.hash(&d.name), 1)),
                (None, false) => Some((params.hash(&d.name), 0)),
                (None, true) => None,
            })
            .collect()
        })
        .collect();
    entries.reserve(cuts.iter().map(Vec::len).sum());
    for c in cuts {
        entries.extend(c);
    }
    entries.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(SignError::Collision(
            data_encoding::BASE32HEX_NOPAD.encode(&w[0].0),
        ));
    }
    Ok((entries, bitmaps))
}
