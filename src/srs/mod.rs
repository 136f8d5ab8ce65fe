//! The lightweight SRS (shared registry system): EPP over TLS for
//! registrars, the ICANN domain lifecycle, and publication of DNS changes
//! to the TLD zone by RFC 2136 updates signed with TSIG.
//!
//! `tldd srs -c srs.toml` (or `tldd srs serve -c srs.toml`) runs one process:
//!
//! ```text
//! registrar --EPP/TLS--> epp::session --> epp::{domain,host,contact,transfer,poll}
//!                                              | Store::write (one atomic, fsynced batch:
//!                                              |  objects + indexes + ledger + poll + DNS op)
//!                                              v
//!                         store (sled) --pubq--> publisher --UPDATE+TSIG--> zone primary
//!                              ^                                           (tldd serve, Knot, ...)
//!                 lifecycle (timer / `lifecycle --at`), admin (control socket / CLI)
//! ```
//!
//! Modules: [`config`] (TOML), [`clock`], [`model`] (records), [`store`]
//! (sled; the read API Whois/RDAP build on), [`names`] (name and IDN
//! rules), [`lifecycle`] (grace periods, redemption, transfers, ledger),
//! [`epp`] (protocol), [`dns`] (UPDATE/AXFR with TSIG), [`publisher`],
//! [`reconcile`], [`registrar`] (accounts), [`admin`] (operator commands),
//! [`metrics`].
//!
//! Guarantees: an EPP command is answered only after its change (and the
//! DNS change it implies) is durable; DNS publication never delays the
//! answer; the publisher retries until the zone's server acknowledges.
//! Whois and RDAP (`whois_listen`, `rdap_listen`) are served by [`whois`]
//! and [`rdap`] from the same store.
//! Limits: one TLD per process; one process per data directory.
pub mod admin;
pub mod clock;
pub mod config;
pub mod dns;
pub mod epp;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod names;
pub mod publisher;
pub mod rdap;
pub mod reconcile;
pub mod registrar;
pub mod store;
pub mod whois;

use admin::{AdminRequest, App};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `tldd srs ...` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct SrsArgs {
    /// SRS configuration file (TOML; see zones/srs.toml and docs/srs.md).
    #[arg(short, long, global = true)]
    pub config: Option<PathBuf>,
    /// (boxed: keeps the top-level command enum small)
    #[command(subcommand)]
    pub command: Option<Box<SrsCommand>>,
}

// parsed once per process: the size difference between variants is irrelevant
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum SrsCommand {
    /// Run the SRS: EPP listener, lifecycle timer, DNS publisher (the default).
    Serve,
    /// Manage registrar accounts.
    #[command(subcommand)]
    Registrar(RegistrarCommand),
    /// Run every time-driven transition due by a time (auto-renew, grace
    /// expiries, redemption -> pending delete, purge, transfer auto-approve)
    /// and publish the DNS changes.
    ///
    /// Without --at: due by now. A time later than the SRS clock moves the
    /// clock forward (persistently), which needs `[srs] clock_control = true`.
    Lifecycle {
        /// RFC 3339 time, e.g. 2030-01-01T00:00:00Z.
        #[arg(long)]
        at: Option<String>,
    },
    /// Compare the zone (AXFR with TSIG) with the SRS and queue repairs.
    Reconcile {
        /// Report differences without repairing them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the billing ledger (charges > 0, credits < 0), oldest first.
    Ledger {
        /// Only this registrar's entries.
        #[arg(long)]
        registrar: Option<String>,
    },
    /// Print the SRS clock and the publisher queue length.
    Status,
}

#[derive(Debug, Args)]
pub struct RegistrarOpts {
    /// Registrar ID (the EPP clID), 3-16 characters.
    #[arg(long)]
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// IANA registrar ID.
    #[arg(long)]
    pub iana_id: Option<u32>,
    /// EPP password, 6-16 characters (stored as an argon2 hash).
    #[arg(long, env = "TLDD_SRS_REGISTRAR_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// SHA-256 fingerprint of an allowed client certificate (hex, colons
    /// allowed); repeat for several. On update: added to the list.
    #[arg(long = "cert-sha256")]
    pub cert_sha256: Vec<String>,
    /// Source network allowed to log in (CIDR); repeat for several; on
    /// update replaces the list. None: any address.
    #[arg(long = "network")]
    pub networks: Vec<String>,
    /// How far the balance may go below zero (minor currency units).
    #[arg(long)]
    pub credit_limit: Option<i64>,
    /// Add funds to the balance (minor currency units; ledger "Payment").
    #[arg(long)]
    pub funds: Option<i64>,
    /// Sessions at once (default `[srs] epp_registrar_connections`).
    #[arg(long)]
    pub max_connections: Option<u32>,
    /// Registrar URL (shown by Whois/RDAP); empty string clears.
    #[arg(long)]
    pub url: Option<String>,
    /// Registrar Whois server; empty string clears.
    #[arg(long)]
    pub whois_server: Option<String>,
    /// Abuse contact e-mail; empty string clears.
    #[arg(long)]
    pub abuse_email: Option<String>,
    /// Abuse contact phone; empty string clears.
    #[arg(long)]
    pub abuse_phone: Option<String>,
    /// Registrar's RDAP base URL (https://...); empty string clears.
    #[arg(long)]
    pub rdap_url: Option<String>,
    /// A street line of the registrar's own address (Whois registrar
    /// answer, RDAP entity); repeat for up to 3; on update replaces the
    /// lines; "" clears.
    #[arg(long = "street")]
    pub street: Vec<String>,
    /// City of the registrar's address; empty string clears.
    #[arg(long)]
    pub city: Option<String>,
    /// State or province; empty string clears.
    #[arg(long)]
    pub state: Option<String>,
    /// Postal code; empty string clears.
    #[arg(long)]
    pub postal_code: Option<String>,
    /// Country, ISO 3166 alpha-2 (e.g. US); empty string clears.
    #[arg(long)]
    pub country: Option<String>,
    /// Registrar phone, EPP form +CC.NUMBER (e.g. +1.5555550100); empty
    /// string clears.
    #[arg(long)]
    pub phone: Option<String>,
    /// Registrar fax, EPP form; empty string clears.
    #[arg(long)]
    pub fax: Option<String>,
    /// Registrar email; empty string clears.
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RegistrarCommand {
    /// Create a registrar (needs --name, --iana-id, --password, --cert-sha256).
    /// Credit is unlimited unless --credit-limit is given.
    Add(RegistrarOpts),
    /// Change a registrar.
    Update {
        #[command(flatten)]
        opts: RegistrarOpts,
        /// Remove an allowed certificate fingerprint.
        #[arg(long = "remove-cert-sha256")]
        remove_cert_sha256: Vec<String>,
        /// Remove the credit limit.
        #[arg(long)]
        unlimited_credit: bool,
    },
    /// List registrars.
    List,
}

fn spec(o: RegistrarOpts, add: bool) -> registrar::RegistrarSpec {
    registrar::RegistrarSpec {
        id: o.id,
        name: o.name,
        iana_id: o.iana_id,
        password: o.password,
        cert_sha256: o.cert_sha256,
        remove_cert_sha256: vec![],
        networks: if o.networks.is_empty() && !add {
            None
        } else {
            Some(o.networks)
        },
        credit_limit: o.credit_limit,
        unlimited_credit: false,
        add_funds: o.funds,
        max_connections: o.max_connections,
        url: o.url,
        whois_server: o.whois_server,
        abuse_email: o.abuse_email,
        abuse_phone: o.abuse_phone,
        rdap_url: o.rdap_url,
        street: (!o.street.is_empty()).then_some(o.street),
        city: o.city,
        state: o.state,
        postal_code: o.postal_code,
        country: o.country,
        phone: o.phone,
        fax: o.fax,
        email: o.email,
    }
}

/// Entry point of `tldd srs`.
pub fn run(args: SrsArgs) -> anyhow::Result<()> {
    let path = args
        .config
        .ok_or_else(|| anyhow::anyhow!("-c/--config FILE is required (see zones/srs.toml)"))?;
    let cfg = config::Loaded::load(&path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let req = match args.command.map(|c| *c).unwrap_or(SrsCommand::Serve) {
        SrsCommand::Serve => return rt.block_on(serve(cfg)),
        SrsCommand::Registrar(RegistrarCommand::Add(o)) => {
            AdminRequest::RegistrarAdd(spec(o, true))
        }
        SrsCommand::Registrar(RegistrarCommand::Update {
            opts,
            remove_cert_sha256,
            unlimited_credit,
        }) => {
            let mut s = spec(opts, false);
            s.remove_cert_sha256 = remove_cert_sha256;
            s.unlimited_credit = unlimited_credit;
            AdminRequest::RegistrarUpdate(s)
        }
        SrsCommand::Registrar(RegistrarCommand::List) => AdminRequest::RegistrarList,
        SrsCommand::Lifecycle { at } => AdminRequest::Lifecycle {
            at: at
                .map(|a| clock::parse(&a))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        },
        SrsCommand::Reconcile { dry_run } => AdminRequest::Reconcile { dry_run },
        SrsCommand::Ledger { registrar } => AdminRequest::Ledger { registrar },
        SrsCommand::Status => AdminRequest::Status,
    };
    let reply = rt.block_on(admin::run_request(cfg, req))?;
    if !reply.text.is_empty() {
        println!("{}", reply.text);
    }
    if reply.ok {
        Ok(())
    } else {
        anyhow::bail!("command failed")
    }
}

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

async fn serve(cfg: config::Loaded) -> anyhow::Result<()> {
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
    let sv_id = c
        .server_id
        .clone()
        .unwrap_or_else(|| format!("tldd SRS for .{}", app.cfg.tld));
    let settings = epp::EppSettings {
        sv_id,
        max_login_failures: c.epp_max_login_failures.max(1),
        registrar_connections: c.epp_registrar_connections,
        idle_timeout: Duration::from_secs(c.epp_idle_timeout.max(1)),
        max_frame: c.epp_max_frame,
        max_connections: c.epp_max_connections.max(1),
    };
    let epp = Arc::new(epp::Epp::new(
        app.store.clone(),
        app.policy.clone(),
        settings,
        app.metrics.clone(),
    ));
    tracing::info!(epp = %c.epp_listen, tld = %app.cfg.tld, dns = %c.dns.server, "SRS serving");
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(epp::session::serve(epp, listener, tls));
    tasks.spawn(app.publisher().run());
    tasks.spawn(app.clone().serve_control(control));
    // --- whois/rdap (issue 6) ---
    whois::start(&app, &mut tasks).await?;
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
