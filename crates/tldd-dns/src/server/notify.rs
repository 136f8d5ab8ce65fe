//! NOTIFY (RFC 1996) received, for secondary zones.
//!
//! Accepted from the configured `primary` address or an `allow_notify`
//! prefix, and, if the zone has a `transfer_key`, only when signed with it.
//! An accepted NOTIFY wakes the zone's refresh loop and is answered NOERROR
//! with AA; others get REFUSED (NOTAUTH for zones we do not have).
use crate::runtime::{error_reply, Services};
use crate::wire::answer::rcode;
use crate::wire::Query;
use std::net::SocketAddr;
use std::sync::Arc;
use tldd_tsig::{self as tsig, Verified};

/// Handles a NOTIFY we received.
pub fn incoming(
    svc: &Arc<Services>,
    pkt: &[u8],
    q: &Query,
    peer: SocketAddr,
    v: Option<&Verified>,
) -> Vec<u8> {
    let Some(zrt) = svc.zone_rt(q.name()) else {
        return error_reply(svc, pkt, q, rcode::NOTAUTH, v);
    };
    let from_primary = zrt.primary.is_some_and(|p| p.ip() == peer.ip())
        || zrt.allow_notify.iter().any(|n| n.contains(&peer.ip()));
    let key_ok = match &zrt.transfer_key {
        Some(k) => v.is_some_and(|v| v.key.name == k.name),
        None => true,
    };
    if zrt.primary.is_none() || !from_primary || !key_ok {
        tracing::info!(%peer, zone = %zrt.origin_text, "NOTIFY refused");
        return error_reply(svc, pkt, q, rcode::REFUSED, v);
    }
    tracing::debug!(%peer, zone = %zrt.origin_text, "NOTIFY accepted");
    // The zone's loop refreshes now (a full queue means it is busy with a
    // transfer already; the refresh after it sees the new serial).
    let _ = zrt.events.try_send(crate::events::Event::Notified);
    let mut out = error_reply(svc, pkt, q, rcode::NOERROR, None);
    out[2] |= 0x04; // AA
    if let Some(v) = v {
        v.signer().sign(&mut out, tsig::now());
    }
    out
}
