//! Loading a stored zone at start, and the checks that make a store that
//! lost data refuse to start instead of serving an older zone.
//!
//! The order (each step is a [`StoreError`] naming the file):
//! 1. **Nothing stored for the zone.** If its mark or a snapshot file
//!    exists, the journal was deleted or replaced: refuse
//!    ([`StoreError::JournalMissing`]). Otherwise the zone never had a
//!    store and the caller loads the zone file.
//! 2. **The snapshot** the pointer names is read (its CRC-32 checked by
//!    [`snapfile::read`]) and built.
//! 3. **The journal after it** is replayed, each entry through
//!    [`ZoneState::apply`], while the checksum chain ([`mark`]) is
//!    recomputed from the snapshot pointer's value.
//! 4. **The chain is compared** with the meta's own value (sled's state is
//!    consistent) and with the mark (the journal reaches the newest
//!    acknowledged version, with the same content). The journal may be
//!    one version ahead of the mark (a crash between the two writes of a
//!    commit); behind it, or different from it, is a refusal.
//!
//! A store written before marks existed (meta format 3) is trusted once:
//! it is loaded as before and marked, with a warning; from then on a
//! missing mark is a refusal ([`StoreError::MarkMissing`]).
use super::*;
use mark::Mark;

impl ZoneJournal {
    /// The stored zone (snapshot + journal replayed), if there is one;
    /// `Ok(None)` only for a zone that never had a store (or a store of
    /// the old per-owner layout, which is reloaded from the zone file).
    pub fn load(&mut self, origin: &[u8]) -> Result<Option<Zone>, StoreError> {
        self.load_checked(origin, true)
    }

    /// As [`ZoneJournal::load`], without the housekeeping a start does
    /// (removing stale snapshot files, marking a store of an earlier
    /// tldd): what `tldd store check` runs.
    pub fn check(&mut self, origin: &[u8]) -> Result<Option<Zone>, StoreError> {
        self.load_checked(origin, false)
    }

    fn load_checked(&mut self, origin: &[u8], tidy: bool) -> Result<Option<Zone>, StoreError> {
        // As it is now (this handle may have written since it opened).
        self.mark_seen = mark::read(&self.mark_path)?;
        let read = tldd_store::guard::catch_quietly(|| -> sled::Result<_> {
            Ok((self.tree.get(b"m")?, self.tree.get(b"p")?))
        });
        let (raw_meta, raw_snap) = match read {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(self.read_err(e.to_string())),
            Err(p) => return Err(self.read_err(format!("the database is damaged (sled: {p})"))),
        };
        let Some(meta) = raw_meta.as_deref().and_then(Meta::decode) else {
            if raw_meta.is_some() {
                // The per-owner layout predates marks: with a mark, this
                // is a meta this build cannot read (a newer tldd's), and
                // falling back to the zone file would lose its versions.
                if self.mark_seen.is_some() {
                    return Err(self.damaged(
                        &self.db_path,
                        "the journal's meta record has a format this tldd cannot read \
                         (written by a newer tldd?)",
                    ));
                }
                tracing::warn!("the store was written by an older tldd (per-owner layout); loading the zone file instead");
                return Ok(None);
            }
            return self.nothing_stored().map(|()| None);
        };
        let Some(snap) = raw_snap.as_deref().and_then(Snap::decode) else {
            if meta.chain.is_some() || self.mark_seen.is_some() {
                return Err(self.damaged(&self.db_path, "the snapshot pointer is missing"));
            }
            tracing::warn!(
                "the store has no complete snapshot (interrupted first write); ignoring it"
            );
            return Ok(None);
        };
        if snap.seq > meta.last {
            return Err(self.damaged(
                &self.db_path,
                &format!(
                    "the snapshot includes entry {} but the journal ends at {}",
                    snap.seq, meta.last
                ),
            ));
        }
        let zone = if tidy {
            self.read_snapshot(origin, &snap)?
        } else {
            self.build_snapshot(origin, &snap)?
        };
        let (zone, at_mark) = self.replay(zone, &meta, &snap)?;
        self.check_mark(&meta, &snap, at_mark)?;
        if meta.chain.is_none() && tidy {
            self.mark_older_store(meta)?;
        }
        Ok(Some(zone))
    }

    /// Step 1: refuses when a zone with durable state has no journal.
    fn nothing_stored(&self) -> Result<(), StoreError> {
        if self.mark_seen.is_some() {
            return Err(StoreError::JournalMissing {
                zone: self.origin_text.clone(),
                evidence: self.mark_path.clone(),
            });
        }
        if let Some(f) = snapfile::any(&self.snap_dir, &self.stem) {
            return Err(StoreError::JournalMissing {
                zone: self.origin_text.clone(),
                evidence: f,
            });
        }
        Ok(())
    }

    /// The zone of the snapshot `snap` points to, checked; touches nothing.
    pub(super) fn build_snapshot(&self, origin: &[u8], snap: &Snap) -> Result<Zone, StoreError> {
        let mut b = Builder::new(origin);
        let path = snapfile::path(&self.snap_dir, &self.stem, snap.generation);
        let fed = (|| -> anyhow::Result<()> {
            if snap.chunks == 0 {
                let records = snapfile::read(&path)?;
                // A stored record is about 40 bytes (owner, header, RDATA).
                b.reserve(records.len() / 40, records.len());
                decode_chunk(&mut b, &records)
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
                Ok(())
            }
        })();
        let file = if snap.chunks == 0 {
            path
        } else {
            self.db_path.clone()
        };
        fed.map_err(|e| self.damaged(&file, &format!("{e:#}")))?;
        let zone = b
            .build()
            .map_err(|e| self.damaged(&file, &format!("the stored zone does not build: {e}")))?
            .zone;
        if zone.serial() != snap.serial {
            return Err(self.damaged(
                &file,
                &format!(
                    "snapshot serial {} does not match its pointer {}",
                    zone.serial(),
                    snap.serial
                ),
            ));
        }
        Ok(zone)
    }

    fn read_snapshot(&self, origin: &[u8], snap: &Snap) -> Result<Zone, StoreError> {
        let zone = self.build_snapshot(origin, snap)?;
        // Snapshots of generations that never became current, and chunks
        // no longer pointed to.
        let cleaned = (|| -> anyhow::Result<()> {
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
            Ok(())
        })();
        cleaned.map_err(|e| self.read_err(format!("{e:#}")))?;
        Ok(zone)
    }

    /// Step 3: the journal after the snapshot, with the chain recomputed.
    /// Returns the zone and the chain at the mark's sequence (when the
    /// replay passed it).
    fn replay(
        &self,
        zone: Zone,
        meta: &Meta,
        snap: &Snap,
    ) -> Result<(Zone, Option<mark::Chain>), StoreError> {
        let start = |seq: u64| match (seq == snap.seq, snap.chain, meta.chain) {
            (true, Some(c), _) => Some(c),
            (_, _, Some(cs)) if cs.from == seq => Some(cs.base),
            _ => None,
        };
        let mark_seq = self.mark_seen.map(|m| m.seq);
        let mut chain = start(snap.seq);
        let mut at_mark = if mark_seq == Some(snap.seq) {
            chain
        } else {
            None
        };
        let mut state = ZoneState::new(zone);
        for seq in snap.seq + 1..=meta.last {
            let v = guarded_get(&self.tree, &journal_key(seq))
                .map_err(|e| self.read_err(e))?
                .ok_or_else(|| {
                    self.damaged(
                        &self.db_path,
                        &format!("journal entry {seq} after the snapshot is missing"),
                    )
                })?;
            let d = entry::decode(seq, &v, meta.format(seq))
                .map_err(|e| self.damaged(&self.db_path, &format!("{e:#}")))?;
            state.apply(&d).map_err(|e| {
                self.damaged(
                    &self.db_path,
                    &format!("replaying journal entry {seq}: {e}"),
                )
            })?;
            chain = chain
                .map(|c| mark::next(&c, seq, &v))
                .or_else(|| start(seq));
            if mark_seq == Some(seq) {
                at_mark = chain;
            }
        }
        if state.serial() != meta.serial {
            return Err(self.damaged(
                &self.db_path,
                &format!(
                    "the stored zone's serial {} does not match its meta {}",
                    state.serial(),
                    meta.serial
                ),
            ));
        }
        if let (Some(cs), Some(c)) = (meta.chain, chain) {
            if c != cs.at_last {
                return Err(StoreError::ChainMismatch {
                    zone: self.origin_text.clone(),
                    seq: meta.last,
                    against: self.db_path.clone(),
                });
            }
        }
        Ok((state.zone, at_mark))
    }

    /// Step 4: the journal against the mark.
    fn check_mark(
        &self,
        meta: &Meta,
        snap: &Snap,
        at_mark: Option<mark::Chain>,
    ) -> Result<(), StoreError> {
        let Some(m) = self.mark_seen else {
            if meta.chain.is_some() {
                return Err(StoreError::MarkMissing {
                    zone: self.origin_text.clone(),
                    path: self.mark_path.clone(),
                });
            }
            return Ok(());
        };
        if m.seq > meta.last {
            return Err(StoreError::JournalBehind {
                zone: self.origin_text.clone(),
                journal_serial: meta.serial,
                journal_seq: meta.last,
                acked_serial: m.serial,
                acked_seq: m.seq,
                mark: self.mark_path.clone(),
            });
        }
        let mismatch = || StoreError::ChainMismatch {
            zone: self.origin_text.clone(),
            seq: m.seq,
            against: self.mark_path.clone(),
        };
        if m.seq == meta.last && m.serial != meta.serial {
            return Err(mismatch());
        }
        match at_mark {
            Some(c) if c != m.chain => return Err(mismatch()),
            Some(_) => {}
            // The newest step was a replace (zone file, AXFR) that the
            // mark did not record yet: its content is the snapshot file.
            None if m.seq + 1 == meta.last && snap.seq == meta.last => {}
            None if meta.chain.is_some() => {
                tracing::warn!(zone = %self.origin_text, mark = m.seq, journal = meta.last, "the high-water mark is older than the snapshot; the journal cannot be checked against it this time");
            }
            None => {}
        }
        if m.seq < meta.last {
            tracing::info!(zone = %self.origin_text, mark = m.seq, journal = meta.last, "the journal is ahead of its high-water mark (a stop between the two writes of a commit); keeping the newer version");
        }
        Ok(())
    }

    /// A store of the build before marks: trusted this once, then marked.
    fn mark_older_store(&mut self, mut meta: Meta) -> Result<(), StoreError> {
        let base = mark::base(meta.last, meta.serial);
        meta.chain = Some(ChainState {
            at_last: base,
            from: meta.last,
            base,
        });
        guarded_insert(&self.db, &self.tree, b"m", &meta.encode()).map_err(|e| self.read_err(e))?;
        self.meta = meta;
        self.write_mark().map_err(|e| StoreError::Dir {
            path: self.mark_path.clone(),
            detail: format!("cannot write the high-water mark: {e}"),
        })?;
        tracing::warn!(zone = %self.origin_text, serial = meta.serial, mark = %self.mark_path.display(), "the store was written by an earlier tldd and has no high-water mark: trusting it this once and marking it");
        Ok(())
    }

    fn read_err(&self, detail: String) -> StoreError {
        StoreError::Read {
            path: self.db_path.clone(),
            zone: self.origin_text.clone(),
            detail,
        }
    }

    fn damaged(&self, path: &Path, detail: &str) -> StoreError {
        StoreError::Damaged {
            zone: self.origin_text.clone(),
            path: path.into(),
            detail: detail.into(),
        }
    }

    /// Records the newest version in the mark (opening it at first use).
    pub(super) fn write_mark(&mut self) -> std::io::Result<()> {
        let m = Mark {
            seq: self.meta.last,
            serial: self.meta.serial,
            chain: self.meta.chain.map_or_else(
                || mark::base(self.meta.last, self.meta.serial),
                |c| c.at_last,
            ),
        };
        match &self.mark {
            Some(f) => f.write(&m),
            None => {
                let f = mark::MarkFile::open(&self.mark_path, &m)?;
                f.write(&m)?;
                self.mark = Some(Arc::new(f));
                Ok(())
            }
        }
    }
}

/// A read that turns a sled panic into an error.
fn guarded_get(tree: &sled::Tree, key: &[u8]) -> Result<Option<sled::IVec>, String> {
    match tldd_store::guard::catch_quietly(|| tree.get(key)) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(p) => Err(format!("the database is damaged (sled: {p})")),
    }
}

/// A durable write that turns a sled panic into an error.
fn guarded_insert(db: &sled::Db, tree: &sled::Tree, key: &[u8], v: &[u8]) -> Result<(), String> {
    match tldd_store::guard::catch_quietly(|| -> sled::Result<()> {
        tree.insert(key, v)?;
        db.flush()?;
        Ok(())
    }) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(p) => Err(format!("the database is damaged (sled: {p})")),
    }
}
