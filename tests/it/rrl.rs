//! Response rate limiting (`[server] rrl_*`) over real sockets: floods from
//! addresses on lo (Linux routes all of 127/8 there, so a client can bind
//! 127.0.1.1 and 127.0.2.1: two /24 prefixes), counted by what the client
//! receives.
//!
//! The numbers leave a wide margin for a slow machine: with `rrl_rate = 20`
//! a bucket passes at most 20 responses a second, so a flood of 2000
//! queries that takes at most a few seconds gets at most a few dozen full
//! answers; the asserts allow 200.
use crate::support::serve::*;
use crate::support::to_tldd::http_metrics;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const SOA: u16 = 6;

fn server(extra: &str) -> Server {
    Server::with_zone(
        "shop.",
        &repo("zones/shop.zone"),
        &format!(
            "cookie_secret = \"{SECRET}\"\nmetrics = \"127.0.0.1:0\"\nrrl_rate = 20\nrrl_allow = [\"127.0.3.0/24\"]\n{extra}"
        ),
    )
}

/// What came back from a flood.
#[derive(Debug, Default)]
struct Seen {
    /// NOERROR with an answer, not truncated.
    full: usize,
    /// TC=1 (slipped).
    truncated: usize,
    /// BADCOOKIE (slipped for a client with a cookie), each with a cookie.
    badcookie: usize,
    other: usize,
}

/// Sends `n` queries (`pkt(i)`) from `from`, pausing a millisecond after
/// every `burst`, while a thread reads the replies; returns what came back
/// until nothing has for 1.5 s.
fn flood(to: SocketAddr, from: &str, n: usize, burst: usize, pkt: &dyn Fn(u16) -> Vec<u8>) -> Seen {
    let sock = UdpSocket::bind((from, 0)).unwrap_or_else(|e| panic!("bind {from}: {e}"));
    // Room for the replies while the reader catches up (capped by
    // net.core.rmem_max; what does not fit is lost, never invented).
    let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(4 << 20);
    let rx = sock.try_clone().unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Seen::default();
        let mut buf = [0u8; 4096];
        while let Ok((len, _)) = rx.recv_from(&mut buf) {
            let (rcode, tc, cookie) = reply_facts(&buf[..len]);
            let answers = u16::from_be_bytes([buf[6], buf[7]]);
            match (rcode, tc) {
                (0, false) if answers > 0 => seen.full += 1,
                (_, true) => seen.truncated += 1,
                (23, false) if cookie.is_some_and(|c| c.len() == 24) => seen.badcookie += 1,
                _ => seen.other += 1,
            }
        }
        seen
    });
    let started = Instant::now();
    for i in 0..n {
        let _ = sock.send_to(&pkt(i as u16), to);
        if i % burst == burst - 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let took = started.elapsed();
    let seen = reader.join().unwrap();
    eprintln!("{n} queries from {from} in {took:?}: {seen:?}");
    seen
}

/// One query from `from`, its reply.
fn ask_from(to: SocketAddr, from: &str, pkt: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind((from, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(pkt, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// The sum of a `/metrics` series (all label sets that start so).
fn metric(s: &Server, series: &str) -> f64 {
    http_metrics(s.metrics.expect("metrics"))
        .lines()
        .filter(|l| l.starts_with(series))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits (the workers flush their counts about once a second) until
/// `series` reaches `min`.
fn wait_metric(s: &Server, series: &str, min: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = metric(s, series);
        if v >= min || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// None of the server's responses was limited, once it has counted at
/// least the `answered` queries and its workers have all flushed (an idle
/// worker flushes within 1.5 s; `flood` already waited 1.5 s of silence).
fn assert_nothing_limited(s: &Server, answered: usize) {
    let counted = wait_metric(s, "tldd_queries_total{", answered as f64);
    assert!(counted >= answered as f64, "{counted} queries counted");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(metric(s, "tldd_rrl_limited_total"), 0.0, "nothing limited");
}

fn soa(i: u16) -> Vec<u8> {
    query_packet(i, "shop.", SOA)
}

#[test]
fn a_flood_is_limited_and_another_prefix_is_not() {
    let s = server("rrl_slip = 2");
    let seen = flood(s.addr, "127.0.1.1", 2000, 200, &soa);
    assert!(seen.full >= 1 && seen.full <= 200, "{seen:?}");
    assert!(
        seen.truncated >= 200,
        "about every second limited reply slips: {seen:?}"
    );
    let got = seen.full + seen.truncated + seen.badcookie + seen.other;
    assert!(got <= 1500, "far fewer replies than queries: {seen:?}");
    assert_eq!(seen.badcookie + seen.other, 0, "{seen:?}");

    // Another /24 at a normal pace (10 a second, under the rate) while the
    // first is still being limited: every query gets its full answer.
    let busy = std::thread::spawn({
        let to = s.addr;
        move || flood(to, "127.0.1.1", 2000, 2, &soa)
    });
    for i in 0..10 {
        let r = ask_from(s.addr, "127.0.2.1", &soa(i)).expect("an answer for 127.0.2.1");
        let (rcode, tc, _) = reply_facts(&r);
        assert_eq!((rcode, tc), (0, false));
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1, "the SOA");
        std::thread::sleep(Duration::from_millis(100));
    }
    let during = busy.join().unwrap();
    assert!(during.full <= 200 && during.truncated >= 200, "{during:?}");

    assert!(wait_metric(&s, "tldd_rrl_limited_total{action=\"drop\"}", 500.0) >= 500.0);
    assert!(wait_metric(&s, "tldd_rrl_limited_total{action=\"slip\"}", 200.0) >= 200.0);
    let log = s.log.lock().unwrap().join("\n");
    assert!(
        log.contains("rate limiting UDP responses") && log.contains("127.0.1.0/24"),
        "{log}"
    );
    assert!(!log.contains("127.0.2.0/24"), "{log}");
}

#[test]
fn allow_listed_sources_and_tcp_are_never_limited() {
    let s = server("rrl_slip = 1");
    let seen = flood(s.addr, "127.0.3.1", 1000, 50, &soa);
    assert_eq!(seen.truncated + seen.badcookie + seen.other, 0, "{seen:?}");
    assert!(seen.full >= 800, "loopback loses little: {seen:?}");
    assert_nothing_limited(&s, seen.full);
    // The same flood from a prefix not on the list is limited (slip 1:
    // every limited reply is TC=1).
    let limited = flood(s.addr, "127.0.1.1", 1000, 50, &soa);
    assert!(
        limited.full <= 200 && limited.truncated >= 500,
        "{limited:?}"
    );
    // TCP right after, from the limited prefix: answered.
    let out = std::process::Command::new("kdig")
        .args(["-b", "127.0.1.1", &format!("@{}", s.addr.ip())])
        .args([
            "-p",
            &s.port().to_string(),
            "+tcp",
            "+time=3",
            "shop.",
            "SOA",
        ])
        .output()
        .expect("kdig");
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("status: NOERROR") && out.contains("2026112601"),
        "{out}"
    );
    // Counted by the server: at least what the client saw (loopback may
    // lose a few), and nothing dropped (slip 1).
    assert!(
        wait_metric(
            &s,
            "tldd_rrl_limited_total{action=\"slip\"}",
            limited.truncated as f64
        ) >= limited.truncated as f64
    );
    assert_eq!(metric(&s, "tldd_rrl_limited_total{action=\"drop\"}"), 0.0);
}

#[test]
fn valid_cookies_are_not_limited_and_cookie_clients_are_slipped_badcookie() {
    let s = server("rrl_slip = 1");
    let client = hex::decode("0102030405060708").unwrap();
    // Learn a server cookie, then flood with it: never limited.
    let r = ask_from(
        s.addr,
        "127.0.4.1",
        &edns_query(1, "shop.", SOA, Some(&client)),
    )
    .unwrap();
    let cookie = reply_facts(&r).2.expect("a server cookie");
    assert_eq!(cookie.len(), 24);
    let seen = flood(s.addr, "127.0.4.1", 1000, 50, &|i| {
        edns_query(i, "shop.", SOA, Some(&cookie))
    });
    assert_eq!(seen.truncated + seen.badcookie + seen.other, 0, "{seen:?}");
    assert!(seen.full >= 800, "{seen:?}");
    assert_nothing_limited(&s, seen.full + 1);

    // A client cookie alone proves nothing: limited, and what slips is
    // BADCOOKIE with a fresh server cookie (not TC=1).
    let seen = flood(s.addr, "127.0.5.1", 1000, 50, &|i| {
        edns_query(i, "shop.", SOA, Some(&client))
    });
    assert!(seen.full <= 200 && seen.badcookie >= 500, "{seen:?}");
    assert_eq!(seen.truncated + seen.other, 0, "{seen:?}");

    // kdig from the limited /24 while it is flooded: its BADCOOKIE makes it
    // retry with the server cookie (kdig's +badcookie), which is answered.
    let busy = std::thread::spawn({
        let to = s.addr;
        move || flood(to, "127.0.5.1", 6000, 2, &soa)
    });
    std::thread::sleep(Duration::from_millis(300));
    let kdig = |extra: &[&str]| {
        let out = std::process::Command::new("kdig")
            .args(["-b", "127.0.5.2", &format!("@{}", s.addr.ip())])
            .args([
                "-p",
                &s.port().to_string(),
                "+retry=0",
                "+time=2",
                "+cookie",
            ])
            .args(extra)
            .args(["shop.", "SOA"])
            .output()
            .expect("kdig");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Without kdig's retry we see the BADCOOKIE itself (a query may land
    // among a second's first 20 and pass: a few tries).
    let bad = (0..5)
        .map(|_| kdig(&["+nobadcookie"]))
        .find(|o| o.contains("status: BADCOOKIE"));
    assert!(
        bad.is_some(),
        "a limited query with a client cookie gets BADCOOKIE"
    );
    let out = kdig(&["+badcookie"]);
    let during = busy.join().unwrap();
    assert!(
        during.truncated >= 500,
        "the flood was being limited: {during:?}"
    );
    assert!(
        out.contains("status: NOERROR") && out.contains("2026112601"),
        "{out}"
    );
    assert!(wait_metric(&s, "tldd_rrl_limited_total{action=\"badcookie\"}", 500.0) >= 500.0);
}
