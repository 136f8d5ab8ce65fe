//! Prometheus metrics of Whois and RDAP, registered in the SRS registry (so
//! they appear on `[srs] metrics_listen` `/metrics` with the EPP ones):
//!
//! - `tldd_srs_whois_queries_total{type,result}`: type `domain`,
//!   `nameserver`, `registrar`, `invalid` (unparsable), `refused` (never
//!   parsed: limited, busy, timeout, too long); result `found`, `not_found`,
//!   `limited`, `error`, `too_long`, `timeout`, `busy`;
//! - `tldd_srs_whois_query_seconds`: time from query received to answer
//!   written;
//! - `tldd_srs_whois_connections`: open Whois connections that wait on
//!   the client or the send buffer (one answered in the accept loop is
//!   done before anyone could count it);
//! - `tldd_srs_rdap_requests_total{type,status}` and
//!   `tldd_srs_rdap_request_seconds`;
//! - `tldd_srs_rdds_limited_total{service,scope}`: queries refused by the
//!   rate limiter (`scope` = `address` or `subnet`), and
//!   `tldd_srs_rdds_blocks_total{service,scope}`: blocks started;
//! - `tldd_srs_rdds_limit{name}`: the limits in force (from `[srs.whois]`).
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

pub struct RddsMetrics {
    pub whois_queries: IntCounterVec,
    pub whois_latency: Histogram,
    pub whois_connections: IntGauge,
    pub rdap_requests: IntCounterVec,
    pub rdap_latency: Histogram,
    pub limited: IntCounterVec,
    pub blocks: IntCounterVec,
    pub limits: IntGaugeVec,
}

const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

impl RddsMetrics {
    /// Creates the metrics and registers them in `registry` (a second
    /// registration, e.g. in tests, is ignored).
    pub fn new(registry: &Registry) -> RddsMetrics {
        let m = RddsMetrics {
            whois_queries: IntCounterVec::new(
                Opts::new(
                    "tldd_srs_whois_queries_total",
                    "Whois queries by type and result",
                ),
                &["type", "result"],
            )
            .expect("metric"),
            whois_latency: Histogram::with_opts(
                HistogramOpts::new("tldd_srs_whois_query_seconds", "Whois query latency")
                    .buckets(BUCKETS.to_vec()),
            )
            .expect("metric"),
            whois_connections: IntGauge::new(
                "tldd_srs_whois_connections",
                "open Whois connections",
            )
            .expect("metric"),
            rdap_requests: IntCounterVec::new(
                Opts::new(
                    "tldd_srs_rdap_requests_total",
                    "RDAP requests by type and HTTP status",
                ),
                &["type", "status"],
            )
            .expect("metric"),
            rdap_latency: Histogram::with_opts(
                HistogramOpts::new("tldd_srs_rdap_request_seconds", "RDAP request latency")
                    .buckets(BUCKETS.to_vec()),
            )
            .expect("metric"),
            limited: IntCounterVec::new(
                Opts::new(
                    "tldd_srs_rdds_limited_total",
                    "queries refused by the rate limiter",
                ),
                &["service", "scope"],
            )
            .expect("metric"),
            blocks: IntCounterVec::new(
                Opts::new("tldd_srs_rdds_blocks_total", "rate-limit blocks started"),
                &["service", "scope"],
            )
            .expect("metric"),
            limits: IntGaugeVec::new(
                Opts::new(
                    "tldd_srs_rdds_limit",
                    "Whois/RDAP limits in force ([srs.whois])",
                ),
                &["name"],
            )
            .expect("metric"),
        };
        for c in [
            Box::new(m.whois_queries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.whois_latency.clone()),
            Box::new(m.whois_connections.clone()),
            Box::new(m.rdap_requests.clone()),
            Box::new(m.rdap_latency.clone()),
            Box::new(m.limited.clone()),
            Box::new(m.blocks.clone()),
            Box::new(m.limits.clone()),
        ] {
            let _ = registry.register(c);
        }
        m
    }
}
