//! Verify before serving: checks a signed version end to end.
//!
//! - every RRSIG verifies against the apex DNSKEY RRset (ring with the public
//!   key; for soft P-256 keys held by this process the equivalent, 4x faster
//!   check with the private key in [`crate::hsm::selfcheck`]), its fields
//!   are right (covered type, labels, original TTL, signer = apex) and it is
//!   within its validity window;
//! - every authoritative RRset (apex, other names, DS, NSEC3) is signed with
//!   every algorithm of the DNSKEY RRset (RFC 4035 §2.2); delegation NS and
//!   glue carry no RRSIG;
//! - the NSEC3 chain is closed (each "next" is the following owner, the last
//!   points to the first), strictly ordered, uses the NSEC3PARAM's
//!   parameters, holds exactly one record per name that belongs in it with
//!   the right type bitmap, no orphans, and every delegation without DS is
//!   either in the chain or covered by an opt-out record.
//!
//! Parallel (rayon) over the delegation shards and the chain.
use super::key::verify_signature;
use super::rrsig::{rrsig_labels, signature_input, RrsigFields, Scratch};
use super::sign::{chain_entries, unix_now};
use crate::hsm::dnskey::ECDSAP256SHA256;
use crate::hsm::selfcheck::{self, Prepared, PrivateCheck};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tldd_zone::nsec3::{self, Hash, Nsec3Params};
use tldd_zone::rdata::{self, DNSKEY, NSEC3PARAM};
use tldd_zone::{name, RRset, Zone};

/// A version that must not be served: the problems found (the first
/// [`MAX_REPORTED`]) and how many there were.
#[derive(Debug, Clone)]
pub struct VerifyError {
    pub problems: Vec<String>,
    pub count: usize,
}

/// Problems kept in a [`VerifyError`].
pub const MAX_REPORTED: usize = 20;

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "signed zone failed verification: {} problem(s)",
            self.count
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        if self.count > self.problems.len() {
            write!(f, "\n  ...")?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifyError {}

/// What a successful verification covered.
#[derive(Debug, Clone, Default)]
pub struct VerifyStats {
    pub signatures: usize,
    pub rrsets: usize,
    pub nsec3_records: usize,
}

struct Key {
    tag: u16,
    alg: u8,
    public: Vec<u8>,
    /// Soft P-256 key held by this process: checked with its private key.
    private: Option<Arc<PrivateCheck>>,
}

struct Ctx<'z> {
    zone: &'z Zone,
    /// Crypto-verify the RRSIGs of one DS/NSEC3 RRset in `one_in`.
    one_in: u32,
    seen: AtomicUsize,
    keys: Vec<Key>,
    algs: Vec<u8>,
    now: u32,
    problems: Mutex<Vec<String>>,
    count: AtomicUsize,
    sigs: AtomicUsize,
    rrsets: AtomicUsize,
    /// RRsets known good already (identical in a verified version): their
    /// RRSIG fields are checked, the crypto is skipped.
    unchanged: Option<&'z Unchanged<'z>>,
}

/// `unchanged(owner, rrset)`: the RRset, signatures included, is the same
/// in a version that was verified before.
/// Scratch space of one verifying task, and the soft-key signature checks
/// it has put off so they can be done together ([`selfcheck::verify_batch`]).
/// Dropping the batch does the checks left, so none can be skipped.
struct Batch<'c, 'z> {
    ctx: &'c Ctx<'z>,
    sc: Scratch,
    deferred: Vec<Deferred>,
}

/// A put-off check and what to say if it fails.
struct Deferred {
    check: Arc<PrivateCheck>,
    prepared: Prepared,
    owner: Box<[u8]>,
    rtype: u16,
    key_tag: u16,
}

/// Signatures checked together; enough to make the one inversion cheap.
const BATCH: usize = 64;

impl Batch<'_, '_> {
    fn defer(&mut self, d: Deferred) {
        self.deferred.push(d);
        if self.deferred.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let items: Vec<_> = self
            .deferred
            .iter()
            .map(|d| (&*d.check, d.prepared))
            .collect();
        let verdicts = selfcheck::verify_batch(&items);
        for (d, ok) in self.deferred.iter().zip(verdicts) {
            if !ok {
                self.ctx.problem(|| {
                    format!(
                        "{} {}: RRSIG (key {}): signature does not verify",
                        name::to_text(&d.owner),
                        rdata::type_name(d.rtype),
                        d.key_tag
                    )
                });
            }
        }
        self.deferred.clear();
    }
}

impl Drop for Batch<'_, '_> {
    fn drop(&mut self) {
        self.flush();
    }
}

pub type Unchanged<'a> = dyn Fn(&[u8], &RRset) -> bool + Sync + 'a;

impl<'z> Ctx<'z> {
    fn new(
        zone: &'z Zone,
        now: u32,
        one_in: u32,
        unchanged: Option<&'z Unchanged<'z>>,
        extra: &[Vec<u8>],
    ) -> Self {
        let (mut keys, algs) = zone_keys(zone);
        // Keys that sign without being published (an algorithm roll's):
        // their signatures must verify, their algorithm is not required.
        for rd in extra {
            if rd.len() >= 5
                && !keys
                    .iter()
                    .any(|k| k.public[..] == rd[4..] && k.alg == rd[3])
            {
                keys.push(Key {
                    tag: super::key::key_tag(rd),
                    alg: rd[3],
                    public: rd[4..].to_vec(),
                    private: selfcheck::lookup(&rd[4..]),
                });
            }
        }
        Ctx {
            zone,
            one_in,
            // A random start, so which RRsets a sample skips varies.
            seen: AtomicUsize::new(if one_in > 1 {
                rand::random::<u32>() as usize
            } else {
                0
            }),
            keys,
            algs,
            now,
            problems: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            sigs: AtomicUsize::new(0),
            rrsets: AtomicUsize::new(0),
            unchanged,
        }
    }

    /// The problems found, if any.
    fn into_result(self) -> Result<(), VerifyError> {
        let count = self.count.load(Ordering::Relaxed);
        if count > 0 {
            return Err(VerifyError {
                problems: self.problems.into_inner().unwrap(),
                count,
            });
        }
        Ok(())
    }
}

impl<'z> Ctx<'z> {
    fn batch(&self) -> Batch<'_, 'z> {
        Batch {
            ctx: self,
            sc: Scratch::default(),
            deferred: Vec::new(),
        }
    }

    fn problem(&self, msg: impl FnOnce() -> String) {
        if self.count.fetch_add(1, Ordering::Relaxed) < MAX_REPORTED {
            self.problems.lock().unwrap().push(msg());
        }
    }

    /// Checks the RRSIGs of one RRset; `signed`: whether it must be signed.
    fn check_set(&self, owner: &[u8], set: &RRset, signed: bool, b: &mut Batch<'_, '_>) {
        self.check_set_sampled(owner, set, signed, false, b)
    }

    /// `sampled`: a DS/NSEC3 RRset whose signature may be skipped under sampling.
    fn check_set_sampled(
        &self,
        owner: &[u8],
        set: &RRset,
        signed: bool,
        sampled: bool,
        b: &mut Batch<'_, '_>,
    ) {
        let crypto = (!sampled
            || self.one_in <= 1
            || self
                .seen
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.one_in as usize))
            && self.unchanged.is_none_or(|u| !u(owner, set));
        let show = || format!("{} {}", name::to_text(owner), rdata::type_name(set.rtype));
        if !signed {
            if set.sigs().next().is_some() {
                self.problem(|| format!("{}: RRSIG on data that is not authoritative", show()));
            }
            return;
        }
        self.rrsets.fetch_add(1, Ordering::Relaxed);
        let mut good_algs: u64 = 0;
        for sig in set.sigs() {
            self.sigs.fetch_add(1, Ordering::Relaxed);
            let Some((f, signature)) = RrsigFields::parse(sig) else {
                self.problem(|| format!("{}: malformed RRSIG", show()));
                continue;
            };
            let bad = |why: &str| {
                self.problem(|| format!("{}: RRSIG (key {}): {why}", show(), f.key_tag))
            };
            if f.covered != set.rtype {
                bad("covers another type");
                continue;
            }
            if !f.signer.eq_ignore_ascii_case(&self.zone.origin) {
                bad("signer is not the apex");
                continue;
            }
            if f.labels != rrsig_labels(owner) {
                bad("wrong labels field");
                continue;
            }
            if f.original_ttl != set.ttl {
                bad("original TTL differs from the RRset TTL");
                continue;
            }
            if f.inception > self.now || f.expiration < self.now {
                bad("not valid now (inception/expiration)");
                continue;
            }
            let Some(key) = self
                .keys
                .iter()
                .find(|k| k.tag == f.key_tag && k.alg == f.algorithm)
            else {
                bad("no DNSKEY with this tag and algorithm");
                continue;
            };
            if !crypto {
                good_algs |= 1 << (f.algorithm & 63);
                continue;
            }
            signature_input(&f, owner, set.rtype, set.rdatas(), &mut b.sc);
            match &key.private {
                // Checked with the batch; a failure is reported then, and
                // any problem keeps the version from being served.
                Some(check) if key.alg == ECDSAP256SHA256 => {
                    let Some(prepared) = check.prepare(&b.sc.input, signature) else {
                        bad("signature does not verify");
                        continue;
                    };
                    b.defer(Deferred {
                        check: check.clone(),
                        prepared,
                        owner: owner.into(),
                        rtype: set.rtype,
                        key_tag: f.key_tag,
                    });
                }
                _ => {
                    if !verify_signature(key.alg, &key.public, &b.sc.input, signature) {
                        bad("signature does not verify");
                        continue;
                    }
                }
            }
            good_algs |= 1 << (f.algorithm & 63);
        }
        for &a in &self.algs {
            if good_algs & (1 << (a & 63)) == 0 {
                self.problem(|| format!("{}: no valid RRSIG of algorithm {a}", show()));
            }
        }
    }
}

/// Checks a signed version; `Ok` means it may be served.
pub fn verify(zone: &Zone) -> Result<(), VerifyError> {
    verify_at(zone, unix_now() as u32).map(|_| ())
}

/// [`verify`] at a given time, with statistics.
pub fn verify_at(zone: &Zone, now: u32) -> Result<VerifyStats, VerifyError> {
    verify_sampled(zone, now, 1)
}

/// [`verify_at`], checking the signatures cryptographically of only one DS
/// or NSEC3 RRset in `one_in` (every RRSIG's fields, validity, key, the
/// apex and other names' signatures and the whole chain are always
/// checked). `one_in` = 1 is [`verify_at`]. For `tldd sign --verify-one-in`.
pub fn verify_sampled(zone: &Zone, now: u32, one_in: u32) -> Result<VerifyStats, VerifyError> {
    verify_sampled_with(zone, now, one_in, &[])
}

/// [`verify_sampled`], also accepting signatures of the unpublished keys
/// `extra` (DNSKEY RDATA; an algorithm roll's presigned or withdrawn keys).
pub fn verify_sampled_with(
    zone: &Zone,
    now: u32,
    one_in: u32,
    extra: &[Vec<u8>],
) -> Result<VerifyStats, VerifyError> {
    let ctx = Ctx::new(zone, now, one_in, None, extra);
    if ctx.keys.is_empty() {
        ctx.problem(|| "no DNSKEY RRset with zone keys at the apex".into());
    }
    let mut apex = ctx.batch();
    for set in &zone.apex.rrsets {
        ctx.check_set(&zone.origin, set, true, &mut apex);
    }
    drop(apex);
    let names: Vec<_> = zone.names.iter().collect();
    names.par_iter().for_each_init(
        || ctx.batch(),
        |sc, (n, node)| {
            for set in &node.rrsets {
                ctx.check_set(n, set, true, sc);
            }
        },
    );
    zone.cuts.par_shards().for_each_init(
        || ctx.batch(),
        |sc, it| {
            for d in it {
                ctx.check_set(&d.name, &d.ns, false, sc);
                if let Some(ds) = &d.ds {
                    ctx.check_set_sampled(&d.name, ds, true, true, sc);
                }
                for (g, node) in d.glue.iter() {
                    for set in &node.rrsets {
                        ctx.check_set(g, set, false, sc);
                    }
                }
            }
        },
    );
    let nsec3_records = check_chain(&ctx);
    let (signatures, rrsets) = (
        ctx.sigs.load(Ordering::Relaxed),
        ctx.rrsets.load(Ordering::Relaxed),
    );
    ctx.into_result()?;
    Ok(VerifyStats {
        signatures,
        rrsets,
        nsec3_records,
    })
}

fn hash_text(h: &[u8]) -> String {
    data_encoding::BASE32HEX_NOPAD
        .encode(h)
        .to_ascii_lowercase()
}

fn check_chain(ctx: &Ctx<'_>) -> usize {
    let zone = ctx.zone;
    let Some(chain) = &zone.nsec3 else {
        ctx.problem(|| "no NSEC3 chain".into());
        return 0;
    };
    // NSEC3PARAM agrees with the chain.
    match zone
        .apex
        .get(NSEC3PARAM)
        .map(|s| s.rdatas().collect::<Vec<_>>())
    {
        Some(rds) if rds.len() == 1 => match Nsec3Params::from_param_rdata(rds[0]) {
            Some(p)
                if p.algorithm == 1
                    && p.iterations == chain.params.iterations
                    && p.salt == chain.params.salt => {}
            _ => ctx.problem(|| "NSEC3PARAM does not match the chain's parameters".into()),
        },
        _ => ctx.problem(|| "the apex needs exactly one NSEC3PARAM".into()),
    }
    if chain.is_empty() {
        ctx.problem(|| "empty NSEC3 chain".into());
        return 0;
    }
    let p = &chain.params;
    // Per shard: fields, order, signatures; links across shards below.
    let shards = chain.shards();
    shards.par_iter().for_each_init(
        || ctx.batch(),
        |sc, recs| {
            let mut o = [0u8; 256];
            for (i, r) in recs.iter().enumerate() {
                let n = nsec3::owner_name(&r.hash, &zone.origin, &mut o);
                let Some(f) = r.fields() else {
                    ctx.problem(|| format!("{}: malformed NSEC3", name::to_text(&o[..n])));
                    continue;
                };
                if f.algorithm != 1
                    || f.iterations != p.iterations
                    || f.salt != &p.salt[..]
                    || f.flags & !nsec3::FLAG_OPT_OUT != 0
                    || f.next.len() != nsec3::HASH_LEN
                {
                    ctx.problem(|| {
                        format!(
                            "{}: NSEC3 parameters differ from NSEC3PARAM",
                            name::to_text(&o[..n])
                        )
                    });
                }
                if let Some(nx) = recs.get(i + 1) {
                    if nx.hash <= r.hash {
                        ctx.problem(|| format!("{}: chain out of order", name::to_text(&o[..n])));
                    }
                    if f.next != &nx.hash[..] {
                        ctx.problem(|| {
                            format!(
                                "{}: next hashed owner is not the following record",
                                name::to_text(&o[..n])
                            )
                        });
                    }
                }
                ctx.check_set_sampled(&o[..n], &r.rrset, true, true, sc);
            }
        },
    );
    // Links between shards and the wrap-around.
    let firsts: Vec<(&nsec3::Nsec3Rec, &nsec3::Nsec3Rec)> = shards
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| (&s[0], &s[s.len() - 1]))
        .collect();
    for (i, (_, last)) in firsts.iter().enumerate() {
        let (next_first, _) = firsts[(i + 1) % firsts.len()];
        if i + 1 < firsts.len() && next_first.hash <= last.hash {
            ctx.problem(|| "chain out of order across shards".into());
        }
        if last
            .fields()
            .is_some_and(|f| f.next != &next_first.hash[..])
        {
            ctx.problem(|| {
                format!(
                    "{}: next hashed owner is not the following record (chain not closed)",
                    hash_text(&last.hash)
                )
            });
        }
    }
    // Membership: exactly the names that belong, with the right bitmaps.
    let Ok((expected, bitmaps)) = chain_entries(zone, p) else {
        ctx.problem(|| "NSEC3 hash collision between names".into());
        return chain.len();
    };
    expected.par_iter().for_each(|(h, bi)| match chain.get(h) {
        Some(r) => {
            if r.fields()
                .is_none_or(|f| f.bitmap != &bitmaps[*bi as usize][..])
            {
                ctx.problem(|| format!("{}: wrong type bitmap", hash_text(h)));
            }
        }
        None => ctx.problem(|| format!("name with hash {} has no NSEC3", hash_text(h))),
    });
    let mut extra = chain.len() as isize - expected.len() as isize;
    if p.opt_out {
        // Delegations without DS: in the chain with bitmap NS, or covered
        // by an opt-out record.
        let ns_only = &bitmaps[0];
        let found = AtomicUsize::new(0);
        zone.cuts.par_shards().for_each(|it| {
            for d in it.filter(|d| d.ds.is_none()) {
                let h: Hash = p.hash(&d.name);
                match chain.lookup(&h) {
                    Some(Ok(r)) => {
                        found.fetch_add(1, Ordering::Relaxed);
                        if r.fields().is_none_or(|f| f.bitmap != &ns_only[..]) {
                            ctx.problem(|| format!("{}: wrong type bitmap", name::to_text(&d.name)));
                        }
                    }
                    Some(Err(r)) if r.opt_out() => {}
                    _ => ctx.problem(|| {
                        format!(
                            "{}: unsigned delegation neither in the chain nor covered by an opt-out NSEC3",
                            name::to_text(&d.name)
                        )
                    }),
                }
            }
        });
        extra -= found.into_inner() as isize;
    }
    if extra != 0 {
        ctx.problem(|| format!("{extra} NSEC3 record(s) that match no name of the zone"));
    }
    chain.len()
}

/// Verifies what an update touched in a version whose rest was verified
/// before: the RRsets at `names` (lower-case wire; apex, authoritative
/// names or cuts), their NSEC3 records (right bitmap, or opt-out coverage)
/// and those records' neighbours' links and signatures. For the
/// bump-in-the-wire check of an incremental version.
pub fn verify_names(zone: &Zone, names: &[&[u8]], now: u32) -> Result<(), VerifyError> {
    verify_changed(zone, names, now, None)
}

/// [`verify_names`], with the signatures of the RRsets `unchanged` says
/// were already verified (same RRset and RRSIGs in the previous version)
/// checked for their fields, key and validity only, not cryptographically:
/// what an update batch re-signed is verified, what it did not touch is
/// not verified again. Each RRset is checked once however many names lead
/// to it, and the signature checks run in parallel (rayon).
pub fn verify_changed(
    zone: &Zone,
    names: &[&[u8]],
    now: u32,
    unchanged: Option<&Unchanged<'_>>,
) -> Result<(), VerifyError> {
    verify_changed_with(zone, names, now, unchanged, &[])
}

/// [`verify_changed`] with unpublished signing keys (see
/// [`verify_sampled_with`]).
pub fn verify_changed_with(
    zone: &Zone,
    names: &[&[u8]],
    now: u32,
    unchanged: Option<&Unchanged<'_>>,
    extra: &[Vec<u8>],
) -> Result<(), VerifyError> {
    let ctx = Ctx::new(zone, now, 1, unchanged, extra);
    let Some(chain) = &zone.nsec3 else {
        return Err(VerifyError {
            problems: vec!["no NSEC3 chain".into()],
            count: 1,
        });
    };
    let p = &chain.params;
    // RRsets to check: (owner, set, must be signed).
    let mut sets: Vec<(&[u8], &RRset, bool)> = Vec::new();
    let mut recs: Vec<&nsec3::Nsec3Rec> = Vec::new();
    for &name in names {
        if name == &*zone.origin {
            for set in &zone.apex.rrsets {
                sets.push((name, set, true));
            }
        } else if let Some(d) = zone.cuts.get(name) {
            sets.push((name, &d.ns, false));
            if let Some(ds) = &d.ds {
                sets.push((name, ds, true));
            }
        } else if let Some(node) = zone.names.get(name) {
            for set in &node.rrsets {
                sets.push((name, set, true));
            }
        }
        let h = p.hash(name);
        let want = super::bitmap::expected_bitmap(zone, name, p.opt_out);
        match (chain.lookup(&h), want) {
            (Some(Ok(r)), Some(bm)) => {
                if r.fields().is_none_or(|f| f.bitmap != &bm[..]) {
                    ctx.problem(|| format!("{}: wrong type bitmap", name::to_text(name)));
                }
                recs.push(r);
            }
            (Some(Ok(r)), None) => {
                // Only an unsigned cut under opt-out may be there, as NS only.
                let ns_only = super::bitmap::delegation_bitmap(false);
                if zone.cuts.get(name).is_none() {
                    ctx.problem(|| {
                        format!("{}: NSEC3 for a name that is gone", name::to_text(name))
                    });
                } else if r.fields().is_none_or(|f| f.bitmap != &ns_only[..]) {
                    ctx.problem(|| format!("{}: wrong type bitmap", name::to_text(name)));
                }
                recs.push(r);
            }
            (Some(Err(r)), want) => {
                let unsigned_cut = zone.cuts.get(name).is_some_and(|d| d.ds.is_none());
                if want.is_some() || (unsigned_cut && !r.opt_out()) {
                    ctx.problem(|| format!("{}: not in the NSEC3 chain", name::to_text(name)));
                }
                recs.push(r);
            }
            (None, _) => ctx.problem(|| "empty NSEC3 chain".into()),
        }
        if let Some(pred) = chain.predecessor(&h) {
            recs.push(pred);
        }
    }
    recs.sort_unstable_by_key(|r| r.hash);
    recs.dedup_by_key(|r| r.hash);
    let owners: Vec<([u8; 256], usize)> = recs
        .iter()
        .map(|r| {
            let mut o = [0u8; 256];
            let n = nsec3::owner_name(&r.hash, &zone.origin, &mut o);
            (o, n)
        })
        .collect();
    for r in &recs {
        let next = chain.successor(&r.hash).map_or(r.hash, |s| s.hash);
        if r.fields().is_none_or(|f| f.next != &next[..]) {
            ctx.problem(|| {
                format!(
                    "{}: next hashed owner is not the following record",
                    hash_text(&r.hash)
                )
            });
        }
    }
    for (r, (o, n)) in recs.iter().zip(&owners) {
        sets.push((&o[..*n], &r.rrset, true));
    }
    sets.sort_unstable_by(|a, b| (a.0, a.1.rtype).cmp(&(b.0, b.1.rtype)));
    sets.dedup_by(|a, b| a.0 == b.0 && a.1.rtype == b.1.rtype);
    sets.par_iter().for_each_init(
        || ctx.batch(),
        |sc, (owner, set, signed)| ctx.check_set(owner, set, *signed, sc),
    );
    ctx.into_result()
}

/// Verifies the signatures of `sets` (owner, RRset as served in `zone`)
/// against `zone`'s DNSKEY RRset: what a signature refresh re-made, whose
/// data and chain did not change. Parallel over the sets.
pub fn verify_rrsets(zone: &Zone, sets: &[(&[u8], &RRset)], now: u32) -> Result<(), VerifyError> {
    verify_rrsets_with(zone, sets, now, &[])
}

/// [`verify_rrsets`] with unpublished signing keys (see
/// [`verify_sampled_with`]).
pub fn verify_rrsets_with(
    zone: &Zone,
    sets: &[(&[u8], &RRset)],
    now: u32,
    extra: &[Vec<u8>],
) -> Result<(), VerifyError> {
    let ctx = Ctx::new(zone, now, 1, None, extra);
    sets.par_chunks(256).for_each(|chunk| {
        let mut b = ctx.batch();
        for (owner, set) in chunk {
            ctx.check_set(owner, set, true, &mut b);
        }
    });
    ctx.into_result()
}

fn zone_keys(zone: &Zone) -> (Vec<Key>, Vec<u8>) {
    let mut keys = Vec::new();
    let mut algs = Vec::new();
    if let Some(set) = zone.apex.get(DNSKEY) {
        for rd in set.rdatas() {
            if rd.len() < 5 || rd[2] != 3 || rd[0] & 1 == 0 {
                continue; // not a zone key
            }
            keys.push(Key {
                tag: super::key::key_tag(rd),
                alg: rd[3],
                public: rd[4..].to_vec(),
                private: selfcheck::lookup(&rd[4..]),
            });
            if !algs.contains(&rd[3]) {
                algs.push(rd[3]);
            }
        }
    }
    (keys, algs)
}
