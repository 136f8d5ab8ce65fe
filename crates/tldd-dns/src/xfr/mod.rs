//! Zone transfers and NOTIFY.
//!
//! - [`out`]: AXFR (RFC 5936) and IXFR (RFC 1995) served from the pinned
//!   current version and the journal, TSIG-signed message by message.
//! - [`notify`]: NOTIFY (RFC 1996) sent to `notify` targets on every new
//!   version (retries, backoff), and NOTIFY received by secondary zones.
//! - [`client`]: SOA check and AXFR/IXFR as a client (secondary mode).
//! - [`secondary`]: the refresh loop of a secondary zone (NOTIFY, SOA
//!   refresh/retry/expire timers), persisting what it receives.
pub mod client;
pub mod notify;
pub mod out;
pub mod secondary;
