//! The zone writer: one thread per zone owns version N and is the only
//! code that makes version N+1.
//!
//! # Group commit
//! Jobs arrive on a channel. The writer takes the first job and everything
//! already queued behind it (up to [`MAX_BATCH`]), runs every UPDATE of the
//! batch in order on one [`Overlay`] (each all-or-nothing, each seeing the
//! ones before it, so the result is the same as applying them one by one),
//! turns the net change into one [`Diff`] with one serial increment,
//! applies it, commits it to the store (atomic batch + fsync), swaps the new
//! version into the served `ZoneSet`, and only then answers every update of
//! the batch. While one batch is being flushed the next one queues up, so
//! under load the fsync cost is shared; a lone update pays one fsync.
//!
//! If the store write fails, nothing is published and every update of the
//! batch that would have succeeded gets SERVFAIL: an acknowledgement always
//! means durable.
//!
//! # Signed zones
//! When the zone is signed (it has an NSEC3 chain) and keys are
//! configured, the batch's version is re-signed incrementally
//! ([`crate::signer::resign`]) and the touched names are verified before it is
//! stored or served; a version that fails verification is dropped, the
//! batch answered SERVFAIL, and the previous version stays in service.
//! Verification checks every RRSIG's fields, keys and validity at the
//! touched names and their NSEC3 records, but runs the signature crypto
//! only on RRsets that differ from version N (which was verified): what
//! the batch re-signed ([`crate::signer::verify_changed`]).
//!
//! # Cost per version
//! A version shares all untouched shards with the previous one (see
//! [`tldd_zone::version`]); the writer's fixed work per version is the
//! shard-array copies, one sled batch plus fsync, and the swap. The
//! record count for metrics (a zone walk) runs every 10 s on its own
//! thread, not in the writer's way.
//!
//! # Other jobs
//! Incoming transfers on a secondary ([`Event::Diffs`], [`Event::Replace`]) go
//! through the same thread, the same `apply` and the same store, so a tldd
//! secondary journals what it receives and can serve IXFR in turn.
//!
//! # Start
//! A zone loaded from its file is first written to the store by this
//! thread (a snapshot: 1.5 s for 1M delegations); it is served
//! meanwhile, and updates queue until the store holds it.
//!
//! # Publishing
//! After a swap the new serial is sent on a `watch` channel (NOTIFY senders
//! follow it) and zone metrics are updated.
use crate::config::SerialPolicy;
use crate::journal::ZoneJournal;
use crate::update::edit::{Overlay, Refusal, Update};
use crate::wire::answer::rcode;
use crate::wire::ZoneSet;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Instant;
use tldd_zone::Zone;
use tldd_zone::{Diff, ZoneState};
use tokio::sync::{mpsc, oneshot, watch};

/// Most updates folded into one version.
pub const MAX_BATCH: usize = 512;

/// Work for the writer.
pub enum Event {
    /// An RFC 2136 update (already authorised); the answer is the RCODE.
    Update {
        update: Update,
        received: Instant,
        reply: oneshot::Sender<Result<u32, Refusal>>,
    },
    /// Incremental transfer received (secondary).
    Diffs {
        diffs: Vec<Diff>,
        reply: oneshot::Sender<Result<u32, String>>,
    },
    /// Full transfer received (secondary).
    Replace {
        zone: Box<Zone>,
        reply: oneshot::Sender<Result<u32, String>>,
    },
    /// Timer tick: re-sign what nears expiry ([`crate::signer::refresh`]).
    RefreshSignatures,
}

/// What the writer needs.
pub struct Writer {
    /// The zone came from its file: write it to the store before anything
    /// else (queries are already served meanwhile; updates wait).
    pub needs_snapshot: bool,
    pub origin_text: String,
    pub state: Option<ZoneState>,
    pub journal: ZoneJournal,
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub policy: SerialPolicy,
    pub serial_tx: watch::Sender<u32>,
    /// When zone record counts were last published to metrics.
    pub counted: Option<Instant>,
    /// Keys for re-signing updates to a signed zone (`[zone.dnssec]`).
    pub resigner: Option<crate::signer::resign::Resigner>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Writer {
    /// Starts the writer thread; returns the job queue.
    pub fn spawn(self) -> std::io::Result<mpsc::Sender<Event>> {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name(format!("writer-{}", self.origin_text))
            .spawn(move || self.run(rx))?;
        Ok(tx)
    }

    fn run(mut self, mut rx: mpsc::Receiver<Event>) {
        let m = self.metrics.clone();
        if self.needs_snapshot {
            if let Some(state) = &self.state {
                let t = Instant::now();
                match self.journal.replace(&state.zone) {
                    Ok(()) => {
                        tracing::info!(
                            zone = %self.origin_text,
                            seconds = format!("{:.2}", t.elapsed().as_secs_f64()),
                            "zone written to the store"
                        );
                    }
                    Err(e) => {
                        // Without a durable base no update can be acknowledged.
                        tracing::error!(zone = %self.origin_text, "cannot write the zone to the store: {e:#}; updates will fail");
                        self.state = None;
                    }
                }
            }
        }
        m.journal_entries
            .with_label_values(&[&self.origin_text])
            .set(self.journal.journal_len() as i64);
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let mut updates = Vec::new();
            for job in jobs {
                match job {
                    Event::Update {
                        update,
                        received,
                        reply,
                    } => updates.push((update, received, reply)),
                    Event::Diffs { diffs, reply } => {
                        self.commit_updates(std::mem::take(&mut updates));
                        let _ = reply.send(self.apply_diffs(&diffs));
                    }
                    Event::Replace { zone, reply } => {
                        self.commit_updates(std::mem::take(&mut updates));
                        let _ = reply.send(self.replace(*zone));
                    }
                    Event::RefreshSignatures => {
                        self.commit_updates(std::mem::take(&mut updates));
                        self.refresh_signatures();
                    }
                }
            }
            self.commit_updates(updates);
        }
    }

    /// Runs a batch of updates into one version.
    #[allow(clippy::type_complexity)]
    fn commit_updates(
        &mut self,
        batch: Vec<(Update, Instant, oneshot::Sender<Result<u32, Refusal>>)>,
    ) {
        if batch.is_empty() {
            return;
        }
        let m = self.metrics.clone();
        let Some(state) = &self.state else {
            for (_, _, reply) in batch {
                let _ = reply.send(Err(Refusal {
                    rcode: rcode::SERVFAIL,
                    reason: "not_loaded",
                    detail: "the zone is not loaded".into(),
                }));
            }
            return;
        };
        let mut overlay = Overlay::new(&state.zone);
        let results: Vec<Result<(), Refusal>> =
            batch.iter().map(|(u, _, _)| overlay.update(u)).collect();
        let accepted = results.iter().filter(|r| r.is_ok()).count();
        let diff = overlay.into_diff(self.policy, tldd_tsig::now());
        let mut serial = state.serial();
        if let Some(diff) = diff {
            match self.commit(&diff, true) {
                Ok(s) => serial = s,
                Err(e) => {
                    tracing::error!(zone = %self.origin_text, "update batch not committed: {e:#}");
                    for ((_, _, reply), r) in batch.into_iter().zip(results) {
                        let _ = reply.send(r.and(Err(Refusal {
                            rcode: rcode::SERVFAIL,
                            reason: "store",
                            detail: format!("{e:#}"),
                        })));
                    }
                    return;
                }
            }
            m.update_batch
                .with_label_values(&[&self.origin_text])
                .observe(accepted as f64);
        }
        let hist = m
            .update_publish_seconds
            .with_label_values(&[&self.origin_text]);
        for ((_, received, reply), r) in batch.into_iter().zip(results) {
            if r.is_ok() {
                hist.observe(received.elapsed().as_secs_f64());
            }
            let _ = reply.send(r.map(|()| serial));
        }
    }

    /// Applies, persists and publishes one diff; returns the new serial.
    /// With `resign` (an update batch), a signed zone's changes are signed
    /// and verified first; transferred diffs are served as received.
    fn commit(&mut self, diff: &Diff, resign: bool) -> anyhow::Result<u32> {
        let Some(state) = &self.state else {
            anyhow::bail!("the zone is not loaded");
        };
        let t0 = Instant::now();
        let mut next = state.applied(diff).map_err(anyhow::Error::msg)?;
        let mut signed_diff = None;
        if let (Some(rs), true) = (&self.resigner, resign && next.zone.nsec3.is_some()) {
            let r = rs
                .resign(&state.zone, &mut next.zone, &diff.owners())
                .map_err(|e| anyhow::anyhow!("re-signing: {e}"))?;
            let names: Vec<&[u8]> = r.names.iter().map(|n| &**n).collect();
            let now = crate::signer::sign::unix_now() as u32;
            // Version N was verified; only what differs from it needs the
            // signature crypto again (every RRSIG's fields are still checked).
            let old = &state.zone;
            let same = |owner: &[u8], set: &tldd_zone::RRset| {
                crate::signer::resign::unchanged(old, owner, set)
            };
            if let Err(e) = crate::signer::verify_changed(&next.zone, &names, now, Some(&same)) {
                self.metrics
                    .updates
                    .with_label_values(&[&self.origin_text, "verify_failed"])
                    .inc();
                anyhow::bail!("the re-signed version does not verify (not served): {e}");
            }
            let mut d = diff.clone();
            d.removed.extend(r.removed);
            d.added.extend(r.added);
            signed_diff = Some(d);
        }
        let diff = signed_diff.as_ref().unwrap_or(diff);
        let t1 = Instant::now();
        self.journal.commit(diff, &next.zone)?;
        let t2 = Instant::now();
        let serial = next.serial();
        self.state = Some(next);
        self.publish();
        tracing::debug!(
            zone = %self.origin_text,
            serial,
            records = diff.removed.len() + diff.added.len(),
            apply_us = (t1 - t0).as_micros() as u64,
            store_us = (t2 - t1).as_micros() as u64,
            publish_us = t2.elapsed().as_micros() as u64,
            "version committed"
        );
        Ok(serial)
    }

    /// One signature refresh pass: the due RRsets re-signed, the new
    /// signatures verified as they will be served, then committed like any
    /// version (journal, IXFR, NOTIFY). A failure leaves the zone as it is
    /// and is retried at the next tick.
    fn refresh_signatures(&mut self) {
        let (Some(rs), Some(state)) = (&self.resigner, &self.state) else {
            return;
        };
        if state.zone.nsec3.is_none() {
            return;
        }
        let m = self.metrics.clone();
        let origin = self.origin_text.clone();
        let zone_label = [origin.as_str()];
        let now = crate::signer::sign::unix_now();
        let t = Instant::now();
        let result = crate::signer::refresh::refresh(
            &state.zone,
            &rs.keys,
            &rs.opts,
            self.policy,
            rs.refresh_window,
            now,
        )
        .and_then(|r| {
            let Some(r) = r else { return Ok(None) };
            let mut next = state.clone();
            next.apply(&r.diff)?;
            let served: Vec<(Box<[u8]>, tldd_zone::RRset)> = r
                .sets
                .iter()
                .filter_map(|(o, s)| {
                    tldd_zone::records::rrsets_at(&next.zone, o)
                        .into_iter()
                        .find(|x| x.rtype == s.rtype)
                        .map(|x| (o.clone(), x))
                })
                .collect();
            if served.len() != r.sets.len() {
                return Err("a re-signed RRset is missing from the new version".into());
            }
            let sets: Vec<(&[u8], &tldd_zone::RRset)> =
                served.iter().map(|(o, s)| (&**o, s)).collect();
            crate::signer::verify_rrsets(&next.zone, &sets, now as u32).map_err(|e| {
                m.verify_failures.with_label_values(&zone_label).inc();
                format!("the refreshed version does not verify (not served): {e}")
            })?;
            Ok(Some(r))
        });
        let r = match result {
            Ok(Some(r)) => r,
            Ok(None) => {
                m.signature_refresh_pending
                    .with_label_values(&zone_label)
                    .set(0);
                return;
            }
            Err(e) => {
                tracing::error!(zone = %self.origin_text, "signature refresh failed: {e}");
                return;
            }
        };
        let resigned = r.sets.len() - 1; // the SOA is always in
        match self.commit(&r.diff, false) {
            Ok(serial) => {
                m.signatures_refreshed
                    .with_label_values(&zone_label)
                    .inc_by(resigned as u64);
                m.signature_refresh_pending
                    .with_label_values(&zone_label)
                    .set((r.due - resigned) as i64);
                tracing::info!(
                    zone = %self.origin_text,
                    serial,
                    rrsets = resigned,
                    still_due = r.due - resigned,
                    ms = t.elapsed().as_millis() as u64,
                    "signatures refreshed"
                );
            }
            Err(e) => {
                tracing::error!(zone = %self.origin_text, "signature refresh not committed: {e:#}")
            }
        }
    }

    fn apply_diffs(&mut self, diffs: &[Diff]) -> Result<u32, String> {
        let mut serial = self.state.as_ref().map_or(0, ZoneState::serial);
        for d in diffs {
            serial = self.commit(d, false).map_err(|e| format!("{e:#}"))?;
        }
        Ok(serial)
    }

    fn replace(&mut self, zone: Zone) -> Result<u32, String> {
        self.journal.replace(&zone).map_err(|e| format!("{e:#}"))?;
        let serial = zone.serial();
        self.state = Some(ZoneState::new(zone));
        self.publish();
        Ok(serial)
    }

    /// Swaps the writer's version into the served set.
    fn publish(&mut self) {
        let Some(state) = &self.state else { return };
        let zone = Arc::new(state.zone.clone());
        let m = self.metrics.clone();
        self.zones.rcu(|zs| zs.with(zone.clone()));
        let _ = self.serial_tx.send(zone.serial());
        // Counting records walks the zone (about a second for 1M
        // delegations): at most every 10 s, on a helper thread so the
        // writer does not stall the updates queued behind it.
        if self.counted.is_none_or(|t| t.elapsed().as_secs() >= 10) {
            let z = zone.clone();
            if std::thread::Builder::new()
                .name("zone-metrics".into())
                .spawn({
                    let m = m.clone();
                    move || m.zone(&z)
                })
                .is_err()
            {
                m.zone(&zone);
            }
            self.counted = Some(Instant::now());
            // The store's disk size lists the sled directory: as rarely.
            m.store_bytes
                .with_label_values(&[&self.origin_text])
                .set(self.journal.disk_size() as i64);
        } else {
            let origin = &self.origin_text;
            m.zone_serial
                .with_label_values(&[origin])
                .set(i64::from(zone.serial()));
            m.zone_delegations
                .with_label_values(&[origin])
                .set(zone.cuts.len() as i64);
        }
        m.journal_entries
            .with_label_values(&[&self.origin_text])
            .set(self.journal.journal_len() as i64);
    }
}
