//! Every answer the real `tldd srs` sends over TLS validates against the
//! EPP XSDs (`crates/tldd-srs/schemas/`, RFC 5730-5733, 5910, 3915) with
//! `xmllint --schema` (Debian libxml2-utils): the greeting on connect and
//! after `<hello>`, login failures and the session limit, checks whose
//! names cannot be echoed and whose reasons must be short, every object's
//! data, a transfer with the poll queue acknowledged down to its last
//! message, restore, the server's own parting answers (a bad frame length:
//! 2500; the connection limit: 2502). The in-process corpus of the same
//! kind is `tldd_srs::epp::schema`; this one covers the session layer.
use crate::support::srs as common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/tldd-srs/schemas/all.xsd"
);
const HOST: &str = "xmlns:host=\"urn:ietf:params:xml:ns:host-1.0\"";
const CON: &str = "xmlns:contact=\"urn:ietf:params:xml:ns:contact-1.0\"";

/// A client that keeps every frame it receives.
struct Recorder {
    got: Vec<(String, String)>,
}

impl Recorder {
    fn connect(&mut self, srs: &Srs, cert: &Cert, who: &str) -> RawEpp {
        let c = RawEpp::connect(srs.epp_port, Some(cert));
        self.got
            .push((format!("{who}: greeting"), c.greeting.clone()));
        c
    }

    /// Sends a command frame, keeps the answer; checks its code unless 0.
    fn req(&mut self, c: &mut RawEpp, code: u16, xml: &str) -> String {
        let r = c.req(xml);
        assert!(
            code == 0 || result_code(&r) == code,
            "want {code}: {xml}\n{r}"
        );
        self.got.push((xml.to_string(), r.clone()));
        r
    }

    /// poll req / ack until the queue is empty; returns how many there were.
    fn drain(&mut self, c: &mut RawEpp) -> usize {
        let mut n = 0;
        loop {
            let r = self.req(c, 0, &cmd("<poll op=\"req\"/>"));
            if result_code(&r) == 1300 {
                return n;
            }
            let id = r.split("<msgQ count=\"").nth(1).unwrap();
            let id = id
                .split(" id=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let ack = self.req(c, 1000, &cmd(&format!("<poll op=\"ack\" msgID=\"{id}\"/>")));
            assert!(ack.contains(&format!(" id=\"{id}\"")), "{ack}");
            n += 1;
        }
    }
}

/// Validates every answer with one xmllint run; fails with each error.
fn validate(dir: &Path, got: &[(String, String)]) {
    let xmllint = need("xmllint", "libxml2-utils");
    let files: Vec<_> = got
        .iter()
        .enumerate()
        .map(|(i, (_, xml))| {
            let p = dir.join(format!("answer-{i:03}.xml"));
            std::fs::write(&p, xml).unwrap();
            p
        })
        .collect();
    let out = run(Command::new(xmllint)
        .args(["--noout", "--nonet", "--schema", XSD])
        .args(&files));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut bad = Vec::new();
    for ((req, xml), p) in got.iter().zip(&files) {
        let name = p.display().to_string();
        if !stderr.contains(&format!("{name} validates")) {
            let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with(&name)).collect();
            bad.push(format!(
                "{}\n  request: {req}\n  answer: {xml}",
                errors.join("\n  ")
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} answers do not validate against {XSD}:\n{}",
        bad.len(),
        got.len(),
        bad.join("\n")
    );
}

fn check(obj: &str, ns: &str, tag: &str, names: &[&str]) -> String {
    let v: String = names
        .iter()
        .map(|n| format!("<{obj}:{tag}>{n}</{obj}:{tag}>"))
        .collect();
    cmd(&format!(
        "<check><{obj}:check {ns}>{v}</{obj}:check></check>"
    ))
}

fn contact_create(id: &str) -> String {
    cmd(&format!(
        "<create><contact:create {CON}><contact:id>{id}</contact:id>\
<contact:postalInfo type=\"int\"><contact:name>A B</contact:name><contact:org>Org</contact:org>\
<contact:addr><contact:street>1 Road</contact:street><contact:city>Town</contact:city>\
<contact:sp>BY</contact:sp><contact:pc>80331</contact:pc><contact:cc>DE</contact:cc></contact:addr>\
</contact:postalInfo><contact:voice x=\"12\">+49.891234</contact:voice>\
<contact:email>a@example.net</contact:email>\
<contact:authInfo><contact:pw>con-Pass1</contact:pw></contact:authInfo>\
<contact:disclose flag=\"0\"><contact:email/><contact:voice/></contact:disclose>\
</contact:create></create>"
    ))
}

fn domain(verb: &str, name: &str, body: &str, ext: &str) -> String {
    cmd(&format!(
        "<{verb}><domain:{verb} {DOM}><domain:name>{name}</domain:name>{body}</domain:{verb}></{verb}>{ext}"
    ))
}

const PW: &str = "<domain:authInfo><domain:pw>dom-Pass1</domain:pw></domain:authInfo>";

#[test]
fn every_answer_over_tls_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srs = Srs::new(tmp.path(), free_port(), "epp_max_connections = 2\n");
    let ca = srs.add_registrar("reg-a", "passA-123", &[]);
    let cb = srs.add_registrar("reg-b", "passB-123", &["--credit-limit", "100000"]);
    srs.start();
    let mut r = Recorder { got: Vec::new() };

    let mut a = r.connect(&srs, &ca, "reg-a");
    r.req(
        &mut a,
        0,
        "<?xml version=\"1.0\"?><epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><hello/></epp>",
    );
    r.req(&mut a, 2002, &check("domain", DOM, "name", &["a.shop"]));
    r.req(&mut a, 2200, &login_xml("reg-a", "wrong-pw1"));
    r.req(&mut a, 1000, &login_xml("reg-a", "passA-123"));
    r.req(&mut a, 2002, &login_xml("reg-a", "passA-123"));
    r.req(&mut a, 2001, "<epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><command><logout/><clTRID>x</clTRID></command></epp>");
    r.req(&mut a, 2000, &cmd("<frobnicate/>"));
    let long = "a".repeat(64);
    r.req(
        &mut a,
        1000,
        &check(
            "domain",
            DOM,
            "name",
            &[
                "nic.shop",
                "a.b.shop",
                "a.net",
                &format!("{long}.shop"),
                "-x.shop",
            ],
        ),
    );
    r.req(
        &mut a,
        2005,
        &check(
            "domain",
            DOM,
            "name",
            &[&format!("{}.shop", "a".repeat(300))],
        ),
    );
    r.req(
        &mut a,
        1000,
        &check("host", HOST, "name", &["bad_", "1.2", "ns1.example.net"]),
    );
    r.req(&mut a, 2005, &check("contact", CON, "id", &["x"]));
    r.req(
        &mut a,
        2001,
        &check("domain", DOM, "name", &["a&#1;b.shop"]),
    );
    r.req(
        &mut a,
        1000,
        &check("contact", CON, "id", &["a b", "ok-id"]),
    );

    r.req(&mut a, 1000, &contact_create("ca-1"));
    r.req(
        &mut a,
        1000,
        &cmd(&format!(
            "<info><contact:info {CON}><contact:id>ca-1</contact:id></contact:info></info>"
        )),
    );
    r.req(&mut a, 1000, &cmd(&format!("<create><host:create {HOST}><host:name>ns1.example.net</host:name></host:create></create>")));
    let body = format!(
        "<domain:period unit=\"y\">1</domain:period><domain:ns><domain:hostObj>ns1.example.net</domain:hostObj></domain:ns>\
<domain:registrant>ca-1</domain:registrant><domain:contact type=\"admin\">ca-1</domain:contact>{PW}"
    );
    let ds = format!(
        "<extension><secDNS:create {SECDNS}><secDNS:dsData><secDNS:keyTag>1</secDNS:keyTag><secDNS:alg>13</secDNS:alg>\
<secDNS:digestType>2</secDNS:digestType><secDNS:digest>{}</secDNS:digest></secDNS:dsData></secDNS:create></extension>",
        "ab".repeat(32)
    );
    r.req(&mut a, 1000, &domain("create", "x.shop", &body, &ds));
    r.req(
        &mut a,
        1000,
        &domain(
            "create",
            "y.shop",
            &format!("<domain:registrant>ca-1</domain:registrant>{PW}"),
            "",
        ),
    );
    // No registrant: 2003, and the answer validates too.
    r.req(&mut a, 2003, &domain("create", "z.shop", PW, ""));
    r.req(&mut a, 1000, &cmd(&format!("<create><host:create {HOST}><host:name>ns1.x.shop</host:name><host:addr ip=\"v4\">192.0.2.1</host:addr><host:addr ip=\"v6\">2001:db8::1</host:addr></host:create></create>")));
    r.req(
        &mut a,
        1000,
        &cmd(&format!(
            "<info><host:info {HOST}><host:name>ns1.x.shop</host:name></host:info></info>"
        )),
    );
    r.req(&mut a, 1000, &cmd(&format!("<info><domain:info {DOM}><domain:name hosts=\"all\">x.shop</domain:name></domain:info></info>")));
    r.req(&mut a, 1300, &cmd("<poll op=\"req\"/>"));

    // a transfer after the lock: poll messages on both sides, each acked
    let mut b = r.connect(&srs, &cb, "reg-b");
    r.req(&mut b, 1000, &login_xml("reg-b", "passB-123"));
    r.req(&mut b, 1000, &domain("info", "x.shop", "", ""));
    srs.ok(&[
        "lifecycle",
        "--at",
        &rfc3339(now() + time::Duration::days(61)),
    ]);
    r.req(
        &mut b,
        1001,
        &domain("transfer", "x.shop", PW, "").replace("<transfer>", "<transfer op=\"request\">"),
    );
    r.req(
        &mut b,
        1000,
        &domain("transfer", "x.shop", "", "").replace("<transfer>", "<transfer op=\"query\">"),
    );
    r.req(
        &mut a,
        1000,
        &domain("transfer", "x.shop", "", "").replace("<transfer>", "<transfer op=\"approve\">"),
    );
    assert!(r.drain(&mut a) >= 1);
    assert!(r.drain(&mut b) >= 1);
    r.req(&mut b, 2303, &cmd("<poll op=\"ack\" msgID=\"424242\"/>"));
    r.req(&mut b, 1000, &domain("info", "x.shop", "", ""));

    // delete in redemption, restore
    r.req(&mut a, 1001, &domain("delete", "y.shop", "", ""));
    r.req(&mut a, 1000, &domain("info", "y.shop", "", ""));
    let restore = format!(
        "<extension><rgp:update {RGP}><rgp:restore op=\"request\"/></rgp:update></extension>"
    );
    r.req(&mut a, 1000, &domain("update", "y.shop", "", &restore));
    r.req(&mut a, 1000, &domain("info", "y.shop", "", ""));
    r.req(&mut b, 1500, &cmd("<logout/>"));

    // the server's own last words: a bad frame length, the connection limit
    a.send_bytes(&[0, 0, 0, 2]);
    let parting = a.recv().expect("2500");
    r.got.push(("bad frame length".into(), parting));
    // (the held connections log in: the pre-login pool is no larger than
    // the connection limit)
    let mut held = Vec::new();
    wait_for(
        "a connection to be refused",
        Duration::from_secs(10),
        || {
            let mut c = RawEpp::connect(srs.epp_port, Some(&ca));
            if c.greeting.contains("code=\"2502\"") {
                r.got
                    .push(("over the connection limit".into(), c.greeting.clone()));
                return true;
            }
            assert_eq!(c.login("reg-a", "passA-123"), 1000);
            held.push(c);
            false
        },
    );
    assert!(r.got.len() > 40, "only {} answers", r.got.len());
    validate(tmp.path(), &r.got);
}
