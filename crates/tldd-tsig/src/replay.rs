//! The replay cache: every admitted signed request's MAC, kept until its
//! own (capped) window has closed; see the crate's `# Replay` section.
//! A module of its own because it is state with its own rules, while the
//! rest of the crate is stateless signing and verification.
use super::*;

/// The replay memory of one process: every admitted request's MAC, with
/// its answer once there is one, kept until the request's own (capped)
/// window has closed. See the module's `# Replay` for the rules; in short:
/// never forget early, refuse when full, vouch only for requests signed
/// after [`ReplayCache::not_before`].
///
/// A hash map by MAC for lookups and a min-heap by window end for expiry
/// (MACs shared between the two). About 300 bytes an entry with its
/// answer: some 180 MB at [`ReplayCache::CAPACITY`].
pub struct ReplayCache {
    inner: std::sync::Mutex<ReplayInner>,
    capacity: usize,
    not_before: u64,
}

#[derive(Default)]
struct ReplayInner {
    by_mac: std::collections::HashMap<Arc<[u8]>, Slot>,
    /// (window end, MAC), earliest first.
    expiry: std::collections::BinaryHeap<std::cmp::Reverse<(u64, Arc<[u8]>)>>,
    /// The latest window end let go of (0: none yet).
    forgotten_through: u64,
}

struct Slot {
    window_end: u64,
    /// None while the request is being applied.
    answer: Option<Box<[u8]>>,
}

/// What [`ReplayCache::admit`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Not seen before: it is now reserved (pending) for the caller, who
    /// must end it with [`ReplayCache::answered`] or
    /// [`ReplayCache::abandon`].
    New,
    /// The same request is being applied right now (a retransmission
    /// while the first copy is in flight): ask again later.
    Pending,
    /// Answered before: send this answer again (its ID is the request's).
    Answered(Vec<u8>),
    /// Not admitted.
    Refused(Refusal),
}

/// Why [`ReplayCache::admit`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Signed in or before the second this process started: it may have
    /// been applied by an earlier process, and this one cannot know
    /// (answer BADTIME).
    SignedBeforeStart,
    /// Its window closed at or before one the cache has already let go of
    /// (only when the clock went backwards; answer BADTIME).
    WindowClosed,
    /// [`ReplayCache::CAPACITY`] open windows already (answer REFUSED).
    Full,
}

impl Refusal {
    /// For logs and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::SignedBeforeStart => "signed_before_start",
            Refusal::WindowClosed => "window_closed",
            Refusal::Full => "replay_cache_full",
        }
    }
}

impl ReplayCache {
    /// 1000 updates/s over 600 s, the longest a default (300 s) window
    /// stays open after it opened (accepted 300 s before its time signed,
    /// kept until 300 s after). With a larger `tsig_max_fudge` the
    /// sustainable rate is `CAPACITY / (2 x fudge)`.
    pub const CAPACITY: usize = 600_000;

    /// The cache of a process that started at `started` (seconds since the
    /// epoch, [`now`] at the start): requests signed in that second or
    /// earlier are refused ([`Refusal::SignedBeforeStart`]).
    pub fn new(started: u64) -> ReplayCache {
        Self::with_capacity(started, Self::CAPACITY)
    }

    /// The cache of a process whose store is new (nothing was restored
    /// from it, so no earlier process applied anything through it): no
    /// time signed is too early.
    pub fn for_new_store() -> ReplayCache {
        ReplayCache {
            inner: Default::default(),
            capacity: Self::CAPACITY,
            not_before: 0,
        }
    }

    /// As [`ReplayCache::new`], holding at most `capacity` open windows.
    pub fn with_capacity(started: u64, capacity: usize) -> ReplayCache {
        ReplayCache {
            inner: Default::default(),
            capacity,
            not_before: started + 1,
        }
    }

    /// The earliest time signed admitted: the second after the start.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// Requests remembered (pending or answered) whose window is open.
    pub fn len(&self) -> usize {
        self.lock().by_mac.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Admits a verified request at our clock `now`: lets go of windows
    /// that closed before `now`, then answers from memory, refuses, or
    /// reserves the MAC until `v`'s window ends ([`Verified::window_end`]).
    pub fn admit(&self, v: &Verified, now: u64) -> Admit {
        let mut c = self.lock();
        c.expire(now);
        if let Some(slot) = c.by_mac.get(&v.mac[..]) {
            return match &slot.answer {
                Some(a) => Admit::Answered(a.to_vec()),
                None => Admit::Pending,
            };
        }
        if v.time < self.not_before {
            return Admit::Refused(Refusal::SignedBeforeStart);
        }
        let window_end = v.window_end();
        if window_end <= c.forgotten_through {
            return Admit::Refused(Refusal::WindowClosed);
        }
        if c.by_mac.len() >= self.capacity {
            return Admit::Refused(Refusal::Full);
        }
        let mac: Arc<[u8]> = v.mac.as_slice().into();
        c.expiry.push(std::cmp::Reverse((window_end, mac.clone())));
        c.by_mac.insert(
            mac,
            Slot {
                window_end,
                answer: None,
            },
        );
        Admit::New
    }

    /// Records the answer to a request [`Admit::New`] reserved: repeats of
    /// it get `answer` until its window ends.
    pub fn answered(&self, mac: &[u8], answer: &[u8]) {
        let mut c = self.lock();
        if let Some(slot) = c.by_mac.get_mut(mac) {
            slot.answer = Some(answer.into());
        }
    }

    /// Drops the reservation of a request that was certainly not applied
    /// (its repeat is then handled as new). A pending entry not abandoned
    /// stays until its window ends.
    pub fn abandon(&self, mac: &[u8]) {
        let mut c = self.lock();
        if c.by_mac.get(mac).is_some_and(|s| s.answer.is_none()) {
            c.by_mac.remove(mac);
        }
    }
}

impl ReplayInner {
    /// Lets go of every window that ended before `now`.
    fn expire(&mut self, now: u64) {
        while let Some(std::cmp::Reverse((end, _))) = self.expiry.peek() {
            if *end >= now {
                break;
            }
            let Some(std::cmp::Reverse((end, mac))) = self.expiry.pop() else {
                break;
            };
            self.forgotten_through = self.forgotten_through.max(end);
            if self.by_mac.get(&mac).is_some_and(|s| s.window_end == end) {
                self.by_mac.remove(&mac);
            }
        }
    }
}
