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
pub mod snapfile;

/// The process's store.
#[derive(Clone)]
pub struct Journal {
    db: sled::Db,
    /// `data_dir/snapshots`: the snapshot files ([`snapfile`]).
    snap_dir: PathBuf,
}

impl Journal {
    /// Opens (creating) `dir/zones.sled`.
    pub fn open(dir: &Path) -> anyhow::Result<Journal> {
        let path = dir.join("zones.sled");
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            // The zone lives in memory already; sled's page cache only
            // needs to hold the write path (its default is 1 GiB).
            .cache_capacity(16 << 20)
            .open()
            .with_context(|| format!("opening the zone store {}", path.display()))?;
        let snap_dir = dir.join("snapshots");
        std::fs::create_dir_all(&snap_dir)
            .with_context(|| format!("creating {}", snap_dir.display()))?;
        Ok(Journal { db, snap_dir })
    }

    /// The tree of one zone.
    pub fn zone(&self, origin_text: &str, journal_max: u64) -> anyhow::Result<ZoneJournal> {
        let tree = self
            .db
            .open_tree(origin_text.as_bytes())
            .with_context(|| format!("zone store tree {origin_text}"))?;
        let meta = tree
            .get(b"m")?
            .and_then(|v| Meta::decode(&v))
            .unwrap_or_default();
        let snap = tree.get(b"p")?.and_then(|v| Snap::decode(&v));
        let stem = origin_text.replace('/', "_");
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
            tree,
            snap_dir: self.snap_dir.clone(),
            stem,
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
}

/// Meta format tags: 1 was the per-owner layout; 2 had no `tagged_from`
/// (all its entries untagged); 3 is this build's.
const META_V2: u8 = 2;
const META_V3: u8 = 3;

impl Meta {
    fn encode(&self) -> [u8; 29] {
        let mut b = [0u8; 29];
        b[0] = META_V3;
        b[1..5].copy_from_slice(&self.serial.to_be_bytes());
        b[5..13].copy_from_slice(&self.last.to_be_bytes());
        b[13..21].copy_from_slice(&self.first.to_be_bytes());
        b[21..29].copy_from_slice(&self.tagged_from.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Meta> {
        let (tag, len) = (*b.first()?, b.len());
        if !matches!((tag, len), (META_V2, 21) | (META_V3, 29)) {
            return None;
        }
        let last = u64::from_be_bytes(b[5..13].try_into().ok()?);
        Some(Meta {
            serial: u32::from_be_bytes(b[1..5].try_into().ok()?),
            last,
            first: u64::from_be_bytes(b[13..21].try_into().ok()?),
            // A format-2 journal: what is there is untagged; what this
            // build appends (from last + 1: `last` never goes back) is not.
            tagged_from: if tag == META_V3 {
                u64::from_be_bytes(b[21..29].try_into().ok()?)
            } else {
                last + 1
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
}

impl Snap {
    fn encode(&self) -> [u8; 24] {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&self.generation.to_be_bytes());
        b[8..12].copy_from_slice(&self.serial.to_be_bytes());
        b[12..20].copy_from_slice(&self.seq.to_be_bytes());
        b[20..24].copy_from_slice(&self.chunks.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Snap> {
        if b.len() != 24 {
            return None;
        }
        Some(Snap {
            generation: u64::from_be_bytes(b[0..8].try_into().ok()?),
            serial: u32::from_be_bytes(b[8..12].try_into().ok()?),
            seq: u64::from_be_bytes(b[12..20].try_into().ok()?),
            chunks: u32::from_be_bytes(b[20..24].try_into().ok()?),
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
    tree: sled::Tree,
    snap_dir: PathBuf,
    /// The zone's snapshot file names start with this (its origin).
    stem: String,
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

    /// The stored zone (snapshot + journal replayed), if there is one.
    pub fn load(&self, origin: &[u8]) -> anyhow::Result<Option<Zone>> {
        let Some(meta) = self.tree.get(b"m")?.and_then(|v| Meta::decode(&v)) else {
            if self.tree.get(b"m")?.is_some() {
                tracing::warn!("the store was written by an older tldd (per-owner layout); loading the zone file instead");
            }
            return Ok(None);
        };
        let Some(snap) = self.tree.get(b"p")?.and_then(|v| Snap::decode(&v)) else {
            tracing::warn!(
                "the store has no complete snapshot (interrupted first write); ignoring it"
            );
            return Ok(None);
        };
        let mut b = Builder::new(origin);
        if snap.chunks == 0 {
            let path = snapfile::path(&self.snap_dir, &self.stem, snap.generation);
            let records = snapfile::read(&path)?;
            // A stored record is about 40 bytes (owner, header, RDATA).
            b.reserve(records.len() / 40, records.len());
            decode_chunk(&mut b, &records)?;
        } else {
            // A snapshot kept in sled chunks by an earlier tldd.
            let bytes = (snap.chunks as usize)
                .saturating_mul(CHUNK_BYTES)
                .min(4 << 30);
            b.reserve(bytes / 40, bytes);
            for c in 0..snap.chunks {
                let v = self
                    .tree
                    .get(chunk_key(snap.generation, c))?
                    .with_context(|| format!("snapshot chunk {c} missing"))?;
                decode_chunk(&mut b, &v)?;
            }
        }
        let zone = b
            .build()
            .map_err(|e| anyhow::anyhow!("stored zone: {e}"))?
            .zone;
        anyhow::ensure!(
            zone.serial() == snap.serial,
            "stored snapshot serial {} does not match its pointer {}",
            zone.serial(),
            snap.serial
        );
        // Snapshots of generations that never became current, and chunks
        // no longer pointed to.
        snapfile::remove_others(
            &self.snap_dir,
            &self.stem,
            (snap.chunks == 0).then_some(snap.generation),
        )?;
        for k in self.tree.scan_prefix(b"s").keys() {
            let k = k?;
            if snap.chunks == 0 || k.get(1..9) != Some(&snap.generation.to_be_bytes()[..]) {
                self.tree.remove(k)?;
            }
        }
        let mut state = ZoneState::new(zone);
        for seq in snap.seq + 1..=meta.last {
            let v = self
                .tree
                .get(journal_key(seq))?
                .with_context(|| format!("journal entry {seq} after the snapshot missing"))?;
            let d = entry::decode(seq, &v, meta.format(seq))?;
            state
                .apply(&d)
                .map_err(|e| anyhow::anyhow!("replaying journal entry {seq}: {e}"))?;
        }
        anyhow::ensure!(
            state.serial() == meta.serial,
            "stored zone serial {} does not match its meta {}",
            state.serial(),
            meta.serial
        );
        Ok(Some(state.zone))
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
        };
        with.insert(b"p", &snap.encode());
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
        meta.first = meta.last + 1;
        let mut batch = sled::Batch::default();
        // The journal, and any per-owner records of the old layout.
        for prefix in [&b"j"[..], b"n"] {
            for k in self.tree.scan_prefix(prefix).keys() {
                batch.remove(k?);
            }
        }
        batch.insert(b"m", &meta.encode());
        self.write_snapshot(zone, meta.last, batch, false)?;
        self.meta = meta;
        self.journal_bytes = 0;
        Ok(())
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
        self.journal_bytes += bytes.len() as u64;
        batch.insert(&journal_key(meta.last), bytes);
        // Keep journal_max entries for IXFR, and all the snapshot lacks.
        let snap_seq = self.snap.seq.load(Ordering::Acquire);
        while meta.last - meta.first + 1 > self.journal_max && meta.first <= snap_seq {
            batch.remove(&journal_key(meta.first));
            meta.first += 1;
        }
        batch.insert(b"m", &meta.encode());
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        self.meta = meta;
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
            let spawned = std::thread::Builder::new()
                .name("snapshot".into())
                .spawn(move || {
                    let t = std::time::Instant::now();
                    // Not niced: a descheduled snapshot thread holding a
                    // reservation in sled's log buffer stalls every flush
                    // behind it, the writer's commits included (measured:
                    // 60-100 ms stalls with nice 10 on a busy 2-core box).
                    match store.write_snapshot(&zone, seq, sled::Batch::default(), true) {
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
mod tests {
    use super::*;
    use tldd_zone::rdata::{NS, SOA};
    use tldd_zone::Rec;

    fn w(s: &str) -> Box<[u8]> {
        let mut v = Vec::new();
        tldd_zone::name::from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
        v.into()
    }

    fn soa(serial: u32) -> Vec<u8> {
        let mut v = w("ns.shop.").to_vec();
        v.extend_from_slice(&w("h.shop."));
        for x in [serial, 1, 2, 3, 4] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
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

    fn zone(delegations: usize) -> Zone {
        let mut b = Builder::new(&w("shop."));
        b.add(1, &w("shop."), SOA, 1, 3600, &soa(1));
        b.add(2, &w("shop."), NS, 1, 3600, &w("ns.shop."));
        b.add(3, &w("ns.shop."), 1, 1, 3600, &[1, 2, 3, 4]);
        for i in 0..delegations {
            b.add(
                4,
                &w(&format!("d{i}.shop.")),
                NS,
                1,
                3600,
                &w("ns.example."),
            );
        }
        b.build().unwrap().zone
    }

    /// Version `from + 1`: delegation `n{from}` added.
    fn add_one(from: u32) -> Diff {
        Diff {
            from,
            to: from + 1,
            removed: vec![rec("shop.", SOA, &soa(from))],
            added: vec![
                rec("shop.", SOA, &soa(from + 1)),
                rec(&format!("n{from}.shop."), NS, &w("ns.example.")),
            ],
        }
    }

    fn wait_for_snapshot(zs: &ZoneJournal) {
        while zs.snap.running.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn snapshot_plus_journal_rebuilds_every_version() {
        let dir = tempfile::tempdir().unwrap();
        let origin = w("shop.");
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 5).unwrap();
        zs.set_snapshot_after(7);
        assert!(zs.load(&origin).unwrap().is_none(), "empty store");
        // Big enough for several chunks.
        let mut state = ZoneState::new(zone(40_000));
        zs.replace(&state.zone).unwrap();
        assert!(zs.is_complete());
        for v in 1..=30u32 {
            let d = add_one(v);
            state.apply(&d).unwrap();
            zs.commit(&d, &state.zone).unwrap();
            wait_for_snapshot(&zs);
            // What a restart would serve is exactly the last version.
            let again = store
                .zone("shop.", 5)
                .unwrap()
                .load(&origin)
                .unwrap()
                .unwrap();
            assert_eq!(again.serial(), v + 1);
            assert_eq!(again.cuts.len(), 40_000 + v as usize);
            assert!(again.cuts.get(&w(&format!("n{v}.shop."))).is_some());
        }
        // The journal is trimmed to journal_max (plus what the snapshot
        // lacks) and still chains for IXFR.
        assert!(zs.journal_len() <= 5 + 7, "{}", zs.journal_len());
        let chain = zs.journal(29, 31).unwrap().unwrap();
        assert_eq!(chain.len(), 2);
        // One snapshot generation's file only, and no chunks in sled.
        let files = std::fs::read_dir(dir.path().join("snapshots"))
            .unwrap()
            .count();
        assert_eq!(files, 1);
        assert_eq!(zs.tree.scan_prefix(b"s").count(), 0);
    }

    #[test]
    fn small_diffs_on_a_big_zone_wait_for_the_size_rule() {
        let dir = tempfile::tempdir().unwrap();
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 1000).unwrap();
        zs.snapshot_after = 3; // the size rule stays on
        let mut state = ZoneState::new(zone(300));
        zs.replace(&state.zone).unwrap();
        let first = zs.snap.seq.load(Ordering::Acquire);
        let snap_bytes = zs.snap.bytes.load(Ordering::Acquire);
        let mut journal_bytes = 0;
        for v in 1..=1000u32 {
            let d = add_one(v);
            journal_bytes += entry::encode(&d).len() as u64;
            state.apply(&d).unwrap();
            zs.commit(&d, &state.zone).unwrap();
            wait_for_snapshot(&zs);
            if zs.snap.seq.load(Ordering::Acquire) != first {
                assert!(v >= 3);
                assert!(
                    journal_bytes * 2 >= snap_bytes,
                    "{journal_bytes} vs {snap_bytes}"
                );
                assert!(
                    v > 3,
                    "a snapshot after 3 tiny versions of a 300-delegation zone"
                );
                return;
            }
        }
        panic!("no snapshot after 1000 versions");
    }

    #[test]
    fn a_half_written_generation_is_ignored_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let origin = w("shop.");
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 10).unwrap();
        let z = zone(100);
        zs.replace(&z).unwrap();
        // A crash while the next generation was being written.
        zs.tree.insert(chunk_key(99, 0), &b"garbage"[..]).unwrap();
        let tmp = dir.path().join("snapshots/shop..99.snap.tmp");
        std::fs::write(&tmp, b"half").unwrap();
        let again = zs.load(&origin).unwrap().unwrap();
        assert_eq!(again.cuts.len(), 100);
        assert!(zs.tree.get(chunk_key(99, 0)).unwrap().is_none());
        assert!(!tmp.exists());
    }

    #[test]
    fn a_damaged_snapshot_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 10).unwrap();
        zs.replace(&zone(100)).unwrap();
        let path = dir.path().join("snapshots/shop..1.snap");
        let mut v = std::fs::read(&path).unwrap();
        v[40] ^= 1;
        std::fs::write(&path, &v).unwrap();
        let Err(e) = zs.load(&w("shop.")) else {
            panic!("a damaged snapshot loaded");
        };
        assert!(format!("{e:#}").contains("damaged snapshot file"), "{e:#}");
    }

    #[test]
    fn snapshots_in_sled_chunks_from_earlier_versions_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = Journal::open(dir.path()).unwrap();
        let mut zs = store.zone("shop.", 10).unwrap();
        let mut state = ZoneState::new(zone(100));
        zs.replace(&state.zone).unwrap();
        // Rewrite generation 1 as an earlier tldd stored it: one chunk.
        let path = dir.path().join("snapshots/shop..1.snap");
        let records = snapfile::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        zs.tree.insert(chunk_key(1, 0), records).unwrap();
        let mut p = Snap::decode(&zs.tree.get(b"p").unwrap().unwrap()).unwrap();
        p.chunks = 1;
        zs.tree.insert(b"p", &p.encode()).unwrap();
        let d = add_one(1);
        state.apply(&d).unwrap();
        zs.commit(&d, &state.zone).unwrap();
        let again = zs.load(&w("shop.")).unwrap().unwrap();
        assert_eq!(again.cuts.len(), 101);
        // The next snapshot is a file and the chunks go.
        zs.replace(&state.zone).unwrap();
        assert_eq!(zs.tree.scan_prefix(b"s").count(), 0);
        assert_eq!(zs.load(&w("shop.")).unwrap().unwrap().cuts.len(), 101);
    }

    #[test]
    fn a_truncated_chunk_is_an_error_not_a_panic() {
        let mut b = Builder::new(&w("shop."));
        assert!(decode_chunk(&mut b, &[5, 1, 2]).is_err());
        assert!(decode_chunk(&mut b, &[0, 0, 1, 0, 0, 0, 0, 0, 9]).is_err());
    }
}
