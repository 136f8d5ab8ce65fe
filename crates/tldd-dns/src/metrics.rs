//! Prometheus metrics and the `/metrics` listener.
//!
//! The query path never touches a Prometheus counter directly (a labelled
//! counter lookup takes a lock and hashes strings): each worker counts into a
//! plain array ([`LocalCounts`]) and flushes it about once a second.
//!
//! No global state: [`Metrics`] is a handle. `tldd serve` makes one and
//! passes it down (the runtime's `Services`, each zone's event loop, the
//! workers' [`LocalCounts`]), so two servers in one process count apart.
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::net::SocketAddr;
use std::sync::Arc;

/// All metrics of the process.
pub struct Metrics {
    pub registry: Registry,
    pub queries: IntCounterVec,
    pub truncated: IntCounterVec,
    pub malformed: IntCounterVec,
    pub zone_serial: IntGaugeVec,
    pub zone_records: IntGaugeVec,
    pub zone_delegations: IntGaugeVec,
    pub zone_load_seconds: GaugeVec,
    pub tcp_connections: IntGaugeVec,
    pub tcp_refused: IntCounterVec,
    pub verify_failures: IntCounterVec,
    /// RRsets re-signed by the signature refresh.
    pub signatures_refreshed: IntCounterVec,
    /// RRsets whose signatures are due for refresh after the last pass.
    pub signature_refresh_pending: IntGaugeVec,
    /// 1 while the zone's HSM keys sign, 0 after a signing call failed
    /// (zones with `keystore = "hsm"` only).
    pub hsm_up: IntGaugeVec,
    /// Seconds until the zone's earliest RRSIG expiry (at the last key step).
    pub signature_expiry: IntGaugeVec,
    /// Seconds until the zone's next key event (-1: none scheduled, or one
    /// that waits for something without a time, such as the parent's DS).
    pub key_next_event: IntGaugeVec,
    /// An offline-KSK zone: seconds until its imported SKR runs out (the
    /// last slot's signatures expire; negative: already).
    pub skr_remaining: IntGaugeVec,
    /// UPDATE outcomes: `result` is "accepted" or the refusal reason.
    pub updates: IntCounterVec,
    /// Seconds from an UPDATE's arrival to its version being served.
    pub update_publish_seconds: HistogramVec,
    /// Updates per committed version (group commit).
    pub update_batch: HistogramVec,
    pub journal_entries: IntGaugeVec,
    pub store_bytes: IntGaugeVec,
    /// Transfers served: kind axfr/ixfr/ixfr_udp/soa, result ok/refused/error.
    pub transfers: IntCounterVec,
    pub notify: IntCounterVec,
    /// Secondary: serials the primary is ahead of the served copy.
    pub secondary_lag: IntGaugeVec,
    /// Secondary: 1 while the zone is past SOA expire (answering SERVFAIL).
    pub secondary_expired: IntGaugeVec,
    /// Secondary: 1 while the primary serves a serial behind ours (RFC
    /// 1982): it lost its data or reloaded an older file.
    pub secondary_primary_behind: IntGaugeVec,
    pub secondary_transfers: IntCounterVec,
    pub tsig_failures: IntCounterVec,
    /// UDP responses rate limiting held back, by `action` (drop, slip,
    /// badcookie).
    pub rrl_limited: IntCounterVec,
    /// Queries with a DNS cookie, by `status` (client_only, valid, bad).
    pub cookies: IntCounterVec,
}

fn histogram(
    reg: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("static metric definition");
    reg.register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

fn counter(reg: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition");
    reg.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge(reg: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
    reg.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics in its own registry. The server makes one
    /// and hands it to what counts; two servers in one process (a primary
    /// and a secondary in a test) each have their own.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let load = GaugeVec::new(
            Opts::new("tldd_zone_load_seconds", "Time the last zone load took"),
            &["zone"],
        )
        .expect("static metric definition");
        registry
            .register(Box::new(load.clone()))
            .expect("metric registered once");
        Metrics {
            queries: counter(
                &registry,
                "tldd_queries_total",
                "Queries answered",
                &["transport", "qtype", "rcode"],
            ),
            truncated: counter(
                &registry,
                "tldd_responses_truncated_total",
                "Responses sent with TC=1",
                &["transport"],
            ),
            malformed: counter(
                &registry,
                "tldd_queries_malformed_total",
                "Malformed packets (FORMERR or dropped)",
                &["transport"],
            ),
            zone_serial: gauge(
                &registry,
                "tldd_zone_serial",
                "SOA serial of the zone version served",
                &["zone"],
            ),
            zone_records: gauge(
                &registry,
                "tldd_zone_records",
                "Records in the zone version served",
                &["zone"],
            ),
            zone_delegations: gauge(
                &registry,
                "tldd_zone_delegations",
                "Delegations in the zone version served",
                &["zone"],
            ),
            tcp_connections: gauge(
                &registry,
                "tldd_tcp_connections",
                "Open TCP connections",
                &["listen"],
            ),
            tcp_refused: counter(
                &registry,
                "tldd_tcp_refused_total",
                "TCP connections closed at accept (limit)",
                &["listen"],
            ),
            updates: counter(
                &registry,
                "tldd_updates_total",
                "RFC 2136 updates by outcome (accepted or the refusal reason)",
                &["zone", "result"],
            ),
            update_publish_seconds: histogram(
                &registry,
                "tldd_update_publish_seconds",
                "From receipt of an update to its version being served (durable first)",
                &["zone"],
                vec![
                    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
                ],
            ),
            update_batch: histogram(
                &registry,
                "tldd_update_batch_size",
                "Updates committed together in one version",
                &["zone"],
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
            ),
            journal_entries: gauge(
                &registry,
                "tldd_journal_entries",
                "Versions kept in the IXFR journal",
                &["zone"],
            ),
            store_bytes: gauge(
                &registry,
                "tldd_store_bytes",
                "Size of the zone store on disk",
                &["zone"],
            ),
            transfers: counter(
                &registry,
                "tldd_transfers_total",
                "Zone transfers served",
                &["zone", "kind", "result"],
            ),
            notify: counter(
                &registry,
                "tldd_notify_total",
                "NOTIFY messages sent (result: sent, acked, failed)",
                &["zone", "result"],
            ),
            secondary_lag: gauge(
                &registry,
                "tldd_secondary_lag_serials",
                "Serials the primary is ahead of the copy served here",
                &["zone"],
            ),
            secondary_expired: gauge(
                &registry,
                "tldd_secondary_expired",
                "1 while a secondary zone is past SOA expire and answers SERVFAIL",
                &["zone"],
            ),
            secondary_primary_behind: gauge(
                &registry,
                "tldd_secondary_primary_behind",
                "1 while the primary's serial is behind the copy served here (zone-retransfer takes the primary's)",
                &["zone"],
            ),
            secondary_transfers: counter(
                &registry,
                "tldd_secondary_transfers_total",
                "Incoming transfers (kind axfr/ixfr/uptodate, result ok/error)",
                &["zone", "kind", "result"],
            ),
            tsig_failures: counter(
                &registry,
                "tldd_tsig_failures_total",
                "Requests whose TSIG failed (BADKEY, BADSIG, BADTIME, FORMERR)",
                &["error"],
            ),
            rrl_limited: counter(
                &registry,
                "tldd_rrl_limited_total",
                "UDP responses over the rate limit (action: drop, slip = TC=1, badcookie)",
                &["action"],
            ),
            cookies: counter(
                &registry,
                "tldd_cookies_total",
                "Queries with a DNS cookie (status: client_only, valid, bad)",
                &["transport", "status"],
            ),
            verify_failures: counter(
                &registry,
                "tldd_signed_version_verify_failures_total",
                "Signed zone versions that failed verification and were not served",
                &["zone"],
            ),
            signatures_refreshed: counter(
                &registry,
                "tldd_signatures_refreshed_total",
                "RRsets re-signed because their signatures neared expiry",
                &["zone"],
            ),
            signature_refresh_pending: gauge(
                &registry,
                "tldd_signature_refresh_pending",
                "RRsets with signatures inside the refresh window after the last refresh pass",
                &["zone"],
            ),
            hsm_up: gauge(
                &registry,
                "tldd_hsm_up",
                "1 while the zone's HSM keys sign, 0 after a signing call failed",
                &["zone"],
            ),
            signature_expiry: gauge(
                &registry,
                "tldd_signature_earliest_expiry_seconds",
                "Seconds until the zone's earliest RRSIG expires",
                &["zone"],
            ),
            key_next_event: gauge(
                &registry,
                "tldd_key_next_event_seconds",
                "Seconds until the zone's next key rollover event (-1: none with a time)",
                &["zone"],
            ),
            skr_remaining: gauge(
                &registry,
                "tldd_skr_remaining_seconds",
                "Seconds until the imported Signed Key Response of an offline-KSK zone runs out",
                &["zone"],
            ),
            zone_load_seconds: load,
            registry,
        }
    }

    /// Text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Publishes the facts of a zone version.
    pub fn zone(&self, zone: &tldd_zone::Zone) {
        let origin = tldd_zone::name::to_text(&zone.origin);
        self.zone_serial
            .with_label_values(&[&origin])
            .set(zone.serial() as i64);
        self.zone_records
            .with_label_values(&[&origin])
            .set(zone.record_count() as i64);
        self.zone_delegations
            .with_label_values(&[&origin])
            .set(zone.cuts.len() as i64);
    }
}

const QTYPES: [(u16, &str); 15] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (43, "DS"),
    (48, "DNSKEY"),
    (51, "NSEC3PARAM"),
    (255, "ANY"),
    (252, "AXFR"),
    (251, "IXFR"),
];
const RCODES: [(u16, &str); 9] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (9, "NOTAUTH"),
    (16, "BADVERS"),
    (u16::MAX, "OTHER"),
];
const NQ: usize = QTYPES.len() + 1;
const NR: usize = RCODES.len();

/// Per-worker counters, flushed into [`Metrics`] now and then.
pub struct LocalCounts {
    metrics: Arc<Metrics>,
    transport: &'static str,
    queries: [[u64; NR]; NQ],
    truncated: u64,
    malformed: u64,
    /// Rate limited responses: drop, slip, badcookie.
    rrl: [u64; 3],
    /// Cookies: client only, valid, bad.
    cookies: [u64; 3],
}

const RRL_ACTIONS: [&str; 3] = ["drop", "slip", "badcookie"];
const COOKIE_STATUS: [&str; 3] = ["client_only", "valid", "bad"];

impl LocalCounts {
    pub fn new(transport: &'static str, metrics: Arc<Metrics>) -> LocalCounts {
        LocalCounts {
            metrics,
            transport,
            queries: [[0; NR]; NQ],
            truncated: 0,
            malformed: 0,
            rrl: [0; 3],
            cookies: [0; 3],
        }
    }

    /// Counts a response rate limiting held back (`action`: 0 drop, 1
    /// slip, 2 badcookie).
    #[inline]
    pub fn record_rrl(&mut self, action: usize) {
        if let Some(n) = self.rrl.get_mut(action) {
            *n += 1;
        }
    }

    #[inline]
    pub fn record(&mut self, oc: &crate::wire::Outcome) {
        if oc.malformed {
            self.malformed += 1;
        }
        if oc.truncated {
            self.truncated += 1;
        }
        match oc.cookie {
            crate::wire::cookie::Seen::None => {}
            crate::wire::cookie::Seen::ClientOnly => self.cookies[0] += 1,
            crate::wire::cookie::Seen::Valid => self.cookies[1] += 1,
            crate::wire::cookie::Seen::Bad => self.cookies[2] += 1,
        }
        let qi = QTYPES
            .iter()
            .position(|(t, _)| *t == oc.qtype)
            .unwrap_or(NQ - 1);
        let ri = RCODES
            .iter()
            .position(|(r, _)| *r == oc.rcode)
            .unwrap_or(NR - 1);
        self.queries[qi][ri] += 1;
    }

    /// Adds the counts to the registry and resets them.
    pub fn flush(&mut self) {
        let m = &*self.metrics;
        for (qi, row) in self.queries.iter_mut().enumerate() {
            for (ri, n) in row.iter_mut().enumerate() {
                if *n > 0 {
                    let qt = QTYPES.get(qi).map_or("OTHER", |q| q.1);
                    m.queries
                        .with_label_values(&[self.transport, qt, RCODES[ri].1])
                        .inc_by(*n);
                    *n = 0;
                }
            }
        }
        if self.truncated > 0 {
            m.truncated
                .with_label_values(&[self.transport])
                .inc_by(self.truncated);
            self.truncated = 0;
        }
        if self.malformed > 0 {
            m.malformed
                .with_label_values(&[self.transport])
                .inc_by(self.malformed);
            self.malformed = 0;
        }
        for (n, action) in self.rrl.iter_mut().zip(RRL_ACTIONS) {
            if *n > 0 {
                m.rrl_limited.with_label_values(&[action]).inc_by(*n);
                *n = 0;
            }
        }
        for (n, status) in self.cookies.iter_mut().zip(COOKIE_STATUS) {
            if *n > 0 {
                m.cookies
                    .with_label_values(&[self.transport, status])
                    .inc_by(*n);
                *n = 0;
            }
        }
    }
}

/// Serves `/metrics` on `listener` until the runtime stops.
/// The `/health` verdict: (fit, one line per zone). The server supplies
/// it (`server::health`): this module never looks at zones.
pub type Health = Arc<dyn Fn() -> (bool, String) + Send + Sync>;

pub async fn serve(
    listener: tokio::net::TcpListener,
    m: Arc<Metrics>,
    health: Health,
) -> std::io::Result<()> {
    use axum::{http::StatusCode, routing::get as route, Router};
    let app =
        Router::new()
            .route(
                "/metrics",
                route(move || async move {
                    ([("content-type", "text/plain; version=0.0.4")], m.render())
                }),
            )
            .route(
                "/health",
                route(move || {
                    let h = health.clone();
                    async move {
                        let (fit, text) = h();
                        let code = if fit {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        (code, [("content-type", "text/plain")], text)
                    }
                }),
            );
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, "metrics listening");
    axum::serve(listener, app).await
}
