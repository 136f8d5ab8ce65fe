//! End to end: a real EPP client (Perl Net::EPP::Simple over TLS with a
//! client certificate) runs a registrar session against the real `tldd srs`
//! binary, and a real DNS server (Knot) receives the publisher's TSIG-signed
//! updates: the delegation, glue and DS appear, a hold and a delete remove
//! them, a restore brings them back.
use crate::support::srs as common;

use common::*;
use serde_json::json;

const DS_DIGEST: &str = "2BB183AF5F22588179A53B0A98631FAD1A292118E2E5B9B63C49FA9B7C0E5E56";

#[test]
fn registrar_session_publishes_to_knot() {
    let tmp = tempfile::tempdir().unwrap();
    let knot = Knot::start(tmp.path());
    let mut srs = Srs::new(tmp.path(), knot.port, "");
    let cert_a = srs.add_registrar("reg-a", "passA-123", &[]);
    let cert_b = srs.add_registrar("reg-b", "passB-123", &["--credit-limit", "100000"]);
    let listed = srs.ok(&["registrar", "list"]);
    assert!(
        listed.contains("reg-a") && listed.contains("reg-b"),
        "{listed}"
    );
    srs.start();

    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert_a));
    assert_eq!(a.login["code"], 1000, "login: {}", a.login);

    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    let r = a.expect(1000, "check_domain", json!(["example.shop"]));
    assert_eq!(r["result"], "1");
    let r = a.expect(1000, "check_domain", json!(["nic.shop"]));
    assert_eq!(r["result"], "0", "nic.shop is reserved");

    a.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    // a host under .shop needs its domain first
    a.expect(
        2303,
        "create_host",
        json!([{ "name": "ns1.example.shop",
        "addrs": [{ "ip": "192.0.2.1", "version": "v4" }] }]),
    );
    a.expect(
        1000,
        "create_domain",
        json!([{
            "name": "example.shop", "period": 1, "registrant": "ca-1",
            "contacts": { "admin": "ca-1", "tech": "ca-1" },
            "ns": ["ns1.example.net"], "authInfo": "dom-Pass1",
        }]),
    );
    a.expect(
        2302,
        "create_domain",
        json!([{
            "name": "example.shop", "period": 1, "registrant": "ca-1", "contacts": {},
            "ns": [], "authInfo": "dom-Pass1",
        }]),
    );
    knot.wait_records("example.shop.", "NS", &["ns1.example.net."]);

    a.expect(1000, "create_host", json!([{ "name": "ns1.example.shop",
        "addrs": [{ "ip": "192.0.2.1", "version": "v4" }, { "ip": "2001:db8::1", "version": "v6" }] }]));
    a.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "ns": ["ns1.example.shop"] } }]),
    );
    knot.wait_records(
        "example.shop.",
        "NS",
        &["ns1.example.net.", "ns1.example.shop."],
    );
    knot.wait_records("ns1.example.shop.", "A", &["192.0.2.1"]);
    knot.wait_records("ns1.example.shop.", "AAAA", &["2001:db8::1"]);

    // DNSSEC: add a DS with the secDNS-1.1 extension
    a.raw_expect(1000, &cmd(&format!(
        "<update><domain:update {DOM}><domain:name>example.shop</domain:name></domain:update></update>\
         <extension><secDNS:update {SECDNS}><secDNS:add><secDNS:dsData><secDNS:keyTag>12345</secDNS:keyTag>\
         <secDNS:alg>13</secDNS:alg><secDNS:digestType>2</secDNS:digestType><secDNS:digest>{DS_DIGEST}</secDNS:digest>\
         </secDNS:dsData></secDNS:add></secDNS:update></extension>")));
    knot.wait_records("example.shop.", "DS", &[&format!("12345 13 2 {DS_DIGEST}")]);

    let info = a.expect(1000, "domain_info", json!(["example.shop"]));
    let i = &info["result"];
    assert_eq!(i["clID"], "reg-a");
    assert_eq!(i["registrant"], "ca-1");
    assert_eq!(i["authInfo"], "dom-Pass1");
    assert_eq!(i["status"], json!(["ok"]));
    assert_eq!(i["hosts"], json!(["ns1.example.shop"]));
    assert_eq!(i["DS"], json!([format!("12345 13 2 {DS_DIGEST}")]));
    let raw = a.raw_expect(
        1000,
        &cmd(&format!(
            "<info><domain:info {DOM}><domain:name>example.shop</domain:name></domain:info></info>"
        )),
    );
    assert!(
        raw["xml"]
            .as_str()
            .unwrap()
            .contains("rgpStatus s=\"addPeriod\""),
        "{raw}"
    );
    let ex1 = i["exDate"].as_str().unwrap().to_string();

    let r = a.expect(
        1000,
        "renew_domain",
        json!([{ "name": "example.shop", "cur_exp_date": &ex1[..10], "period": 2 }]),
    );
    assert_eq!(r["result"], 1);
    a.expect(
        2306,
        "renew_domain",
        json!([{ "name": "example.shop", "cur_exp_date": &ex1[..10], "period": 1 }]),
    );
    let i = a.expect(1000, "domain_info", json!(["example.shop"]))["result"].clone();
    let ex3 = i["exDate"].as_str().unwrap().to_string();
    let y1: i32 = ex1[..4].parse().unwrap();
    let y3: i32 = ex3[..4].parse().unwrap();
    assert_eq!(y3, y1 + 2, "{ex1} -> {ex3}");

    // a hold takes the delegation out of the zone, glue with it
    a.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "status": ["clientHold"] } }]),
    );
    knot.wait_records("example.shop.", "NS", &[]);
    knot.wait_records("example.shop.", "DS", &[]);
    knot.wait_records("ns1.example.shop.", "A", &[]);
    a.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "rem": { "status": ["clientHold"] } }]),
    );
    knot.wait_records(
        "example.shop.",
        "NS",
        &["ns1.example.net.", "ns1.example.shop."],
    );
    knot.wait_records("ns1.example.shop.", "A", &["192.0.2.1"]);

    // transfer to reg-b: refused inside the 60-day lock, then requested and approved
    let mut b = Perl::connect(&srs, "reg-b", "passB-123", Some(&cert_b));
    assert_eq!(b.login["code"], 1000);
    b.expect(
        2106,
        "domain_transfer_request",
        json!(["example.shop", "dom-Pass1", 1]),
    );
    let at = rfc3339(now() + time::Duration::days(61));
    srs.ok(&["lifecycle", "--at", &at]);
    b.expect(
        2202,
        "domain_transfer_request",
        json!(["example.shop", "wrong-pw", 1]),
    );
    let r = b.expect(
        1001,
        "domain_transfer_request",
        json!(["example.shop", "dom-Pass1", 1]),
    );
    assert_eq!(r["result"]["trStatus"], "pending");
    assert_eq!(r["result"]["acID"], "reg-a");

    let poll = a.raw_expect(1301, &cmd("<poll op=\"req\"/>"));
    let xml = poll["xml"].as_str().unwrap();
    assert!(
        xml.contains("requested by reg-b") && xml.contains("<domain:trStatus>pending"),
        "{xml}"
    );
    let id = xml
        .split("id=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    a.raw_expect(1000, &cmd(&format!("<poll op=\"ack\" msgID=\"{id}\"/>")));
    a.raw_expect(2303, &cmd(&format!("<poll op=\"ack\" msgID=\"{id}\"/>")));
    a.raw_expect(1300, &cmd("<poll op=\"req\"/>"));
    // the pending transfer blocks updates
    a.expect(
        2304,
        "update_domain",
        json!([{ "name": "example.shop", "chg": { "authInfo": "other-Pw1" } }]),
    );
    b.expect(2201, "domain_transfer_approve", json!(["example.shop"]));
    a.expect(1000, "domain_transfer_approve", json!(["example.shop"]));
    let i = b.expect(1000, "domain_info", json!(["example.shop"]))["result"].clone();
    assert_eq!(i["clID"], "reg-b");
    let h = b.expect(1000, "host_info", json!(["ns1.example.shop"]))["result"].clone();
    assert_eq!(h["clID"], "reg-b", "subordinate host follows its domain");
    a.expect(
        2201,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "status": ["clientHold"] } }]),
    );
    let poll = b.raw_expect(1301, &cmd("<poll op=\"req\"/>"));
    assert!(
        poll["xml"].as_str().unwrap().contains("clientApproved"),
        "{poll}"
    );

    // delete: subordinate host first, then the domain goes to redemption
    b.expect(2305, "delete_domain", json!(["example.shop"]));
    b.expect(2305, "delete_host", json!(["ns1.example.shop"]));
    b.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "rem": { "ns": ["ns1.example.shop"] } }]),
    );
    knot.wait_records("ns1.example.shop.", "A", &[]);
    b.expect(1000, "delete_host", json!(["ns1.example.shop"]));
    let r = b.call("delete_domain", json!(["example.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    knot.wait_records("example.shop.", "NS", &[]);
    knot.wait_records("example.shop.", "DS", &[]);
    let raw = b.raw_expect(
        1000,
        &cmd(&format!(
            "<info><domain:info {DOM}><domain:name>example.shop</domain:name></domain:info></info>"
        )),
    );
    let x = raw["xml"].as_str().unwrap();
    assert!(
        x.contains("s=\"pendingDelete\"") && x.contains("redemptionPeriod"),
        "{x}"
    );
    b.expect(
        2304,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "status": ["clientHold"] } }]),
    );
    b.expect(
        2105,
        "renew_domain",
        json!([{ "name": "example.shop", "cur_exp_date": "2030-01-01", "period": 1 }]),
    );

    // restore (RFC 3915) puts it back
    b.raw_expect(1000, &cmd(&format!(
        "<update><domain:update {DOM}><domain:name>example.shop</domain:name><domain:chg/></domain:update></update>\
         <extension><rgp:update {RGP}><rgp:restore op=\"request\"/></rgp:update></extension>")));
    knot.wait_records("example.shop.", "NS", &["ns1.example.net."]);
    knot.wait_records("example.shop.", "DS", &[&format!("12345 13 2 {DS_DIGEST}")]);

    // ledger: reg-a paid create (1000) and a 2-year renewal (1800);
    // reg-b paid the transfer (800), got it credited back on the delete
    // inside the transfer grace period, and paid the restore (5000).
    let la = srs.ledger("reg-a");
    assert!(
        la.contains(&("Create".into(), "example.shop".into(), 1000)),
        "{la:?}"
    );
    assert!(
        la.contains(&("Renew".into(), "example.shop".into(), 1800)),
        "{la:?}"
    );
    let lb = srs.ledger("reg-b");
    assert_eq!(
        lb,
        vec![
            ("Transfer".into(), "example.shop".into(), 800),
            ("CreditTransfer".into(), "example.shop".into(), -800),
            ("Restore".into(), "example.shop".into(), 5000),
        ]
    );

    let r = b.call("logout", json!([]));
    assert_eq!(r["result"], 1, "{r}");
    let m = srs.metrics();
    assert!(
        m.contains("tldd_srs_epp_commands_total{code=\"1500\",command=\"logout\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("tldd_srs_epp_commands_total{code=\"1000\",command=\"domain:create\"} 1"),
        "{m}"
    );
    assert!(m.contains("tldd_srs_publisher_queue_depth 0"), "{m}");
    srs.stop();
}
