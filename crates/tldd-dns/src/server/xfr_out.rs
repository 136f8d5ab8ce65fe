//! Outgoing zone transfers: AXFR (RFC 5936) and IXFR (RFC 1995).
//!
//! # Access
//! A transfer is allowed when every configured check passes and at least
//! one is configured: `transfer_key` (the request must be signed with that
//! key) and `allow_transfer` (the peer address must be in one of the
//! prefixes). Neither configured: REFUSED. Not our zone: NOTAUTH.
//!
//! # AXFR
//! The served version is pinned (an `Arc`) for the whole transfer, so a
//! transfer is one consistent version even while updates keep coming. A
//! blocking task walks it (SOA, apex, names, delegations, SOA) and packs
//! records into messages of up to [`MSG_LIMIT`] bytes with name
//! compression; the first message echoes the question, later ones have
//! none. With TSIG every message is signed, chained per RFC 8945 §5.3.1.
//!
//! # IXFR
//! The client's serial comes from the SOA in the authority section. Equal
//! or newer: one SOA answer. Otherwise the journal is asked for the chain
//! of diffs from that serial to the served one; the answer is the RFC 1995
//! condensed sequence (new SOA, then per version old SOA + deletions, new
//! SOA + additions, then the new SOA). No chain (compacted away, or a
//! serial we never had): the answer is in AXFR form (RFC 1995 §4 allows it).
//! Over UDP the IXFR answer is sent when it fits the requester's size,
//! otherwise a single SOA tells the client to retry over TCP (§2).
use crate::runtime::{error_reply, Reply, Services, ZoneRuntime};
use crate::wire::answer::rcode;
use crate::wire::writer::{Section, Writer};
use crate::wire::{Query, Transport};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tldd_tsig::{self as tsig, Signer, Verified};
use tldd_zone::rdata::{AXFR, SOA};
use tldd_zone::rec::decode;
use tldd_zone::records::{for_each_record, rrsets_at};
pub use tldd_zone::serial::serial_lt;
use tldd_zone::Diff;
use tldd_zone::{name, RRset, Zone};

/// Largest transfer message we build over TCP (before the TSIG).
pub const MSG_LIMIT: usize = 16 * 1024;

/// Is `peer` (and the request's key) allowed to transfer this zone?
pub fn allowed(zrt: &ZoneRuntime, ip: IpAddr, v: Option<&Verified>) -> bool {
    let key_ok = match &zrt.transfer_key {
        Some(k) => v.is_some_and(|v| v.key.name == k.name),
        None => true,
    };
    let acl_ok = if zrt.allow_transfer.is_empty() {
        zrt.transfer_key.is_some()
    } else {
        zrt.allow_transfer.iter().any(|n| n.contains(&ip))
    };
    key_ok && acl_ok
}

/// Handles an AXFR or IXFR request.
pub async fn transfer(
    svc: &Arc<Services>,
    pkt: &[u8],
    q: &Query,
    peer: SocketAddr,
    t: Transport,
    v: Option<Verified>,
) -> Reply {
    let m = &svc.metrics;
    let zone_text = name::to_text(q.name());
    let kind = match (q.qtype, t) {
        (AXFR, _) => "axfr",
        (_, Transport::Udp) => "ixfr_udp",
        _ => "ixfr",
    };
    let count = |result: &str| {
        m.transfers
            .with_label_values(&[&zone_text, kind, result])
            .inc()
    };
    if q.qtype == AXFR && t == Transport::Udp {
        return Reply::One(error_reply(svc, pkt, q, rcode::FORMERR, v.as_ref()));
    }
    let Some(zrt) = svc.zone_rt(q.name()) else {
        count("notauth");
        return Reply::One(error_reply(svc, pkt, q, rcode::NOTAUTH, v.as_ref()));
    };
    if !allowed(&zrt, peer.ip(), v.as_ref()) {
        count("refused");
        tracing::info!(%peer, zone = %zone_text, kind, "transfer refused by transfer_key/allow_transfer");
        return Reply::One(error_reply(svc, pkt, q, rcode::REFUSED, v.as_ref()));
    }
    let Some(zone) = svc.served(&zrt.origin) else {
        count("error");
        return Reply::One(error_reply(svc, pkt, q, rcode::SERVFAIL, v.as_ref()));
    };
    let signer = v.as_ref().map(Verified::signer);
    let mut diffs = None;
    if q.qtype != AXFR {
        let Some(client) = client_serial(pkt) else {
            count("formerr");
            return Reply::One(error_reply(svc, pkt, q, rcode::FORMERR, v.as_ref()));
        };
        let ours = zone.serial();
        if !serial_lt(client, ours) {
            count("uptodate");
            return Reply::One(soa_only(pkt, q, &zone, signer));
        }
        let journal = zrt.journal.clone();
        let found = tokio::task::spawn_blocking(move || journal.journal(client, ours))
            .await
            .ok()
            .and_then(Result::ok)
            .flatten();
        if found.is_none() {
            tracing::debug!(%peer, zone = %zone_text, client, ours, "IXFR: journal does not reach back; sending AXFR form");
        }
        diffs = found;
    }
    let question = pkt[..q.question_end].to_vec();
    let labels = q.labels[..q.label_count].to_vec();
    if t == Transport::Udp {
        let limit = q
            .edns
            .map_or(512, |e| e.udp_size.clamp(512, 65000) as usize);
        let msgs = match &diffs {
            Some(d) => pack_all(
                &question,
                &labels,
                ixfr_records(&zone, d),
                limit,
                signer.clone(),
            ),
            None => None,
        };
        return match msgs {
            Some(mut one) if one.len() == 1 => {
                count("ok");
                Reply::One(one.remove(0))
            }
            _ => {
                count("tcp_needed");
                Reply::One(soa_only(pkt, q, &zone, signer))
            }
        };
    }
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let zt = zone_text.clone();
    let metrics = svc.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let mut sink = Sink {
            tx,
            signer,
            question,
            labels,
            first: true,
        };
        let ok = match &diffs {
            Some(d) => sink.pack(ixfr_records(&zone, d), MSG_LIMIT),
            None => sink.pack(axfr_records(&zone), MSG_LIMIT),
        };
        let result = if ok { "ok" } else { "error" };
        metrics
            .transfers
            .with_label_values(&[&zt, kind, result])
            .inc();
    });
    Reply::Stream(rx)
}

/// The serial in the SOA of an IXFR request's authority section.
fn client_serial(pkt: &[u8]) -> Option<u32> {
    let msg = decode(pkt).ok()?;
    let r = msg.authorities.first()?;
    match &r.data {
        hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// One record to send: owner, type, TTL, RDATA.
type RecRef<'a> = (Cow<'a, [u8]>, u16, u32, &'a [u8]);

/// Records of the whole zone in AXFR order (SOA, apex, names, delegations,
/// NSEC3 chain), the SOA again at the end.
fn axfr_records(zone: &Zone) -> impl Iterator<Item = RecRef<'_>> {
    let soa = zone.soa();
    let head = soa.into_iter().map(move |s| (&*zone.origin, s));
    let apex = zone
        .apex
        .rrsets
        .iter()
        .filter(|s| s.rtype != SOA)
        .map(move |s| (&*zone.origin, s));
    let names = zone
        .names
        .iter()
        .flat_map(|(o, n)| n.rrsets.iter().map(move |s| (&**o, s)));
    let cuts = zone.cuts.iter().flat_map(|d| {
        std::iter::once((&*d.name, &d.ns))
            .chain(d.ds.iter().map(move |ds| (&*d.name, &**ds)))
            .chain(
                d.glue
                    .iter()
                    .flat_map(|(o, n)| n.rrsets.iter().map(move |s| (&**o, s))),
            )
    });
    let chain = zone.nsec3.iter().flat_map(move |c| {
        c.iter().flat_map(move |r| {
            let mut o = [0u8; 256];
            let n = tldd_zone::nsec3::owner_name(&r.hash, &zone.origin, &mut o);
            let owner: Cow<'_, [u8]> = Cow::Owned(o[..n].to_vec());
            set_records(owner, &r.rrset)
        })
    });
    let tail = soa.into_iter().flat_map(move |s| {
        s.rdatas()
            .next()
            .map(|rd| (Cow::Borrowed(&*zone.origin), SOA, s.ttl, rd))
    });
    head.chain(apex)
        .chain(names)
        .chain(cuts)
        .flat_map(|(o, s)| set_records(Cow::Borrowed(o), s))
        .chain(chain)
        .chain(tail)
}

fn set_records<'a>(owner: Cow<'a, [u8]>, s: &'a RRset) -> impl Iterator<Item = RecRef<'a>> {
    let o2 = owner.clone();
    s.rdatas()
        .map(move |rd| (owner.clone(), s.rtype, s.ttl, rd))
        .chain(
            s.sigs()
                .map(move |sig| (o2.clone(), tldd_zone::rdata::RRSIG, s.ttl, sig)),
        )
}

/// The RFC 1995 condensed sequence for `diffs`.
fn ixfr_records<'a>(zone: &'a Zone, diffs: &'a [Diff]) -> impl Iterator<Item = RecRef<'a>> {
    let soa = zone.soa();
    let current = move || {
        soa.into_iter().flat_map(move |s| {
            s.rdatas()
                .next()
                .map(|rd| (Cow::Borrowed(&*zone.origin), SOA, s.ttl, rd))
        })
    };
    let body = diffs.iter().flat_map(|d| {
        d.removed
            .iter()
            .chain(&d.added)
            .map(|r| (Cow::Borrowed(&*r.owner), r.rtype, r.ttl, &*r.rdata))
    });
    current().chain(body).chain(current())
}

/// Builds and sends messages from a blocking task.
struct Sink {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    signer: Option<Signer>,
    question: Vec<u8>,
    labels: Vec<u8>,
    first: bool,
}

impl Sink {
    /// Packs `recs` into messages; false if the peer went away or a record
    /// does not fit a message.
    fn pack<'a>(&mut self, recs: impl Iterator<Item = RecRef<'a>>, limit: usize) -> bool {
        let mut recs = recs.peekable();
        let mut buf = vec![0u8; 65535];
        while recs.peek().is_some() {
            let (q, labels, qd): (&[u8], &[u8], u16) = if self.first {
                (&self.question, &self.labels, 1)
            } else {
                (&self.question[..12], &[], 0)
            };
            let mut w = Writer::new(&mut buf, q, labels, limit);
            let mut n = 0;
            while let Some((o, t, ttl, rd)) = recs.peek() {
                let m = w.mark();
                if w.rr(Section::Answer, o, *t, 1, *ttl, rd).is_err() {
                    // A failed write leaves partial bytes: undo them.
                    w.rollback(m);
                    break;
                }
                recs.next();
                n += 1;
            }
            if n == 0 {
                tracing::error!("a record does not fit in a transfer message");
                return false;
            }
            let len = w.finish(0x8400, qd);
            let mut msg = buf[..len].to_vec();
            if let Some(s) = self.signer.as_mut() {
                s.sign(&mut msg, tsig::now());
            }
            self.first = false;
            if self.tx.blocking_send(msg).is_err() {
                return false;
            }
        }
        true
    }
}

/// Packs into messages in memory (UDP IXFR); `None` if something failed.
fn pack_all<'a>(
    question: &[u8],
    labels: &[u8],
    recs: impl Iterator<Item = RecRef<'a>>,
    limit: usize,
    mut signer: Option<Signer>,
) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65535];
    let room = limit.saturating_sub(signer.as_ref().map_or(0, |s| 100 + s.key().alg.mac_len()));
    let mut w = Writer::new(&mut buf, question, labels, room);
    for (o, t, ttl, rd) in recs {
        if w.rr(Section::Answer, &o, t, 1, ttl, rd).is_err() {
            return Some(vec![Vec::new(), Vec::new()]); // more than one message
        }
    }
    let len = w.finish(0x8400, 1);
    let mut msg = buf[..len].to_vec();
    if let Some(s) = signer.as_mut() {
        s.sign(&mut msg, tsig::now());
    }
    out.push(msg);
    Some(out)
}

/// An answer with only the current SOA.
fn soa_only(pkt: &[u8], q: &Query, zone: &Zone, mut signer: Option<Signer>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::new(
        &mut buf,
        &pkt[..q.question_end],
        &q.labels[..q.label_count],
        4000,
    );
    for set in rrsets_at(zone, &zone.origin)
        .iter()
        .filter(|s| s.rtype == SOA)
    {
        for_each_record(set, |t, ttl, rd| {
            if t == SOA {
                let _ = w.rr(Section::Answer, &zone.origin, t, 1, ttl, rd);
            }
        });
    }
    let len = w.finish(0x8400, 1);
    let mut msg = buf[..len].to_vec();
    if let Some(s) = signer.as_mut() {
        s.sign(&mut msg, tsig::now());
    }
    msg
}
