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
pub mod config;
pub mod hsm;
pub mod keys;
pub mod metrics;
pub mod server;
pub mod signer;
pub mod srs;
pub mod wire;
pub mod zone;
