//! Secondary mode (`[[zone]] primary = "addr:port"`): the network half.
//!
//! The zone's event loop (`events::secondary`) decides when to refresh,
//! retry and expire; each refresh it asks for is one [`check`] task here
//! (SOA query, then IXFR/AXFR when the primary is ahead), whose
//! [`Outcome`] goes back to the loop. Together:
//! - at start, the copy in the store (if any) is served at once;
//! - then, and whenever a NOTIFY arrives or the SOA refresh timer fires,
//!   it asks the primary for the SOA serial; if the primary is ahead it
//!   transfers (IXFR from our serial, AXFR when we have nothing or the
//!   primary answers in AXFR form) and hands the result to the zone's
//!   writer, which applies, persists (so the copy survives a restart and
//!   is journalled for our own IXFR clients) and publishes it;
//! - after a failure it retries on the SOA retry timer;
//! - if the primary stays unreachable past SOA expire (counted from the
//!   last successful refresh, which the store records so the clock keeps
//!   running across a restart; from start-up when nothing is recorded),
//!   the zone expires: its
//!   names are answered SERVFAIL (what NSD and Knot do; REFUSED would tell
//!   resolvers the server is not authoritative at all) and transfers out
//!   stop, until a refresh succeeds again and brings a full copy
//!   (RFC 1034 §4.3.5). The retry timer is cut short so expiry happens
//!   on time even when SOA retry is longer than what is left.
//!
//! The data is served exactly as received (a signed primary's RRSIGs and
//! NSEC3 included); nothing is re-signed here.
//!
//! Timer values are clamped to [5 s, 1 day] for refresh/retry so a bad SOA
//! cannot make the loop spin or sleep forever.
use super::client::{fetch, soa_field, soa_serial, Fetched};
use std::net::SocketAddr;
use std::sync::Arc;
use tldd_zone::serial::serial_lt;
use tldd_zone::Rec;

/// What one refresh found.
pub enum Outcome {
    /// The primary is not ahead of `have`.
    UpToDate,
    /// The primary serves `theirs`, behind `ours` (RFC 1982): it lost its
    /// data or reloaded an older file. Nothing is transferred.
    PrimaryBehind { ours: u32, theirs: u32 },
    /// The primary is ahead: what it sent.
    Fetched(Fetched),
    /// The primary could not be asked, or its answer was unusable.
    Failed(String),
}

/// (refresh, retry, expire) of a served SOA; without one: retry soon.
pub fn soa_timers(soa: Option<&Rec>) -> (u32, u32, u32) {
    soa.map(|s| {
        (
            soa_field(&s.rdata, 1).unwrap_or(3600),
            soa_field(&s.rdata, 2).unwrap_or(600),
            soa_field(&s.rdata, 3).unwrap_or(604800),
        )
    })
    .unwrap_or((60, 10, u32::MAX))
}

/// One refresh of `origin` from `primary`: SOA check against `have` (the
/// SOA we serve; `None` forces a full transfer), transfer if needed.
pub async fn check(
    primary: SocketAddr,
    origin: &[u8],
    origin_text: &str,
    key: &Option<Arc<tldd_tsig::Key>>,
    have: Option<Rec>,
    m: &crate::metrics::Metrics,
) -> Outcome {
    let ours = have.as_ref().and_then(|h| soa_field(&h.rdata, 0));
    let theirs = match soa_serial(primary, origin, key).await {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(e),
    };
    if let Some(o) = ours {
        m.secondary_lag
            .with_label_values(&[origin_text])
            .set(i64::from(theirs.wrapping_sub(o) as i32).max(0));
        if serial_lt(theirs, o) {
            return Outcome::PrimaryBehind { ours: o, theirs };
        }
        if !serial_lt(o, theirs) {
            return Outcome::UpToDate;
        }
    }
    match fetch(primary, origin, key, have).await {
        Ok(Fetched::UpToDate) => Outcome::UpToDate,
        Ok(f) => Outcome::Fetched(f),
        Err(e) => Outcome::Failed(e),
    }
}
