//! A secondary zone's timers as events of the zone loop (RFC 1034 §4.3.5,
//! RFC 1996): refresh at start, on NOTIFY ([`Event::Notified`]) and on the
//! SOA refresh timer; after a failure again on the SOA retry timer; past
//! SOA expire without contact to the primary the zone expires (its names
//! are answered SERVFAIL, transfers out stop) until a refresh succeeds and
//! brings a full copy.
//!
//! Expire counts from the last successful refresh, which the journal
//! records, so the clock keeps running across a restart (from start-up
//! when nothing is recorded). The refresh itself — SOA query and transfer
//! — is a task ([`crate::xfr::secondary::check`]); its
//! [`Outcome`] comes back as [`Event::Refreshed`] and is applied here
//! through the same commit path as every other change, so a tldd secondary
//! journals what it receives and serves IXFR in turn. One refresh is in
//! flight at a time; a NOTIFY during one asks for another right after it.
//!
//! An IXFR is first tried strictly on a copy
//! ([`tldd_zone::ZoneState::applied_strictly`]): one that removes a record
//! this copy does not hold means the two copies differ, and the next
//! refresh, right away, asks for a full transfer instead.
//!
//! Timer values are clamped to [5 s, 1 day] for refresh/retry so a bad SOA
//! cannot make the loop spin or sleep forever.
use super::{Event, Run, Timer, ZoneLoop};
use crate::journal::ZoneJournal;
use crate::xfr::client::Fetched;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tldd_zone::diff::soa_rec;

use crate::xfr::secondary::soa_timers;
pub use crate::xfr::secondary::Outcome;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn clamp(s: u32) -> Duration {
    Duration::from_secs(u64::from(s).clamp(5, 86400))
}

/// A secondary zone's refresh state (inert for a primary zone).
#[derive(Debug)]
pub struct State {
    refresh_at: Option<Instant>,
    expire_at: Option<Instant>,
    in_flight: bool,
    /// A NOTIFY arrived while a refresh was in flight.
    again: bool,
    /// Past expire: not served until a full transfer.
    withdrawn: bool,
    /// The last IXFR did not apply cleanly: the next refresh asks for AXFR.
    need_axfr: bool,
    /// Time without the primary before this start.
    carried: Duration,
    armed: bool,
}

impl State {
    /// `tldd ctl zone-retransfer`: the next refresh is a full transfer.
    pub(super) fn force_axfr(&mut self) {
        self.need_axfr = true;
    }

    /// The next SOA check and the expiry, for `tldd ctl zone-status`.
    pub(super) fn deadlines_at(&self) -> (Option<Instant>, Option<Instant>) {
        (self.refresh_at, self.expire_at)
    }

    pub(super) fn start(enabled: bool, journal: &ZoneJournal, now: Instant) -> State {
        let carried = if enabled {
            journal
                .last_refresh()
                .map(|t| Duration::from_secs(unix_now().saturating_sub(t)))
                .unwrap_or_default()
        } else {
            Duration::ZERO
        };
        State {
            refresh_at: enabled.then_some(now),
            expire_at: None,
            in_flight: false,
            again: false,
            withdrawn: false,
            need_axfr: false,
            carried,
            armed: false,
        }
    }

    pub(super) fn deadlines(&self) -> impl Iterator<Item = (Instant, Timer)> {
        let r = if self.in_flight {
            None
        } else {
            self.refresh_at
        };
        r.map(|t| (t, Timer::Refresh))
            .into_iter()
            .chain(self.expire_at.map(|t| (t, Timer::Expire)))
    }
}

impl ZoneLoop {
    /// Starts a refresh now (timer or NOTIFY), unless one is in flight.
    pub(super) fn refresh_now(&mut self, run: &mut Run) {
        let Some(primary) = self.primary else { return };
        let st = &mut run.secondary;
        if !st.armed {
            // First refresh: expire counts from the last recorded contact.
            st.armed = true;
            let expire = self.served_timers().2;
            if self.state.is_some() && expire != u32::MAX {
                st.expire_at = Some(
                    (Instant::now() + Duration::from_secs(expire.into()))
                        .checked_sub(st.carried)
                        .unwrap_or_else(Instant::now),
                );
            }
            self.publish_expire(st.expire_at);
        }
        if st.in_flight {
            st.again = true;
            return;
        }
        st.in_flight = true;
        st.refresh_at = None;
        let have = if st.withdrawn || st.need_axfr {
            None
        } else {
            self.state.as_ref().and_then(|s| soa_rec(&s.zone))
        };
        let (origin, text, key) = (
            self.origin.clone(),
            self.origin_text.clone(),
            self.transfer_key.clone(),
        );
        let (m, tx) = (self.metrics.clone(), run.tx.clone());
        self.rt.spawn(async move {
            let out = crate::xfr::secondary::check(primary, &origin, &text, &key, have, &m).await;
            if let Some(tx) = tx.upgrade() {
                let _ = tx.send(Event::Refreshed(out)).await;
            }
        });
    }

    /// A refresh task finished: apply what it brought, set the timers.
    pub(super) fn refreshed(&mut self, run: &mut Run, outcome: Outcome) {
        run.secondary.in_flight = false;
        let zone = self.origin_text.clone();
        let behind = match &outcome {
            Outcome::PrimaryBehind { ours, theirs } => Some((*ours, *theirs)),
            _ => None,
        };
        let result = match outcome {
            Outcome::UpToDate => Ok("uptodate"),
            Outcome::PrimaryBehind { ours, theirs } => {
                if self
                    .primary_behind
                    .load(std::sync::atomic::Ordering::Relaxed)
                    != u64::from(theirs) | 1 << 32
                {
                    tracing::warn!(zone = %zone, primary = ?self.primary, ours, theirs, "the primary's serial is behind ours (RFC 1982): it lost its data or loaded an older file; serving ours ({ours}); `tldd ctl zone-retransfer` takes the primary's copy");
                }
                Ok("primary-behind")
            }
            Outcome::Failed(e) => Err(e),
            Outcome::Fetched(Fetched::UpToDate) => Ok("uptodate"),
            Outcome::Fetched(Fetched::Full(z)) => self
                .replace(run, *z)
                .map(|s| (s, "axfr"))
                .map(log_transfer(&zone)),
            Outcome::Fetched(Fetched::Incremental(d)) => match self.ixfr_applies(&d) {
                Ok(()) => self
                    .apply_diffs(run, &d)
                    .map(|s| (s, "ixfr"))
                    .map(log_transfer(&zone)),
                Err(e) => {
                    // Our copy and the primary's differ: only a full
                    // transfer brings them together. Right away.
                    tracing::warn!(zone = %zone, "IXFR does not apply cleanly ({e}); falling back to AXFR");
                    run.secondary.need_axfr = true;
                    run.secondary.again = true;
                    Err(format!("IXFR does not apply cleanly: {e}"))
                }
            },
        };
        if matches!(result, Ok("axfr")) {
            run.secondary.need_axfr = false;
        }
        if result.is_ok() {
            let flag = behind.map_or(0, |(_, theirs)| u64::from(theirs) | 1 << 32);
            self.primary_behind
                .store(flag, std::sync::atomic::Ordering::Relaxed);
            self.metrics
                .secondary_primary_behind
                .with_label_values(&[&zone])
                .set(i64::from(behind.is_some()));
        }
        let m = self.metrics.clone();
        let now = Instant::now();
        let st = &mut run.secondary;
        match result {
            Ok(kind) => {
                st.carried = Duration::ZERO;
                if let Err(e) = self.journal.set_last_refresh(unix_now()) {
                    tracing::warn!(zone = %zone, "recording the refresh time: {e:#}");
                }
                st.withdrawn = false;
                m.secondary_expired.with_label_values(&[&zone]).set(0);
                m.secondary_transfers
                    .with_label_values(&[&zone, kind, "ok"])
                    .inc();
                m.secondary_lag.with_label_values(&[&zone]).set(0);
                let (refresh, _, expire) = self.served_timers();
                let st = &mut run.secondary;
                st.refresh_at = Some(now + clamp(refresh));
                st.expire_at = (self.state.is_some() && expire != u32::MAX)
                    .then(|| now + Duration::from_secs(expire.into()));
                self.publish_expire(st.expire_at);
            }
            Err(e) => {
                tracing::warn!(zone = %zone, primary = ?self.primary, "refresh failed: {e}");
                m.secondary_transfers
                    .with_label_values(&[&zone, "refresh", "error"])
                    .inc();
                let retry = self.served_timers().1;
                run.secondary.refresh_at = Some(now + clamp(retry));
            }
        }
        if std::mem::take(&mut run.secondary.again) {
            run.secondary.refresh_at = Some(now);
        }
    }

    /// SOA expire passed without a successful refresh.
    pub(super) fn expire(&mut self, run: &mut Run) {
        let st = &mut run.secondary;
        st.expire_at = None;
        self.publish_expire(Some(Instant::now()));
        if st.withdrawn || self.state.is_none() {
            return;
        }
        tracing::error!(zone = %self.origin_text, "SOA expire reached without contact to the primary; zone expired, answering SERVFAIL");
        let origin = self.origin.clone();
        self.zones.rcu(|zs| zs.expire(&origin));
        self.metrics
            .secondary_expired
            .with_label_values(&[&self.origin_text])
            .set(1);
        st.withdrawn = true;
    }

    /// Whether every diff of an IXFR applies strictly to the version held
    /// (no removal of a record we do not have), tried on a copy first so a
    /// bad transfer changes nothing.
    fn ixfr_applies(
        &self,
        diffs: &[tldd_zone::diff::Diff],
    ) -> Result<(), tldd_zone::diff::ApplyError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let mut probe = state.clone();
        for d in diffs {
            probe = probe.applied_strictly(d)?;
        }
        Ok(())
    }

    /// Tells the answer path when this zone expires, for EDNS EXPIRE
    /// (RFC 7314 §3: a secondary answers the time it has left).
    fn publish_expire(&self, at: Option<Instant>) {
        let unix = match at {
            Some(t) => unix_now() + t.saturating_duration_since(Instant::now()).as_secs(),
            None => 0,
        };
        self.expire_clock
            .store(unix, std::sync::atomic::Ordering::Relaxed);
    }

    /// (refresh, retry, expire) of the version this loop holds.
    fn served_timers(&self) -> (u32, u32, u32) {
        soa_timers(self.state.as_ref().and_then(|s| soa_rec(&s.zone)).as_ref())
    }
}

fn log_transfer(zone: &str) -> impl Fn((u32, &'static str)) -> &'static str + '_ {
    move |(serial, kind)| {
        tracing::info!(zone = %zone, serial, kind, "transferred from the primary");
        kind
    }
}
