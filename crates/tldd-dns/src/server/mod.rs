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
pub mod notify;
pub mod rrl;
pub mod tcp;
pub mod udp;
pub mod update;
pub mod xfr_out;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::wire::{Params, ZoneSet};
use anyhow::Context;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_zone::load::{load_file, Severity};
use tldd_zone::progress::Progress;

/// Entry point of `tldd serve -c FILE`.
pub fn run_from_file(path: &Path, progress: &dyn Progress) -> anyhow::Result<()> {
    let cfg = Config::load(path)?;
    run(cfg, progress)
}

/// Loads one zone from its file (with the checks logged).
pub fn load_zone_file(
    origin: &str,
    file: &Path,
    progress: &dyn Progress,
    m: &Metrics,
) -> anyhow::Result<tldd_zone::Zone> {
    let started = Instant::now();
    let loaded = load_file(file, origin, progress).with_context(|| format!("zone {origin}"))?;
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
    m.zone_load_seconds.with_label_values(&[origin]).set(secs);
    Ok(loaded.zone)
}

/// The zones at start: from the store when it holds a complete copy,
/// else from the zone file (the writer thread then writes it to the
/// store, see [`crate::events`]). A secondary zone
/// with nothing stored starts unserved and waits for its first transfer.
pub fn load_zones(
    cfg: &Config,
    progress: &dyn Progress,
    m: &Metrics,
    store: &crate::journal::Journal,
) -> anyhow::Result<Vec<(crate::journal::ZoneJournal, Option<tldd_zone::Zone>)>> {
    let mut out = Vec::new();
    for z in &cfg.zone {
        let origin = z.origin();
        let mut zs = store.zone(&origin, z.journal_max)?;
        let mut wire = Vec::new();
        tldd_zone::name::from_text(origin.as_bytes(), &[0], true, &mut wire)
            .map_err(|e| anyhow::anyhow!("zone {origin}: {e}"))?;
        let started = Instant::now();
        let zone = match zs
            .load(&wire)
            .with_context(|| format!("zone {origin}: store"))?
        {
            Some(zone) => {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!(zone = %origin, serial = zone.serial(), delegations = zone.cuts.len(), seconds = format!("{secs:.2}"), "zone loaded from the store");
                m.zone_load_seconds.with_label_values(&[&origin]).set(secs);
                Some(zone)
            }
            None => match &z.file {
                Some(file) => {
                    let mut zone = load_zone_file(&origin, file, progress, m)?;
                    if let Some(dnssec) = &z.dnssec {
                        zone = sign_for_serving(cfg, &origin, zone, dnssec, z.serial_policy, m)?;
                    }
                    // Written to the store by the zone's writer thread
                    // while the zone is already being served.
                    Some(zone)
                }
                None => {
                    tracing::info!(zone = %origin, "secondary zone not in the store yet; waiting for the first transfer");
                    None
                }
            },
        };
        if let Some(zone) = &zone {
            m.zone(zone);
        }
        out.push((zs, zone));
    }
    // Parsing, signing and verifying freed far more than the zone keeps.
    crate::journal::release_freed_memory();
    Ok(out)
}

/// Signs a freshly loaded zone with its active keys and verifies the result
/// (bump-in-the-wire: a version that fails verification is never served).
///
/// The signed zone is new content, so it gets a new serial (the file's
/// moved on by `serial_policy`): a secondary that loaded the same unsigned
/// file must see the primary ahead of it and transfer, or it would serve
/// the zone without DNSKEY, NSEC3 and RRSIG and never notice.
pub(crate) fn sign_for_serving(
    cfg: &Config,
    origin: &str,
    mut zone: tldd_zone::Zone,
    dnssec: &crate::config::DnssecConfig,
    policy: crate::config::SerialPolicy,
    m: &Metrics,
) -> anyhow::Result<tldd_zone::Zone> {
    let started = Instant::now();
    let file_serial = zone.serial();
    let serial = policy.next(file_serial, tldd_tsig::now());
    set_serial(&mut zone, serial).with_context(|| format!("zone {origin}"))?;
    let opts = crate::signer::SignOptions::from_config(dnssec)
        .map_err(|e| anyhow::anyhow!("zone {origin}: {e}"))?;
    let mut signed = zone;
    let (_, unpublished) =
        crate::signer::sign_as_keys_say(cfg, origin, &mut signed, dnssec, &opts, &|_| {})?;
    let keys = signed
        .apex
        .get(tldd_zone::rdata::DNSKEY)
        .map_or(0, |s| s.rdatas().count());
    let now = crate::signer::sign::unix_now() as u32;
    if let Err(e) = crate::signer::verify_sampled_with(&signed, now, 1, &unpublished) {
        m.verify_failures.with_label_values(&[origin]).inc();
        anyhow::bail!("zone {origin}: the signed version failed verification, not serving it: {e}");
    }
    tracing::info!(
        zone = %origin,
        dnskeys = keys,
        nsec3 = signed.nsec3.as_ref().map_or(0, |c| c.len()),
        file_serial,
        serial,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "zone signed and verified (a new serial: signing changed the content)"
    );
    Ok(signed)
}

/// Puts `serial` into the zone's SOA (the signatures, if any, are then
/// stale: the caller signs).
pub(crate) fn set_serial(zone: &mut tldd_zone::Zone, serial: u32) -> anyhow::Result<()> {
    let soa = zone
        .soa()
        .and_then(|s| Some((s.ttl, s.rdatas().next()?)))
        .and_then(|(ttl, rd)| Some((ttl, tldd_zone::diff::with_serial(rd, serial)?)))
        .context("no valid SOA")?;
    zone.apex.put(tldd_zone::RRset::new(
        tldd_zone::rdata::SOA,
        soa.0,
        &[&soa.1],
    ));
    Ok(())
}

/// Runs the server with a parsed configuration.
/// Zone loading reports to `progress`.
pub fn run(cfg: Config, progress: &dyn Progress) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let started = tldd_tsig::now();
    let started_at = Instant::now();
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("server.data_dir {}", cfg.server.data_dir.display()))?;
    let metrics = Arc::new(Metrics::new());
    let store = crate::journal::Journal::open(&cfg.server.data_dir)?;
    let keys = tldd_tsig::KeyRing::from_config(&cfg.tsig)
        .map_err(anyhow::Error::msg)?
        .with_max_fudge(u16::try_from(cfg.server.tsig_max_fudge).unwrap_or(u16::MAX));
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

    let mut zone_rt = Vec::new();
    let mut loops = Vec::new();
    for (z, (zs, zone)) in cfg.zone.iter().zip(loaded) {
        let origin_text = z.origin();
        let mut origin = Vec::new();
        tldd_zone::name::from_text(origin_text.as_bytes(), &[0], true, &mut origin)
            .map_err(|e| anyhow::anyhow!("zone {origin_text}: {e}"))?;
        let needs_snapshot = zone.is_some() && !zs.is_complete();
        // A signed zone with `[zone.dnssec]` gets its updates re-signed.
        let resigner = match (&z.dnssec, z.primary) {
            (Some(d), None) => {
                let loaded = crate::signer::serving_keys(&cfg, &origin_text)
                    .with_context(|| format!("zone {origin_text}: signing keys"))?
                    .1;
                let keys = loaded.signing_keys();
                let opts = crate::signer::SignOptions::from_config(d)
                    .map_err(|e| anyhow::anyhow!("zone {origin_text}: {e}"))?;
                Some(crate::signer::resign::Resigner {
                    keys,
                    opts,
                    refresh_window: d.refresh_window(),
                    jitter: d.jitter(),
                    unpublished: loaded.unpublished_signers(),
                    presigned_keys: d.offline_ksk,
                })
            }
            _ => None,
        };
        let key =
            |k: &Option<toml::Spanned<String>>| k.as_ref().and_then(|k| keys.by_label(k.get_ref()));
        // Signature refresh passes at a steady pace, the first right away
        // (a zone restored from the journal with old signatures is fixed first).
        let resign_every = match (&z.dnssec, z.primary) {
            (Some(d), None) => Some(crate::signer::refresh::check_interval(
                d.validity(),
                d.refresh_window(),
            )),
            _ => None,
        };
        if let (Some(d), None) = (&z.dnssec, z.primary) {
            if d.keystore == crate::config::KeystoreKind::Hsm {
                // It just signed (or its keys were found): up until a
                // signing call fails.
                metrics.hsm_up.with_label_values(&[&origin_text]).set(1);
            }
        }
        let expire_clock = Arc::new(std::sync::atomic::AtomicU64::new(0));
        if z.primary.is_some() {
            zones.rcu(|zs| ZoneSet::clone(zs).with_expire_clock(&origin, expire_clock.clone()));
        }
        let writer = crate::events::ZoneLoop {
            needs_snapshot,
            origin_text: origin_text.clone(),
            origin: origin.clone().into(),
            state: zone.map(tldd_zone::ZoneState::new),
            journal: zs.clone(),
            zones: zones.clone(),
            policy: z.serial_policy,
            counted: None,
            resigner,
            resign_every,
            metrics: metrics.clone(),
            rt: rt.handle().clone(),
            notify: z.notify.clone(),
            transfer_key: key(&z.transfer_key),
            primary: z.primary,
            expire_clock,
            frozen: None,
            keyctx: match (&z.dnssec, z.primary) {
                (Some(d), None) => Some(crate::events::keys::KeyCtx {
                    cfg: cfg.clone(),
                    timings: d.timings(),
                    dnskey_ttl: d.dnskey_ttl(),
                    cds_digests: d.cds_digest_types.clone(),
                    parents: d.ksk_submission.parents(),
                    hsm: d.keystore == crate::config::KeystoreKind::Hsm,
                    offline: d.offline_ksk,
                    skr_warning: d.skr_warning(),
                }),
                _ => None,
            },
        }
        .spawn()?;
        let (writer, handle) = writer;
        loops.push(handle);
        zone_rt.push(Arc::new(crate::runtime::ZoneRuntime {
            origin: origin.into(),
            origin_text,
            update_key: z.update_key.as_ref().map(|k| k.get_ref().clone()),
            transfer_key: key(&z.transfer_key),
            allow_transfer: z.transfer_acl(),
            allow_notify: z.notify_acl(),
            primary: z.primary,
            events: writer,
            journal: zs,
        }));
    }
    let (cookies, cookie_roll) = cookie_keeper(&cfg.server)?;
    let svc = Arc::new(crate::runtime::Services {
        zones: zones.clone(),
        params: params.clone(),
        keys,
        zone_rt,
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

    let stop = Arc::new(AtomicBool::new(false));
    let workers = cfg
        .server
        .udp_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    let mut threads = Vec::new();
    let mut bound: Vec<(SocketAddr, std::net::TcpListener)> = Vec::new();
    for &addr in &cfg.server.listen {
        let (socks, actual, tcp) = tcp::bind_with_udp(addr, workers)?;
        for (i, s) in socks.into_iter().enumerate() {
            let (z, p, st) = (zones.clone(), params.clone(), stop.clone());
            let h = udp::Handoff {
                svc: svc.clone(),
                rt: rt.handle().clone(),
            };
            let coalesce = Duration::from_micros(cfg.server.udp_coalesce_us);
            let limits = rrl.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("udp-{i}"))
                    .spawn(move || udp::worker(s, z, p, st, coalesce, h, limits))?,
            );
        }
        bound.push((actual, tcp));
    }

    let result = rt.block_on(async {
        let mut listeners = Vec::new();
        for (addr, tcp) in bound {
            let l = tokio::net::TcpListener::from_std(tcp)
                .with_context(|| format!("server.listen: tcp {addr}"))?;
            tracing::info!(udp = %addr, tcp = %l.local_addr()?, workers, "listening");
            listeners.push(format!("udp={addr},tcp={}", l.local_addr()?));
            tokio::spawn(tcp::serve(
                l,
                svc.clone(),
                cfg.server.tcp_max_connections,
                Duration::from_secs(cfg.server.tcp_idle_timeout),
            ));
        }
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
                        listeners,
                        data_dir: cfg.server.data_dir.clone(),
                    }),
                ));
            }
            Err(e) => tracing::error!(socket = %ctl_path.display(), "no control socket (tldd ctl will not reach this server): {e}"),
        }
        wait_for_signal().await;
        anyhow::Ok(())
    });
    let _ = std::fs::remove_file(control::socket_path(&cfg.server.data_dir));
    tracing::info!("shutting down");
    stop.store(true, Ordering::Relaxed);
    // The zone loops finish what they have (an update batch being
    // committed is answered) and end while the runtime they wait on lives.
    for z in &svc.zone_rt {
        let _ = rt.block_on(z.events.send(crate::events::Event::Stop));
    }
    for h in loops {
        let _ = h.join();
    }
    for t in threads {
        let _ = t.join();
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    result
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

#[cfg(test)]
mod tests;
