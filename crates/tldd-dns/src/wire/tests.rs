//! Table-driven tests of the answer builder ([`super::respond`]): one small
//! zone, one row per question, the expected answer as RFC 1034 §4.3.2,
//! RFC 2181 and RFC 9471 say. Queries are built and answers decoded with
//! hickory-proto (not with our own code), so a row checks what a resolver
//! would see.
use super::{respond, Params, Query, Transport, ZoneSet};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as HQuery, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use std::sync::Arc;

const ZONE: &str = "\
$ORIGIN shop.
$TTL 3600
@         SOA   ns1.nic.shop. hostmaster.nic.shop. 7 1800 900 604800 300
@         NS    ns1.nic.shop.
ns1.nic   A     192.0.2.1
www       A     192.0.2.80
alias     CNAME www.shop.
mail      MX    10 www.shop.
deleg     NS    ns1.deleg.shop.
ns1.deleg A     192.0.2.10
sib       NS    ns1.deleg.shop.
ext       NS    ns.example.net.
a.co      NS    ns.example.net.
";

fn zones() -> ZoneSet {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("shop.zone");
    std::fs::write(&p, ZONE).unwrap();
    let loaded = tldd_zone::load::load_file(&p, "shop.", &tldd_zone::progress::Quiet).unwrap();
    assert!(
        loaded
            .problems
            .iter()
            .all(|p| p.severity != tldd_zone::load::Severity::Error),
        "{:?}",
        loaded
            .problems
            .iter()
            .map(|p| &p.message)
            .collect::<Vec<_>>()
    );
    ZoneSet::new(vec![Arc::new(loaded.zone)])
}

fn params() -> Params {
    Params {
        udp_payload: 1232,
        nsid: Some(b"node-a".to_vec()),
        identity: None,
        version: None,
    }
}

fn query(name: &str, t: RecordType, class: DNSClass, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    let mut q = HQuery::query(Name::from_ascii(name).unwrap(), t);
    q.set_query_class(class);
    m.add_query(q);
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn ask(zs: &ZoneSet, pkt: &[u8], t: Transport) -> Option<Message> {
    let mut q = Box::<Query>::default();
    let mut out = vec![0u8; 65535];
    let (n, _) = respond(zs, &params(), pkt, &mut q, &mut out, t);
    (n > 0).then(|| Message::from_vec(&out[..n]).expect("our answer decodes"))
}

fn types(rs: &[hickory_proto::rr::Record]) -> Vec<RecordType> {
    rs.iter()
        .map(|r| r.record_type())
        .filter(|t| *t != RecordType::OPT)
        .collect()
}

/// One row: question -> rcode, AA, answer / authority / additional types.
struct Row {
    name: &'static str,
    qtype: RecordType,
    rcode: ResponseCode,
    aa: bool,
    answer: &'static [RecordType],
    authority: &'static [RecordType],
    /// Types that must be in the additional section (others may be too).
    additional: &'static [RecordType],
    why: &'static str,
}

use RecordType::{A, AAAA, CNAME, MX, NS, SOA, TXT};

#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row { name: "shop.", qtype: SOA, rcode: ResponseCode::NoError, aa: true, answer: &[SOA], authority: &[], additional: &[], why: "apex data is authoritative" },
    Row { name: "shop.", qtype: NS, rcode: ResponseCode::NoError, aa: true, answer: &[NS], authority: &[], additional: &[A], why: "apex NS with the address of its in-zone target" },
    Row { name: "WWW.Shop.", qtype: A, rcode: ResponseCode::NoError, aa: true, answer: &[A], authority: &[], additional: &[], why: "names compare case-insensitively" },
    Row { name: "www.shop.", qtype: AAAA, rcode: ResponseCode::NoError, aa: true, answer: &[], authority: &[SOA], additional: &[], why: "NODATA carries the SOA" },
    Row { name: "nope.shop.", qtype: A, rcode: ResponseCode::NXDomain, aa: true, answer: &[], authority: &[SOA], additional: &[], why: "NXDOMAIN carries the SOA" },
    Row { name: "co.shop.", qtype: A, rcode: ResponseCode::NoError, aa: true, answer: &[], authority: &[SOA], additional: &[], why: "an empty non-terminal is NODATA, not NXDOMAIN" },
    Row { name: "alias.shop.", qtype: A, rcode: ResponseCode::NoError, aa: true, answer: &[CNAME, A], authority: &[], additional: &[], why: "an in-zone CNAME chain is followed" },
    Row { name: "mail.shop.", qtype: MX, rcode: ResponseCode::NoError, aa: true, answer: &[MX], authority: &[], additional: &[A], why: "MX target address in additional" },
    Row { name: "x.deleg.shop.", qtype: A, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[A], why: "a referral: NS and in-domain glue, no AA" },
    Row { name: "deleg.shop.", qtype: NS, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[A], why: "the NS at a cut is the child's: a referral" },
    Row { name: "deleg.shop.", qtype: A, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[A], why: "any type at a cut is a referral" },
    Row { name: "www.sib.shop.", qtype: A, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[], why: "sibling glue is optional" },
    Row { name: "ext.shop.", qtype: A, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[], why: "out-of-zone name servers: no glue" },
    Row { name: "b.a.co.shop.", qtype: AAAA, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[], why: "a delegation below an empty non-terminal" },
    Row { name: "ns1.deleg.shop.", qtype: A, rcode: ResponseCode::NoError, aa: false, answer: &[], authority: &[NS], additional: &[A], why: "glue is not authoritative: a referral" },
    Row { name: "example.com.", qtype: A, rcode: ResponseCode::Refused, aa: false, answer: &[], authority: &[], additional: &[], why: "not our zone" },
];

#[test]
fn answers_follow_the_rfcs() {
    let zs = zones();
    for row in ROWS {
        for edns in [None, Some(1232)] {
            let pkt = query(row.name, row.qtype, DNSClass::IN, edns);
            let m =
                ask(&zs, &pkt, Transport::Udp).unwrap_or_else(|| panic!("no answer: {}", row.why));
            let ctx = format!("{} {:?} (EDNS {edns:?}): {}", row.name, row.qtype, row.why);
            assert_eq!(m.id, 0x1234, "{ctx}");
            assert_eq!(m.message_type, MessageType::Response, "{ctx}");
            assert_eq!(m.response_code, row.rcode, "{ctx}");
            assert_eq!(m.authoritative, row.aa, "{ctx}");
            assert_eq!(types(&m.answers), row.answer, "{ctx}");
            assert_eq!(types(&m.authorities), row.authority, "{ctx}");
            let add = types(&m.additionals);
            for t in row.additional {
                assert!(add.contains(t), "{ctx}: additional {add:?}");
            }
            assert_eq!(m.queries.len(), 1, "{ctx}: the question is echoed");
            assert_eq!(
                m.queries[0].name().to_ascii(),
                row.name,
                "{ctx}: the question keeps its case"
            );
            assert_eq!(
                m.edns.is_some(),
                edns.is_some(),
                "{ctx}: OPT only when asked"
            );
        }
    }
}

#[test]
fn referral_glue_is_the_delegations_own() {
    let zs = zones();
    let m = ask(
        &zs,
        &query("x.deleg.shop.", A, DNSClass::IN, None),
        Transport::Udp,
    )
    .unwrap();
    let glue: Vec<String> = m
        .additionals
        .iter()
        .filter(|r| r.record_type() == A)
        .map(|r| format!("{} {}", r.name, r.data))
        .collect();
    assert_eq!(glue, ["ns1.deleg.shop. 192.0.2.10"]);
    let ns: Vec<String> = m.authorities.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(ns, ["ns1.deleg.shop."]);
}

#[test]
fn malformed_and_unsupported_queries() {
    let zs = zones();
    // A response is never answered (no reflection loops).
    let mut pkt = query("shop.", SOA, DNSClass::IN, None);
    pkt[2] |= 0x80;
    assert!(ask(&zs, &pkt, Transport::Udp).is_none());
    // Two questions: FORMERR.
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(HQuery::query(Name::from_ascii("shop.").unwrap(), SOA));
    m.add_query(HQuery::query(Name::from_ascii("www.shop.").unwrap(), A));
    let r = ask(&zs, &m.to_vec().unwrap(), Transport::Udp).unwrap();
    assert_eq!(r.response_code, ResponseCode::FormErr);
    // An opcode we do not serve: NOTIMP.
    let mut pkt = query("shop.", SOA, DNSClass::IN, None);
    pkt[2] = (pkt[2] & 0x87) | (2 << 3); // STATUS
    let r = ask(&zs, &pkt, Transport::Udp).unwrap();
    assert_eq!(r.response_code, ResponseCode::NotImp);
    // CHAOS version.bind without `[server] version`: REFUSED.
    let r = ask(
        &zs,
        &query("version.bind.", TXT, DNSClass::CH, None),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(r.response_code, ResponseCode::Refused);
    // A packet cut inside the question: FORMERR or silence, never a panic.
    let pkt = query("www.shop.", A, DNSClass::IN, None);
    for cut in 0..pkt.len() {
        if let Some(r) = ask(&zs, &pkt[..cut], Transport::Udp) {
            assert_ne!(r.response_code, ResponseCode::NoError, "cut at {cut}");
        }
    }
}

#[test]
fn nsid_is_returned_when_asked() {
    let zs = zones();
    let mut m = Message::new(9, MessageType::Query, OpCode::Query);
    m.add_query(HQuery::query(Name::from_ascii("shop.").unwrap(), SOA));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.options_mut()
        .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(
            3,
            vec![],
        ));
    m.set_edns(e);
    let pkt = m.to_vec().unwrap();
    let r = ask(&zs, &pkt, Transport::Udp).unwrap();
    assert!(r.edns.is_some(), "OPT in the answer");
    // The option on the wire: code 3, length 6, the configured NSID.
    let mut q = Box::<Query>::default();
    let mut out = vec![0u8; 65535];
    let (n, _) = respond(&zs, &params(), &pkt, &mut q, &mut out, Transport::Udp);
    let want = [&[0u8, 3, 0, 6][..], b"node-a"].concat();
    assert!(
        out[..n].windows(want.len()).any(|w| w == want),
        "NSID option in {:?}",
        &out[..n]
    );
}

#[test]
fn small_udp_payloads_truncate_tcp_never_does() {
    // A referral whose required glue cannot fit 512 bytes sets TC (RFC 9471).
    let mut text = String::from(ZONE);
    for i in 0..40 {
        text.push_str(&format!(
            "big NS ns{i}.a-rather-long-name-server-label.big.shop.\n\
             ns{i}.a-rather-long-name-server-label.big A 192.0.2.{i}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.zone");
    std::fs::write(&p, text).unwrap();
    let z = tldd_zone::load::load_file(&p, "shop.", &tldd_zone::progress::Quiet)
        .unwrap()
        .zone;
    let zs = ZoneSet::new(vec![Arc::new(z)]);
    let pkt = query("x.big.shop.", A, DNSClass::IN, None);
    let udp = ask(&zs, &pkt, Transport::Udp).unwrap();
    assert!(
        udp.truncation,
        "512-byte UDP answer without room for the glue"
    );
    let tcp = ask(&zs, &pkt, Transport::Tcp).unwrap();
    assert!(!tcp.truncation);
    assert_eq!(types(&tcp.authorities).len(), 40);
    assert_eq!(
        tcp.additionals
            .iter()
            .filter(|r| r.record_type() == A)
            .count(),
        40
    );
}

#[test]
fn error_replies_keep_opt_and_never_echo_a_stale_question() {
    let zs = zones();
    // One Query buffer for all, as a UDP worker reuses it.
    let mut q = Box::<Query>::default();
    let mut out = vec![0u8; 65535];
    let mut send = |pkt: &[u8]| {
        let (n, _) = respond(&zs, &params(), pkt, &mut q, &mut out, Transport::Udp);
        out[..n].to_vec()
    };
    let counts = |r: &[u8]| {
        let c = |i: usize| u16::from_be_bytes([r[i], r[i + 1]]);
        (r[3] & 0xf, c(4), c(6), c(8), c(10))
    };
    let opt = [0u8, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0];
    let warm = query("www.shop.", A, DNSClass::IN, Some(1232));
    for (opcode, with_opt) in [(6u8, true), (6, false), (1, true), (3, false)] {
        assert!(!send(&warm).is_empty());
        let mut pkt = vec![
            0xab,
            0xcd,
            opcode << 3,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            with_opt as u8,
        ];
        if with_opt {
            pkt.extend_from_slice(&opt);
        }
        let r = send(&pkt);
        // NOTIMP, no question, OPT only when the query had one.
        assert_eq!(counts(&r), (4, 0, 0, 0, with_opt as u16), "opcode {opcode}");
        assert_eq!(r.len(), 12 + if with_opt { 11 } else { 0 });
    }
    // QDCOUNT 0 with OPT (a cookie-only query): FORMERR with OPT.
    let mut pkt = vec![0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    pkt.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8]);
    pkt.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(counts(&send(&pkt)), (1, 0, 0, 0, 1));
    // Two OPTs: FORMERR without OPT (the OPT is what is wrong).
    let mut pkt = query("shop.", SOA, DNSClass::IN, None);
    pkt[11] = 2;
    pkt.extend_from_slice(&opt);
    pkt.extend_from_slice(&opt);
    assert_eq!(counts(&send(&pkt)), (1, 1, 0, 0, 0));
}

#[test]
fn qclass_any_reads_in_and_axfr_over_udp_is_notimp() {
    let zs = zones();
    let r = ask(
        &zs,
        &query("shop.", SOA, DNSClass::ANY, None),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(r.response_code, ResponseCode::NoError);
    assert!(r.authoritative);
    assert_eq!(types(&r.answers), [SOA]);
    let r = ask(
        &zs,
        &query("shop.", RecordType::AXFR, DNSClass::IN, None),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(r.response_code, ResponseCode::NotImp);
}

#[test]
fn any_over_udp_is_one_real_rrset_and_rrsig_of_unsigned_is_nodata() {
    let zs = zones();
    let r = ask(
        &zs,
        &query("mail.shop.", RecordType::ANY, DNSClass::IN, None),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(types(&r.answers), [RecordType::MX]);
    let r = ask(
        &zs,
        &query("shop.", RecordType::ANY, DNSClass::IN, None),
        Transport::Tcp,
    )
    .unwrap();
    assert_eq!(types(&r.answers), [NS, SOA]);
    // An unsigned zone has no RRSIGs: NODATA with the SOA.
    let r = ask(
        &zs,
        &query("www.shop.", RecordType::RRSIG, DNSClass::IN, None),
        Transport::Udp,
    )
    .unwrap();
    assert_eq!(r.response_code, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(types(&r.authorities), [SOA]);
}

mod cookies {
    //! DNS cookies through the answer path (the hash itself is tested with
    //! RFC 9018's vectors in `wire::cookie`).
    use super::*;
    use crate::wire::cookie::{self, Secret, Secrets, Seen};
    use crate::wire::{respond_from, Client, Outcome};

    const CLIENT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    fn secrets() -> Secrets {
        Secrets {
            current: Secret([9; 16]),
            previous: None,
        }
    }

    /// A query for `name` with EDNS and a COOKIE option holding `data`.
    fn with_cookie(name: &str, data: &[u8]) -> Vec<u8> {
        let mut p = query(name, RecordType::A, DNSClass::IN, Some(1232));
        // The OPT record is last and has no options: its RDLENGTH is the
        // last two bytes.
        let n = p.len();
        p[n - 2..].copy_from_slice(&(4 + data.len() as u16).to_be_bytes());
        p.extend_from_slice(&10u16.to_be_bytes());
        p.extend_from_slice(&(data.len() as u16).to_be_bytes());
        p.extend_from_slice(data);
        p
    }

    fn ask_from(pkt: &[u8], t: Transport, s: &Secrets) -> (Vec<u8>, Outcome) {
        let mut q = Box::<Query>::default();
        let mut out = vec![0u8; 65535];
        let c = Client {
            ip: "192.0.2.53".parse().unwrap(),
            now: 1_700_000_000,
            cookies: s,
        };
        let (n, oc) = respond_from(&zones(), &params(), pkt, &mut q, &mut out, t, Some(&c));
        out.truncate(n);
        (out, oc)
    }

    /// The COOKIE option data in a response (raw: after `[0, 10, len]`).
    fn reply_cookie(r: &[u8]) -> Option<Vec<u8>> {
        let at = r
            .windows(4)
            .rposition(|w| w == [0, 10, 0, cookie::REPLY_LEN as u8])?;
        Some(r[at + 4..at + 4 + cookie::REPLY_LEN].to_vec())
    }

    #[test]
    fn a_client_cookie_gets_a_server_cookie_and_it_is_then_valid() {
        let s = secrets();
        for t in [Transport::Udp, Transport::Tcp] {
            let (r, oc) = ask_from(&with_cookie("www.shop.", &CLIENT), t, &s);
            assert_eq!(oc.cookie, Seen::ClientOnly);
            let m = Message::from_vec(&r).unwrap();
            assert_eq!(m.response_code, ResponseCode::NoError);
            assert_eq!(m.answers.len(), 1);
            let c = reply_cookie(&r).expect("COOKIE in the reply");
            assert_eq!(c[..8], CLIENT);
            assert_eq!(c[8], 1, "RFC 9018 version");
            let ts = u32::from_be_bytes(c[12..16].try_into().unwrap());
            assert_eq!(ts, 1_700_000_000);
            // Sent back: valid, echoed as it is.
            let (r2, oc2) = ask_from(&with_cookie("www.shop.", &c), t, &s);
            assert_eq!(oc2.cookie, Seen::Valid);
            assert_eq!(reply_cookie(&r2).unwrap(), c);
            assert_eq!(Message::from_vec(&r2).unwrap().answers.len(), 1);
            // Tampered: answered normally, with a fresh cookie.
            let mut bad = c.clone();
            bad[20] ^= 0xff;
            let (r3, oc3) = ask_from(&with_cookie("www.shop.", &bad), t, &s);
            assert_eq!(oc3.cookie, Seen::Bad);
            assert_eq!(reply_cookie(&r3).unwrap(), c);
            assert_eq!(Message::from_vec(&r3).unwrap().answers.len(), 1);
        }
    }

    #[test]
    fn malformed_cookies_are_formerr_and_no_cookie_costs_nothing() {
        let s = secrets();
        for len in [1usize, 7, 9, 15, 41] {
            let (r, oc) = ask_from(&with_cookie("www.shop.", &vec![7; len]), Transport::Udp, &s);
            let m = Message::from_vec(&r).unwrap();
            assert_eq!(m.response_code, ResponseCode::FormErr, "length {len}");
            assert!(m.edns.is_some(), "FORMERR keeps OPT (RFC 6891 §7)");
            assert_eq!(oc.cookie, Seen::None);
        }
        for len in [8usize, 16, 24, 40] {
            let (r, _) = ask_from(&with_cookie("www.shop.", &vec![7; len]), Transport::Udp, &s);
            assert_eq!(
                Message::from_vec(&r).unwrap().response_code,
                ResponseCode::NoError,
                "length {len}"
            );
        }
        // No COOKIE option: no cookie in the reply; nor without a client.
        let (r, oc) = ask_from(
            &query("www.shop.", RecordType::A, DNSClass::IN, Some(1232)),
            Transport::Udp,
            &s,
        );
        assert_eq!(oc.cookie, Seen::None);
        assert!(reply_cookie(&r).is_none());
        let pkt = with_cookie("www.shop.", &CLIENT);
        let r = ask(&zones(), &pkt, Transport::Udp).unwrap();
        assert_eq!(r.answers.len(), 1);
    }

    #[test]
    fn slipped_replies_keep_question_and_opt() {
        let s = secrets();
        let pkt = with_cookie("mail.shop.", &CLIENT);
        let (mut r, oc) = ask_from(&pkt, Transport::Udp, &s);
        let mut q = Box::<Query>::default();
        crate::wire::query::parse(&pkt, &mut q).unwrap();
        let full = r.len();
        // TC=1: header, question and OPT (with the cookie), nothing else.
        let mut tc = r.clone();
        let n = crate::wire::slip::reply(&mut tc, full, &q, oc.opt_at, false);
        let m = Message::from_vec(&tc[..n]).unwrap();
        assert!(m.truncation);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.answers.len() + m.authorities.len(), 0);
        assert!(m.edns.is_some());
        assert_eq!(reply_cookie(&tc[..n]).unwrap()[..8], CLIENT);
        // BADCOOKIE: RCODE 23, the fresh server cookie kept.
        let n = crate::wire::slip::reply(&mut r, full, &q, oc.opt_at, true);
        let m = Message::from_vec(&r[..n]).unwrap();
        assert_eq!(u16::from(m.response_code), 23);
        assert!(!m.truncation);
        assert!(reply_cookie(&r[..n]).is_some());
        // Without EDNS: header and question with TC=1.
        let pkt = query("mail.shop.", RecordType::MX, DNSClass::IN, None);
        let (mut r, oc) = ask_from(&pkt, Transport::Udp, &s);
        crate::wire::query::parse(&pkt, &mut q).unwrap();
        let full = r.len();
        let n = crate::wire::slip::reply(&mut r, full, &q, oc.opt_at, false);
        assert_eq!(n, q.question_end);
        assert!(Message::from_vec(&r[..n]).unwrap().truncation);
    }
}
