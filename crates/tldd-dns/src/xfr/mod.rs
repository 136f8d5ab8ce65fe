//! Zone transfers and NOTIFY as a client: what a zone sends out or fetches.
//! (Requests that arrive — AXFR/IXFR out, NOTIFY in — are handlers of the
//! server: `server::xfr_out`, `server::notify`.)
//!
//! - [`notify`]: NOTIFY (RFC 1996) sent to `notify` targets on every new
//!   version (retries, backoff).
//! - [`client`]: SOA check and AXFR/IXFR as a client (secondary mode).
//! - [`secondary`]: the refresh loop of a secondary zone (NOTIFY, SOA
//!   refresh/retry/expire timers), handing what it receives to the zone's
//!   event loop.
pub mod client;
pub mod notify;
pub mod secondary;
