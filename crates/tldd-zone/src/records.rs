//! A zone version seen as records: the RRsets at one owner (what a
//! prerequisite or a diff looks at), and every RRset of the zone in transfer
//! order (what AXFR and the store write).
//!
//! Signatures ride with their RRset in the store (`RRset::sigs`); here they
//! come out as RRSIG records after the RRset they cover, with its TTL.
//!
//! NSEC3 records of a signed version live in `zone.nsec3` (keyed by hash,
//! not in the names map); [`nsec3_at`] finds the one an owner name spells,
//! and the whole-zone walk emits them last.
use crate::rdata::{DS, NS, RRSIG, SOA};
use crate::version::label_offsets;
use crate::{Found, RRset, Zone};

/// The RRsets at `owner` (lower-case wire), sorted by type, whatever part
/// of the store holds them (apex, authoritative name, cut, glue).
pub fn rrsets_at(zone: &Zone, owner: &[u8]) -> Vec<RRset> {
    if let Some(set) = nsec3_at(zone, owner) {
        return vec![set.clone()];
    }
    if *owner == *zone.origin {
        return zone.apex.rrsets.clone();
    }
    let mut labels = [0u8; 128];
    let Some(n) = label_offsets(owner, &mut labels) else {
        return Vec::new();
    };
    if n <= zone.origin_labels || !crate::name::is_below_or_at(owner, &zone.origin) {
        return Vec::new();
    }
    match zone.find(owner, &labels[..n]) {
        Found::Apex => zone.apex.rrsets.clone(),
        Found::Name(node) => node.rrsets.clone(),
        Found::Cut { cut, at_cut } => {
            let mut out = Vec::new();
            if at_cut {
                out.push(cut.ns.clone());
                if let Some(ds) = &cut.ds {
                    out.push((**ds).clone());
                }
            }
            if let Some(node) = cut.glue_for(owner) {
                out.extend(node.rrsets.iter().cloned());
            }
            out.sort_by_key(|s| s.rtype);
            out
        }
        Found::NxDomain { .. } => Vec::new(),
    }
}

/// The NSEC3 RRset (with its RRSIGs) owned by `owner`, if the zone has a
/// chain and `owner` is one of its hashed owner names.
pub fn nsec3_at<'z>(zone: &'z Zone, owner: &[u8]) -> Option<&'z RRset> {
    let chain = zone.nsec3.as_ref()?;
    if owner.len() != 33 + zone.origin.len() || owner[33..] != *zone.origin {
        return None;
    }
    let h = crate::nsec3::hash_of_owner(owner)?;
    chain.get(&h).map(|r| &r.rrset)
}

/// The hash an owner spells if it is shaped like an NSEC3 owner of this
/// zone (one base32hex label of 32 characters right below the apex).
pub fn nsec3_hash(zone: &Zone, owner: &[u8]) -> Option<crate::nsec3::Hash> {
    if owner.len() != 33 + zone.origin.len() || owner[33..] != *zone.origin {
        return None;
    }
    crate::nsec3::hash_of_owner(owner)
}

/// Calls `f(owner, rrset)` for every RRset of the zone: the apex first
/// with its SOA first, then the other authoritative names, then each
/// delegation (NS, DS, glue), then the NSEC3 chain. Empty non-terminals
/// produce nothing.
pub fn for_each_rrset(zone: &Zone, mut f: impl FnMut(&[u8], &RRset)) {
    if let Some(soa) = zone.apex.get(SOA) {
        f(&zone.origin, soa);
    }
    for set in zone.apex.rrsets.iter().filter(|s| s.rtype != SOA) {
        f(&zone.origin, set);
    }
    for (owner, node) in &zone.names {
        for set in &node.rrsets {
            f(owner, set);
        }
    }
    for d in zone.cuts.iter() {
        f(&d.name, &d.ns);
        if let Some(ds) = &d.ds {
            f(&d.name, ds);
        }
        for (owner, node) in d.glue.iter() {
            for set in &node.rrsets {
                f(owner, set);
            }
        }
    }
    if let Some(chain) = &zone.nsec3 {
        let mut o = [0u8; 256];
        for r in chain.iter() {
            let n = crate::nsec3::owner_name(&r.hash, &zone.origin, &mut o);
            f(&o[..n], &r.rrset);
        }
    }
}

/// Calls `f(rtype, ttl, rdata)` for each record of `set`, its RRSIGs last.
pub fn for_each_record(set: &RRset, mut f: impl FnMut(u16, u32, &[u8])) {
    for rd in set.rdatas() {
        f(set.rtype, set.ttl, rd);
    }
    for sig in set.sigs() {
        f(RRSIG, set.ttl, sig);
    }
}

/// True for the types a cut itself holds in the store.
pub fn is_cut_type(t: u16) -> bool {
    t == NS || t == DS
}
