//! Zones signed elsewhere (BIND's dnssec-signzone, ldns-signzone) load
//! into tldd with their NSEC3 chain routed into the chain (not as names),
//! pass tldd's verifier, and get correct DO=1 denials.
//! Needs bind9-utils and ldnsutils.
use crate::support::dnssec as dnssec_common;
use dnssec_common::*;
use std::process::Command;
use std::sync::Arc;
use tldd_dns::wire::{respond, Params, Query, Transport, ZoneSet};
use tldd_zone::load::{load_file, Severity};
use tldd_zone::nsec3::{self, Nsec3Rec};

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn check(signed: &std::path::Path, opt_out: bool) {
    let l = load_file(signed, "shop.", &tldd_zone::progress::Quiet).unwrap();
    let errors: Vec<_> = l
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let z = l.zone;
    let chain = z.nsec3.as_ref().expect("chain loaded");
    assert!(z
        .names
        .keys()
        .all(|n| nsec3::hash_of_owner(n).is_none() || n.len() != 33 + 6));
    assert_eq!(chain.params.opt_out, opt_out);
    tldd_dns::signer::verify(&z).unwrap_or_else(|e| panic!("{}: {e}", signed.display()));
    // An NXDOMAIN proof from the loaded chain.
    let params = chain.params.clone();
    let zones = ZoneSet::new(vec![Arc::new(z)]);
    let pkt = query("a.b.nope.shop.", 1, true);
    let mut q = Query::default();
    let mut out = vec![0u8; 65535];
    let p = Params {
        udp_payload: 1232,
        ..Default::default()
    };
    let (n, _) = respond(&zones, &p, &pkt, &mut q, &mut out, Transport::Udp);
    let r = parse(&out[..n]);
    assert_eq!(r.rcode(), 3);
    let recs: Vec<Nsec3Rec> = r
        .authority
        .iter()
        .filter(|x| x.rtype == 50)
        .map(|x| Nsec3Rec::new(nsec3::hash_of_owner(&x.owner).unwrap(), x.ttl, &x.rdata))
        .collect();
    let h = |s: &str| params.hash(&wire(s));
    assert!(recs.iter().any(|x| x.hash == h("shop.")));
    assert!(recs.iter().any(|x| x.covers(&h("nope.shop."))));
    assert!(recs.iter().any(|x| x.covers(&h("*.shop."))));
}

#[test]
fn bind_signed_zone_loads_verifies_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 40);
    let k = dir.path().join("keys");
    std::fs::create_dir(&k).unwrap();
    for extra in [&["-f", "KSK"][..], &[][..]] {
        run(Command::new("dnssec-keygen")
            .args(["-q", "-K"])
            .arg(&k)
            .args(["-a", "ECDSAP256SHA256"])
            .args(extra)
            .arg("shop."));
    }
    for opt_out in [true, false] {
        let out = dir.path().join(format!("bind-{opt_out}.zone"));
        let mut c = Command::new("dnssec-signzone");
        c.args(["-q", "-S", "-3", "-", "-H", "0", "-d"])
            .arg(dir.path())
            .arg("-K")
            .arg(&k);
        if opt_out {
            c.arg("-A");
        }
        c.args(["-o", "shop.", "-f"]).arg(&out).arg(&zone);
        run(&mut c);
        check(&out, opt_out);
    }
}

#[test]
fn ldns_signed_zone_loads_verifies_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 40);
    let mut keys = Vec::new();
    for ksk in [true, false] {
        let mut c = Command::new("ldns-keygen");
        c.current_dir(dir.path()).args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            c.arg("-k");
        }
        keys.push(run(c.arg("shop.")).trim().to_string());
    }
    let out = dir.path().join("ldns.zone");
    run(Command::new("ldns-signzone")
        .current_dir(dir.path())
        .args(["-n", "-t", "0", "-p", "-f"])
        .arg(&out)
        .arg(&zone)
        .args(&keys));
    check(&out, true);
}
