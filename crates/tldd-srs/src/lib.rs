//! The lightweight SRS (shared registry system): EPP over TLS for
//! registrars, the ICANN domain lifecycle, and publication of DNS changes
//! to the TLD zone by RFC 2136 updates signed with TSIG.
//!
//! `tldd srs -c srs.toml` (or `tldd srs serve -c srs.toml`) runs one process:
//!
//! ```text
//! registrar --EPP/TLS--> epp::session --> epp::command::decode (typed Command)
//!                                              --> apply: epp::{domain,host,contact,transfer,poll}
//!                                              | Store::write (one atomic, fsynced batch:
//!                                              |  objects + indexes + ledger + poll + DNS op)
//!                                              v
//!                         db (sled) --pubq--> publisher --UPDATE+TSIG--> zone primary
//!                              ^                                           (tldd serve, Knot, ...)
//!                 lifecycle (timer / `lifecycle --at`), admin (control socket / CLI)
//! ```
//!
//! Modules: [`config`] (TOML), [`clock`], [`model`] (records), [`db`]
//! (sled; the read API Whois/RDAP build on), [`names`] (name and IDN
//! rules), [`lifecycle`] (grace periods, redemption, transfers, ledger),
//! [`epp`] (protocol), [`dns`] (UPDATE/AXFR with TSIG), [`publisher`],
//! [`reconcile`], [`registrar`] (accounts), [`admin`] (operator commands),
//! [`metrics`].
//!
//! Guarantees: an EPP command is answered only after its change (and the
//! DNS change it implies) is durable; DNS publication never delays the
//! answer; the publisher retries until the zone's server acknowledges.
//! Whois and RDAP (`whois_listen`, `rdap_listen`) are served by [`rdds`]
//! and [`rdds::rdap`] from the same store.
//! Limits: one TLD per process; one process per data directory.
pub mod admin;
pub mod clock;
pub mod config;
pub mod db;
pub mod dns;
pub mod epp;
pub mod hwm;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod names;
pub mod publisher;
pub mod rdds;
pub mod reconcile;
pub mod registrar;
pub mod result;

use admin::App;
use std::sync::Arc;
use std::time::Duration;

/// The next connection on `listener`. A failed accept (typically out of
/// file descriptors) is logged and retried after a pause instead of ending
/// the listener, so `service` keeps serving once descriptors free up; a
/// connection reset before it was accepted is skipped without a pause.
pub(crate) async fn accept(
    listener: &tokio::net::TcpListener,
    service: &str,
) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    accept_with(|| listener.accept(), service).await
}

/// [`accept`] with any accept call.
pub(crate) async fn accept_with<S, Fut>(
    mut accept: impl FnMut() -> Fut,
    service: &str,
) -> (S, std::net::SocketAddr)
where
    Fut: std::future::Future<Output = std::io::Result<(S, std::net::SocketAddr)>>,
{
    use std::io::ErrorKind;
    loop {
        match accept().await {
            Ok(x) => return x,
            // that one connection is gone (reset before it was accepted):
            // take the next at once
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                        | ErrorKind::Interrupted
                ) =>
            {
                tracing::debug!(error = %e, "{service} accept: connection gone")
            }
            Err(e) => {
                tracing::warn!(error = %e, "{service} accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Runs the SRS until SIGTERM/SIGINT: EPP listener, publisher, control
/// socket, Whois/RDAP, metrics, the lifecycle timer (`tldd srs serve`).
pub async fn serve(cfg: config::Loaded) -> anyhow::Result<()> {
    let tls = epp::session::acceptor(
        &cfg.resolve(&cfg.srs.tls_cert),
        &cfg.resolve(&cfg.srs.tls_key),
    )?;
    let control_path = App::control_path(&cfg);
    let app = Arc::new(App::open(cfg)?);
    let c = &app.cfg.srs;
    let listener = tokio::net::TcpListener::bind(c.epp_listen)
        .await
        .map_err(|e| anyhow::anyhow!("epp_listen {}: {e}", c.epp_listen))?;
    let control = admin::bind_control(&control_path)?;
    let sv_id = app.cfg.server_id();
    let settings = epp::EppSettings {
        sv_id,
        max_login_failures: c.epp_max_login_failures.max(1),
        registrar_connections: c.epp_registrar_connections,
        idle_timeout: Duration::from_secs(c.epp_idle_timeout.max(1)),
        max_frame: c.epp_max_frame,
        max_connections: c.epp_max_connections.max(1),
        guard: c.guard(),
    };
    let epp = Arc::new(epp::Epp::new(
        app.store.clone(),
        app.policy.clone(),
        settings,
        app.metrics.clone(),
    ));
    // The bound address (port 0 in the config: the one the kernel chose).
    let epp_addr = listener.local_addr()?;
    tracing::info!(epp = %epp_addr, tld = %app.cfg.tld, dns = %c.dns.server, "SRS serving");
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(epp::session::serve(epp, listener, tls));
    tasks.spawn(app.publisher().run());
    tasks.spawn(app.clone().serve_control(control));
    // --- whois/rdap (issue 6) ---
    rdds::start(&app.cfg, &app.store, &app.metrics.registry, &mut tasks).await?;
    // --- end whois/rdap ---
    if let Some(addr) = c.metrics_listen {
        let m = app.metrics.clone();
        tasks.spawn(async move {
            if let Err(e) = metrics::serve(addr, m).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        });
    }
    let lc = app.clone();
    let interval = Duration::from_secs(c.lifecycle_interval.max(1));
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let (store, policy) = (lc.store.clone(), lc.policy.clone());
            let now = store.clock.now();
            match tokio::task::spawn_blocking(move || lifecycle::run_due(&store, &policy, now))
                .await
            {
                Ok(Ok(rep)) if rep.transitions > 0 => {
                    lc.metrics
                        .lifecycle_transitions
                        .inc_by(rep.transitions as u64);
                    tracing::info!(
                        transitions = rep.transitions,
                        domains = rep.domains,
                        "lifecycle run"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "lifecycle run failed"),
                Err(e) => tracing::error!(error = %e, "lifecycle task failed"),
            }
        }
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        r = tasks.join_next() => {
            if let Some(Err(e)) = r {
                anyhow::bail!("an SRS task stopped: {e}");
            }
        }
    }
    tracing::info!("SRS stopping");
    tasks.abort_all();
    let _ = std::fs::remove_file(&control_path);
    Ok(())
}
