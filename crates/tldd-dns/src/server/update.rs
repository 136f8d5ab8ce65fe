//! The UPDATE request (opcode 5) on UDP or TCP.
//!
//! Order (RFC 2136 §3 with RFC 8945 §5 in front): the TSIG has already been
//! verified by the dispatcher (a bad one never gets here). Then:
//! 1. zone section: ZOCOUNT is 1 (else FORMERR, by the parser), ZTYPE is
//!    SOA (else FORMERR), the zone is one of ours, exactly (else NOTAUTH);
//! 2. permission: the zone has an `update_key`, the request is signed with
//!    it (else REFUSED); a secondary zone refuses updates (no forwarding);
//! 3. admission through the replay cache (`tldd_tsig::ReplayCache`, the
//!    rules are in tldd_tsig's `# Replay`): a request whose MAC was already
//!    answered gets the same answer again, one still being applied waits
//!    for that answer (retransmission or replay: never applied twice); one
//!    signed in or before the second this process started is BADTIME
//!    (signed NOTAUTH, `result="signed_before_start"`: an earlier process
//!    may have applied it); a full cache is REFUSED (signed, a warning,
//!    `result="replay_cache_full"`: the client's clock is fine, the server
//!    cannot remember more open windows right now);
//! 4. decode with hickory-proto (FORMERR if it does not decode);
//! 5. a request signed ahead of our clock waits until our clock reaches its
//!    time signed (rule 4 of `# Replay`: what this process applies was
//!    signed before any later process starts);
//! 6. hand to the zone's writer, which checks prerequisites, prescan and
//!    policy, applies, persists, publishes, and then answers.
//!
//! Every answer from step 4 on is remembered for the request's window,
//! SERVFAIL after a timeout included (the zone loop may still apply it, so
//! a retransmission must not run it again); only a request that certainly
//! was not applied (the zone loop refused it with SERVFAIL, or it never
//! reached the loop) is forgotten, so that its retransmission is tried
//! again.
//!
//! The answer echoes the header and zone section and is signed with the
//! request's key. Every refusal is logged with its reason and counted in
//! `tldd_updates_total{result=reason}`.
use crate::events::Event;
use crate::runtime::{error_reply, error_reply_ede, Services};
use crate::update::edit::{rc, Update};
use crate::wire::answer::rcode;
use crate::wire::ede::code as ede;
use crate::wire::Query;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tldd_tsig::{self as tsig, Admit, ReplayCache, Verified};
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
    let explain =
        |rc: u16, code: u16, text: &str| error_reply_ede(svc, pkt, q, rc, v, Some((code, text)));
    if q.qtype != tldd_zone::rdata::SOA {
        count("formerr");
        return answer(rcode::FORMERR);
    }
    let Some(zrt) = svc.zone_rt(q.name()) else {
        count("notauth");
        tracing::info!(%peer, zone = %zone_text, "update refused: not authoritative");
        return explain(
            rcode::NOTAUTH,
            ede::NOT_AUTHORITATIVE,
            "not a zone of this server",
        );
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
        return explain(rcode::REFUSED, ede::PROHIBITED, why);
    }
    if zrt.primary.is_some() {
        count("secondary");
        tracing::info!(%peer, zone = %zone_text, "update refused: this node is a secondary for the zone");
        return explain(
            rcode::REFUSED,
            ede::PROHIBITED,
            "this server is a secondary for the zone; send updates to its primary",
        );
    }
    let v = v.expect("checked above");
    // A retransmission of a request in flight waits for its answer (the
    // zone loop answers within 30 s, a request signed ahead of our clock
    // waits up to the fudge cap before that).
    let deadline = Instant::now() + Duration::from_secs(35) + Duration::from_secs(v.fudge.into());
    let admitted = loop {
        let now = tsig::now();
        match svc.replay.admit(v, now) {
            Admit::New => break Admitted::new(&svc.replay, &v.mac),
            Admit::Answered(mut out) => {
                count("replayed");
                out[..2].copy_from_slice(&q.id.to_be_bytes());
                return out;
            }
            Admit::Pending if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Admit::Pending => {
                count("servfail");
                return answer(rcode::SERVFAIL);
            }
            Admit::Refused(r @ tsig::Refusal::Full) => {
                count(r.reason());
                tracing::warn!(%peer, zone = %zone_text, capacity = ReplayCache::CAPACITY,
                    "update refused: the TSIG replay cache is full (every entry's window is still open)");
                return explain(
                    rcode::REFUSED,
                    ede::OTHER,
                    "the TSIG replay cache is full; retry later",
                );
            }
            Admit::Refused(r) => {
                count(r.reason());
                m.tsig_failures.with_label_values(&["BADTIME"]).inc();
                tracing::info!(%peer, zone = %zone_text, time_signed = v.time,
                    not_before = svc.replay.not_before(), reason = r.reason(),
                    "update refused (BADTIME): it may have been applied before this process started");
                let mut out = error_reply(svc, pkt, q, rcode::NOTAUTH, None);
                tsig::Failure::BadTime(v.clone()).append(&mut out, now);
                return out;
            }
        }
    };
    let msg = match decode(pkt) {
        Ok(msg) => msg,
        Err(e) => {
            count("formerr");
            tracing::info!(%peer, zone = %zone_text, "update FORMERR: {e}");
            return admitted.answer(answer(rcode::FORMERR));
        }
    };
    let conv =
        |rs: &[hickory_proto::rr::Record]| rs.iter().map(rec_from).collect::<Result<Vec<_>, _>>();
    let update = match (conv(&msg.answers), conv(&msg.authorities)) {
        (Ok(prereqs), Ok(updates)) => Update { prereqs, updates },
        (Err(e), _) | (_, Err(e)) => {
            count("formerr");
            tracing::info!(%peer, zone = %zone_text, "update FORMERR: {e}");
            return admitted.answer(answer(rcode::FORMERR));
        }
    };
    if tsig::until(v.time).is_some() {
        tracing::debug!(%peer, zone = %zone_text, time_signed = v.time,
            "update signed ahead of our clock: applied once the clock reaches its time signed");
        while let Some(wait) = tsig::until(v.time) {
            tokio::time::sleep(wait).await;
        }
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Event::Update {
        update,
        received,
        reply: tx,
    };
    if zrt.events.send(job).await.is_err() {
        count("servfail");
        admitted.not_applied();
        return answer(rcode::SERVFAIL);
    }
    let mut admitted = admitted;
    admitted.handed_over = true;
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
            let code = match refusal.reason {
                "frozen" | "not_loaded" => ede::NOT_READY,
                _ if refusal.rcode == rcode::REFUSED => ede::PROHIBITED,
                _ => ede::OTHER,
            };
            if refusal.rcode == rcode::SERVFAIL {
                // Not applied (the loop says so): a retransmission may try again.
                admitted.not_applied();
                return explain(rcode::SERVFAIL, code, &refusal.detail);
            }
            return admitted.answer(explain(refusal.rcode, code, &refusal.detail));
        }
        _ => {
            // Outcome unknown: the loop may still apply it.
            count("servfail");
            rcode::SERVFAIL
        }
    };
    admitted.answer(answer(rc))
}

/// The replay-cache entry of a request admitted as new: ended with its
/// answer ([`Admitted::answer`]) or forgotten when it certainly was not
/// applied ([`Admitted::not_applied`], also when the handler is dropped
/// before handing the request to the zone loop). Dropped after that, the
/// entry stays pending until its window ends.
struct Admitted<'a> {
    cache: &'a ReplayCache,
    mac: &'a [u8],
    handed_over: bool,
    ended: bool,
}

impl<'a> Admitted<'a> {
    fn new(cache: &'a ReplayCache, mac: &'a [u8]) -> Self {
        Admitted {
            cache,
            mac,
            handed_over: false,
            ended: false,
        }
    }

    /// Remembers `out` as the answer to every repeat; returns it.
    fn answer(mut self, out: Vec<u8>) -> Vec<u8> {
        self.cache.answered(self.mac, &out);
        self.ended = true;
        out
    }

    fn not_applied(mut self) {
        self.cache.abandon(self.mac);
        self.ended = true;
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if !self.ended && !self.handed_over {
            self.cache.abandon(self.mac);
        }
    }
}
