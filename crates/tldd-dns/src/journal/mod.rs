//! Durable zone state: a snapshot of the zone (a file) and its journal
//! (sled).
//!
//! # Layout
//! One sled database at `data_dir/zones.sled`, one tree per zone (named by
//! its origin). Inside a tree, by key prefix:
//! - `m` — meta: the serial of the newest version, the sequence numbers
//!   of the newest and of the oldest kept journal entry;
//! - `p` — the snapshot pointer: generation, serial, the journal sequence
//!   it includes, chunk count (0: the snapshot is a file);
//! - `j` + sequence (u64 BE) — one [`Diff`] per version, in order;
//! - `r` — secondaries only: when the primary was last reached (Unix
//!   seconds, u64 BE), so SOA expire counts across restarts;
//! - `s` + generation (u64 BE) + chunk (u32 BE) — only in stores written
//!   by the previous tldd: the snapshot cut into sled values. Still read;
//!   replaced by a file at the next snapshot.
//!
//! The snapshot itself is `data_dir/snapshots/<zone>.<generation>.snap`
//! ([`snapfile`]): the zone's records (`[owner len][owner][type][ttl]
//! [rdlen][rdata]`…, RRSIGs as records) with a length and CRC-32 trailer.
//!
//! Why not one sled key per owner: sled keeps per-page state in memory for
//! every small object it ever wrote (sled issues #986, #1093); a
//! 1M-delegation zone stored owner by owner cost 1 GiB of resident memory
//! (4 GiB while being written). Why not sled values at all: large values
//! share sled's log with the journal, and the writer's fsync stalled
//! behind a background snapshot (see [`snapfile`]). The file costs no
//! memory, writes in well under a second, and reads at disk speed.
//!
//! # Durability
//! A version is committed by one `apply_batch` (journal entry + meta,
//! atomic in sled) followed by `flush()` (fsync); the writer acknowledges
//! updates only after [`ZoneJournal::commit`] returns. After kill -9 the tree
//! holds the snapshot plus every flushed journal entry, so [`ZoneJournal::load`]
//! rebuilds exactly the last acknowledged version: snapshot, then the
//! journal entries after it, each through [`ZoneState::apply`].
//!
//! # Snapshots
//! Written by [`ZoneJournal::replace`] (first load from the zone file, an
//! AXFR on a secondary; the journal restarts empty) and, in the
//! background from an immutable version (see [`ZoneJournal::commit`] for
//! when). A new generation's file is written, synced and renamed before
//! the pointer moves to it; the old generation is deleted after. A crash
//! at any point leaves the previous pointer and its file intact (files of
//! an unfinished generation are removed at the next start).
//!
//! # Compaction
//! At most `journal_max` journal entries are kept for IXFR, but never one
//! the snapshot does not include yet (restart needs it). IXFR from a
//! serial older than the journal falls back to AXFR.
//!
//! # Restart
//! [`ZoneJournal::load`] feeds the snapshot's records through the zone-file
//! loader's `Builder`, so a stored zone and a loaded one are built by the
//! same code. The signatures of a stored signed zone are not verified
//! again at restart: every version was verified (what its batch re-signed)
//! before it was committed; sled checksums the journal and the snapshot
//! file carries a CRC-32.
//!
//! # Limits
//! Stores written by earlier tldd versions (one key per owner) are not
//! read: the zone file is loaded again. Non-address data stored as
//! occluded glue (only possible via IXFR from a primary) is dropped on
//! reload, as the zone-file loader drops it.
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tldd_zone::load::Builder;
use tldd_zone::Zone;
use tldd_zone::{Diff, ZoneState};

/// Size estimate of one snapshot chunk in stores of the previous layout.
pub const CHUNK_BYTES: usize = 96 << 10;

/// Versions journalled after the snapshot before a new one is written, at
/// least; see [`ZoneJournal::commit`] for the size rule on top.
pub const SNAPSHOT_AFTER: u64 = 1000;

/// Versions after which a snapshot is written whatever their size.
pub const SNAPSHOT_AFTER_MAX: u64 = 100 * SNAPSHOT_AFTER;

/// Pause after each synced MiB of a background snapshot, so the writer's
/// fsync never waits behind much snapshot data.
const SNAPSHOT_CHUNK_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

pub mod entry;
mod error;
pub mod filemark;
mod load;
pub mod salvage;
pub use tldd_store::mark;
pub mod snapfile;

pub use error::StoreError;

/// The process's store.
#[derive(Clone)]
pub struct Journal {
    db: sled::Db,
    /// `data_dir/zones.sled` (for messages).
    db_path: PathBuf,
    /// `data_dir/snapshots`: the snapshot files ([`snapfile`]).
    snap_dir: PathBuf,
    /// `data_dir/marks`: the high-water marks ([`mark`]).
    marks_dir: PathBuf,
}

/// `data_dir/tldd.pid`: the pid of the `tldd serve` that holds the store
/// ([`Journal::record_holder`]), named when a second one is refused.
fn pid_path(dir: &Path) -> PathBuf {
    dir.join("tldd.pid")
}

/// "pid N: COMMAND LINE" of the recorded holder, if it still runs.
fn holder(dir: &Path) -> Option<String> {
    let pid: u32 = std::fs::read_to_string(pid_path(dir))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd: Vec<String> = cmd
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(format!("pid {pid}: {}", cmd.join(" ")))
}

impl Journal {
    /// Records this process as the store's holder (`data_dir/tldd.pid`),
    /// for the message a second instance gets.
    pub fn record_holder(dir: &Path) -> std::io::Result<()> {
        std::fs::write(pid_path(dir), format!("{}\n", std::process::id()))
    }

    /// Opens (creating) `dir/zones.sled`. A database sled cannot open, or
    /// panics on (a damaged file), is a [`StoreError::Open`].
    pub fn open(dir: &Path) -> Result<Journal, StoreError> {
        let path = dir.join("zones.sled");
        let opened = tldd_store::guard::catch_quietly(|| {
            sled::Config::new()
                .path(&path)
                .mode(sled::Mode::HighThroughput)
                // The zone lives in memory already; sled's page cache only
                // needs to hold the write path (its default is 1 GiB).
                .cache_capacity(16 << 20)
                .open()
        });
        let db = match opened {
            Ok(Ok(db)) => db,
            // sled wraps the flock error in one of its own (kind Other,
            // "could not acquire lock ..."), older versions passed it on.
            Ok(Err(sled::Error::Io(e)))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.to_string().contains("could not acquire lock") =>
            {
                return Err(StoreError::Locked {
                    path,
                    holder: holder(dir),
                })
            }
            Ok(Err(e)) => {
                return Err(StoreError::Open {
                    path,
                    detail: e.to_string(),
                })
            }
            Err(panic) => {
                return Err(StoreError::Open {
                    path,
                    detail: format!("the database is damaged (sled: {panic})"),
                })
            }
        };
        let snap_dir = dir.join("snapshots");
        let marks_dir = dir.join("marks");
        for d in [&snap_dir, &marks_dir] {
            std::fs::create_dir_all(d).map_err(|e| StoreError::Dir {
                path: d.clone(),
                detail: format!("cannot create: {e}"),
            })?;
        }
        Ok(Journal {
            db,
            db_path: path,
            snap_dir,
            marks_dir,
        })
    }

    /// The zones the database holds a tree for (origins as text).
    pub fn zone_names(&self) -> Vec<String> {
        self.db
            .tree_names()
            .into_iter()
            .filter(|n| n.as_ref() != b"__sled__default")
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect()
    }

    /// The tree of one zone, and its mark as last written.
    pub fn zone(&self, origin_text: &str, journal_max: u64) -> Result<ZoneJournal, StoreError> {
        let read_err = |detail: String| StoreError::Read {
            path: self.db_path.clone(),
            zone: origin_text.into(),
            detail,
        };
        let opened = tldd_store::guard::catch_quietly(|| -> sled::Result<_> {
            let tree = self.db.open_tree(origin_text.as_bytes())?;
            let meta = tree.get(b"m")?.and_then(|v| Meta::decode(&v));
            let snap = tree.get(b"p")?.and_then(|v| Snap::decode(&v));
            Ok((tree, meta, snap))
        });
        let (tree, meta, snap) = match opened {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => return Err(read_err(e.to_string())),
            Err(panic) => return Err(read_err(format!("the database is damaged (sled: {panic})"))),
        };
        let meta = meta.unwrap_or_default();
        let stem = origin_text.replace('/', "_");
        let mark_path = mark::path(&self.marks_dir, &stem);
        let mark_seen = mark::read(&mark_path)?;
        let bytes = match snap {
            Some(s) if s.chunks == 0 => {
                std::fs::metadata(snapfile::path(&self.snap_dir, &stem, s.generation))
                    .map_or(0, |m| m.len())
            }
            Some(s) => s.chunks as u64 * CHUNK_BYTES as u64,
            None => 0,
        };
        Ok(ZoneJournal {
            db: self.db.clone(),
            db_path: self.db_path.clone(),
            tree,
            snap_dir: self.snap_dir.clone(),
            origin_text: origin_text.into(),
            stem,
            mark_path,
            mark_seen,
            mark: None,
            journal_max: journal_max.max(1),
            snapshot_after: SNAPSHOT_AFTER,
            size_rule: true,
            journal_bytes: 0,
            meta,
            snap: Arc::new(SnapState {
                seq: AtomicU64::new(snap.map_or(0, |s| s.seq)),
                bytes: AtomicU64::new(bytes),
                exists: AtomicBool::new(snap.is_some()),
                running: AtomicBool::new(false),
            }),
        })
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Meta {
    serial: u32,
    /// Sequence of the newest journal entry (0: none yet).
    last: u64,
    /// Sequence of the oldest journal entry kept (last + 1: none).
    first: u64,
    /// Entries from this sequence on carry a version byte
    /// ([`entry::Format::Tagged`]); older ones were written before it
    /// existed. 0 for a journal begun by this build.
    tagged_from: u64,
    /// The checksum chain ([`mark`]); `None` in a meta written before
    /// marks existed.
    chain: Option<ChainState>,
}

/// Where the journal's checksum chain stands.
#[derive(Clone, Copy, Debug)]
struct ChainState {
    /// `chain(last)`.
    at_last: mark::Chain,
    /// The chain starts at this sequence with `base` (a replace, or the
    /// first start of this build on an older store)...
    from: u64,
    base: mark::Chain,
}

/// Meta format tags: 1 was the per-owner layout; 2 had no `tagged_from`
/// (all its entries untagged); 3 had no chain; 4 is this build's.
const META_V2: u8 = 2;
const META_V3: u8 = 3;
const META_V4: u8 = 4;

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(101);
        b.push(if self.chain.is_some() {
            META_V4
        } else {
            META_V3
        });
        b.extend_from_slice(&self.serial.to_be_bytes());
        b.extend_from_slice(&self.last.to_be_bytes());
        b.extend_from_slice(&self.first.to_be_bytes());
        b.extend_from_slice(&self.tagged_from.to_be_bytes());
        if let Some(c) = &self.chain {
            b.extend_from_slice(&c.at_last);
            b.extend_from_slice(&c.from.to_be_bytes());
            b.extend_from_slice(&c.base);
        }
        b
    }

    fn decode(b: &[u8]) -> Option<Meta> {
        let (tag, len) = (*b.first()?, b.len());
        if !matches!((tag, len), (META_V2, 21) | (META_V3, 29) | (META_V4, 101)) {
            return None;
        }
        let last = u64::from_be_bytes(b[5..13].try_into().ok()?);
        Some(Meta {
            serial: u32::from_be_bytes(b[1..5].try_into().ok()?),
            last,
            first: u64::from_be_bytes(b[13..21].try_into().ok()?),
            // A format-2 journal: what is there is untagged; what this
            // build appends (from last + 1: `last` never goes back) is not.
            tagged_from: if tag == META_V2 {
                last + 1
            } else {
                u64::from_be_bytes(b[21..29].try_into().ok()?)
            },
            chain: if tag == META_V4 {
                Some(ChainState {
                    at_last: b[29..61].try_into().ok()?,
                    from: u64::from_be_bytes(b[61..69].try_into().ok()?),
                    base: b[69..101].try_into().ok()?,
                })
            } else {
                None
            },
        })
    }

    /// How entry `seq` is laid out.
    fn format(&self, seq: u64) -> entry::Format {
        if seq >= self.tagged_from {
            entry::Format::Tagged
        } else {
            entry::Format::Untagged
        }
    }
}

/// The snapshot pointer (`p`).
#[derive(Clone, Copy, Debug)]
struct Snap {
    generation: u64,
    serial: u32,
    /// Journal entries up to this sequence are in the snapshot.
    seq: u64,
    chunks: u32,
    /// `chain(seq)`; `None` in a pointer written before marks existed.
    chain: Option<mark::Chain>,
}

impl Snap {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(56);
        b.extend_from_slice(&self.generation.to_be_bytes());
        b.extend_from_slice(&self.serial.to_be_bytes());
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.chunks.to_be_bytes());
        if let Some(c) = &self.chain {
            b.extend_from_slice(c);
        }
        b
    }

    fn decode(b: &[u8]) -> Option<Snap> {
        if b.len() != 24 && b.len() != 56 {
            return None;
        }
        Some(Snap {
            generation: u64::from_be_bytes(b[0..8].try_into().ok()?),
            serial: u32::from_be_bytes(b[8..12].try_into().ok()?),
            seq: u64::from_be_bytes(b[12..20].try_into().ok()?),
            chunks: u32::from_be_bytes(b[20..24].try_into().ok()?),
            chain: b.get(24..56).and_then(|c| c.try_into().ok()),
        })
    }
}

/// Snapshot state shared by the writer and a background snapshot.
struct SnapState {
    /// The journal sequence the current snapshot includes.
    seq: AtomicU64,
    /// Its size in bytes.
    bytes: AtomicU64,
    exists: AtomicBool,
    /// A background snapshot is being written.
    running: AtomicBool,
}

fn chunk_key(generation: u64, chunk: u32) -> [u8; 13] {
    let mut k = [0u8; 13];
    k[0] = b's';
    k[1..9].copy_from_slice(&generation.to_be_bytes());
    k[9..].copy_from_slice(&chunk.to_be_bytes());
    k
}

fn journal_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'j';
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Feeds one chunk's records to the builder.
fn decode_chunk(b: &mut Builder, v: &[u8]) -> anyhow::Result<()> {
    let mut p = 0;
    while p < v.len() {
        let ol = v[p] as usize;
        let owner = v
            .get(p + 1..p + 1 + ol)
            .context("truncated snapshot record")?;
        p += 1 + ol;
        let f = v.get(p..p + 8).context("truncated snapshot record")?;
        let t = u16::from_be_bytes([f[0], f[1]]);
        let ttl = u32::from_be_bytes([f[2], f[3], f[4], f[5]]);
        let l = u16::from_be_bytes([f[6], f[7]]) as usize;
        let rd = v
            .get(p + 8..p + 8 + l)
            .context("truncated snapshot record")?;
        b.add(0, owner, t, 1, ttl, rd);
        p += 8 + l;
    }
    Ok(())
}

/// One zone's durable state. Written by the zone's writer thread (and its
/// background snapshot); read (journal) by transfer sessions through clones.
#[derive(Clone)]
pub struct ZoneJournal {
    db: sled::Db,
    db_path: PathBuf,
    tree: sled::Tree,
    snap_dir: PathBuf,
    origin_text: String,
    /// The zone's snapshot file names start with this (its origin).
    stem: String,
    /// `data_dir/marks/<zone>.hwm`.
    mark_path: PathBuf,
    /// The mark as it was when the store was opened (checked by `load`).
    mark_seen: Option<mark::Mark>,
    /// The writer's handle, opened at its first write.
    mark: Option<Arc<mark::MarkFile>>,
    journal_max: u64,
    /// Versions after the snapshot before a new one ([`SNAPSHOT_AFTER`]).
    snapshot_after: u64,
    /// Also wait until the journal since the snapshot is half its size.
    size_rule: bool,
    /// Journal bytes written since the last snapshot started (this process).
    journal_bytes: u64,
    meta: Meta,
    snap: Arc<SnapState>,
}

impl ZoneJournal {
    /// Snapshots after exactly `versions` versions, whatever their size
    /// (tests use a small count).
    pub fn set_snapshot_after(&mut self, versions: u64) {
        self.snapshot_after = versions.max(1);
        self.size_rule = false;
    }

    /// Writes `zone` as a new snapshot generation, then points to it in
    /// one atomic batch with `with` (more changes that must land together
    /// with the pointer); `seq`: the journal sequence it includes.
    /// `paced`: a background snapshot, written a chunk at a time with
    /// pauses so it does not hold up the writer's commits.
    fn write_snapshot(
        &self,
        zone: &Zone,
        seq: u64,
        chain: mark::Chain,
        mut with: sled::Batch,
        paced: bool,
    ) -> anyhow::Result<()> {
        let old = self.tree.get(b"p")?.and_then(|v| Snap::decode(&v));
        let generation = old.map_or(1, |s| s.generation + 1);
        let path = snapfile::path(&self.snap_dir, &self.stem, generation);
        let bytes = snapfile::write(&path, zone, paced, SNAPSHOT_CHUNK_PAUSE)?;
        let snap = Snap {
            generation,
            serial: zone.serial(),
            seq,
            chunks: 0, // in a file
            chain: Some(chain),
        };
        with.insert(b"p", snap.encode());
        self.tree.apply_batch(with)?;
        self.db.flush()?;
        self.snap.seq.store(seq, Ordering::Release);
        self.snap.bytes.store(bytes, Ordering::Release);
        self.snap.exists.store(true, Ordering::Release);
        match old {
            Some(old) if old.chunks == 0 => {
                let _ = std::fs::remove_file(snapfile::path(
                    &self.snap_dir,
                    &self.stem,
                    old.generation,
                ));
            }
            Some(old) => {
                // Chunks written by an earlier tldd.
                let mut batch = sled::Batch::default();
                for c in 0..old.chunks {
                    batch.remove(&chunk_key(old.generation, c));
                }
                self.tree.apply_batch(batch)?;
            }
            None => {}
        }
        Ok(())
    }

    /// Replaces the stored zone with `zone` and empties the journal.
    pub fn replace(&mut self, zone: &Zone) -> anyhow::Result<()> {
        // One snapshot writer at a time (a background one may be running).
        while self.snap.running.swap(true, Ordering::AcqRel) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let result = self.replace_inner(zone);
        self.snap.running.store(false, Ordering::Release);
        result
    }

    fn replace_inner(&mut self, zone: &Zone) -> anyhow::Result<()> {
        let mut meta = self.meta;
        meta.serial = zone.serial();
        // A sequence of its own, so the mark moves past the old journal.
        meta.last += 1;
        meta.first = meta.last + 1;
        let base = mark::base(meta.last, meta.serial);
        meta.chain = Some(ChainState {
            at_last: base,
            from: meta.last,
            base,
        });
        let mut batch = sled::Batch::default();
        // The journal, and any per-owner records of the old layout.
        for prefix in [&b"j"[..], b"n"] {
            for k in self.tree.scan_prefix(prefix).keys() {
                batch.remove(k?);
            }
        }
        batch.insert(b"m", meta.encode());
        self.write_snapshot(zone, meta.last, base, batch, false)?;
        self.meta = meta;
        self.journal_bytes = 0;
        self.mark_or_log();
        Ok(())
    }

    /// Moves the mark to the version just made durable. A failure is
    /// logged, not returned: the version *is* in the journal (a caller
    /// told otherwise would build the next version on the one before it,
    /// and the journal would no longer replay); a mark left behind only
    /// weakens the start-up check (the journal may be ahead of its mark)
    /// until the next write succeeds.
    fn mark_or_log(&mut self) {
        if let Err(e) = self.write_mark() {
            tracing::error!(zone = %self.origin_text, mark = %self.mark_path.display(), "cannot write the high-water mark (the version is durable in the journal; the start-up check cannot vouch for it until the mark is written again): {e}");
        }
    }

    /// Makes the version `zone` (= previous + `diff`) durable: the journal
    /// entry and the meta in one atomic batch, then fsync. Starts a
    /// background snapshot when at least [`SNAPSHOT_AFTER`] versions have
    /// piled up and their diffs add up to half the snapshot (so replaying
    /// them at restart costs less than loading the snapshot; a small
    /// change stream on a large zone does not rewrite it every few
    /// seconds), or after [`SNAPSHOT_AFTER_MAX`] versions in any case.
    pub fn commit(&mut self, diff: &Diff, zone: &Zone) -> anyhow::Result<()> {
        let mut batch = sled::Batch::default();
        let mut meta = self.meta;
        meta.last += 1;
        if meta.first == 0 {
            meta.first = meta.last;
        }
        meta.serial = diff.to;
        let bytes = entry::encode(diff);
        let prev = meta.chain.unwrap_or_else(|| {
            let base = mark::base(self.meta.last, self.meta.serial);
            ChainState {
                at_last: base,
                from: self.meta.last,
                base,
            }
        });
        meta.chain = Some(ChainState {
            at_last: mark::next(&prev.at_last, meta.last, &bytes),
            ..prev
        });
        self.journal_bytes += bytes.len() as u64;
        batch.insert(&journal_key(meta.last), bytes);
        // Keep journal_max entries for IXFR, and all the snapshot lacks.
        let snap_seq = self.snap.seq.load(Ordering::Acquire);
        while meta.last - meta.first + 1 > self.journal_max && meta.first <= snap_seq {
            batch.remove(&journal_key(meta.first));
            meta.first += 1;
        }
        batch.insert(b"m", meta.encode());
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        self.meta = meta;
        // Outside sled, after its fsync and before the acknowledgement.
        self.mark_or_log();
        let since = meta.last - snap_seq;
        let big_enough = !self.size_rule
            || self.journal_bytes.saturating_mul(2) >= self.snap.bytes.load(Ordering::Acquire)
            || since >= SNAPSHOT_AFTER_MAX;
        if since >= self.snapshot_after
            && big_enough
            && !self.snap.running.swap(true, Ordering::AcqRel)
        {
            self.journal_bytes = 0;
            let (store, zone, seq) = (self.clone(), zone.clone(), meta.last);
            let chain = meta.chain.map_or([0; 32], |c| c.at_last);
            let spawned = std::thread::Builder::new()
                .name("snapshot".into())
                .spawn(move || {
                    let t = std::time::Instant::now();
                    // Not niced: a descheduled snapshot thread holding a
                    // reservation in sled's log buffer stalls every flush
                    // behind it, the writer's commits included (measured:
                    // 60-100 ms stalls with nice 10 on a busy 2-core box).
                    match store.write_snapshot(&zone, seq, chain, sled::Batch::default(), true) {
                        Ok(()) => tracing::info!(
                            serial = zone.serial(),
                            seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
                            "zone snapshot written"
                        ),
                        Err(e) => tracing::error!(
                            "zone snapshot failed (the journal keeps everything): {e:#}"
                        ),
                    }
                    store.snap.running.store(false, Ordering::Release);
                });
            if spawned.is_err() {
                self.snap.running.store(false, Ordering::Release);
            }
        }
        Ok(())
    }

    /// The diffs leading from serial `from` to serial `to`, if the newest
    /// `journal_max` journal entries hold an unbroken chain (older entries
    /// kept only for restart are not offered: IXFR falls back to AXFR as
    /// `journal_max` promises). Walks from the newest entry back, so an
    /// IXFR from a recent serial reads only the entries it sends.
    pub fn journal(&self, from: u32, to: u32) -> anyhow::Result<Option<Vec<Diff>>> {
        let mut chain: Vec<Diff> = Vec::new();
        let newest = self.tree.scan_prefix(b"j").rev();
        for kv in newest.take(self.journal_max.try_into().unwrap_or(usize::MAX)) {
            let (k, v) = kv?;
            let Some(seq) = k
                .get(1..9)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes)
            else {
                continue;
            };
            let format = self.meta.format(seq);
            let Some((f, t)) = entry::peek_serials(&v, format) else {
                continue;
            };
            let expected = chain.last().map_or(to, |d| d.from);
            if t != expected {
                if chain.is_empty() {
                    continue;
                }
                return Ok(None);
            }
            chain.push(entry::decode(seq, &v, format)?);
            if f == from {
                chain.reverse();
                return Ok(Some(chain));
            }
        }
        Ok(None)
    }

    /// True when the store holds a complete zone.
    pub fn is_complete(&self) -> bool {
        self.snap.exists.load(Ordering::Acquire)
    }

    /// The zone file's mark when its content last became a version
    /// ([`filemark`]).
    pub fn file_mark(&self) -> Option<filemark::FileMark> {
        filemark::read(&self.mark_path.with_extension("file"))
    }

    /// Records the zone file's mark ([`filemark`]).
    pub fn set_file_mark(&self, mark: &filemark::FileMark) -> std::io::Result<()> {
        filemark::write(&self.mark_path.with_extension("file"), mark)
    }

    /// When a secondary last reached its primary (Unix seconds), as
    /// recorded by [`ZoneJournal::set_last_refresh`]: its SOA expire clock
    /// keeps running across restarts.
    pub fn last_refresh(&self) -> Option<u64> {
        let v = self.tree.get(b"r").ok()??;
        Some(u64::from_be_bytes(v.as_ref().try_into().ok()?))
    }

    /// Records (durably) that the primary was reached at `unix` seconds.
    pub fn set_last_refresh(&self, unix: u64) -> anyhow::Result<()> {
        self.tree.insert(b"r", &unix.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Journal entries kept (for metrics).
    pub fn journal_len(&self) -> u64 {
        if self.meta.first == 0 {
            0
        } else {
            (self.meta.last + 1).saturating_sub(self.meta.first)
        }
    }

    /// Bytes the store occupies on disk (all zones), for metrics.
    pub fn disk_size(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0) + snapfile::disk_size(&self.snap_dir)
    }
}

/// Returns freed heap memory to the OS. glibc keeps the freed pages of
/// every arena: writing a 1M-delegation zone to the store left 3 GiB freed
/// but resident (sled frees its write buffers in the background, after
/// the write returns), so the server trims after loading and then
/// periodically ([`trim_periodically`]).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Starts a thread that trims the heap every `every` (a few ms of work on
/// a large heap; the query path does not allocate, so it is not slowed).
pub fn trim_periodically(every: std::time::Duration) {
    let _ = std::thread::Builder::new()
        .name("heap-trim".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            release_freed_memory();
        });
}

#[cfg(test)]
mod tests;
