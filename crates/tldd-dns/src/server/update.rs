//! The UPDATE request (opcode 5) on UDP or TCP.
//!
//! Order (RFC 2136 §3 with RFC 8945 §5 in front): the TSIG has already been
//! verified by the dispatcher (a bad one never gets here). Then:
//! 1. zone section: ZOCOUNT is 1 (else FORMERR, by the parser), ZTYPE is
//!    SOA (else FORMERR), the zone is one of ours, exactly (else NOTAUTH);
//! 2. permission: the zone has an `update_key`, the request is signed with
//!    it (else REFUSED); a secondary zone refuses updates (no forwarding);
//! 3. a request whose MAC was already answered gets the same answer again
//!    (retransmission or replay: never applied twice);
//! 4. decode with hickory-proto (FORMERR if it does not decode);
//! 5. hand to the zone's writer, which checks prerequisites, prescan and
//!    policy, applies, persists, publishes, and then answers.
//!
//! The answer echoes the header and zone section and is signed with the
//! request's key. Every refusal is logged with its reason and counted in
//! `tldd_updates_total{result=reason}`.
use crate::events::Event;
use crate::runtime::{error_reply, Services};
use crate::update::edit::{rc, Update};
use crate::wire::answer::rcode;
use crate::wire::Query;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_tsig::{self as tsig, Verified};
use tldd_zone::name;
use tldd_zone::rec::{decode, rec_from};

/// Answers one UPDATE.
pub async fn handle(
    svc: &Arc<Services>,
    pkt: &[u8],
    q: &Query,
    peer: SocketAddr,
    v: Option<&Verified>,
) -> Vec<u8> {
    let received = Instant::now();
    let m = &svc.metrics;
    let zone_text = name::to_text(q.name());
    let count = |result: &str| m.updates.with_label_values(&[&zone_text, result]).inc();
    let answer = |rc: u16| error_reply(svc, pkt, q, rc, v);
    if q.qtype != tldd_zone::rdata::SOA {
        count("formerr");
        return answer(rcode::FORMERR);
    }
    let Some(zrt) = svc.zone_rt(q.name()).cloned() else {
        count("notauth");
        tracing::info!(%peer, zone = %zone_text, "update refused: not authoritative");
        return answer(rcode::NOTAUTH);
    };
    if q.qclass != 1 {
        count("notauth");
        return answer(rcode::NOTAUTH);
    }
    let permitted = match (&zrt.update_key, v) {
        (None, _) => Err("updates are not enabled for this zone (no update_key)"),
        (Some(_), None) => Err("unsigned update"),
        (Some(k), Some(v)) if v.key.label != *k => {
            Err("signed with a key that may not update this zone")
        }
        _ => Ok(()),
    };
    if let Err(why) = permitted {
        count("unauthorized");
        tracing::info!(%peer, zone = %zone_text, "update refused: {why}");
        return answer(rcode::REFUSED);
    }
    if zrt.primary.is_some() {
        count("secondary");
        tracing::info!(%peer, zone = %zone_text, "update refused: this node is a secondary for the zone");
        return answer(rcode::REFUSED);
    }
    let v = v.expect("checked above");
    if let Some(cached) = svc.replay.get(&v.mac) {
        count("replayed");
        let mut out = cached;
        out[..2].copy_from_slice(&q.id.to_be_bytes());
        return out;
    }
    let msg = match decode(pkt) {
        Ok(msg) => msg,
        Err(e) => {
            count("formerr");
            tracing::info!(%peer, zone = %zone_text, "update FORMERR: {e}");
            return answer(rcode::FORMERR);
        }
    };
    let conv =
        |rs: &[hickory_proto::rr::Record]| rs.iter().map(rec_from).collect::<Result<Vec<_>, _>>();
    let update = match (conv(&msg.answers), conv(&msg.authorities)) {
        (Ok(prereqs), Ok(updates)) => Update { prereqs, updates },
        (Err(e), _) | (_, Err(e)) => {
            count("formerr");
            tracing::info!(%peer, zone = %zone_text, "update FORMERR: {e}");
            return answer(rcode::FORMERR);
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Event::Update {
        update,
        received,
        reply: tx,
    };
    if zrt.events.send(job).await.is_err() {
        count("servfail");
        return answer(rcode::SERVFAIL);
    }
    let rc = match tokio::time::timeout(Duration::from_secs(30), rx).await {
        Ok(Ok(Ok(serial))) => {
            count("accepted");
            tracing::debug!(%peer, zone = %zone_text, serial, "update applied");
            rcode::NOERROR
        }
        Ok(Ok(Err(refusal))) => {
            count(refusal.reason);
            let level_info = matches!(refusal.rcode, rcode::REFUSED | rcode::FORMERR | rc::NOTZONE);
            if level_info {
                tracing::info!(%peer, zone = %zone_text, rcode = refusal.rcode, reason = refusal.reason, "update refused: {}", refusal.detail);
            } else {
                tracing::debug!(%peer, zone = %zone_text, rcode = refusal.rcode, "update not applied: {}", refusal.detail);
            }
            refusal.rcode
        }
        _ => {
            count("servfail");
            rcode::SERVFAIL
        }
    };
    let out = answer(rc);
    if rc != rcode::SERVFAIL {
        svc.replay.put(&v.mac, &out, tsig::now());
    }
    out
}
