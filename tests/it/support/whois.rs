//! Shared set-up of the Whois and RDAP integration tests: the real `tldd
//! srs` binary with Whois and RDAP listeners on ephemeral ports, registrars
//! made with the real admin CLI, objects created over EPP by the real Perl
//! client (Net::EPP::Simple), exactly as the SRS tests do.
//!
//! The fixture: registrar `reg-a` ("Registrar A, Inc.", IANA 9999, with
//! URL, Whois server, abuse contact, address, phone, fax and email set by
//! `registrar update`), contact
//! `ca-1`, hosts `ns1.example.net` and `ns1.example.shop` (with glue),
//! domains `example.shop` (unsigned), `signed.shop` (one DS) and the IDN
//! `xn--bcher-kva.shop` (bücher.shop). The DNS publisher points at a closed
//! port: Whois and RDAP read the store, not the zone.
#![allow(dead_code)]
pub use super::srs as common;

pub use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub const DS_DIGEST: &str = "2BB183AF5F22588179A53B0A98631FAD1A292118E2E5B9B63C49FA9B7C0E5E56";

pub struct Fixture {
    pub srs: Srs,
    pub epp: Perl,
    pub whois_port: u16,
    pub rdap_port: u16,
    pub tmp: tempfile::TempDir,
}

/// Starts the SRS with `whois_table` as the body of `[srs.whois]` and
/// `extra` added to `[srs]`, and creates the fixture objects.
pub fn start(whois_table: &str, extra: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let extra_srs = format!(
        "whois_listen = \"127.0.0.1:0\"\nrdap_listen = \"127.0.0.1:0\"\n{extra}\n[srs.whois]\n{whois_table}\n"
    );
    let mut srs = Srs::new(tmp.path(), free_port(), &extra_srs);
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.ok(&[
        "registrar",
        "update",
        "--id",
        "reg-a",
        "--name",
        "Registrar A, Inc.",
        "--url",
        "https://www.reg-a.example",
        "--whois-server",
        "whois.reg-a.example",
        "--abuse-email",
        "abuse@reg-a.example",
        "--abuse-phone",
        "+1.5555550100",
        "--rdap-url",
        "https://rdap.reg-a.example/",
        "--street",
        "1 Main Street",
        "--street",
        "Suite 200",
        "--city",
        "Springfield",
        "--state",
        "IL",
        "--postal-code",
        "62701",
        "--country",
        "us",
        "--phone",
        "+1.5555550111",
        "--fax",
        "+1.5555550112",
        "--email",
        "info@reg-a.example",
    ]);
    srs.start();
    let mut epp = Perl::connect(&srs, "reg-a", "passA-123", Some(&cert));
    assert_eq!(epp.login["code"], 1000, "login: {}", epp.login);
    epp.expect(1000, "create_contact", json!([contact("ca-1")]));
    epp.expect(
        1000,
        "create_host",
        json!([{ "name": "ns1.example.net", "addrs": [] }]),
    );
    for name in ["example.shop", "signed.shop", "xn--bcher-kva.shop"] {
        epp.expect(
            1000,
            "create_domain",
            json!([{
                "name": name, "period": 1, "registrant": "ca-1",
                "contacts": { "admin": "ca-1", "tech": "ca-1" },
                "ns": ["ns1.example.net"], "authInfo": "dom-Pass1",
            }]),
        );
    }
    epp.expect(1000, "create_host", json!([{ "name": "ns1.example.shop",
        "addrs": [{ "ip": "192.0.2.1", "version": "v4" }, { "ip": "2001:db8::1", "version": "v6" }] }]));
    epp.expect(
        1000,
        "update_domain",
        json!([{ "name": "example.shop", "add": { "ns": ["ns1.example.shop"] } }]),
    );
    epp.raw_expect(1000, &cmd(&format!(
        "<update><domain:update {DOM}><domain:name>signed.shop</domain:name></domain:update></update>\
         <extension><secDNS:update {SECDNS}><secDNS:add><secDNS:dsData><secDNS:keyTag>12345</secDNS:keyTag>\
         <secDNS:alg>13</secDNS:alg><secDNS:digestType>2</secDNS:digestType><secDNS:digest>{DS_DIGEST}</secDNS:digest>\
         </secDNS:dsData></secDNS:add></secDNS:update></extension>")));
    let whois_port = srs.whois_port.expect("the SRS logged its Whois address");
    let rdap_port = srs.rdap_port.expect("the SRS logged its RDAP address");
    wait_for("the Whois listener", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", whois_port)).is_ok()
    });
    Fixture {
        srs,
        epp,
        whois_port,
        rdap_port,
        tmp,
    }
}

/// One Whois query over a raw socket from `source` (e.g. "127.0.0.2"):
/// sends `query` + CRLF, returns everything until the server closes.
pub fn whois_raw(port: u16, source: &str, query: &[u8]) -> Vec<u8> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{source}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(query).unwrap();
    s.write_all(b"\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Sends `pieces` from 127.0.0.1, each in its own write with `pause`
/// after it; everything that comes back.
pub fn whois_pieces(port: u16, pieces: &[&[u8]], pause: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for piece in pieces {
        s.write_all(piece).unwrap();
        std::thread::sleep(pause);
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// The Debian `whois` client: `whois -h 127.0.0.1 -p PORT QUERY`.
pub fn whois_client(port: u16, query: &str) -> String {
    let whois = need("whois", "whois");
    let out = run(std::process::Command::new(whois).args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        query,
    ]));
    assert!(
        out.status.success(),
        "whois {query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 answer")
}

/// `Key: value` pairs of an answer, in order (lines without ": " skipped).
pub fn fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.starts_with(">>>"))
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Values of one key.
pub fn values(text: &str, key: &str) -> Vec<String> {
    fields(text)
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

/// A minimal HTTP/1.1 client: (status, headers lower-cased, body).
pub fn http(port: u16, method: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    http_from("127.0.0.1", port, method, path)
}

/// [`http`] from a given loopback source address.
pub fn http_from(
    source: &str,
    port: u16,
    method: &str,
    path: &str,
) -> (u16, Vec<(String, String)>, String) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: SocketAddr = format!("{source}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/rdap+json\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, headers, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = s.split_once("\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
