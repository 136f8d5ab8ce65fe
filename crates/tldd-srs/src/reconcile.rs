//! `tldd srs reconcile`: transfer the zone (AXFR with TSIG), compare the NS,
//! DS and glue it holds at every SRS-managed name with what the SRS wants
//! there, and queue a repair (the full wanted state) for each name that
//! differs. The publisher then sends the repairs like any other change.
//!
//! Managed names are the registrable names (one label under the TLD) and
//! the names below them, except under reserved labels (`[srs.policy]
//! reserved`, e.g. `nic.shop`, which holds the registry's own servers) and
//! except the targets of the apex NS records (the TLD's own glue). Other
//! record types are never compared or touched. Run it after the publisher
//! queue is empty, or the comparison sees changes still in flight (the
//! repairs are then redundant, not harmful: they carry the current state).
use crate::db::{SResult, Store};
use crate::dns::{axfr, owner_sets};
use crate::model::OwnerSet;
use crate::names::superordinate;
use hickory_proto::rr::RData;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tldd_tsig::Key as TsigKey;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Report {
    pub zone_names: usize,
    pub wanted_names: usize,
    /// Wanted but absent from the zone.
    pub missing: Vec<String>,
    /// Present in both with different data.
    pub different: Vec<String>,
    /// In the zone but not wanted.
    pub extra: Vec<String>,
    pub queued: bool,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "zone names: {}, SRS names: {}",
            self.zone_names, self.wanted_names
        )?;
        for (what, v) in [
            ("missing", &self.missing),
            ("different", &self.different),
            ("extra", &self.extra),
        ] {
            writeln!(
                f,
                "{what}: {}{}",
                v.len(),
                if v.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", v.join(", "))
                }
            )?;
        }
        write!(
            f,
            "{}",
            if self.queued {
                "repairs queued"
            } else {
                "nothing queued"
            }
        )
    }
}

/// Compares and (unless `dry_run`) queues repairs.
pub async fn reconcile(
    store: &Store,
    reserved: &[String],
    server: SocketAddr,
    key: &Arc<TsigKey>,
    timeout: Duration,
    batch: usize,
    dry_run: bool,
) -> Result<Report, String> {
    let tld = store.tld().to_string();
    let records = axfr(server, key, &tld, timeout).await?;
    let apex_glue: BTreeSet<String> = records
        .iter()
        .filter(|r| crate::names::canonical(&r.name.to_ascii()) == tld)
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(crate::names::canonical(&ns.0.to_ascii())),
            _ => None,
        })
        .collect();
    let managed = |name: &str| {
        !apex_glue.contains(name)
            && superordinate(name, &tld).is_some_and(|sup| {
                let label = &sup[..sup.len() - tld.len() - 1];
                !reserved.iter().any(|r| r.eq_ignore_ascii_case(label))
            })
    };
    let actual: std::collections::BTreeMap<String, OwnerSet> = owner_sets(&tld, &records)
        .into_iter()
        .filter(|(n, _)| managed(n))
        .collect();
    let wanted = store.wanted_zone().map_err(|e| e.to_string())?;
    let mut rep = Report {
        zone_names: actual.len(),
        wanted_names: wanted.len(),
        ..Default::default()
    };
    let mut repairs = Vec::new();
    for (name, w) in &wanted {
        match actual.get(name) {
            None => {
                rep.missing.push(name.clone());
                repairs.push(w.clone());
            }
            Some(a) if a != w => {
                rep.different.push(name.clone());
                repairs.push(w.clone());
            }
            Some(_) => {}
        }
    }
    for name in actual.keys() {
        if !wanted.contains_key(name) {
            rep.extra.push(name.clone());
            repairs.push(OwnerSet {
                name: name.clone(),
                ..Default::default()
            });
        }
    }
    if !dry_run && !repairs.is_empty() {
        for chunk in plan(repairs, &tld, batch) {
            store
                .write(|t| -> SResult<()> {
                    for r in chunk {
                        t.publish_owner(r);
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
        }
        rep.queued = true;
    }
    Ok(rep)
}

/// The repairs as queue operations the DNS server's update policy accepts
/// one after the other (each becomes one publisher operation, never split
/// across UPDATE messages):
/// - a domain and the names below it travel together (tldd refuses an
///   in-bailiwick name server without glue, glue that would leave its own
///   delegation lame, and a delegation removed without its glue);
/// - glue that another domain's repair names as a name server (sibling
///   glue: `a.shop NS ns1.b.shop`) comes with or after that domain: tldd
///   refuses address records that no delegation names;
/// - domains that need each other both ways go in one operation;
/// - operations hold whole domains, up to `batch` names when they can.
fn plan(repairs: Vec<OwnerSet>, tld: &str, batch: usize) -> Vec<Vec<OwnerSet>> {
    use std::collections::BTreeMap;
    let domain_of = |n: &str| superordinate(n, tld).unwrap_or_else(|| n.to_string());
    let mut groups: BTreeMap<String, Vec<OwnerSet>> = BTreeMap::new();
    for r in repairs {
        groups.entry(domain_of(&r.name)).or_default().push(r);
    }
    // Does group `g`'s repair give `host` addresses?
    let adds_glue = |g: &str, host: &str| {
        groups
            .get(g)
            .is_some_and(|v| v.iter().any(|s| s.name == host && !s.addrs.is_empty()))
    };
    // before[h]: the groups that must be queued before group h.
    let mut before: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (g, sets) in &groups {
        for t in sets.iter().flat_map(|s| &s.ns) {
            let h = domain_of(t);
            if h != *g && adds_glue(&h, t) {
                before.entry(h).or_default().insert(g.clone());
            }
        }
    }
    // Kahn's order (smallest name first among the ready ones).
    let mut waits: BTreeMap<&str, usize> = groups.keys().map(|g| (g.as_str(), 0)).collect();
    let mut unblocks: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (g, deps) in &before {
        for d in deps {
            *waits.entry(g.as_str()).or_default() += 1;
            unblocks.entry(d.as_str()).or_default().push(g.as_str());
        }
    }
    let mut ready: BTreeSet<&str> = waits
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(g, _)| *g)
        .collect();
    let mut order: Vec<Vec<String>> = Vec::new();
    while let Some(g) = ready.pop_first() {
        order.push(vec![g.to_string()]);
        waits.remove(g);
        for d in unblocks.get(g).map(Vec::as_slice).unwrap_or(&[]) {
            if let Some(n) = waits.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    if !waits.is_empty() {
        // A cycle (and what waits on it): one operation for all of it.
        order.push(waits.keys().map(|g| g.to_string()).collect());
    }
    let mut ops: Vec<Vec<OwnerSet>> = Vec::new();
    let mut cur: Vec<OwnerSet> = Vec::new();
    for unit in order {
        let sets: Vec<OwnerSet> = unit
            .iter()
            .flat_map(|g| groups.remove(g).unwrap_or_default())
            .collect();
        if !cur.is_empty() && cur.len() + sets.len() > batch.max(1) {
            ops.push(std::mem::take(&mut cur));
        }
        cur.extend(sets);
    }
    if !cur.is_empty() {
        ops.push(cur);
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, ns: &[&str], addrs: &[&str]) -> OwnerSet {
        OwnerSet {
            name: name.into(),
            ns: ns.iter().map(|s| s.to_string()).collect(),
            ds: vec![],
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        }
    }

    fn names(ops: &[Vec<OwnerSet>]) -> Vec<Vec<&str>> {
        ops.iter()
            .map(|o| o.iter().map(|s| s.name.as_str()).collect())
            .collect()
    }

    #[test]
    fn a_domain_travels_with_its_glue_and_sibling_glue_after_its_user() {
        // a.shop uses ns1.b.shop, whose glue b.shop's repair brings: the
        // glue needs a delegation naming it, so a.shop goes first.
        let repairs = vec![
            set("a.shop", &["ns1.b.shop"], &[]),
            set("b.shop", &["ns.example.net"], &[]),
            set("ns1.b.shop", &[], &["192.0.2.1"]),
            set("ns1.c.shop", &[], &["192.0.2.3"]),
            set("c.shop", &["ns1.c.shop"], &[]),
        ];
        let ops = plan(repairs, "shop", 1);
        assert_eq!(
            names(&ops),
            vec![
                vec!["a.shop"],
                vec!["b.shop", "ns1.b.shop"],
                vec!["ns1.c.shop", "c.shop"]
            ]
        );
    }

    #[test]
    fn domains_that_need_each_other_share_one_operation() {
        let repairs = vec![
            set("a.shop", &["ns.b.shop"], &[]),
            set("ns.a.shop", &[], &["192.0.2.1"]),
            set("b.shop", &["ns.a.shop"], &[]),
            set("ns.b.shop", &[], &["192.0.2.2"]),
        ];
        let ops = plan(repairs, "shop", 1);
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].len(), 4);
    }

    #[test]
    fn independent_domains_are_packed_up_to_batch() {
        let repairs: Vec<OwnerSet> = (0..10)
            .map(|i| set(&format!("d{i}.shop"), &["ns.example.net"], &[]))
            .collect();
        let ops = plan(repairs, "shop", 4);
        assert_eq!(ops.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    }
}
