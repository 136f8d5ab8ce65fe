//! tldd: the DNS of a top-level domain in one binary.
//!
//! One layer per module:
//! - [`config`]: the TOML configuration contract (`tldd serve -c FILE`).
//! - [`zone`]: the versioned in-memory TLD zone (copy-on-write shards), the
//!   zone-file reader and the checker behind `tldd zone check`.
//! - [`wire`]: the query fast path: header/question/OPT parsing and response
//!   encoding straight into a caller-provided buffer.
//! - [`server`]: UDP workers (recvmmsg/sendmmsg), TCP (RFC 7766), shutdown.
//! - [`metrics`]: Prometheus counters and the `/metrics` listener.
//! - [`hsm`]: signing keys behind one interface (soft keys via ring, PKCS#11 via cryptoki).
//! - [`signer`]: NSEC3 chain, RRSIGs, `tldd sign`.
//! - [`keys`]: `tldd keys` — key generation, listing, DS export, audit log.
//! - [`srs`]: the lightweight registry (EPP, lifecycle, publisher).
//! - [`tsig`]: TSIG (RFC 8945) signing and verification on wire bytes.
//! - [`update`]: RFC 2136 updates, zone diffs, the per-zone writer.
//! - [`store`]: the durable zone store and IXFR journal (sled).
//! - [`xfr`]: AXFR/IXFR out, NOTIFY, secondary mode.
pub mod config;
pub mod hsm;
pub mod keys;
pub mod metrics;
pub mod server;
pub mod signer;
pub mod srs;
pub mod store;
pub mod tsig;
pub mod update;
pub mod wire;
pub mod xfr;
pub mod zone;
