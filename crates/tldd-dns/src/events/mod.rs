//! The zone's event loop: one thread per zone owns version N, is the only
//! code that makes version N+1, and decides when anything happens to the
//! zone (as Knot's `events.h`).
//!
//! # Events
//! [`Event`]s arrive on the zone's queue from request handlers (an UPDATE,
//! a NOTIFY received) and from the loop's own I/O tasks (a refresh or a
//! NOTIFY that finished). Timed work is kept by the loop itself, one
//! deadline per kind ([`Timer`]): the signature refresh pass of a signed
//! zone, a secondary's SOA refresh/retry and its expiry, and each NOTIFY
//! target's next try. The loop waits for whichever comes first, the next
//! event or the earliest deadline.
//!
//! The loop never waits on the network: a secondary's SOA check and
//! transfer ([`crate::xfr::secondary`]) and one NOTIFY exchange
//! ([`crate::xfr::notify`]) run as tasks on the runtime and come back as
//! [`Event::Refreshed`] / [`Event::NotifyDone`]; what to do with their
//! result (apply, retry when, expire) is decided here. So every change,
//! and every decision about timing, has one owner per zone.
//!
//! # Group commit
//! The loop takes the first event and everything already queued behind it
//! (up to [`MAX_BATCH`]), runs every UPDATE of the batch in order on one
//! `Overlay` (each all-or-nothing, each seeing the ones before it, so the
//! result is the same as applying them one by one), turns the net change
//! into one [`Diff`] with one serial increment, applies it, commits it to
//! the journal (atomic batch + fsync), swaps the new version into the
//! served `ZoneSet`, and only then answers every update of the batch.
//! While one batch is being flushed the next one queues up, so under load
//! the fsync cost is shared; a lone update pays one fsync.
//!
//! If the journal write fails, nothing is published and every update of
//! the batch that would have succeeded gets SERVFAIL: an acknowledgement
//! always means durable.
//!
//! # Signed zones
//! When the zone is signed (it has an NSEC3 chain) and keys are
//! configured, the batch's version is re-signed incrementally
//! ([`crate::signer::resign`]) and the touched names are verified before
//! it is stored or served; a version that fails verification is dropped,
//! the batch answered SERVFAIL, and the previous version stays in service.
//! Verification checks every RRSIG's fields, keys and validity at the
//! touched names and their NSEC3 records, but runs the signature crypto
//! only on RRsets that differ from version N (which was verified): what
//! the batch re-signed ([`crate::signer::verify_changed`]). Signatures
//! nearing expiry are re-signed by [`Timer::Resign`] passes
//! ([`crate::signer::refresh`]), the first right after start.
//!
//! # Cost per version
//! A version shares all untouched shards with the previous one (see
//! [`tldd_zone::version`]); the loop's fixed work per version is the
//! shard-array copies, one sled batch plus fsync, and the swap. The
//! record count for metrics (a zone walk) runs every 10 s on its own
//! thread, not in the loop's way.
//!
//! # Secondary zones
//! Incoming transfers go through the same thread, the same `apply` and the
//! same journal, so a tldd secondary journals what it receives and can
//! serve IXFR in turn ([`secondary`]).
//!
//! # Start
//! A zone loaded from its file is first written to the journal by this
//! thread (a snapshot: 1.5 s for 1M delegations); it is served meanwhile,
//! and updates queue until the journal holds it.
//!
//! # Publishing
//! After a swap the zone's NOTIFY targets are due ([`notify`]) and zone
//! metrics are updated.
//!
//! # Control
//! `tldd ctl`'s zone commands arrive as [`Event::Control`] ([`control`]):
//! status questions are answered from the loop's own state, NOTIFY and
//! refresh orders run the timers' code.
//!
//! # Keys
//! A signed primary's key rollovers are the loop's too ([`keys`]): key
//! steps at start, at the state machine's due times and after `tldd keys`
//! commands make the versions that publish and withdraw keys, and switch
//! the keys updates and refresh passes sign with.
mod commit;
pub mod control;
pub mod keys;
pub mod notify;
mod reload;
pub mod secondary;

use crate::config::SerialPolicy;
use crate::journal::ZoneJournal;
use crate::update::edit::{Refusal, Update};
use crate::wire::ZoneSet;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_zone::{Diff, Zone, ZoneState};
use tokio::sync::{mpsc, oneshot};

/// Most updates folded into one version.
pub const MAX_BATCH: usize = 512;

/// What the zone's loop is asked to do.
pub enum Event {
    /// An RFC 2136 update (already authorised); the answer is the RCODE.
    Update {
        update: Update,
        received: Instant,
        reply: oneshot::Sender<Result<u32, Refusal>>,
    },
    /// Apply an incremental transfer (a secondary's, or a test's).
    Diffs {
        diffs: Vec<Diff>,
        reply: oneshot::Sender<Result<u32, String>>,
    },
    /// Replace the zone by a full transfer.
    Replace {
        zone: Box<Zone>,
        reply: oneshot::Sender<Result<u32, String>>,
    },
    /// Re-sign what nears expiry now ([`crate::signer::refresh`]), besides
    /// the loop's own timer.
    RefreshSignatures,
    /// Secondary: a NOTIFY from the primary arrived; refresh now.
    Notified,
    /// Secondary: the refresh task finished (SOA check, maybe a transfer).
    Refreshed(secondary::Outcome),
    /// A NOTIFY exchange with target `target` for `serial` finished.
    NotifyDone {
        target: usize,
        serial: u32,
        result: Result<(), String>,
    },
    /// A `tldd ctl` command ([`control`]).
    Control(control::Control),
    /// A poll of the `ksk_submission` servers for a ready KSK's DS
    /// finished ([`keys`]): `Ok` when every one serves it.
    ParentDs {
        tag: u16,
        result: Result<(), String>,
    },
    /// The server stops: finish what is queued before this, then end the
    /// loop (before the runtime whose timers it waits on goes away).
    Stop,
}

/// The loop's deadlines, one per kind of timed work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The next signature refresh pass of a signed zone.
    Resign,
    /// The next key step of a signed primary ([`keys`]).
    Keys,
    /// A secondary's next SOA refresh (or retry after a failure).
    Refresh,
    /// A secondary's SOA expire without contact to the primary.
    Expire,
    /// The next NOTIFY try for target `n`.
    Notify(usize),
}

/// What one zone's loop owns.
pub struct ZoneLoop {
    /// The zone came from its file: write it to the journal before anything
    /// else (queries are already served meanwhile; updates wait).
    pub needs_snapshot: bool,
    pub origin_text: String,
    /// Lower-case wire origin.
    pub origin: Box<[u8]>,
    pub state: Option<ZoneState>,
    pub journal: ZoneJournal,
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub policy: SerialPolicy,
    /// When zone record counts were last published to metrics.
    pub counted: Option<Instant>,
    /// Keys for re-signing updates to a signed zone (`[zone.dnssec]`).
    pub resigner: Option<crate::signer::resign::Resigner>,
    /// How often a signature refresh pass runs (signed primaries).
    pub resign_every: Option<Duration>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where the loop's I/O tasks run.
    pub rt: tokio::runtime::Handle,
    /// `[[zone]] notify` targets, and the key NOTIFY is signed with.
    pub notify: Vec<SocketAddr>,
    pub transfer_key: Option<Arc<tldd_tsig::Key>>,
    /// `[[zone]] primary`: this zone is a secondary.
    pub primary: Option<SocketAddr>,
    /// A secondary's expire deadline in unix seconds (0: none), which the
    /// answer path reads for EDNS EXPIRE ([`crate::wire::ZoneSet::with_expire_clock`]).
    pub expire_clock: Arc<std::sync::atomic::AtomicU64>,
    /// A secondary whose primary serves a serial behind ours: that serial
    /// with bit 32 set (0: not behind). Shared with the zone's runtime
    /// record for `/health` ([`crate::runtime::ZoneRuntime::primary_behind`]).
    pub primary_behind: Arc<std::sync::atomic::AtomicU64>,
    /// `tldd ctl zone-freeze`: since when updates are answered SERVFAIL.
    pub frozen: Option<Instant>,
    /// A signed primary's key lifecycle ([`keys`]).
    pub keyctx: Option<keys::KeyCtx>,
}

/// The loop's state besides the zone: deadlines and what is in flight.
struct Run {
    tx: mpsc::WeakSender<Event>,
    resign_at: Option<Instant>,
    /// The next key step.
    keys_at: Option<Instant>,
    /// A roll replaces signatures: refresh passes run every second, and a
    /// key step follows the pass that leaves nothing pending.
    replacing: bool,
    /// A parent DS poll is in flight.
    ds_poll: bool,
    /// What the last key step found, for `tldd ctl zone-status`.
    key_report: keys::KeyReport,
    secondary: secondary::State,
    notify: Vec<notify::Target>,
}

impl Run {
    fn deadlines(&self) -> impl Iterator<Item = (Instant, Timer)> + '_ {
        let r = self.resign_at.map(|t| (t, Timer::Resign));
        let k = self.keys_at.map(|t| (t, Timer::Keys));
        let s = self.secondary.deadlines();
        let n = self
            .notify
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.next_try().map(|at| (at, Timer::Notify(i))));
        r.into_iter().chain(k).chain(s).chain(n)
    }

    fn next_deadline(&self) -> Option<(Instant, Timer)> {
        self.deadlines().min_by_key(|(t, _)| *t)
    }
}

impl ZoneLoop {
    /// Starts the loop's thread; returns its queue and the thread (which
    /// ends after an [`Event::Stop`] or when every sender is gone).
    pub fn spawn(self) -> std::io::Result<(mpsc::Sender<Event>, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let weak = tx.downgrade();
        let h = std::thread::Builder::new()
            .name(format!("zone-{}", self.origin_text))
            .spawn(move || self.run(rx, weak))?;
        Ok((tx, h))
    }

    fn run(mut self, mut rx: mpsc::Receiver<Event>, tx: mpsc::WeakSender<Event>) {
        if self.needs_snapshot {
            self.write_initial_snapshot();
        }
        self.metrics
            .journal_entries
            .with_label_values(&[&self.origin_text])
            .set(self.journal.journal_len() as i64);
        let now = Instant::now();
        let mut run = Run {
            tx,
            resign_at: self.resign_every.map(|_| now),
            keys_at: None,
            replacing: false,
            ds_poll: false,
            key_report: keys::KeyReport::default(),
            secondary: secondary::State::start(self.primary.is_some(), &self.journal, now),
            notify: self
                .notify
                .iter()
                .map(|_| notify::Target::default())
                .collect(),
        };
        // Before any update is signed: the served keys as the key state
        // says (a key generated while the server was down is published,
        // never used unpublished).
        if self.keyctx.is_some() {
            let _ = self.key_step(&mut run);
        }
        loop {
            let first = match run.next_deadline() {
                None => match rx.blocking_recv() {
                    Some(e) => e,
                    None => return,
                },
                Some((at, timer)) => {
                    let wait = tokio::time::Instant::from_std(at);
                    match self
                        .rt
                        .block_on(async { tokio::time::timeout_at(wait, rx.recv()).await })
                    {
                        Ok(Some(e)) => e,
                        Ok(None) => return,
                        Err(_) => {
                            self.on_timer(&mut run, timer);
                            continue;
                        }
                    }
                }
            };
            let mut events = vec![first];
            while events.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(e) => events.push(e),
                    Err(_) => break,
                }
            }
            let stop = events.iter().position(|e| matches!(e, Event::Stop));
            if let Some(i) = stop {
                events.truncate(i);
            }
            self.handle(&mut run, events);
            if stop.is_some() {
                tracing::debug!(zone = %self.origin_text, "zone loop stopped");
                return;
            }
        }
    }

    /// Handles a batch of events in order; consecutive updates are
    /// committed as one version.
    fn handle(&mut self, run: &mut Run, events: Vec<Event>) {
        let mut updates = Vec::new();
        for event in events {
            match event {
                Event::Update {
                    update,
                    received,
                    reply,
                } => {
                    updates.push((update, received, reply));
                    continue;
                }
                _ => self.commit_updates(run, std::mem::take(&mut updates)),
            }
            match event {
                Event::Update { .. } => {}
                Event::Diffs { diffs, reply } => {
                    let _ = reply.send(self.apply_diffs(run, &diffs));
                }
                Event::Replace { zone, reply } => {
                    let _ = reply.send(self.replace(run, *zone));
                }
                Event::RefreshSignatures => {
                    self.refresh_signatures(run);
                }
                Event::Notified => self.refresh_now(run),
                Event::Refreshed(outcome) => self.refreshed(run, outcome),
                Event::NotifyDone {
                    target,
                    serial,
                    result,
                } => self.notify_done(run, target, serial, result),
                Event::Control(c) => self.control(run, c),
                Event::ParentDs { tag, result } => self.parent_ds(run, tag, result),
                Event::Stop => {}
            }
        }
        self.commit_updates(run, updates);
    }

    fn on_timer(&mut self, run: &mut Run, timer: Timer) {
        match timer {
            Timer::Resign => {
                run.resign_at = self.resign_every.map(|every| Instant::now() + every);
                self.probe_signer();
                let pending = self.refresh_signatures(run);
                if run.replacing {
                    // A roll replaces signatures first, a pass a second;
                    // once none is pending the key step (a zone walk)
                    // confirms it and moves the keys on.
                    if pending > 0 {
                        run.resign_at = Some(Instant::now() + Duration::from_secs(1));
                    } else {
                        let _ = self.key_step(run);
                    }
                }
            }
            Timer::Keys => {
                let _ = self.key_step(run);
            }
            Timer::Refresh => self.refresh_now(run),
            Timer::Expire => self.expire(run),
            Timer::Notify(i) => self.notify_try(run, i),
        }
    }

    fn write_initial_snapshot(&mut self) {
        let Some(state) = &self.state else { return };
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
