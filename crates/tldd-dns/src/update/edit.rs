//! RFC 2136 §3 on an overlay over zone version N.
//!
//! [`Overlay`] holds the RRsets an update batch has changed (an empty
//! RRset means "deleted"); reads fall through to the base version. One
//! UPDATE is [`Overlay::update`]: prerequisites (§3.2, all five kinds),
//! prescan (§3.4.1), the TLD policy, the changes (§3.4.2), then a
//! consistency check of the result. It is all or nothing: on any error the
//! overlay is restored to what it was before this update, so several
//! updates can share one overlay (group commit) and a failing one leaves no
//! trace. [`Overlay::into_diff`] turns the net change into a [`Diff`].
//!
//! # TLD policy (REFUSED, logged by the caller)
//! The update key may touch only names strictly below the apex, and only
//! NS, DS, A and AAAA (class ANY type ANY "delete name" included, if the
//! name holds nothing else). Then the result must still be a TLD zone:
//! - NS only at names not below another delegation;
//! - DS only where there is NS;
//! - A/AAAA only at or below a delegation (glue), and only at a name that
//!   some delegation names as a name server (no orphan data below a cut);
//! - a delegation that loses its NS must lose its DS and glue in the same
//!   update;
//! - every in-bailiwick name server of a changed delegation has glue, and
//!   glue cannot lose its last address while its own delegation still
//!   names it (that would be a lame delegation).
//!
//! So the apex (SOA, NS, DNSKEY, NSEC3PARAM), NSEC3 and RRSIG are never
//! edited by an update.
use super::{rdata_eq, Rec, CLASS_ANY, CLASS_IN, CLASS_NONE};
use crate::config::SerialPolicy;
use crate::wire::answer::rcode;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use tldd_zone::diff::{covered, soa_rec, with_serial, Diff};
use tldd_zone::name;
use tldd_zone::rdata::{A, AAAA, ANY, AXFR, DS, IXFR, NS, OPT, RRSIG, SOA, TSIG};
use tldd_zone::records::rrsets_at;
use tldd_zone::{RRset, Zone};

/// Extended RCODEs RFC 2136 uses (the rest are in `wire::answer::rcode`).
pub mod rc {
    pub const YXDOMAIN: u16 = 6;
    pub const YXRRSET: u16 = 7;
    pub const NXRRSET: u16 = 8;
    pub const NOTZONE: u16 = 10;
}

/// Why an update was not applied: the RCODE and a reason for logs/metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rcode: u16,
    /// Short, stable, for the metric label.
    pub reason: &'static str,
    /// Human detail for the log.
    pub detail: String,
}

fn refuse(rcode: u16, reason: &'static str, detail: String) -> Refusal {
    Refusal {
        rcode,
        reason,
        detail,
    }
}

/// One decoded UPDATE: prerequisites and updates (zone section checked by
/// the handler).
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub prereqs: Vec<Rec>,
    pub updates: Vec<Rec>,
}

/// Changed RRsets over a base version.
#[derive(Clone)]
pub struct Overlay<'z> {
    base: &'z Zone,
    sets: FxHashMap<Box<[u8]>, BTreeMap<u16, RRset>>,
    /// What the current update replaced, to undo it if it fails (cheaper
    /// than copying the overlay before each update of a large batch).
    undo: Vec<Undo>,
}

/// Does the NS RRset of `cut` name `host`?
fn names(cut: &(Box<[u8]>, RRset), host: &[u8]) -> bool {
    cut.1.rdatas().any(|t| t.eq_ignore_ascii_case(host))
}

/// (owner, type, overlay entry before the change).
type Undo = (Box<[u8]>, u16, Option<RRset>);

impl<'z> Overlay<'z> {
    pub fn new(base: &'z Zone) -> Overlay<'z> {
        Overlay {
            base,
            sets: FxHashMap::default(),
            undo: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// All non-empty RRsets at `owner` as the batch sees them.
    fn at(&self, owner: &[u8]) -> Vec<RRset> {
        let mut base: Vec<RRset> = rrsets_at(self.base, owner);
        if let Some(over) = self.sets.get(owner) {
            base.retain(|s| !over.contains_key(&s.rtype));
            base.extend(over.values().filter(|s| !s.is_empty()).cloned());
            base.sort_by_key(|s| s.rtype);
        }
        base
    }

    fn get(&self, owner: &[u8], t: u16) -> Option<RRset> {
        if let Some(s) = self.sets.get(owner).and_then(|m| m.get(&t)) {
            return (!s.is_empty()).then(|| s.clone());
        }
        rrsets_at(self.base, owner)
            .into_iter()
            .find(|s| s.rtype == t)
    }

    fn put(&mut self, owner: &[u8], set: RRset) {
        let t = set.rtype;
        let prev = self.sets.entry(owner.into()).or_default().insert(t, set);
        self.undo.push((owner.into(), t, prev));
    }

    /// Applies one UPDATE, all or nothing. `Ok` means NOERROR.
    pub fn update(&mut self, u: &Update) -> Result<(), Refusal> {
        self.undo.clear();
        let r = self.update_inner(u);
        if r.is_err() {
            while let Some((owner, t, prev)) = self.undo.pop() {
                let m = self.sets.entry(owner.clone()).or_default();
                match prev {
                    Some(p) => {
                        m.insert(t, p);
                    }
                    None => {
                        m.remove(&t);
                        if m.is_empty() {
                            self.sets.remove(&owner);
                        }
                    }
                }
            }
        }
        self.undo.clear();
        r
    }

    fn update_inner(&mut self, u: &Update) -> Result<(), Refusal> {
        self.prerequisites(&u.prereqs)?;
        prescan(self.base, &u.updates)?;
        self.policy(&u.updates)?;
        let mut touched: Vec<&[u8]> = Vec::new();
        for r in &u.updates {
            touched.push(&r.owner);
            match r.class {
                CLASS_IN => {
                    let set = match self.get(&r.owner, r.rtype) {
                        Some(s) => {
                            let mut s = s.with(&r.rdata);
                            // RFC 2136 leaves the TTL to the implementation;
                            // like BIND, the newest TTL applies to the RRset.
                            s.ttl = r.ttl;
                            s
                        }
                        None => RRset::new(r.rtype, r.ttl, &[&r.rdata]),
                    };
                    self.put(&r.owner, unsigned(set));
                }
                CLASS_ANY if r.rtype == ANY => {
                    for s in self.at(&r.owner) {
                        self.put(&r.owner, RRset::new(s.rtype, s.ttl, &[]));
                    }
                }
                CLASS_ANY => {
                    if let Some(s) = self.get(&r.owner, r.rtype) {
                        self.put(&r.owner, RRset::new(s.rtype, s.ttl, &[]));
                    }
                }
                _ => {
                    // CLASS_NONE: delete one RR.
                    if let Some(s) = self.get(&r.owner, r.rtype) {
                        let keep: Vec<&[u8]> = s
                            .rdatas()
                            .filter(|x| !rdata_eq(r.rtype, x, &r.rdata))
                            .collect();
                        if keep.len() != s.len() {
                            self.put(&r.owner, RRset::new(s.rtype, s.ttl, &keep));
                        }
                    }
                }
            }
        }
        touched.sort();
        touched.dedup();
        self.consistent(&touched)
    }

    /// RFC 2136 §3.2.
    fn prerequisites(&self, pre: &[Rec]) -> Result<(), Refusal> {
        let mut temp: BTreeMap<(&[u8], u16), Vec<&[u8]>> = BTreeMap::new();
        for r in pre {
            if r.ttl != 0 {
                return Err(refuse(
                    rcode::FORMERR,
                    "formerr",
                    "prerequisite TTL is not 0".into(),
                ));
            }
            if !name::is_below_or_at(&r.owner, &self.base.origin) {
                return Err(refuse(
                    rc::NOTZONE,
                    "notzone",
                    format!(
                        "prerequisite name {} is outside the zone",
                        name::to_text(&r.owner)
                    ),
                ));
            }
            let here = self.at(&r.owner);
            match r.class {
                CLASS_ANY | CLASS_NONE if !r.rdata.is_empty() => {
                    return Err(refuse(
                        rcode::FORMERR,
                        "formerr",
                        "prerequisite of class ANY/NONE carries RDATA".into(),
                    ))
                }
                CLASS_ANY if r.rtype == ANY => {
                    if here.is_empty() {
                        return Err(refuse(
                            rcode::NXDOMAIN,
                            "prereq",
                            format!("name {} is not in use", name::to_text(&r.owner)),
                        ));
                    }
                }
                CLASS_ANY => {
                    if !here.iter().any(|s| s.rtype == r.rtype) {
                        return Err(refuse(
                            rc::NXRRSET,
                            "prereq",
                            format!(
                                "no {} RRset at {}",
                                tldd_zone::rdata::type_name(r.rtype),
                                name::to_text(&r.owner)
                            ),
                        ));
                    }
                }
                CLASS_NONE if r.rtype == ANY => {
                    if !here.is_empty() {
                        return Err(refuse(
                            rc::YXDOMAIN,
                            "prereq",
                            format!("name {} is in use", name::to_text(&r.owner)),
                        ));
                    }
                }
                CLASS_NONE => {
                    if here.iter().any(|s| s.rtype == r.rtype) {
                        return Err(refuse(
                            rc::YXRRSET,
                            "prereq",
                            format!(
                                "{} RRset exists at {}",
                                tldd_zone::rdata::type_name(r.rtype),
                                name::to_text(&r.owner)
                            ),
                        ));
                    }
                }
                CLASS_IN => temp.entry((&r.owner, r.rtype)).or_default().push(&r.rdata),
                c => {
                    return Err(refuse(
                        rcode::FORMERR,
                        "formerr",
                        format!("prerequisite of class {c}"),
                    ))
                }
            }
        }
        for ((owner, t), want) in temp {
            let have = self.get(owner, t);
            let ok = match &have {
                None => false,
                Some(s) => {
                    s.rdatas().all(|x| want.iter().any(|w| rdata_eq(t, x, w)))
                        && want.iter().all(|w| s.rdatas().any(|x| rdata_eq(t, x, w)))
                }
            };
            if !ok {
                return Err(refuse(
                    rc::NXRRSET,
                    "prereq",
                    format!(
                        "{} {} RRset differs",
                        name::to_text(owner),
                        tldd_zone::rdata::type_name(t)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The TLD policy on the update section (before it is applied).
    fn policy(&self, updates: &[Rec]) -> Result<(), Refusal> {
        for r in updates {
            if *r.owner == *self.base.origin {
                return Err(refuse(
                    rcode::REFUSED,
                    "policy_apex",
                    format!(
                        "apex {} is not editable by update",
                        tldd_zone::rdata::type_name(r.rtype)
                    ),
                ));
            }
            let allowed =
                matches!(r.rtype, NS | DS | A | AAAA) || (r.rtype == ANY && r.class == CLASS_ANY);
            if !allowed {
                return Err(refuse(
                    rcode::REFUSED,
                    "policy_type",
                    format!(
                        "{} {} is not editable by update (NS, DS, A, AAAA only)",
                        name::to_text(&r.owner),
                        tldd_zone::rdata::type_name(r.rtype)
                    ),
                ));
            }
            let authoritative = self.base.names.get(&r.owner).is_some_and(|n| !n.is_empty());
            if authoritative {
                return Err(refuse(
                    rcode::REFUSED,
                    "policy_authoritative",
                    format!(
                        "{} holds authoritative data (not a delegation or glue)",
                        name::to_text(&r.owner)
                    ),
                ));
            }
            if r.rtype == ANY {
                if let Some(s) = self
                    .at(&r.owner)
                    .iter()
                    .find(|s| !matches!(s.rtype, NS | DS | A | AAAA))
                {
                    return Err(refuse(
                        rcode::REFUSED,
                        "policy_type",
                        format!(
                            "delete-name at {} would delete {} data",
                            name::to_text(&r.owner),
                            tldd_zone::rdata::type_name(s.rtype)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Is there NS at `n` or one of its ancestors below the apex?
    fn under_cut(&self, n: &[u8], include_self: bool) -> bool {
        let mut cur = if include_self {
            Some(n)
        } else {
            name::parent(n)
        };
        while let Some(c) = cur {
            if c.len() <= self.base.origin.len() {
                return false;
            }
            if self.get(c, NS).is_some() {
                return true;
            }
            cur = name::parent(c);
        }
        false
    }

    /// The nearest delegation at or above `n` (below the apex), with its
    /// NS RRset as the batch sees it.
    fn nearest_cut(&self, n: &[u8]) -> Option<(Box<[u8]>, RRset)> {
        let mut cur = Some(n);
        while let Some(c) = cur {
            if c.len() <= self.base.origin.len() {
                return None;
            }
            if let Some(ns) = self.get(c, NS) {
                return Some((c.into(), ns));
            }
            cur = name::parent(c);
        }
        None
    }

    /// Does some delegation, as the batch leaves it, name `host` as a name
    /// server? Its own delegation (in-bailiwick glue) and the delegations
    /// this update touches are looked at first; only sibling glue that
    /// neither names falls back to a scan of every delegation (rare: a
    /// superordinate domain returning to the zone while only a sibling
    /// uses its host).
    fn named_by_ns(&self, host: &[u8], touched: &[&[u8]]) -> bool {
        if self.nearest_cut(host).is_some_and(|c| names(&c, host)) {
            return true;
        }
        let named = |owner: &[u8]| {
            self.get(owner, NS)
                .is_some_and(|ns| ns.rdatas().any(|t| t.eq_ignore_ascii_case(host)))
        };
        if touched.iter().any(|o| named(o)) {
            return true;
        }
        self.base
            .cuts
            .iter()
            .any(|d| d.ns.rdatas().any(|t| t.eq_ignore_ascii_case(host)) && named(&d.name))
    }

    /// The result of the update must still be a TLD zone (see module doc).
    fn consistent(&self, touched: &[&[u8]]) -> Result<(), Refusal> {
        let bad = |detail: String| Err(refuse(rcode::REFUSED, "policy_shape", detail));
        for &owner in touched {
            let sets = self.at(owner);
            let has = |t| sets.iter().any(|s| s.rtype == t);
            let t = name::to_text(owner);
            if has(NS) && self.under_cut(owner, false) {
                return bad(format!("NS at {t} is below another delegation"));
            }
            if has(DS) && !has(NS) {
                return bad(format!("DS at {t} without NS"));
            }
            if (has(A) || has(AAAA)) && !self.under_cut(owner, true) {
                return bad(format!(
                    "address records at {t} are not glue (no delegation at or above)"
                ));
            }
            if (has(A) || has(AAAA)) && !self.named_by_ns(owner, touched) {
                return bad(format!(
                    "address records at {t} are not glue: no delegation names {t} as a name server"
                ));
            }
            if !has(A) && !has(AAAA) {
                if let Some(cut) = self.nearest_cut(owner).filter(|c| names(c, owner)) {
                    if self.base.addresses(owner).is_some() {
                        return bad(format!(
                            "{t} is a name server of {} and would lose its last glue address \
                             (a lame delegation); change the delegation's NS first",
                            name::to_text(&cut.0)
                        ));
                    }
                }
            }
            if let Some(ns) = sets.iter().find(|s| s.rtype == NS) {
                for target in ns.rdatas() {
                    let tl = target.to_ascii_lowercase();
                    if name::is_below_or_at(&tl, owner)
                        && self.get(&tl, A).is_none()
                        && self.get(&tl, AAAA).is_none()
                    {
                        return bad(format!(
                            "{t} NS {}: in-bailiwick name server without glue",
                            name::to_text(&tl)
                        ));
                    }
                }
            }
            // A delegation that went away must take its glue along.
            if !has(NS) {
                if let Some(d) = self.base.cuts.get(owner) {
                    for (g, _) in d.glue.iter() {
                        if **g != *owner
                            && (self.get(g, A).is_some() || self.get(g, AAAA).is_some())
                        {
                            return bad(format!(
                                "delegation {t} removed but its glue {} remains",
                                name::to_text(g)
                            ));
                        }
                    }
                }
            }
        }
        // Glue whose delegation lost its NS in this update although the glue
        // itself was not touched is caught above; glue added below a
        // delegation that did not exist is caught by the A/AAAA rule.
        Ok(())
    }

    /// The net change as a diff from the base version, the SOA serial
    /// moved on by `policy`. `None` when nothing changed.
    pub fn into_diff(self, policy: SerialPolicy, now: u64) -> Option<Diff> {
        let mut removed = Vec::new();
        let mut added = Vec::new();
        let mut owners: Vec<_> = self.sets.into_iter().collect();
        owners.sort_by(|a, b| a.0.cmp(&b.0));
        for (owner, sets) in owners {
            let old_sets = rrsets_at(self.base, &owner);
            for (t, new) in sets {
                let old = old_sets.iter().find(|s| s.rtype == t);
                let same = old.is_some_and(|o| o.ttl == new.ttl && o.rdatas().eq(new.rdatas()));
                if same || (old.is_none() && new.is_empty()) {
                    continue;
                }
                let mk = |rtype, ttl, rd: &[u8]| Rec {
                    owner: owner.clone(),
                    rtype,
                    class: CLASS_IN,
                    ttl,
                    rdata: rd.into(),
                };
                if let Some(o) = old {
                    let ttl_changed = o.ttl != new.ttl;
                    for rd in o.rdatas() {
                        if ttl_changed || !new.rdatas().any(|x| x == rd) {
                            removed.push(mk(t, o.ttl, rd));
                        }
                    }
                    for sig in o.sigs() {
                        removed.push(mk(RRSIG, o.ttl, sig));
                    }
                    for rd in new.rdatas() {
                        if ttl_changed || !o.rdatas().any(|x| x == rd) {
                            added.push(mk(t, new.ttl, rd));
                        }
                    }
                } else {
                    for rd in new.rdatas() {
                        added.push(mk(t, new.ttl, rd));
                    }
                }
            }
        }
        if removed.is_empty() && added.is_empty() {
            return None;
        }
        let old_soa = soa_rec(self.base)?;
        let from = self.base.serial();
        let to = policy.next(from, now);
        let mut new_soa = old_soa.clone();
        new_soa.rdata = with_serial(&old_soa.rdata, to)?.into();
        removed.insert(0, old_soa);
        // The old SOA's signatures go with it (the signer adds new ones).
        if let Some(soa) = self.base.soa() {
            for (i, sig) in soa.sigs().enumerate() {
                removed.insert(
                    1 + i,
                    Rec {
                        owner: self.base.origin.clone(),
                        rtype: RRSIG,
                        class: CLASS_IN,
                        ttl: soa.ttl,
                        rdata: sig.into(),
                    },
                );
            }
        }
        added.insert(0, new_soa);
        debug_assert!(removed
            .iter()
            .all(|r| r.rtype != RRSIG || covered(&r.rdata) != 0));
        Some(Diff {
            from,
            to,
            removed,
            added,
        })
    }
}

/// A changed RRset loses its signatures (the signer makes new ones).
fn unsigned(mut s: RRset) -> RRset {
    s.set_sigs(&[]);
    s
}

/// RFC 2136 §3.4.1 prescan.
fn prescan(zone: &Zone, updates: &[Rec]) -> Result<(), Refusal> {
    let formerr = |d: String| Err(refuse(rcode::FORMERR, "formerr", d));
    for r in updates {
        if !name::is_below_or_at(&r.owner, &zone.origin) {
            return Err(refuse(
                rc::NOTZONE,
                "notzone",
                format!("{} is outside the zone", name::to_text(&r.owner)),
            ));
        }
        let meta = matches!(r.rtype, ANY | AXFR | IXFR | OPT | TSIG | 253 | 254);
        match r.class {
            CLASS_IN => {
                if meta {
                    return formerr(format!("type {} cannot be added", r.rtype));
                }
                if r.rdata.is_empty() && r.rtype != SOA {
                    return formerr("record to add has no RDATA".into());
                }
            }
            CLASS_ANY => {
                if r.ttl != 0
                    || !r.rdata.is_empty()
                    || matches!(r.rtype, AXFR | IXFR | OPT | TSIG | 253 | 254)
                {
                    return formerr("delete of class ANY must have TTL 0 and no RDATA".into());
                }
            }
            CLASS_NONE => {
                if r.ttl != 0 || meta {
                    return formerr("delete of class NONE must have TTL 0 and a real type".into());
                }
            }
            c => return formerr(format!("update record of class {c}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tldd_zone::load::Builder;

    fn w(s: &str) -> Box<[u8]> {
        let mut v = Vec::new();
        name::from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
        v.into()
    }

    fn r(owner: &str, rtype: u16, class: u16, ttl: u32, rd: &[u8]) -> Rec {
        Rec {
            owner: w(owner),
            rtype,
            class,
            ttl,
            rdata: rd.into(),
        }
    }

    fn zone() -> Zone {
        let mut soa = w("ns.shop.").to_vec();
        soa.extend_from_slice(&w("h.shop."));
        for x in [7u32, 1, 2, 3, 4] {
            soa.extend_from_slice(&x.to_be_bytes());
        }
        let mut b = Builder::new(&w("shop."));
        b.add(1, &w("shop."), SOA, 1, 3600, &soa);
        b.add(2, &w("shop."), NS, 1, 3600, &w("ns.shop."));
        b.add(3, &w("ns.shop."), A, 1, 3600, &[1, 2, 3, 4]);
        b.add(4, &w("a.shop."), NS, 1, 3600, &w("ns.a.shop."));
        b.add(5, &w("ns.a.shop."), A, 1, 3600, &[1, 2, 3, 5]);
        b.build().unwrap().zone
    }

    fn upd(prereqs: Vec<Rec>, updates: Vec<Rec>) -> Update {
        Update { prereqs, updates }
    }

    #[test]
    fn prerequisites_all_kinds() {
        let z = zone();
        let mut o = Overlay::new(&z);
        let ok = |o: &mut Overlay, p: Rec| o.update(&upd(vec![p], vec![])).map_err(|e| e.rcode);
        assert_eq!(ok(&mut o, r("a.shop.", ANY, CLASS_ANY, 0, b"")), Ok(()));
        assert_eq!(
            ok(&mut o, r("b.shop.", ANY, CLASS_ANY, 0, b"")),
            Err(rcode::NXDOMAIN)
        );
        assert_eq!(ok(&mut o, r("a.shop.", NS, CLASS_ANY, 0, b"")), Ok(()));
        assert_eq!(
            ok(&mut o, r("a.shop.", DS, CLASS_ANY, 0, b"")),
            Err(rc::NXRRSET)
        );
        assert_eq!(ok(&mut o, r("b.shop.", ANY, CLASS_NONE, 0, b"")), Ok(()));
        assert_eq!(
            ok(&mut o, r("a.shop.", ANY, CLASS_NONE, 0, b"")),
            Err(rc::YXDOMAIN)
        );
        assert_eq!(
            ok(&mut o, r("a.shop.", NS, CLASS_NONE, 0, b"")),
            Err(rc::YXRRSET)
        );
        assert_eq!(
            ok(&mut o, r("a.shop.", NS, CLASS_IN, 0, &w("NS.A.shop."))),
            Ok(())
        );
        assert_eq!(
            ok(&mut o, r("a.shop.", NS, CLASS_IN, 0, &w("x.a.shop."))),
            Err(rc::NXRRSET)
        );
        assert_eq!(
            ok(&mut o, r("a.shop.", NS, CLASS_IN, 5, &w("x.a.shop."))),
            Err(rcode::FORMERR)
        );
        assert_eq!(
            ok(&mut o, r("a.com.", NS, CLASS_ANY, 0, b"")),
            Err(rc::NOTZONE)
        );
        assert!(o.is_empty());
    }

    #[test]
    fn glue_policy_keeps_delegations_resolvable() {
        let z = zone();
        let mut o = Overlay::new(&z);
        // The last address of a name server its delegation still names.
        let e = o
            .update(&upd(
                vec![],
                vec![r("ns.a.shop.", A, CLASS_NONE, 0, &[1, 2, 3, 5])],
            ))
            .unwrap_err();
        assert_eq!((e.rcode, e.reason), (rcode::REFUSED, "policy_shape"));
        assert!(e.detail.contains("lame"), "{}", e.detail);
        let e = o
            .update(&upd(vec![], vec![r("ns.a.shop.", ANY, CLASS_ANY, 0, b"")]))
            .unwrap_err();
        assert_eq!(e.reason, "policy_shape");
        // An address below the cut that no NS names.
        let e = o
            .update(&upd(
                vec![],
                vec![r("x.y.a.shop.", A, CLASS_IN, 60, &[1, 1, 1, 1])],
            ))
            .unwrap_err();
        assert_eq!(e.reason, "policy_shape");
        assert!(e.detail.contains("no delegation names"), "{}", e.detail);
        assert!(o.is_empty());
        // Replacing the address (add one, then remove the old) is fine, and
        // so is moving the delegation to a new server with its glue.
        o.update(&upd(
            vec![],
            vec![
                r("ns.a.shop.", A, CLASS_IN, 60, &[1, 2, 3, 6]),
                r("ns.a.shop.", A, CLASS_NONE, 0, &[1, 2, 3, 5]),
            ],
        ))
        .unwrap();
        o.update(&upd(
            vec![],
            vec![
                r("a.shop.", NS, CLASS_IN, 60, &w("ns2.a.shop.")),
                r("ns2.a.shop.", A, CLASS_IN, 60, &[1, 2, 3, 7]),
                r("a.shop.", NS, CLASS_NONE, 0, &w("ns.a.shop.")),
                r("ns.a.shop.", ANY, CLASS_ANY, 0, b""),
            ],
        ))
        .unwrap();
        // Sibling glue: b.shop. served by a host below a.shop.
        o.update(&upd(
            vec![],
            vec![
                r("b.shop.", NS, CLASS_IN, 60, &w("ns3.a.shop.")),
                r("ns3.a.shop.", A, CLASS_IN, 60, &[1, 2, 3, 8]),
            ],
        ))
        .unwrap();
    }

    #[test]
    fn policy_and_all_or_nothing() {
        let z = zone();
        let mut o = Overlay::new(&z);
        let e = o
            .update(&upd(
                vec![],
                vec![r("shop.", NS, CLASS_IN, 60, &w("x.shop."))],
            ))
            .unwrap_err();
        assert_eq!((e.rcode, e.reason), (rcode::REFUSED, "policy_apex"));
        let e = o
            .update(&upd(vec![], vec![r("b.shop.", 16, CLASS_IN, 60, b"\x01x")]))
            .unwrap_err();
        assert_eq!(e.reason, "policy_type");
        // Glue without delegation.
        let e = o
            .update(&upd(
                vec![],
                vec![r("ns.b.shop.", A, CLASS_IN, 60, &[1, 1, 1, 1])],
            ))
            .unwrap_err();
        assert_eq!(e.reason, "policy_shape");
        // A good add followed by a bad one in the same update: nothing stays.
        let e = o
            .update(&upd(
                vec![],
                vec![
                    r("b.shop.", NS, CLASS_IN, 60, &w("ns.example.")),
                    r("c.shop.", DS, CLASS_IN, 60, &[0, 1, 13, 2, 1]),
                ],
            ))
            .unwrap_err();
        assert_eq!(e.reason, "policy_shape");
        assert!(o.is_empty());
        // Removing a delegation but not its glue.
        let e = o
            .update(&upd(vec![], vec![r("a.shop.", ANY, CLASS_ANY, 0, b"")]))
            .unwrap_err();
        assert_eq!(e.reason, "policy_shape");
        o.update(&upd(
            vec![],
            vec![
                r("a.shop.", ANY, CLASS_ANY, 0, b""),
                r("ns.a.shop.", ANY, CLASS_ANY, 0, b""),
            ],
        ))
        .unwrap();
        o.update(&upd(
            vec![],
            vec![
                r("b.shop.", NS, CLASS_IN, 60, &w("ns1.b.shop.")),
                r("ns1.b.shop.", A, CLASS_IN, 60, &[9, 9, 9, 9]),
                r("b.shop.", DS, CLASS_IN, 60, &[0, 1, 13, 2, 1]),
            ],
        ))
        .unwrap();
        let d = o.into_diff(SerialPolicy::Increment, 0).unwrap();
        assert_eq!((d.from, d.to), (7, 8));
        assert_eq!(d.removed.len(), 3); // SOA, NS a, A ns.a
        assert_eq!(d.added.len(), 4); // SOA, NS, A, DS
        let mut st = super::super::ZoneState::new(z.clone());
        st.apply(&d).unwrap();
        assert!(st.zone.cuts.get(&w("a.shop.")).is_none());
        assert!(st
            .zone
            .cuts
            .get(&w("b.shop."))
            .is_some_and(|c| c.ds.is_some()));
    }
}
