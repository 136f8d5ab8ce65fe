//! Continuous validation through a resolver: a thread that asks Unbound
//! (or any recursive server on loopback) a fixed set of questions every
//! [`INTERVAL`], with the DO bit set, and writes down every answer a
//! validating client would suffer from: SERVFAIL (bogus), no AD where the
//! data must be secure, the wrong rcode, no answer at all.
//!
//! The questions go out as raw UDP packets ([`super::dnssec::query`], EDNS
//! with DO, 1232-byte buffer), over TCP when truncated; [`ask`] is one such
//! exchange, for tests that want a single answer checked. Failure lines
//! carry the time since the watcher started (`+12.345s`), the same clock as
//! [`Watcher::mark`], and Unbound's Extended DNS Error (the reason of a
//! SERVFAIL) when it gives one.
#![allow(dead_code)]
use super::dnssec::{parse, query, wire, Resp};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between the starts of two rounds of questions.
pub const INTERVAL: Duration = Duration::from_millis(150);

/// How long one exchange may take before it is retried once, then counted
/// as a failure ("no answer").
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// What a question must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// NOERROR, AD, and an answer record of the asked type at the name.
    SecureNoError,
    /// NOERROR, AD, no record of the asked type (a validated NODATA).
    SecureNodata,
    /// NXDOMAIN, AD (a validated denial).
    SecureNxdomain,
    /// NOERROR or NXDOMAIN with AD, whatever the data (e.g. `shop. CDS`,
    /// which comes and goes during a KSK rollover).
    Secure,
    /// Anything but SERVFAIL or silence: insecure data may lack AD.
    NoServfail,
}

/// One answer, decoded.
#[derive(Debug, Clone)]
pub struct Answer {
    /// RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN).
    pub rcode: u16,
    /// The AD flag: the resolver validated the answer as secure.
    pub ad: bool,
    /// Records of the asked type at the asked name in the answer section.
    pub matching: usize,
    /// The response in one line: rcode, flags, EDE, answer section.
    pub text: String,
}

impl Answer {
    /// `Ok` if this answer meets `want`, else why not.
    pub fn check(&self, want: Expect) -> Result<(), String> {
        let ok = match want {
            Expect::SecureNoError => self.rcode == 0 && self.ad && self.matching > 0,
            Expect::SecureNodata => self.rcode == 0 && self.ad && self.matching == 0,
            Expect::SecureNxdomain => self.rcode == 3 && self.ad,
            Expect::Secure => (self.rcode == 0 || self.rcode == 3) && self.ad,
            Expect::NoServfail => self.rcode != 2,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("want {want:?}, got {}", self.text))
        }
    }
}

/// Asks `127.0.0.1:port` `name TYPE` once (recursion desired, DO bit;
/// over TCP if the UDP answer is truncated); `Err` when nothing answers
/// within [`TIMEOUT`], twice. `qtype` is a mnemonic (`SOA`, `DNSKEY`,
/// `CDS`...) or `TYPEn`.
pub fn ask(port: u16, name: &str, qtype: &str) -> Result<Answer, String> {
    let t = type_code(qtype);
    static ID: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
    let mut q = query(name, t, true);
    q[..2].copy_from_slice(&ID.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    q[2] |= 0x01; // RD: ask the resolver to recurse.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut pkt = None;
    for _ in 0..2 {
        if let Some(p) = udp(addr, &q) {
            pkt = Some(p);
            break;
        }
    }
    let mut pkt = pkt.ok_or_else(|| format!("no answer within {TIMEOUT:?}, twice"))?;
    if pkt.len() > 3 && pkt[2] & 0x02 != 0 {
        pkt = tcp(addr, &q).ok_or("truncated over UDP, no answer over TCP")?;
    }
    let resp = std::panic::catch_unwind(|| parse(&pkt))
        .map_err(|_| format!("unparseable answer ({} bytes)", pkt.len()))?;
    let owner = wire(name);
    let matching = resp
        .answer
        .iter()
        .filter(|r| r.rtype == t && r.owner == owner)
        .count();
    Ok(Answer {
        rcode: resp.rcode(),
        ad: resp.flags & 0x0020 != 0,
        matching,
        text: describe(&resp),
    })
}

/// One UDP exchange; `None` on timeout.
fn udp(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    s.connect(addr).ok()?;
    s.send(q).ok()?;
    let mut b = vec![0u8; 65535];
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        let n = s.recv(&mut b).ok()?;
        if n >= 12 && b[..2] == q[..2] {
            b.truncate(n);
            return Some(b);
        }
    }
    None
}

/// One exchange over TCP (two-byte length prefixes); `None` on failure.
fn tcp(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).ok()?;
    s.set_read_timeout(Some(TIMEOUT)).ok()?;
    let mut m = (q.len() as u16).to_be_bytes().to_vec();
    m.extend_from_slice(q);
    s.write_all(&m).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut b = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut b).ok()?;
    Some(b)
}

/// A response in one line: `SERVFAIL flags=qr,rd,ra EDE 6 "..." answer:
/// shop. 3 SOA, shop. 3 RRSIG`.
fn describe(r: &Resp) -> String {
    let rcode = match r.rcode() {
        0 => "NOERROR".to_string(),
        2 => "SERVFAIL".to_string(),
        3 => "NXDOMAIN".to_string(),
        5 => "REFUSED".to_string(),
        n => format!("RCODE{n}"),
    };
    let flags: Vec<&str> = [
        (0x8000, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0020, "ad"),
        (0x0010, "cd"),
    ]
    .into_iter()
    .filter(|(b, _)| r.flags & b != 0)
    .map(|(_, n)| n)
    .collect();
    let mut s = format!("{rcode} flags={}", flags.join(","));
    for opt in r.additional.iter().filter(|rr| rr.rtype == 41) {
        let d = &opt.rdata;
        let mut i = 0;
        while i + 4 <= d.len() {
            let code = u16::from_be_bytes([d[i], d[i + 1]]);
            let len = u16::from_be_bytes([d[i + 2], d[i + 3]]) as usize;
            let body = &d[(i + 4).min(d.len())..(i + 4 + len).min(d.len())];
            if code == 15 && body.len() >= 2 {
                s.push_str(&format!(
                    " EDE {} {:?}",
                    u16::from_be_bytes([body[0], body[1]]),
                    String::from_utf8_lossy(&body[2..])
                ));
            }
            i += 4 + len;
        }
    }
    let answer: Vec<String> = r
        .answer
        .iter()
        .map(|rr| {
            format!(
                "{} {} {}",
                text_name(&rr.owner),
                rr.ttl,
                type_name(rr.rtype)
            )
        })
        .collect();
    s.push_str(&format!(" answer: [{}]", answer.join(", ")));
    s
}

/// Presentation form of a wire name (lower-cased, uncompressed).
fn text_name(w: &[u8]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < w.len() && w[i] != 0 {
        let l = w[i] as usize;
        s.push_str(&String::from_utf8_lossy(&w[i + 1..i + 1 + l]));
        s.push('.');
        i += 1 + l;
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

/// The RR types the tests ask about, by mnemonic.
const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("DS", 43),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPT", 41),
];

/// A type mnemonic (any case) or `TYPEn` as its number; panics on others.
pub fn type_code(t: &str) -> u16 {
    let u = t.to_ascii_uppercase();
    TYPES
        .iter()
        .find(|(n, _)| *n == u)
        .map(|(_, c)| *c)
        .or_else(|| u.strip_prefix("TYPE").and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("unknown RR type {t:?}: add it to watch::TYPES"))
}

/// A type number as its mnemonic, or `TYPEn`.
fn type_name(c: u16) -> String {
    TYPES
        .iter()
        .find(|(_, n)| *n == c)
        .map_or_else(|| format!("TYPE{c}"), |(n, _)| n.to_string())
}

/// What the watcher has seen so far.
#[derive(Default)]
struct Seen {
    queries: usize,
    rounds: usize,
    failures: Vec<String>,
    marks: Vec<String>,
}

/// The watcher's findings when stopped.
#[derive(Debug)]
pub struct Report {
    /// Questions asked (answered or not).
    pub queries: usize,
    /// One line per answer that failed its expectation: time since the
    /// watcher started, question, why.
    pub failures: Vec<String>,
    /// The [`Watcher::mark`] lines, for reading the failures' times.
    pub marks: Vec<String>,
}

impl Report {
    /// Panics, listing the failures and the marks, unless there are none
    /// and at least one question was asked.
    pub fn assert_clean(&self, what: &str) {
        assert!(self.queries > 0, "{what}: the watcher asked nothing");
        assert!(
            self.failures.is_empty(),
            "{what}: {} of {} answers failed:\n{}\nmarks:\n{}",
            self.failures.len(),
            self.queries,
            self.failures.join("\n"),
            self.marks.join("\n")
        );
    }
}

/// A thread asking the same questions through a resolver every
/// [`INTERVAL`] and recording every failed answer; stopped by
/// [`Watcher::stop`] (or when dropped).
pub struct Watcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    start: Instant,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Starts asking `127.0.0.1:unbound_port` each `(name, type, expect)`
    /// of `queries` (names absolute, types as for [`ask`]), one round
    /// every [`INTERVAL`]. Returns at once; the first round is under way.
    pub fn start(unbound_port: u16, queries: Vec<(String, String, Expect)>) -> Watcher {
        assert!(!queries.is_empty(), "nothing to watch");
        for (_, t, _) in &queries {
            type_code(t);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let start = Instant::now();
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let round = Instant::now();
                for (name, t, want) in &queries {
                    let verdict = ask(unbound_port, name, t).and_then(|a| a.check(*want));
                    let mut s = seen2.lock().unwrap();
                    s.queries += 1;
                    if let Err(why) = verdict {
                        s.failures
                            .push(format!("{} {name} {t}: {why}", stamp(start.elapsed())));
                    }
                }
                seen2.lock().unwrap().rounds += 1;
                if let Some(rest) = INTERVAL.checked_sub(round.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
        });
        Watcher {
            stop,
            seen,
            start,
            thread: Some(thread),
        }
    }

    /// The failure lines recorded so far.
    pub fn failures_so_far(&self) -> Vec<String> {
        self.seen.lock().unwrap().failures.clone()
    }

    /// The questions asked so far.
    pub fn queries_so_far(&self) -> usize {
        self.seen.lock().unwrap().queries
    }

    /// Writes `what` down (and to stderr) with the time since the watcher
    /// started, the clock of the failure lines: "+4.120s parent: wrong DS".
    pub fn mark(&self, what: &str) {
        let line = format!("{} {what}", stamp(self.start.elapsed()));
        eprintln!("[watch] {line}");
        self.seen.lock().unwrap().marks.push(line);
    }

    /// Waits until `n` more rounds of questions are complete (every
    /// question asked `n` more times); panics if that takes over a minute
    /// (the thread is stuck).
    pub fn rounds(&self, n: usize) {
        let target = self.seen.lock().unwrap().rounds + n;
        let deadline = Instant::now() + Duration::from_secs(60) + INTERVAL * n as u32;
        while self.seen.lock().unwrap().rounds < target {
            assert!(Instant::now() < deadline, "the watcher is stuck");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a failure is recorded, at most `timeout`; whether one was.
    pub fn wait_for_failure(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.seen.lock().unwrap().failures.is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the thread (after its current round) and returns what it saw.
    pub fn stop(mut self) -> Report {
        self.halt();
        let mut s = self.seen.lock().unwrap();
        Report {
            queries: s.queries,
            failures: std::mem::take(&mut s.failures),
            marks: std::mem::take(&mut s.marks),
        }
    }

    /// Tells the thread to stop and joins it.
    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// `+12.345s`.
fn stamp(d: Duration) -> String {
    format!("+{:.3}s", d.as_secs_f64())
}
