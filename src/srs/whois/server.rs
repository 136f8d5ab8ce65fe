//! The Whois listener (RFC 3912): accept, read one query line, answer,
//! close.
//!
//! Protection, in the order a connection meets it: a global connection cap
//! (`max_connections`) and a per-address cap (`max_connections_per_ip`) —
//! over either the client gets `Server busy` and the connection closes; the
//! query line must arrive within `read_timeout` seconds and be at most
//! `max_query_length` bytes; then the rate limiter ([`super::limit`]) runs
//! — a refused query gets exactly one line saying the limit is exceeded and
//! when to retry, nothing else; the answer must be taken within
//! `write_timeout` seconds. After the answer the server half-closes; if
//! the client sent more than its query line (or the query was refused) it
//! then drains what the client may still send (bounded), so an over-long or
//! pipelined query does not turn the close into a reset that would destroy
//! the answer in flight. A client that sent just its line is closed at once
//! (one wake-up less per query). The socket is corked while answering, so
//! the answer's last segment carries the FIN.
//!
//! Every query is logged at debug level (client, query, result, time), each
//! refusal at info, each new block at warn; counters and the latency
//! histogram are in [`super::metrics`].
use super::query::{self, Query};
use super::text::{self, Footer};
use super::view::{find_registrar, DomainView, HostView, QName};
use super::Rdds;
use crate::srs::clock::Ts;
use crate::srs::store::SResult;
use axum::body::Bytes;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The connection caps, shared by every serving thread.
pub struct Connections {
    all: Arc<Semaphore>,
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Connections {
    pub fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            all: Arc::new(Semaphore::new(max)),
            per_ip: Arc::default(),
        })
    }
}

/// Serves Whois on `listener` until the task is dropped.
pub async fn serve(rdds: Arc<Rdds>, listener: TcpListener, conns: Arc<Connections>) {
    loop {
        let (sock, peer) = crate::srs::accept(&listener, "whois").await;
        let rdds = rdds.clone();
        let permit = conns.all.clone().try_acquire_owned().ok();
        let slot = IpSlot::take(&conns.per_ip, peer.ip(), rdds.cfg.max_connections_per_ip);
        tokio::spawn(async move {
            rdds.metrics.whois_connections.inc();
            if permit.is_none() || slot.is_none() {
                rdds.metrics
                    .whois_queries
                    .with_label_values(&["refused", "busy"])
                    .inc();
                tracing::info!(client = %peer, "whois: too many connections");
                finish(
                    sock,
                    b"Server busy: too many connections. Try again later.\r\n",
                    &rdds,
                )
                .await;
            } else {
                handle(&rdds, sock, peer).await;
            }
            rdds.metrics.whois_connections.dec();
            drop(slot);
            drop(permit);
        });
    }
}

/// One connection's place in the per-address count.
struct IpSlot {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(map: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            map: map.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

enum ReadError {
    TooLong,
    Io,
}

/// Reads up to the first LF; the line without CR/LF, and whether more
/// bytes came after it.
async fn read_line(sock: &mut TcpStream, max: usize) -> Result<(Vec<u8>, bool), ReadError> {
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 512];
    let mut more = false;
    loop {
        let n = sock.read(&mut chunk).await.map_err(|_| ReadError::Io)?;
        if n == 0 {
            // EOF without a line end: take what came, if anything
            if buf.is_empty() {
                return Err(ReadError::Io);
            }
            break;
        }
        if let Some(pos) = chunk[..n].iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..pos]);
            more = pos + 1 < n;
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > max + 1 {
            return Err(ReadError::TooLong);
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if buf.len() > max {
        return Err(ReadError::TooLong);
    }
    Ok((buf, more))
}

async fn handle(rdds: &Rdds, mut sock: TcpStream, peer: SocketAddr) {
    let cfg = &rdds.cfg;
    let read = tokio::time::timeout(
        Duration::from_secs(cfg.read_timeout),
        read_line(&mut sock, cfg.max_query_length),
    )
    .await;
    let (line, more) = match read {
        Err(_) => {
            rdds.metrics
                .whois_queries
                .with_label_values(&["refused", "timeout"])
                .inc();
            tracing::debug!(client = %peer, "whois: no query before read_timeout");
            let msg = format!(
                "Timeout: no query received within {} seconds.\r\n",
                cfg.read_timeout
            );
            finish(sock, msg.as_bytes(), rdds).await;
            return;
        }
        Ok(Err(ReadError::Io)) => return,
        Ok(Err(ReadError::TooLong)) => {
            rdds.metrics
                .whois_queries
                .with_label_values(&["refused", "too_long"])
                .inc();
            tracing::info!(client = %peer, "whois: query too long");
            let msg = format!(
                "Query too long: at most {} bytes.\r\n",
                cfg.max_query_length
            );
            finish(sock, msg.as_bytes(), rdds).await;
            return;
        }
        Ok(Ok(x)) => x,
    };
    let started = Instant::now();
    if let super::limit::Verdict::Limited {
        retry_after,
        scope,
        new_block,
    } = rdds.whois_limiter.check(peer.ip(), started)
    {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        rdds.metrics
            .limited
            .with_label_values(&["whois", scope.as_str()])
            .inc();
        rdds.metrics
            .whois_queries
            .with_label_values(&["refused", "limited"])
            .inc();
        if new_block {
            rdds.metrics
                .blocks
                .with_label_values(&["whois", scope.as_str()])
                .inc();
            tracing::warn!(client = %peer, scope = scope.as_str(), block_seconds = secs, "whois: rate limit exceeded, client blocked");
        } else {
            tracing::info!(client = %peer, retry_after = secs, "whois: query refused, client blocked");
        }
        let msg = format!("Query rate limit exceeded. Try again in {secs} seconds.\r\n");
        finish(sock, msg.as_bytes(), rdds).await;
        return;
    }
    let (kind, result, text) = answer(rdds, &line);
    rdds.metrics
        .whois_queries
        .with_label_values(&[kind, result])
        .inc();
    let query = String::from_utf8_lossy(&line);
    tracing::debug!(client = %peer, query = %query.escape_debug(), kind, result, "whois query");
    // a client that sent just its line gets the answer and the close at
    // once; one that sent more is drained first (see `finish`)
    finish_with(sock, &text, rdds, more).await;
    rdds.metrics
        .whois_latency
        .observe(started.elapsed().as_secs_f64());
}

/// Writes `data` (within `write_timeout`), half-closes, drains briefly.
async fn finish(sock: TcpStream, data: &[u8], rdds: &Rdds) {
    finish_with(sock, data, rdds, true).await
}

/// [`finish`]; without `drain` the socket closes right after the answer
/// (only when nothing unread is left, else the close would be a reset).
/// Either way the answer's tail and the FIN share a segment.
async fn finish_with(mut sock: TcpStream, data: &[u8], rdds: &Rdds, drain: bool) {
    // corked, the answer's last segment waits for the FIN and leaves with
    // it: one segment and one client wake-up less per query than sending
    // the FIN on its own (a full segment still goes out at once)
    let _ = socket2::SockRef::from(&sock).set_tcp_cork(true);
    let wt = Duration::from_secs(rdds.cfg.write_timeout);
    if tokio::time::timeout(wt, sock.write_all(data))
        .await
        .is_err()
    {
        return;
    }
    if !drain {
        // nothing unread: the close sends the FIN (no shutdown call needed)
        return;
    }
    let _ = sock.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while let Ok(n) = sock.read(&mut sink).await {
            total += n;
            if n == 0 || total > 1 << 20 {
                break;
            }
        }
    })
    .await;
}

/// Answers one query line: (type, result, text) for metrics and the client.
pub fn answer(rdds: &Rdds, line: &[u8]) -> (&'static str, &'static str, Bytes) {
    let footer = Footer { terms: &rdds.terms };
    let now = rdds.store.clock.now();
    let q = match query::parse(line, &rdds.tld) {
        Ok(q) => q,
        Err(e) => return ("invalid", "error", format!("{}\r\n", e.message()).into()),
    };
    let res = match &q {
        Query::Domain(n) => domain(rdds, n, now, &footer),
        Query::Nameserver(n) => HostView::load(&rdds.store, n).map(|v| match v {
            Some(v) => ("nameserver", "found", text::host(&v, &footer).into()),
            None => (
                "nameserver",
                "not_found",
                text::not_found("Nameserver", now, &footer).into(),
            ),
        }),
        Query::Registrar(r) => find_registrar(&rdds.store, r).map(|v| match v {
            Some(r) => (
                "registrar",
                "found",
                text::registrar(&r, now, &footer).into(),
            ),
            None => (
                "registrar",
                "not_found",
                text::not_found("Registrar", now, &footer).into(),
            ),
        }),
    };
    res.unwrap_or_else(|e| {
        tracing::error!(error = %e, "whois: store read failed");
        (
            "invalid",
            "error",
            Bytes::from_static(b"Internal error; please try again later.\r\n"),
        )
    })
}

/// A domain answer, from the cache while it is current.
fn domain(
    rdds: &Rdds,
    n: &QName,
    now: Ts,
    footer: &Footer,
) -> SResult<(&'static str, &'static str, Bytes)> {
    if let Some(b) = rdds.whois_cache.get(&rdds.store, &n.ascii, "", now)? {
        return Ok(("domain", "found", b));
    }
    let generation = rdds.store.generation();
    Ok(match DomainView::load_with_deps(&rdds.store, n)? {
        Some((v, deps)) => {
            let b = Bytes::from(text::domain(&v, rdds.cfg.redact, footer));
            rdds.whois_cache.put(
                &n.ascii,
                "",
                b.clone(),
                (v.now, generation),
                v.stable_until(),
                deps,
            );
            ("domain", "found", b)
        }
        None => (
            "domain",
            "not_found",
            text::not_found("Domain", now, footer).into(),
        ),
    })
}
