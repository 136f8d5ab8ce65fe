//! Prometheus metrics of the SRS, served on `[srs] metrics_listen` at
//! `/metrics` (text format 0.0.4):
//! - `tldd_srs_epp_commands_total{command,code}`: EPP commands by type
//!   (`domain:create`, `login`, `poll`, `invalid`, ...) and result code;
//! - `tldd_srs_epp_command_seconds{command}`: latency histogram, from frame
//!   received to answer ready (storage flush included);
//! - `tldd_srs_epp_sessions`: open EPP connections;
//! - `tldd_srs_epp_prelogin_connections`: connections not logged in yet
//!   (`epp::guard`), and `tldd_srs_epp_prelogin_refused_total{reason}`:
//!   connections closed before login by a limit — `per_address`,
//!   `prelogin_max` (both at accept, before TLS), `evicted` (pushed out of
//!   a full pre-login pool by a lighter source), `max_connections` (2502
//!   after the handshake);
//! - `tldd_srs_epp_timeouts_total{phase}`: `handshake`, `login`;
//! - `tldd_srs_epp_login_backoff_total{scope}`: logins refused by the
//!   backoff, by the table that refused (`address`, `clid`);
//! - `tldd_srs_publisher_queue_depth`, `tldd_srs_publisher_lag_seconds`
//!   (age of the oldest unacknowledged DNS change), and
//!   `tldd_srs_publisher_updates_total{result}` (`ok`, `error`: no usable
//!   answer, `refused`: the server said no), `tldd_srs_publisher_blocked`
//!   (1 while the oldest queued change is refused by the server);
//! - `tldd_srs_lifecycle_transitions_total`.
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Metrics {
    pub registry: Registry,
    pub epp_commands: IntCounterVec,
    pub epp_latency: HistogramVec,
    pub epp_sessions: IntGauge,
    pub epp_prelogin: IntGauge,
    pub epp_prelogin_refused: IntCounterVec,
    pub epp_timeouts: IntCounterVec,
    pub epp_login_backoff: IntCounterVec,
    pub queue_depth: IntGauge,
    pub queue_lag: Gauge,
    pub updates: IntCounterVec,
    pub blocked: IntGauge,
    pub lifecycle_transitions: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let epp_commands = IntCounterVec::new(
            Opts::new(
                "tldd_srs_epp_commands_total",
                "EPP commands by type and result code",
            ),
            &["command", "code"],
        )
        .expect("metric");
        let epp_latency = HistogramVec::new(
            HistogramOpts::new("tldd_srs_epp_command_seconds", "EPP command latency").buckets(
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0,
                ],
            ),
            &["command"],
        )
        .expect("metric");
        let epp_sessions =
            IntGauge::new("tldd_srs_epp_sessions", "open EPP connections").expect("metric");
        let epp_prelogin = IntGauge::new(
            "tldd_srs_epp_prelogin_connections",
            "EPP connections not logged in yet",
        )
        .expect("metric");
        let epp_prelogin_refused = IntCounterVec::new(
            Opts::new(
                "tldd_srs_epp_prelogin_refused_total",
                "EPP connections closed before login by a limit, by reason",
            ),
            &["reason"],
        )
        .expect("metric");
        let epp_timeouts = IntCounterVec::new(
            Opts::new(
                "tldd_srs_epp_timeouts_total",
                "EPP connections closed by a deadline before login, by phase",
            ),
            &["phase"],
        )
        .expect("metric");
        let epp_login_backoff = IntCounterVec::new(
            Opts::new(
                "tldd_srs_epp_login_backoff_total",
                "EPP logins refused by the login backoff, by scope",
            ),
            &["scope"],
        )
        .expect("metric");
        let queue_depth = IntGauge::new(
            "tldd_srs_publisher_queue_depth",
            "DNS changes not yet acknowledged",
        )
        .expect("metric");
        let queue_lag = Gauge::new(
            "tldd_srs_publisher_lag_seconds",
            "age of the oldest unacknowledged DNS change",
        )
        .expect("metric");
        let updates = IntCounterVec::new(
            Opts::new(
                "tldd_srs_publisher_updates_total",
                "RFC 2136 updates sent, by result",
            ),
            &["result"],
        )
        .expect("metric");
        let blocked = IntGauge::new(
            "tldd_srs_publisher_blocked",
            "1 while the DNS server refuses the oldest queued change",
        )
        .expect("metric");
        let lifecycle_transitions = IntCounter::new(
            "tldd_srs_lifecycle_transitions_total",
            "time-driven lifecycle transitions applied",
        )
        .expect("metric");
        for c in [
            Box::new(epp_commands.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(epp_latency.clone()),
            Box::new(epp_sessions.clone()),
            Box::new(epp_prelogin.clone()),
            Box::new(epp_prelogin_refused.clone()),
            Box::new(epp_timeouts.clone()),
            Box::new(epp_login_backoff.clone()),
            Box::new(queue_depth.clone()),
            Box::new(queue_lag.clone()),
            Box::new(updates.clone()),
            Box::new(blocked.clone()),
            Box::new(lifecycle_transitions.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Metrics {
            registry,
            epp_commands,
            epp_latency,
            epp_sessions,
            epp_prelogin,
            epp_prelogin_refused,
            epp_timeouts,
            epp_login_backoff,
            queue_depth,
            queue_lag,
            updates,
            blocked,
            lifecycle_transitions,
        }
    }

    pub fn observe(&self, command: &str, code: u16, secs: f64) {
        self.epp_commands
            .with_label_values(&[command, &code.to_string()])
            .inc();
        self.epp_latency.with_label_values(&[command]).observe(secs);
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves `/metrics` on `addr`.
pub async fn serve(addr: SocketAddr, m: Arc<Metrics>) -> anyhow::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = m.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    m.render(),
                )
            }
        }),
    );
    let l = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("metrics_listen {addr}: {e}"))?;
    tracing::info!(metrics = %l.local_addr()?, "SRS metrics listening");
    axum::serve(l, app).await?;
    Ok(())
}
