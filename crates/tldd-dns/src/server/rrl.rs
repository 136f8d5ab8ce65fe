//! Response Rate Limiting on UDP: the design NSD, Knot and BIND share, so
//! that spoofed queries cannot turn this server into an amplifier.
//!
//! Every UDP response is counted against a token bucket keyed by the
//! client's prefix (IPv4 /24, IPv6 /56), the response's [`Class`] and a
//! name: the query name for answers, NODATA and referrals, none (one bucket
//! per prefix and class) for NXDOMAIN and errors, as Knot keys them (a
//! random-subdomain flood then shares one bucket). A bucket holds up to
//! `rrl_rate` tokens, refilled at `rrl_rate` per second (whole seconds); a
//! response without a token is *limited*: dropped, except every
//! `rrl_slip`-th limited response of a worker, which *slips*: it goes out
//! as header, question and OPT with TC=1, so a real client behind a
//! spoofed flood still gets through over TCP. When the query carried a
//! client cookie the slip is BADCOOKIE with a fresh server cookie instead
//! ([`crate::wire::cookie`]): the client retries over UDP with a valid
//! cookie.
//!
//! Never limited: TCP (the handshake proves the address), responses to a
//! valid server cookie (the same proof), addresses in `rrl_allow`, and
//! what the fast path hands off (UPDATE, NOTIFY, transfers, signed
//! queries).
//!
//! The table ([`Rrl`]) is one fixed array of `rrl_table_size` 64-bit
//! buckets shared by the UDP workers, updated with compare-and-swap: no
//! lock, no growth, nothing allocated after start. It is lossy, like
//! Knot's: a bucket holds a 23-bit tag of its key, and a key that lands on
//! a bucket holding another tag takes it over with a full bucket (so a
//! collision can only be generous, never limit a stranger). The hash is
//! SipHash-1-3 under a random key, so nobody can aim collisions. When
//! nobody is limited a response costs one hash of its key and one
//! compare-and-swap; the allow list is only looked at for a response the
//! table limits.
//!
//! The first limited response of a bucket (after it had tokens) is logged,
//! at most one line a second for the whole server; `/metrics` counts every
//! limited response (`tldd_rrl_limited_total{action="drop|slip|badcookie"}`).
use crate::wire::cookie::Seen;
use crate::wire::{Outcome, Query};
use ipnet::IpNet;
use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// The response classes counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// NOERROR with answers.
    Answer = 1,
    /// NOERROR without answers, not authoritative: a referral.
    Referral = 2,
    /// NOERROR without answers, authoritative: NODATA.
    NoData = 3,
    NxDomain = 4,
    /// Every other RCODE (REFUSED, FORMERR, SERVFAIL, NOTIMP, BADVERS...).
    Error = 5,
}

impl Class {
    /// The class of the response `resp` whose RCODE is `rcode`.
    pub fn of(rcode: u16, resp: &[u8]) -> Class {
        use crate::wire::answer::rcode as rc;
        match rcode {
            rc::NXDOMAIN => Class::NxDomain,
            rc::NOERROR if resp.len() >= 12 => {
                if resp[6] != 0 || resp[7] != 0 {
                    Class::Answer
                } else if resp[2] & 0x04 != 0 {
                    Class::NoData
                } else {
                    Class::Referral
                }
            }
            _ => Class::Error,
        }
    }

    /// Whether the bucket is per query name.
    fn by_name(self) -> bool {
        matches!(self, Class::Answer | Class::Referral | Class::NoData)
    }
}

/// What the table says about one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Over the rate; `first` when the bucket was not limited before.
    Limited {
        first: bool,
    },
}

/// What happens to a limited response (the index of its metrics label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Drop = 0,
    /// Sent as TC=1 with the question only.
    Slip = 1,
    /// Sent as BADCOOKIE with a fresh server cookie.
    BadCookie = 2,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Slip => "slip",
            Action::BadCookie => "badcookie",
        }
    }
}

/// The settings (`[server] rrl_*`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Responses per second per bucket (1 to 65535).
    pub rate: u32,
    /// Every `slip`-th limited response slips (0: none).
    pub slip: u32,
    pub allow: Vec<IpNet>,
    /// Buckets (rounded up to a power of two).
    pub table_size: usize,
}

// A bucket: tag 23 bits | limited 1 | time 24 (seconds) | tokens 16.
const TIME_MASK: u64 = 0xff_ffff;

fn pack(tag: u64, limited: bool, time: u64, tokens: u64) -> u64 {
    (tag << 41) | (u64::from(limited) << 40) | ((time & TIME_MASK) << 16) | tokens
}

/// The shared table.
pub struct Rrl {
    slots: Box<[AtomicU64]>,
    mask: u64,
    rate: u64,
    slip: u32,
    allow: Vec<IpNet>,
    keys: (u64, u64),
    last_log: AtomicU32,
}

impl Rrl {
    /// An empty table with a random hash key.
    pub fn new(s: &Settings) -> Result<Rrl, ring::error::Unspecified> {
        use ring::rand::SecureRandom;
        let mut k = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut k)?;
        let (a, b) = k.split_at(8);
        let keys = (
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        );
        Ok(Rrl::with_keys(s, keys))
    }

    fn with_keys(s: &Settings, keys: (u64, u64)) -> Rrl {
        let n = s.table_size.clamp(1, 1 << 26).next_power_of_two();
        Rrl {
            slots: (0..n).map(|_| AtomicU64::new(0)).collect(),
            mask: n as u64 - 1,
            rate: u64::from(s.rate.clamp(1, 0xffff)),
            slip: s.slip,
            allow: s.allow.clone(),
            keys,
            last_log: AtomicU32::new(0),
        }
    }

    /// Whether `ip` is in `rrl_allow`.
    pub fn allowed(&self, ip: IpAddr) -> bool {
        !self.allow.is_empty() && self.allow.iter().any(|n| n.contains(&canonical(ip)))
    }

    /// Takes a token for a response of `class` to a query for `name` from
    /// `ip` at `now` (unix seconds).
    pub fn check(&self, ip: IpAddr, class: Class, name: &[u8], now: u32) -> Verdict {
        let mut h = SipHasher13::new_with_keys(self.keys.0, self.keys.1);
        h.write(&prefix(ip));
        h.write_u8(class as u8);
        if class.by_name() {
            h.write(name);
        }
        let hash = h.finish();
        let slot = &self.slots[(hash & self.mask) as usize];
        let tag = hash >> 41;
        let now = u64::from(now) & TIME_MASK;
        for _ in 0..4 {
            let old = slot.load(Ordering::Relaxed);
            let (tokens, was_limited) = if old == 0 || old >> 41 != tag {
                (self.rate, false)
            } else {
                let elapsed = now.wrapping_sub((old >> 16) & TIME_MASK) & TIME_MASK;
                let refill = elapsed.saturating_mul(self.rate);
                (
                    (old & 0xffff).saturating_add(refill).min(self.rate),
                    old & (1 << 40) != 0,
                )
            };
            let (new, verdict) = if tokens > 0 {
                (pack(tag, false, now, tokens - 1), Verdict::Pass)
            } else {
                (
                    pack(tag, true, now, 0),
                    Verdict::Limited {
                        first: !was_limited,
                    },
                )
            };
            if new == old
                || slot
                    .compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                return verdict;
            }
        }
        // Contended: let it through rather than spin.
        Verdict::Pass
    }

    /// Logs a prefix that starts being limited (a [`Verdict::Limited`]
    /// with `first`), at most one line a second.
    pub fn report(&self, ip: IpAddr, class: Class, now: u32) {
        let last = self.last_log.load(Ordering::Relaxed);
        if last == now
            || self
                .last_log
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let net = match canonical(ip) {
            IpAddr::V4(a) => IpNet::new(IpAddr::V4(a), 24),
            IpAddr::V6(a) => IpNet::new(IpAddr::V6(a), 56),
        }
        .map(|n| n.trunc().to_string())
        .unwrap_or_default();
        tracing::warn!(
            prefix = %net,
            class = ?class,
            rate = self.rate,
            "rate limiting UDP responses (RRL; at most one such line a second)"
        );
    }
}

/// A UDP worker's side of the table: its count of limited responses (so
/// every `rrl_slip`-th of them slips).
pub struct Limiter {
    table: Arc<Rrl>,
    limited: u64,
}

impl Limiter {
    pub fn new(table: Arc<Rrl>) -> Limiter {
        Limiter { table, limited: 0 }
    }

    /// Weighs the response `buf[..len]` (to `q` from `ip`, with outcome
    /// `oc`) at `now`: returns the length to send (0: nothing, or the
    /// slipped reply's) and what was done, if it was limited.
    pub fn weigh(
        &mut self,
        ip: IpAddr,
        oc: &Outcome,
        q: &Query,
        buf: &mut [u8],
        len: usize,
        now: u32,
    ) -> (usize, Option<Action>) {
        // A valid server cookie proves the address, as TCP does.
        if oc.cookie == Seen::Valid {
            return (len, None);
        }
        let t = &*self.table;
        let class = Class::of(oc.rcode, &buf[..len]);
        let Verdict::Limited { first } = t.check(ip, class, q.name(), now) else {
            return (len, None);
        };
        if t.allowed(ip) {
            return (len, None);
        }
        if first {
            t.report(ip, class, now);
        }
        self.limited += 1;
        let slip = u64::from(t.slip);
        if slip == 0 || !self.limited.is_multiple_of(slip) {
            return (0, Some(Action::Drop));
        }
        let action = if oc.cookie.unproven() {
            Action::BadCookie
        } else {
            Action::Slip
        };
        let n = crate::wire::slip::reply(buf, len, q, oc.opt_at, action == Action::BadCookie);
        (n, Some(action))
    }
}

/// The address as itself (an IPv4-mapped IPv6 address is IPv4).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key bytes of the client's prefix: IPv4 /24, IPv6 /56.
fn prefix(ip: IpAddr) -> [u8; 8] {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let o = a.octets();
            [4, o[0], o[1], o[2], 0, 0, 0, 0]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [6, o[0], o[1], o[2], o[3], o[4], o[5], o[6]]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rate: u32, size: usize) -> Rrl {
        Rrl::with_keys(
            &Settings {
                rate,
                slip: 2,
                allow: vec!["192.0.2.0/24".parse().unwrap()],
                table_size: size,
            },
            (1, 2),
        )
    }

    fn passed(t: &Rrl, ip: &str, class: Class, name: &[u8], now: u32, n: usize) -> usize {
        let ip: IpAddr = ip.parse().unwrap();
        (0..n)
            .filter(|_| t.check(ip, class, name, now) == Verdict::Pass)
            .count()
    }

    #[test]
    fn a_bucket_passes_its_rate_a_second_then_limits() {
        let t = table(20, 4096);
        assert_eq!(
            passed(&t, "198.51.100.7", Class::Answer, b"\x01a\x00", 100, 500),
            20
        );
        // The same second: nothing more, the first limit was reported once.
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            t.check(ip, Class::Answer, b"\x01a\x00", 100),
            Verdict::Limited { first: false }
        );
        // A second later, another second's worth.
        assert_eq!(
            passed(&t, "198.51.100.7", Class::Answer, b"\x01a\x00", 101, 500),
            20
        );
        // Long idle: refilled to the rate, never beyond.
        assert_eq!(
            passed(&t, "198.51.100.7", Class::Answer, b"\x01a\x00", 200, 500),
            20
        );
    }

    #[test]
    fn limited_flag_marks_the_first_limited_response() {
        let t = table(1, 4096);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(t.check(ip, Class::NxDomain, b"", 5), Verdict::Pass);
        assert_eq!(
            t.check(ip, Class::NxDomain, b"", 5),
            Verdict::Limited { first: true }
        );
        assert_eq!(
            t.check(ip, Class::NxDomain, b"", 5),
            Verdict::Limited { first: false }
        );
        assert_eq!(t.check(ip, Class::NxDomain, b"", 6), Verdict::Pass);
        assert_eq!(
            t.check(ip, Class::NxDomain, b"", 6),
            Verdict::Limited { first: true }
        );
    }

    #[test]
    fn keys_are_prefix_class_and_name() {
        let t = table(5, 1 << 16);
        // Same /24: shared.
        assert_eq!(
            passed(&t, "198.51.100.1", Class::Answer, b"\x01a\x00", 1, 5),
            5
        );
        assert_eq!(
            passed(&t, "198.51.100.200", Class::Answer, b"\x01a\x00", 1, 5),
            0
        );
        // Another /24, another name, another class: their own buckets.
        assert_eq!(
            passed(&t, "198.51.101.1", Class::Answer, b"\x01a\x00", 1, 5),
            5
        );
        assert_eq!(
            passed(&t, "198.51.100.1", Class::Answer, b"\x01b\x00", 1, 5),
            5
        );
        assert_eq!(
            passed(&t, "198.51.100.1", Class::Referral, b"\x01a\x00", 1, 5),
            5
        );
        // NXDOMAIN: one bucket per prefix, whatever the name.
        assert_eq!(
            passed(&t, "198.51.100.1", Class::NxDomain, b"\x01x\x00", 1, 5),
            5
        );
        assert_eq!(
            passed(&t, "198.51.100.1", Class::NxDomain, b"\x01y\x00", 1, 5),
            0
        );
        // IPv6: a /56.
        assert_eq!(passed(&t, "2001:db8:0:1::1", Class::Error, b"", 1, 5), 5);
        assert_eq!(passed(&t, "2001:db8:0:ff::2", Class::Error, b"", 1, 5), 0);
        assert_eq!(passed(&t, "2001:db8:0:100::1", Class::Error, b"", 1, 5), 5);
        // A mapped IPv4 address is that address.
        assert_eq!(
            passed(&t, "::ffff:198.51.100.9", Class::Answer, b"\x01a\x00", 1, 5),
            0
        );
    }

    #[test]
    fn a_full_table_stays_its_size_and_collisions_are_generous() {
        // 1024 buckets, 100k keys: nothing grows, and every new key starts
        // with a full bucket (taking a bucket over never limits).
        let t = table(3, 1024);
        for i in 0..100_000u32 {
            // A /24 each.
            let ip = IpAddr::from([10 + (i >> 16) as u8, (i >> 8) as u8, i as u8, 1]);
            assert_eq!(t.check(ip, Class::Error, b"", 7), Verdict::Pass);
        }
        assert_eq!(t.slots.len(), 1024);
    }

    #[test]
    fn classes_from_the_response_header() {
        use crate::wire::answer::rcode;
        let mut r = [0u8; 12];
        r[2] = 0x84;
        r[7] = 1;
        assert_eq!(Class::of(rcode::NOERROR, &r), Class::Answer);
        r[7] = 0;
        assert_eq!(Class::of(rcode::NOERROR, &r), Class::NoData);
        r[2] = 0x80;
        assert_eq!(Class::of(rcode::NOERROR, &r), Class::Referral);
        assert_eq!(Class::of(rcode::NXDOMAIN, &r), Class::NxDomain);
        assert_eq!(Class::of(rcode::REFUSED, &r), Class::Error);
        assert_eq!(Class::of(rcode::BADVERS, &r), Class::Error);
    }

    #[test]
    fn a_worker_drops_and_slips_in_turn_and_spares_valid_cookies() {
        let mut l = Limiter::new(Arc::new(table(1, 1024)));
        let q = Query {
            question_end: 12,
            ..Query::default()
        };
        // An answer: QR AA, one answer record (header only, for the test).
        let resp = [0x12, 0x34, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let mut weigh = |oc: &Outcome, ip: IpAddr| {
            let mut b = resp;
            let r = l.weigh(ip, oc, &q, &mut b, 12, 50);
            (r, b[2] & 0x02 != 0)
        };
        let plain = Outcome::default();
        assert_eq!(weigh(&plain, ip), ((12, None), false));
        assert_eq!(weigh(&plain, ip), ((0, Some(Action::Drop)), false));
        assert_eq!(weigh(&plain, ip), ((12, Some(Action::Slip)), true));
        assert_eq!(weigh(&plain, ip), ((0, Some(Action::Drop)), false));
        // A client cookie alone is limited too (BADCOOKIE needs an OPT to
        // carry the cookie: without one it slips as TC=1).
        let client_only = Outcome {
            cookie: Seen::ClientOnly,
            ..Outcome::default()
        };
        assert_eq!(
            weigh(&client_only, ip),
            ((12, Some(Action::BadCookie)), true)
        );
        // A valid cookie, an allow-listed address: never.
        let valid = Outcome {
            cookie: Seen::Valid,
            ..Outcome::default()
        };
        for _ in 0..10 {
            assert_eq!(weigh(&valid, ip), ((12, None), false));
            assert_eq!(weigh(&plain, "192.0.2.9".parse().unwrap()).0, (12, None));
        }
    }

    #[test]
    fn allow_list() {
        let t = table(1, 1024);
        assert!(t.allowed("192.0.2.77".parse().unwrap()));
        assert!(t.allowed("::ffff:192.0.2.77".parse().unwrap()));
        assert!(!t.allowed("192.0.3.1".parse().unwrap()));
    }
}
