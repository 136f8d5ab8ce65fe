//! Registration data services of the SRS: Whois (RFC 3912, TCP port 43)
//! here and RDAP ([`crate::rdds::rdap`]), both reading the live SRS store.
//!
//! ```text
//! client --TCP--> server (accept, connection limits, read one line with a
//!                 timeout and a length limit)
//!                   -> limit (allow-list, per address and per subnet
//!                      token buckets, growing blocks)
//!                   -> query (syntax, IDN) -> cache (domain answers still
//!                      current) or view (store read) -> text (Spec 4
//!                      format, CRLF) -> write, close
//! ```
//!
//! Modules: [`crate::config::rdds`] (`[srs.whois]`), [`limit`] (rate limiting),
//! [`cache`] (rendered domain answers, exact freshness),
//! [`query`] (query syntax), [`view`] (data shared with RDAP: names,
//! lookups, redaction, texts), [`text`] (the Whois output format),
//! [`reply`] (what a query line gets), [`server`] (the listener and
//! connections that wait), [`fast`] (connections answered in the accept
//! loop), [`workers`] (the serving threads, one per core), [`metrics`].
//!
//! [`Rdds`] holds what both services share: store, TLD, settings, one
//! limiter each and the metrics. Limits: one query per connection (RFC 3912
//! practice); no contact lookups (policy redacts them); no searches or
//! wildcards.
pub mod cache;
pub mod fast;
pub mod limit;
pub mod metrics;
pub mod query;
pub mod rdap;
pub mod reply;
pub mod server;
pub mod text;
pub mod view;
pub mod workers;

use crate::config::rdds::WhoisConfig;
use crate::db::Store;
use cache::AnswerCache;
use limit::{LimitConfig, Limiter};
use metrics::RddsMetrics;
use std::sync::Arc;
use std::time::Duration;

/// Shared state of Whois and RDAP.
pub struct Rdds {
    pub store: Arc<Store>,
    /// TLD without the dot, lower case.
    pub tld: String,
    pub cfg: WhoisConfig,
    pub terms: String,
    pub terms_url: String,
    pub whois_limiter: Limiter,
    pub rdap_limiter: Limiter,
    /// Rendered domain answers (see [`cache`]).
    pub whois_cache: AnswerCache,
    pub rdap_cache: AnswerCache,
    pub metrics: RddsMetrics,
}

impl Rdds {
    /// Builds the shared state; `registry` receives the metrics.
    pub fn new(
        store: Arc<Store>,
        tld: &str,
        cfg: WhoisConfig,
        registry: &prometheus::Registry,
    ) -> Result<Rdds, String> {
        let allow = cfg.check()?;
        let lc = LimitConfig {
            per_address: cfg.rate_limit,
            per_subnet_v4: cfg.subnet_rate_limit_v4,
            per_subnet_v6: cfg.subnet_rate_limit_v6,
            allow,
            block_initial: Duration::from_secs(cfg.block_initial),
            block_max: Duration::from_secs(cfg.block_max),
            block_forget: Duration::from_secs(cfg.block_forget),
            max_tracked: cfg.max_tracked,
        };
        let metrics = RddsMetrics::new(registry);
        for (name, v) in [
            ("rate_limit", cfg.rate_limit as i64),
            ("subnet_rate_limit_v4", cfg.subnet_rate_limit_v4 as i64),
            ("subnet_rate_limit_v6", cfg.subnet_rate_limit_v6 as i64),
            ("block_initial_seconds", cfg.block_initial as i64),
            ("block_max_seconds", cfg.block_max as i64),
            ("block_forget_seconds", cfg.block_forget as i64),
            ("read_timeout_seconds", cfg.read_timeout as i64),
            ("write_timeout_seconds", cfg.write_timeout as i64),
            ("max_query_length", cfg.max_query_length as i64),
            ("max_connections", cfg.max_connections as i64),
            ("max_connections_per_ip", cfg.max_connections_per_ip as i64),
            ("allow_networks", lc.allow.len() as i64),
            ("limit_rdap", cfg.limit_rdap as i64),
            ("cache_entries", cfg.cache_entries as i64),
        ] {
            metrics.limits.with_label_values(&[name]).set(v);
        }
        Ok(Rdds {
            store,
            tld: tld.to_string(),
            terms: cfg
                .terms
                .clone()
                .unwrap_or_else(|| view::default_terms(tld)),
            terms_url: cfg
                .terms_url
                .clone()
                .unwrap_or_else(|| format!("https://nic.{tld}/rdds-terms")),
            whois_limiter: Limiter::new(lc.clone()),
            rdap_limiter: Limiter::new(lc),
            whois_cache: AnswerCache::new(cfg.cache_entries, text::LAST_UPDATE_MARK),
            rdap_cache: AnswerCache::new(
                cfg.cache_entries,
                crate::rdds::rdap::json::LAST_UPDATE_MARK,
            ),
            metrics,
            cfg,
        })
    }
}

impl Rdds {
    /// What replaces a redacted contact e-mail in both services.
    pub fn contact_point(&self) -> view::ContactPoint<'_> {
        view::ContactPoint::new(
            self.cfg.contact_email_replacement.as_deref(),
            self.cfg.contact_form_url.as_deref(),
        )
    }
}

/// Binds `[srs] whois_listen` and `rdap_listen` (when set) and spawns
/// their servers into `tasks`. Bind errors name the key.
pub async fn start(
    cfg: &crate::config::Loaded,
    store: &Arc<crate::db::Store>,
    registry: &prometheus::Registry,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<()> {
    let c = &cfg.srs;
    if c.whois_listen.is_none() && c.rdap_listen.is_none() {
        return Ok(());
    }
    let rdds = Arc::new(
        Rdds::new(store.clone(), &cfg.tld, c.whois.clone(), registry)
            .map_err(|e| anyhow::anyhow!("{}: {e}", cfg.path.display()))?,
    );
    let threads = workers::thread_count(c.whois.threads);
    let whois: Vec<Option<std::net::TcpListener>> = match c.whois_listen {
        Some(addr) => {
            let ls = workers::bind_group(addr, threads)
                .map_err(|e| anyhow::anyhow!("whois_listen {addr}: {e}"))?;
            let addr = ls[0].local_addr()?;
            tracing::info!(whois = %addr, threads, rate_limit = c.whois.rate_limit, allow = c.whois.allow.len(), "Whois serving");
            ls.into_iter().map(Some).collect()
        }
        None => (0..threads).map(|_| None).collect(),
    };
    type Rdap = (
        std::net::TcpListener,
        Arc<crate::rdds::rdap::RdapState>,
        Option<tokio_rustls::TlsAcceptor>,
    );
    let rdap: Vec<Option<Rdap>> = match c.rdap_listen {
        Some(addr) => {
            let tls = match (&c.rdap_tls_cert, &c.rdap_tls_key) {
                (Some(cert), Some(key)) => Some(crate::rdds::rdap::tls_acceptor(
                    &cfg.resolve(cert),
                    &cfg.resolve(key),
                )?),
                (None, None) => None,
                _ => anyhow::bail!("rdap_tls_cert and rdap_tls_key must be set together"),
            };
            let ls = workers::bind_group(addr, threads)
                .map_err(|e| anyhow::anyhow!("rdap_listen {addr}: {e}"))?;
            // port 0: the base URL and the log name the port the kernel chose
            let addr = ls[0].local_addr()?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            let mut base = c
                .whois
                .rdap_base_url
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}/"));
            if !base.ends_with('/') {
                base.push('/');
            }
            let port43 = c.whois_listen.map(|_| {
                c.whois
                    .port43_host
                    .clone()
                    .unwrap_or_else(|| format!("whois.nic.{}", cfg.tld))
            });
            tracing::info!(rdap = %addr, %base, threads, tls = tls.is_some(), "RDAP serving");
            let st = Arc::new(crate::rdds::rdap::RdapState {
                rdds: rdds.clone(),
                base,
                port43,
            });
            ls.into_iter()
                .map(|l| Some((l, st.clone(), tls.clone())))
                .collect()
        }
        None => (0..threads).map(|_| None).collect(),
    };
    // a serving thread that stops ends the SRS (as a stopped task does)
    let (exited, mut exit_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let conns = server::Connections::new(c.whois.max_connections);
    for (i, (whois, rdap)) in whois.into_iter().zip(rdap).enumerate() {
        let (rdds, conns, exited) = (rdds.clone(), conns.clone(), exited.clone());
        workers::spawn(
            i,
            move || async move {
                let mut set = tokio::task::JoinSet::new();
                if let Some(l) = whois {
                    match workers::listener(l) {
                        Ok(l) => drop(set.spawn(server::serve(rdds, l, conns))),
                        Err(e) => tracing::error!(error = %e, "whois listener"),
                    }
                }
                if let Some((l, st, tls)) = rdap {
                    set.spawn(crate::rdds::rdap::serve(st, l, tls));
                }
                // the listeners loop forever: the first to end ends the thread
                let _ = set.join_next().await;
            },
            move |why| {
                let _ = exited.send(why);
            },
        );
    }
    tasks.spawn(async move {
        if let Some(why) = exit_rx.recv().await {
            tracing::error!(reason = %why, "a Whois/RDAP serving thread stopped");
        }
    });
    Ok(())
}
