//! DNS Cookies (RFC 7873, server cookies of RFC 9018) over real sockets:
//! Knot's kdig as the client, raw packets for what kdig will not send.
//!
//! The server runs with a configured `cookie_secret`, so the test can
//! check the server cookie it gets byte for byte (computed with
//! `tldd_dns::wire::cookie`, whose hash the unit tests check against RFC
//! 9018's Appendix A vectors).
use crate::support::serve::*;
use crate::support::to_tldd::http_metrics;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use tldd_dns::wire::cookie::Secret;

const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const CLIENT: &str = "2464c4abcf10c957";

fn server() -> Server {
    Server::with_zone(
        "shop.",
        &repo("zones/shop.zone"),
        &format!("cookie_secret = \"{SECRET}\"\nmetrics = \"127.0.0.1:0\"\nrrl_rate = 0"),
    )
}

/// The hex of the COOKIE line kdig prints (client and server cookie).
fn kdig_cookie(out: &str) -> Option<String> {
    let line = out.lines().find(|l| l.contains("COOKIE:"))?;
    let rest = &line[line.find("COOKIE:")? + 7..];
    let hex: String = rest
        .split_whitespace()
        .filter(|t| t.len() >= 16 && t.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    Some(hex.to_ascii_lowercase())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Checks a 24-byte reply cookie: our client cookie, then version 1, three
/// zero bytes, a timestamp near now and the RFC 9018 hash for `ip`.
fn assert_ours(cookie_hex: &str, client_hex: &str, ip: IpAddr) {
    let c = hex::decode(cookie_hex).unwrap();
    assert_eq!(
        c.len(),
        24,
        "client (8) and server (16) cookie: {cookie_hex}"
    );
    assert_eq!(hex::encode(&c[..8]), client_hex);
    let server = &c[8..];
    assert_eq!(server[0], 1, "RFC 9018 version");
    assert_eq!(server[1..4], [0, 0, 0], "reserved");
    let ts = u32::from_be_bytes(server[4..8].try_into().unwrap());
    assert!(
        (i64::from(ts) - unix_now()).abs() < 120,
        "timestamp {ts} is now"
    );
    let secret = Secret(hex::decode(SECRET).unwrap().try_into().unwrap());
    let want = secret.server_cookie(&c[..8].try_into().unwrap(), [0; 3], ts, ip);
    assert_eq!(
        server, want,
        "the RFC 9018 hash over client cookie, stamp and address"
    );
}

/// Waits for a series of `/metrics` to reach `min`.
fn wait_metric(s: &Server, series: &str, min: f64) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = http_metrics(s.metrics.expect("metrics"));
        let v: f64 = text
            .lines()
            .filter(|l| l.starts_with(series))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if v >= min {
            return;
        }
        assert!(Instant::now() < deadline, "{series} < {min}:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn kdig_learns_a_server_cookie_and_it_is_accepted() {
    let s = server();
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    for transport in ["+notcp", "+tcp"] {
        // A client cookie only: a server cookie comes back.
        let out = s.kdig(&[transport, &format!("+cookie={CLIENT}"), "shop.", "SOA"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        let got = kdig_cookie(&out).unwrap_or_else(|| panic!("no COOKIE in:\n{out}"));
        assert_ours(&got, CLIENT, ip);

        // Client and server cookie sent back: valid, and the answer right.
        let out = s.kdig(&[transport, &format!("+cookie={got}"), "shop.", "SOA"]);
        assert!(out.contains("status: NOERROR"), "{out}");
        assert!(
            out.contains("a.nic.shop. hostmaster.nic.shop. 2026112601"),
            "{out}"
        );
        let again = kdig_cookie(&out).unwrap();
        assert_ours(&again, CLIENT, ip);
    }
    wait_metric(
        &s,
        "tldd_cookies_total{status=\"valid\",transport=\"udp\"}",
        1.0,
    );
    wait_metric(
        &s,
        "tldd_cookies_total{status=\"valid\",transport=\"tcp\"}",
        1.0,
    );
    wait_metric(
        &s,
        "tldd_cookies_total{status=\"client_only\",transport=\"udp\"}",
        1.0,
    );
}

#[test]
fn a_tampered_server_cookie_gets_a_fresh_one_and_a_normal_answer() {
    let s = server();
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let out = s.kdig(&[&format!("+cookie={CLIENT}"), "shop.", "NS"]);
    let mut got = hex::decode(kdig_cookie(&out).unwrap()).unwrap();
    got[20] ^= 0x5a;
    let tampered = hex::encode(&got);
    // +nobadcookie: kdig would retry on BADCOOKIE; we answer normally anyway.
    let out = s.kdig(&[
        "+nobadcookie",
        &format!("+cookie={tampered}"),
        "shop.",
        "NS",
    ]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("a.nic.shop."), "{out}");
    let fresh = kdig_cookie(&out).unwrap();
    assert_ne!(fresh, tampered);
    assert_ours(&fresh, CLIENT, ip);
    // Another version byte, or a cookie of another length (8 to 32 bytes
    // is a well-formed server cookie), is not ours either: fresh one.
    for server_part in ["020000005cf79f111f8130c3eee29480", "0011223344556677"] {
        let pkt = edns_query(
            7,
            "shop.",
            6,
            Some(&hex::decode(format!("{CLIENT}{server_part}")).unwrap()),
        );
        let r = udp_exchange(s.addr, &pkt, Duration::from_secs(3)).expect("a reply");
        let (rcode, tc, cookie) = reply_facts(&r);
        assert_eq!((rcode, tc), (0, false));
        assert_ours(&hex::encode(cookie.expect("a cookie")), CLIENT, ip);
    }
    wait_metric(
        &s,
        "tldd_cookies_total{status=\"bad\",transport=\"udp\"}",
        3.0,
    );
}

#[test]
fn malformed_cookie_options_are_formerr() {
    let s = server();
    // RFC 7873 §5.2.2: shorter than a client cookie, 9 to 15 bytes, or
    // more than 40. (Raw packets: kdig refuses to send such a cookie.)
    for len in [0usize, 5, 7, 9, 12, 15, 41, 60] {
        let pkt = edns_query(9, "shop.", 6, Some(&vec![0xab; len]));
        let r = udp_exchange(s.addr, &pkt, Duration::from_secs(3))
            .unwrap_or_else(|| panic!("no reply to a {len}-byte cookie"));
        let (rcode, _, cookie) = reply_facts(&r);
        assert_eq!(rcode, 1, "FORMERR for a {len}-byte COOKIE");
        assert_eq!(r[11], 1, "the FORMERR keeps OPT");
        assert!(cookie.is_none());
    }
    // The well-formed lengths answer.
    for len in [8usize, 16, 24, 40] {
        let pkt = edns_query(9, "shop.", 6, Some(&vec![0xab; len]));
        let r = udp_exchange(s.addr, &pkt, Duration::from_secs(3)).unwrap();
        assert_eq!(reply_facts(&r).0, 0, "{len}-byte COOKIE");
    }
}
