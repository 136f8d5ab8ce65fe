//! What stands between the EPP port and an anonymous client: limits on
//! connections that have not logged in yet, their deadlines, and a login
//! backoff that holds across connections.
//!
//! # Why
//!
//! EPP's first line of authentication is the `<login>` (password, client
//! certificate fingerprint, source network; [`super::Epp`]). Before it, a
//! connection is anonymous, and everything it holds is held for free: a
//! connection slot, a TLS handshake (CPU), a task, and an Argon2 check per
//! `<login>` tried. Without limits, `epp_max_connections` plain TCP
//! connections that send nothing kept every registrar out (2502) for as long
//! as the handshake timeout, and password guessing was limited per
//! connection only.
//!
//! # Connections before login ([`PreLogin`])
//!
//! Every accepted connection takes a [`Ticket`] in the pre-login pool
//! *before* its TLS handshake, and gives it back when its `<login>`
//! succeeds (or when it closes). Logged-in sessions therefore never count
//! against the pool; they are bounded by `epp_max_connections` and the
//! per-registrar session limit as before.
//!
//! - **Per source** (`epp_prelogin_per_address`, default 8: twice the
//!   default number of sessions of a registrar, so a registrar can
//!   reconnect its whole pool while old connections that failed to log in
//!   wait out their deadline): one IPv4 address, or one IPv6 /64
//!   (a single customer usually holds a whole /64), holds at most that many
//!   tickets. The next connection from it is closed at once, before any
//!   TLS work.
//! - **In all** (`epp_prelogin_max`, default 64): when the pool is full, a
//!   connection from a source holding *fewer* tickets than the heaviest
//!   source evicts the oldest connection of that heaviest source (ties: the
//!   oldest connection); otherwise it is closed at once. So a flood from a
//!   few addresses can never take the place of a registrar's connection: a
//!   source with no connection waiting always gets in. To push a registrar's
//!   connection out, an attacker needs about `epp_prelogin_max` distinct
//!   sources, each holding one connection, and must cycle through all of
//!   them within the few milliseconds the registrar needs from connect to
//!   `<login>` (the newest connection of a source is evicted last).
//! - An evicted connection is closed; if its TLS handshake is done it gets
//!   2502 with the reason first.
//!
//! `epp_prelogin_max` is clamped to `epp_max_connections`; set it well
//! below, so that anonymous connections alone can never fill the server.
//!
//! # Deadlines
//!
//! - `epp_handshake_timeout` (default 5 s): from accept to the end of the
//!   TLS handshake; then the connection is closed without a word.
//! - `epp_login_timeout` (default 20 s): from the greeting to a successful
//!   `<login>`, covering every read and write in between (a client that
//!   sends `<hello>`s and never reads the answers is held to it as well);
//!   then 2500 "login timeout" is sent, if it can be within a second, and
//!   the connection is closed. A command already running (an Argon2 check)
//!   is finished first: its answer and the session count stay consistent.
//!
//! # Login backoff ([`LoginGuard`])
//!
//! Failed logins (2200) are counted in two tables, beside the per-connection
//! limit `epp_max_login_failures`:
//!
//! - **per source** (IPv4 address or IPv6 /64): every failure counts;
//! - **per client ID**: only failures that presented one of that
//!   registrar's own certificates (a password guessed by someone holding
//!   the registrar's private key). A login with another certificate or
//!   none can never succeed, so a guess without the key learns nothing, and
//!   not counting it means an attacker without the key cannot lock a
//!   registrar out: a registrar is only ever delayed by its own key.
//!
//! After `epp_login_failures_before_backoff` (default 10) failures of one
//! key, every further `<login>` covered by it is refused with 2501 and a
//! reason naming the backoff and the seconds left (no password is checked,
//! so this costs no Argon2 work) for a window of `epp_login_backoff_initial`
//! (default 1 s), doubled with each further failure up to
//! `epp_login_backoff_max` (default 10 min). A refused attempt does not
//! count as a failure. A key without failures for `4 × epp_login_backoff_max`
//! starts over, and a successful login clears both the client ID's and the
//! source's counts. The per-client-ID lockout is therefore bounded twice:
//! it needs the registrar's key to start, and it never lasts more than
//! `epp_login_backoff_max` after the last failure.
//!
//! # Limits of this build
//!
//! - The tables are bounded: [`TRACKED_SOURCES`] sources and
//!   [`TRACKED_CLIDS`] client IDs; when one is full, the entry with the
//!   oldest last failure is evicted (forgotten). An attacker spraying more
//!   source addresses than that makes the per-source table forget its
//!   oldest entries; the per-client-ID table only ever holds existing
//!   registrars (a certificate on the record was presented), so it is not
//!   flushed that way.
//! - All state is in memory and per process: a restart forgets it, and
//!   several SRS nodes each count on their own.
//! - Before the handshake only the source address is known: a distributed
//!   flood with more sources than `epp_prelogin_max` can still slow
//!   registrars' logins (never their logged-in sessions); filtering the EPP
//!   port to registrars' networks is the operator's remedy.
use prometheus::IntGauge;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Sources (IPv4 addresses, IPv6 /64s) kept in the login-failure table.
pub const TRACKED_SOURCES: usize = 16_384;
/// Client IDs kept in the login-failure table.
pub const TRACKED_CLIDS: usize = 4_096;

pub use crate::config::GuardSettings;

/// Both halves, as [`super::Epp`] holds them.
pub struct Guard {
    pub settings: GuardSettings,
    pub prelogin: PreLogin,
    pub login: LoginGuard,
}

impl Guard {
    /// `gauge` follows the number of connections waiting to log in.
    pub fn new(settings: GuardSettings, gauge: IntGauge) -> Guard {
        Guard {
            prelogin: PreLogin::new(settings.prelogin_per_address, settings.prelogin_max, gauge),
            login: LoginGuard::new(settings.clone()),
            settings,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What limits count: an IPv4 address (IPv4-mapped IPv6 included) or the
/// /64 of an IPv6 address.
pub fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        },
    }
}

// ---------------------------------------------------------------------------
// Connections before login

/// The pool of connections that have not logged in yet.
pub struct PreLogin {
    shared: Arc<Pool>,
}

struct Pool {
    per_source: usize,
    max: usize,
    gauge: IntGauge,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    /// Per source, oldest first.
    by_source: HashMap<IpAddr, Vec<Waiting>>,
    total: usize,
    next_id: u64,
}

struct Waiting {
    id: u64,
    evict: Arc<Notify>,
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its source already holds `epp_prelogin_per_address` connections.
    PerAddress,
    /// The pool is full and its source holds as many as any other.
    Full,
}

impl Refused {
    /// The `reason` label of `tldd_srs_epp_prelogin_refused_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refused::PerAddress => "per_address",
            Refused::Full => "prelogin_max",
        }
    }
}

/// An admitted connection, and the source it pushed out, if any.
pub struct Admitted {
    pub ticket: Ticket,
    pub evicted: Option<IpAddr>,
}

/// A connection's place in the pool, given back on drop.
pub struct Ticket {
    pool: Arc<Pool>,
    source: IpAddr,
    id: u64,
    evict: Arc<Notify>,
}

impl Ticket {
    /// Completes when the pool evicts this connection for a newcomer.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }

    pub fn source(&self) -> IpAddr {
        self.source
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut st = lock(&self.pool.state);
        let Some(list) = st.by_source.get_mut(&self.source) else {
            return;
        };
        let Some(i) = list.iter().position(|w| w.id == self.id) else {
            return; // evicted: already out of the pool
        };
        list.remove(i);
        if list.is_empty() {
            st.by_source.remove(&self.source);
        }
        st.total -= 1;
        self.pool.gauge.set(st.total as i64);
    }
}

impl PreLogin {
    pub fn new(per_source: usize, max: usize, gauge: IntGauge) -> PreLogin {
        PreLogin {
            shared: Arc::new(Pool {
                per_source: per_source.max(1),
                max: max.max(1),
                gauge,
                state: Mutex::new(PoolState::default()),
            }),
        }
    }

    /// Connections waiting to log in.
    pub fn len(&self) -> usize {
        lock(&self.shared.state).total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Admits a connection from `ip`, evicting the oldest connection of the
    /// heaviest source when the pool is full and that source holds more
    /// than `ip`'s.
    pub fn admit(&self, ip: IpAddr) -> Result<Admitted, Refused> {
        let source = source_of(ip);
        let pool = &self.shared;
        let mut st = lock(&pool.state);
        let mine = st.by_source.get(&source).map_or(0, Vec::len);
        if mine >= pool.per_source {
            return Err(Refused::PerAddress);
        }
        let mut evicted = None;
        if st.total >= pool.max {
            let victim = st
                .by_source
                .iter()
                .filter(|(_, v)| v.len() > mine)
                .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.1[0].id.cmp(&a.1[0].id)))
                .map(|(k, _)| *k);
            let Some(victim) = victim else {
                return Err(Refused::Full);
            };
            if let Some(list) = st.by_source.get_mut(&victim) {
                let w = list.remove(0);
                if list.is_empty() {
                    st.by_source.remove(&victim);
                }
                st.total -= 1;
                w.evict.notify_one();
                evicted = Some(victim);
            }
        }
        let id = st.next_id;
        st.next_id += 1;
        let evict = Arc::new(Notify::new());
        st.by_source.entry(source).or_default().push(Waiting {
            id,
            evict: evict.clone(),
        });
        st.total += 1;
        pool.gauge.set(st.total as i64);
        Ok(Admitted {
            ticket: Ticket {
                pool: pool.clone(),
                source,
                id,
                evict,
            },
            evicted,
        })
    }
}

// ---------------------------------------------------------------------------
// Login backoff

/// A `<login>` refused without checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backoff {
    /// Too many failures from this source; the time left.
    Source(Duration),
    /// Too many failures with this registrar's certificate; the time left.
    ClientId(Duration),
}

impl Backoff {
    /// The `scope` label of `tldd_srs_epp_login_backoff_total`.
    pub fn scope(&self) -> &'static str {
        match self {
            Backoff::Source(_) => "address",
            Backoff::ClientId(_) => "clid",
        }
    }

    /// The reason sent with 2501.
    pub fn reason(&self) -> String {
        let (left, whom) = match self {
            Backoff::Source(d) => (d, "from this address"),
            Backoff::ClientId(d) => (d, "for this client ID"),
        };
        let secs = left.as_millis().div_ceil(1000).max(1);
        format!("login backoff: too many failed logins {whom}; try again in {secs} s")
    }
}

/// Failed logins per source and per client ID, across connections.
pub struct LoginGuard {
    settings: GuardSettings,
    sources: Mutex<Table<IpAddr>>,
    clids: Mutex<Table<String>>,
}

impl LoginGuard {
    pub fn new(settings: GuardSettings) -> LoginGuard {
        LoginGuard {
            settings,
            sources: Mutex::new(Table::new(TRACKED_SOURCES)),
            clids: Mutex::new(Table::new(TRACKED_CLIDS)),
        }
    }

    /// Whether a `<login>` for `clid` from `peer` may be checked now.
    pub fn check(&self, peer: IpAddr, clid: &str, now: Instant) -> Result<(), Backoff> {
        if let Some(d) = lock(&self.sources).locked(&source_of(peer), now) {
            return Err(Backoff::Source(d));
        }
        if let Some(d) = lock(&self.clids).locked(clid, now) {
            return Err(Backoff::ClientId(d));
        }
        Ok(())
    }

    /// Counts a failed login from `peer`; `clid` is given when the
    /// connection presented one of that registrar's certificates. Returns
    /// the longest lockout this failure started, if any.
    pub fn failed(&self, peer: IpAddr, clid: Option<&str>, now: Instant) -> Option<Backoff> {
        let s = &self.settings;
        let by_source = lock(&self.sources)
            .fail(source_of(peer), now, s)
            .map(Backoff::Source);
        let by_clid = clid
            .and_then(|c| lock(&self.clids).fail(c.to_string(), now, s))
            .map(Backoff::ClientId);
        match (by_source, by_clid) {
            (Some(Backoff::Source(a)), Some(Backoff::ClientId(b))) if a >= b => {
                Some(Backoff::Source(a))
            }
            (a, b) => b.or(a),
        }
    }

    /// A successful login clears its source's and its client ID's counts.
    pub fn succeeded(&self, peer: IpAddr, clid: &str) {
        lock(&self.sources).clear(&source_of(peer));
        lock(&self.clids).clear(clid);
    }
}

struct Entry {
    failures: u32,
    last: Instant,
    until: Option<Instant>,
    seq: u64,
}

/// A bounded map of failure counts; full, it forgets the entry whose last
/// failure is oldest.
struct Table<K> {
    cap: usize,
    map: HashMap<K, Entry>,
    /// `seq` of each entry's last failure -> key: the eviction order.
    order: BTreeMap<u64, K>,
    seq: u64,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(cap: usize) -> Table<K> {
        Table {
            cap: cap.max(1),
            map: HashMap::new(),
            order: BTreeMap::new(),
            seq: 0,
        }
    }

    fn locked<Q>(&self, k: &Q, now: Instant) -> Option<Duration>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let until = self.map.get(k)?.until?;
        let left = until.saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }

    /// Counts a failure; returns the lockout it started.
    fn fail(&mut self, k: K, now: Instant, s: &GuardSettings) -> Option<Duration> {
        self.seq += 1;
        let seq = self.seq;
        let forget = s.backoff_max.saturating_mul(4);
        if let Some(e) = self.map.get_mut(&k) {
            self.order.remove(&e.seq);
            if now.saturating_duration_since(e.last) > forget {
                e.failures = 0;
                e.until = None;
            }
        } else {
            if self.map.len() >= self.cap {
                if let Some((_, old)) = self.order.pop_first() {
                    self.map.remove(&old);
                }
            }
            self.map.insert(
                k.clone(),
                Entry {
                    failures: 0,
                    last: now,
                    until: None,
                    seq,
                },
            );
        }
        self.order.insert(seq, k.clone());
        let e = self.map.get_mut(&k)?;
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        e.seq = seq;
        let window = window(e.failures, s)?;
        e.until = Some(now + window);
        Some(window)
    }

    fn clear<Q>(&mut self, k: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(e) = self.map.remove(k) {
            self.order.remove(&e.seq);
        }
    }
}

/// The lockout after the `failures`-th failure: none before
/// `failures_before_backoff`, then the initial window doubled per further
/// failure, at most `backoff_max`.
fn window(failures: u32, s: &GuardSettings) -> Option<Duration> {
    let over = failures.checked_sub(s.failures_before_backoff.max(1))?;
    let doubled = s.backoff_initial.saturating_mul(1u32 << over.min(30));
    Some(doubled.min(s.backoff_max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pool(per: usize, max: usize) -> PreLogin {
        PreLogin::new(per, max, IntGauge::new("g", "g").unwrap())
    }

    #[test]
    fn sources_are_v4_addresses_and_v6_slash_64s() {
        assert_eq!(source_of(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_of(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(source_of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn per_source_cap_and_release() {
        let p = pool(2, 10);
        let a = p.admit(ip("192.0.2.1")).unwrap();
        let _b = p.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            p.admit(ip("192.0.2.1")).err(),
            Some(Refused::PerAddress),
            "third from one address"
        );
        assert!(p.admit(ip("192.0.2.2")).is_ok(), "another address");
        drop(a.ticket);
        assert!(p.admit(ip("192.0.2.1")).is_ok(), "a place was given back");
        // one IPv6 /64 is one source
        let _c = p.admit(ip("2001:db8::1")).unwrap();
        let _d = p.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(
            p.admit(ip("2001:db8::ffff")).err(),
            Some(Refused::PerAddress)
        );
    }

    #[test]
    fn full_pool_evicts_the_heaviest_sources_oldest_connection() {
        let p = pool(3, 4);
        let flood: Vec<Admitted> = (0..3).map(|_| p.admit(ip("10.0.0.1")).unwrap()).collect();
        let other = p.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(p.len(), 4);
        // a source with nothing waiting pushes out the flood's oldest
        let reg = p.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(reg.evicted, Some(ip("10.0.0.1")));
        assert_eq!(p.len(), 4);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), flood[0].ticket.evicted())
                .await
                .expect("the oldest is told");
            let younger =
                tokio::time::timeout(Duration::from_millis(20), flood[1].ticket.evicted()).await;
            assert!(younger.is_err(), "only the oldest is evicted");
        });
        // the flood's source may not push out anyone lighter than itself
        drop(flood);
        let _f: Vec<Admitted> = (0..2).map(|_| p.admit(ip("10.0.0.1")).unwrap()).collect();
        assert_eq!(p.len(), 4);
        assert_eq!(p.admit(ip("10.0.0.1")).err(), Some(Refused::Full));
        // ...but 10.0.0.2 (one waiting) may: 10.0.0.1 holds two
        let again = p.admit(ip("10.0.0.2")).unwrap();
        assert_eq!(again.evicted, Some(ip("10.0.0.1")));
        drop((other, reg, again));
        assert_eq!(p.len(), 1, "evicted tickets are not counted twice");
    }

    #[test]
    fn ties_evict_the_oldest_connection() {
        let p = pool(1, 3);
        let _a = p.admit(ip("10.0.0.1")).unwrap();
        let _b = p.admit(ip("10.0.0.2")).unwrap();
        let _c = p.admit(ip("10.0.0.3")).unwrap();
        assert_eq!(
            p.admit(ip("10.0.0.4")).unwrap().evicted,
            Some(ip("10.0.0.1"))
        );
    }

    fn settings() -> GuardSettings {
        GuardSettings {
            failures_before_backoff: 3,
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(40),
            ..Default::default()
        }
    }

    #[test]
    fn window_doubles_up_to_the_maximum() {
        let s = settings();
        let w: Vec<_> = (1..=7)
            .map(|n| window(n, &s).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            w,
            [None, None, Some(10), Some(20), Some(40), Some(40), Some(40)]
        );
        assert_eq!(window(u32::MAX, &s), Some(Duration::from_secs(40)));
    }

    #[test]
    fn source_backoff_across_connections_and_its_end() {
        let g = LoginGuard::new(settings());
        let t0 = Instant::now();
        let a = ip("192.0.2.9");
        for _ in 0..2 {
            assert!(g.check(a, "reg-a", t0).is_ok());
            assert_eq!(g.failed(a, None, t0), None);
        }
        assert_eq!(
            g.failed(a, None, t0),
            Some(Backoff::Source(Duration::from_secs(10)))
        );
        let refused = g
            .check(a, "reg-a", t0 + Duration::from_secs(4))
            .unwrap_err();
        assert_eq!(refused, Backoff::Source(Duration::from_secs(6)));
        assert!(refused.reason().contains("try again in 6 s"), "{refused:?}");
        // another address, and the client ID, are not affected: no certificate
        assert!(g.check(ip("192.0.2.10"), "reg-a", t0).is_ok());
        // the window ends; the next failure doubles it
        let t1 = t0 + Duration::from_secs(10);
        assert!(g.check(a, "reg-a", t1).is_ok());
        assert_eq!(
            g.failed(a, None, t1),
            Some(Backoff::Source(Duration::from_secs(20)))
        );
        // long quiet: starts over
        let t2 = t1 + Duration::from_secs(161);
        assert_eq!(g.failed(a, None, t2), None);
    }

    #[test]
    fn clid_backoff_needs_the_certificate_and_success_resets_it() {
        let g = LoginGuard::new(settings());
        let t = Instant::now();
        // with reg-a's certificate, from three addresses
        for (i, n) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
            let r = g.failed(ip(n), Some("reg-a"), t);
            assert_eq!(r.is_some(), i == 2, "{r:?}");
        }
        assert_eq!(
            g.check(ip("10.0.0.4"), "reg-a", t),
            Err(Backoff::ClientId(Duration::from_secs(10)))
        );
        assert!(g.check(ip("10.0.0.4"), "reg-b", t).is_ok());
        // a success (after the window) clears the client ID's count
        let later = t + Duration::from_secs(10);
        g.succeeded(ip("10.0.0.4"), "reg-a");
        for n in ["10.0.0.5", "10.0.0.6"] {
            assert_eq!(g.failed(ip(n), Some("reg-a"), later), None);
        }
        assert!(g.check(ip("10.0.0.7"), "reg-a", later).is_ok());
    }

    #[test]
    fn tables_are_bounded_and_forget_the_oldest() {
        let s = GuardSettings {
            failures_before_backoff: 1,
            ..settings()
        };
        let mut t: Table<u32> = Table::new(3);
        let now = Instant::now();
        for k in 0..3 {
            assert!(t.fail(k, now, &s).is_some());
        }
        assert!(t.fail(0, now, &s).is_some(), "0 is now the newest");
        assert!(t.fail(3, now, &s).is_some(), "evicts 1, the oldest");
        assert_eq!(t.map.len(), 3);
        assert!(t.locked(&1, now).is_none(), "forgotten");
        assert!(t.locked(&0, now).is_some() && t.locked(&2, now).is_some());
        assert_eq!(t.order.len(), 3);
    }
}
