//! The domain lifecycle of the .shop policy (question 27), driven through
//! months of time with `tldd srs lifecycle --at`: add grace delete (purge
//! and credit), grace expiry, pending transfer auto-approval, auto-renew,
//! delete in the auto-renew grace period (credit, redemption, out of the
//! zone), redemption -> pending delete -> purge, transfer inside the
//! auto-renew grace period (credit to the losing registrar). Statuses are
//! read with a real EPP client, zone presence from Knot, charges from the
//! ledger.
use crate::support::srs as common;

use common::*;
use serde_json::{json, Value};

fn info_xml(p: &mut Perl, name: &str) -> String {
    let r = p.raw_expect(
        1000,
        &cmd(&format!(
            "<info><domain:info {DOM}><domain:name>{name}</domain:name></domain:info></info>"
        )),
    );
    r["xml"].as_str().unwrap().to_string()
}

fn create(p: &mut Perl, name: &str) {
    p.expect(
        1000,
        "create_domain",
        json!([{
            "name": name, "period": 1, "registrant": p_contact(p), "contacts": {},
            "ns": ["ns1.example.net"], "authInfo": "dom-Pass1",
        }]),
    );
}

fn p_contact(_p: &Perl) -> &'static str {
    "ca-1"
}

fn at(days: i64) -> String {
    rfc3339(now() + time::Duration::days(days))
}

fn poll_all(p: &mut Perl) -> Vec<String> {
    let mut out = vec![];
    loop {
        let r = p.raw(&cmd("<poll op=\"req\"/>"));
        if r["code"] == 1300 {
            return out;
        }
        assert_eq!(r["code"], 1301, "{r}");
        let xml = r["xml"].as_str().unwrap().to_string();
        let id = xml
            .split("id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        p.raw_expect(1000, &cmd(&format!("<poll op=\"ack\" msgID=\"{id}\"/>")));
        out.push(xml);
    }
}

fn has(ledger: &[(String, String, i64)], kind: &str, obj: &str, amount: i64) -> bool {
    ledger
        .iter()
        .any(|(k, o, a)| k == kind && o == obj && *a == amount)
}

#[test]
fn lifecycle_through_the_grace_periods() {
    let tmp = tempfile::tempdir().unwrap();
    let knot = Knot::start(tmp.path());
    let mut srs = Srs::new(tmp.path(), knot.port, "");
    let cert_a = srs.add_registrar("reg-a", "passA-123", &[]);
    let cert_b = srs.add_registrar("reg-b", "passB-123", &[]);
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert_a));
    let mut b = Perl::connect(&srs, "reg-b", "passB-123", Some(&cert_b));
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    a.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    for d in ["agp.shop", "life.shop", "xfer.shop", "argp.shop"] {
        create(&mut a, d);
    }
    knot.wait_records("agp.shop.", "NS", &["ns1.example.net."]);
    knot.wait_records("life.shop.", "NS", &["ns1.example.net."]);

    // delete inside the add grace period: purged at once, create credited
    a.expect(1000, "delete_domain", json!(["agp.shop"]));
    knot.wait_records("agp.shop.", "NS", &[]);
    let r = a.expect(1000, "check_domain", json!(["agp.shop"]));
    assert_eq!(r["result"], "1", "name is available again");
    let la = srs.ledger("reg-a");
    assert!(has(&la, "CreditCreate", "agp.shop", -1000), "{la:?}");

    // after 5 days the add grace period is over
    assert!(info_xml(&mut a, "life.shop").contains("addPeriod"));
    let out = srs.ok(&["lifecycle", "--at", &at(6)]);
    assert!(out.contains("transition"), "{out}");
    let x = info_xml(&mut a, "life.shop");
    assert!(!x.contains("rgpStatus") && x.contains("s=\"ok\""), "{x}");

    // transfer requested at day 61, approved by the registry 5 days later
    srs.ok(&["lifecycle", "--at", &at(61)]);
    let r = b.expect(
        1001,
        "domain_transfer_request",
        json!(["xfer.shop", "dom-Pass1", 1]),
    );
    assert_eq!(r["result"]["trStatus"], "pending");
    let x = info_xml(&mut a, "xfer.shop");
    assert!(x.contains("s=\"pendingTransfer\""), "{x}");
    srs.ok(&["lifecycle", "--at", &at(67)]);
    let info = b.expect(1000, "domain_info", json!(["xfer.shop"]))["result"].clone();
    assert_eq!(info["clID"], "reg-b");
    // a transfer modifies the domain: upDate is the transfer's date
    assert!(info["trDate"].is_string(), "{info}");
    assert_eq!(
        (&info["upDate"], &info["upID"]),
        (&info["trDate"], &json!("reg-b")),
        "{info}"
    );
    assert!(info_xml(&mut b, "xfer.shop").contains("transferPeriod"));
    let pa = poll_all(&mut a);
    assert!(
        pa.iter()
            .any(|m| m.contains("serverApproved") && m.contains("xfer.shop")),
        "{pa:?}"
    );
    let pb = poll_all(&mut b);
    assert!(pb.iter().any(|m| m.contains("serverApproved")), "{pb:?}");
    assert!(has(&srs.ledger("reg-b"), "Transfer", "xfer.shop", 800));
    knot.wait_records("xfer.shop.", "NS", &["ns1.example.net."]);

    // expiry: the registry auto-renews and opens the auto-renew grace period
    let ex_before: Value =
        a.expect(1000, "domain_info", json!(["life.shop"]))["result"]["exDate"].clone();
    srs.ok(&["lifecycle", "--at", &at(367)]);
    let i = a.expect(1000, "domain_info", json!(["life.shop"]))["result"].clone();
    let (y0, y1): (i32, i32) = (
        ex_before.as_str().unwrap()[..4].parse().unwrap(),
        i["exDate"].as_str().unwrap()[..4].parse().unwrap(),
    );
    assert_eq!(y1, y0 + 1, "auto-renewed one year");
    assert!(info_xml(&mut a, "life.shop").contains("autoRenewPeriod"));
    assert!(has(&srs.ledger("reg-a"), "AutoRenew", "life.shop", 900));
    assert!(poll_all(&mut a)
        .iter()
        .any(|m| m.contains("life.shop auto-renewed")));

    // transfer inside the auto-renew grace period: the auto-renew year is
    // credited to the losing registrar and replaced by the transfer year
    let ex_argp = a.expect(1000, "domain_info", json!(["argp.shop"]))["result"]["exDate"].clone();
    b.expect(
        1001,
        "domain_transfer_request",
        json!(["argp.shop", "dom-Pass1", 1]),
    );
    a.expect(1000, "domain_transfer_approve", json!(["argp.shop"]));
    let i = b.expect(1000, "domain_info", json!(["argp.shop"]))["result"].clone();
    assert_eq!(
        i["exDate"], ex_argp,
        "auto-renew year cancelled, transfer year added"
    );
    assert!(has(
        &srs.ledger("reg-a"),
        "CreditAutoRenew",
        "argp.shop",
        -900
    ));

    // delete inside the auto-renew grace period: credited, redemption, out of the zone
    let r = a.call("delete_domain", json!(["life.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    assert!(has(
        &srs.ledger("reg-a"),
        "CreditAutoRenew",
        "life.shop",
        -900
    ));
    knot.wait_records("life.shop.", "NS", &[]);
    let x = info_xml(&mut a, "life.shop");
    assert!(
        x.contains("redemptionPeriod") && x.contains("s=\"pendingDelete\""),
        "{x}"
    );

    // 30 days of redemption, then pending delete: restore no longer possible
    srs.ok(&["lifecycle", "--at", &at(367 + 31)]);
    let x = info_xml(&mut a, "life.shop");
    assert!(x.contains("rgpStatus s=\"pendingDelete\""), "{x}");
    let restore = cmd(&format!(
        "<update><domain:update {DOM}><domain:name>life.shop</domain:name><domain:chg/></domain:update></update>\
         <extension><rgp:update {RGP}><rgp:restore op=\"request\"/></rgp:update></extension>"
    ));
    a.raw_expect(2304, &restore);

    // purge after 5 days of pending delete; run by the CLI without a server
    drop(a);
    drop(b);
    srs.stop();
    let out = srs.ok(&["lifecycle", "--at", &at(367 + 37)]);
    assert!(out.contains("published"), "{out}");
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert_a));
    a.expect(2303, "domain_info", json!(["life.shop"]));
    let r = a.expect(1000, "check_domain", json!(["life.shop"]));
    assert_eq!(r["result"], "1");
    assert!(poll_all(&mut a)
        .iter()
        .any(|m| m.contains("life.shop purged")));
    knot.wait_records("life.shop.", "NS", &[]);
    knot.wait_records("argp.shop.", "NS", &["ns1.example.net."]);
    // the contact is free again only once nothing uses it
    a.expect(2305, "delete_contact", json!(["ca-1"]));
}

#[test]
fn clock_control_is_required_to_move_time() {
    let tmp = tempfile::tempdir().unwrap();
    let srs = Srs::new(tmp.path(), free_port(), "");
    let text = std::fs::read_to_string(&srs.config)
        .unwrap()
        .replace("clock_control = true\n", "");
    std::fs::write(&srs.config, text).unwrap();
    let (ok, out, err) = srs.cli(&["lifecycle", "--at", &at(30)]);
    assert!(!ok, "{out}");
    assert!(out.contains("clock_control"), "{out}{err}");
    let (ok, out, _) = srs.cli(&["lifecycle", "--at", "yesterday"]);
    assert!(!ok, "{out}");
    // now is always allowed
    let (ok, out, err) = srs.cli(&["lifecycle"]);
    assert!(ok, "{out}{err}");
}
