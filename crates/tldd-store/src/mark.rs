//! The high-water mark: what a store last acknowledged, kept outside the
//! store, so a store that lost its tail, was deleted or was replaced by an
//! older copy is caught at start instead of served. Two stores keep one:
//! the zone journal (`tldd_dns::journal`, per zone, with the checksum
//! chain) and the registry's store (`tldd_srs::db`, its commit count).
//!
//! # Why outside the journal
//! sled recovers a torn log tail by cutting it: after a crash that is
//! right (the cut part was never acknowledged), but a journal whose last
//! kilobytes were lost *later* (a bad disk, a restore from an old backup,
//! a careless copy) looks exactly the same, and sled opens it at an older
//! state without a word. A record written elsewhere after every commit
//! says how far the journal must reach.
//!
//! # What is recorded
//! Per zone, `data_dir/marks/<zone>.hwm`: the journal sequence and the
//! zone serial of the newest committed version, and the *chain* at that
//! sequence: `chain(n) = SHA-256(chain(n-1) ‖ n ‖ entry n's bytes)`, so the
//! mark vouches for the content of every entry, not only their number.
//! The journal's meta and its snapshot pointer carry the chain at their
//! own sequence (see `tldd_dns::journal`), so its `load` recomputes it
//! while it replays and compares. The registry's store records its commit
//! count as `seq` (no serial, no chain).
//!
//! # Format and durability
//! Two 512-byte slots (offsets 0 and 512; a write never spans a sector,
//! so a torn write damages one slot at most). A version goes to slot
//! `seq % 2`: `magic ‖ seq ‖ serial ‖ chain ‖ CRC-32`. Reading takes the
//! valid slot with the higher sequence. The commit writes the mark after
//! sled's fsync and syncs it (`fdatasync`) before the update is
//! acknowledged; a crash in between leaves the journal one version ahead
//! of the mark, which the start-up check accepts (that version was never
//! acknowledged, keeping it is what any journal does).
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"tlddhwm1";
const SLOT: u64 = 512;
const RECORD: usize = 8 + 8 + 4 + 32 + 4;

/// The chain value before any entry of a journal that started with this
/// build (after a `replace`, see [`base`]).
pub type Chain = [u8; 32];

/// The newest acknowledged version of one zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub seq: u64,
    pub serial: u32,
    pub chain: Chain,
}

/// `chain(seq)` from `chain(seq - 1)` and entry `seq`'s stored bytes.
pub fn next(prev: &Chain, seq: u64, entry: &[u8]) -> Chain {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(prev);
    h.update(&seq.to_be_bytes());
    h.update(entry);
    h.finish().as_ref().try_into().unwrap_or([0; 32])
}

/// The chain value a journal starts from at sequence `seq` when the zone
/// was replaced by a whole version of serial `serial` (a zone file, an
/// AXFR), or when a store of an earlier tldd is first marked.
pub fn base(seq: u64, serial: u32) -> Chain {
    next(&[0; 32], seq, &serial.to_be_bytes())
}

/// `data_dir/marks/<zone>.hwm`.
pub fn path(marks_dir: &Path, stem: &str) -> PathBuf {
    marks_dir.join(format!("{stem}.hwm"))
}

/// Why a mark file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged: neither of its two slots holds a valid record")]
    Damaged { path: PathBuf },
}

/// Reads the mark at `path`; `None` when there is no file.
pub fn read(path: &Path) -> Result<Option<Mark>, MarkError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(MarkError::Io {
                path: path.into(),
                source,
            })
        }
    };
    let best = [0, SLOT as usize]
        .iter()
        .filter_map(|&at| decode(bytes.get(at..at + RECORD)?))
        .max_by_key(|m| m.seq);
    match best {
        Some(m) => Ok(Some(m)),
        None => Err(MarkError::Damaged { path: path.into() }),
    }
}

fn encode(m: &Mark) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    b[0..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&m.seq.to_be_bytes());
    b[16..20].copy_from_slice(&m.serial.to_be_bytes());
    b[20..52].copy_from_slice(&m.chain);
    let crc = crc32fast::hash(&b[..52]);
    b[52..56].copy_from_slice(&crc.to_be_bytes());
    b
}

fn decode(b: &[u8]) -> Option<Mark> {
    if b.len() < RECORD || &b[0..8] != MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes(b[52..56].try_into().ok()?);
    if crc32fast::hash(&b[..52]) != crc {
        return None;
    }
    Some(Mark {
        seq: u64::from_be_bytes(b[8..16].try_into().ok()?),
        serial: u32::from_be_bytes(b[16..20].try_into().ok()?),
        chain: b[20..52].try_into().ok()?,
    })
}

/// The open mark file of one zone (its writer's handle).
#[derive(Debug)]
pub struct MarkFile {
    file: File,
    path: PathBuf,
}

impl MarkFile {
    /// Opens (creating) the file; a new file is written with `initial` in
    /// both slots and synced, directory included.
    pub fn open(path: &Path, initial: &Mark) -> std::io::Result<MarkFile> {
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mf = MarkFile {
            file,
            path: path.into(),
        };
        if !existed {
            mf.file.write_all_at(&encode(initial), 0)?;
            mf.file.write_all_at(&encode(initial), SLOT)?;
            mf.file.sync_all()?;
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
        }
        Ok(mf)
    }

    /// Records `m` durably (its slot, then `fdatasync`).
    pub fn write(&self, m: &Mark) -> std::io::Result<()> {
        self.file.write_all_at(&encode(m), (m.seq % 2) * SLOT)?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(seq: u64) -> Mark {
        Mark {
            seq,
            serial: seq as u32 + 100,
            chain: base(seq, 7),
        }
    }

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_one_falls_back() {
        let d = tempfile::tempdir().unwrap();
        let p = path(d.path(), "shop.");
        assert!(read(&p).unwrap().is_none());
        let f = MarkFile::open(&p, &m(4)).unwrap();
        assert_eq!(read(&p).unwrap(), Some(m(4)));
        f.write(&m(5)).unwrap();
        f.write(&m(6)).unwrap();
        assert_eq!(read(&p).unwrap(), Some(m(6)));
        // Slot 0 (seq 6) torn: the previous version, one behind, is read.
        let mut b = std::fs::read(&p).unwrap();
        b[30] ^= 0xff;
        std::fs::write(&p, &b).unwrap();
        assert_eq!(read(&p).unwrap(), Some(m(5)));
        // Both torn: an error naming the file, never a guess.
        b[SLOT as usize + 30] ^= 0xff;
        std::fs::write(&p, &b).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("shop..hwm") && e.contains("damaged"), "{e}");
        std::fs::write(&p, b"").unwrap();
        assert!(read(&p).is_err(), "an empty mark file is damaged");
    }

    #[test]
    fn the_chain_depends_on_every_byte_and_position() {
        let a = next(&base(0, 1), 1, b"entry");
        assert_ne!(a, next(&base(0, 1), 2, b"entry"));
        assert_ne!(a, next(&base(0, 1), 1, b"entrz"));
        assert_ne!(a, next(&base(0, 2), 1, b"entry"));
    }
}
