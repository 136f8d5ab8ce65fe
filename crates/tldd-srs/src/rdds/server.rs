//! The Whois listener (RFC 3912): accept, read one query line, answer,
//! close. A connection whose query is already there when it is accepted
//! is answered right in the accept loop ([`super::fast`]); one that would
//! make us wait goes on in a task of its own here, with the timeouts.
//!
//! Protection, in the order a connection meets it: a global connection cap
//! (`max_connections`) and a per-address cap (`max_connections_per_ip`) —
//! over either the client gets `Server busy` and the connection closes; the
//! query line must arrive within `read_timeout` seconds of the accept (the
//! listener accepts a silent client about a second after it connected,
//! see [`super::workers`]) and be at most
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
use super::fast::{self, Rest};
use super::reply::{self, LineReader, Reply};
use super::Rdds;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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

/// Serves Whois on `listener` until the task is dropped. Connections are
/// served in the accept loop when they can be ([`fast`]); the rest go on
/// in a task each.
pub async fn serve(rdds: Arc<Rdds>, listener: AsyncFd<socket2::Socket>, conns: Arc<Connections>) {
    loop {
        let (sock, peer) = crate::accept_with(|| super::workers::accept(&listener), "whois").await;
        let permit = conns.all.clone().try_acquire_owned().ok();
        let slot = IpSlot::take(&conns.per_ip, peer.ip(), rdds.cfg.max_connections_per_ip);
        let rest = if permit.is_none() || slot.is_none() {
            rdds.metrics
                .whois_queries
                .with_label_values(&["refused", "busy"])
                .inc();
            tracing::info!(client = %peer, "whois: too many connections");
            Rest::Write(
                Reply::refusal(&b"Server busy: too many connections. Try again later.\r\n"[..]),
                0,
            )
        } else {
            match fast::serve(&rdds, &sock, peer) {
                Some(rest) => rest,
                None => continue,
            }
        };
        let sock = match TcpStream::from_std(std::net::TcpStream::from(sock)) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "whois: cannot register a connection");
                continue;
            }
        };
        let rdds = rdds.clone();
        tokio::spawn(async move {
            rdds.metrics.whois_connections.inc();
            match rest {
                Rest::Read(lines) => handle(&rdds, sock, peer, lines).await,
                Rest::Write(reply, sent) => send(&rdds, sock, reply, sent).await,
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

/// Reads on to the end of the query line.
async fn read_line(sock: &mut TcpStream, mut lines: LineReader) -> reply::Line {
    let mut chunk = [0u8; 512];
    loop {
        let n = sock
            .read(&mut chunk)
            .await
            .map_err(|_| reply::ReadError::Io)?;
        if n == 0 {
            return lines.eof();
        }
        if let Some(line) = lines.push(&chunk[..n]) {
            return line;
        }
    }
}

/// A connection whose query line was not complete when it was accepted.
async fn handle(rdds: &Rdds, mut sock: TcpStream, peer: SocketAddr, lines: LineReader) {
    let wait = Duration::from_secs(rdds.cfg.read_timeout);
    let reply = match tokio::time::timeout(wait, read_line(&mut sock, lines)).await {
        Err(_) => {
            rdds.metrics
                .whois_queries
                .with_label_values(&["refused", "timeout"])
                .inc();
            tracing::debug!(client = %peer, "whois: no query before read_timeout");
            Reply::refusal(format!(
                "Timeout: no query received within {} seconds.\r\n",
                rdds.cfg.read_timeout
            ))
        }
        Ok(line) => match reply::respond(rdds, peer, line) {
            Some(reply) => reply,
            None => return,
        },
    };
    send(rdds, sock, reply, 0).await;
}

/// Sends `reply` from byte `sent` on, then closes or drains.
async fn send(rdds: &Rdds, sock: TcpStream, reply: Reply, sent: usize) {
    finish_with(sock, &reply.text[sent..], rdds, reply.drain).await;
    reply.written(rdds);
}

/// Writes `data` (within `write_timeout`), then closes at once or, with
/// `drain`, half-closes and drains briefly. Without `drain` the socket
/// closes right after the answer (only when nothing unread is left, else
/// the close would be a reset). Either way the answer's tail and the FIN
/// share a segment.
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
