//! `tldd serve`: load the zones, bind every listen address, answer until
//! SIGTERM/SIGINT.
//!
//! UDP is served by plain threads ([`udp`]), one SO_REUSEPORT socket each
//! (`[server] udp_workers` per address, default one per core). TCP
//! ([`tcp`]), `/metrics` and signal handling run on a small tokio runtime.
//! Every worker reads the served zones through one `ArcSwap<ZoneSet>`: a new
//! zone version is published by a single pointer swap and readers that still
//! hold the old one finish with it undisturbed.
//!
//! Listen addresses with port 0 get an ephemeral port, the same for UDP and
//! TCP and for every worker; the actual addresses are logged
//! (`listening udp=... tcp=...`).
pub mod tcp;
pub mod udp;

use crate::config::Config;
use crate::wire::{Params, ZoneSet};
use crate::zone::load::{load_file, Severity};
use anyhow::Context;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entry point of `tldd serve -c FILE`.
pub fn run_from_file(path: &Path) -> anyhow::Result<()> {
    let cfg = Config::load(path)?;
    run(cfg)
}

/// Loads every configured zone from its file.
pub fn load_zones(cfg: &Config) -> anyhow::Result<ZoneSet> {
    let m = crate::metrics::get();
    let mut zones = Vec::new();
    for z in &cfg.zone {
        let origin = z.origin();
        let Some(file) = &z.file else {
            anyhow::bail!("zone {origin}: secondary zones (`primary`) are not supported by this build; set `file`");
        };
        let started = Instant::now();
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let loaded =
            load_file(file, &origin, progress).with_context(|| format!("zone {origin}"))?;
        let errors = loaded
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        for p in loaded.problems.iter().take(20) {
            tracing::warn!(zone = %origin, "{}:{}: {}", file.display(), p.line, p.message);
        }
        if loaded.problems.len() > 20 {
            tracing::warn!(zone = %origin, "... and {} more problems (see `tldd zone check`)", loaded.problems.len() - 20);
        }
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            zone = %origin,
            serial = loaded.zone.serial(),
            records = loaded.records,
            delegations = loaded.zone.cuts.len(),
            errors,
            seconds = format!("{secs:.2}"),
            "zone loaded"
        );
        m.zone_load_seconds.with_label_values(&[&origin]).set(secs);
        m.zone(&loaded.zone);
        zones.push(Arc::new(loaded.zone));
    }
    Ok(ZoneSet::new(zones))
}

/// Runs the server with a parsed configuration.
pub fn run(cfg: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("server.data_dir {}", cfg.server.data_dir.display()))?;
    let zones = Arc::new(ArcSwap::from_pointee(load_zones(&cfg)?));
    let params = Arc::new(Params {
        udp_payload: cfg.server.udp_payload,
        nsid: cfg.server.nsid.clone().map(String::into_bytes),
        identity: cfg.server.identity.clone().map(String::into_bytes),
        version: cfg.server.version.clone().map(String::into_bytes),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let workers = cfg
        .server
        .udp_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    let mut threads = Vec::new();
    let mut bound: Vec<SocketAddr> = Vec::new();
    for &addr in &cfg.server.listen {
        let first = udp::bind(addr).with_context(|| format!("server.listen: udp {addr}"))?;
        let actual = first
            .local_addr()?
            .as_socket()
            .context("udp socket address")?;
        let mut socks = vec![first];
        for _ in 1..workers {
            socks.push(udp::bind(actual).with_context(|| format!("server.listen: udp {actual}"))?);
        }
        for (i, s) in socks.into_iter().enumerate() {
            let (z, p, st) = (zones.clone(), params.clone(), stop.clone());
            let coalesce = Duration::from_micros(cfg.server.udp_coalesce_us);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("udp-{i}"))
                    .spawn(move || udp::worker(s, z, p, st, coalesce))?,
            );
        }
        bound.push(actual);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("tldd-rt")
        .build()?;
    let result = rt.block_on(async {
        for &addr in &bound {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("server.listen: tcp {addr}"))?;
            tracing::info!(udp = %addr, tcp = %l.local_addr()?, workers, "listening");
            tokio::spawn(tcp::serve(
                l,
                zones.clone(),
                params.clone(),
                cfg.server.tcp_max_connections,
                Duration::from_secs(cfg.server.tcp_idle_timeout),
            ));
        }
        if let Some(maddr) = cfg.server.metrics {
            let l = tokio::net::TcpListener::bind(maddr)
                .await
                .with_context(|| format!("server.metrics {maddr}"))?;
            tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(l).await {
                    tracing::error!("metrics listener: {e}");
                }
            });
        }
        wait_for_signal().await;
        anyhow::Ok(())
    });
    tracing::info!("shutting down");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install SIGTERM handler: {e}");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
