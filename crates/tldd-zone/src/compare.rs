//! The records by which two versions of a zone differ, as a [`Diff`](crate::diff::Diff)'s
//! body: what `zone-reload` (and `zonefile_load = "difference"`) turns a
//! changed zone file into, so the change is one new journaled version that
//! goes out by IXFR.
//!
//! RRsets are compared as sets (RDATA equality as RFC 2136 §1.1 has it:
//! names in NS, CNAME, PTR, DNAME and MX compare case-insensitively). An
//! RRset whose records are equal but whose TTL changed is replaced whole;
//! otherwise only the records that differ are removed or added. The SOA
//! is left to the caller (it picks the new serial), as are the types
//! `skip` names (a signer's own records: RRSIG, NSEC3, DNSKEY, ...).
//! RRSIGs are never compared here.
//!
//! Cost: one hash map of every RRset of `old`, then one pass over `new`:
//! O(zone) time and memory, a second or two for a million delegations.
use crate::rdata::SOA;
use crate::rec::{rdata_eq, Rec};
use crate::records::for_each_rrset;
use crate::{RRset, Zone};
use rustc_hash::FxHashMap;

/// An RRset's TTL and RDATAs.
type Set = (u32, Vec<Box<[u8]>>);

/// (removed, added): what turns `old` into `new`, SOA and `skip` types aside.
pub fn difference(old: &Zone, new: &Zone, skip: impl Fn(u16) -> bool) -> (Vec<Rec>, Vec<Rec>) {
    let mut before: FxHashMap<(Box<[u8]>, u16), Set> = FxHashMap::default();
    for_each_rrset(old, |owner, set| {
        if set.rtype == SOA || skip(set.rtype) {
            return;
        }
        before.insert((owner.into(), set.rtype), (set.ttl, rdatas(set)));
    });
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for_each_rrset(new, |owner, set| {
        if set.rtype == SOA || skip(set.rtype) {
            return;
        }
        let now = rdatas(set);
        match before.remove(&(owner.into(), set.rtype)) {
            None => added.extend(
                now.iter()
                    .map(|rd| Rec::new_in(owner, set.rtype, set.ttl, rd)),
            ),
            Some((ttl, was)) => {
                let t = set.rtype;
                if ttl != set.ttl {
                    // A TTL is the RRset's: the whole RRset again.
                    removed.extend(was.iter().map(|rd| Rec::new_in(owner, t, ttl, rd)));
                    added.extend(now.iter().map(|rd| Rec::new_in(owner, t, set.ttl, rd)));
                } else {
                    for rd in was
                        .iter()
                        .filter(|a| !now.iter().any(|b| rdata_eq(t, a, b)))
                    {
                        removed.push(Rec::new_in(owner, t, ttl, rd));
                    }
                    for rd in now
                        .iter()
                        .filter(|b| !was.iter().any(|a| rdata_eq(t, a, b)))
                    {
                        added.push(Rec::new_in(owner, t, set.ttl, rd));
                    }
                }
            }
        }
    });
    for ((owner, t), (ttl, was)) in before {
        removed.extend(was.iter().map(|rd| Rec::new_in(&owner, t, ttl, rd)));
    }
    (removed, added)
}

fn rdatas(set: &RRset) -> Vec<Box<[u8]>> {
    set.rdatas().map(Box::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Builder;
    use crate::rdata::{A, NS};

    fn w(n: &str) -> Vec<u8> {
        let mut v = Vec::new();
        crate::name::from_text(n.as_bytes(), &[0], true, &mut v).unwrap();
        v
    }

    /// shop. with SOA, NS, ns A (`ns_ttl`) and delegations `(name, ns)`.
    fn zone(ns_ttl: u32, cuts: &[(&str, &str)]) -> Zone {
        let mut soa = w("ns.shop.");
        soa.extend_from_slice(&w("h.shop."));
        for x in [1u32, 3600, 600, 86400, 300] {
            soa.extend_from_slice(&x.to_be_bytes());
        }
        let mut b = Builder::new(&w("shop."));
        b.add(1, &w("shop."), SOA, 1, 3600, &soa);
        b.add(2, &w("shop."), NS, 1, 3600, &w("ns.shop."));
        b.add(3, &w("ns.shop."), A, 1, ns_ttl, &[192, 0, 2, 1]);
        for (i, (name, ns)) in cuts.iter().enumerate() {
            // Case kept as given (from_text lower-cases owners only).
            let mut rd = Vec::new();
            crate::name::from_text(ns.as_bytes(), &[0], false, &mut rd).unwrap();
            b.add(4 + i as u32, &w(name), NS, 1, 3600, &rd);
        }
        b.build().unwrap().zone
    }

    #[test]
    fn only_what_differs_is_removed_or_added() {
        let old = zone(
            3600,
            &[("a.shop.", "ns.a.example."), ("b.shop.", "NS.B.example.")],
        );
        let new = zone(
            60,
            &[("b.shop.", "ns.b.example."), ("c.shop.", "ns.c.example.")],
        );
        let (removed, added) = difference(&old, &new, |_| false);
        let show = |v: &[Rec]| {
            let mut s: Vec<(u16, u32, Vec<u8>)> = v
                .iter()
                .map(|r| (r.rtype, r.ttl, r.owner.to_vec()))
                .collect();
            s.sort();
            s
        };
        // b.shop.'s NS differs only in case: no change.
        assert_eq!(
            show(&removed),
            vec![(A, 3600, w("ns.shop.")), (NS, 3600, w("a.shop."))]
        );
        assert_eq!(
            show(&added),
            vec![(A, 60, w("ns.shop.")), (NS, 3600, w("c.shop."))]
        );
        let (r, a) = difference(&old, &old, |_| false);
        assert!(r.is_empty() && a.is_empty());
        let (r, a) = difference(&old, &new, |t| t == NS || t == A);
        assert!(r.is_empty() && a.is_empty(), "skipped types compared");
    }
}
