//! Committing a new version: an update batch, a received transfer, a
//! signature refresh pass; then publishing it (served set, NOTIFY, metrics).
//! All of it runs on the zone's loop thread ([`super`]).
use super::{Run, ZoneLoop};
use crate::update::edit::{Overlay, Refusal, Update};
use crate::wire::answer::rcode;
use std::sync::Arc;
use std::time::Instant;
use tldd_zone::{Diff, Zone, ZoneState};
use tokio::sync::oneshot;

impl ZoneLoop {
    /// Runs a batch of updates into one version.
    #[allow(clippy::type_complexity)]
    pub(super) fn commit_updates(
        &mut self,
        run: &mut Run,
        batch: Vec<(Update, Instant, oneshot::Sender<Result<u32, Refusal>>)>,
    ) {
        if batch.is_empty() {
            return;
        }
        let m = self.metrics.clone();
        if let Some(since) = self.frozen {
            // SERVFAIL, not REFUSED: a sender retries it (the SRS's
            // publisher keeps the change queued until the thaw), where a
            // REFUSED would be a permanent no.
            for (_, _, reply) in batch {
                let _ = reply.send(Err(Refusal {
                    rcode: rcode::SERVFAIL,
                    reason: "frozen",
                    detail: format!(
                        "the zone is frozen (`tldd ctl zone-freeze`, {}s ago); retry after the thaw",
                        since.elapsed().as_secs()
                    ),
                }));
            }
            return;
        }
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
            match self.commit(run, &diff, true) {
                Ok(s) => serial = s,
                Err(e) => {
                    tracing::error!(zone = %self.origin_text, "update batch not committed: {e:#}");
                    // An HSM that stopped signing is the usual cause.
                    self.probe_signer();
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
    pub(super) fn commit(
        &mut self,
        run: &mut Run,
        diff: &Diff,
        resign: bool,
    ) -> anyhow::Result<u32> {
        let Some(state) = &self.state else {
            anyhow::bail!("the zone is not loaded");
        };
        let t0 = Instant::now();
        let mut next = state.applied(diff)?;
        let mut signed_diff = None;
        if let (Some(rs), true) = (&self.resigner, resign && next.zone.nsec3.is_some()) {
            let r = rs
                .resign(&state.zone, &mut next.zone, &diff.owners())
                .map_err(|e| anyhow::anyhow!("re-signing: {e}"))?;
            self.signer_ok();
            let names: Vec<&[u8]> = r.names.iter().map(|n| &**n).collect();
            let now = crate::signer::sign::unix_now() as u32;
            // Version N was verified; only what differs from it needs the
            // signature crypto again (every RRSIG's fields are still checked).
            let old = &state.zone;
            let same = |owner: &[u8], set: &tldd_zone::RRset| {
                crate::signer::resign::unchanged(old, owner, set)
            };
            if let Err(e) = crate::signer::verify_changed_with(
                &next.zone,
                &names,
                now,
                Some(&same),
                &rs.unpublished,
            ) {
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
        let serial = self.store_and_publish(run, diff, next)?;
        tracing::debug!(
            zone = %self.origin_text,
            serial,
            records = diff.removed.len() + diff.added.len(),
            apply_us = (t1 - t0).as_micros() as u64,
            store_us = t1.elapsed().as_micros() as u64,
            "version committed"
        );
        Ok(serial)
    }

    /// Journals `diff` (whose result is `next`, already verified), then
    /// serves `next`; returns its serial.
    pub(super) fn store_and_publish(
        &mut self,
        run: &mut Run,
        diff: &Diff,
        next: ZoneState,
    ) -> anyhow::Result<u32> {
        self.journal.commit(diff, &next.zone)?;
        let serial = next.serial();
        self.state = Some(next);
        self.publish(run);
        Ok(serial)
    }

    /// One signature refresh pass: the due RRsets re-signed, the new
    /// signatures verified as they will be served, then committed like any
    /// version (journal, IXFR, NOTIFY). A failure leaves the zone as it is
    /// and is retried at the next tick.
    pub(super) fn refresh_signatures(&mut self, run: &mut Run) -> usize {
        let (Some(rs), Some(state)) = (&self.resigner, &self.state) else {
            return 0;
        };
        if state.zone.nsec3.is_none() {
            return 0;
        }
        let mut opts = rs.opts.clone();
        if rs.jitter > 0 {
            opts.validity -= rand::random::<u32>() % rs.jitter;
        }
        let m = self.metrics.clone();
        let origin = self.origin_text.clone();
        let zone_label = [origin.as_str()];
        let now = crate::signer::sign::unix_now();
        let t = Instant::now();
        let result = crate::signer::refresh::refresh(
            &state.zone,
            &rs.keys,
            &opts,
            self.policy,
            (rs.refresh_window, rs.presigned_keys),
            now,
        )
        .and_then(|r| {
            let Some(r) = r else { return Ok(None) };
            let mut next = state.clone();
            next.apply(&r.diff).map_err(|e| e.to_string())?;
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
            crate::signer::verify_rrsets_with(&next.zone, &sets, now as u32, &rs.unpublished)
                .map_err(|e| {
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
                return 0;
            }
            Err(e) => {
                tracing::error!(zone = %self.origin_text, "signature refresh failed (retried at the next tick): {e}");
                return 0;
            }
        };
        let resigned = r.sets.len() - 1; // the SOA is always in
        match self.commit(run, &r.diff, false) {
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
                r.due - resigned
            }
            Err(e) => {
                tracing::error!(zone = %self.origin_text, "signature refresh not committed: {e:#}");
                0
            }
        }
    }

    pub(super) fn apply_diffs(&mut self, run: &mut Run, diffs: &[Diff]) -> Result<u32, String> {
        let mut serial = self.state.as_ref().map_or(0, ZoneState::serial);
        for d in diffs {
            serial = self.commit(run, d, false).map_err(|e| format!("{e:#}"))?;
        }
        Ok(serial)
    }

    pub(super) fn replace(&mut self, run: &mut Run, zone: Zone) -> Result<u32, String> {
        self.journal.replace(&zone).map_err(|e| format!("{e:#}"))?;
        let serial = zone.serial();
        self.state = Some(ZoneState::new(zone));
        self.publish(run);
        Ok(serial)
    }

    /// Swaps the writer's version into the served set.
    fn publish(&mut self, run: &mut Run) {
        let Some(state) = &self.state else { return };
        let zone = Arc::new(state.zone.clone());
        let m = self.metrics.clone();
        self.zones.rcu(|zs| zs.with(zone.clone()));
        self.notify_all(run, zone.serial());
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
