//! `tldd serve`: load the zones, bind every listen address, answer until
//! SIGTERM/SIGINT; SIGHUP (and `tldd ctl reload`) applies the configuration
//! file again ([`reload`]).
//!
//! UDP is served by plain threads ([`udp`]), one SO_REUSEPORT socket each
//! (`[server] udp_workers` per address, default one per core). TCP
//! ([`tcp`]), `/metrics` and signal handling run on a small tokio runtime.
//! Every worker reads the served zones through one `ArcSwap<ZoneSet>`: a new
//! zone version is published by a single pointer swap and readers that still
//! hold the old one finish with it undisturbed.
//!
//! Requests the fast path does not answer (UPDATE, NOTIFY, transfers,
//! TSIG-signed queries) go to [`dispatch`] on the runtime, which hands
//! each to its handler beside it ([`update`], [`notify`], [`xfr_out`]); they
//! share [`crate::runtime`], never each other. Each zone has a
//! writer thread ([`crate::events`]) that owns its current version,
//! makes new ones durable in the store, and swaps them in.
//!
//! Listen addresses with port 0 get an ephemeral port, the same for UDP and
//! TCP and for every worker; the actual addresses are logged
//! (`listening udp=... tcp=...`).
pub mod control;
pub mod dispatch;
pub mod health;
pub mod listeners;
pub mod notify;
pub mod reload;
pub mod rrl;
pub mod tcp;
pub mod udp;
pub mod update;
pub mod xfr_out;
pub mod zones;

pub use zones::{load_zone_file, load_zones};
pub(crate) use zones::{set_serial, sign_for_serving};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::wire::{Params, ZoneSet};
use anyhow::Context;
use arc_swap::ArcSwap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_zone::progress::Progress;

/// Entry point of `tldd serve -c FILE`: `tldd ctl reload` and SIGHUP
/// read `path` again ([`reload`]).
pub fn run_from_file(path: &Path, progress: &dyn Progress) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::config::ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    let cfg = Config::parse(&text, path)?;
    serve(
        cfg,
        Some((path.to_owned(), reload::server_table(&text))),
        progress,
    )
}

/// Runs the server with a parsed configuration (no reload: there is no
/// file to read again). Zone loading reports to `progress`.
pub fn run(cfg: Config, progress: &dyn Progress) -> anyhow::Result<()> {
    serve(cfg, None, progress)
}

fn serve(
    cfg: Config,
    source: Option<(PathBuf, toml::Table)>,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let started = tldd_tsig::now();
    let started_at = Instant::now();
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("server.data_dir {}", cfg.server.data_dir.display()))?;
    let metrics = Arc::new(Metrics::new());
    let store = crate::journal::Journal::open(&cfg.server.data_dir)?;
    if let Err(e) = crate::journal::Journal::record_holder(&cfg.server.data_dir) {
        tracing::warn!(
            "cannot write {}/tldd.pid: {e}",
            cfg.server.data_dir.display()
        );
    }
    let keys = Arc::new(
        tldd_tsig::KeyRing::from_config(&cfg.tsig)
            .map_err(anyhow::Error::msg)?
            .with_max_fudge(u16::try_from(cfg.server.tsig_max_fudge).unwrap_or(u16::MAX)),
    );
    let loaded = load_zones(&cfg, progress, &metrics, &store)?;
    // The replay cache vouches for requests signed after this second only
    // (tldd_tsig's `# Replay`, rule 3), unless no zone was restored from
    // the store: then no earlier process applied anything through it.
    let replay = if loaded.iter().any(|(zs, _)| zs.is_complete()) {
        tldd_tsig::ReplayCache::new(started)
    } else {
        tldd_tsig::ReplayCache::for_new_store()
    };
    crate::journal::trim_periodically(Duration::from_secs(30));
    let zones = Arc::new(ArcSwap::from_pointee(ZoneSet::new(
        loaded
            .iter()
            .filter_map(|(_, z)| z.clone().map(Arc::new))
            .collect(),
    )));
    let params = Arc::new(Params {
        udp_payload: cfg.server.udp_payload,
        nsid: cfg.server.nsid.clone().map(String::into_bytes),
        identity: cfg.server.identity.clone().map(String::into_bytes),
        version: cfg.server.version.clone().map(String::into_bytes),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("tldd-rt")
        .build()?;

    let sh = zones::Shared {
        cfg: cfg.clone(),
        zones: zones.clone(),
        metrics: metrics.clone(),
        rt: rt.handle().clone(),
        keys: keys.clone(),
    };
    let mut zone_rt = Vec::new();
    let mut loops = Vec::new();
    for (z, (zs, zone)) in cfg.zone.iter().zip(loaded) {
        let (zrt, handle) = zones::Prepared::new(&sh, z)?.start(&sh, zs, zone)?;
        loops.push((zrt.origin_text.clone(), handle));
        zone_rt.push(zrt);
    }
    // Zone files edited while the store served (`zonefile_load`), before
    // anyone is answered.
    for (z, zrt) in cfg.zone.iter().zip(&zone_rt) {
        rt.block_on(zones::check_file(z, zrt));
    }
    let (cookies, cookie_roll) = cookie_keeper(&cfg.server)?;
    let svc = Arc::new(crate::runtime::Services {
        zones: zones.clone(),
        params: params.clone(),
        keys: ArcSwap::new(keys),
        zone_rt: ArcSwap::from_pointee(zone_rt),
        replay,
        metrics: metrics.clone(),
        cookies: cookies.clone(),
    });
    if let Some(every) = cookie_roll {
        rt.spawn(roll_cookie_secret(cookies, every));
    }
    let rrl = match cfg.server.rrl_rate {
        0 => None,
        rate => Some(Arc::new(
            rrl::Rrl::new(&rrl::Settings {
                rate,
                slip: cfg.server.rrl_slip,
                allow: cfg.server.rrl_allow_list(),
                table_size: cfg.server.rrl_table_size,
            })
            .map_err(|_| anyhow::anyhow!("no random numbers for the RRL table's hash key"))?,
        )),
    };
    // Listen only once our clock is past the start second, so that a
    // client signing after it sees us listen is never refused as signed
    // before the start (at most a second; loading zones usually took it).
    if let Some(wait) = tldd_tsig::until(svc.replay.not_before()) {
        std::thread::sleep(wait);
    }

    let setup = listeners::Setup {
        zones: zones.clone(),
        params,
        svc: svc.clone(),
        rt: rt.handle().clone(),
        workers: cfg
            .server
            .udp_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        coalesce: Duration::from_micros(cfg.server.udp_coalesce_us),
        tcp_max_connections: cfg.server.tcp_max_connections,
        tcp_idle_timeout: Duration::from_secs(cfg.server.tcp_idle_timeout),
        rrl,
    };
    let mut open = Vec::new();
    for &addr in &cfg.server.listen {
        match listeners::Listener::open(&setup, addr) {
            Ok(l) => open.push(l),
            Err(e) => {
                for l in open {
                    l.close();
                }
                return Err(e);
            }
        }
    }
    let (path, server_table) = source.unzip();
    let reloader = Arc::new(reload::Reloader::new(
        path,
        svc.clone(),
        store,
        setup,
        reload::Running {
            cfg: cfg.clone(),
            server_table: server_table.unwrap_or_default(),
            loops,
            listeners: open,
        },
    ));

    let result = rt.block_on(async {
        if let Some(maddr) = cfg.server.metrics {
            let l = tokio::net::TcpListener::bind(maddr)
                .await
                .with_context(|| format!("server.metrics {maddr}"))?;
            let m = metrics.clone();
            let bounds = health::Bounds {
                max_lag: cfg.server.health_max_lag,
                min_signature_validity: cfg.server.health_min_signature_validity,
            };
            let hs = svc.clone();
            let health: crate::metrics::Health =
                Arc::new(move || health::check(&hs, bounds, tldd_tsig::now()));
            tokio::spawn(async move {
                if let Err(e) = crate::metrics::serve(l, m, health).await {
                    tracing::error!("metrics listener: {e}");
                }
            });
        }
        // Serving matters more than being steerable: a socket that cannot
        // be bound (a data_dir path beyond the 108-byte limit of Unix
        // socket names, say) is an error in the log, not a refusal to run.
        let ctl_path = control::socket_path(&cfg.server.data_dir);
        match control::bind(&cfg.server.data_dir) {
            Ok(ctl) => {
                tracing::info!(socket = %ctl_path.display(), "control socket listening");
                tokio::spawn(control::serve(
                    ctl,
                    svc.clone(),
                    Arc::new(control::ServerInfo {
                        started: started_at,
                        data_dir: cfg.server.data_dir.clone(),
                        reloader: reloader.clone(),
                    }),
                ));
            }
            Err(e) => tracing::error!(socket = %ctl_path.display(), "no control socket (tldd ctl will not reach this server): {e}"),
        }
        signals(&reloader).await;
        anyhow::Ok(reloader.take().await)
    });
    let _ = std::fs::remove_file(control::socket_path(&cfg.server.data_dir));
    tracing::info!("shutting down");
    let running = match result {
        Ok(r) => r,
        Err(e) => {
            // The listeners and loops stay with the reloader; the process ends.
            rt.shutdown_timeout(Duration::from_secs(2));
            return Err(e);
        }
    };
    for l in &running.listeners {
        l.signal_stop();
    }
    // The zone loops finish what they have (an update batch being
    // committed is answered) and end while the runtime they wait on lives.
    for z in svc.zones_rt().iter() {
        let _ = rt.block_on(z.events.send(crate::events::Event::Stop));
    }
    for (_, h) in running.loops {
        let _ = h.join();
    }
    for l in running.listeners {
        l.close();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// The DNS cookie secrets (`[server] cookie_secret*`, else random), and
/// how often to roll them (random ones only).
fn cookie_keeper(
    s: &crate::config::ServerConfig,
) -> anyhow::Result<(Arc<crate::wire::cookie::Keeper>, Option<Duration>)> {
    use crate::wire::cookie::{Keeper, Secret, Secrets};
    let (current, previous) = s.cookie_secrets();
    let (secrets, roll) = match current {
        Some(c) => (
            Secrets {
                current: Secret(c),
                previous: previous.map(Secret),
            },
            None,
        ),
        None => (
            Secrets {
                current: Secret::random()
                    .map_err(|_| anyhow::anyhow!("no random numbers for the cookie secret"))?,
                previous: None,
            },
            Some(Duration::from_secs(s.cookie_rotation_secs())),
        ),
    };
    Ok((Arc::new(Keeper::new(secrets)), roll))
}

/// Rolls the random cookie secret every `every`; the one before stays
/// accepted until the next roll (a cookie lives an hour, `every` is at
/// least that).
async fn roll_cookie_secret(keeper: Arc<crate::wire::cookie::Keeper>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match crate::wire::cookie::Secret::random() {
            Ok(next) => {
                keeper.roll(next);
                tracing::info!("DNS cookie secret rolled (the previous one is still accepted)");
            }
            Err(_) => tracing::error!("no random numbers: the DNS cookie secret was not rolled"),
        }
    }
}

/// Until SIGTERM or SIGINT; SIGHUP reloads the configuration (the result
/// is logged: the running configuration stays when it is refused).
async fn signals(reloader: &reload::Reloader) {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut hup) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(t), Ok(h)) => (t, h),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!("cannot install the SIGTERM/SIGHUP handlers: {e}");
            return std::future::pending().await;
        }
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                if let Err(e) = reloader.reload().await {
                    tracing::error!("reload refused, the running configuration stays: {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
