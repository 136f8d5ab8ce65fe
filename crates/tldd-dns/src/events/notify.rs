//! NOTIFY as events of the zone loop: every published version makes each
//! `notify` target due; a try is one exchange run as a task
//! ([`crate::xfr::notify::send`]) whose result comes back as
//! [`super::Event::NotifyDone`]. No answer: the next try
//! after 1, 2, 4, 8 s, five tries in all. A newer version published while
//! a target is being notified restarts its count with the new serial (only
//! the latest matters, RFC 1996 §4.7); one exchange per target is in
//! flight at a time.
use super::{Event, Run, ZoneLoop};
use std::time::{Duration, Instant};

/// Tries per version before giving up until the next one.
const TRIES: u32 = 5;

/// One NOTIFY target's state.
#[derive(Debug, Default)]
pub struct Target {
    /// The serial still to be acknowledged.
    pending: Option<u32>,
    /// Tries that got no (good) answer for `pending`.
    failed: u32,
    /// When the next try is due.
    due: Option<Instant>,
    in_flight: bool,
}

impl Target {
    /// A serial not yet acknowledged by this target.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The deadline the loop waits for (none while a try is in flight).
    pub fn next_try(&self) -> Option<Instant> {
        if self.in_flight {
            None
        } else {
            self.due
        }
    }
}

impl ZoneLoop {
    /// A new version is served: every target is due now.
    pub(super) fn notify_all(&mut self, run: &mut Run, serial: u32) {
        let now = Instant::now();
        for t in &mut run.notify {
            t.pending = Some(serial);
            t.failed = 0;
            t.due = Some(now);
        }
    }

    /// Starts one exchange with target `i`.
    pub(super) fn notify_try(&mut self, run: &mut Run, i: usize) {
        let (Some(t), Some(&addr)) = (run.notify.get_mut(i), self.notify.get(i)) else {
            return;
        };
        let Some(serial) = t.pending else {
            t.due = None;
            return;
        };
        t.due = None;
        t.in_flight = true;
        let soa = self.state.as_ref().and_then(|s| {
            s.zone
                .soa()
                .and_then(|set| set.rdatas().next().map(|rd| (set.ttl, rd.to_vec())))
        });
        self.metrics
            .notify
            .with_label_values(&[&self.origin_text, "sent"])
            .inc();
        let (origin, key, tx) = (
            self.origin.clone(),
            self.transfer_key.clone(),
            run.tx.clone(),
        );
        self.rt.spawn(async move {
            let result = crate::xfr::notify::send(addr, &origin, soa, key).await;
            if let Some(tx) = tx.upgrade() {
                let _ = tx
                    .send(Event::NotifyDone {
                        target: i,
                        serial,
                        result,
                    })
                    .await;
            }
        });
    }

    /// An exchange with target `i` for `serial` finished.
    pub(super) fn notify_done(
        &mut self,
        run: &mut Run,
        i: usize,
        serial: u32,
        result: Result<(), String>,
    ) {
        let (Some(t), Some(addr)) = (run.notify.get_mut(i), self.notify.get(i)) else {
            return;
        };
        t.in_flight = false;
        let zone = &self.origin_text;
        if t.pending != Some(serial) {
            // A newer version is waiting: it was made due when published.
            return;
        }
        match result {
            Ok(()) => {
                self.metrics
                    .notify
                    .with_label_values(&[zone, "acked"])
                    .inc();
                tracing::debug!(target = %addr, zone = %zone, serial, "NOTIFY acknowledged");
                t.pending = None;
            }
            Err(e) => {
                t.failed += 1;
                if t.failed >= TRIES {
                    self.metrics
                        .notify
                        .with_label_values(&[zone, "failed"])
                        .inc();
                    tracing::warn!(target = %addr, zone = %zone, serial, "NOTIFY failed after {TRIES} tries: {e}");
                    t.pending = None;
                } else {
                    t.due = Some(Instant::now() + Duration::from_secs(1 << (t.failed - 1)));
                }
            }
        }
    }
}
