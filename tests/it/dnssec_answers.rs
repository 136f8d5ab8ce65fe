//! DO=1 answers from a signed version, in process (the answer path, no
//! sockets): RRSIGs with data, NSEC3 proofs for NXDOMAIN, NODATA, DS at
//! delegations with and without DS (opt-out on and off), insecure
//! referrals; checked structurally (the NSEC3s returned match or cover the
//! right hashes, each carries its RRSIG, none twice); DO=0 unchanged.
use crate::support::dnssec as dnssec_common;
use dnssec_common::*;
use std::sync::Arc;
use tldd_dns::signer::{self, SignOptions, TestKey};
use tldd_dns::wire::{respond, Params, Query, Transport, ZoneSet};
use tldd_zone::load::load_file;
use tldd_zone::nsec3::{self, Hash, Nsec3Params, Nsec3Rec};
use tldd_zone::Zone;

const A: u16 = 1;
const NS: u16 = 2;
const SOA: u16 = 6;
const TXT: u16 = 16;
const DS: u16 = 43;
const RRSIG: u16 = 46;
const NSEC3: u16 = 50;

struct Fixture {
    zones: ZoneSet,
    params: Nsec3Params,
}

fn signed(opt_out: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let f = write_zone(dir.path(), 40);
    let mut z: Zone = load_file(&f, "shop.", &tldd_zone::progress::Quiet)
        .unwrap()
        .zone;
    let keys = vec![
        TestKey::generate(13, true).unwrap(),
        TestKey::generate(13, false).unwrap(),
    ];
    let o = SignOptions {
        opt_out,
        iterations: 1,
        salt: vec![0xab, 0xcd],
        validity: 86400 * 14,
        inception_offset: 3600,
        dnskey_ttl: 3600,
        now: signer::sign::unix_now(),
    };
    signer::sign_in_place(&mut z, &o, &keys, &|_| {}).unwrap();
    signer::verify(&z).unwrap();
    let params = z.nsec3.as_ref().unwrap().params.clone();
    Fixture {
        zones: ZoneSet::new(vec![Arc::new(z)]),
        params,
    }
}

impl Fixture {
    fn ask(&self, name: &str, qtype: u16, dnssec: bool) -> Resp {
        let p = Params {
            udp_payload: 1232,
            ..Default::default()
        };
        let pkt = query(name, qtype, dnssec);
        let mut q = Query::default();
        let mut out = vec![0u8; 65535];
        let (n, _) = respond(&self.zones, &p, &pkt, &mut q, &mut out, Transport::Udp);
        parse(&out[..n])
    }
    fn h(&self, name: &str) -> Hash {
        self.params.hash(&wire(name))
    }
}

struct Proof(Vec<Nsec3Rec>);

impl Proof {
    /// The NSEC3s of the authority section, after checking each has its
    /// RRSIG and none is there twice.
    fn of(r: &Resp) -> Proof {
        let mut recs: Vec<Nsec3Rec> = Vec::new();
        for rr in r.authority.iter().filter(|rr| rr.rtype == NSEC3) {
            let h = nsec3::hash_of_owner(&rr.owner).expect("NSEC3 owner is a hash");
            assert!(!recs.iter().any(|x| x.hash == h), "NSEC3 twice");
            assert!(
                r.authority.iter().any(|s| s.rtype == RRSIG
                    && s.owner == rr.owner
                    && s.rdata[..2] == NSEC3.to_be_bytes()),
                "NSEC3 without RRSIG"
            );
            recs.push(Nsec3Rec::new(h, rr.ttl, &rr.rdata));
        }
        Proof(recs)
    }
    fn matching(&self, h: &Hash) -> Option<&Nsec3Rec> {
        self.0.iter().find(|r| r.hash == *h)
    }
    fn covering(&self, h: &Hash) -> Option<&Nsec3Rec> {
        self.0.iter().find(|r| r.hash != *h && r.covers(h))
    }
}

fn has_signed(r: &[Rr], owner: &str, t: u16) -> bool {
    let o = wire(owner);
    r.iter().any(|x| x.owner == o && x.rtype == t)
        && r.iter()
            .any(|x| x.owner == o && x.rtype == RRSIG && x.rdata[..2] == t.to_be_bytes())
}

#[test]
fn positive_answers_carry_rrsigs() {
    let f = signed(true);
    let r = f.ask("shop.", SOA, true);
    assert!(r.aa() && r.rcode() == 0);
    assert!(has_signed(&r.answer, "shop.", SOA));
    let r = f.ask("nic.shop.", A, true);
    assert!(has_signed(&r.answer, "nic.shop.", A));
    let r = f.ask("shop.", 48, true);
    assert!(has_signed(&r.answer, "shop.", 48));
    // DO=0: no DNSSEC records at all.
    for (n, t) in [
        ("shop.", SOA),
        ("nope.shop.", A),
        ("plain.shop.", A),
        ("signed.shop.", DS),
    ] {
        let r = f.ask(n, t, false);
        let all = r.answer.iter().chain(&r.authority).chain(&r.additional);
        assert!(
            all.clone().all(|x| x.rtype != RRSIG && x.rtype != NSEC3),
            "{n}"
        );
    }
}

#[test]
fn nxdomain_proofs() {
    for opt_out in [true, false] {
        let f = signed(opt_out);
        // Closest encloser the apex; one level and two levels below.
        for (q, ce, nc) in [
            ("nope.shop.", "shop.", "nope.shop."),
            ("a.b.nope.shop.", "shop.", "nope.shop."),
            ("x.nic.shop.", "nic.shop.", "x.nic.shop."),
            ("y.x.ent.shop.", "x.ent.shop.", "y.x.ent.shop."),
        ] {
            let r = f.ask(q, A, true);
            assert_eq!(r.rcode(), 3, "{q}");
            assert!(r.aa());
            assert!(has_signed(&r.authority, "shop.", SOA), "{q}: SOA RRSIG");
            let p = Proof::of(&r);
            assert!(p.matching(&f.h(ce)).is_some(), "{q}: closest encloser {ce}");
            assert!(p.covering(&f.h(nc)).is_some(), "{q}: next closer {nc}");
            let wc = format!("*.{ce}");
            assert!(p.covering(&f.h(&wc)).is_some(), "{q}: wildcard {wc}");
            assert!(p.0.len() <= 3);
        }
        // An NSEC3 owner name is not a name of the zone.
        let any = f.zones.zones()[0]
            .nsec3
            .as_ref()
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .hash;
        let mut o = [0u8; 256];
        let n = nsec3::owner_name(&any, &wire("shop."), &mut o);
        let name = tldd_zone::name::to_text(&o[..n]);
        let r = f.ask(&name, A, true);
        assert_eq!(r.rcode(), 3, "{name}");
        assert!(Proof::of(&r).matching(&f.h("shop.")).is_some());
    }
}

#[test]
fn nodata_proofs() {
    for opt_out in [true, false] {
        let f = signed(opt_out);
        for (q, t) in [
            ("shop.", TXT + 1),
            ("nic.shop.", TXT),
            ("ent.shop.", A),
            ("x.ent.shop.", A),
        ] {
            let r = f.ask(q, t, true);
            assert_eq!(r.rcode(), 0, "{q}");
            assert!(r.answer.is_empty() && r.aa(), "{q}");
            assert!(has_signed(&r.authority, "shop.", SOA), "{q}");
            let p = Proof::of(&r);
            let m = p
                .matching(&f.h(q))
                .unwrap_or_else(|| panic!("{q}: matching NSEC3"));
            assert!(!m.fields().unwrap().has_type(t), "{q}");
            assert_eq!(p.0.len(), 1);
        }
        // DS at a delegation without DS.
        let r = f.ask("plain.shop.", DS, true);
        assert_eq!(r.rcode(), 0);
        assert!(r.aa() && r.answer.is_empty());
        let p = Proof::of(&r);
        if opt_out {
            // Closest provable encloser (the apex) + next closer covered with opt-out.
            assert!(p.matching(&f.h("shop.")).is_some());
            let c = p.covering(&f.h("plain.shop.")).expect("covering NSEC3");
            assert!(c.opt_out());
        } else {
            let m = p.matching(&f.h("plain.shop.")).expect("matching NSEC3");
            let fl = m.fields().unwrap();
            assert!(fl.has_type(NS) && !fl.has_type(DS) && !fl.has_type(RRSIG));
        }
        // DS at a signed delegation: the DS and its RRSIG.
        let r = f.ask("signed.shop.", DS, true);
        assert!(r.aa() && has_signed(&r.answer, "signed.shop.", DS));
        let r = f.ask("deep.sub.shop.", DS, true);
        assert!(r.aa() && has_signed(&r.answer, "deep.sub.shop.", DS));
    }
}

#[test]
fn referrals() {
    for opt_out in [true, false] {
        let f = signed(opt_out);
        // Signed delegation: NS, DS, RRSIG(DS); no NSEC3; glue.
        let r = f.ask("www.signed.shop.", A, true);
        assert!(!r.aa() && r.rcode() == 0 && r.answer.is_empty());
        assert!(has_signed(&r.authority, "signed.shop.", DS));
        assert!(!r.authority.iter().any(|x| x.rtype == NSEC3));
        assert!(!r
            .authority
            .iter()
            .any(|x| x.rtype == RRSIG && x.rdata[..2] == NS.to_be_bytes()));
        assert!(r.additional.iter().any(|x| x.rtype == A));
        // Unsigned delegations (also one below an empty non-terminal's sibling).
        for (q, cut) in [
            ("www.plain.shop.", "plain.shop."),
            ("unsigned.shop.", "unsigned.shop."),
            ("x.mixed.shop.", "mixed.shop."),
        ] {
            let r = f.ask(q, A, true);
            assert!(!r.aa() && r.rcode() == 0, "{q}");
            assert!(r.authority.iter().any(|x| x.rtype == NS));
            assert!(!r.authority.iter().any(|x| x.rtype == DS));
            let p = Proof::of(&r);
            if opt_out {
                assert!(p.matching(&f.h("shop.")).is_some(), "{q}");
                assert!(p.covering(&f.h(cut)).expect("covering").opt_out(), "{q}");
            } else {
                let m = p.matching(&f.h(cut)).expect("matching NSEC3 of the cut");
                assert!(!m.fields().unwrap().has_type(DS));
            }
        }
        // DO=0 referral: no proof.
        let r = f.ask("www.plain.shop.", A, false);
        assert!(!r.authority.iter().any(|x| x.rtype == NSEC3));
    }
}

#[test]
fn small_udp_buffer_truncates_rather_than_dropping_the_proof() {
    let f = signed(true);
    let p = Params {
        udp_payload: 1232,
        ..Default::default()
    };
    let mut pkt = query("a.b.nope.shop.", A, true);
    let l = pkt.len();
    pkt[l - 8..l - 6].copy_from_slice(&512u16.to_be_bytes());
    let mut q = Query::default();
    let mut out = vec![0u8; 65535];
    let (n, _) = respond(&f.zones, &p, &pkt, &mut q, &mut out, Transport::Udp);
    let r = parse(&out[..n]);
    assert!(n <= 512);
    let complete = Proof::of(&r).0.len() == 3;
    assert!(complete || r.tc(), "incomplete proof without TC");
}
