//! Open-loop load with independent arrivals: every lookup starts at its
//! planned time as its own task, whatever the lookups before it are doing,
//! like queries from many unrelated clients. (The thread-per-client
//! generator, `RDDS_CLIENTS`, delays a client's next lookup until its
//! previous one is done, so one slow answer also makes the next few late.)
//!
//! `threads` current-thread runtimes (one per core by default) each plan
//! every `threads`-th lookup at `rate / threads` per second. Latency counts
//! from the planned time. The planned times are waited for with a timerfd
//! (tokio's own timer has 1 ms steps, which would add some 1 ms of
//! lateness to every lookup); what lateness is left is counted and shown
//! as "generator send lateness". Keep-alive lookups take an idle
//! connection from the thread's pool or open one when none is idle (as an
//! HTTP client library does). At most `MAX_IN_FLIGHT` lookups per thread
//! are outstanding; a lookup planned beyond that counts as an error.
use super::{Phases, Sample};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MAX_IN_FLIGHT: usize = 4096;

/// What one phase asks.
#[derive(Clone, Copy)]
pub enum Kind {
    Whois(u16),
    RdapNewConnection(u16),
    RdapKeepAlive(u16),
}

/// Plan of one phase: the planned-time origin, the first counted planned
/// time (before it: warm-up), the end, the total rate and the domains.
#[derive(Clone, Copy)]
pub struct Plan {
    pub start: Instant,
    pub from: Instant,
    pub until: Instant,
    pub rate: f64,
    pub domains: usize,
}

/// Runs the phase on `threads` threads; the counted samples and errors.
pub fn run(kind: Kind, plan: Plan, threads: usize) -> (Vec<Sample>, usize) {
    let handles: Vec<_> = (0..threads)
        .map(|t| std::thread::spawn(move || one_thread(kind, plan, t, threads)))
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (s, e) = h.join().unwrap();
        all.extend(s);
        errors += e;
    }
    (all, errors)
}

type Shared<T> = Rc<RefCell<T>>;

fn one_thread(kind: Kind, plan: Plan, t: usize, threads: usize) -> (Vec<Sample>, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let out: Shared<(Vec<Sample>, usize)> = Rc::default();
    let pool: Shared<Vec<BufReader<TcpStream>>> = Rc::default();
    let in_flight: Shared<usize> = Rc::default();
    let o = out.clone();
    local.block_on(&rt, async move {
        let interval = Duration::from_secs_f64(threads as f64 / plan.rate);
        let mut planned = plan.start + Duration::from_secs_f64(t as f64 / plan.rate);
        let mut x = (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut timer = Timer::new().expect("timerfd");
        while planned < plan.until {
            timer.sleep_until(planned).await;
            // every lookup whose time has come
            let now = Instant::now();
            while planned <= now && planned < plan.until {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % plan.domains;
                let at = planned;
                planned += interval;
                if *in_flight.borrow() >= MAX_IN_FLIGHT {
                    if at >= plan.from {
                        o.borrow_mut().1 += 1;
                    }
                    continue;
                }
                *in_flight.borrow_mut() += 1;
                let (o, pool, in_flight) = (o.clone(), pool.clone(), in_flight.clone());
                tokio::task::spawn_local(async move {
                    let began = Instant::now();
                    let p = lookup(kind, i, &pool).await;
                    *in_flight.borrow_mut() -= 1;
                    if at < plan.from {
                        return;
                    }
                    let mut o = o.borrow_mut();
                    match p {
                        Some(p) => {
                            let end = Instant::now();
                            o.0.push(Sample {
                                total: end - at,
                                late: began.saturating_duration_since(at),
                                connect: p.connected - began,
                                first: p.first_byte - p.connected,
                                rest: end - p.first_byte,
                                at: began.saturating_duration_since(plan.from).as_secs() as u32,
                            });
                        }
                        None => o.1 += 1,
                    }
                });
            }
        }
        // let the last lookups finish (bounded)
        let deadline = Instant::now() + Duration::from_secs(5);
        while *in_flight.borrow() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let r = std::mem::take(&mut *out.borrow_mut());
    r
}

async fn lookup(kind: Kind, i: usize, pool: &Shared<Vec<BufReader<TcpStream>>>) -> Option<Phases> {
    match kind {
        Kind::Whois(port) => once(port, format!("d{i}.shop\r\n"), b"Domain Name: d").await,
        Kind::RdapNewConnection(port) => {
            let req =
                format!("GET /domain/d{i}.shop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            once(port, req, b"HTTP/1.1 200").await
        }
        Kind::RdapKeepAlive(port) => {
            let idle = pool.borrow_mut().pop();
            let mut c = match idle {
                Some(c) => c,
                None => {
                    let s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
                    let _ = s.set_nodelay(true);
                    BufReader::new(s)
                }
            };
            let connected = Instant::now();
            let first_byte = get(&mut c, &format!("/domain/d{i}.shop")).await?;
            pool.borrow_mut().push(c);
            Some(Phases {
                connected,
                first_byte,
            })
        }
    }
}

/// One request on a new connection, read to EOF.
async fn once(port: u16, req: String, ok: &[u8]) -> Option<Phases> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let connected = Instant::now();
    let _ = s.set_nodelay(true);
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = vec![0u8; 16384];
    let n = s.read(&mut out).await.ok()?;
    let first_byte = Instant::now();
    out.truncate(n);
    if n > 0 {
        s.read_to_end(&mut out).await.ok()?;
    }
    out.starts_with(ok).then_some(Phases {
        connected,
        first_byte,
    })
}

/// One GET on a kept-alive connection; the first byte's time on a complete
/// 200 answer.
async fn get(c: &mut BufReader<TcpStream>, path: &str) -> Option<Instant> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    c.get_mut().write_all(req.as_bytes()).await.ok()?;
    c.fill_buf().await.ok()?;
    let first = Instant::now();
    let mut status = String::new();
    c.read_line(&mut status).await.ok()?;
    let mut len = None;
    loop {
        let mut h = String::new();
        if c.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        len = super::content_length(h).or(len);
    }
    let mut body = vec![0u8; len?];
    c.read_exact(&mut body).await.ok()?;
    status.starts_with("HTTP/1.1 200").then_some(first)
}

/// A timerfd for waits shorter than tokio's 1 ms timer steps.
struct Timer(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>);

impl Timer {
    fn new() -> std::io::Result<Timer> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall; the fd is owned from here on
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a new, valid descriptor nobody else owns
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        // SAFETY: the OwnedFd keeps the descriptor open while registered
        let fd = unsafe { tokio::io::unix::AsyncFd::register(fd) }?;
        Ok(Timer(fd))
    }

    /// Waits until `at` (Instant is CLOCK_MONOTONIC on Linux).
    async fn sleep_until(&mut self, at: Instant) {
        use std::os::fd::AsRawFd;
        let now = Instant::now();
        if at <= now {
            return;
        }
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: clock_gettime writes the struct it is given
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let target = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32) + (at - now);
        let spec = libc::itimerspec {
            it_interval: unsafe { std::mem::zeroed() },
            it_value: libc::timespec {
                tv_sec: target.as_secs() as _,
                tv_nsec: target.subsec_nanos() as _,
            },
        };
        let fd = self.0.get_ref().as_raw_fd();
        // SAFETY: valid fd and itimerspec; absolute time
        let armed = unsafe {
            libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
        };
        if armed != 0 {
            return;
        }
        loop {
            let Ok(mut guard) = self.0.readable().await else {
                return;
            };
            let mut buf = [0u8; 8];
            // SAFETY: reads at most 8 bytes into buf
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return;
            }
            guard.clear_ready();
        }
    }
}
