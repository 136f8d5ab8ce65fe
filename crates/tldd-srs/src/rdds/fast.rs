//! The Whois fast path: a connection whose query is already there when it
//! is accepted is read, answered and closed right in the accept loop,
//! without registering it with the runtime, spawning a task or arming
//! timers. Only a connection that would make us wait (its line is not
//! complete yet, the answer does not fit the send buffer, the client sent
//! more than its line) goes on in a task ([`Rest`]), with the timeouts.
//!
//! Why: at 5000 lookups/s on the 2-core machine a Whois lookup is mostly
//! kernel work, and what the runtime added per connection (epoll add and
//! delete, a readiness round, a task, two timers) was a good part of ours.
//! The listening sockets defer accepting until the first data has arrived
//! (`TCP_DEFER_ACCEPT`, see [`super::workers`]), so nearly every query
//! takes this path. Hand-written on purpose, like the DNS UDP fast path:
//! nothing but the socket calls themselves (through socket2) is ours.
//!
//! Nothing here blocks: the sockets are non-blocking, and a cache miss
//! reads the store as the task would. One answer is at most a few KiB, far
//! below a fresh socket's send buffer.
use super::reply::{self, LineReader, Reply};
use super::Rdds;
use socket2::Socket;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;

/// How a connection goes on when the fast path could not finish it.
pub enum Rest {
    /// The query line is not complete yet: read on (within `read_timeout`).
    Read(LineReader),
    /// Send the reply from byte `.1` on, then close or drain.
    Write(Reply, usize),
}

/// Serves `sock` as far as it can without waiting; None when it is done
/// (dropping the socket closes it, the FIN leaving with the answer).
pub fn serve(rdds: &Rdds, mut sock: &Socket, peer: SocketAddr) -> Option<Rest> {
    let mut lines = LineReader::new(rdds.cfg.max_query_length);
    let mut chunk = [0u8; 512];
    let line = match sock.read(&mut chunk) {
        Ok(0) => lines.eof(),
        Ok(n) => match lines.push(&chunk[..n]) {
            Some(line) => line,
            None => return Some(Rest::Read(lines)),
        },
        Err(e) if e.kind() == ErrorKind::WouldBlock => return Some(Rest::Read(lines)),
        Err(_) => return None,
    };
    let reply = reply::respond(rdds, peer, line)?;
    // corked, the answer's last segment waits for the FIN and leaves with it
    let _ = sock.set_tcp_cork(true);
    let sent = match sock.write(&reply.text) {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
        Err(_) => return None,
    };
    if sent < reply.text.len() || reply.drain {
        return Some(Rest::Write(reply, sent));
    }
    reply.written(rdds);
    None
}
