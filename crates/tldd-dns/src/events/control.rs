//! Control-channel commands as events of the zone's loop: `tldd ctl`'s
//! questions about a zone are answered by the one owner of its state, and
//! its orders (NOTIFY now, refresh now) are carried out by the same code
//! the timers run, so a command can never race the loop.
//!
//! The facts are plain values ([`ZoneFacts`]); the control socket
//! ([`crate::server::control`]) turns them into `key: value` lines.
use super::{Run, ZoneLoop};
use std::time::Instant;
use tokio::sync::oneshot;

/// A control command for one zone.
pub enum Control {
    /// The zone's state as its loop sees it.
    Status(oneshot::Sender<ZoneFacts>),
    /// Send NOTIFY to every `[[zone]] notify` target now.
    Notify(oneshot::Sender<Result<String, String>>),
    /// Secondary: check the primary's SOA now (and transfer if behind).
    Refresh(oneshot::Sender<Result<String, String>>),
    /// Secondary: transfer the whole zone now (AXFR), whatever the serial.
    Retransfer(oneshot::Sender<Result<String, String>>),
    /// Answer updates SERVFAIL until [`Control::Thaw`] (transfers out,
    /// NOTIFY and signature refresh go on: a frozen zone must not let its
    /// signatures expire).
    Freeze(oneshot::Sender<Result<String, String>>),
    Thaw(oneshot::Sender<Result<String, String>>),
    /// Re-read the key state and run a key step now (after a `tldd keys`
    /// command); answers the `tldd keys status` lines.
    Keys(oneshot::Sender<Result<Vec<String>, String>>),
    /// The zone file read again (`events::reload`): its changes as one
    /// version, or (`force`) the zone replaced by it.
    ReloadFile {
        zone: Box<tldd_zone::Zone>,
        force: bool,
        /// The file's mark, recorded once the version is made.
        mark: Option<crate::journal::filemark::FileMark>,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// Sign everything again now (`events::reload`).
    SignAll(oneshot::Sender<Result<String, String>>),
}

/// What `tldd ctl zone-status` reports for one zone.
#[derive(Debug, Clone, Default)]
pub struct ZoneFacts {
    pub zone: String,
    /// `None`: nothing served yet (a secondary before its first transfer).
    pub serial: Option<u32>,
    /// The served version has an NSEC3 chain.
    pub signed: bool,
    pub secondary: bool,
    pub delegations: usize,
    /// Journal entries kept (IXFR depth and what a restart replays).
    pub journal_entries: u64,
    /// Secondary: the primary, the last contact (unix seconds) and the
    /// seconds until the next SOA check.
    pub primary: Option<String>,
    pub last_refresh: Option<u64>,
    pub next_refresh_in: Option<u64>,
    /// Secondary: seconds until the zone expires without contact.
    pub expires_in: Option<u64>,
    /// NOTIFY targets, and how many have not acknowledged the newest serial.
    pub notify_targets: usize,
    pub notify_pending: usize,
    /// Signed: seconds until the next signature refresh pass.
    pub next_resign_in: Option<u64>,
    /// Frozen for this many seconds (`None`: not frozen).
    pub frozen_for: Option<u64>,
    /// Signed primary, at the last key step: the earliest RRSIG expiry
    /// (unix seconds) and the next key event ("what at", RFC 3339).
    pub earliest_signature_expiry: Option<u64>,
    pub next_key_event: Option<String>,
    /// Key events that wait for something without a time.
    pub key_waiting: Vec<String>,
    /// Secondary: the primary's serial while it is behind ours.
    pub primary_behind: Option<u32>,
}

fn secs_until(at: Option<Instant>) -> Option<u64> {
    at.map(|t| t.saturating_duration_since(Instant::now()).as_secs())
}

impl ZoneLoop {
    pub(super) fn control(&mut self, run: &mut Run, c: Control) {
        match c {
            Control::Status(reply) => {
                let _ = reply.send(self.facts(run));
            }
            Control::Notify(reply) => {
                let answer = match (&self.state, self.notify.is_empty()) {
                    (None, _) => Err("nothing served yet".to_string()),
                    (_, true) => Err("the zone has no [[zone]] notify targets".to_string()),
                    (Some(st), false) => {
                        let serial = st.serial();
                        self.notify_all(run, serial);
                        Ok(format!(
                            "NOTIFY for serial {serial} due to {} target(s)",
                            self.notify.len()
                        ))
                    }
                };
                let _ = reply.send(answer);
            }
            Control::Retransfer(reply) => {
                let answer = if self.primary.is_some() {
                    run.secondary.force_axfr();
                    self.refresh_now(run);
                    Ok("full transfer (AXFR) from the primary started".to_string())
                } else {
                    Err("not a secondary zone (no [[zone]] primary)".to_string())
                };
                let _ = reply.send(answer);
            }
            Control::Freeze(reply) => {
                let answer = match self.frozen {
                    Some(since) => Err(format!(
                        "already frozen ({}s ago)",
                        since.elapsed().as_secs()
                    )),
                    None => {
                        self.frozen = Some(Instant::now());
                        tracing::warn!(zone = %self.origin_text, "zone frozen: updates are answered SERVFAIL until zone-thaw");
                        Ok(
                            "frozen: updates are answered SERVFAIL (senders retry) until zone-thaw"
                                .to_string(),
                        )
                    }
                };
                let _ = reply.send(answer);
            }
            Control::Thaw(reply) => {
                let answer = match self.frozen.take() {
                    Some(since) => {
                        tracing::info!(zone = %self.origin_text, seconds = since.elapsed().as_secs(), "zone thawed");
                        Ok(format!("thawed after {}s", since.elapsed().as_secs()))
                    }
                    None => Err("not frozen".to_string()),
                };
                let _ = reply.send(answer);
            }
            Control::Keys(reply) => {
                let answer = if self.keyctx.is_none() {
                    Err("not a signed primary zone (no [zone.dnssec], or a secondary)".to_string())
                } else {
                    self.key_step(run)
                };
                let _ = reply.send(answer);
            }
            Control::ReloadFile {
                zone,
                force,
                mark,
                reply,
            } => {
                let done = self.reload_file(run, *zone, force);
                if let (Ok(_), Some(m)) = (&done, mark) {
                    if let Err(e) = self.journal.set_file_mark(&m) {
                        tracing::warn!(zone = %self.origin_text, "cannot record the zone file's mark: {e}");
                    }
                }
                let _ = reply.send(done);
            }
            Control::SignAll(reply) => {
                let _ = reply.send(self.sign_all(run));
            }
            Control::Refresh(reply) => {
                let answer = if self.primary.is_some() {
                    self.refresh_now(run);
                    Ok("SOA check of the primary started".to_string())
                } else {
                    Err("not a secondary zone (no [[zone]] primary)".to_string())
                };
                let _ = reply.send(answer);
            }
        }
    }

    fn facts(&self, run: &Run) -> ZoneFacts {
        let zone = self.state.as_ref().map(|s| &s.zone);
        let (refresh_at, expire_at) = run.secondary.deadlines_at();
        ZoneFacts {
            zone: self.origin_text.clone(),
            serial: zone.map(|z| z.serial()),
            signed: zone.is_some_and(|z| z.nsec3.is_some()),
            secondary: self.primary.is_some(),
            delegations: zone.map_or(0, |z| z.cuts.len()),
            journal_entries: self.journal.journal_len(),
            primary: self.primary.map(|p| p.to_string()),
            last_refresh: self
                .primary
                .is_some()
                .then(|| self.journal.last_refresh())
                .flatten(),
            next_refresh_in: secs_until(refresh_at),
            expires_in: secs_until(expire_at),
            notify_targets: self.notify.len(),
            notify_pending: run.notify.iter().filter(|t| t.is_pending()).count(),
            next_resign_in: secs_until(run.resign_at),
            frozen_for: self.frozen.map(|t| t.elapsed().as_secs()),
            earliest_signature_expiry: run.key_report.earliest_expiry,
            next_key_event: run.key_report.next_event.clone(),
            key_waiting: run.key_report.waiting.clone(),
            primary_behind: {
                let v = self
                    .primary_behind
                    .load(std::sync::atomic::Ordering::Relaxed);
                (v >> 32 != 0).then_some(v as u32)
            },
        }
    }
}
