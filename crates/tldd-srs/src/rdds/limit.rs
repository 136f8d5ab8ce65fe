//! Query rate limiting with an allow-list and exponentially growing blocks
//! (.shop application, question 26 section 3.4).
//!
//! Design: one token bucket per client key. A key is an IPv4 address or an
//! IPv6 /64 (what one host or one customer line usually holds), and a
//! second, larger bucket per IPv4 /24 or IPv6 /48 catches clients spreading
//! over a subnet. A bucket holds `limit` tokens and refills at `limit` per
//! minute, so a client may burst its whole minute's allowance and then
//! continues at the steady rate. A query that finds an empty bucket is an
//! offence: the key is blocked for `block_initial` seconds, doubled for each
//! further offence (capped at `block_max`); after `block_forget` seconds
//! without an offence the doubling starts over. Queries during a block are
//! refused without extending it, so a client that retries too early is not
//! trapped forever; the first query after the block that still finds the
//! bucket empty is the next offence. IPv4-mapped IPv6 addresses count as
//! IPv4. Allow-listed addresses bypass everything and are not counted in
//! their subnet.
//!
//! Limits: state is in memory (a restart forgives everyone) and bounded by
//! `max_tracked` keys: when full, idle keys (bucket refilled, not blocked,
//! offence forgotten) are dropped first, then the oldest unblocked ones.
//! One mutex guards the map; a check is a few hash operations, far below
//! the cost of answering the query.
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the limiter needs from `[srs.whois]`.
#[derive(Debug, Clone)]
pub struct LimitConfig {
    pub per_address: u32,
    pub per_subnet_v4: u32,
    pub per_subnet_v6: u32,
    pub allow: Vec<IpNet>,
    pub block_initial: Duration,
    pub block_max: Duration,
    pub block_forget: Duration,
    pub max_tracked: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    V6Net64(u64),
    V4Net24(u32),
    V6Net48(u64),
}

impl Key {
    fn scope(self) -> Scope {
        match self {
            Key::V4(_) | Key::V6Net64(_) => Scope::Address,
            Key::V4Net24(_) | Key::V6Net48(_) => Scope::Subnet,
        }
    }
}

/// Which bucket refused a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Address,
    Subnet,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Address => "address",
            Scope::Subnet => "subnet",
        }
    }
}

/// The limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allow-listed: not counted.
    Exempt,
    Allowed,
    /// Refused; `new_block` is true when this query started the block.
    Limited {
        retry_after: Duration,
        scope: Scope,
        new_block: bool,
    },
}

#[derive(Debug)]
struct Entry {
    tokens: f64,
    last: Instant,
    blocked_until: Option<Instant>,
    offences: u32,
    last_offence: Option<Instant>,
}

/// A rate limiter shared by all connections of one service.
#[derive(Debug)]
pub struct Limiter {
    cfg: LimitConfig,
    map: Mutex<HashMap<Key, Entry>>,
}

impl Limiter {
    pub fn new(cfg: LimitConfig) -> Limiter {
        Limiter {
            cfg,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &LimitConfig {
        &self.cfg
    }

    pub fn is_allowed(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.cfg.allow.iter().any(|n| n.contains(&ip))
    }

    /// Keys currently blocked (for the gauge).
    pub fn blocked(&self, now: Instant) -> usize {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.values()
            .filter(|e| e.blocked_until.is_some_and(|b| b > now))
            .count()
    }

    fn keys(&self, ip: IpAddr) -> [(Key, u32); 2] {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let v = u32::from(a);
                [
                    (Key::V4(v), self.cfg.per_address),
                    (Key::V4Net24(v & 0xffff_ff00), self.cfg.per_subnet_v4),
                ]
            }
            IpAddr::V6(a) => {
                let v = u128::from(a);
                [
                    (Key::V6Net64((v >> 64) as u64), self.cfg.per_address),
                    (
                        Key::V6Net48(((v >> 80) as u64) << 16),
                        self.cfg.per_subnet_v6,
                    ),
                ]
            }
        }
    }

    /// Counts one query from `ip` at `now`.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Verdict {
        if self.is_allowed(ip) {
            return Verdict::Exempt;
        }
        let keys = self.keys(ip);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // an existing block answers first
        for (k, limit) in keys {
            if limit == 0 {
                continue;
            }
            if let Some(until) = map.get(&k).and_then(|e| e.blocked_until) {
                if until > now {
                    return Verdict::Limited {
                        retry_after: until - now,
                        scope: k.scope(),
                        new_block: false,
                    };
                }
            }
        }
        if map.len() + 2 > self.cfg.max_tracked {
            self.evict(&mut map, now);
        }
        // refill, then find an empty bucket
        let mut empty = None;
        for (k, limit) in keys {
            if limit == 0 {
                continue;
            }
            let e = map.entry(k).or_insert(Entry {
                tokens: limit as f64,
                last: now,
                blocked_until: None,
                offences: 0,
                last_offence: None,
            });
            let dt = now.saturating_duration_since(e.last).as_secs_f64();
            e.tokens = (e.tokens + dt * limit as f64 / 60.0).min(limit as f64);
            e.last = now;
            if e.tokens < 1.0 && empty.is_none() {
                empty = Some(k);
            }
        }
        if let Some(k) = empty {
            let e = map.get_mut(&k).expect("inserted above");
            let forgotten = e
                .last_offence
                .is_none_or(|t| now.saturating_duration_since(t) > self.cfg.block_forget);
            e.offences = if forgotten { 1 } else { e.offences + 1 };
            e.last_offence = Some(now);
            let shift = (e.offences - 1).min(30);
            let block = self
                .cfg
                .block_initial
                .saturating_mul(1u32 << shift)
                .min(self.cfg.block_max);
            e.blocked_until = Some(now + block);
            return Verdict::Limited {
                retry_after: block,
                scope: k.scope(),
                new_block: true,
            };
        }
        for (k, limit) in keys {
            if limit > 0 {
                if let Some(e) = map.get_mut(&k) {
                    e.tokens -= 1.0;
                }
            }
        }
        Verdict::Allowed
    }

    fn evict(&self, map: &mut HashMap<Key, Entry>, now: Instant) {
        let forget = self.cfg.block_forget;
        map.retain(|k, e| {
            let limit = match k.scope() {
                Scope::Address => self.cfg.per_address,
                Scope::Subnet => match k {
                    Key::V4Net24(_) => self.cfg.per_subnet_v4,
                    _ => self.cfg.per_subnet_v6,
                },
            } as f64;
            let refilled = e.tokens
                + now.saturating_duration_since(e.last).as_secs_f64() * limit / 60.0
                >= limit;
            let blocked = e.blocked_until.is_some_and(|b| b > now);
            let remembered = e
                .last_offence
                .is_some_and(|t| now.saturating_duration_since(t) <= forget);
            !(refilled && !blocked && !remembered)
        });
        if map.len() + 2 > self.cfg.max_tracked {
            // still full: drop the least recently seen unblocked keys
            let mut idle: Vec<(Instant, Key)> = map
                .iter()
                .filter(|(_, e)| e.blocked_until.is_none_or(|b| b <= now))
                .map(|(k, e)| (e.last, *k))
                .collect();
            idle.sort_by_key(|(t, _)| *t);
            let excess = map.len() + 2 - self.cfg.max_tracked + self.cfg.max_tracked / 8;
            for (_, k) in idle.into_iter().take(excess) {
                map.remove(&k);
            }
        }
    }

    /// Keys tracked (tests, metrics).
    pub fn tracked(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(limit: u32, subnet: u32) -> LimitConfig {
        LimitConfig {
            per_address: limit,
            per_subnet_v4: subnet,
            per_subnet_v6: subnet,
            allow: vec!["192.0.2.7/32".parse().unwrap()],
            block_initial: Duration::from_secs(10),
            block_max: Duration::from_secs(35),
            block_forget: Duration::from_secs(1000),
            max_tracked: 64,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn limit_then_growing_blocks_then_forgiven() {
        let l = Limiter::new(cfg(3, 0));
        let t0 = Instant::now();
        let a = ip("198.51.100.1");
        for _ in 0..3 {
            assert_eq!(l.check(a, t0), Verdict::Allowed);
        }
        let v = l.check(a, t0);
        assert_eq!(
            v,
            Verdict::Limited {
                retry_after: Duration::from_secs(10),
                scope: Scope::Address,
                new_block: true
            }
        );
        // during the block: refused, not extended
        match l.check(a, t0 + Duration::from_secs(4)) {
            Verdict::Limited {
                retry_after,
                new_block: false,
                ..
            } => assert_eq!(retry_after, Duration::from_secs(6)),
            v => panic!("{v:?}"),
        }
        // just after: 10 s refilled 0.5 token -> second offence, 20 s
        let t1 = t0 + Duration::from_secs(10);
        match l.check(a, t1) {
            Verdict::Limited {
                retry_after,
                new_block: true,
                ..
            } => assert_eq!(retry_after, Duration::from_secs(20)),
            v => panic!("{v:?}"),
        }
        // 20 s later 1.5 tokens: one query passes, the next is the third
        // offence, capped at block_max
        let t2 = t1 + Duration::from_secs(20);
        assert_eq!(l.check(a, t2), Verdict::Allowed);
        match l.check(a, t2) {
            Verdict::Limited { retry_after, .. } => {
                assert_eq!(retry_after, Duration::from_secs(35))
            }
            v => panic!("{v:?}"),
        }
        // other addresses are not affected; allow-listed never counted
        assert_eq!(l.check(ip("198.51.100.2"), t0), Verdict::Allowed);
        for _ in 0..100 {
            assert_eq!(l.check(ip("192.0.2.7"), t0), Verdict::Exempt);
        }
        // after the forget period the doubling starts over
        let t3 = t2 + Duration::from_secs(2000);
        assert_eq!(l.check(a, t3), Verdict::Allowed);
    }

    #[test]
    fn subnet_bucket_and_ipv6_grouping() {
        let l = Limiter::new(cfg(100, 4));
        let t = Instant::now();
        for i in 1..=4 {
            assert_eq!(l.check(ip(&format!("203.0.113.{i}")), t), Verdict::Allowed);
        }
        match l.check(ip("203.0.113.200"), t) {
            Verdict::Limited { scope, .. } => assert_eq!(scope, Scope::Subnet),
            v => panic!("{v:?}"),
        }
        // the block covers the whole /24
        assert!(matches!(
            l.check(ip("203.0.113.1"), t),
            Verdict::Limited { .. }
        ));
        assert_eq!(l.check(ip("203.0.114.1"), t), Verdict::Allowed);
        // IPv6: one /64 is one client
        let l = Limiter::new(cfg(2, 0));
        assert_eq!(l.check(ip("2001:db8:1:2::1"), t), Verdict::Allowed);
        assert_eq!(l.check(ip("2001:db8:1:2::ffff"), t), Verdict::Allowed);
        assert!(matches!(
            l.check(ip("2001:db8:1:2:1::9"), t),
            Verdict::Limited { .. }
        ));
        assert_eq!(l.check(ip("2001:db8:1:3::1"), t), Verdict::Allowed);
        // IPv4-mapped counts as IPv4
        assert_eq!(l.check(ip("::ffff:192.0.2.7"), t), Verdict::Exempt);
    }

    #[test]
    fn tracked_keys_stay_bounded() {
        let l = Limiter::new(cfg(5, 0));
        let t = Instant::now();
        for i in 0..10_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.check(a, t);
        }
        assert!(l.tracked() <= 64, "{}", l.tracked());
    }
}
