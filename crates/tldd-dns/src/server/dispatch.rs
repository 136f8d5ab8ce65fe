//! Requests the fast path hands off ([`crate::wire::Outcome::handoff`]):
//! UPDATE, NOTIFY, AXFR/IXFR, and TSIG-signed queries.
//!
//! Order of checks for every such request: the TSIG first (RFC 8945 §5.2:
//! a bad TSIG is answered NOTAUTH with the TSIG error, before anything else
//! is looked at; the time is checked against the message's fudge capped at
//! `[server] tsig_max_fudge`), then the opcode's own handler. Only UPDATE
//! goes through the replay cache as well (`super::update`): a replayed
//! NOTIFY or transfer request inside its capped window only makes us check
//! a primary's SOA, or send the zone again to an address the ACL allows. Every answer to a signed
//! request is signed with the same key (except BADKEY/BADSIG answers, which
//! the RFC wants unsigned).
//!
//! Both transports share [`dispatch`]: UDP workers (plain threads) spawn it
//! on the runtime and send the one reply from a clone of their socket; TCP
//! connections await it and write one message, or a stream (AXFR/IXFR).
pub use crate::runtime::{error_reply, Reply, Services, ZoneRuntime};
use crate::wire::answer::rcode;
use crate::wire::{query, Query, Transport};
use std::net::SocketAddr;
use std::sync::Arc;
use tldd_tsig::{self as tsig, Failure, Verified};

/// Handles one handed-off request.
pub async fn dispatch(svc: &Arc<Services>, pkt: &[u8], peer: SocketAddr, t: Transport) -> Reply {
    let mut q = Box::<Query>::default();
    if query::parse(pkt, &mut q).is_err() {
        return Reply::None;
    }
    let now = tsig::now();
    let verified = match q.tsig_at {
        None => None,
        Some(at) => match svc.keys.load().verify(pkt, at, now) {
            Ok(v) => Some(v),
            Err(f) => {
                svc.metrics
                    .tsig_failures
                    .with_label_values(&[f.code()])
                    .inc();
                tracing::info!(%peer, error = f.code(), opcode = q.opcode, "TSIG check failed");
                let rc = if matches!(f, Failure::FormErr) {
                    rcode::FORMERR
                } else {
                    rcode::NOTAUTH
                };
                let mut q2 = Box::<Query>::default();
                // Echo the question without our OPT size games.
                let _ = query::parse(pkt, &mut q2);
                let mut out = error_reply(svc, pkt, &q2, rc, None);
                f.append(&mut out, now);
                return Reply::One(out);
            }
        },
    };
    match q.opcode {
        5 => Reply::One(super::update::handle(svc, pkt, &q, peer, verified.as_ref()).await),
        4 => Reply::One(super::notify::incoming(
            svc,
            pkt,
            &q,
            peer,
            verified.as_ref(),
        )),
        0 if matches!(q.qtype, tldd_zone::rdata::AXFR | tldd_zone::rdata::IXFR) => {
            super::xfr_out::transfer(svc, pkt, &q, peer, t, verified).await
        }
        0 => Reply::One(signed_query(svc, pkt, &q, (t, peer), verified.as_ref())),
        _ => Reply::One(error_reply(svc, pkt, &q, rcode::NOTIMP, verified.as_ref())),
    }
}

/// A signed ordinary query (e.g. a secondary's SOA check): answered like an
/// unsigned one (its cookie too), then signed.
fn signed_query(
    svc: &Services,
    pkt: &[u8],
    q: &Query,
    (t, peer): (Transport, SocketAddr),
    v: Option<&Verified>,
) -> Vec<u8> {
    let Some(v) = v else {
        return error_reply(svc, pkt, q, rcode::REFUSED, None);
    };
    let mut stripped = pkt[..v.tsig_at].to_vec();
    let ar = u16::from_be_bytes([stripped[10], stripped[11]]).saturating_sub(1);
    stripped[10..12].copy_from_slice(&ar.to_be_bytes());
    let mut q2 = Box::<Query>::default();
    let mut out = vec![0u8; 65535];
    let zones = svc.zones.load();
    let secrets = svc.cookies.load();
    let client = crate::wire::Client {
        ip: peer.ip(),
        now: now_secs(),
        cookies: &secrets,
    };
    let (n, oc) = crate::wire::respond_from(
        &zones,
        &svc.params,
        &stripped,
        &mut q2,
        &mut out,
        t,
        Some(&client),
    );
    if oc.handoff || n == 0 {
        return error_reply(svc, pkt, q, rcode::REFUSED, Some(v));
    }
    out.truncate(n);
    v.signer().sign(&mut out, tsig::now());
    out
}

/// Unix seconds, as cookie timestamps count them (RFC 9018: modulo 2^32).
pub fn now_secs() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}
