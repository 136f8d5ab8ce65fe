//! Secondary mode (`[[zone]] primary = "addr:port"`).
//!
//! One task per secondary zone:
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
use crate::events::Event;
use crate::runtime::{Services, ZoneRuntime};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tldd_zone::diff::soa_rec;
use tldd_zone::serial::serial_lt;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the refresh loop of one secondary zone forever.
pub async fn run(svc: Arc<Services>, zrt: Arc<ZoneRuntime>) {
    let Some(primary) = zrt.primary else { return };
    let m = &svc.metrics;
    let zone = zrt.origin_text.clone();
    let mut last_ok = Instant::now();
    // Time without the primary before this start (zero once it answers).
    let mut carried = zrt
        .journal
        .last_refresh()
        .map(|t| Duration::from_secs(unix_now().saturating_sub(t)))
        .unwrap_or_default();
    let mut withdrawn = false;
    loop {
        let served = svc.served(&zrt.origin);
        let have = served.as_deref().and_then(soa_rec);
        let timers = soa_timers(have.as_ref());
        let clamp = |s: u32| Duration::from_secs(u64::from(s).clamp(5, 86400));
        let result = refresh(&zrt, m, primary, have.clone()).await;
        let wait = match result {
            Ok(kind) => {
                last_ok = Instant::now();
                carried = Duration::ZERO;
                if let Err(e) = zrt.journal.set_last_refresh(unix_now()) {
                    tracing::warn!(zone = %zone, "recording the refresh time: {e:#}");
                }
                withdrawn = false;
                m.secondary_expired.with_label_values(&[&zone]).set(0);
                m.secondary_transfers
                    .with_label_values(&[&zone, kind, "ok"])
                    .inc();
                m.secondary_lag.with_label_values(&[&zone]).set(0);
                // the SOA of what we serve now (the first transfer brings one)
                let now_served = svc.served(&zrt.origin);
                clamp(soa_timers(now_served.as_deref().and_then(soa_rec).as_ref()).0)
            }
            Err(e) => {
                tracing::warn!(zone = %zone, %primary, "refresh failed: {e}");
                m.secondary_transfers
                    .with_label_values(&[&zone, "refresh", "error"])
                    .inc();
                let expire = Duration::from_secs(u64::from(timers.2));
                let left = expire.saturating_sub(last_ok.elapsed() + carried);
                if !withdrawn && served.is_some() && left.is_zero() {
                    tracing::error!(zone = %zone, "SOA expire reached without contact to the primary; zone expired, answering SERVFAIL");
                    let origin = zrt.origin.clone();
                    svc.zones.rcu(|zs| zs.expire(&origin));
                    m.secondary_expired.with_label_values(&[&zone]).set(1);
                    withdrawn = true;
                }
                if withdrawn || served.is_none() {
                    clamp(timers.1)
                } else {
                    // wake up in time to expire the zone
                    clamp(timers.1).min(left.max(Duration::from_millis(200)))
                }
            }
        };
        let _ = tokio::time::timeout(wait, zrt.refresh.notified()).await;
    }
}

/// (refresh, retry, expire) of a served SOA; without one: retry soon.
fn soa_timers(soa: Option<&tldd_zone::Rec>) -> (u32, u32, u32) {
    soa.map(|s| {
        (
            soa_field(&s.rdata, 1).unwrap_or(3600),
            soa_field(&s.rdata, 2).unwrap_or(600),
            soa_field(&s.rdata, 3).unwrap_or(604800),
        )
    })
    .unwrap_or((60, 10, u32::MAX))
}

/// One refresh: SOA check, transfer if needed. Returns what happened.
async fn refresh(
    zrt: &ZoneRuntime,
    m: &crate::metrics::Metrics,
    primary: std::net::SocketAddr,
    have: Option<tldd_zone::Rec>,
) -> Result<&'static str, String> {
    let ours = have.as_ref().and_then(|h| soa_field(&h.rdata, 0));
    let theirs = soa_serial(primary, &zrt.origin, &zrt.transfer_key).await?;
    if let Some(o) = ours {
        m.secondary_lag
            .with_label_values(&[&zrt.origin_text])
            .set(i64::from(theirs.wrapping_sub(o) as i32).max(0));
        if !serial_lt(o, theirs) {
            return Ok("uptodate");
        }
    }
    let fetched = fetch(primary, &zrt.origin, &zrt.transfer_key, have).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (job, kind) = match fetched {
        Fetched::UpToDate => return Ok("uptodate"),
        Fetched::Full(zone) => (Event::Replace { zone, reply: tx }, "axfr"),
        Fetched::Incremental(diffs) => (Event::Diffs { diffs, reply: tx }, "ixfr"),
    };
    zrt.writer
        .send(job)
        .await
        .map_err(|_| "writer gone".to_string())?;
    let serial = rx.await.map_err(|_| "writer gone".to_string())??;
    tracing::info!(zone = %zrt.origin_text, serial, kind, "transferred from the primary");
    Ok(kind)
}
