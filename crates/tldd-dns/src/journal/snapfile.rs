//! Snapshot files: a zone's records in one plain file per generation,
//! `data_dir/snapshots/<zone>.<generation>.snap`.
//!
//! Why a file and not sled: a snapshot is tens to hundreds of megabytes
//! written at once. Through sled it shares the log with the journal, and
//! the writer's per-version fsync stalled behind it (60-110 ms per
//! snapshot, measured with `benches/update_load.sh`). A file is written
//! beside the journal, synced in 1 MiB steps by the snapshot thread, and
//! only then named by the pointer in sled.
//!
//! Layout: `MAGIC`, the records (the chunk encoding of [`super`]: owner
//! length, owner, type, TTL, RDATA length, RDATA), then a trailer of the
//! records' length (u64 BE) and their CRC-32 (u32 BE). A file is written
//! as `.tmp`, synced, renamed and the directory synced, so a name without
//! `.tmp` is always complete; the trailer catches later damage.
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use tldd_zone::records::{for_each_record, for_each_rrset};
use tldd_zone::Zone;

const MAGIC: &[u8; 8] = b"tldsnap1";

/// Bytes written between two syncs of a paced (background) snapshot.
pub const SYNC_STEP: u64 = 1 << 20;

/// The file of `generation` of the zone `stem` in `dir`.
pub fn path(dir: &Path, stem: &str, generation: u64) -> PathBuf {
    dir.join(format!("{stem}.{generation}.snap"))
}

/// Writes `zone` to `path` (through `path.tmp`); returns the records'
/// length. `paced`: sync every [`SYNC_STEP`] and pause, so the disk
/// never holds a large backlog that the journal's fsync would queue
/// behind.
pub fn write(
    path: &Path,
    zone: &Zone,
    paced: bool,
    pause: std::time::Duration,
) -> anyhow::Result<u64> {
    let tmp = path.with_extension("snap.tmp");
    let file = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
    let mut out = std::io::BufWriter::with_capacity(256 << 10, file);
    out.write_all(MAGIC)?;
    let mut crc = crc32fast::Hasher::new();
    let (mut len, mut since_sync) = (0u64, 0u64);
    let mut rec = Vec::with_capacity(512);
    let mut result = Ok(());
    for_each_rrset(zone, |owner, set| {
        if result.is_err() {
            return;
        }
        rec.clear();
        for_each_record(set, |t, ttl, rd| {
            rec.push(owner.len() as u8);
            rec.extend_from_slice(owner);
            rec.extend_from_slice(&t.to_be_bytes());
            rec.extend_from_slice(&ttl.to_be_bytes());
            rec.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            rec.extend_from_slice(rd);
        });
        crc.update(&rec);
        len += rec.len() as u64;
        since_sync += rec.len() as u64;
        result = out.write_all(&rec);
        if result.is_ok() && paced && since_sync >= SYNC_STEP {
            since_sync = 0;
            result = out.flush().and_then(|()| out.get_ref().sync_data());
            std::thread::sleep(pause);
        }
    });
    result.with_context(|| format!("writing {}", tmp.display()))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(&crc.finalize().to_be_bytes())?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(len)
}

/// The records of the snapshot file at `path`, checked against its
/// trailer.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut v = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let bad = || anyhow::anyhow!("{}: damaged snapshot file", path.display());
    if v.len() < MAGIC.len() + 12 || &v[..MAGIC.len()] != MAGIC {
        return Err(bad());
    }
    let t = v.len() - 12;
    let len = u64::from_be_bytes(v[t..t + 8].try_into().unwrap());
    let crc = u32::from_be_bytes(v[t + 8..].try_into().unwrap());
    if len != (t - MAGIC.len()) as u64 || crc32fast::hash(&v[MAGIC.len()..t]) != crc {
        return Err(bad());
    }
    v.truncate(t);
    v.drain(..MAGIC.len());
    Ok(v)
}

/// Removes the zone's snapshot files other than `keep` (and unfinished
/// `.tmp` files).
pub fn remove_others(dir: &Path, stem: &str, keep: Option<u64>) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let prefix = format!("{stem}.");
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let generation = rest
            .strip_suffix(".snap")
            .and_then(|g| g.parse::<u64>().ok());
        let is_ours = generation.is_some()
            || rest
                .strip_suffix(".snap.tmp")
                .is_some_and(|g| g.parse::<u64>().is_ok());
        if is_ours && (generation.is_none() || generation != keep) {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

/// The total size of the zone's snapshot files.
pub fn disk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|es| {
            es.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Some complete snapshot file of the zone `stem` in `dir`, if there is
/// one (evidence that the zone had a store: see `load`).
pub fn any(dir: &Path, stem: &str) -> Option<PathBuf> {
    let prefix = format!("{stem}.");
    std::fs::read_dir(dir).ok()?.find_map(|e| {
        let e = e.ok()?;
        let name = e.file_name();
        let rest = name.to_str()?.strip_prefix(&prefix)?;
        rest.strip_suffix(".snap")?.parse::<u64>().ok()?;
        Some(e.path())
    })
}
