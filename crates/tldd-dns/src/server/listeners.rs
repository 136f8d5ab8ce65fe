//! The listen addresses of a running server, each opened and closed on its
//! own so `reload` can add or remove one while the others answer.
//!
//! One [`Listener`] per `[server] listen` entry: its UDP workers (threads
//! with a stop flag of their own, [`super::udp::worker`]) and its TCP
//! accept task. Closing one stops its workers (each notices within its
//! 500 ms receive timeout, after answering the batch it holds) and its
//! accept loop; TCP connections already accepted finish their queries.
use super::{tcp, udp};
use crate::runtime::Services;
use crate::wire::{Params, ZoneSet};
use anyhow::Context;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What every listener is made with.
#[derive(Clone)]
pub struct Setup {
    pub zones: Arc<ArcSwap<ZoneSet>>,
    pub params: Arc<Params>,
    pub svc: Arc<Services>,
    pub rt: tokio::runtime::Handle,
    pub workers: usize,
    pub coalesce: Duration,
    pub tcp_max_connections: usize,
    pub tcp_idle_timeout: Duration,
    /// Response rate limiting for every UDP worker (`rrl_rate` 0: none).
    pub rrl: Option<Arc<super::rrl::Rrl>>,
}

/// One open listen address.
pub struct Listener {
    /// As configured (port 0 stays 0 here: it names the entry).
    pub configured: SocketAddr,
    /// What UDP and TCP are bound to.
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    accept: tokio::task::AbortHandle,
}

impl Listener {
    /// Binds `addr` (UDP for every worker, TCP on the same port) and
    /// starts answering on it. Logs `listening udp=... tcp=...`.
    pub fn open(s: &Setup, addr: SocketAddr) -> anyhow::Result<Listener> {
        let (socks, udp_addr, tcp_std) = tcp::bind_with_udp(addr, s.workers)?;
        let _enter = s.rt.enter();
        let l = tokio::net::TcpListener::from_std(tcp_std)
            .with_context(|| format!("server.listen: tcp {udp_addr}"))?;
        let tcp_addr = l.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (i, sock) in socks.into_iter().enumerate() {
            let (z, p, st) = (s.zones.clone(), s.params.clone(), stop.clone());
            let h = udp::Handoff {
                svc: s.svc.clone(),
                rt: s.rt.clone(),
            };
            let (coalesce, limits) = (s.coalesce, s.rrl.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("udp-{i}"))
                .spawn(move || udp::worker(sock, z, p, st, coalesce, h, limits));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e).context("cannot start a UDP worker");
                }
            }
        }
        let accept =
            s.rt.spawn(tcp::serve(
                l,
                s.svc.clone(),
                s.tcp_max_connections,
                s.tcp_idle_timeout,
            ))
            .abort_handle();
        tracing::info!(udp = %udp_addr, tcp = %tcp_addr, workers = s.workers, "listening");
        Ok(Listener {
            configured: addr,
            udp: udp_addr,
            tcp: tcp_addr,
            stop,
            threads,
            accept,
        })
    }

    /// `udp=...,tcp=...` as `tldd ctl status` prints it.
    pub fn describe(&self) -> String {
        format!("udp={},tcp={}", self.udp, self.tcp)
    }

    /// Tells the workers and the accept loop to stop (returns at once).
    pub fn signal_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.accept.abort();
    }

    /// Stops and waits for the UDP workers (blocking: at most their
    /// receive timeout).
    pub fn close(self) {
        self.signal_stop();
        for t in self.threads {
            let _ = t.join();
        }
        tracing::info!(udp = %self.udp, tcp = %self.tcp, "stopped listening");
    }
}
