//! `tldd store recover`: a zone store that fails its checks (see
//! [`crate::journal::StoreError`]) made servable again without losing
//! more than it already lost, and without serving an older version under
//! a serial the world has already seen.
//!
//! # What it does
//! 1. Opens the store as `tldd serve` would (refused while a tldd holds
//!    it) and checks every configured zone. A store whose zones all pass
//!    is left as it is.
//! 2. Salvages the best readable version of every configured zone
//!    ([`crate::journal::salvage`]): for a zone that passed, exactly its
//!    last version.
//! 3. Moves the whole store (`zones.sled`, `marks/`, `snapshots/`) into
//!    `data_dir/damaged-<unix time>/`, so nothing is deleted and the
//!    damaged files can be examined or sent to whoever debugs them.
//! 4. Writes a new store holding each salvaged version. A zone that
//!    failed gets a serial past both its salvaged serial and the last
//!    acknowledged one (moved on by the zone's `serial_policy`), and is
//!    re-signed and verified when it is signed: secondaries that already
//!    hold a newer version than the salvaged one must transfer it.
//!
//! A secondary zone (`primary` set) keeps the salvaged version with its
//! serial: its serials are its primary's, and its next refresh transfers
//! what it lacks. A zone of which nothing reads is not written: the next
//! `tldd serve` loads its zone file (a primary) or transfers it (a
//! secondary).
//!
//! # What it cannot do
//! Bring back the versions the store lost. Those come from whoever sent
//! them: `tldd srs reconcile` makes the zone match the registry again (the
//! SRS holds every acknowledged registration), a secondary's primary
//! sends its current zone. The journal's history (IXFR) is gone: the
//! secondaries' next transfer is an AXFR. The SRS's own store
//! (`srs.sled`) is not recovered here: it has no second copy to recover
//! from, only a backup.
use crate::config::Config;
use crate::journal::salvage::{salvage, Salvaged};
use crate::journal::{Journal, StoreError};
use anyhow::Context;
use std::path::PathBuf;

/// What happened to one zone.
pub enum Outcome {
    /// The store passed its checks; kept as it was.
    Sound { serial: Option<u32> },
    /// A salvaged version was written as the zone's new store.
    Restored {
        /// The version that was read.
        salvaged_serial: u32,
        /// The serial it is served under.
        serial: u32,
        source: String,
        acked_serial: Option<u32>,
        /// Why the store failed.
        reason: String,
    },
    /// Nothing of the zone was readable.
    Lost {
        acked_serial: Option<u32>,
        reason: String,
    },
}

/// The result of a recovery.
pub struct Report {
    /// Where the damaged store went (`None`: the store was sound).
    pub aside: Option<PathBuf>,
    pub zones: Vec<(String, Outcome)>,
    /// Zones the old store held that the configuration does not name
    /// (kept only in `aside`).
    pub unconfigured: Vec<String>,
}

/// Recovers the store of `cfg`'s `data_dir` (see the module doc).
pub fn recover(cfg: &Config) -> anyhow::Result<Report> {
    let dir = &cfg.server.data_dir;
    let opened = Journal::open(dir);
    if let Err(e @ StoreError::Locked { .. }) = &opened {
        anyhow::bail!("{e}; stop it first");
    }
    let open_error = opened.as_ref().err().map(ToString::to_string);
    let journal = opened.ok();
    // One check per zone (a full replay each): its serial when sound,
    // else why not.
    let mut checked = Vec::new();
    for z in &cfg.zone {
        let origin = z.origin();
        let result = match &journal {
            Some(j) => j
                .check_zone(&origin)
                .result
                .map(|c| c.serial)
                .map_err(|e| e.to_string()),
            None => Err(open_error.clone().unwrap_or_default()),
        };
        checked.push((origin, result));
    }
    if journal.is_some() && checked.iter().all(|(_, r)| r.is_ok()) {
        let zones = checked
            .into_iter()
            .map(|(zone, r)| {
                (
                    zone,
                    Outcome::Sound {
                        serial: r.ok().flatten(),
                    },
                )
            })
            .collect();
        return Ok(Report {
            aside: None,
            zones,
            unconfigured: Vec::new(),
        });
    }
    let reasons: Vec<(String, Option<String>)> =
        checked.into_iter().map(|(z, r)| (z, r.err())).collect();
    let stored = crate::journal::salvage::stored_zone_names(dir, journal.as_ref());
    let unconfigured = stored
        .into_iter()
        .filter(|n| !reasons.iter().any(|(z, _)| z == n))
        .collect();
    let salvaged: Vec<Option<Salvaged>> = reasons
        .iter()
        .map(|(zone, _)| salvage(dir, journal.as_ref(), zone))
        .collect();
    drop(journal);

    let aside = dir.join(format!("damaged-{}", tldd_tsig::now()));
    std::fs::create_dir_all(&aside).with_context(|| format!("creating {}", aside.display()))?;
    for part in ["zones.sled", "marks", "snapshots"] {
        let from = dir.join(part);
        if from.exists() {
            std::fs::rename(&from, aside.join(part))
                .with_context(|| format!("moving {} to {}", from.display(), aside.display()))?;
        }
    }

    let store = Journal::open(dir)?;
    let metrics = crate::metrics::Metrics::new();
    let mut zones = Vec::new();
    for ((z, (origin, reason)), got) in cfg.zone.iter().zip(reasons).zip(salvaged) {
        let Some(s) = got else {
            zones.push((
                origin,
                Outcome::Lost {
                    acked_serial: None,
                    reason: reason.unwrap_or_default(),
                },
            ));
            continue;
        };
        let salvaged_serial = s.zone.serial();
        let mut zone = s.zone;
        // A secondary's serials are its primary's: it keeps the salvaged
        // version as it is and catches up by its next refresh.
        if reason.is_some() && z.primary.is_none() {
            let past = s.acked_serial.map_or(salvaged_serial, |a| {
                if tldd_zone::serial::serial_lt(salvaged_serial, a) {
                    a
                } else {
                    salvaged_serial
                }
            });
            match &z.dnssec {
                // sign_for_serving moves the serial on from `past`.
                Some(dnssec) => {
                    crate::server::set_serial(&mut zone, past)?;
                    zone = crate::server::sign_for_serving(
                        cfg,
                        &origin,
                        zone,
                        dnssec,
                        z.serial_policy,
                        &metrics,
                    )?;
                }
                None => {
                    let next = z.serial_policy.next(past, tldd_tsig::now());
                    crate::server::set_serial(&mut zone, next)?;
                }
            }
        }
        let mut zs = store.zone(&origin, z.journal_max)?;
        zs.replace(&zone)
            .with_context(|| format!("zone {origin}: writing the recovered store"))?;
        let outcome = match reason {
            None => Outcome::Sound {
                serial: Some(zone.serial()),
            },
            Some(reason) => Outcome::Restored {
                salvaged_serial,
                serial: zone.serial(),
                source: s.source,
                acked_serial: s.acked_serial,
                reason,
            },
        };
        zones.push((origin, outcome));
    }
    Ok(Report {
        aside: Some(aside),
        zones,
        unconfigured,
    })
}
