//! A real validating resolver in front of `tldd serve`: Unbound with a
//! stub zone pointing at tldd and the DS from `tldd keys ds` as its trust anchor.
//! Apex data and signed delegations' DS validate (AD); with opt-out off,
//! NXDOMAIN and NODATA validate too; with opt-out on, denials covered by an
//! opt-out span are insecure (no AD) but never SERVFAIL; an unsigned
//! delegation resolves as insecure. dnspython checks the proofs of tldd's
//! own answers independently (its nsec3_hash).
//! Needs unbound, knot-dnsutils (kdig),
//! python3-dnspython.
use crate::support::dnssec as dnssec_common;
use crate::support::peers::{resolve, unbound};
use crate::support::serve as common;
use common::Server;
use dnssec_common::*;

fn status(out: &str) -> String {
    out.lines()
        .find_map(|l| l.split("status: ").nth(1))
        .map(|s| s.split([',', ';']).next().unwrap().trim().to_string())
        .unwrap_or_default()
}

fn ad(out: &str) -> bool {
    out.lines()
        .find(|l| l.starts_with(";; Flags:"))
        .is_some_and(|l| {
            l.split_whitespace()
                .any(|w| w.trim_end_matches(';') == "ad")
        })
}

const CHILD: &str = "$ORIGIN plain.shop.\n$TTL 300\n@ IN SOA ns1.elsewhere.example. h.example. 1 1800 900 604800 300\n@ IN NS ns1.elsewhere.example.\nwww IN A 192.0.2.99\n";

#[test]
fn unbound_validates_tldd_answers() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 30);
    let child = dir.path().join("child.zone");
    std::fs::write(&child, CHILD).unwrap();
    let child_srv = Server::start(
        "",
        &format!(
            "[[zone]]\norigin = \"plain.shop.\"\nfile = \"{}\"\n",
            child.display()
        ),
    );
    for opt_out in [false, true] {
        let cfg = write_config(dir.path(), &zone, Some((13, opt_out, "", 0)), "127.0.0.1:0");
        let signed = dir.path().join(format!("signed-{opt_out}.zone"));
        let (ok, err) = tldd_sign(&cfg, &signed, &[]);
        assert!(ok, "{err}");
        // The trust anchor: the DS that `tldd keys ds` hands to the parent.
        let anchor = keys(&cfg, &["ds", "--zone", "shop."]);
        assert!(anchor.contains(" DS "), "no DS: {anchor}");
        let srv = Server::with_zone("shop.", &signed, "");
        let u = unbound(
            &anchor,
            &[("shop.", srv.port()), ("plain.shop.", child_srv.port())],
        );

        for (name, t) in [
            ("shop.", "SOA"),
            ("shop.", "NS"),
            ("shop.", "DNSKEY"),
            ("nic.shop.", "A"),
            ("signed.shop.", "DS"),
            ("deep.sub.shop.", "DS"),
            ("d0.shop.", "DS"),
            // RFC 8482: one real, signed RRset (a bare HINFO would be bogus).
            ("shop.", "ANY"),
            ("nic.shop.", "ANY"),
        ] {
            let out = resolve(&u, name, t);
            assert_eq!(status(&out), "NOERROR", "{name} {t}: {out}");
            assert!(ad(&out), "{name} {t} without AD (opt-out {opt_out}): {out}");
        }
        // QTYPE RRSIG: answered (not a false NODATA), never SERVFAIL.
        for name in ["shop.", "nic.shop."] {
            let out = resolve(&u, name, "RRSIG");
            assert_eq!(status(&out), "NOERROR", "{name} RRSIG: {out}");
            assert!(out.contains("RRSIG"), "{name} RRSIG: {out}");
        }
        // Denials.
        for (name, t, want) in [
            ("nope.shop.", "A", "NXDOMAIN"),
            ("a.b.nope.shop.", "A", "NXDOMAIN"),
            ("x.nic.shop.", "A", "NXDOMAIN"),
            ("nic.shop.", "TXT", "NOERROR"),
            ("ent.shop.", "A", "NOERROR"),
            ("plain.shop.", "DS", "NOERROR"),
            ("unsigned.shop.", "DS", "NOERROR"),
        ] {
            let out = resolve(&u, name, t);
            assert_eq!(status(&out), want, "{name} {t} (opt-out {opt_out}): {out}");
            if !opt_out {
                assert!(ad(&out), "{name} {t} without AD (opt-out off): {out}");
            }
        }
        if opt_out {
            // Proven by matching NSEC3s (not opt-out spans): still secure.
            for (name, t) in [("nic.shop.", "TXT"), ("ent.shop.", "A"), ("shop.", "TXT")] {
                assert!(ad(&resolve(&u, name, t)), "{name} {t}");
            }
        }
        // The unsigned child resolves, insecure.
        let out = resolve(&u, "www.plain.shop.", "A");
        assert_eq!(status(&out), "NOERROR", "{out}");
        assert!(out.contains("192.0.2.99"), "{out}");
        assert!(!ad(&out), "{out}");
        drop(u);
        srv.stop();
    }
}

const PY_PROOF: &str = r#"
import sys, dns.message, dns.query, dns.dnssec, dns.name, dns.rdatatype, base64
port = int(sys.argv[1]); salt = bytes.fromhex(sys.argv[2]); iters = int(sys.argv[3]); opt_out = sys.argv[4] == "1"
origin = dns.name.from_text("shop.")
def h(n):
    return dns.dnssec.nsec3_hash(n, salt, iters, 1).lower()
def ask(q, t):
    m = dns.message.make_query(q, t, want_dnssec=True)
    return dns.query.udp(m, "127.0.0.1", port=port, timeout=3)
def nsec3s(r):
    out = {}
    for rr in r.authority:
        if rr.rdtype == dns.rdatatype.NSEC3:
            owner = rr.name.labels[0].decode().lower()
            assert owner not in out, "duplicate NSEC3"
            nxt = base64.b32encode(rr[0].next).decode().translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHIJKLMNOPQRSTUV")).lower().rstrip("=")
            out[owner] = (nxt, rr[0])
            assert any(s.rdtype == dns.rdatatype.RRSIG and s.name == rr.name for s in r.authority), "NSEC3 without RRSIG"
    return out
def covers(recs, x):
    for own, (nxt, rd) in recs.items():
        if (own < x < nxt) or (nxt <= own and (x > own or x < nxt)):
            return rd
    return None
# NXDOMAIN: closest encloser, next closer, wildcard.
r = ask("a.b.nope.shop.", "A")
assert r.rcode() == 3, r
recs = nsec3s(r)
assert h("shop.") in recs, "no closest encloser"
assert covers(recs, h("nope.shop.")) is not None, "next closer not covered"
assert covers(recs, h("*.shop.")) is not None, "wildcard not covered"
# Referral to an unsigned delegation.
r = ask("www.plain.shop.", "A")
recs = nsec3s(r)
if opt_out:
    assert h("shop.") in recs
    rd = covers(recs, h("plain.shop."))
    assert rd is not None and rd.flags & 1, "opt-out span"
else:
    assert h("plain.shop.") in recs
# Referral to a signed delegation: DS + RRSIG, no NSEC3.
r = ask("www.signed.shop.", "A")
assert any(rr.rdtype == dns.rdatatype.DS for rr in r.authority)
assert any(rr.rdtype == dns.rdatatype.RRSIG and rr.covers == dns.rdatatype.DS for rr in r.authority)
assert not nsec3s(r)
print("ok")
"#;

#[test]
fn dnspython_checks_tldd_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 30);
    for (opt_out, salt, iters) in [(true, "", 0), (false, "beef", 2)] {
        let cfg = write_config(
            dir.path(),
            &zone,
            Some((15, opt_out, salt, iters)),
            "127.0.0.1:0",
        );
        let signed = dir.path().join("signed.zone");
        let (ok, err) = tldd_sign(&cfg, &signed, &[]);
        assert!(ok, "{err}");
        let srv = Server::with_zone("shop.", &signed, "");
        let (ok, out) = common::python(
            PY_PROOF,
            &[
                &srv.port().to_string(),
                salt,
                &iters.to_string(),
                if opt_out { "1" } else { "0" },
            ],
        );
        assert!(ok && out.contains("ok"), "{out}");
        srv.stop();
    }
}
