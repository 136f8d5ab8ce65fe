//! RDAP end to end against the real `tldd srs` binary: every rule of the
//! ICANN gTLD RDAP profile the issue names, asserted field by field on
//! domain (without and with DS, IDN by U-label and A-label), nameserver,
//! entity, help and error answers; HTTP details (media type, CORS, HEAD,
//! 404/400/501 with RDAP error bodies, 429 with Retry-After from a limited
//! loopback alias); freshness after an EPP change; HTTPS with
//! `rdap_tls_cert/key` fetched by curl; and a real RDAP client (PyPI
//! `whoisit`) fetching and parsing a domain.
use crate::support::whois as setup;

use serde_json::{json, Value};
use setup::*;
use std::process::Command;

pub(crate) fn get(port: u16, path: &str) -> (u16, Vec<(String, String)>, Value) {
    let (st, h, body) = http(port, "GET", path);
    let v: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("GET {path}: {st} body is not JSON ({e}): {body:?}"));
    (st, h, v)
}

pub(crate) fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn check_conformance(v: &Value, redacted: bool) {
    let c = strs(&v["rdapConformance"]);
    for want in [
        "rdap_level_0",
        "icann_rdap_response_profile_1",
        "icann_rdap_technical_implementation_guide_1",
    ] {
        assert!(c.contains(&want.to_string()), "{c:?}");
    }
    assert_eq!(c.contains(&"redacted".to_string()), redacted, "{c:?}");
}

pub(crate) fn notice<'a>(v: &'a Value, title: &str) -> &'a Value {
    v["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["title"] == title)
        .unwrap_or_else(|| panic!("no notice {title:?} in {}", v["notices"]))
}

pub(crate) fn check_notices(v: &Value, request_url: &str, domain: bool) {
    let tos = notice(v, "Terms of Service");
    assert!(!tos["description"].as_array().unwrap().is_empty());
    let l = &tos["links"][0];
    assert!(l["href"].as_str().unwrap().starts_with("https://"), "{l}");
    assert_eq!(l["value"], request_url);
    if !domain {
        return;
    }
    let s = notice(v, "Status Codes");
    assert_eq!(
        s["description"],
        json!(["For more information on domain status codes, please visit https://icann.org/epp"])
    );
    assert_eq!(s["links"][0]["href"], "https://icann.org/epp");
    assert_eq!(s["links"][0]["rel"], "glossary");
    assert_eq!(s["links"][0]["value"], request_url);
    let w = notice(v, "RDDS Inaccuracy Complaint Form");
    assert_eq!(
        w["description"],
        json!(["URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf"])
    );
    assert_eq!(w["links"][0]["href"], "https://icann.org/wicf");
    assert_eq!(w["links"][0]["rel"], "help");
    assert_eq!(w["links"][0]["value"], request_url);
}

pub(crate) fn event<'a>(v: &'a Value, action: &str) -> &'a str {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventAction"] == action)
        .unwrap_or_else(|| panic!("no {action} event in {}", v["events"]))["eventDate"]
        .as_str()
        .unwrap()
}

fn rfc3339(s: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub(crate) fn entities_with_role<'a>(v: &'a Value, role: &str) -> Vec<&'a Value> {
    v["entities"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["roles"].as_array().unwrap().iter().any(|r| r == role))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn vcard<'a>(e: &'a Value, prop: &str) -> Vec<&'a Value> {
    e["vcardArray"][1]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == prop)
        .collect()
}

pub(crate) fn check_registrar(v: &Value) {
    let regs = entities_with_role(v, "registrar");
    assert_eq!(regs.len(), 1, "exactly one registrar entity");
    let r = regs[0];
    assert_eq!(r["objectClassName"], "entity");
    assert_eq!(r["handle"], "9999");
    assert_eq!(
        r["publicIds"],
        json!([{ "type": "IANA Registrar ID", "identifier": "9999" }])
    );
    assert_eq!(vcard(r, "fn")[0][3], "Registrar A, Inc.");
    // profile 2024 2.4.6: value = the registrar's RDAP base URL (IANA),
    // href = the Registrar URL
    let about = r["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "about")
        .unwrap();
    assert_eq!(about["value"], "https://rdap.reg-a.example/");
    assert_eq!(about["href"], "https://www.reg-a.example");
    assert_eq!(about["type"], "text/html");
    let abuse = entities_with_role(r, "abuse");
    assert_eq!(abuse.len(), 1);
    let a = abuse[0];
    assert!(!vcard(a, "fn")[0][3].as_str().unwrap().is_empty());
    let tel = vcard(a, "tel");
    assert_eq!(tel[0][1]["type"], "voice");
    assert_eq!(tel[0][3], "tel:+1-5555550100");
    assert_eq!(vcard(a, "email")[0][3], "abuse@reg-a.example");
}

/// RFC 9537 entry with `name.type` = `ty`.
pub(crate) fn redaction<'a>(v: &'a Value, ty: &str) -> &'a Value {
    v["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"]["type"] == ty)
        .unwrap_or_else(|| panic!("no redaction {ty:?} in {}", v["redacted"]))
}

#[test]
fn rdap_profile_http_tls_and_real_client() {
    let mut fx = start(
        "rate_limit = 5\nsubnet_rate_limit_v4 = 1000\nallow = [\"127.0.0.1/32\"]\nblock_initial = 30\nterms_url = \"https://nic.shop/terms\"",
        "",
    );
    let port = fx.rdap_port;
    let base = format!("http://127.0.0.1:{port}/");

    // --- domain without DS ---
    let (st, h, v) = get(port, "/domain/example.shop");
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("application/rdap+json"));
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    check_conformance(&v, true);
    assert_eq!(v["objectClassName"], "domain");
    assert_eq!(v["ldhName"], "example.shop");
    assert!(v["handle"].as_str().unwrap().ends_with("-SHOP"));
    assert!(v.get("unicodeName").is_none());
    let status = strs(&v["status"]);
    assert!(
        status.contains(&"active".to_string()) && status.contains(&"add period".to_string()),
        "{status:?}"
    );
    let reg = rfc3339(event(&v, "registration"));
    let exp = rfc3339(event(&v, "expiration"));
    assert_eq!(exp.year(), reg.year() + 1);
    let upd = rfc3339(event(&v, "last update of RDAP database"));
    assert!((upd - time::OffsetDateTime::now_utc()).abs() < time::Duration::seconds(60));
    check_registrar(&v);
    assert_eq!(v["secureDNS"]["delegationSigned"], false);
    let ns: Vec<&str> = v["nameservers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ldhName"].as_str().unwrap())
        .collect();
    assert_eq!(ns, ["ns1.example.net", "ns1.example.shop"]);
    assert!(v["nameservers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["objectClassName"] == "nameserver"));
    let selfl = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap();
    assert_eq!(selfl["href"], format!("{base}domain/example.shop"));
    assert_eq!(selfl["type"], "application/rdap+json");
    check_notices(&v, &format!("{base}domain/example.shop"), true);
    assert_eq!(
        notice(&v, "Terms of Service")["links"][0]["href"],
        "https://nic.shop/terms"
    );
    // registrant: redacted per RFC 9537 as the 2024 profile wants
    let rt = entities_with_role(&v, "registrant");
    assert_eq!(rt.len(), 1);
    let rt = rt[0];
    assert!(rt.get("handle").is_none(), "registrant handle removed");
    assert_eq!(vcard(rt, "fn")[0][3], "");
    assert_eq!(vcard(rt, "org")[0][3], "Test Org");
    let adr = &vcard(rt, "adr")[0];
    assert_eq!(adr[1]["cc"], "JP");
    assert_eq!(adr[3][2], "");
    assert_eq!(adr[3][3], "");
    assert_eq!(adr[3][4], "13");
    assert_eq!(adr[3][5], "");
    assert!(vcard(rt, "tel").is_empty() && vcard(rt, "email").is_empty());
    let body = v.to_string();
    assert!(
        !body.contains("Test Person")
            && !body.contains("test@example.net")
            && !body.contains("ca-1"),
        "{body}"
    );
    let r = redaction(&v, "Registry Registrant ID");
    assert_eq!(r["method"], "removal");
    assert_eq!(
        r["prePath"],
        "$.entities[?(@.roles[0]=='registrant')].handle"
    );
    for (ty, m, key) in [
        ("Registrant Name", "emptyValue", "postPath"),
        ("Registrant Street", "emptyValue", "postPath"),
        ("Registrant City", "emptyValue", "postPath"),
        ("Registrant Postal Code", "emptyValue", "postPath"),
        ("Registrant Phone", "removal", "prePath"),
        ("Registrant Fax", "removal", "prePath"),
        ("Registrant Email", "replacementValue", "prePath"),
        ("Registry Tech ID", "removal", "prePath"),
        ("Tech Name", "emptyValue", "postPath"),
        ("Tech Phone", "removal", "prePath"),
        ("Tech Email", "replacementValue", "prePath"),
    ] {
        let r = redaction(&v, ty);
        assert_eq!(r["method"], m, "{ty}");
        assert!(
            r[key]
                .as_str()
                .unwrap()
                .starts_with("$.entities[?(@.roles[0]=="),
            "{ty}: {r}"
        );
        assert_eq!(r["pathLang"], "jsonpath");
    }
    assert_eq!(entities_with_role(&v, "technical").len(), 1);

    // --- HEAD: same status and headers, no body ---
    let (st, h, body) = http(port, "HEAD", "/domain/example.shop");
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("application/rdap+json"));
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    assert!(body.is_empty(), "{body:?}");

    // --- domain with DS ---
    let (_, _, v) = get(port, "/domain/signed.shop");
    assert_eq!(v["secureDNS"]["delegationSigned"], true);
    assert_eq!(
        v["secureDNS"]["dsData"],
        json!([{ "keyTag": 12345, "algorithm": 13, "digestType": 2, "digest": DS_DIGEST }])
    );

    // --- IDN: U-label (percent-encoded UTF-8) and A-label ---
    for path in ["/domain/b%C3%BCcher.shop", "/domain/XN--BCHER-KVA.shop"] {
        let (st, _, v) = get(port, path);
        assert_eq!(st, 200, "{path}");
        assert_eq!(v["ldhName"], "xn--bcher-kva.shop");
        assert_eq!(v["unicodeName"], "bücher.shop");
    }

    // --- nameserver ---
    let (st, h, v) = get(port, "/nameserver/ns1.example.shop");
    assert_eq!(st, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    check_conformance(&v, false);
    assert_eq!(v["objectClassName"], "nameserver");
    assert_eq!(v["ldhName"], "ns1.example.shop");
    assert_eq!(
        v["ipAddresses"],
        json!({ "v4": ["192.0.2.1"], "v6": ["2001:db8::1"] })
    );
    assert_eq!(strs(&v["status"]), ["active", "associated"]);
    check_registrar(&v);
    check_notices(&v, &format!("{base}nameserver/ns1.example.shop"), false);
    event(&v, "last update of RDAP database");

    // --- entity (registrar) by IANA ID ---
    let (st, _, v) = get(port, "/entity/9999");
    assert_eq!(st, 200);
    check_conformance(&v, false);
    assert_eq!(v["objectClassName"], "entity");
    assert_eq!(strs(&v["roles"]), ["registrar"]);
    assert_eq!(v["publicIds"][0]["identifier"], "9999");
    check_notices(&v, &format!("{base}entity/9999"), false);
    // profile 2.3.1.3: in the topmost object of every lookup
    event(&v, "last update of RDAP database");
    // the registrar's own address and contact points
    assert_eq!(
        vcard(&v, "adr")[0][3],
        json!([
            "",
            "",
            ["1 Main Street", "Suite 200"],
            "Springfield",
            "IL",
            "62701",
            ""
        ])
    );
    assert_eq!(vcard(&v, "adr")[0][1]["cc"], "US");
    let tels: Vec<(&Value, &Value)> = vcard(&v, "tel")
        .iter()
        .map(|t| (&t[1]["type"], &t[3]))
        .collect();
    assert_eq!(
        tels,
        [
            (&json!("voice"), &json!("tel:+1-5555550111")),
            (&json!("fax"), &json!("tel:+1-5555550112"))
        ]
    );
    assert_eq!(vcard(&v, "email")[0][3], "info@reg-a.example");

    // --- help ---
    let (st, _, v) = get(port, "/help");
    assert_eq!(st, 200);
    check_conformance(&v, false);
    notice(&v, "Terms of Service");

    // --- errors: RDAP bodies with the HTTP status ---
    for (path, code) in [
        ("/domain/nothere.shop", 404),
        ("/nameserver/ns9.nowhere.net", 404),
        ("/entity/424242", 404),
        ("/autnum/64496", 501),
        ("/domains?name=ex*", 501),
        ("/frobnicate", 404),
        ("/domain/a_b!.shop", 400),
        ("/domain/xn--zz.shop", 400),
        ("/domain/%FF%FE.shop", 400),
    ] {
        let (st, h, v) = get(port, path);
        assert_eq!(st, code, "{path}: {v}");
        assert_eq!(
            header(&h, "content-type"),
            Some("application/rdap+json"),
            "{path}"
        );
        assert_eq!(
            header(&h, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(v["errorCode"], code, "{path}");
        assert!(
            v["title"].is_string() && v["description"].is_array(),
            "{path}: {v}"
        );
        check_conformance(&v, false);
    }
    let (st, _, body) = http(port, "HEAD", "/domain/nothere.shop");
    assert_eq!((st, body.as_str()), (404, ""));
    // other methods: 405, an RDAP error body, the methods allowed
    let (st, h, body) = http(port, "POST", "/domain/example.shop");
    assert_eq!(st, 405, "{body}");
    assert_eq!(header(&h, "content-type"), Some("application/rdap+json"));
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&h, "allow"), Some("GET,HEAD"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errorCode"], 405, "{v}");

    // --- freshness: an EPP change shows at once ---
    fx.epp.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "status": ["clientHold"] } }]),
    );
    let (_, _, v) = get(port, "/domain/example.shop");
    assert!(
        strs(&v["status"]).contains(&"client hold".to_string()),
        "{}",
        v["status"]
    );
    assert!(!strs(&v["status"]).contains(&"active".to_string()));

    // --- rate limit (shared rules with Whois) from 127.0.0.2: 5, then 429 ---
    let from2 = |path: &str| -> (u16, Vec<(String, String)>, String) {
        http_from("127.0.0.2", port, "GET", path)
    };
    for i in 0..5 {
        assert_eq!(from2("/domain/example.shop").0, 200, "request {i}");
    }
    let (st, h, body) = from2("/domain/example.shop");
    assert_eq!(st, 429);
    assert_eq!(header(&h, "retry-after"), Some("30"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errorCode"], 429);
    for _ in 0..20 {
        assert_eq!(
            get(port, "/domain/example.shop").0,
            200,
            "allow-listed never limited"
        );
    }

    // --- a real RDAP client: whoisit (PyPI) fetches and parses ---
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/whois/whoisit_client.py");
    let out = Command::new("python3")
        .arg(&script)
        .args([&base, "domain", "signed.shop"])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "whoisit failed (pip install whoisit): {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let w: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w["name"], "signed.shop", "{w}");
    assert!(w["handle"].as_str().unwrap().ends_with("-SHOP"), "{w}");
    assert_eq!(w["dnssec"], true, "{w}");
    assert_eq!(w["nameservers"], json!(["ns1.example.net"]), "{w}");
    assert_eq!(
        w["entities"]["registrar"][0]["name"], "Registrar A, Inc.",
        "{w}"
    );
    assert!(
        w["registration_date"]
            .as_str()
            .unwrap()
            .starts_with(&reg.year().to_string()),
        "{w}"
    );

    let m = fx.srs.metrics();
    assert!(
        m.contains("tldd_srs_rdap_requests_total{status=\"200\",type=\"domain\"}"),
        "{m}"
    );
    assert!(
        m.contains("tldd_srs_rdds_limited_total{scope=\"address\",service=\"rdap\"} 1"),
        "{m}"
    );
    fx.srs.stop();
}

#[test]
fn rdap_over_tls() {
    let certs = tempfile::tempdir().unwrap();
    let c = make_cert(certs.path(), "rdap");
    let fx = start(
        "",
        &format!(
            "rdap_tls_cert = \"{}\"\nrdap_tls_key = \"{}\"",
            c.crt.display(),
            c.key.display()
        ),
    );
    let curl = need("curl", "curl");
    let url = format!("https://127.0.0.1:{}/domain/example.shop", fx.rdap_port);
    let out = run(Command::new(curl).args(["-sk", "-D", "-", &url]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/rdap+json"),
        "{text}"
    );
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["ldhName"], "example.shop");
    let selfl = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap();
    assert!(
        selfl["href"].as_str().unwrap().starts_with("https://"),
        "{selfl}"
    );
    // plain HTTP on the TLS port gets no answer, and the server goes on
    let out = run(Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url.replace("https", "http"),
    ]));
    assert_ne!(String::from_utf8_lossy(&out.stdout), "200");
    let out =
        run(Command::new("curl").args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", &url]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}

/// One raw HTTP/1.1 response off `s`: (head, body). The body is read by
/// `content-length` (none after a HEAD request).
fn response(s: &mut std::net::TcpStream, head_request: bool) -> (String, Vec<u8>) {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "head cut short: {raw:?}");
        raw.push(byte[0]);
    }
    let head = String::from_utf8(raw).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0u8; if head_request { 0 } else { len }];
    s.read_exact(&mut body).unwrap();
    (head, body)
}

/// Status line, then the header fields but `date` and `connection`,
/// sorted; and the body with the one timestamp that may tick between two
/// requests taken out.
fn comparable((head, body): (String, Vec<u8>)) -> (String, Vec<String>, Option<Value>) {
    let mut lines = head.trim_end().lines();
    let status = lines.next().unwrap().to_string();
    let mut fields: Vec<String> = lines
        .map(|l| l.to_ascii_lowercase())
        .filter(|l| !l.starts_with("date:") && !l.starts_with("connection:"))
        .collect();
    fields.sort();
    let json = (!body.is_empty()).then(|| {
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        if let Some(events) = v["events"].as_array_mut() {
            events.retain(|e| e["eventAction"] != "last update of RDAP database");
        }
        v
    });
    (status, fields, json)
}

fn connect(port: u16) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s
}

/// A request that asks to close its connection is answered in the accept
/// loop; any other goes through hyper. Both must give the same status,
/// header fields and body, and the ways of asking hyper handles (keep-alive
/// with a second request, pipelining, a head in pieces, HTTP/1.0) must all
/// still be answered.
#[test]
fn rdap_answers_alike_on_both_paths() {
    use std::io::{Read, Write};
    let mut fx = start("allow = [\"127.0.0.1/32\"]", "");
    let port = fx.rdap_port;
    let cases = [
        ("GET", "/domain/example.shop", 200),
        ("GET", "/domain/SIGNED.shop.", 200),
        ("GET", "/domain/b%C3%BCcher.shop", 200),
        ("GET", "/domain/xn--bcher-kva.shop?x=1", 200),
        ("HEAD", "/domain/example.shop", 200),
        ("GET", "/domain/nothere.shop", 404),
        ("HEAD", "/domain/nothere.shop", 404),
        ("GET", "/domain/bad..name.shop", 400),
        ("GET", "/domains?name=ex*.shop", 501),
        ("GET", "/nameserver/ns1.example.shop", 200),
        ("GET", "/entity/9999", 200),
        ("GET", "/help", 200),
        ("GET", "/nothing/here", 404),
    ];
    for (method, path, code) in cases {
        let head_request = method == "HEAD";
        // asks to close: the fast path; the server closes after the answer
        let mut s = connect(port);
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let fast = response(&mut s, head_request);
        assert!(
            fast.0
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{method} {path}: {}",
            fast.0
        );
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{method} {path}: bytes after the answer");
        // keep-alive: hyper answers, and the connection takes a second request
        let mut s = connect(port);
        write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let kept = response(&mut s, head_request);
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let second = response(&mut s, head_request);
        let fast = comparable(fast);
        assert!(
            fast.0.starts_with(&format!("HTTP/1.1 {code} ")),
            "{method} {path}: {}",
            fast.0
        );
        for other in [comparable(kept), comparable(second)] {
            assert_eq!((&fast.0, &fast.1), (&other.0, &other.1), "{method} {path}");
            assert!(fast.2 == other.2, "{method} {path}: bodies differ");
        }
    }

    // two requests in one segment (pipelined), the second asking to close
    let mut s = connect(port);
    s.write_all(b"GET /domain/example.shop HTTP/1.1\r\nHost: x\r\n\r\nGET /domain/signed.shop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let (_, a) = response(&mut s, false);
    let (_, b) = response(&mut s, false);
    let name = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap()["ldhName"].clone();
    assert_eq!(
        (name(&a), name(&b)),
        (json!("example.shop"), json!("signed.shop"))
    );

    // a head sent in pieces
    let mut s = connect(port);
    s.write_all(b"GET /domain/example.shop HT").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    s.write_all(b"TP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (head, body) = response(&mut s, false);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert_eq!(name(&body), json!("example.shop"));

    // HTTP/1.0
    let mut s = connect(port);
    s.write_all(b"GET /domain/example.shop HTTP/1.0\r\n\r\n")
        .unwrap();
    let (head, body) = response(&mut s, false);
    assert!(head.contains(" 200 "), "{head}");
    assert_eq!(name(&body), json!("example.shop"));
    fx.srs.stop();
}
