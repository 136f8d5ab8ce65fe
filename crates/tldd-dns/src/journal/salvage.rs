//! What `tldd store check` and `tldd store recover` need from the journal:
//! every zone the store knows of, a read-only check of each, and the best
//! version that can still be read from a store that fails its checks.
//!
//! # What "the best version" is
//! In order of preference:
//! 1. the snapshot the journal's pointer names, plus every journal entry
//!    after it that still reads, decodes and applies (stopping at the
//!    first that does not: a later entry cannot apply without it);
//! 2. when the journal cannot be opened or has no pointer: the newest
//!    snapshot file whose checksum holds (`data_dir/snapshots`).
//!
//! Neither reaches the last acknowledged version when the store lost
//! versions: that is why it failed its check. The versions between the
//! salvaged one and the acknowledged one (the mark's serial, reported as
//! [`Salvaged::acked_serial`]) come back from whoever sent them: the
//! registry (`tldd srs reconcile` sends the difference between the SRS
//! and the zone) or the primary (a secondary transfers again).
//!
//! # Limits
//! Nothing here writes: the recovery itself (moving the damaged files
//! aside, writing the salvaged version as a new store) is
//! `crate::recover`, which also moves the serial past the acknowledged
//! one and re-signs.
use super::*;

/// One zone's check.
pub struct ZoneCheck {
    /// The zone's origin as stored (`shop.`).
    pub zone: String,
    pub result: Result<Checked, StoreError>,
}

/// A zone whose store passed every check.
pub struct Checked {
    /// `None`: nothing stored (the zone file will be loaded).
    pub serial: Option<u32>,
    /// Journal entries kept.
    pub journal_entries: u64,
    /// The newest acknowledged version the mark records.
    pub acked: Option<(u64, u32)>,
}

/// A version read out of a damaged store.
pub struct Salvaged {
    pub zone: Zone,
    /// Where it came from (for the operator).
    pub source: String,
    /// The newest serial the mark says was acknowledged, if it reads.
    pub acked_serial: Option<u32>,
}

/// The zones the store in `dir` knows of: the database's trees (when it
/// opens), the marks and the snapshot files, sorted.
pub fn stored_zone_names(dir: &Path, journal: Option<&Journal>) -> Vec<String> {
    let mut names: Vec<String> = journal.map(Journal::zone_names).unwrap_or_default();
    let mut from_files = |sub: &str, strip: fn(&str) -> Option<&str>| {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                if let Some(stem) = e.file_name().to_str().and_then(strip) {
                    names.push(stem.to_string());
                }
            }
        }
    };
    from_files("marks", |n| n.strip_suffix(".hwm"));
    from_files("snapshots", |n| {
        let rest = n.strip_suffix(".snap")?;
        let (stem, generation) = rest.rsplit_once('.')?;
        generation.parse::<u64>().ok()?;
        Some(stem)
    });
    names.sort();
    names.dedup();
    names
}

/// The origin `zone` (text) in wire form.
fn wire(zone: &str) -> Result<Vec<u8>, StoreError> {
    let mut w = Vec::new();
    tldd_zone::name::from_text(zone.as_bytes(), &[0], true, &mut w).map_err(|e| {
        StoreError::Dir {
            path: PathBuf::from(zone),
            detail: format!("not a zone name: {e}"),
        }
    })?;
    Ok(w)
}

impl Journal {
    /// Checks one zone as a start would, without changing anything.
    pub fn check_zone(&self, zone: &str) -> ZoneCheck {
        let result = (|| {
            let origin = wire(zone)?;
            let mut zs = self.zone(zone, u64::MAX)?;
            let loaded = zs.check(&origin)?;
            Ok(Checked {
                serial: loaded.as_ref().map(Zone::serial),
                journal_entries: zs.journal_len(),
                acked: zs.mark_seen.map(|m| (m.seq, m.serial)),
            })
        })();
        ZoneCheck {
            zone: zone.into(),
            result,
        }
    }
}

/// The best version of `zone` still readable from the store in `dir`
/// (see the module doc); `None` when nothing of it reads.
pub fn salvage(dir: &Path, journal: Option<&Journal>, zone: &str) -> Option<Salvaged> {
    let origin = wire(zone).ok()?;
    let stem = zone.replace('/', "_");
    let acked_serial = mark::read(&mark::path(&dir.join("marks"), &stem))
        .ok()
        .flatten()
        .map(|m| m.serial);
    if let Some(zs) = journal.and_then(|j| j.zone(zone, u64::MAX).ok()) {
        if let Some((zone, source)) = from_journal(&zs, &origin) {
            return Some(Salvaged {
                zone,
                source,
                acked_serial,
            });
        }
    }
    let (zone, source) = newest_snapshot_file(&dir.join("snapshots"), &stem, &origin)?;
    Some(Salvaged {
        zone,
        source,
        acked_serial,
    })
}

/// The pointed-to snapshot plus the journal entries that still apply.
fn from_journal(zs: &ZoneJournal, origin: &[u8]) -> Option<(Zone, String)> {
    let read = tldd_store::guard::catch_quietly(|| -> sled::Result<_> {
        Ok((zs.tree.get(b"m")?, zs.tree.get(b"p")?))
    });
    let (raw_meta, raw_snap) = read.ok()?.ok()?;
    let snap = Snap::decode(&raw_snap?)?;
    let zone = zs.build_snapshot(origin, &snap).ok()?;
    let Some(meta) = raw_meta.as_deref().and_then(Meta::decode) else {
        return Some((zone, format!("snapshot generation {}", snap.generation)));
    };
    let mut state = ZoneState::new(zone);
    let mut applied = 0u64;
    for seq in snap.seq + 1..=meta.last {
        let got = tldd_store::guard::catch_quietly(|| zs.tree.get(journal_key(seq)));
        let Ok(Ok(Some(v))) = got else { break };
        let Ok(d) = entry::decode(seq, &v, meta.format(seq)) else {
            break;
        };
        if state.apply(&d).is_err() {
            break;
        }
        applied += 1;
    }
    Some((
        state.zone,
        format!(
            "snapshot generation {} and {applied} journal entries after it",
            snap.generation
        ),
    ))
}

/// The newest snapshot file of the zone whose checksum holds.
fn newest_snapshot_file(dir: &Path, stem: &str, origin: &[u8]) -> Option<(Zone, String)> {
    let prefix = format!("{stem}.");
    let mut generations: Vec<u64> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let rest = name.to_str()?.strip_prefix(&prefix)?;
            rest.strip_suffix(".snap")?.parse().ok()
        })
        .collect();
    generations.sort_unstable_by(|a, b| b.cmp(a));
    for g in generations {
        let path = snapfile::path(dir, stem, g);
        let Ok(records) = snapfile::read(&path) else {
            continue;
        };
        let mut b = Builder::new(origin);
        if decode_chunk(&mut b, &records).is_err() {
            continue;
        }
        if let Ok(built) = b.build() {
            return Some((
                built.zone,
                format!("snapshot file {} (the journal is unusable)", path.display()),
            ));
        }
    }
    None
}
