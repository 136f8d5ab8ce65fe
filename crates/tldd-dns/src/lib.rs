//! tldd-dns: the DNS side of tldd.
//!
//! One layer per module, from the bottom:
//! - [`config`]: the TOML configuration contract (`tldd serve -c FILE`).
//! - [`metrics`]: Prometheus metrics as a handle ([`metrics::Metrics`]) and
//!   the `/metrics` listener.
//! - [`wire`]: the query fast path: header/question/OPT parsing and response
//!   encoding straight into a caller-provided buffer.
//! - [`hsm`]: signing keys behind one interface (soft keys via ring, PKCS#11 via cryptoki).
//! - [`keys`]: which keys a zone has (state file), key operations, the
//!   hash-chained audit log.
//! - [`signer`]: NSEC3 chain, RRSIGs, verify-before-serve, signature refresh.
//! - [`journal`]: the durable zone journal and snapshots (sled + files).
//! - [`update`]: RFC 2136 editing of a zone version into a diff.
//! - [`events`]: each zone's single owner of change (updates, transfers,
//!   signature refresh), one thread per zone.
//! - [`runtime`]: the running server's shared context (zones, per-zone
//!   runtime, replies): a leaf the handlers import.
//! - [`xfr`]: the transfer client and secondary mode, NOTIFY sending.
//! - [`server`]: UDP workers, TCP, the dispatcher and its request handlers.
//!
//! Zones themselves (names, RDATA, versions, diffs) are `tldd_zone`; TSIG
//! is `tldd_tsig`.
pub mod config;
pub mod events;
pub mod hsm;
pub mod journal;
pub mod keys;
pub mod metrics;
pub mod recover;
pub mod runtime;
pub mod server;
pub mod signer;
pub mod update;
pub mod wire;
pub mod xfr;
