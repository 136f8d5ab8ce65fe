//! Where Whois and RDAP run: one thread per core (`[srs.whois] threads`),
//! each with its own current-thread tokio runtime and its own listening
//! socket per service. The sockets share the port with `SO_REUSEPORT`, so
//! the kernel spreads new connections over the threads and a connection is
//! accepted, served and closed on one thread.
//!
//! Why not the SRS's shared multi-threaded runtime: a lookup on a new
//! connection is mostly kernel work (accept, a few segments, close) and a
//! little of ours, so what the scheduler adds shows. On the shared runtime
//! the single accept loop hands each connection to whichever worker is
//! free, which costs cross-thread wake-ups and cache misses on every
//! lookup. Measured on the 2-core machine with `benches/rdds_load.rs` (its
//! trivial reflector, same connection pattern): an RDAP lookup on a new
//! connection took 110-125 µs of server CPU on one shared runtime and
//! 85-88 µs with a runtime and socket per core. The EPP server, the
//! publisher and the control socket stay on the shared runtime, so EPP
//! work and registry lookups do not queue behind each other.
//!
//! A plain bind is tried first, so a port another process holds is refused
//! as before (`SO_REUSEPORT` alone would let a second `tldd srs` of the same
//! user share the port). Port 0 takes one ephemeral port for all threads.
//!
//! Both services accept with [`accept`] on a listener registered by
//! [`listener`]: the connection comes back non-blocking and unregistered,
//! so the fast paths ([`super::fast`], [`crate::rdds::rdap::fast`]) can
//! answer it without the runtime, and only a connection that must wait is
//! registered (as a tokio `TcpStream`).
//!
//! Limits: a connection stays on the thread that accepted it; one slow
//! lookup (a cold sled read) delays the others on its thread, not those on
//! the other threads. The Whois connection caps are shared by all threads.
use socket2::Socket;
use std::net::{SocketAddr, TcpListener};
use tokio::io::unix::AsyncFd;

/// `n` listening sockets on `addr`, all sharing its port.
pub fn bind_group(addr: SocketAddr, n: usize) -> std::io::Result<Vec<TcpListener>> {
    let mut group = Vec::with_capacity(n.max(1));
    let addr = if addr.port() == 0 {
        // An ephemeral port: the kernel picks it for the first socket and
        // the others join that one (nobody else can hold a port the
        // kernel just handed out).
        let first = reuse_port_listener(addr)?;
        let actual = first.local_addr()?;
        group.push(first);
        actual
    } else {
        // refused here when someone else has the port, even with SO_REUSEPORT
        drop(TcpListener::bind(addr)?);
        addr
    };
    while group.len() < n.max(1) {
        group.push(reuse_port_listener(addr)?);
    }
    Ok(group)
}

fn reuse_port_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    defer_accept(&s)?;
    Ok(s.into())
}

/// Wakes the listener only once a connection's first data has arrived, so
/// accepting and reading the query are one wake-up (and the Whois fast
/// path finds the query there). A client that connects and stays silent
/// is accepted anyway after about a second (the kernel's first SYN-ACK
/// retransmission), and its read timeout starts then. (socket2 has no
/// setter for this option, hence the raw setsockopt.)
fn defer_accept(s: &socket2::Socket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let secs: libc::c_int = 1;
    // SAFETY: setsockopt reads an int of the size given from a live local
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&secs as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `listener` registered with this thread's runtime for [`accept`].
pub fn listener(listener: std::net::TcpListener) -> std::io::Result<AsyncFd<Socket>> {
    let sock = Socket::from(listener);
    // SAFETY: the Socket owns its descriptor and returns that same one for
    // as long as it lives, which is as long as the AsyncFd holding it
    let fd = unsafe { AsyncFd::register_with_interest(sock, tokio::io::Interest::READABLE) };
    fd.map_err(|e| e.into_parts().1)
}

/// The next connection on `listener` (non-blocking, not yet registered).
pub async fn accept(listener: &AsyncFd<Socket>) -> std::io::Result<(Socket, SocketAddr)> {
    loop {
        let mut ready = listener.readable().await?;
        let accepted = ready.try_io(|l| {
            l.get_ref()
                .accept4(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
        });
        if let Ok(r) = accepted {
            let (sock, addr) = r?;
            let peer = addr
                .as_socket()
                .ok_or_else(|| std::io::Error::other("not an IP peer"))?;
            return Ok((sock, peer));
        }
    }
}

/// How many serving threads `threads` (0: one per core) means here.
pub fn thread_count(threads: usize) -> usize {
    if threads > 0 {
        return threads;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts thread `i` running `serve` on its own current-thread runtime;
/// `on_exit` runs if it ever stops (it should not), with why.
pub fn spawn<F, Fut>(i: usize, serve: F, on_exit: impl FnOnce(String) + Send + 'static)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let name = format!("rdds-{i}");
    let started = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let why = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    rt.block_on(serve());
                    format!("{name}: its listeners stopped")
                }
                Err(e) => format!("{name}: cannot start a runtime: {e}"),
            };
            on_exit(why);
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start a Whois/RDAP thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_shares_one_port_and_refuses_a_taken_one() {
        let g = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(g.len(), 3);
        let port = g[0].local_addr().unwrap().port();
        assert!(g.iter().all(|l| l.local_addr().unwrap().port() == port));
        // the group holds the port: a second group (another tldd) is refused
        let addr = g[0].local_addr().unwrap();
        assert!(bind_group(addr, 2).is_err());
        // connections reach the group
        for _ in 0..4 {
            std::net::TcpStream::connect(addr).unwrap();
        }
        assert!(thread_count(0) >= 1);
        assert_eq!(thread_count(3), 3);
    }
}
