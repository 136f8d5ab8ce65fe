//! Bad input against the real `tldd srs`: malformed frames and XML,
//! unknown commands and extensions, wrong passwords, unknown or missing
//! client certificates, foreign source addresses, another registrar's
//! objects, and connection limits. Each gets its EPP result code, the
//! session survives where RFC 5730/5734 allow it, and nothing changes.
use crate::support::srs as common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

fn domain_create(name: &str) -> String {
    cmd(&format!(
        "<create><domain:create {DOM}><domain:name>{name}</domain:name><domain:authInfo><domain:pw>dom-Pass1</domain:pw></domain:authInfo></domain:create></create>"
    ))
}

#[test]
fn malformed_frames_and_commands_get_codes_and_the_session_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srs = Srs::new(tmp.path(), free_port(), "epp_idle_timeout = 3\n");
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.start();
    let mut c = RawEpp::connect(srs.epp_port, Some(&cert));
    assert!(
        c.greeting.contains("<greeting>") && c.greeting.contains("secDNS-1.1"),
        "{}",
        c.greeting
    );

    // before login
    assert_eq!(c.code(&domain_create("a.shop")), 2002);
    assert!(c
        .req("<?xml version=\"1.0\"?><epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><hello/></epp>")
        .contains("<greeting>"));
    // not XML, not EPP, not UTF-8, entity tricks
    for bad in [
        "this is not xml".as_bytes(),
        b"<epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><command>",
        b"<other/>",
        b"<epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><command><clTRID>x</clTRID></command></epp>",
        b"<!DOCTYPE epp [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><epp>&x;</epp>",
        b"<epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><\xff\xfe/></epp>",
    ] {
        c.send(bad);
        let r = c.recv().expect("an answer, not a closed connection");
        assert_eq!(result_code(&r), 2001, "{} => {r}", String::from_utf8_lossy(bad));
    }
    assert_eq!(c.login("reg-a", "passA-123"), 1000);
    assert_eq!(c.login("reg-a", "passA-123"), 2002, "second login");
    assert_eq!(c.code(&cmd("<frobnicate/>")), 2000);
    assert_eq!(
        c.code(&cmd(
            "<check><x:check xmlns:x=\"urn:example:x\"><x:name>a</x:name></x:check></check>"
        )),
        2307
    );
    assert_eq!(
        c.code(&cmd(&format!("<check><domain:check {DOM}/></check>"))),
        2003
    );
    assert_eq!(c.code(&domain_create("bad_name.shop")), 2005);
    assert_eq!(c.code(&domain_create("nic.shop")), 2306);
    assert_eq!(c.code(&domain_create("a.b.shop")), 2306);
    assert_eq!(
        c.code(&domain_create("xn--zz-.shop")),
        2005,
        "invalid A-label"
    );
    assert_eq!(
        c.code(&domain_create("xn--bcher-kva.shop")),
        2003,
        "valid A-label, past the name checks to the missing registrant"
    );
    let contact = concat!(
        "<create><contact:create xmlns:contact=\"urn:ietf:params:xml:ns:contact-1.0\">",
        "<contact:id>cr-1</contact:id><contact:postalInfo type=\"int\"><contact:name>A B</contact:name>",
        "<contact:addr><contact:city>Town</contact:city><contact:cc>DE</contact:cc></contact:addr>",
        "</contact:postalInfo><contact:email>a@example.net</contact:email>",
        "<contact:authInfo><contact:pw>con-Pass1</contact:pw></contact:authInfo></contact:create></create>"
    );
    assert_eq!(c.code(&cmd(contact)), 1000);
    assert_eq!(
        c.code(&cmd(&format!(
            "<create><domain:create {DOM}><domain:name>xn--bcher-kva.shop</domain:name>\
<domain:registrant>cr-1</domain:registrant><domain:authInfo><domain:pw>dom-Pass1</domain:pw>\
</domain:authInfo></domain:create></create>"
        ))),
        1000,
        "valid A-label with a registrant"
    );
    let unknown_ext = cmd(&format!(
        "<info><domain:info {DOM}><domain:name>xn--bcher-kva.shop</domain:name></domain:info></info>\
         <extension><fee:check xmlns:fee=\"urn:ietf:params:xml:ns:fee-0.7\"/></extension>"
    ));
    assert_eq!(c.code(&unknown_ext), 2103);
    // the session is still usable
    assert!(c.req(&cmd(&format!("<info><domain:info {DOM}><domain:name>xn--bcher-kva.shop</domain:name></domain:info></info>"))).contains("<domain:roid>"));
    // a frame length that cannot be right: 2500 and the server closes
    c.send_bytes(&[0, 0, 0, 2]);
    assert_eq!(result_code(&c.recv().unwrap()), 2500);
    assert!(c.recv().is_none(), "closed after 2500");

    // an idle session is closed
    let mut idle = RawEpp::connect(srs.epp_port, Some(&cert));
    let t = Instant::now();
    assert!(idle.recv().is_none());
    assert!(
        t.elapsed() >= Duration::from_secs(2) && t.elapsed() < Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );

    let m = srs.metrics();
    assert!(
        m.contains("tldd_srs_epp_commands_total{code=\"2001\",command=\"invalid\"} 6"),
        "{m}"
    );
}

#[test]
fn authentication_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srs = Srs::new(tmp.path(), free_port(), "");
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    let far = srs.add_registrar("reg-far", "passF-123", &["--network", "192.0.2.0/24"]);
    let stranger = make_cert(tmp.path(), "stranger");
    // bad registrar input is refused by the CLI with a reason
    let (ok, out, _) = srs.cli(&[
        "registrar",
        "add",
        "--id",
        "x",
        "--name",
        "x",
        "--iana-id",
        "1",
        "--password",
        "passX-123",
        "--cert-sha256",
        &cert.sha256,
    ]);
    assert!(!ok && out.contains("3 to 16"), "{out}");
    let (ok, out, _) = srs.cli(&[
        "registrar",
        "add",
        "--id",
        "reg-a",
        "--name",
        "x",
        "--iana-id",
        "1",
        "--password",
        "passX-123",
        "--cert-sha256",
        &cert.sha256,
    ]);
    assert!(!ok && out.contains("exists"), "{out}");
    let (ok, out, _) = srs.cli(&[
        "registrar",
        "add",
        "--id",
        "reg-c",
        "--name",
        "x",
        "--iana-id",
        "1",
        "--password",
        "passX-123",
        "--cert-sha256",
        "abcd",
    ]);
    assert!(!ok && out.contains("fingerprint"), "{out}");
    // what Whois and RDAP publish is checked, each refusal naming its flag
    for (flag, bad) in [
        ("--url", "not a url"),
        ("--url", "ftp://reg-a.example/"),
        ("--rdap-url", "http://rdap.reg-a.example/"),
        ("--whois-server", "https://x y"),
        ("--abuse-email", "bogus"),
        ("--abuse-phone", "555"),
        ("--abuse-phone", "+1 555 0100"),
        ("--phone", "555"),
        ("--fax", "+1.55x"),
        ("--email", "info@"),
        ("--country", "USA"),
        ("--city", "Spring\nfield"),
    ] {
        let (ok, out, _) = srs.cli(&["registrar", "update", "--id", "reg-a", flag, bad]);
        assert!(!ok && out.contains(flag), "{flag} {bad}: {out}");
    }
    srs.ok(&[
        "registrar",
        "update",
        "--id",
        "reg-a",
        "--url",
        "https://www.reg-a.example/",
        "--rdap-url",
        "https://rdap.reg-a.example/",
        "--whois-server",
        "whois.reg-a.example",
        "--abuse-email",
        "abuse@reg-a.example",
        "--abuse-phone",
        "+1.5555550100",
    ]);
    let (ok, out, _) = srs.cli(&[
        "registrar",
        "update",
        "--id",
        "reg-a",
        "--street",
        "1",
        "--street",
        "2",
        "--street",
        "3",
        "--street",
        "4",
    ]);
    assert!(!ok && out.contains("--street"), "{out}");
    // an empty value still clears
    srs.ok(&["registrar", "update", "--id", "reg-a", "--abuse-phone", ""]);
    srs.start();

    // wrong password twice, then the third failure closes the session
    let mut c = RawEpp::connect(srs.epp_port, Some(&cert));
    assert_eq!(c.login("reg-a", "wrong-pw1"), 2200);
    assert_eq!(c.login("nobody", "passA-123"), 2200);
    assert_eq!(c.login("reg-a", "wrong-pw2"), 2501);
    assert!(c.recv().is_none());
    // right password, certificate not on the record
    let mut c = RawEpp::connect(srs.epp_port, Some(&stranger));
    assert_eq!(c.login("reg-a", "passA-123"), 2200);
    // no client certificate at all
    let mut c = RawEpp::connect(srs.epp_port, None);
    assert_eq!(c.login("reg-a", "passA-123"), 2200);
    // source address outside the registrar's networks
    let mut c = RawEpp::connect(srs.epp_port, Some(&far));
    assert_eq!(c.login("reg-far", "passF-123"), 2200);
    // the real client with an unknown certificate fails to log in too
    let p = Perl::connect(&srs, "reg-a", "passA-123", Some(&stranger));
    assert_eq!(p.login["code"], 2200, "{}", p.login);
    // and the right credentials work
    let mut c = RawEpp::connect(srs.epp_port, Some(&cert));
    assert_eq!(c.login("reg-a", "passA-123"), 1000);
    // after allowing the loopback network the far registrar gets in
    srs.ok(&[
        "registrar",
        "update",
        "--id",
        "reg-far",
        "--network",
        "127.0.0.0/8",
    ]);
    let mut c = RawEpp::connect(srs.epp_port, Some(&far));
    assert_eq!(c.login("reg-far", "passF-123"), 1000);
}

#[test]
fn other_registrars_objects_and_connection_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srs = Srs::new(tmp.path(), free_port(), "epp_max_connections = 4\n");
    let ca = srs.add_registrar("reg-a", "passA-123", &[]);
    let cb = srs.add_registrar(
        "reg-b",
        "passB-123",
        &["--max-connections", "1", "--credit-limit", "500"],
    );
    srs.start();
    let mut a = Perl::connect(&srs, "reg-a", "passA-123", Some(&ca));
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    a.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    a.expect(
        1000,
        "create_domain",
        json!([{ "name": "mine.shop", "period": 1, "registrant": "ca-1",
        "contacts": { "admin": "ca-1" }, "ns": ["ns1.example.net"], "authInfo": "dom-Pass1" }]),
    );
    let before = a.expect(1000, "domain_info", json!(["mine.shop"]))["result"].clone();

    let mut b = Perl::connect(&srs, "reg-b", "passB-123", Some(&cb));
    assert_eq!(b.login["code"], 1000);
    b.expect(
        2201,
        "update_domain",
        json!([{ "name": "mine.shop", "add": { "status": ["clientHold"] } }]),
    );
    b.expect(2201, "delete_domain", json!(["mine.shop"]));
    b.expect(2201, "renew_domain", json!([{ "name": "mine.shop", "cur_exp_date": &before["exDate"].as_str().unwrap()[..10], "period": 1 }]));
    b.expect(2301, "domain_transfer_approve", json!(["mine.shop"]));
    b.expect(2201, "contact_info", json!(["ca-1"]));
    b.expect(2201, "delete_host", json!(["ns1.example.net"]));
    b.expect(2202, "domain_info", json!(["mine.shop", "wrong-pw"]));
    let public = b.expect(1000, "domain_info", json!(["mine.shop"]))["result"].clone();
    assert!(
        public.get("authInfo").is_none() && public.get("registrant").is_none(),
        "{public}"
    );
    // a contact of another registrar cannot be used
    b.expect(
        2201,
        "create_domain",
        json!([{ "name": "theirs.shop", "period": 1, "registrant": "ca-1",
        "contacts": {}, "ns": [], "authInfo": "dom-Pass1" }]),
    );
    // credit limit: 500 allows no 1000 create
    b.expect(1000, "create_contact", json!([contact("cb-1")]));
    b.expect(
        2104,
        "create_domain",
        json!([{ "name": "theirs.shop", "period": 1, "registrant": "cb-1",
        "contacts": {}, "ns": [], "authInfo": "dom-Pass1" }]),
    );
    b.expect(2303, "domain_info", json!(["theirs.shop"]));
    let after = a.expect(1000, "domain_info", json!(["mine.shop"]))["result"].clone();
    assert_eq!(before, after, "nothing changed");

    // reg-b may hold one session: the second login gets 2502 and is closed
    let mut b2 = RawEpp::connect(srs.epp_port, Some(&cb));
    assert_eq!(b2.login("reg-b", "passB-123"), 2502);
    assert!(b2.recv().is_none());
    drop(b); // the perl session ends; its slot is released
    wait_for("reg-b's slot", Duration::from_secs(5), || {
        let mut b3 = RawEpp::connect(srs.epp_port, Some(&cb));
        b3.login("reg-b", "passB-123") == 1000
    });

    // server-wide limit of 4 connections: the fifth is answered 2502
    let _held: Vec<RawEpp> = (0..3)
        .map(|_| RawEpp::connect(srs.epp_port, Some(&ca)))
        .collect();
    wait_for(
        "the fifth connection to be refused",
        Duration::from_secs(5),
        || {
            let over = RawEpp::connect(srs.epp_port, Some(&ca));
            over.greeting.contains("code=\"2502\"")
        },
    );
}
