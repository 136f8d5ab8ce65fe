//! [`Diff`]: the change from one zone version to the next, and
//! [`ZoneState::apply`], the single function that makes version N+1.
//!
//! # Diff
//! IXFR-shaped (RFC 1995): `removed[0]` is the old SOA and `added[0]` the
//! new one; the rest are whole records. RRSIGs are records too (owner, type
//! RRSIG, the covered type in their first two RDATA bytes). Its bytes on
//! disk are the journal's (tldd-dns `journal::entry`), not this crate's.
//!
//! # Apply
//! Changes are grouped per owner and applied in label-count order (a new
//! cut is in place before the glue below it arrives). For each owner the
//! new RRsets are computed (old minus removed plus added; RRSIGs go to the
//! signatures of the RRset they cover) and then placed where the store
//! wants them:
//! - below an existing cut: glue (any type is kept there so a transfer
//!   loses nothing; answers only use A/AAAA);
//! - with NS (below the apex): a cut; a name that *becomes* a cut takes the
//!   data below it along as glue;
//! - otherwise an authoritative name; a cut that loses its NS turns back
//!   into names (its glue becomes authoritative data).
//!
//! Empty non-terminals: [`ZoneState`] counts, for every name in
//! `zone.names`, its direct children (cuts or names). A name with no data
//! and no children is removed, and its parent re-examined. So deleting the
//! last delegation under `co.shop` makes `co.shop` NXDOMAIN again, without
//! scanning the zone. The counts are built once per state, O(zone).
//!
//! Slow path (documented limit): turning a name that has descendants into a
//! cut scans the names map and the delegation table once (O(zone)). The TLD
//! update policy never does this (NS only on names that are not
//! authoritative parents); IXFR from a primary might.
use crate::name;
use crate::rdata::{DS, NS, NSEC3, RRSIG, SOA};
use crate::rec::{rdata_eq, Rec};
use crate::records::rrsets_at;
use crate::{Delegation, Node, RRset, Zone};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// The change between two versions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub from: u32,
    pub to: u32,
    /// Old SOA first.
    pub removed: Vec<Rec>,
    /// New SOA first.
    pub added: Vec<Rec>,
}

impl Diff {
    /// Owners touched, deduplicated.
    pub fn owners(&self) -> Vec<Box<[u8]>> {
        let mut v: Vec<Box<[u8]>> = self
            .removed
            .iter()
            .chain(&self.added)
            .map(|r| r.owner.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Why a diff does not apply to a version (nothing is changed then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("diff starts at serial {from} but the zone is at {zone}")]
    Serial { from: u32, zone: u32 },
    #[error("{0} is outside the zone")]
    OutOfZone(String),
    #[error("the diff removes the SOA")]
    NoSoa,
    #[error("after the diff the serial is {zone} but the diff says {to}")]
    SerialAfter { zone: u32, to: u32 },
    #[error("the diff removes {0}, which the zone does not have")]
    Missing(String),
}

/// A zone version plus the bookkeeping `apply` needs.
#[derive(Clone)]
pub struct ZoneState {
    pub zone: Zone,
    /// For each name in `zone.names`: how many direct children it has.
    kids: FxHashMap<Box<[u8]>, u32>,
}

/// Records removed and added at one owner.
type Changes<'a> = (Vec<&'a Rec>, Vec<&'a Rec>);

/// RRsets being edited at one owner: type -> (ttl, rdatas, sigs).
type Work = BTreeMap<u16, (u32, Vec<Box<[u8]>>, Vec<Box<[u8]>>)>;

impl ZoneState {
    /// Wraps a zone (counts children once).
    pub fn new(zone: Zone) -> ZoneState {
        let mut kids: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        for n in zone.names.keys() {
            kids.entry(n.clone()).or_insert(0);
        }
        let origin = zone.origin.clone();
        let mut count = |child: &[u8]| {
            if let Some(p) = name::parent(child) {
                if p != &*origin {
                    *kids.entry(p.into()).or_insert(0) += 1;
                }
            }
        };
        for n in zone.names.keys() {
            count(n);
        }
        for d in zone.cuts.iter() {
            count(&d.name);
        }
        ZoneState { zone, kids }
    }

    pub fn serial(&self) -> u32 {
        self.zone.serial()
    }

    /// Applies `diff`. Fails (leaving `self` unchanged) when the diff does
    /// not start from this version's serial or leaves the apex without SOA.
    pub fn apply(&mut self, diff: &Diff) -> Result<(), ApplyError> {
        *self = self.applied(diff)?;
        Ok(())
    }

    /// The next version: this one with `diff` applied (one clone of the
    /// version, which shares every shard the diff does not touch).
    pub fn applied(&self, diff: &Diff) -> Result<ZoneState, ApplyError> {
        self.applied_with(diff, false)
    }

    /// Like [`applied`](Self::applied), but a removed record the zone does
    /// not hold is an error ([`ApplyError::Missing`]): for diffs from
    /// another server (IXFR), where that means the two copies differ and
    /// only a full transfer can bring them together (RFC 1995 §4, as Knot
    /// falls back). Updates and the journal keep RFC 2136's lenient
    /// deletes.
    pub fn applied_strictly(&self, diff: &Diff) -> Result<ZoneState, ApplyError> {
        self.applied_with(diff, true)
    }

    fn applied_with(&self, diff: &Diff, strict: bool) -> Result<ZoneState, ApplyError> {
        if diff.from != self.serial() {
            return Err(ApplyError::Serial {
                from: diff.from,
                zone: self.serial(),
            });
        }
        let mut next = self.clone();
        let mut by_owner: BTreeMap<(usize, &[u8]), Changes<'_>> = BTreeMap::new();
        for r in &diff.removed {
            by_owner
                .entry((name::label_count(&r.owner), &r.owner))
                .or_default()
                .0
                .push(r);
        }
        for r in &diff.added {
            by_owner
                .entry((name::label_count(&r.owner), &r.owner))
                .or_default()
                .1
                .push(r);
        }
        for ((_, owner), (rem, add)) in by_owner {
            if !name::is_below_or_at(owner, &next.zone.origin) {
                return Err(ApplyError::OutOfZone(name::to_text(owner)));
            }
            let mut work: Work = BTreeMap::new();
            for set in rrsets_at(&next.zone, owner) {
                work.insert(
                    set.rtype,
                    (
                        set.ttl,
                        set.rdatas().map(Into::into).collect(),
                        set.sigs().map(Into::into).collect(),
                    ),
                );
            }
            for r in rem {
                let removed = if r.rtype == RRSIG {
                    work.get_mut(&covered(&r.rdata)).is_some_and(|e| {
                        let n = e.2.len();
                        e.2.retain(|s| **s != *r.rdata);
                        e.2.len() < n
                    })
                } else {
                    work.get_mut(&r.rtype).is_some_and(|e| {
                        let n = e.1.len();
                        e.1.retain(|x| !rdata_eq(r.rtype, x, &r.rdata));
                        e.1.len() < n
                    })
                };
                if strict && !removed {
                    return Err(ApplyError::Missing(format!(
                        "{} {}",
                        name::to_text(owner),
                        crate::rdata::type_name(r.rtype)
                    )));
                }
            }
            for r in add {
                if r.rtype == RRSIG {
                    let e =
                        work.entry(covered(&r.rdata))
                            .or_insert((r.ttl, Vec::new(), Vec::new()));
                    if !e.2.iter().any(|s| **s == *r.rdata) {
                        e.2.push(r.rdata.clone());
                    }
                } else {
                    let e = work
                        .entry(r.rtype)
                        .or_insert((r.ttl, Vec::new(), Vec::new()));
                    e.0 = r.ttl;
                    if let Some(x) = e.1.iter_mut().find(|x| rdata_eq(r.rtype, x, &r.rdata)) {
                        *x = r.rdata.clone();
                    } else {
                        e.1.push(r.rdata.clone());
                    }
                }
            }
            let sets: Vec<RRset> = work
                .into_iter()
                .filter(|(_, (_, rds, _))| !rds.is_empty())
                .map(|(t, (ttl, rds, sigs))| {
                    let r: Vec<&[u8]> = rds.iter().map(|x| &**x).collect();
                    let mut set = RRset::new(t, ttl, &r);
                    let s: Vec<&[u8]> = sigs.iter().map(|x| &**x).collect();
                    set.set_sigs(&s);
                    set
                })
                .collect();
            next.place(owner, sets);
        }
        if next.zone.soa().is_none() {
            return Err(ApplyError::NoSoa);
        }
        if next.serial() != diff.to {
            return Err(ApplyError::SerialAfter {
                zone: next.serial(),
                to: diff.to,
            });
        }
        Ok(next)
    }

    /// The topmost cut strictly above `owner` (and below the apex).
    fn enclosing_cut(&self, owner: &[u8]) -> Option<Box<[u8]>> {
        let mut chain = Vec::new();
        let mut cur = name::parent(owner);
        while let Some(n) = cur {
            if n.len() <= self.zone.origin.len() {
                break;
            }
            chain.push(n);
            cur = name::parent(n);
        }
        chain
            .iter()
            .rev()
            .find(|n| self.zone.cuts.get(n).is_some())
            .map(|n| (*n).into())
    }

    /// Stores `sets` as the complete data at `owner`.
    fn place(&mut self, owner: &[u8], sets: Vec<RRset>) {
        if *owner == *self.zone.origin {
            self.zone.apex.rrsets = sets;
            return;
        }
        if self.place_nsec3(owner, &sets) {
            return;
        }
        if let Some(cut) = self.enclosing_cut(owner) {
            self.set_glue(&cut, owner, sets);
            return;
        }
        let is_cut = self.zone.cuts.get(owner).is_some();
        let has_ns = sets.iter().any(|s| s.rtype == NS);
        if has_ns {
            let mut ns = None;
            let mut ds = None;
            let mut rest = Node::default();
            for s in sets {
                match s.rtype {
                    NS => ns = Some(s),
                    DS => ds = Some(Box::new(s)),
                    _ => rest.put(s),
                }
            }
            let ns = ns.unwrap_or_default();
            let mut glue: Vec<(Box<[u8]>, Node)> = if let Some(d) = self.zone.cuts.get(owner) {
                d.glue
                    .iter()
                    .filter(|(n, _)| **n != *owner)
                    .cloned()
                    .collect()
            } else if self.zone.names.contains_key(owner) {
                // A name becomes a cut: what was below it becomes glue.
                self.zone.names.remove(owner);
                let moved = if self.kids.get(owner).copied().unwrap_or(0) > 0 {
                    self.take_below(owner)
                } else {
                    Vec::new()
                };
                self.kids.remove(owner);
                moved
            } else {
                self.link(owner);
                Vec::new()
            };
            if !rest.is_empty() {
                glue.push((owner.into(), rest));
            }
            self.zone.cuts.insert(Delegation {
                name: owner.into(),
                ns,
                ds,
                glue: glue.into(),
            });
            return;
        }
        if is_cut {
            // The cut goes; its data below becomes authoritative.
            let d = self.zone.cuts.remove(owner).expect("checked above");
            let node = Node { rrsets: sets };
            self.zone.names.insert(owner.into(), node);
            self.kids.insert(owner.into(), 0);
            for (g, n) in d.glue.iter() {
                if **g != *owner {
                    self.insert_name(g, n.clone());
                }
            }
            self.prune(owner);
            return;
        }
        if sets.is_empty() {
            if let Some(n) = self.zone.names.get_mut(owner) {
                n.rrsets.clear();
                self.prune(owner);
            }
        } else if let Some(n) = self.zone.names.get_mut(owner) {
            n.rrsets = sets;
        } else {
            self.insert_name(owner, Node { rrsets: sets });
        }
    }

    /// NSEC3 records go to the chain (created from the apex NSEC3PARAM
    /// when the first one arrives). Returns false if `owner` is not an
    /// NSEC3 owner.
    fn place_nsec3(&mut self, owner: &[u8], sets: &[RRset]) -> bool {
        use crate::nsec3::{Nsec3Chain, Nsec3Params, Nsec3Rec};
        let Some(h) = crate::records::nsec3_hash(&self.zone, owner) else {
            return false;
        };
        let nsec3 = sets.iter().find(|s| s.rtype == NSEC3);
        let in_chain = self
            .zone
            .nsec3
            .as_ref()
            .is_some_and(|c| c.get(&h).is_some());
        if nsec3.is_none() && !in_chain {
            return false;
        }
        match nsec3 {
            Some(set) => {
                if self.zone.nsec3.is_none() {
                    let params = self
                        .zone
                        .apex
                        .get(crate::rdata::NSEC3PARAM)
                        .and_then(|p| p.rdatas().next())
                        .and_then(Nsec3Params::from_param_rdata);
                    let Some(mut params) = params else {
                        // NSEC3 without NSEC3PARAM: kept as a plain name.
                        return false;
                    };
                    params.opt_out = set
                        .rdatas()
                        .next()
                        .and_then(|rd| rd.get(1))
                        .is_some_and(|f| f & 1 == 1);
                    self.zone.nsec3 = Some(Nsec3Chain::new(params, &self.zone.origin, set.ttl));
                }
                let rd = set.rdatas().next().unwrap_or(&[]);
                let mut rec = Nsec3Rec::new(h, set.ttl, rd);
                let sigs: Vec<&[u8]> = set.sigs().collect();
                rec.rrset.set_sigs(&sigs);
                if let Some(c) = self.zone.nsec3.as_mut() {
                    c.insert(rec);
                }
            }
            None => {
                if let Some(c) = self.zone.nsec3.as_mut() {
                    c.remove(&h);
                }
            }
        }
        true
    }

    /// Replaces the glue node `owner` under `cut`.
    fn set_glue(&mut self, cut: &[u8], owner: &[u8], sets: Vec<RRset>) {
        let Some(d) = self.zone.cuts.get(cut) else {
            return;
        };
        let mut d = d.clone();
        let mut glue: Vec<(Box<[u8]>, Node)> = d
            .glue
            .iter()
            .filter(|(n, _)| **n != *owner)
            .cloned()
            .collect();
        if !sets.is_empty() {
            glue.push((owner.into(), Node { rrsets: sets }));
        }
        d.glue = glue.into();
        self.zone.cuts.insert(d);
    }

    /// Adds (or replaces) an authoritative name, creating its ancestors.
    fn insert_name(&mut self, owner: &[u8], node: Node) {
        if let Some(cut) = self.enclosing_cut(owner) {
            // Below a cut after all (can happen while a cut is dissolved
            // into names that include deeper cuts' data): keep as glue.
            self.set_glue(&cut, owner, node.rrsets);
            return;
        }
        let fresh = !self.zone.names.contains_key(owner);
        self.zone.names.insert(owner.into(), node);
        if fresh {
            self.kids.entry(owner.into()).or_insert(0);
            self.link(owner);
        }
    }

    /// Counts `child` under its parent, creating the parent as an empty
    /// non-terminal if needed.
    fn link(&mut self, child: &[u8]) {
        let Some(p) = name::parent(child) else { return };
        if p.len() <= self.zone.origin.len() {
            return;
        }
        if !self.zone.names.contains_key(p) && self.zone.cuts.get(p).is_none() {
            self.zone.names.insert(p.into(), Node::default());
            self.kids.insert(p.into(), 0);
            self.link(p);
        }
        *self.kids.entry(p.into()).or_insert(0) += 1;
    }

    /// Removes `owner` from the names if it has neither data nor children,
    /// then looks at its parent.
    fn prune(&mut self, owner: &[u8]) {
        let empty = self.zone.names.get(owner).is_some_and(Node::is_empty);
        if !empty || self.kids.get(owner).copied().unwrap_or(0) > 0 {
            return;
        }
        self.zone.names.remove(owner);
        self.kids.remove(owner);
        self.unlink(owner);
    }

    /// `child` is gone: uncount it and prune its parent.
    fn unlink(&mut self, child: &[u8]) {
        let Some(p) = name::parent(child) else { return };
        if p.len() <= self.zone.origin.len() {
            return;
        }
        if let Some(k) = self.kids.get_mut(p) {
            *k = k.saturating_sub(1);
        }
        let p: Box<[u8]> = p.into();
        self.prune(&p);
    }

    /// Removes every name and cut strictly below `top`, returning their data
    /// as glue nodes (slow path, O(zone)).
    fn take_below(&mut self, top: &[u8]) -> Vec<(Box<[u8]>, Node)> {
        let below = |n: &[u8]| n.len() > top.len() && name::is_below_or_at(n, top);
        let names: Vec<Box<[u8]>> = self
            .zone
            .names
            .keys()
            .filter(|n| below(n))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for n in names {
            if let Some(node) = self.zone.names.remove(&n) {
                self.kids.remove(&n);
                if !node.is_empty() {
                    out.push((n, node));
                }
            }
        }
        let cuts: Vec<Box<[u8]>> = self
            .zone
            .cuts
            .iter()
            .filter(|d| below(&d.name))
            .map(|d| d.name.clone())
            .collect();
        for c in cuts {
            if let Some(d) = self.zone.cuts.remove(&c) {
                let mut node = Node::default();
                node.put(d.ns);
                if let Some(ds) = d.ds {
                    node.put(*ds);
                }
                for (g, n) in d.glue.into_vec() {
                    if g == d.name {
                        for s in n.rrsets {
                            node.put(s);
                        }
                    } else {
                        out.push((g, n));
                    }
                }
                out.push((d.name, node));
            }
        }
        out
    }
}

/// The type an RRSIG RDATA covers.
pub fn covered(rd: &[u8]) -> u16 {
    if rd.len() >= 2 {
        u16::from_be_bytes([rd[0], rd[1]])
    } else {
        0
    }
}

/// The SOA record of a zone version as a [`Rec`].
pub fn soa_rec(zone: &Zone) -> Option<Rec> {
    let soa = zone.soa()?;
    Some(Rec {
        owner: zone.origin.clone(),
        rtype: SOA,
        class: crate::rec::CLASS_IN,
        ttl: soa.ttl,
        rdata: soa.rdatas().next()?.into(),
    })
}

/// Puts `serial` into the zone's SOA (the SOA's signatures, if any, are
/// then stale: the caller signs). `None` without a valid SOA.
pub fn set_serial(zone: &mut Zone, serial: u32) -> Option<()> {
    let soa = zone.soa()?;
    let ttl = soa.ttl;
    let rd = with_serial(soa.rdatas().next()?, serial)?;
    zone.apex.put(RRset::new(SOA, ttl, &[&rd]));
    Some(())
}

/// SOA RDATA with another serial.
pub fn with_serial(rd: &[u8], serial: u32) -> Option<Vec<u8>> {
    let m = name::wire_len(rd)?;
    let r = name::wire_len(&rd[m..])?;
    let at = m + r;
    if rd.len() < at + 20 {
        return None;
    }
    let mut v = rd.to_vec();
    v[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Builder;

    fn w(s: &str) -> Box<[u8]> {
        let mut v = Vec::new();
        name::from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
        v.into()
    }

    fn rec(owner: &str, rtype: u16, rd: &[u8]) -> Rec {
        Rec {
            owner: w(owner),
            rtype,
            class: 1,
            ttl: 3600,
            rdata: rd.into(),
        }
    }

    fn soa(serial: u32) -> Vec<u8> {
        let mut v = w("ns.shop.").to_vec();
        v.extend_from_slice(&w("h.shop."));
        for x in [serial, 1, 2, 3, 4] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    fn base() -> ZoneState {
        let mut b = Builder::new(&w("shop."));
        b.add(1, &w("shop."), SOA, 1, 3600, &soa(1));
        b.add(2, &w("shop."), NS, 1, 3600, &w("ns.shop."));
        b.add(3, &w("ns.shop."), 1, 1, 3600, &[1, 2, 3, 4]);
        b.add(4, &w("a.co.shop."), NS, 1, 3600, &w("ns.a.co.shop."));
        b.add(5, &w("ns.a.co.shop."), 1, 1, 3600, &[1, 2, 3, 5]);
        ZoneState::new(b.build().unwrap().zone)
    }

    fn diff(from: u32, removed: Vec<Rec>, added: Vec<Rec>) -> Diff {
        let mut r = vec![rec("shop.", SOA, &soa(from))];
        r.extend(removed);
        let mut a = vec![rec("shop.", SOA, &soa(from + 1))];
        a.extend(added);
        Diff {
            from,
            to: from + 1,
            removed: r,
            added: a,
        }
    }

    #[test]
    fn add_and_remove_delegation_with_glue_and_ents() {
        let mut s = base();
        assert!(s.zone.names.contains_key(&w("co.shop.")));
        let d = diff(
            1,
            vec![],
            vec![
                rec("ns1.b.co.shop.", 1, &[9, 9, 9, 9]),
                rec("b.co.shop.", NS, &w("ns1.b.co.shop.")),
                rec("b.co.shop.", DS, &[0, 1, 13, 2, 0xaa]),
            ],
        );
        s.apply(&d).unwrap();
        assert_eq!(s.serial(), 2);
        let cut = s.zone.cuts.get(&w("b.co.shop.")).unwrap();
        assert!(cut.ds.is_some());
        assert!(cut.glue_for(&w("ns1.b.co.shop.")).is_some());
        // Remove both delegations under co.shop: the ENT goes too.
        let d2 = diff(
            2,
            vec![
                rec("ns1.b.co.shop.", 1, &[9, 9, 9, 9]),
                rec("b.co.shop.", NS, &w("ns1.b.co.shop.")),
                rec("b.co.shop.", DS, &[0, 1, 13, 2, 0xaa]),
                rec("a.co.shop.", NS, &w("NS.a.co.shop.")),
                rec("ns.a.co.shop.", 1, &[1, 2, 3, 5]),
            ],
            vec![],
        );
        s.apply(&d2).unwrap();
        assert!(s.zone.cuts.is_empty(), "{}", s.zone.cuts.len());
        assert!(!s.zone.names.contains_key(&w("co.shop.")));
        assert!(!s.zone.names.contains_key(&w("ns.a.co.shop.")));
        assert!(!s.zone.names.contains_key(&w("a.co.shop.")));
        // Wrong starting serial is refused.
        assert!(s.apply(&d2).is_err());
    }

    #[test]
    fn dropping_ns_turns_glue_into_names() {
        let mut s = base();
        let d = diff(1, vec![rec("a.co.shop.", NS, &w("ns.a.co.shop."))], vec![]);
        s.apply(&d).unwrap();
        assert!(s.zone.cuts.get(&w("a.co.shop.")).is_none());
        assert!(s
            .zone
            .names
            .get(&w("ns.a.co.shop."))
            .is_some_and(|n| !n.is_empty()));
        // And back: the name becomes a cut again, taking the address along.
        let d = diff(2, vec![], vec![rec("a.co.shop.", NS, &w("ns.a.co.shop."))]);
        s.apply(&d).unwrap();
        let cut = s.zone.cuts.get(&w("a.co.shop.")).unwrap();
        assert!(cut.glue_for(&w("ns.a.co.shop.")).is_some());
        assert!(!s.zone.names.contains_key(&w("ns.a.co.shop.")));
    }
}
