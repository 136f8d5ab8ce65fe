//! `tldd srs reconcile`: drift made behind the SRS's back (with BIND's
//! `nsupdate`, TSIG-signed, straight into Knot) is found by AXFR and
//! repaired; names the SRS does not manage (the apex, the reserved `nic`
//! subtree) are left alone.
use crate::support::srs as common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

fn nsupdate(knot: &Knot, script: &str) {
    let bin = need("nsupdate", "bind9-dnsutils");
    let mut child = Command::new(bin)
        .args(["-y", &format!("hmac-sha256:srs-key:{TSIG_SECRET}")])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let text = format!(
        "server 127.0.0.1 {}\nzone shop.\n{script}\nsend\n",
        knot.port
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nsupdate failed");
}

/// A running registry (TSIG algorithm `alg`) publishing to `knot`, with
/// `domains` created by reg-a (contact ca-1, name server ns1.example.net)
/// and each seen in the zone; reconcile finds nothing to repair.
fn registry_with(tmp: &std::path::Path, knot: &Knot, alg: &str, domains: &[&str]) -> (Srs, Perl) {
    let mut srs = Srs::new_with(tmp, knot.port, "", alg);
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert));
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    a.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    for d in domains {
        a.expect(
            1000,
            "create_domain",
            json!([{ "name": d, "period": 1, "registrant": "ca-1",
            "contacts": {}, "ns": ["ns1.example.net"], "authInfo": "dom-Pass1" }]),
        );
        knot.wait_records(&format!("{d}."), "NS", &["ns1.example.net."]);
    }
    let out = srs.ok(&["reconcile", "--dry-run"]);
    assert!(
        out.contains("missing: 0") && out.contains("different: 0") && out.contains("extra: 0"),
        "{out}"
    );
    (srs, a)
}

#[test]
fn reconcile_finds_and_repairs_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let knot = Knot::start(tmp.path());
    let (srs, _registrar) = registry_with(
        tmp.path(),
        &knot,
        "hmac-sha256",
        &["real.shop", "real2.shop"],
    );

    nsupdate(
        &knot,
        "update delete real.shop. NS\n\
        update add bogus.shop. 3600 NS ns.bogus.net.\n\
        update add real2.shop. 3600 NS ns.wrong.net.\n\
        update add x.nic.shop. 3600 A 192.0.2.99",
    );
    knot.wait_records("bogus.shop.", "NS", &["ns.bogus.net."]);

    let out = srs.ok(&["reconcile", "--dry-run"]);
    assert!(out.contains("missing: 1 (real.shop)"), "{out}");
    assert!(out.contains("different: 1 (real2.shop)"), "{out}");
    assert!(out.contains("extra: 1 (bogus.shop)"), "{out}");
    assert!(out.contains("nothing queued"), "{out}");
    assert_eq!(
        knot.records("bogus.shop.", "NS").len(),
        1,
        "dry run changes nothing"
    );

    let out = srs.ok(&["reconcile"]);
    assert!(out.contains("repairs queued"), "{out}");
    knot.wait_records("real.shop.", "NS", &["ns1.example.net."]);
    knot.wait_records("real2.shop.", "NS", &["ns1.example.net."]);
    knot.wait_records("bogus.shop.", "NS", &[]);
    knot.wait_records("x.nic.shop.", "A", &["192.0.2.99"]);
    knot.wait_records("a.nic.shop.", "A", &["192.0.2.53"]);
    let out = srs.ok(&["reconcile", "--dry-run"]);
    assert!(
        out.contains("missing: 0") && out.contains("different: 0") && out.contains("extra: 0"),
        "{out}"
    );
}

#[test]
fn publisher_retries_until_the_server_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    // the DNS server is not running yet: EPP still answers at once
    let port = free_port();
    let mut srs = Srs::new(tmp.path(), port, "");
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert));
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    a.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    let t = std::time::Instant::now();
    a.expect(
        1000,
        "create_domain",
        json!([{ "name": "late.shop", "period": 1, "registrant": "ca-1",
        "contacts": {}, "ns": ["ns1.example.net"], "authInfo": "dom-Pass1" }]),
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(2),
        "EPP must not wait for DNS"
    );
    let status = srs.ok(&["status"]);
    assert!(status.contains("publisher_queue 1"), "{status}");
    wait_for(
        "a failed attempt",
        std::time::Duration::from_secs(10),
        || srs.log().contains("DNS update failed"),
    );
    // the SRS restarts while the change is queued: it is not lost
    drop(a);
    srs.stop();
    srs.start();
    let knot = Knot::start_on(tmp.path(), port);
    knot.wait_records("late.shop.", "NS", &["ns1.example.net."]);
    wait_for("an empty queue", std::time::Duration::from_secs(10), || {
        srs.ok(&["status"]).contains("publisher_queue 0")
    });
}

#[test]
fn acknowledged_changes_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let knot = Knot::start(tmp.path());
    let mut srs = Srs::new(tmp.path(), knot.port, "");
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert));
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    a.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    let names: Vec<String> = (0..20).map(|i| format!("d{i}.shop")).collect();
    for n in &names {
        a.expect(
            1000,
            "create_domain",
            json!([{ "name": n, "period": 1, "registrant": "ca-1",
            "contacts": {}, "ns": ["ns1.example.net"], "authInfo": "dom-Pass1" }]),
        );
    }
    srs.kill9();
    drop(a);
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert));
    for n in &names {
        let i = a.expect(1000, "domain_info", json!([n]))["result"].clone();
        assert_eq!(i["name"], n.as_str());
        knot.wait_records(&format!("{n}."), "NS", &["ns1.example.net."]);
    }
}

/// The SRS signs with tldd's own TSIG code, so a `[[tsig]]` key with
/// hmac-sha1 (which `tldd serve` and Knot accept) also publishes and
/// reconciles: UPDATEs and the AXFR are signed and checked with SHA-1
/// against knotd.
#[test]
fn hmac_sha1_keys_publish_and_reconcile() {
    let tmp = tempfile::tempdir().unwrap();
    let knot = Knot::start_with(tmp.path(), free_port(), "hmac-sha1");
    registry_with(tmp.path(), &knot, "hmac-sha1", &["sha1.shop"]);
}

/// `[srs.dns] transfer_key` signs reconcile's AXFR: a key knotd does not
/// know makes the AXFR fail (while updates, signed with `tsig_key`, still
/// publish), and naming the key knotd accepts makes it work again.
#[test]
fn reconcile_reads_the_zone_with_transfer_key() {
    let tmp = tempfile::tempdir().unwrap();
    let knot = Knot::start(tmp.path());
    let (mut srs, a) = registry_with(tmp.path(), &knot, "hmac-sha256", &["xfr.shop"]);
    // Stopped: the commands below run in-process with the edited config.
    drop(a);
    srs.stop();
    let text = std::fs::read_to_string(&srs.config).unwrap();
    let with = |key: &str| {
        text.replacen(
            "tsig_key = \"srs-key\"\n",
            &format!("tsig_key = \"srs-key\"\ntransfer_key = \"{key}\"\n"),
            1,
        ) + "[[tsig]]\nname = \"reader\"\nalgorithm = \"hmac-sha256\"\n\
             secret = \"cmVhZGVyLW9ubHkta2V5LW5vdC1rbm93bi10by1rbm90\"\n"
    };
    std::fs::write(&srs.config, with("reader")).unwrap();
    let (ok, out, err) = srs.cli(&["reconcile", "--dry-run"]);
    assert!(
        !ok,
        "an AXFR signed with a key knotd lacks succeeded: {out}"
    );
    assert!((out.clone() + &err).contains("TSIG"), "{out}\n{err}");
    std::fs::write(&srs.config, with("srs-key")).unwrap();
    let out = srs.ok(&["reconcile", "--dry-run"]);
    assert!(out.contains("missing: 0"), "{out}");
}
