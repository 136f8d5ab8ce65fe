//! `GET /health` on the `[server] metrics` listener: is this node fit to
//! answer? For an anycast node's route health check (withdraw the route
//! when not) and for load balancers. 200 with `ok` lines when every zone
//! is fit, 503 with the reasons otherwise; one line per zone either way.
//!
//! A zone is fit when:
//! - a version of it is served (a secondary before its first transfer, or
//!   after its SOA expire, is not);
//! - a secondary reached its primary within `[server] health_max_lag`
//!   seconds (0: the served SOA's refresh + retry);
//! - a signed zone's apex signatures (SOA and DNSKEY RRsets) stay valid
//!   for at least `[server] health_min_signature_validity` seconds.
//!
//! Limits: only the apex signatures are looked at (the signature refresh
//! passes re-sign the whole zone by the same rule, so the apex is a fair
//! sample, and reading it costs nothing per probe); answering the zone's
//! SOA over UDP and TCP on the service address is the prober's part.
use crate::runtime::Services;
use tldd_zone::rdata::{DNSKEY, SOA};

/// The bounds from `[server]`.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub max_lag: u64,
    pub min_signature_validity: u64,
}

/// (fit, one line per zone).
pub fn check(svc: &Services, b: Bounds, now: u64) -> (bool, String) {
    let mut fit = true;
    let mut out = String::new();
    for z in svc.zones_rt().iter() {
        let verdict = zone(svc, z, b, now);
        fit &= verdict.is_ok();
        match verdict {
            Ok(detail) => out.push_str(&format!("ok {}: {detail}\n", z.origin_text)),
            Err(why) => out.push_str(&format!("unfit {}: {why}\n", z.origin_text)),
        }
    }
    (fit, out)
}

fn zone(
    svc: &Services,
    z: &crate::runtime::ZoneRuntime,
    b: Bounds,
    now: u64,
) -> Result<String, String> {
    let served = svc
        .served(&z.origin)
        .ok_or_else(|| "not served (no version yet, or expired)".to_string())?;
    let serial = served.serial();
    if z.primary.is_some() {
        let soa = served
            .soa()
            .and_then(|s| s.rdatas().next().map(<[u8]>::to_vec));
        let field = |i| {
            soa.as_deref()
                .and_then(|rd| crate::xfr::client::soa_field(rd, i))
        };
        let timers = field(1).zip(field(2));
        let bound = match (b.max_lag, timers) {
            (0, Some((refresh, retry))) => u64::from(refresh) + u64::from(retry),
            (0, None) => 86_400,
            (n, _) => n,
        };
        if let Some(theirs) = z.primary_behind() {
            return Err(format!(
                "serial {serial}: the primary serves {theirs}, behind ours (it lost its data?); `tldd ctl zone-retransfer` takes its copy"
            ));
        }
        let last = z.journal.last_refresh().unwrap_or(0);
        let lag = now.saturating_sub(last);
        if lag > bound {
            return Err(format!(
                "serial {serial}: no contact with the primary for {lag}s (bound {bound}s)"
            ));
        }
    }
    if served.nsec3.is_some() {
        let left = [SOA, DNSKEY]
            .iter()
            .filter_map(|t| served.apex.get(*t))
            .filter_map(|set| crate::signer::refresh::time_left(set, now as u32))
            .min();
        match left {
            None => {
                return Err(format!(
                    "serial {serial}: signed but the apex has no signatures"
                ))
            }
            Some(l) if l < b.min_signature_validity as i64 => {
                return Err(format!(
                    "serial {serial}: apex signatures expire in {l}s (bound {}s)",
                    b.min_signature_validity
                ))
            }
            Some(_) => {}
        }
    }
    Ok(format!("serial {serial}"))
}
