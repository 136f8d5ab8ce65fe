//! DNS Cookies (RFC 7873) with the interoperable server cookie of RFC 9018.
//!
//! A query's COOKIE option carries an 8-byte client cookie, optionally
//! followed by the server cookie we gave that client earlier. Ours is 16
//! bytes: version 1, three reserved bytes, a 32-bit timestamp (unix seconds,
//! serial arithmetic), and an 8-byte SipHash-2-4 (key: a 16-byte secret)
//! over client cookie | version | reserved | timestamp | client address
//! (RFC 9018 §4.2). Since every server of an anycast fleet that shares the
//! secret computes the same cookie, a client that moves between nodes keeps
//! a valid cookie.
//!
//! What a query gets ([`answer`]):
//! - a client cookie only: a fresh server cookie ([`Seen::ClientOnly`]);
//! - a server cookie that verifies under the current or the previous secret,
//!   stamped at most an hour ago and at most five minutes ahead of our clock
//!   (RFC 9018 §4.3): [`Seen::Valid`]; the same server cookie is echoed, or
//!   a fresh one once the timestamp is older than half an hour;
//! - any other server cookie (a wrong hash, another version, a length other
//!   than 16, too old, too new): treated as a client cookie only (RFC 7873
//!   §5.2.4), answered normally with a fresh server cookie
//!   ([`Seen::Bad`]). BADCOOKIE (RFC 7873 §5.2.3) is not the answer to a
//!   bad cookie here, as in Knot and NSD: an authoritative server must not
//!   make every query of a client that lost its cookie (a restart, a new
//!   anycast node with another secret) cost it a round trip. BADCOOKIE is
//!   used where the RFC gives it its purpose, under load: a response that
//!   rate limiting (`server::rrl`) would slip goes out as BADCOOKIE with a
//!   fresh server cookie when the query had a client cookie, so the client
//!   retries over UDP with a valid cookie (which rate limiting exempts)
//!   instead of over TCP.
//!
//! A malformed option (length not 8 and not 16 to 40) is FORMERR (RFC 7873
//! §5.2.2), decided in [`super::query`]. Only the first COOKIE option of a
//! query is looked at.
//!
//! Secrets ([`Secrets`], kept by a [`Keeper`]): configured
//! (`[server] cookie_secret`, plus `cookie_secret_previous` also accepted,
//! for a fleet-wide roll as RFC 9018 §5 describes), or random at start and
//! rolled every `cookie_rotation` with the one before still accepted. The
//! query path loads them once per batch (an `ArcSwap`, like the zones) and
//! hashes on the stack: nothing is allocated. A query without a COOKIE
//! option costs nothing more than before.
use arc_swap::ArcSwap;
use siphasher::sip::SipHasher24;
use std::net::IpAddr;
use std::sync::Arc;

/// Server cookie version of RFC 9018.
pub const VERSION: u8 = 1;
/// Length of a client cookie.
pub const CLIENT_LEN: usize = 8;
/// Length of our server cookie.
pub const SERVER_LEN: usize = 16;
/// Client + server cookie: what every reply to a query with a cookie carries.
pub const REPLY_LEN: usize = CLIENT_LEN + SERVER_LEN;
/// A server cookie older than this many seconds is not accepted (RFC 9018 §4.3).
pub const MAX_AGE: i64 = 3600;
/// Nor one stamped more than this far in the future (clock skew).
pub const MAX_AHEAD: i64 = 300;
/// A valid cookie older than this is replaced by a fresh one.
pub const RENEW_AFTER: i64 = 1800;

/// A 16-byte SipHash key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret(pub [u8; 16]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A random secret from the system's generator.
    pub fn random() -> Result<Secret, ring::error::Unspecified> {
        use ring::rand::SecureRandom;
        let mut s = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut s)?;
        Ok(Secret(s))
    }

    /// The RFC 9018 server cookie for `client` at `ip`, stamped `ts`, with
    /// `reserved` (zero in the cookies we make).
    pub fn server_cookie(
        &self,
        client: &[u8; CLIENT_LEN],
        reserved: [u8; 3],
        ts: u32,
        ip: IpAddr,
    ) -> [u8; SERVER_LEN] {
        let mut out = [0u8; SERVER_LEN];
        out[0] = VERSION;
        out[1..4].copy_from_slice(&reserved);
        out[4..8].copy_from_slice(&ts.to_be_bytes());
        let mut input = [0u8; CLIENT_LEN + 8 + 16];
        input[..CLIENT_LEN].copy_from_slice(client);
        input[CLIENT_LEN..CLIENT_LEN + 8].copy_from_slice(&out[..8]);
        let n = match ip {
            IpAddr::V4(a) => {
                input[16..20].copy_from_slice(&a.octets());
                20
            }
            IpAddr::V6(a) => {
                input[16..32].copy_from_slice(&a.octets());
                32
            }
        };
        let h = SipHasher24::new_with_key(&self.0).hash(&input[..n]);
        out[8..].copy_from_slice(&h.to_le_bytes());
        out
    }
}

/// The secrets in force: the one new cookies are made with, and one more
/// that is still accepted.
#[derive(Clone, Debug)]
pub struct Secrets {
    pub current: Secret,
    pub previous: Option<Secret>,
}

/// Keeps the [`Secrets`] for every worker; rolls them.
#[derive(Debug)]
pub struct Keeper {
    secrets: ArcSwap<Secrets>,
}

impl Keeper {
    pub fn new(secrets: Secrets) -> Keeper {
        Keeper {
            secrets: ArcSwap::from_pointee(secrets),
        }
    }

    /// The secrets now (hold the guard for a batch, not longer).
    pub fn load(&self) -> arc_swap::Guard<Arc<Secrets>> {
        self.secrets.load()
    }

    /// Makes `next` the current secret; the current one stays accepted.
    pub fn roll(&self, next: Secret) {
        let current = self.secrets.load().current;
        self.secrets.store(Arc::new(Secrets {
            current: next,
            previous: Some(current),
        }));
    }
}

/// What the query's cookie was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Seen {
    /// No COOKIE option (or cookies not in use on this path).
    #[default]
    None,
    /// A client cookie alone.
    ClientOnly,
    /// A server cookie that did not verify (treated as none).
    Bad,
    /// A server cookie of ours, in its lifetime, for this client.
    Valid,
}

impl Seen {
    /// The query came with a client cookie but no valid server cookie.
    pub fn unproven(self) -> bool {
        matches!(self, Seen::ClientOnly | Seen::Bad)
    }
}

/// Whether a server cookie stamped `ts` is in its lifetime at `now`
/// (serial arithmetic: a stamp is never four billion seconds away).
pub fn in_lifetime(ts: u32, now: u32) -> bool {
    let age = i64::from(now.wrapping_sub(ts) as i32);
    (-MAX_AHEAD..=MAX_AGE).contains(&age)
}

fn same(a: &[u8], b: &[u8]) -> bool {
    // Without an early exit, so the time says nothing of where they differ.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Judges the COOKIE option data `opt` (8 to 40 bytes, checked by the
/// parser) of a query from `ip` at `now`, and writes the cookie the reply
/// carries (client cookie echoed, then our server cookie) into `out`.
pub fn answer(
    opt: &[u8],
    ip: IpAddr,
    now: u32,
    secrets: &Secrets,
    out: &mut [u8; REPLY_LEN],
) -> Seen {
    let ip = match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let mut client = [0u8; CLIENT_LEN];
    let k = CLIENT_LEN.min(opt.len());
    client[..k].copy_from_slice(&opt[..k]);
    out[..CLIENT_LEN].copy_from_slice(&client);
    let server = &opt[k..];
    let seen = if server.is_empty() {
        Seen::ClientOnly
    } else if server.len() == SERVER_LEN && server[0] == VERSION {
        let ts = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        let reserved = [server[1], server[2], server[3]];
        let verifies = |s: &Secret| same(&s.server_cookie(&client, reserved, ts, ip), server);
        if in_lifetime(ts, now)
            && (verifies(&secrets.current) || secrets.previous.as_ref().is_some_and(verifies))
        {
            if i64::from(now.wrapping_sub(ts) as i32) <= RENEW_AFTER {
                out[CLIENT_LEN..].copy_from_slice(server);
                return Seen::Valid;
            }
            Seen::Valid
        } else {
            Seen::Bad
        }
    } else {
        Seen::Bad
    };
    let fresh = secrets.current.server_cookie(&client, [0; 3], now, ip);
    out[CLIENT_LEN..].copy_from_slice(&fresh);
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret(hex::decode(s).unwrap().try_into().unwrap())
    }
    fn bytes(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
    fn one(s: Secret) -> Secrets {
        Secrets {
            current: s,
            previous: None,
        }
    }
    const K1: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

    /// RFC 9018 Appendix A.1: learning a new server cookie.
    #[test]
    fn rfc9018_a1_new_cookie() {
        let mut out = [0u8; REPLY_LEN];
        let seen = answer(
            &bytes("2464c4abcf10c957"),
            "198.51.100.100".parse().unwrap(),
            1559731985,
            &one(secret(K1)),
            &mut out,
        );
        assert_eq!(seen, Seen::ClientOnly);
        assert_eq!(
            hex::encode(out),
            "2464c4abcf10c957010000005cf79f111f8130c3eee29480"
        );
    }

    /// A.2: the same client, 40 minutes later: valid, and renewed.
    #[test]
    fn rfc9018_a2_renewed_cookie() {
        let mut out = [0u8; REPLY_LEN];
        let seen = answer(
            &bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480"),
            "198.51.100.100".parse().unwrap(),
            1559734385,
            &one(secret(K1)),
            &mut out,
        );
        assert_eq!(seen, Seen::Valid);
        assert_eq!(
            hex::encode(out),
            "2464c4abcf10c957010000005cf7a871d4a564a1442aca77"
        );
        // Ten minutes after it was made, the same cookie is echoed.
        let seen = answer(
            &bytes("2464c4abcf10c957010000005cf79f111f8130c3eee29480"),
            "198.51.100.100".parse().unwrap(),
            1559731985 + 600,
            &one(secret(K1)),
            &mut out,
        );
        assert_eq!(seen, Seen::Valid);
        assert_eq!(
            hex::encode(out),
            "2464c4abcf10c957010000005cf79f111f8130c3eee29480"
        );
    }

    /// A.3: another client, whose cookie carries reserved bytes (they are
    /// hashed) but is 1 h 52 min old: past the lifetime kept here, so a
    /// fresh cookie is the answer — the one the RFC shows.
    #[test]
    fn rfc9018_a3_old_cookie_with_reserved_bytes() {
        let ip: IpAddr = "203.0.113.203".parse().unwrap();
        let q = bytes("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
        let client: [u8; 8] = q[..8].try_into().unwrap();
        let made = secret(K1).server_cookie(&client, [0xab, 0xcd, 0xef], 0x5cf78f71, ip);
        assert_eq!(
            &made[..],
            &q[8..],
            "the reserved bytes are part of the hash"
        );
        let mut out = [0u8; REPLY_LEN];
        assert_eq!(
            answer(&q, ip, 1559734700, &one(secret(K1)), &mut out),
            Seen::Bad
        );
        assert_eq!(
            hex::encode(out),
            "fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e"
        );
        // Within its hour it would have been valid.
        assert_eq!(
            answer(&q, ip, 0x5cf78f71 + 60, &one(secret(K1)), &mut out),
            Seen::Valid
        );
        // From another address it is not ours.
        assert_eq!(
            answer(
                &q,
                "203.0.113.204".parse().unwrap(),
                0x5cf78f71 + 60,
                &one(secret(K1)),
                &mut out
            ),
            Seen::Bad
        );
    }

    /// A.4: an IPv6 client after the secret rolled over: the old secret's
    /// cookie is accepted as the previous one, the reply is made with the
    /// new secret.
    #[test]
    fn rfc9018_a4_ipv6_after_a_roll() {
        let ip: IpAddr = "2001:db8:220:1:59de:d0f4:8769:82b8".parse().unwrap();
        let q = bytes("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
        let old = secret("dd3bdf9344b678b185a6f5cb60fca715");
        let new = secret("445536bcd2513298075a5d379663c962");
        let mut out = [0u8; REPLY_LEN];
        // 1559741961 - 0x5cf7c579 = 144 s: valid under the old secret.
        assert_eq!(answer(&q, ip, 1559741961, &one(old), &mut out), Seen::Valid);
        // Under the new secret alone it does not verify...
        assert_eq!(answer(&q, ip, 1559741961, &one(new), &mut out), Seen::Bad);
        assert_eq!(
            hex::encode(out),
            "22681ab97d52c298010000005cf7c609a6bb79d16625507a"
        );
        // ...with the old one kept as previous it does.
        let keeper = Keeper::new(one(old));
        keeper.roll(new);
        assert_eq!(
            answer(&q, ip, 1559741961, &keeper.load(), &mut out),
            Seen::Valid
        );
        // A fresh one (RENEW_AFTER passed) is made with the new secret.
        assert_eq!(
            answer(&q, ip, 0x5cf7c579 + 1801, &keeper.load(), &mut out),
            Seen::Valid
        );
        assert_eq!(
            out[CLIENT_LEN..],
            new.server_cookie(&q[..8].try_into().unwrap(), [0; 3], 0x5cf7c579 + 1801, ip)
        );
    }

    #[test]
    fn lifetime_window_and_wrap() {
        let now = 1559731985u32;
        assert!(in_lifetime(now, now));
        assert!(in_lifetime(now - 3600, now));
        assert!(!in_lifetime(now - 3601, now));
        assert!(in_lifetime(now + 300, now));
        assert!(!in_lifetime(now + 301, now));
        assert!(in_lifetime(u32::MAX - 100, 1000));
    }

    #[test]
    fn other_versions_and_lengths_are_bad() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let s = one(secret(K1));
        let mut out = [0u8; REPLY_LEN];
        let mut q = bytes("2464c4abcf10c957");
        let good = s
            .current
            .server_cookie(&q[..8].try_into().unwrap(), [0; 3], 1000, ip);
        q.extend_from_slice(&good);
        assert_eq!(answer(&q, ip, 1000, &s, &mut out), Seen::Valid);
        let mut v2 = q.clone();
        v2[8] = 2;
        assert_eq!(answer(&v2, ip, 1000, &s, &mut out), Seen::Bad);
        let mut tampered = q.clone();
        tampered[23] ^= 1;
        assert_eq!(answer(&tampered, ip, 1000, &s, &mut out), Seen::Bad);
        assert_eq!(answer(&q[..16], ip, 1000, &s, &mut out), Seen::Bad);
        let mut long = q.clone();
        long.extend_from_slice(&[0; 8]);
        assert_eq!(answer(&long, ip, 1000, &s, &mut out), Seen::Bad);
        // Shorter than a client cookie (the parser refuses it): no panic.
        assert_eq!(answer(&q[..3], ip, 1000, &s, &mut out), Seen::ClientOnly);
        // The v4-mapped form of an address is the address.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(answer(&q, mapped, 1000, &s, &mut out), Seen::Valid);
    }
}
