//! `tldd serve` answers as an authoritative TLD server should, checked over
//! real sockets with dnspython (tests/dnsq.py) and kdig.
use crate::support::serve as common;
use common::*;
use serde_json::Value;
use std::time::Duration;

fn ask(s: &Server, qname: &str, qtype: &str, opts: &[&str]) -> Value {
    let script = repo("tests/dnsq.py");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .args([
            &s.addr.ip().to_string(),
            &s.port().to_string(),
            qname,
            qtype,
        ])
        .args(opts)
        .output()
        .expect("/usr/bin/python3 with python3-dnspython");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

fn flags(v: &Value) -> Vec<String> {
    v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn section(v: &Value, s: &str) -> Vec<String> {
    v[s].as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn example() -> Server {
    Server::with_zone(
        "shop.",
        &repo("zones/shop.zone"),
        "nsid = \"node-7\"\nidentity = \"node-7.example\"\nmetrics = \"127.0.0.1:0\"",
    )
}

/// A delegation of the example zone with in-bailiwick glue, and one without.
const GLUED: &str = "05z2v7f.shop.";
const UNGLUED: &str = "03p8hs.shop.";

#[test]
fn apex_answers_are_authoritative_with_glue() {
    let s = example();
    let v = ask(&s, "shop.", "SOA", &[]);
    assert_eq!(v["rcode"], "NOERROR");
    assert!(flags(&v).contains(&"AA".into()));
    assert_eq!(section(&v, "answer").len(), 1);
    assert!(section(&v, "answer")[0].contains("soa a.nic.shop. hostmaster.nic.shop. 2026112601"));

    let v = ask(&s, "SHOP.", "NS", &[]);
    assert!(flags(&v).contains(&"AA".into()));
    assert_eq!(section(&v, "answer").len(), 4);
    let add = section(&v, "additional");
    assert!(
        add.iter()
            .any(|r| r.starts_with("a.nic.shop. 86400 in a 192.0.2.1")),
        "{add:?}"
    );
    assert!(
        add.iter()
            .any(|r| r.starts_with("d.nic.shop. 86400 in aaaa 2001:db8::4")),
        "{add:?}"
    );
}

#[test]
fn referral_has_no_aa_and_carries_glue() {
    let s = example();
    let v = ask(&s, &format!("www.{GLUED}"), "A", &[]);
    assert_eq!(v["rcode"], "NOERROR");
    assert!(!flags(&v).contains(&"AA".into()), "{v}");
    assert!(section(&v, "answer").is_empty());
    let auth = section(&v, "authority");
    assert_eq!(auth.len(), 2, "{auth:?}");
    assert!(auth
        .iter()
        .all(|r| r.starts_with(&format!("{GLUED} 86400 in ns ns"))));
    let add = section(&v, "additional");
    assert!(
        add.iter()
            .any(|r| r.starts_with(&format!("ns1.{GLUED} 86400 in a "))),
        "{add:?}"
    );
    assert!(
        add.iter()
            .any(|r| r.starts_with(&format!("ns1.{GLUED} 86400 in aaaa "))),
        "{add:?}"
    );
    assert!(
        add.iter()
            .any(|r| r.starts_with(&format!("ns2.{GLUED} 86400 in a "))),
        "{add:?}"
    );

    // NS at the cut itself is a referral too; out-of-bailiwick NS: no glue.
    let v = ask(&s, UNGLUED, "NS", &[]);
    assert!(!flags(&v).contains(&"AA".into()));
    assert_eq!(section(&v, "authority").len(), 2);
    assert!(section(&v, "additional").is_empty());
}

#[test]
fn ds_is_answered_from_the_parent_side() {
    let s = example();
    let zone = std::fs::read_to_string(repo("zones/shop.zone")).unwrap();
    let signed = zone
        .lines()
        .find(|l| l.contains(" IN DS "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let v = ask(&s, &format!("{signed}.shop."), "DS", &[]);
    assert_eq!(v["rcode"], "NOERROR");
    assert!(flags(&v).contains(&"AA".into()), "{v}");
    assert_eq!(section(&v, "answer").len(), 1);
    assert!(section(&v, "answer")[0].contains(" in ds "));

    // Unsigned delegation: NODATA from the parent, SOA with the negative TTL.
    let v = ask(&s, UNGLUED, "DS", &[]);
    assert_eq!(v["rcode"], "NOERROR");
    assert!(flags(&v).contains(&"AA".into()));
    assert!(section(&v, "answer").is_empty());
    assert!(section(&v, "authority")[0].starts_with("shop. 900 in soa"));
}

#[test]
fn nxdomain_and_nodata_carry_the_soa_with_negative_ttl() {
    let s = example();
    let v = ask(&s, "no-such-name-here.shop.", "A", &[]);
    assert_eq!(v["rcode"], "NXDOMAIN");
    assert!(flags(&v).contains(&"AA".into()));
    let auth = section(&v, "authority");
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("shop. 900 in soa"), "{auth:?}");

    let v = ask(&s, "nic.shop.", "TXT", &[]);
    assert_eq!(v["rcode"], "NOERROR");
    assert!(section(&v, "answer").is_empty());
    assert!(section(&v, "authority")[0].starts_with("shop. 900 in soa"));

    // An empty non-terminal exists (NODATA, not NXDOMAIN): a.nic.shop makes nic.shop exist,
    // and x.nic.shop does not.
    let v = ask(&s, "x.nic.shop.", "A", &[]);
    assert_eq!(v["rcode"], "NXDOMAIN");
    let v = ask(&s, "mail.nic.shop.", "A", &[]);
    assert_eq!(
        section(&v, "answer"),
        vec!["mail.nic.shop. 3600 in a 192.0.2.25".to_string()]
    );
}

#[test]
fn cname_and_mx_additional() {
    let s = example();
    let v = ask(&s, "www.nic.shop.", "A", &[]);
    let ans = section(&v, "answer");
    assert!(
        ans.contains(&"www.nic.shop. 3600 in cname nic.shop.".to_string()),
        "{ans:?}"
    );
    assert!(
        ans.contains(&"nic.shop. 3600 in a 192.0.2.53".to_string()),
        "{ans:?}"
    );
    let v = ask(&s, "nic.shop.", "MX", &[]);
    assert_eq!(
        section(&v, "additional"),
        vec!["mail.nic.shop. 3600 in a 192.0.2.25".to_string()]
    );
}

#[test]
fn edns_nsid_badvers_and_do() {
    let s = example();
    let v = ask(&s, "shop.", "SOA", &["--do", "--nsid", "--bufsize", "4096"]);
    assert_eq!(v["edns"], 0);
    assert_eq!(v["payload"], 1232, "our payload size, not the requester's");
    assert_eq!(v["do"], true);
    assert_eq!(v["nsid"][0], "node-7");
    let v = ask(&s, "shop.", "SOA", &["--edns", "0"]);
    assert_eq!(v["do"], false);
    assert!(
        v["nsid"].as_array().unwrap().is_empty(),
        "NSID only when asked"
    );
    let v = ask(&s, "shop.", "SOA", &["--edns", "1"]);
    assert_eq!(v["rcode"], "BADVERS");
    assert!(section(&v, "answer").is_empty());
    // Without EDNS, no OPT in the reply.
    let v = ask(&s, "shop.", "SOA", &[]);
    assert_eq!(v["edns"], -1);
    // A name in no zone of ours: REFUSED with EDE 20 (RFC 8914), as
    // kdig and dig show it; none on answers that are not errors.
    let out = s.kdig(&["+edns", "example.net.", "A"]);
    assert!(
        out.contains("status: REFUSED") && out.contains("EDE: 20 (Not Authoritative)"),
        "{out}"
    );
    let out = s.kdig(&["+edns", "shop.", "SOA"]);
    assert!(
        out.contains("status: NOERROR") && !out.contains("EDE"),
        "{out}"
    );
}

#[test]
fn chaos_identity_and_version() {
    let s = example();
    let v = ask(&s, "id.server.", "TXT", &["--klass", "CH"]);
    assert_eq!(v["rcode"], "NOERROR");
    assert_eq!(
        section(&v, "answer"),
        vec!["id.server. 0 ch txt \"node-7.example\"".to_string()]
    );
    let v = ask(&s, "hostname.bind.", "TXT", &["--klass", "CH"]);
    assert_eq!(section(&v, "answer").len(), 1);
    // version.bind is off unless configured.
    let v = ask(&s, "version.bind.", "TXT", &["--klass", "CH"]);
    assert_eq!(v["rcode"], "REFUSED");
}

#[test]
fn refused_notimp_and_any() {
    let s = example();
    let v = ask(&s, "example.com.", "A", &[]);
    assert_eq!(v["rcode"], "REFUSED");
    assert!(!flags(&v).contains(&"AA".into()));
    // Opcode STATUS (2) is not implemented.
    let v = ask(&s, "shop.", "SOA", &["--opcode", "2"]);
    assert_eq!(v["rcode"], "NOTIMP");
    // ANY over UDP: one real RRset (RFC 8482 §4.1; NS, the first type at
    // the apex, with its glue); over TCP: everything at the name.
    let v = ask(&s, "shop.", "ANY", &[]);
    let answer = section(&v, "answer");
    assert!(!answer.is_empty(), "{v}");
    assert!(answer.iter().all(|r| r.contains(" ns ")), "{v}");
    let v = ask(&s, "shop.", "ANY", &["--tcp"]);
    assert_eq!(section(&v, "answer").len(), 5, "SOA + 4 NS");
}

#[test]
fn truncation_sets_tc_and_tcp_gives_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut z = String::from(
        "$TTL 3600\n@ SOA ns.nic hm.nic 1 2 3 4 300\n@ NS ns.nic\nns.nic A 192.0.2.1\n",
    );
    for i in 0..13 {
        z.push_str(&format!("big NS a-very-long-name-server-label-{i}.big\n"));
        z.push_str(&format!(
            "a-very-long-name-server-label-{i}.big A 198.51.100.{i}\n"
        ));
        z.push_str(&format!(
            "a-very-long-name-server-label-{i}.big AAAA 2001:db8::{i}\n"
        ));
    }
    let p = dir.path().join("t.zone");
    std::fs::write(&p, z).unwrap();
    let s = Server::with_zone("t.", &p, "");
    // 512 bytes without EDNS: the NS RRset fits, its required glue does not.
    let v = ask(&s, "www.big.t.", "A", &[]);
    assert!(flags(&v).contains(&"TC".into()), "{v}");
    assert!(v["size"].as_u64().unwrap() <= 512);
    let v = ask(&s, "www.big.t.", "A", &["--tcp"]);
    assert!(!flags(&v).contains(&"TC".into()));
    assert_eq!(section(&v, "authority").len(), 13);
    assert_eq!(section(&v, "additional").len(), 26);
    let v = ask(&s, "www.big.t.", "A", &["--edns", "0", "--bufsize", "4096"]);
    assert!(!flags(&v).contains(&"TC".into()), "fits in 1232 bytes: {v}");
}

#[test]
fn tcp_pipelining_answers_in_order() {
    use std::io::{Read, Write};
    let s = example();
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut batch = Vec::new();
    for (i, name) in ["shop.", GLUED, "nope.shop."].iter().enumerate() {
        let q = query_packet(100 + i as u16, name, 6);
        batch.extend_from_slice(&(q.len() as u16).to_be_bytes());
        batch.extend_from_slice(&q);
    }
    c.write_all(&batch).unwrap();
    for (i, rcode) in [0u8, 0, 3].iter().enumerate() {
        let mut len = [0u8; 2];
        c.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        c.read_exact(&mut msg).unwrap();
        assert_eq!(u16::from_be_bytes([msg[0], msg[1]]), 100 + i as u16);
        assert_eq!(msg[3] & 0xf, *rcode);
    }
}

#[test]
fn metrics_count_queries_and_sigterm_stops_cleanly() {
    let s = example();
    for _ in 0..3 {
        ask(&s, "shop.", "SOA", &[]);
    }
    ask(&s, "nope.shop.", "A", &["--tcp"]);
    let m = s.metrics.expect("metrics address logged");
    std::thread::sleep(Duration::from_millis(1500));
    let body = http_get(m, "/metrics");
    assert!(
        body.contains("tldd_zone_serial{zone=\"shop.\"} 2026112601"),
        "{body}"
    );
    assert!(
        body.contains("tldd_zone_delegations{zone=\"shop.\"} 300"),
        "{body}"
    );
    let soa = body
        .lines()
        .find(|l| {
            l.starts_with("tldd_queries_total") && l.contains("qtype=\"SOA\"") && l.contains("udp")
        })
        .unwrap_or_else(|| panic!("{body}"));
    assert!(soa.ends_with(" 3"), "{soa}");
    assert!(
        body.contains("rcode=\"NXDOMAIN\",transport=\"tcp\"} 1")
            || body.contains("transport=\"tcp\""),
        "{body}"
    );
    assert!(s.stop(), "SIGTERM must stop tldd with status 0");
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}

#[test]
fn bad_config_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"/tmp/x\"\nlisten_udp = 5\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4") && err.contains("listen_udp"),
        "{err}"
    );

    std::fs::write(&p, "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"/tmp/x\"\n[[zone]]\norigin = \"shop.\"\nfile = \"z\"\ntransfer_key = \"k\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["serve", "-c"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(":7:") && err.contains("zone.transfer_key"),
        "{err}"
    );
}

#[test]
fn zone_check_reports_problems_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("z");
    std::fs::write(
        &p,
        "$TTL 300\n@ SOA a.nic hm.nic 1 2 3 4 5\n@ NS a.nic\na.nic A 192.0.2.1\n\
         foo NS ns1.foo\n\
         bar NS ns.example.\nwww.bar A 192.0.2.9\n\
         c CNAME x.example.\nc TXT \"no\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["zone", "check"])
        .arg(&p)
        .args(["--origin", "shop."])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(":5: error") && text.contains("without glue"),
        "{text}"
    );
    assert!(
        text.contains(":7: error") && text.contains("not glue"),
        "{text}"
    );
    assert!(text.contains("CNAME and other data"), "{text}");

    let ok = std::process::Command::new(BIN)
        .args(["zone", "check"])
        .arg(repo("zones/shop.zone"))
        .args(["--origin", "shop"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    std::fs::write(&p, "$TTL 300\n@ NS a.nic\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["zone", "check"])
        .arg(&p)
        .args(["--origin", "shop."])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no SOA"));
}
