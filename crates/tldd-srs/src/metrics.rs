//! Prometheus metrics of the SRS, served on `[srs] metrics_listen` at
//! `/metrics` (text format 0.0.4):
//! - `tldd_srs_epp_commands_total{command,code}`: EPP commands by type
//!   (`domain:create`, `login`, `poll`, `invalid`, ...) and result code;
//! - `tldd_srs_epp_command_seconds{command}`: latency histogram, from frame
//!   received to answer ready (storage flush included);
//! - `tldd_srs_epp_sessions`: open EPP connections;
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
