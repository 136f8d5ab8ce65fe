//! UDP workers: one SO_REUSEPORT socket and one thread per worker, batched
//! receive and send with `recvmmsg`/`sendmmsg`.
//!
//! Hand-written on purpose: this is the fast path the design card asks for,
//! and no maintained crate offers batched UDP I/O on plain blocking sockets
//! (tokio has none; quinn-udp is QUIC-specific). Buffers are allocated once
//! per worker; the zone snapshot (and the cookie secrets, and the clock)
//! are loaded once per batch; nothing is allocated per query. A 500 ms
//! receive timeout lets a worker notice shutdown.
//!
//! Each response is then weighed by rate limiting ([`super::rrl`], when
//! `rrl_rate` is not 0): dropped, slipped (TC=1 or BADCOOKIE) or sent.
use super::rrl::{self, Rrl};
use crate::metrics::LocalCounts;
use crate::wire::{self, answer::rcode, Client, Params, Query, Transport, ZoneSet};
use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: usize = 64;
const RX_SIZE: usize = 4096;

/// Binds one worker socket.
pub fn bind(addr: SocketAddr) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_port(true)?;
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// Where handed-off requests (UPDATE, NOTIFY, IXFR, signed queries) go.
pub struct Handoff {
    pub svc: Arc<super::dispatch::Services>,
    pub rt: tokio::runtime::Handle,
}

/// Runs a worker until `stop`.
pub fn worker(
    sock: Socket,
    zones: Arc<ArcSwap<ZoneSet>>,
    params: Arc<Params>,
    stop: Arc<AtomicBool>,
    coalesce: Duration,
    handoff: Handoff,
    rrl: Option<Arc<Rrl>>,
) {
    let fd = sock.as_raw_fd();
    // Replies to handed-off requests are sent from a clone of the socket.
    let reply_sock = sock
        .try_clone()
        .ok()
        .map(|s| Arc::new(std::net::UdpSocket::from(s)));
    let tx_size = (params.udp_payload as usize).max(512);
    let mut rx = vec![[0u8; RX_SIZE]; BATCH];
    let mut tx = vec![0u8; tx_size * BATCH];
    // SAFETY: plain-old-data C structs; zeroed is a valid initial state.
    let mut addrs: Vec<libc::sockaddr_storage> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut rx_iov: Vec<libc::iovec> = Vec::with_capacity(BATCH);
    for b in rx.iter_mut() {
        rx_iov.push(libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: RX_SIZE,
        });
    }
    let mut tx_iov: Vec<libc::iovec> = vec![
        libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0
        };
        BATCH
    ];
    // SAFETY: as above.
    let mut rx_msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut tx_msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut q = Box::<Query>::default();
    let mut counts = LocalCounts::new("udp", handoff.svc.metrics.clone());
    let mut last_flush = Instant::now();
    let mut limiter = rrl.map(rrl::Limiter::new);
    while !stop.load(Ordering::Relaxed) {
        for i in 0..BATCH {
            let h = &mut rx_msgs[i].msg_hdr;
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            h.msg_iov = &mut rx_iov[i];
            h.msg_iovlen = 1;
            rx_msgs[i].msg_len = 0;
        }
        // SAFETY: every mmsghdr points at live buffers owned by this frame.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                rx_msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            if last_flush.elapsed() > Duration::from_secs(1) {
                counts.flush();
                last_flush = Instant::now();
            }
            continue;
        }
        let n = n as usize;
        let snapshot = zones.load();
        let secrets = handoff.svc.cookies.load();
        let now = super::dispatch::now_secs();
        let mut out = 0;
        for i in 0..n {
            let len = rx_msgs[i].msg_len as usize;
            let pkt = &rx[i][..len.min(RX_SIZE)];
            let buf = &mut tx[out * tx_size..(out + 1) * tx_size];
            let peer = sockaddr(&addrs[i]);
            let client = peer.map(|p| Client {
                ip: p.ip(),
                now,
                cookies: &secrets,
            });
            let (mut rlen, oc) = wire::respond_from(
                &snapshot,
                &params,
                pkt,
                &mut q,
                buf,
                Transport::Udp,
                client.as_ref(),
            );
            if oc.handoff {
                // Answered asynchronously on the runtime, from a socket clone.
                counts.record(&oc);
                let Some(peer) = peer else {
                    continue;
                };
                match &reply_sock {
                    Some(rs) => {
                        let (svc, rs, pkt) = (handoff.svc.clone(), rs.clone(), pkt.to_vec());
                        handoff.rt.spawn(async move {
                            if let super::dispatch::Reply::One(r) =
                                super::dispatch::dispatch(&svc, &pkt, peer, Transport::Udp).await
                            {
                                let _ = rs.send_to(&r, peer);
                            }
                        });
                        continue;
                    }
                    None => {
                        rlen = wire::answer::reply_rcode(pkt, &q, buf, rcode::SERVFAIL, &params)
                    }
                }
            }
            counts.record(&oc);
            if let (Some(limiter), Some(peer), true) = (&mut limiter, peer, rlen > 0) {
                let (n, action) = limiter.weigh(peer.ip(), &oc, &q, buf, rlen, now);
                if let Some(a) = action {
                    counts.record_rrl(a as usize);
                }
                rlen = n;
            }
            if rlen == 0 {
                continue;
            }
            tx_iov[out] = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: rlen,
            };
            let h = &mut tx_msgs[out].msg_hdr;
            h.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = rx_msgs[i].msg_hdr.msg_namelen;
            h.msg_iov = &mut tx_iov[out];
            h.msg_iovlen = 1;
            out += 1;
        }
        drop(secrets);
        drop(snapshot);
        let mut sent = 0;
        while sent < out {
            // SAFETY: the first `out` tx headers point at live buffers.
            let r = unsafe {
                libc::sendmmsg(fd, tx_msgs.as_mut_ptr().add(sent), (out - sent) as u32, 0)
            };
            if r <= 0 {
                // Drop the rest of the batch rather than spin (e.g. EPERM, ENOBUFS).
                break;
            }
            sent += r as usize;
        }
        if last_flush.elapsed() > Duration::from_secs(1) {
            counts.flush();
            last_flush = Instant::now();
        }
        if n < BATCH && !coalesce.is_zero() {
            // Traffic is flowing but the batch was not full: let a few more
            // packets queue so the next wake-up serves them together.
            std::thread::sleep(coalesce);
        }
    }
    counts.flush();
}

/// The peer address of a received datagram.
fn sockaddr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: the kernel filled `ss` for this datagram; the family tells
    // which of the two layouts it holds, and both fit in sockaddr_storage.
    unsafe {
        match ss.ss_family as i32 {
            libc::AF_INET => {
                let a = &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                Some(SocketAddr::from((
                    u32::from_be(a.sin_addr.s_addr).to_be_bytes(),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let a = &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                Some(SocketAddr::from((
                    a.sin6_addr.s6_addr,
                    u16::from_be(a.sin6_port),
                )))
            }
            _ => None,
        }
    }
}
