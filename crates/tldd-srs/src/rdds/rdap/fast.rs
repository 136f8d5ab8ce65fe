//! The RDAP fast path: a plain-HTTP request that is complete when its
//! connection is accepted and asks for the connection to close
//! (`Connection: close`) is answered right in the accept loop: the request
//! is read once, run through the same router (handlers, limiter, metrics,
//! CORS) as every other request, the answer goes out in one corked write
//! and the socket closes, the FIN leaving with the answer's last segment.
//! No runtime registration, task, timer or hyper connection is involved.
//!
//! Why: at 5000 lookups/s on the 2-core machine a lookup on a new
//! connection is mostly kernel work, and what hyper and the runtime added
//! per connection (epoll add and delete, a task, hyper's connection state
//! and timers, a FIN in a segment of its own) was a good part of the rest;
//! the Whois fast path ([`crate::rdds::fast`]) showed the gain.
//!
//! Everything else goes to hyper untouched: the request is only peeked
//! (`MSG_PEEK`) until the fast path takes it, so hyper reads it from the
//! socket as if no one had looked. That covers requests that keep the
//! connection alive, requests with a body or with more bytes behind them
//! (pipelining), a head still arriving, anything httparse or `http`
//! refuses, and TLS connections (never peeked).
//!
//! Hand-written on purpose, and kept small: the request head is parsed by
//! httparse (hyper's own parser); what is ours is the response head
//! (status line, the router's headers, `content-length` when the router
//! set none, `date`, `connection: close` — what hyper writes for such a
//! request). `tests/rdap_service.rs` checks that both paths give the same
//! status, headers and body.
use super::ClientAddr;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, Response, Uri, Version};
use axum::Router;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime};
use tower::ServiceExt;

/// The longest request head the fast path looks at; a longer one (and any
/// with more than [`MAX_HEADERS`] fields) goes to hyper.
const MAX_HEAD: usize = 2048;
const MAX_HEADERS: usize = 32;

/// Answers `sock` if its request can take the fast path; otherwise hands
/// the socket back, its bytes unread, for hyper.
pub async fn serve(app: &Router, sock: TcpStream, peer: SocketAddr) -> Option<TcpStream> {
    let mut buf = [0u8; MAX_HEAD];
    let n = match sock.peek(&mut buf) {
        // a full buffer may have more behind it: hyper's case
        Ok(n) if n == MAX_HEAD => return Some(sock),
        Ok(n) => n,
        // nothing there yet (a silent client), or an error hyper will see
        Err(_) => return Some(sock),
    };
    let Some(req) = closing_request(&buf[..n], peer) else {
        return Some(sock);
    };
    // take the peeked request off the socket: unread bytes would turn the
    // close into a reset that destroys the answer in flight
    if (&sock).read(&mut buf[..n]).ok() != Some(n) {
        return None;
    }
    let head = req.method() == Method::HEAD;
    let Ok(resp) = app.clone().oneshot(req).await;
    // (a body that cannot be read: drop the connection, as hyper would)
    let out = serialize(resp, head).await?;
    // corked, the answer's last segment waits for the FIN and leaves with it
    let _ = socket2::SockRef::from(&sock).set_tcp_cork(true);
    match (&sock).write(&out) {
        Ok(sent) if sent < out.len() => finish_later(sock, out, sent),
        Err(e) if e.kind() == ErrorKind::WouldBlock => finish_later(sock, out, 0),
        _ => {}
    }
    None
}

/// The request in `bytes` when it is one complete HTTP/1.1 GET or HEAD
/// head with nothing behind it, no body, and `Connection: close`.
/// (Public for the fuzz target.)
pub fn closing_request(bytes: &[u8], peer: SocketAddr) -> Option<Request<Body>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut fields);
    match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(len)) if len == bytes.len() => {}
        _ => return None,
    }
    if parsed.version != Some(1) {
        return None;
    }
    let method = match parsed.method? {
        "GET" => Method::GET,
        "HEAD" => Method::HEAD,
        _ => return None,
    };
    let mut closes = false;
    for h in parsed.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            return None;
        }
        if name.eq_ignore_ascii_case("connection") {
            closes |= std::str::from_utf8(h.value)
                .ok()?
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"));
        }
    }
    if !closes {
        return None;
    }
    let mut req = Request::builder()
        .method(method)
        .uri(parsed.path?.parse::<Uri>().ok()?)
        .version(Version::HTTP_11);
    for h in parsed.headers.iter() {
        req = req.header(h.name, h.value);
    }
    let mut req = req.body(Body::empty()).ok()?;
    req.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
    Some(req)
}

/// The response as it goes on the wire (no body for HEAD).
async fn serialize(resp: Response<Body>, head: bool) -> Option<Vec<u8>> {
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.ok()?;
    let mut out = Vec::with_capacity(256 + body.len());
    let status = parts.status;
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONNECTION || name == header::DATE {
            continue;
        }
        field(&mut out, name.as_str(), value.as_bytes());
    }
    if !parts.headers.contains_key(header::CONTENT_LENGTH) {
        field(
            &mut out,
            "content-length",
            body.len().to_string().as_bytes(),
        );
    }
    field(&mut out, "connection", b"close");
    let date = httpdate::fmt_http_date(SystemTime::now());
    field(&mut out, "date", date.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !head {
        out.extend_from_slice(&body);
    }
    Some(out)
}

fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The rare answer that did not fit the send buffer at once: the rest goes
/// out from a task, within hyper's usual patience for a slow reader.
fn finish_later(sock: TcpStream, out: Vec<u8>, sent: usize) {
    let Ok(mut sock) = tokio::net::TcpStream::from_std(sock) else {
        return;
    };
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = tokio::time::timeout(Duration::from_secs(30), sock.write_all(&out[sent..])).await;
    });
}
