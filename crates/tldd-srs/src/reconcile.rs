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
        for chunk in repairs.chunks(batch.max(1)) {
            store
                .write(|t| -> SResult<()> {
                    for r in chunk {
                        t.publish_owner(r.clone());
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
        }
        rep.queued = true;
    }
    Ok(rep)
}
