//! Durable zone state in sled: the current zone and its journal.
//!
//! # Layout
//! One sled database at `data_dir/zones.sled`, one tree per zone (named by
//! its origin). Inside a tree, by key prefix:
//! - `m` — meta: state (0 = being written, 1 = complete), the serial, the
//!   sequence number of the newest journal entry, the oldest kept;
//! - `n` + owner (lower-case wire) — every record at that owner
//!   (`[type][ttl][rdlen][rdata]`…, RRSIGs as records), i.e. the current
//!   zone, owner by owner;
//! - `j` + sequence (u64 big-endian) — one [`Diff`] per version, in order.
//!
//! # Durability
//! A version is committed by one `apply_batch` on the zone's tree (sled
//! makes a batch atomic: the changed owners, the journal entry and the meta
//! land together or not at all) followed by `flush()` (fsync). The writer
//! acknowledges updates only after `commit` returns. After kill -9 the tree
//! holds exactly the last flushed version.
//!
//! A full snapshot (first load from the zone file, or an AXFR on a
//! secondary) is written in chunks with the meta marked "being written"
//! first and "complete" last; a snapshot interrupted by a crash is ignored
//! at the next start (the zone file is loaded, or the secondary transfers
//! again).
//!
//! # Compaction
//! At most `journal_max` journal entries are kept; older ones are removed
//! in the same batch that adds a new one. IXFR from a serial older than the
//! journal falls back to AXFR.
//!
//! # Restart
//! [`ZoneStore::load`] feeds the stored records through the zone-file
//! loader's `Builder`, so a stored zone and a loaded one are built by the
//! same code. The signatures of a stored signed zone are not verified
//! again at restart: every version was verified (what its batch re-signed)
//! before it was committed, and sled checksums what it reads back. Known limit: non-address data stored as occluded glue (only
//! possible via IXFR from a primary) is dropped on reload, as the zone-file
//! loader drops it.
use crate::update::records::{for_each_record, rrsets_at};
use crate::update::Diff;
use crate::zone::load::Builder;
use crate::zone::Zone;
use anyhow::Context;
use std::path::Path;

/// The process's store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
}

impl Store {
    /// Opens (creating) `dir/zones.sled`.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        let path = dir.join("zones.sled");
        let db = sled::Config::new()
            .path(&path)
            .mode(sled::Mode::HighThroughput)
            // The zone lives in memory already; sled's page cache only
            // needs to hold the write path (its default is 1 GiB).
            .cache_capacity(64 << 20)
            .open()
            .with_context(|| format!("opening the zone store {}", path.display()))?;
        Ok(Store { db })
    }

    /// The tree of one zone.
    pub fn zone(&self, origin_text: &str, journal_max: u64) -> anyhow::Result<ZoneStore> {
        let tree = self
            .db
            .open_tree(origin_text.as_bytes())
            .with_context(|| format!("zone store tree {origin_text}"))?;
        let meta = tree
            .get(b"m")?
            .and_then(|v| Meta::decode(&v))
            .unwrap_or_default();
        Ok(ZoneStore {
            db: self.db.clone(),
            tree,
            journal_max: journal_max.max(1),
            meta,
        })
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Meta {
    complete: bool,
    serial: u32,
    /// Sequence of the newest journal entry (0: none yet).
    last: u64,
    /// Sequence of the oldest journal entry kept.
    first: u64,
}

impl Meta {
    fn encode(&self) -> [u8; 21] {
        let mut b = [0u8; 21];
        b[0] = self.complete as u8;
        b[1..5].copy_from_slice(&self.serial.to_be_bytes());
        b[5..13].copy_from_slice(&self.last.to_be_bytes());
        b[13..21].copy_from_slice(&self.first.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Meta> {
        if b.len() != 21 {
            return None;
        }
        Some(Meta {
            complete: b[0] == 1,
            serial: u32::from_be_bytes(b[1..5].try_into().ok()?),
            last: u64::from_be_bytes(b[5..13].try_into().ok()?),
            first: u64::from_be_bytes(b[13..21].try_into().ok()?),
        })
    }
}

fn owner_key(owner: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(owner.len() + 1);
    k.push(b'n');
    k.extend_from_slice(owner);
    k
}

fn journal_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'j';
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Every record at `owner` in `zone`, encoded for the `n` keys.
fn owner_value(zone: &Zone, owner: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for set in rrsets_at(zone, owner) {
        for_each_record(&set, |t, ttl, rd| {
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&ttl.to_be_bytes());
            v.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            v.extend_from_slice(rd);
        });
    }
    v
}

/// One zone's durable state. Written only by the zone's writer thread;
/// read (journal) by transfer sessions through clones.
#[derive(Clone)]
pub struct ZoneStore {
    db: sled::Db,
    tree: sled::Tree,
    journal_max: u64,
    meta: Meta,
}

impl ZoneStore {
    /// The stored zone, if a complete one is there.
    pub fn load(&self, origin: &[u8]) -> anyhow::Result<Option<Zone>> {
        let Some(meta) = self.tree.get(b"m")?.and_then(|v| Meta::decode(&v)) else {
            return Ok(None);
        };
        if !meta.complete {
            tracing::warn!("the stored zone snapshot is incomplete (interrupted); ignoring it");
            return Ok(None);
        }
        let mut b = Builder::new(origin);
        // The stored bytes bound the records' bytes (a stored record is
        // 8 bytes of header plus its RDATA, its owner once per name).
        let bytes = (self.db.size_on_disk().unwrap_or(0) as usize).min(4 << 30);
        b.reserve(bytes / 48, bytes);
        for kv in self.tree.scan_prefix(b"n") {
            let (k, v) = kv?;
            let owner = &k[1..];
            let mut p = 0;
            while p < v.len() {
                let f = v.get(p..p + 8).context("truncated stored record")?;
                let t = u16::from_be_bytes([f[0], f[1]]);
                let ttl = u32::from_be_bytes([f[2], f[3], f[4], f[5]]);
                let l = u16::from_be_bytes([f[6], f[7]]) as usize;
                let rd = v.get(p + 8..p + 8 + l).context("truncated stored record")?;
                b.add(0, owner, t, 1, ttl, rd);
                p += 8 + l;
            }
        }
        let loaded = b.build().map_err(|e| anyhow::anyhow!("stored zone: {e}"))?;
        let zone = loaded.zone;
        anyhow::ensure!(
            zone.serial() == meta.serial,
            "stored zone serial {} does not match its meta {}",
            zone.serial(),
            meta.serial
        );
        Ok(Some(zone))
    }

    /// Replaces the stored zone with `zone` and empties the journal.
    pub fn replace(&mut self, zone: &Zone) -> anyhow::Result<()> {
        let mut meta = Meta {
            complete: false,
            serial: zone.serial(),
            last: self.meta.last,
            first: self.meta.last + 1,
        };
        self.tree.insert(b"m", &meta.encode())?;
        self.db.flush()?;
        let old: Vec<sled::IVec> = self
            .tree
            .iter()
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.first() != Some(&b'm'))
            .collect();
        for chunk in old.chunks(50_000) {
            let mut batch = sled::Batch::default();
            for k in chunk {
                batch.remove(k);
            }
            self.tree.apply_batch(batch)?;
        }
        let mut owners: Vec<Box<[u8]>> = Vec::new();
        crate::update::records::for_each_rrset(zone, |o, _| {
            if owners.last().is_none_or(|l| **l != *o) {
                owners.push(o.into());
            }
        });
        owners.sort();
        owners.dedup();
        for chunk in owners.chunks(50_000) {
            let mut batch = sled::Batch::default();
            for o in chunk {
                batch.insert(owner_key(o), owner_value(zone, o));
            }
            self.tree.apply_batch(batch)?;
        }
        meta.complete = true;
        self.tree.insert(b"m", &meta.encode())?;
        self.db.flush()?;
        self.meta = meta;
        Ok(())
    }

    /// Makes the version `zone` (= previous + `diff`) durable: changed
    /// owners, the journal entry and the meta in one atomic batch, then
    /// fsync. Returns the bytes flushed.
    pub fn commit(&mut self, diff: &Diff, zone: &Zone) -> anyhow::Result<()> {
        let mut batch = sled::Batch::default();
        for o in diff.owners() {
            let v = owner_value(zone, &o);
            if v.is_empty() {
                batch.remove(owner_key(&o));
            } else {
                batch.insert(owner_key(&o), v);
            }
        }
        let mut meta = self.meta;
        meta.last += 1;
        if meta.first == 0 {
            meta.first = meta.last;
        }
        meta.serial = diff.to;
        batch.insert(&journal_key(meta.last), diff.encode());
        while meta.last - meta.first + 1 > self.journal_max {
            batch.remove(&journal_key(meta.first));
            meta.first += 1;
        }
        batch.insert(b"m", &meta.encode());
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        self.meta = meta;
        Ok(())
    }

    /// The diffs leading from serial `from` to serial `to`, if the journal
    /// holds an unbroken chain. Walks the journal from the newest entry
    /// back, so an IXFR from a recent serial reads only the entries it
    /// sends, not the whole journal.
    pub fn journal(&self, from: u32, to: u32) -> anyhow::Result<Option<Vec<Diff>>> {
        let mut chain: Vec<Diff> = Vec::new();
        for kv in self.tree.scan_prefix(b"j").rev() {
            let (_, v) = kv?;
            let Some((f, t)) = Diff::peek_serials(&v) else {
                continue;
            };
            let expected = chain.last().map_or(to, |d| d.from);
            if t != expected {
                if chain.is_empty() {
                    continue;
                }
                return Ok(None);
            }
            chain.push(Diff::decode(&v).context("corrupt journal entry")?);
            if f == from {
                chain.reverse();
                return Ok(Some(chain));
            }
        }
        Ok(None)
    }

    /// True when the store holds a complete zone.
    pub fn is_complete(&self) -> bool {
        self.meta.complete
    }

    /// Journal entries kept (for metrics).
    pub fn journal_len(&self) -> u64 {
        if self.meta.first == 0 {
            0
        } else {
            self.meta.last + 1 - self.meta.first
        }
    }

    /// Bytes the store occupies on disk (all zones), for metrics.
    pub fn disk_size(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}
