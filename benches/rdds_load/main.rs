//! Load benchmark of Whois and RDAP domain lookups (issue 6 bar: 5000
//! lookups/s with p99 under 10 ms on the 2-core machine, loopback,
//! allow-listed client). Not a test: run it by hand or in a bench job.
//!
//! ```text
//! cargo bench --bench rdds_load            # release build
//! RDDS_DOMAINS=10000 RDDS_SECONDS=10 RDDS_CONCURRENCY=16 RDDS_CACHE=10000 cargo bench --bench rdds_load
//! ```
//!
//! `RDDS_CACHE` is `[srs.whois] cache_entries` (0: every lookup renders
//! its answer from the store, the cache-miss cost), `RDDS_SERVER_THREADS`
//! its `threads`. Each phase first runs
//! `RDDS_WARMUP` seconds (default 2) that are not counted. `RDDS_TLDD=path`
//! runs another tldd build (A/B comparisons on the same machine state);
//! `RDDS_REFLECTOR=1` runs a trivial tokio server with fixed answers
//! instead (the tokio + kernel floor), `RDDS_REFLECTOR=2` the same with a
//! runtime and socket per core (how tldd serves).
//!
//! Two generators:
//! - `RDDS_RATE=5000`: open loop with independent arrivals ([`arrivals`]):
//!   each lookup starts at its planned time as its own task on one of
//!   `RDDS_THREADS` (default 2) threads, like queries from many unrelated
//!   clients; latency counts from the planned time. This is the bar's
//!   measurement.
//! - `RDDS_CLIENTS=N` (or no rate: closed loop with `RDDS_CONCURRENCY`
//!   clients, default 16): N threads, each one lookup at a time. With a
//!   rate each client sends at `rate / N` per second from its planned
//!   times, so a slow answer also delays that client's next lookups (they
//!   count as late); without one, as fast as answers come.
//!
//! Besides percentiles, each phase prints where the slowest 1% spent their
//! time (generator lateness, connect, first byte, rest), how many lookups
//! took over 10 ms in each second, and the machine's CPU by user: server,
//! generator, other processes, interrupts (loopback TCP work) and steal.
//! On the 2-core machine the new-connection phases keep well over one core
//! busy, so other load on the machine, and steal by the hypervisor, show
//! up directly in the tail.
//!
//! `RDDS_SERVE=N` only writes the store and serves it for N seconds (it
//! prints the ports), to load it with other tools (e.g. `oha`).
//!
//! Under `cargo test` (no `--bench` argument) it only does one-second smoke
//! runs on 200 domains (both generators) and fails if any lookup failed.
//!
//! It writes a store with `RDDS_DOMAINS` domains (one registrar, one
//! contact, two name servers each, every third with a DS) through the SRS
//! store API, starts the real `tldd srs serve` on it with Whois and RDAP on
//! loopback ports (client 127.0.0.1 allow-listed), then for each service
//! runs `RDDS_SECONDS` seconds of lookups, each for a random existing
//! domain: Whois on a new connection (one query per connection, as RFC
//! 3912 works); RDAP on a new connection (`Connection: close`, the
//! pessimistic case), then on kept-alive connections. It prints lookups/s
//! and latency percentiles; every answer is checked to be a hit.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_srs::db::{SResult, Store};
use tldd_srs::model::*;

mod arrivals;
mod reflector;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn populate(dir: &std::path::Path, n: usize) {
    let store = Store::open(&dir.join("data"), "shop", "SHOP").unwrap();
    let now = store.clock.now();
    store
        .write(|t| -> SResult<()> {
            t.put_registrar(&Registrar {
                id: "reg-a".into(),
                name: "Registrar A, Inc.".into(),
                iana_id: 9999,
                password_hash: "x".into(),
                cert_sha256: vec!["00".repeat(32)],
                networks: vec![],
                credit_limit: None,
                balance: 0,
                max_connections: None,
                url: Some("https://www.reg-a.example".into()),
                whois_server: Some("whois.reg-a.example".into()),
                abuse_email: Some("abuse@reg-a.example".into()),
                abuse_phone: Some("+1.5555550100".into()),
                rdap_url: Some("https://rdap.reg-a.example/".into()),
                contact: Default::default(),
                created: now,
                updated: now,
            });
            t.put_contact(&Contact {
                id: "ca-1".into(),
                roid: "C1-SHOP".into(),
                postal: vec![PostalInfo {
                    kind: "int".into(),
                    name: "Test Person".into(),
                    org: Some("Test Org".into()),
                    street: vec!["1 Main St".into()],
                    city: "Tokyo".into(),
                    sp: Some("13".into()),
                    pc: Some("100-0001".into()),
                    cc: "JP".into(),
                }],
                voice: Some(Phone {
                    number: "+81.312345678".into(),
                    ext: None,
                }),
                fax: None,
                email: "test@example.net".into(),
                auth_pw: "x".into(),
                disclose: None,
                statuses: Default::default(),
                cl_id: "reg-a".into(),
                cr_id: "reg-a".into(),
                cr_date: now,
                up_id: None,
                up_date: None,
                tr_date: None,
            });
            Ok(())
        })
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        store
            .write(|t| -> SResult<()> {
                for &i in chunk {
                    let d = Domain {
                        name: format!("d{i}.shop"),
                        roid: format!("D{i:X}-SHOP"),
                        registrant: Some("ca-1".into()),
                        contacts: vec![
                            (ContactType::Admin, "ca-1".into()),
                            (ContactType::Tech, "ca-1".into()),
                        ],
                        ns: vec!["ns1.example.net".into(), "ns2.example.net".into()],
                        ds: if i % 3 == 0 {
                            vec![DsData {
                                key_tag: 12345,
                                alg: 13,
                                digest_type: 2,
                                digest: "AB".repeat(32),
                            }]
                        } else {
                            vec![]
                        },
                        statuses: Default::default(),
                        cl_id: "reg-a".into(),
                        cr_id: "reg-a".into(),
                        cr_date: now,
                        up_id: None,
                        up_date: None,
                        ex_date: now + 365 * 86400,
                        tr_date: None,
                        auth_pw: "x".into(),
                        grace: vec![],
                        rgp: Rgp::Active,
                        transfer: None,
                    };
                    t.put_domain(None, &d);
                }
                Ok(())
            })
            .unwrap();
    }
}

fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// CPU seconds (user + system) this process has used.
fn own_cpu() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds (user + system) process `pid` has used, from /proc.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the ")" of the command name: state is field 3, utime 14
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU jiffies of the whole machine from /proc/stat: process time (user,
/// nice, system), interrupts (irq, softirq: loopback TCP is mostly
/// softirq work, not charged to either process), steal, and the total.
fn machine_jiffies() -> [f64; 4] {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let g = |i: usize| f.get(i).copied().unwrap_or(0.0);
    [g(0) + g(1) + g(2), g(5) + g(6), g(7), f.iter().sum()]
}

/// How a phase runs: clients, warm-up and measured seconds, domains, server
/// pid, and the fixed offered rate (lookups/s over all clients) or None for
/// closed loop.
type Run = (Engine, (u64, u64), usize, u32, Option<f64>);

/// When one lookup had its connection and its first answer byte.
struct Phases {
    connected: Instant,
    first_byte: Instant,
}

/// One lookup as the generator saw it, each part from the previous point:
/// planned send time -> actual start (the generator's own lateness) ->
/// connected -> first answer byte -> complete.
#[derive(Clone, Copy, Default)]
struct Sample {
    /// From the planned time, what the percentiles are of.
    total: Duration,
    late: Duration,
    connect: Duration,
    first: Duration,
    rest: Duration,
    /// Start, seconds since the phase began.
    at: u32,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Mean of each part over `s` (the tail), as text.
fn parts(s: &[Sample]) -> String {
    let n = s.len().max(1) as u32;
    let mean = |f: fn(&Sample) -> Duration| ms(s.iter().map(f).sum::<Duration>() / n);
    format!(
        "late {:.2}, connect {:.2}, first byte {:.2}, rest {:.2} ms",
        mean(|x| x.late),
        mean(|x| x.connect),
        mean(|x| x.first),
        mean(|x| x.rest)
    )
}

/// Runs one client's lookups until `stop`; its samples and error count.
fn client<F: FnMut(usize) -> Option<Phases>>(
    c: usize,
    (clients, n, rate): (usize, usize, Option<f64>),
    (start, from): (Instant, Instant),
    stop: &AtomicBool,
    mut one: F,
) -> (Vec<Sample>, usize) {
    let mut out = Vec::new();
    let mut errors = 0usize;
    let mut x = (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // open loop: client c sends at start + (k + c/clients) * interval;
    // latency counts from that planned time, so a server falling behind
    // shows as latency (no coordinated omission)
    let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
    let mut planned =
        start + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / clients as f64));
    while !stop.load(Ordering::Relaxed) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = match interval {
            Some(i) => {
                let now = Instant::now();
                if planned > now {
                    std::thread::sleep(planned - now);
                }
                let t = planned;
                planned += i;
                t
            }
            None => Instant::now(),
        };
        let began = Instant::now();
        let p = one((x as usize) % n);
        // warm-up lookups (planned before `from`) are not counted
        if t < from {
            continue;
        }
        let Some(p) = p else {
            errors += 1;
            continue;
        };
        let end = Instant::now();
        out.push(Sample {
            total: end - t,
            late: began.saturating_duration_since(t),
            connect: p.connected - began,
            first: p.first_byte - p.connected,
            rest: end - p.first_byte,
            at: began.saturating_duration_since(from).as_secs() as u32,
        });
    }
    (out, errors)
}

/// How lookups are generated.
#[derive(Clone, Copy)]
enum Engine {
    /// This many threads, each one lookup at a time (`RDDS_CLIENTS`; also
    /// the closed loop, without `RDDS_RATE`).
    Clients(usize),
    /// Independent arrivals on this many threads (see [`arrivals`]).
    Arrivals(usize),
}

fn load<F: FnMut(usize) -> Option<Phases> + Send + 'static>(
    name: &str,
    (engine, (warm, secs), n, server, rate): Run,
    kind: arrivals::Kind,
    make: impl Fn() -> F,
) {
    let start = Instant::now();
    let from = start + Duration::from_secs(warm);
    let measured = std::thread::spawn(move || {
        std::thread::sleep(from - Instant::now());
        let before = (loadavg(), own_cpu(), proc_cpu(server), machine_jiffies());
        // the machine's jiffies each second, to line steal up with the
        // seconds that had slow lookups
        let mut each = vec![before.3];
        for s in 1..=secs {
            std::thread::sleep(
                (from + Duration::from_secs(s)).saturating_duration_since(Instant::now()),
            );
            each.push(machine_jiffies());
        }
        (before, own_cpu(), proc_cpu(server), each)
    });
    let (mut all, errors, label) = match (engine, rate) {
        (Engine::Arrivals(threads), Some(rate)) => {
            let plan = arrivals::Plan {
                start,
                from,
                until: from + Duration::from_secs(secs),
                rate,
                domains: n,
            };
            let (s, e) = arrivals::run(kind, plan, threads);
            (s, e, format!("independent arrivals on {threads} threads"))
        }
        (Engine::Clients(clients), _) | (Engine::Arrivals(clients), None) => {
            let stop = Arc::new(AtomicBool::new(false));
            let handles: Vec<_> = (0..clients)
                .map(|c| {
                    let (one, stop) = (make(), stop.clone());
                    std::thread::spawn(move || {
                        client(c, (clients, n, rate), (start, from), &stop, one)
                    })
                })
                .collect();
            std::thread::sleep(from + Duration::from_secs(secs) - Instant::now());
            stop.store(true, Ordering::Relaxed);
            let mut all = Vec::new();
            let mut errors = 0;
            for h in handles {
                let (l, e) = h.join().unwrap();
                all.extend(l);
                errors += e;
            }
            (all, errors, format!("{clients} clients"))
        }
    };
    let ((load_before, gen0, srv0, m0), gen1, srv1, each) = measured.join().unwrap();
    let m1 = each[each.len() - 1];
    let wall = secs as f64;
    let (gen, srv) = (gen1 - gen0, srv1 - srv0);
    // machine CPU in cores, by kind: share of all jiffies times the cores
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let share = |i: usize| (m1[i] - m0[i]) / (m1[3] - m0[3]).max(1.0) * cores * 100.0;
    all.sort_by_key(|s| s.total);
    let bench = std::env::args().any(|a| a == "--bench");
    assert!(errors == 0 || bench, "{name}: {errors} failed lookups");
    assert!(!all.is_empty() || bench, "{name}: no lookup completed");
    let pct = |p: f64| ms(percentile(&all, p).total);
    println!(
        "{name}: {} lookups in {wall:.1} s (after {warm} s warm-up) = {:.0}/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {errors} ({label}, {})",
        all.len(),
        all.len() as f64 / wall,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
        rate.map_or("closed loop".to_string(), |r| format!("offered {r:.0}/s")),
    );
    report_tail(&all, secs);
    let steal: Vec<u32> = each
        .windows(2)
        .map(|w| {
            ((w[1][2] - w[0][2]) / (w[1][3] - w[0][3]).max(1.0) * cores * 100.0).round() as u32
        })
        .collect();
    println!("    steal per second (% of one core): {steal:?}");
    // the generator shares the machine: show what each side used, and what
    // anything else on the machine took in the meantime
    println!(
        "    CPU (% of one core): server {:.0} ({:.0} us/lookup), load generator {:.0}, other processes {:.0}, interrupts {:.0}, steal {:.0}; load average before {load_before}, after {}",
        srv / wall * 100.0,
        srv / all.len().max(1) as f64 * 1e6,
        gen / wall * 100.0,
        (share(0) - (srv + gen) / wall * 100.0).max(0.0),
        share(1),
        share(2),
        loadavg(),
    );
}

/// Where the slowest 1% spent their time, and when they happened.
fn report_tail(sorted: &[Sample], secs: u64) {
    let tail = &sorted[sorted.len() - sorted.len().div_ceil(100)..];
    let mut late: Vec<Duration> = sorted.iter().map(|s| s.late).collect();
    late.sort();
    let mut slow = vec![0usize; secs as usize + 1];
    for s in sorted
        .iter()
        .filter(|s| s.total > Duration::from_millis(10))
    {
        slow[(s.at as usize).min(secs as usize)] += 1;
    }
    println!(
        "    slowest 1% (mean): {}; generator send lateness p50 {:.2} p99 {:.2} max {:.2} ms; over 10 ms per second: {slow:?}",
        parts(tail),
        ms(percentile(&late, 0.5)),
        ms(percentile(&late, 0.99)),
        ms(late.last().copied().unwrap_or_default()),
    );
}

/// Reads to EOF; the time of the first byte with what came.
fn read_all(s: &mut TcpStream, cap: usize) -> Option<(Instant, Vec<u8>)> {
    let mut out = vec![0u8; cap];
    let n = s.read(&mut out).ok()?;
    let first = Instant::now();
    out.truncate(n);
    if n > 0 {
        s.read_to_end(&mut out).ok()?;
    }
    Some((first, out))
}

/// The length a `Content-Length` header line (without its line end) gives.
fn content_length(header: &str) -> Option<usize> {
    let (k, v) = header.split_once(':')?;
    k.eq_ignore_ascii_case("content-length")
        .then(|| v.trim().parse().ok())
        .flatten()
}

/// One GET on a persistent connection; the first byte's time on a
/// complete 200 answer.
fn keep_alive_get(c: &mut std::io::BufReader<TcpStream>, path: &str) -> Option<Instant> {
    use std::io::BufRead;
    // one write: several small ones would meet Nagle and delayed ACKs
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    c.get_mut().write_all(req.as_bytes()).ok()?;
    c.fill_buf().ok()?;
    let first = Instant::now();
    let mut status = String::new();
    c.read_line(&mut status).ok()?;
    let mut len = None;
    loop {
        let mut h = String::new();
        if c.read_line(&mut h).is_err() || h.is_empty() {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        len = content_length(h).or(len);
    }
    let mut body = vec![0u8; len?];
    c.read_exact(&mut body).ok()?;
    status.starts_with("HTTP/1.1 200").then_some(first)
}

/// One request on a new connection: connect, send `req`, read to EOF; the
/// phases if the answer starts with `ok`.
fn once(port: u16, req: &[u8], ok: &[u8]) -> Option<Phases> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let connected = Instant::now();
    let _ = s.set_nodelay(true);
    s.write_all(req).ok()?;
    let (first_byte, out) = read_all(&mut s, 16384)?;
    out.starts_with(ok).then_some(Phases {
        connected,
        first_byte,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, whois, rdap] = &args[..] {
        if flag == "--reflector" {
            return reflector::run(whois, rdap);
        }
        if flag == "--reflector-per-core" {
            return reflector::run_per_core(whois, rdap);
        }
    }
    // `cargo test --all-targets` runs benches without `--bench`: then only
    // a one-second smoke run on a small store (like criterion's test mode)
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = if smoke {
        200
    } else {
        env("RDDS_DOMAINS", 10_000)
    };
    let secs = if smoke {
        1
    } else {
        env("RDDS_SECONDS", 10) as u64
    };
    let clients = if smoke {
        2
    } else {
        env("RDDS_CONCURRENCY", 16)
    };
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    populate(dir.path(), n);
    println!(
        "store: {n} domains written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (whois, rdap, epp) = (free_port(), free_port(), free_port());
    // a throwaway certificate for the EPP listener the SRS always opens
    let crt = dir.path().join("s.crt");
    let key = dir.path().join("s.key");
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=bench",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "openssl is needed to make the EPP certificate");
    let cfg = dir.path().join("srs.toml");
    std::fs::write(
        &cfg,
        format!(
            "[srs]\ntld = \"shop.\"\ndata_dir = \"{d}/data\"\nepp_listen = \"127.0.0.1:{epp}\"\ntls_cert = \"{c}\"\ntls_key = \"{k}\"\n\
whois_listen = \"127.0.0.1:{whois}\"\nrdap_listen = \"127.0.0.1:{rdap}\"\n\
[srs.whois]\nallow = [\"127.0.0.1/32\"]\nmax_connections_per_ip = 4096\n{cache}\n{threads}\n\
[srs.dns]\nserver = \"127.0.0.1:9\"\ntsig_key = \"k\"\n\
[[tsig]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0c2VjcmV0c2VjcmV0\"\n",
            d = dir.path().display(),
            // only when asked: a server from before the cache has no such key
            cache = std::env::var("RDDS_CACHE")
                .map(|c| format!("cache_entries = {c}"))
                .unwrap_or_default(),
            // likewise: the server's Whois/RDAP threads (0: one per core)
            threads = std::env::var("RDDS_SERVER_THREADS")
                .map(|t| format!("threads = {t}"))
                .unwrap_or_default(),
            c = crt.display(),
            k = key.display()
        ),
    )
    .unwrap();
    // RDDS_TLDD: another build of tldd to compare with (A/B under the same
    // machine conditions); RDDS_REFLECTOR=1: instead of tldd, a trivial
    // server with fixed answers, the floor that tokio and the kernel set
    let reflector = env("RDDS_REFLECTOR", 0);
    let child = if reflector > 0 && !smoke {
        let mode = if reflector == 2 {
            "--reflector-per-core"
        } else {
            "--reflector"
        };
        dies_with_us(Command::new(std::env::current_exe().unwrap()))
            .args([mode, &whois.to_string(), &rdap.to_string()])
            .spawn()
            .unwrap()
    } else {
        let tldd = std::env::var("RDDS_TLDD").unwrap_or(env!("CARGO_BIN_EXE_tldd").into());
        dies_with_us(Command::new(tldd))
            .args(["srs", "serve", "-c"])
            .arg(&cfg)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let server = KillOnDrop(child);
    let end = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", rdap)).is_err()
        || TcpStream::connect(("127.0.0.1", whois)).is_err()
    {
        assert!(Instant::now() < end, "tldd srs did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // RDDS_SERVE=N: only serve the store for N seconds, for other tools
    if let Some(hold) = std::env::var("RDDS_SERVE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        println!(
            "serving d0.shop .. d{}.shop: whois 127.0.0.1:{whois}, rdap http://127.0.0.1:{rdap}/ for {hold} s",
            n - 1
        );
        std::thread::sleep(Duration::from_secs(hold));
        return;
    }
    let rate = std::env::var("RDDS_RATE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| *r > 0.0 && !smoke);
    // warm-up (not counted): caches and the server's memory reach their
    // steady state first; RDDS_WARMUP=0 counts from the first lookup
    let warm = if smoke {
        0
    } else {
        env("RDDS_WARMUP", 2) as u64
    };
    // with a rate: independent arrivals unless RDDS_CLIENTS=N asks for N
    // threads of one lookup at a time; the smoke run tries both engines
    let engines = match std::env::var("RDDS_CLIENTS").ok() {
        _ if smoke => vec![Engine::Clients(clients), Engine::Arrivals(1)],
        Some(c) => vec![Engine::Clients(c.parse().unwrap_or(clients))],
        None if rate.is_some() => vec![Engine::Arrivals(env("RDDS_THREADS", 2))],
        None => vec![Engine::Clients(clients)],
    };
    for engine in engines {
        // the smoke run's arrivals go at a modest fixed rate
        let rate = if smoke && matches!(engine, Engine::Arrivals(_)) {
            Some(300.0)
        } else {
            rate
        };
        phases((engine, (warm, secs), n, server.0.id(), rate), whois, rdap);
    }
}

/// The three measured phases.
fn phases(run: Run, whois: u16, rdap: u16) {
    load("whois domain", run, arrivals::Kind::Whois(whois), || {
        move |i| {
            once(
                whois,
                format!("d{i}.shop\r\n").as_bytes(),
                b"Domain Name: d",
            )
        }
    });
    let kind = arrivals::Kind::RdapNewConnection(rdap);
    load("rdap domain, new connection each", run, kind, || {
        move |i| {
            let req =
                format!("GET /domain/d{i}.shop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            once(rdap, req.as_bytes(), b"HTTP/1.1 200")
        }
    });
    let kind = arrivals::Kind::RdapKeepAlive(rdap);
    load("rdap domain, keep-alive", run, kind, || {
        let mut conn: Option<std::io::BufReader<TcpStream>> = None;
        move |i| {
            if conn.is_none() {
                conn = TcpStream::connect(("127.0.0.1", rdap)).ok().map(|s| {
                    let _ = s.set_nodelay(true);
                    std::io::BufReader::new(s)
                });
            }
            let c = conn.as_mut()?;
            let connected = Instant::now();
            let first = keep_alive_get(c, &format!("/domain/d{i}.shop"));
            if first.is_none() {
                conn = None;
            }
            Some(Phases {
                connected,
                first_byte: first?,
            })
        }
    });
}

/// `cmd`, set to get SIGTERM when this process dies (also when it is
/// killed, which skips [`KillOnDrop`]).
fn dies_with_us(mut cmd: Command) -> Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; it only sets the child's own
    // parent-death signal between fork and exec
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd
}

/// Stops the server even when a lookup assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
