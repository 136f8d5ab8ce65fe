//! Whois (RFC 3912) end to end: the real `tldd srs` binary, objects made
//! over EPP by a real client, answers read with the Debian `whois` client
//! and with raw sockets. Checks the ICANN Spec 4 / 2017 labelling field
//! order and content for a domain without and with DS, an IDN (asked as
//! U-label and A-label), a name server, a registrar and a miss; CRLF line
//! ends; freshness after an EPP change; bad input; the rate limit (hit after
//! the configured count, one line, growing blocks) from a limited loopback
//! alias (127.0.0.2) while the allow-listed 127.0.0.1 is never limited; the
//! limits on `/metrics`.
use crate::support::whois as setup;

use serde_json::json;
use setup::*;
use std::time::{Duration, Instant};

const DOMAIN_ORDER: &[&str] = &[
    "Domain Name",
    "Registry Domain ID",
    "Registrar WHOIS Server",
    "Registrar URL",
    "Updated Date",
    "Creation Date",
    "Registry Expiry Date",
    "Registrar",
    "Registrar IANA ID",
    "Registrar Abuse Contact Email",
    "Registrar Abuse Contact Phone",
    "Domain Status",
    "Registry Registrant ID",
    "Registrant Name",
    "Registrant Organization",
    "Registrant Street",
    "Registrant City",
    "Registrant State/Province",
    "Registrant Postal Code",
    "Registrant Country",
    "Registrant Phone",
    "Registrant Phone Ext",
    "Registrant Fax",
    "Registrant Fax Ext",
    "Registrant Email",
    "Registry Admin ID",
    "Admin Name",
    "Registry Tech ID",
    "Tech Name",
    "Tech Email",
    "Name Server",
    "DNSSEC",
    "URL of the ICANN Whois Inaccuracy Complaint Form",
];

/// Asserts that the keys in `order` appear, first occurrences in that order.
fn assert_order(text: &str, order: &[&str]) {
    let f = fields(text);
    let mut last = 0;
    for k in order {
        let pos = f
            .iter()
            .position(|(key, _)| key == k)
            .unwrap_or_else(|| panic!("no {k:?} in\n{text}"));
        assert!(pos >= last, "{k:?} out of order in\n{text}");
        last = pos;
    }
}

fn is_rfc3339_utc(s: &str) -> bool {
    s.len() == 20
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
        && s.ends_with('Z')
}

fn one(text: &str, key: &str) -> String {
    let v = values(text, key);
    assert_eq!(v.len(), 1, "{key}: {v:?} in\n{text}");
    v[0].clone()
}

#[test]
fn whois_answers_limits_and_freshness() {
    let mut fx = start(
        "rate_limit = 5\nsubnet_rate_limit_v4 = 1000\nallow = [\"127.0.0.1/32\"]\nblock_initial = 1\nblock_max = 60\nmax_query_length = 64\nread_timeout = 2",
        "",
    );
    let port = fx.whois_port;

    // --- a domain without DS, with the Debian whois client ---
    let t = whois_client(port, "example.shop");
    eprintln!("----- whois example.shop -----\n{t}");
    assert_order(&t, DOMAIN_ORDER);
    assert_eq!(one(&t, "Domain Name"), "example.shop");
    assert!(one(&t, "Registry Domain ID").ends_with("-SHOP"), "{t}");
    assert_eq!(one(&t, "Registrar WHOIS Server"), "whois.reg-a.example");
    assert_eq!(one(&t, "Registrar URL"), "https://www.reg-a.example");
    assert_eq!(one(&t, "Registrar"), "Registrar A, Inc.");
    assert_eq!(one(&t, "Registrar IANA ID"), "9999");
    assert_eq!(
        one(&t, "Registrar Abuse Contact Email"),
        "abuse@reg-a.example"
    );
    assert_eq!(one(&t, "Registrar Abuse Contact Phone"), "+1.5555550100");
    for k in ["Updated Date", "Creation Date", "Registry Expiry Date"] {
        assert!(is_rfc3339_utc(&one(&t, k)), "{k} in\n{t}");
    }
    let created = one(&t, "Creation Date");
    let expiry = one(&t, "Registry Expiry Date");
    assert_eq!(
        expiry[..4].parse::<i32>().unwrap(),
        created[..4].parse::<i32>().unwrap() + 1
    );
    let st = values(&t, "Domain Status");
    assert!(
        st.contains(&"ok https://icann.org/epp#ok".to_string()),
        "{st:?}"
    );
    assert!(
        st.contains(&"addPeriod https://icann.org/epp#addPeriod".to_string()),
        "{st:?}"
    );
    // redaction: personal data withheld, org/state/country shown
    assert_eq!(one(&t, "Registry Registrant ID"), "REDACTED FOR PRIVACY");
    assert_eq!(one(&t, "Registrant Name"), "REDACTED FOR PRIVACY");
    assert_eq!(one(&t, "Registrant Organization"), "Test Org");
    assert_eq!(one(&t, "Registrant Street"), "REDACTED FOR PRIVACY");
    assert_eq!(one(&t, "Registrant City"), "REDACTED FOR PRIVACY");
    assert_eq!(one(&t, "Registrant State/Province"), "13");
    assert_eq!(one(&t, "Registrant Postal Code"), "REDACTED FOR PRIVACY");
    assert_eq!(one(&t, "Registrant Country"), "JP");
    assert_eq!(one(&t, "Registrant Phone"), "REDACTED FOR PRIVACY");
    assert!(one(&t, "Registrant Email")
        .starts_with("Please query the RDDS service of the Registrar of Record"));
    assert!(
        !t.contains("Test Person") && !t.contains("test@example.net") && !t.contains("1 Main St"),
        "{t}"
    );
    assert_eq!(one(&t, "Admin Name"), "REDACTED FOR PRIVACY");
    assert_eq!(one(&t, "Tech Name"), "REDACTED FOR PRIVACY");
    assert_eq!(
        values(&t, "Name Server"),
        vec!["ns1.example.net", "ns1.example.shop"]
    );
    assert_eq!(one(&t, "DNSSEC"), "unsigned");
    assert_eq!(
        one(&t, "URL of the ICANN Whois Inaccuracy Complaint Form"),
        "https://www.icann.org/wicf/"
    );
    let lu = t
        .lines()
        .find(|l| l.starts_with(">>> Last update of WHOIS database: "))
        .unwrap_or_else(|| panic!("no last-update line in\n{t}"));
    let ts = lu
        .trim_end_matches('\r')
        .trim_start_matches(">>> Last update of WHOIS database: ")
        .trim_end_matches(" <<<");
    assert!(is_rfc3339_utc(ts), "{lu}");
    // after it: the status-code notice, then the terms
    let after = &t[t.find(">>> Last update").unwrap()..];
    let notice = after
        .find("For more information on Whois status codes, please visit https://icann.org/epp")
        .unwrap_or_else(|| panic!("{t}"));
    let terms = after.find("Terms of Use:").unwrap_or_else(|| panic!("{t}"));
    assert!(notice < terms);

    // --- raw socket: CRLF line ends everywhere ---
    let raw = whois_raw(port, "127.0.0.1", b"example.shop");
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.ends_with("\r\n"));
    assert_eq!(
        raw.matches('\n').count(),
        raw.matches("\r\n").count(),
        "bare LF in answer"
    );
    assert_eq!(
        fields(&raw),
        fields(&t),
        "whois client and raw socket see the same fields"
    );

    // --- a domain with DS ---
    let t = whois_client(port, "SIGNED.shop.");
    assert_order(&t, DOMAIN_ORDER);
    assert_eq!(one(&t, "Domain Name"), "signed.shop");
    assert_eq!(one(&t, "DNSSEC"), "signedDelegation");

    // --- an IDN, asked in U-label (raw UTF-8 and whois client) and A-label ---
    let u = String::from_utf8(whois_raw(port, "127.0.0.1", "bücher.shop".as_bytes())).unwrap();
    assert_eq!(one(&u, "Domain Name"), "xn--bcher-kva.shop", "{u}");
    assert_eq!(one(&u, "Internationalized Domain Name"), "bücher.shop");
    let a = whois_client(port, "XN--BCHER-KVA.SHOP");
    assert_eq!(one(&a, "Domain Name"), "xn--bcher-kva.shop");
    let c = whois_client(port, "bücher.shop");
    assert_eq!(one(&c, "Domain Name"), "xn--bcher-kva.shop", "{c}");

    // --- a name server: by bare name and with the keyword ---
    for q in ["ns1.example.shop", "nameserver NS1.EXAMPLE.SHOP"] {
        let h = whois_client(port, q);
        assert_order(
            &h,
            &[
                "Server Name",
                "IP Address",
                "Registrar",
                "Registrar WHOIS Server",
                "Registrar URL",
            ],
        );
        assert_eq!(one(&h, "Server Name"), "ns1.example.shop");
        assert_eq!(values(&h, "IP Address"), vec!["192.0.2.1", "2001:db8::1"]);
        assert_eq!(one(&h, "Registrar"), "Registrar A, Inc.");
        assert!(h.contains(">>> Last update of WHOIS database: "));
    }

    // --- a registrar: by name, IANA ID and SRS ID ---
    for q in [
        "registrar Registrar A, Inc.",
        "registrar 9999",
        "registrar reg-a",
    ] {
        let r = whois_client(port, q);
        // Spec 4 §1.6 registrar data
        assert_order(
            &r,
            &[
                "Registrar Name",
                "Registrar IANA ID",
                "Street",
                "City",
                "State/Province",
                "Postal Code",
                "Country",
                "Phone Number",
                "Fax Number",
                "Email",
                "Registrar WHOIS Server",
                "Registrar URL",
                "Registrar Abuse Contact Email",
                "Registrar Abuse Contact Phone",
            ],
        );
        assert_eq!(one(&r, "Registrar Name"), "Registrar A, Inc.", "{q}");
        assert_eq!(one(&r, "Registrar IANA ID"), "9999");
        assert_eq!(values(&r, "Street"), ["1 Main Street", "Suite 200"]);
        assert_eq!(one(&r, "City"), "Springfield");
        assert_eq!(one(&r, "State/Province"), "IL");
        assert_eq!(one(&r, "Postal Code"), "62701");
        assert_eq!(one(&r, "Country"), "US");
        assert_eq!(one(&r, "Phone Number"), "+1.5555550111");
        assert_eq!(one(&r, "Fax Number"), "+1.5555550112");
        assert_eq!(one(&r, "Email"), "info@reg-a.example");
        assert_eq!(one(&r, "Registrar URL"), "https://www.reg-a.example");
    }

    // --- misses ---
    let m = whois_client(port, "nothere.shop");
    assert_eq!(m.lines().next(), Some("Domain not found."), "{m:?}");
    let r = String::from_utf8(whois_raw(port, "127.0.0.1", b"nothere.shop")).unwrap();
    assert!(
        r.starts_with("Domain not found.\r\n>>> Last update of WHOIS database: "),
        "{r:?}"
    );
    assert!(m.contains(">>> Last update of WHOIS database: "));
    // a bare name: a name server when one is registered, else a miss
    for q in ["ns9.nowhere.net", "www.example.shop", "example.com"] {
        let m = whois_client(port, q);
        assert!(m.starts_with("Domain not found."), "{q}: {m:?}");
    }
    let m = whois_client(port, "nameserver ns9.nowhere.net");
    assert!(m.starts_with("Nameserver not found."), "{m:?}");
    let m = whois_client(port, "registrar Nobody");
    assert!(m.starts_with("Registrar not found."), "{m:?}");

    // --- bad input: explained, one line, server still fine ---
    let r = String::from_utf8(whois_raw(port, "127.0.0.1", b"\xff\xfe\x00")).unwrap();
    assert_eq!(r, "Invalid query: not UTF-8 text.\r\n");
    let r = String::from_utf8(whois_raw(port, "127.0.0.1", b"a_b!.shop")).unwrap();
    assert!(
        r.starts_with("Invalid query: ") && r.lines().count() == 1,
        "{r:?}"
    );
    let r = String::from_utf8(whois_raw(port, "127.0.0.1", b"")).unwrap();
    assert!(r.starts_with("Empty query."), "{r:?}");
    let r = String::from_utf8(whois_raw(port, "127.0.0.1", &[b'a'; 5000])).unwrap();
    assert_eq!(r, "Query too long: at most 64 bytes.\r\n");
    {
        // the query in one segment (answered in the accept loop), in pieces
        // with pauses between them, and followed by more bytes: the same
        // complete answer each time, never cut off by a reset
        let text =
            |pieces: &[&[u8]], pause| String::from_utf8(whois_pieces(port, pieces, pause)).unwrap();
        let whole = text(&[b"example.shop\r\n"], Duration::ZERO);
        assert!(
            whole.starts_with("Domain Name: example.shop\r\n"),
            "{whole:?}"
        );
        assert!(
            whole.contains(">>> Last update of WHOIS database: "),
            "{whole:?}"
        );
        let pieces = text(
            &[b"exam", b"ple.sh", b"op\r", b"\n"],
            Duration::from_millis(150),
        );
        let pipelined = text(&[b"example.shop\r\nexample.shop\r\n"], Duration::ZERO);
        // equal up to the database timestamp line
        let body = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with(">>>"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(body(&pieces), body(&whole));
        assert_eq!(body(&pipelined), body(&whole));
    }
    {
        // a client that never sends its query is cut off after read_timeout
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t0 = Instant::now();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("Timeout:"), "{out:?}");
        assert!(t0.elapsed() < Duration::from_secs(8));
    }

    // --- freshness: an EPP change shows at once ---
    fx.epp.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "status": ["clientTransferProhibited"] } }]),
    );
    let t = whois_client(port, "example.shop");
    assert!(
        values(&t, "Domain Status").contains(
            &"clientTransferProhibited https://icann.org/epp#clientTransferProhibited".to_string()
        ),
        "{t}"
    );
    assert!(!values(&t, "Domain Status")
        .iter()
        .any(|s| s.starts_with("ok ")));

    // --- rate limit: 127.0.0.2 gets 5, then one line and a block ---
    for i in 0..5 {
        let r = String::from_utf8(whois_raw(port, "127.0.0.2", b"example.shop")).unwrap();
        assert!(
            r.starts_with("Domain Name: example.shop\r\n"),
            "query {i}: {r:?}"
        );
    }
    let r = String::from_utf8(whois_raw(port, "127.0.0.2", b"example.shop")).unwrap();
    assert_eq!(r, "Query rate limit exceeded. Try again in 1 seconds.\r\n");
    // the block grows: after it ends the bucket is still empty -> 2 s, then 4 s
    std::thread::sleep(Duration::from_millis(1100));
    let r = String::from_utf8(whois_raw(port, "127.0.0.2", b"example.shop")).unwrap();
    assert_eq!(r, "Query rate limit exceeded. Try again in 2 seconds.\r\n");
    let r = String::from_utf8(whois_raw(port, "127.0.0.2", b"example.shop")).unwrap();
    assert!(
        r.starts_with("Query rate limit exceeded. Try again in "),
        "{r:?}"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let r = String::from_utf8(whois_raw(port, "127.0.0.2", b"example.shop")).unwrap();
    assert_eq!(r, "Query rate limit exceeded. Try again in 4 seconds.\r\n");
    // another address is its own client
    let r = String::from_utf8(whois_raw(port, "127.0.0.3", b"example.shop")).unwrap();
    assert!(r.starts_with("Domain Name: "), "{r:?}");
    // the allow-listed address is never limited
    for _ in 0..30 {
        let r = String::from_utf8(whois_raw(port, "127.0.0.1", b"example.shop")).unwrap();
        assert!(r.starts_with("Domain Name: "), "{r:?}");
    }
    let t = whois_client(port, "example.shop");
    assert_eq!(one(&t, "Domain Name"), "example.shop");

    // --- metrics ---
    let m = fx.srs.metrics();
    assert!(
        m.contains("tldd_srs_rdds_limit{name=\"rate_limit\"} 5"),
        "{m}"
    );
    assert!(
        m.contains("tldd_srs_rdds_blocks_total{scope=\"address\",service=\"whois\"} 3"),
        "{m}"
    );
    assert!(
        m.contains("tldd_srs_whois_queries_total{result=\"found\",type=\"domain\"}"),
        "{m}"
    );
    assert!(
        m.contains("tldd_srs_whois_queries_total{result=\"limited\",type=\"refused\"} 4"),
        "{m}"
    );
    assert!(m.contains("tldd_srs_whois_query_seconds_count"), "{m}");
    let log = fx.srs.log();
    assert!(log.contains("rate limit exceeded"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}
