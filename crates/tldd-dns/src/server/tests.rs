//! The dispatcher's order of checks (RFC 8945 §5.2, RFC 2136 §3.1, RFC
//! 1996 §3), in-process: the TSIG first — unknown key BADKEY and bad MAC
//! BADSIG, both unsigned NOTAUTH; a stale time BADTIME, signed — then the
//! transport, then the zone. (Opcodes nobody serves never get here: the
//! fast path answers them NOTIMP, see `wire::tests`.) Packets are built with hickory-proto and signed
//! with `tldd_tsig` as a client would.
use super::dispatch::{dispatch, Reply, Services};
use crate::wire::{Params, Transport, ZoneSet};
use arc_swap::ArcSwap;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::sync::Arc;
use tldd_tsig::{self as tsig, Key, KeyConfig, KeyRing};

const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";

fn services() -> Arc<Services> {
    let keys = KeyRing::from_config(&[KeyConfig {
        name: "k".into(),
        algorithm: "hmac-sha256".into(),
        secret: SECRET.into(),
    }])
    .unwrap();
    Arc::new(Services {
        zones: Arc::new(ArcSwap::from_pointee(ZoneSet::new(vec![]))),
        params: Arc::new(Params {
            udp_payload: 1232,
            nsid: None,
            identity: None,
            version: None,
        }),
        keys: ArcSwap::from_pointee(keys),
        zone_rt: ArcSwap::from_pointee(vec![]),
        replay: tldd_tsig::ReplayCache::new(0),
        metrics: Arc::new(crate::metrics::Metrics::new()),
        cookies: Arc::new(crate::wire::cookie::Keeper::new(
            crate::wire::cookie::Secrets {
                current: crate::wire::cookie::Secret([7; 16]),
                previous: None,
            },
        )),
    })
}

fn packet(op: OpCode, zone: &str, t: RecordType) -> Vec<u8> {
    let mut m = Message::new(0x4242, MessageType::Query, op);
    m.add_query(Query::query(Name::from_ascii(zone).unwrap(), t));
    m.to_vec().unwrap()
}

fn signed(mut pkt: Vec<u8>, key: &str, secret: &[u8], at: u64) -> Vec<u8> {
    let k = Key::new(key, tsig::Alg::Sha256, secret).unwrap();
    tsig::Signer::request(Arc::new(k)).sign(&mut pkt, at);
    pkt
}

async fn ask(svc: &Arc<Services>, pkt: &[u8]) -> Vec<u8> {
    ask_on(svc, pkt, Transport::Udp).await
}

async fn ask_on(svc: &Arc<Services>, pkt: &[u8], t: Transport) -> Vec<u8> {
    let peer = "127.0.0.1:5300".parse().unwrap();
    match dispatch(svc, pkt, peer, t).await {
        Reply::One(r) => r,
        _ => panic!("one reply expected"),
    }
}

fn rcode(r: &[u8]) -> u8 {
    r[3] & 0x0f
}

/// The TSIG error field of the answer's TSIG, if it has one (RFC 8945
/// §4.2: algorithm name, time, fudge, MAC size, MAC, original ID, error).
fn tsig_error(r: &[u8]) -> Option<u16> {
    let at = tsig::find_tsig(r)?;
    let (_, p) = tsig::read_name(r, at)?; // owner
    let rdata = p + 10; // type, class, TTL, RDLENGTH
    let (_, mut p) = tsig::read_name(r, rdata)?; // algorithm
    p += 8; // time signed, fudge
    let mac = u16::from_be_bytes([*r.get(p)?, *r.get(p + 1)?]) as usize;
    p += 2 + mac + 2; // MAC, original ID
    Some(u16::from_be_bytes([*r.get(p)?, *r.get(p + 1)?]))
}

#[tokio::test]
async fn tsig_is_checked_before_anything_else() {
    let svc = services();
    let now = tsig::now();
    let secret = base64_secret();
    // Unknown key: NOTAUTH, BADKEY, unsigned.
    let r = ask(
        &svc,
        &signed(
            packet(OpCode::Update, "shop.", RecordType::SOA),
            "other",
            &secret,
            now,
        ),
    )
    .await;
    assert_eq!(rcode(&r), 9);
    assert_eq!(tsig_error(&r), Some(tsig::BADKEY));
    // Wrong secret: NOTAUTH, BADSIG.
    let r = ask(
        &svc,
        &signed(
            packet(OpCode::Update, "shop.", RecordType::SOA),
            "k",
            b"wrong",
            now,
        ),
    )
    .await;
    assert_eq!(rcode(&r), 9);
    assert_eq!(tsig_error(&r), Some(tsig::BADSIG));
    // An hour off: NOTAUTH, BADTIME (the zone is not even looked at).
    let r = ask(
        &svc,
        &signed(
            packet(OpCode::Update, "shop.", RecordType::SOA),
            "k",
            &secret,
            now - 3600,
        ),
    )
    .await;
    assert_eq!(rcode(&r), 9);
    assert_eq!(tsig_error(&r), Some(tsig::BADTIME));
}

#[tokio::test]
async fn then_the_transport_then_the_zone() {
    let svc = services();
    let now = tsig::now();
    let secret = base64_secret();
    // A good TSIG and a zone we do not have: NOTAUTH, signed, TSIG error 0.
    for (op, t, on) in [
        (OpCode::Update, RecordType::SOA, Transport::Udp),
        (OpCode::Notify, RecordType::SOA, Transport::Udp),
        (OpCode::Query, RecordType::AXFR, Transport::Tcp),
    ] {
        let r = ask_on(
            &svc,
            &signed(packet(op, "other.", t), "k", &secret, now),
            on,
        )
        .await;
        assert_eq!(rcode(&r), 9, "{op:?} {t:?}");
        assert_eq!(
            tsig_error(&r),
            Some(0),
            "{op:?} {t:?}: the answer is signed"
        );
        assert_eq!(&r[..2], &[0x42, 0x42]);
    }
    // AXFR over UDP is refused before the zone is looked at (RFC 5936 §4.2).
    let r = ask(
        &svc,
        &signed(
            packet(OpCode::Query, "other.", RecordType::AXFR),
            "k",
            &secret,
            now,
        ),
    )
    .await;
    assert_eq!(rcode(&r), 1);
}

fn base64_secret() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(SECRET)
        .unwrap()
}
