//! Incremental re-signing of an update to a signed zone (bump in the wire).
//!
//! The writer applies an update batch's unsigned diff (changed RRsets have
//! lost their RRSIGs, see [`crate::update::edit`]) and then calls [`Resigner::resign`]
//! on the new version, which:
//! 1. signs the SOA (its serial changed) and every DS RRset that has no
//!    signatures any more (added or changed DS);
//! 2. splices the NSEC3 chain for every touched owner and its ancestors
//!    (a delegation that appears, goes, gains or loses DS; an empty
//!    non-terminal that appears or goes) with [`crate::signer::chain::update_name`],
//!    which re-signs the NSEC3 records it rewrites (opt-out respected);
//! 3. returns the records that changed, so the version's journal entry
//!    (and IXFR) carries the new RRSIGs and NSEC3 records too;
//! 4. the writer then verifies the touched names with
//!    [`crate::signer::verify_changed`] before the version is stored or
//!    served, with [`unchanged`] telling which RRsets are as in version N.
//!
//! Only what the update touched is signed: a batch of k delegation changes
//! costs about 2k + 1 signatures (DS, NSEC3 and its predecessor, SOA),
//! whatever the zone size.
//!
//! Limits: the NSEC3 parameters come from the served chain, not from
//! `[zone.dnssec]` (a parameter change needs a full `tldd sign`);
//! signatures of untouched RRsets are not refreshed here (that is the
//! signer's periodic refresh).
use crate::hsm::KeyPair;
use crate::signer::{chain, Scratch, SignOptions, Signer};
use tldd_zone::nsec3::{owner_name, Hash};
use tldd_zone::rdata::{DS, NS, NSEC3, RRSIG, SOA};
use tldd_zone::Rec;
use tldd_zone::{name, RRset, Zone};

/// Keys and options for re-signing one zone.
pub struct Resigner {
    pub keys: Vec<KeyPair>,
    pub opts: SignOptions,
    /// Re-sign RRsets whose signatures expire within this many seconds
    /// ([`super::refresh`]).
    pub refresh_window: u32,
    /// Up to this many seconds off each refresh pass's validity, at
    /// random (`signature_jitter`).
    pub jitter: u32,
    /// DNSKEY RDATA of keys whose signatures are in the zone without
    /// their DNSKEY (an algorithm roll's): the verifier accepts them.
    pub unpublished: Vec<Vec<u8>>,
    /// An offline-KSK zone: DNSKEY, CDS and CDNSKEY come signed from the
    /// imported SKR and are never re-signed here.
    pub presigned_keys: bool,
}

/// Records a re-signing pass removed and added.
#[derive(Default)]
pub struct Resigned {
    pub removed: Vec<Rec>,
    pub added: Vec<Rec>,
    /// Names to verify (touched owners and their ancestors, apex included).
    pub names: Vec<Box<[u8]>>,
}

impl Resigner {
    /// Re-signs what `touched` changed in `next` (version N+1, from `old`,
    /// version N). See the module doc.
    pub fn resign(
        &self,
        old: &Zone,
        next: &mut Zone,
        touched: &[Box<[u8]>],
    ) -> Result<Resigned, String> {
        let mut opts = self.opts.clone();
        opts.now = crate::signer::sign::unix_now();
        let signer = Signer::new(&next.origin, &self.keys, &opts).map_err(|e| e.to_string())?;
        let mut sc = Scratch::default();
        let mut out = Resigned::default();
        let origin = next.origin.clone();
        // SOA.
        if let Some(mut soa) = next.apex.get(SOA).cloned() {
            signer
                .sign_rrset(&origin, &mut soa, &mut sc)
                .map_err(|e| e.to_string())?;
            for s in soa.sigs() {
                out.added.push(Rec::new_in(&origin, RRSIG, soa.ttl, s));
            }
            next.apex.put(soa);
        }
        // DS RRsets that lost their signatures.
        for o in touched {
            let Some(d) = next.cuts.get(o) else { continue };
            let Some(ds) = &d.ds else { continue };
            if ds.sigs().next().is_some() {
                continue;
            }
            let mut d = d.clone();
            if let Some(ds) = d.ds.as_mut() {
                signer
                    .sign_rrset(o, ds, &mut sc)
                    .map_err(|e| e.to_string())?;
                for s in ds.sigs() {
                    out.added.push(Rec::new_in(o, RRSIG, ds.ttl, s));
                }
            }
            next.cuts.insert(d);
        }
        // NSEC3: the touched names and every ancestor below the apex.
        let mut names: Vec<Box<[u8]>> = Vec::new();
        for o in touched {
            let mut cur: Option<&[u8]> = Some(o);
            while let Some(n) = cur {
                if n.len() <= origin.len() {
                    break;
                }
                names.push(n.into());
                cur = name::parent(n);
            }
        }
        names.sort();
        names.dedup();
        let mut hashes: Vec<Hash> = Vec::new();
        for n in &names {
            // The name's own hash too: `update_name` reports the records it
            // rewrote, not the one it removed, and the diff needs both.
            if let Some(c) = &next.nsec3 {
                hashes.push(c.params.hash(n));
            }
            let h = chain::update_name(next, n, &signer, &mut sc).map_err(|e| e.to_string())?;
            hashes.extend(h);
        }
        hashes.sort_unstable();
        hashes.dedup();
        let mut o = [0u8; 256];
        for h in hashes {
            let len = owner_name(&h, &origin, &mut o);
            let owner = &o[..len];
            let before = old.nsec3.as_ref().and_then(|c| c.get(&h)).map(|r| &r.rrset);
            let after = next
                .nsec3
                .as_ref()
                .and_then(|c| c.get(&h))
                .map(|r| &r.rrset);
            if before == after {
                continue;
            }
            if let Some(r) = old.nsec3.as_ref().and_then(|c| c.get(&h)) {
                for rd in r.rrset.rdatas() {
                    out.removed
                        .push(Rec::new_in(owner, r.rrset.rtype, r.rrset.ttl, rd));
                }
                for s in r.rrset.sigs() {
                    out.removed.push(Rec::new_in(owner, RRSIG, r.rrset.ttl, s));
                }
            }
            if let Some(r) = next.nsec3.as_ref().and_then(|c| c.get(&h)) {
                for rd in r.rrset.rdatas() {
                    out.added
                        .push(Rec::new_in(owner, r.rrset.rtype, r.rrset.ttl, rd));
                }
                for s in r.rrset.sigs() {
                    out.added.push(Rec::new_in(owner, RRSIG, r.rrset.ttl, s));
                }
            }
        }
        names.push(origin);
        out.names = names;
        Ok(out)
    }
}

/// True when `old` holds exactly `set` (data, TTL and RRSIGs) at `owner`:
/// an RRset the batch did not change, so its signatures were verified
/// with version N and need no crypto again.
pub fn unchanged(old: &Zone, owner: &[u8], set: &RRset) -> bool {
    let found = if set.rtype == NSEC3 {
        tldd_zone::records::nsec3_at(old, owner)
    } else if *owner == *old.origin {
        old.apex.get(set.rtype)
    } else if let Some(d) = old.cuts.get(owner) {
        match set.rtype {
            NS => Some(&d.ns),
            DS => d.ds.as_deref(),
            _ => None,
        }
    } else {
        old.names.get(owner).and_then(|n| n.get(set.rtype))
    };
    found == Some(set)
}
