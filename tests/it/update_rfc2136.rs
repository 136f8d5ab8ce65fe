//! RFC 2136 updates with TSIG against a running `tldd serve`, driven by
//! the real clients: BIND's `nsupdate -y`, Knot's `knsupdate -y`, and
//! dnspython (tests/update_tool.py) for what those cannot do (clock skew,
//! replays, fuzzing). Answers are checked with kdig.
use crate::support::serve as common;
use crate::support::update as update_kit;
use common::*;
use serde_json::Value;
use update_kit::*;

const K256: (&str, &str, &str) = ("hmac-sha256", "srs-key", SECRET);

fn tool(args: &[&str]) -> Value {
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(repo("tests/update_tool.py"))
        .args(args)
        .output()
        .expect("/usr/bin/python3 with dnspython");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

fn send(s: &Server, key: &str, ops: &str, extra: &[&str]) -> Value {
    let (ip, port) = (s.addr.ip().to_string(), s.port().to_string());
    let mut args = vec!["send", &ip, &port, key, ops];
    args.extend_from_slice(extra);
    tool(&args)
}

fn spec(k: (&str, &str, &str)) -> String {
    format!("{}:{}:{}", k.0, k.1, k.2)
}

#[test]
fn nsupdate_adds_changes_and_deletes_a_delegation_with_ds_and_glue() {
    let s = primary("srs-key", "", "");
    let before = serial_at(s.addr).unwrap();
    let (ok, out) = nsupdate(
        &s,
        Some(K256),
        "update add example1.shop. 3600 NS ns1.example1.shop.\n\
         update add example1.shop. 3600 NS ns2.elsewhere.example.\n\
         update add ns1.example1.shop. 3600 A 192.0.2.10\n\
         update add ns1.example1.shop. 3600 AAAA 2001:db8::10\n\
         update add example1.shop. 3600 DS 4711 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
    );
    assert!(ok, "{out}");
    assert_eq!(serial_at(s.addr), Some(before + 1));
    // A referral with glue, with and without DO (the zone is unsigned: no DS).
    for dnssec in ["+nodnssec", "+dnssec"] {
        let r = s.kdig(&["www.example1.shop.", "A", "+norec", dnssec]);
        assert!(r.contains("status: NOERROR"), "{r}");
        assert!(
            r.contains("example1.shop.") && r.contains("NS\tns1.example1.shop."),
            "{r}"
        );
        assert!(
            r.contains("192.0.2.10") && r.contains("2001:db8::10"),
            "{r}"
        );
        assert!(
            !r.contains("flags: qr aa"),
            "referral must not be authoritative: {r}"
        );
    }
    let r = s.kdig(&["example1.shop.", "DS", "+short"]);
    assert!(r.contains("4711 13 2"), "{r}");

    // Change: replace the NS set and the glue address, drop the DS.
    let (ok, out) = nsupdate(
        &s,
        Some(K256),
        "update delete example1.shop. NS\n\
         update add example1.shop. 7200 NS ns1.example1.shop.\n\
         update delete ns1.example1.shop. A 192.0.2.10\n\
         update add ns1.example1.shop. 7200 A 192.0.2.11\n\
         update delete example1.shop. DS",
    );
    assert!(ok, "{out}");
    let r = s.kdig(&["www.example1.shop.", "A", "+norec"]);
    assert!(r.contains("7200") && r.contains("192.0.2.11"), "{r}");
    assert!(
        !r.contains("ns2.elsewhere") && !r.contains("192.0.2.10"),
        "{r}"
    );
    assert!(s
        .kdig(&["example1.shop.", "DS"])
        .contains("status: NOERROR"));
    assert!(!s.kdig(&["example1.shop.", "DS", "+short"]).contains("4711"));

    // Delete the delegation with its glue: NXDOMAIN again.
    let (ok, out) = nsupdate(
        &s,
        Some(K256),
        "update delete example1.shop.\nupdate delete ns1.example1.shop.",
    );
    assert!(ok, "{out}");
    let r = s.kdig(&["www.example1.shop.", "A", "+norec"]);
    assert!(r.contains("status: NXDOMAIN"), "{r}");
    assert_eq!(serial_at(s.addr), Some(before + 3));
}

#[test]
fn knsupdate_with_sha512_and_nsupdate_with_sha1_keys() {
    let s = primary("srs512", "", "");
    let (ok, out) = knsupdate(
        &s,
        ("hmac-sha512", "srs512", SECRET512),
        "update add knot1.shop. 3600 NS ns.knot1.shop.\n\
         update add ns.knot1.shop. 3600 A 198.51.100.7",
    );
    assert!(ok && out.contains("NOERROR"), "{out}");
    assert!(s.kdig(&["x.knot1.shop.", "A"]).contains("198.51.100.7"));
    // Another valid key that is not this zone's update_key: REFUSED.
    let (ok, out) = nsupdate(&s, Some(K256), "update add nope.shop. 3600 NS ns.example.");
    assert!(!ok && out.contains("REFUSED"), "{out}");

    let s = primary("old-peer", "", "");
    let (ok, out) = nsupdate(
        &s,
        Some(("hmac-sha1", "old-peer", SECRET1)),
        "update add old1.shop. 3600 NS ns.example.",
    );
    assert!(ok, "{out}");
    assert!(s.kdig(&["old1.shop.", "NS"]).contains("ns.example."));
}

#[test]
fn bad_keys_times_and_unsigned_updates_get_the_rfc_answers() {
    let s = primary("srs-key", "", "");
    let serial = serial_at(s.addr).unwrap();
    let add = r#"[["add","bad1.shop.",3600,"NS","ns.example."]]"#;
    // Unsigned: REFUSED (RFC 2136 §3.3), no TSIG in the answer.
    let v = send(&s, "-", add, &[]);
    assert_eq!(v["rcode"], "REFUSED", "{v}");
    // Wrong secret: NOTAUTH + BADSIG, unsigned (RFC 8945 §5.2.2).
    let v = send(
        &s,
        "hmac-sha256:srs-key:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        add,
        &[],
    );
    assert_eq!(
        (v["rcode"].as_str(), v["tsig_error"].as_u64()),
        (Some("NOTAUTH"), Some(16)),
        "{v}"
    );
    assert_eq!(v["signed_ok"], false);
    // Unknown key: NOTAUTH + BADKEY, unsigned.
    let v = send(&s, &format!("hmac-sha256:who-is-this:{SECRET}"), add, &[]);
    assert_eq!(
        (v["rcode"].as_str(), v["tsig_error"].as_u64()),
        (Some("NOTAUTH"), Some(17)),
        "{v}"
    );
    // Known name, other algorithm: BADKEY.
    let v = send(&s, &format!("hmac-sha512:srs-key:{SECRET}"), add, &[]);
    assert_eq!(v["tsig_error"].as_u64(), Some(17), "{v}");
    // Clock skew beyond the fudge (both ways): NOTAUTH + BADTIME, signed.
    for skew in ["-1000", "1000"] {
        let v = send(&s, &spec(K256), add, &["--skew", skew]);
        assert_eq!(
            (v["rcode"].as_str(), v["tsig_error"].as_u64()),
            (Some("NOTAUTH"), Some(18)),
            "{v}"
        );
        assert_eq!(v["signed_ok"], true, "BADTIME answers are signed: {v}");
    }
    // Inside the fudge is fine.
    let v = send(&s, &spec(K256), add, &["--skew", "-200"]);
    assert_eq!(v["rcode"], "NOERROR", "{v}");
    assert_eq!(v["signed_ok"], true);
    // nsupdate reports the BADSIG case too.
    let (ok, out) = nsupdate(
        &s,
        Some((
            "hmac-sha256",
            "srs-key",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )),
        "update add bad2.shop. 3600 NS ns.example.",
    );
    assert!(!ok, "{out}");
    assert_eq!(
        serial_at(s.addr),
        Some(serial + 1),
        "only the good update applied"
    );
    // A zone without update_key refuses even a signed update.
    let s2 = Server::start(
        "",
        &format!(
            "{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n",
            keys_toml(),
            repo("zones/shop.zone").display()
        ),
    );
    let v = send(&s2, &spec(K256), add, &[]);
    assert_eq!(v["rcode"], "REFUSED", "{v}");
    assert_eq!(v["signed_ok"], true);
}

#[test]
fn policy_zone_and_prerequisite_errors() {
    let s = primary("srs-key", "", "");
    let k = spec(K256);
    let rc = |ops: &str| {
        send(&s, &k, ops, &[])["rcode"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Apex edits of every kind are refused.
    for ops in [
        r#"[["add","shop.",3600,"NS","x.example."]]"#,
        r#"[["delete","shop.","NS"]]"#,
        r#"[["add","shop.",3600,"SOA","a.nic.shop. h.nic.shop. 1 2 3 4 5"]]"#,
        r#"[["add","shop.",3600,"DNSKEY","257 3 13 AAAA"]]"#,
        r#"[["add","shop.",0,"NSEC3PARAM","1 0 0 -"]]"#,
        r#"[["delete","shop."]]"#,
    ] {
        assert_eq!(rc(ops), "REFUSED", "{ops}");
    }
    // Types outside NS/DS/A/AAAA, and shapes that are not a TLD.
    for ops in [
        r#"[["add","x1.shop.",3600,"TXT","hello"]]"#,
        r#"[["add","x1.shop.",3600,"RRSIG","NS 13 2 3600 20300101000000 20200101000000 1 shop. AAAA"]]"#,
        r#"[["add","x1.shop.",3600,"DS","1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"]]"#,
        r#"[["add","ns.x1.shop.",3600,"A","192.0.2.1"]]"#,
        r#"[["add","x1.shop.",3600,"NS","ns.x1.shop."]]"#,
        r#"[["add","sub.05z2v7f.shop.",3600,"NS","ns.example."]]"#,
        r#"[["delete","05z2v7f.shop.","NS"]]"#,
        r#"[["delete","a.nic.shop."]]"#,
        r#"[["add","a.nic.shop.",3600,"A","192.0.2.99"]]"#,
        r#"[["delete","a.nic.shop.","AAAA"]]"#,
    ] {
        assert_eq!(rc(ops), "REFUSED", "{ops}");
    }
    // With EDNS the refusal says why (RFC 8914): 18 Prohibited and the
    // policy's reason, which the SRS logs.
    let v = send(
        &s,
        &k,
        r#"[["add","shop.",3600,"NS","x.example."]]"#,
        &["--edns"],
    );
    assert_eq!(v["rcode"], "REFUSED");
    assert_eq!(v["signed_ok"], true, "{v}");
    let ede = &v["ede"][0];
    assert_eq!(ede[0], 18, "{v}");
    assert!(ede[1].as_str().is_some_and(|t| t.contains("apex")), "{v}");
    // Unsigned: 18 with the reason, and no EDE without EDNS.
    let v = send(
        &s,
        "-",
        r#"[["add","x9.shop.",3600,"NS","ns.example."]]"#,
        &["--edns"],
    );
    assert_eq!(v["rcode"], "REFUSED");
    assert_eq!(v["ede"][0][0], 18, "{v}");
    assert_eq!(v["ede"][0][1], "unsigned update", "{v}");
    let v = send(&s, &k, r#"[["add","shop.",3600,"NS","x.example."]]"#, &[]);
    assert!(v.get("ede").is_none(), "{v}");
    // Out of zone: NOTZONE. Not our zone: NOTAUTH.
    assert_eq!(
        rc(r#"[["add","x.example.",3600,"NS","ns.example."]]"#),
        "NOTZONE"
    );
    let v = tool(&[
        "send",
        &s.addr.ip().to_string(),
        &s.port().to_string(),
        &k,
        r#"[["add","x.shop.",3600,"NS","ns.example."]]"#,
    ]);
    assert_eq!(v["rcode"], "NOERROR");
    // Prerequisites: all five kinds, success and failure.
    assert_eq!(
        rc(r#"[["present","x.shop."],["add","x.shop.",3600,"NS","ns2.example."]]"#),
        "NOERROR"
    );
    assert_eq!(
        rc(r#"[["present","nx.shop."],["add","nx.shop.",3600,"NS","ns2.example."]]"#),
        "NXDOMAIN"
    );
    assert_eq!(
        rc(r#"[["absent","x.shop."],["add","x.shop.",3600,"NS","ns3.example."]]"#),
        "YXDOMAIN"
    );
    assert_eq!(
        rc(r#"[["present","x.shop.","DS"],["delete","x.shop.","NS"]]"#),
        "NXRRSET"
    );
    assert_eq!(
        rc(r#"[["absent","x.shop.","NS"],["delete","x.shop.","NS"]]"#),
        "YXRRSET"
    );
    assert_eq!(
        rc(
            r#"[["present","x.shop.","NS","ns.example."],["delete","x.shop.","NS","ns2.example."]]"#
        ),
        "NXRRSET"
    );
    assert_eq!(
        rc(r#"[["absent","y.shop."],["add","y.shop.",3600,"NS","ns.example."]]"#),
        "NOERROR"
    );
    let r = s.kdig(&["x.shop.", "NS", "+norec"]);
    assert!(
        r.contains("ns.example.") && r.contains("ns2.example.") && !r.contains("ns3"),
        "{r}"
    );
    // Glue its delegation still needs cannot go alone (a lame
    // delegation), and nothing below a cut that no NS names is published.
    assert_eq!(
        rc(
            r#"[["add","g.shop.",3600,"NS","ns1.g.shop."],["add","ns1.g.shop.",3600,"A","192.0.2.7"]]"#
        ),
        "NOERROR"
    );
    for ops in [
        r#"[["delete","ns1.g.shop.","A"]]"#,
        r#"[["delete","ns1.g.shop.","A","192.0.2.7"]]"#,
        r#"[["delete","ns1.g.shop."]]"#,
        r#"[["add","a.b.g.shop.",3600,"A","192.0.2.8"]]"#,
        r#"[["add","ns2.g.shop.",3600,"AAAA","2001:db8::8"]]"#,
    ] {
        assert_eq!(rc(ops), "REFUSED", "{ops}");
    }
    let r = s.kdig(&["www.g.shop.", "A", "+norec"]);
    assert!(r.contains("192.0.2.7"), "glue still served: {r}");
    let r = s.kdig(&["a.b.g.shop.", "A", "+norec"]);
    assert!(!r.contains("192.0.2.8"), "{r}");
    // Renumbering the server, or moving the delegation with its glue, is fine.
    assert_eq!(
        rc(
            r#"[["add","ns1.g.shop.",3600,"A","192.0.2.9"],["delete","ns1.g.shop.","A","192.0.2.7"]]"#
        ),
        "NOERROR"
    );
    assert_eq!(
        rc(r#"[["delete","g.shop.","NS"],["delete","ns1.g.shop."]]"#),
        "NOERROR"
    );
    // Not our zone.
    let (ok, out) = {
        let script = format!(
            "server {} {}\nzone example.\nupdate add a.example. 60 A 192.0.2.1\nsend\n",
            s.addr.ip(),
            s.port()
        );
        let mut c = std::process::Command::new("nsupdate");
        c.arg("-y").arg(format!("hmac-sha256:srs-key:{SECRET}"));
        use std::io::Write;
        let mut ch = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        ch.stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let o = ch.wait_with_output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert!(!ok && out.contains("NOTAUTH"), "{out}");
}

#[test]
fn updates_over_tcp_replays_and_garbage() {
    let s = primary("srs-key", "", "");
    let k = spec(K256);
    let serial = serial_at(s.addr).unwrap();
    let v = send(
        &s,
        &k,
        r#"[["add","tcp1.shop.",3600,"NS","ns.example."]]"#,
        &["--tcp"],
    );
    assert_eq!(v["rcode"], "NOERROR");
    assert_eq!(v["signed_ok"], true);
    // The same signed packet twice: one change, the same answer twice.
    let ip = s.addr.ip().to_string();
    let port = s.port().to_string();
    let v = tool(&[
        "replay",
        &ip,
        &port,
        &k,
        r#"[["add","rp1.shop.",3600,"NS","ns.example."]]"#,
    ]);
    assert_eq!(v[0]["rcode"], "NOERROR");
    assert_eq!(v[1]["rcode"], "NOERROR");
    assert_eq!(serial_at(s.addr), Some(serial + 2), "{v}");
    // 3000 mutated signed updates: never a crash, still answering.
    let v = tool(&["fuzz", &ip, &port, &k, "3000"]);
    assert_eq!(v["answered"], true, "{v}");
    let v = tool(&["fuzz", &ip, &port, "-", "1000"]);
    assert_eq!(v["answered"], true, "{v}");
    assert!(s.stop(), "clean shutdown after fuzzing");
}

#[test]
fn acknowledged_updates_survive_a_restart_and_metrics_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nmetrics = \"127.0.0.1:0\"\n{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\nserial_policy = \"unixtime\"\n",
            dir.path().join("data").display(),
            keys_toml(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    let keep = tempfile::tempdir().unwrap();
    let s = Server::start_with_config(&cfg, keep);
    let (ok, out) = nsupdate(
        &s,
        Some(K256),
        "update add persist1.shop. 3600 NS ns.example.",
    );
    assert!(ok, "{out}");
    let serial = serial_at(s.addr).unwrap();
    // The example serial (2026112601, date style) is ahead of the Unix
    // time in RFC 1982 terms, so "unixtime" must fall back to old + 1.
    assert_eq!(serial, 2026112602);
    let (ok, _) = nsupdate(&s, None, "update add unsigned.shop. 3600 NS ns.example.");
    assert!(!ok);
    let metrics = http_get(s.metrics.unwrap(), "/metrics");
    let value = |name: &str, label: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains(label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert_eq!(
        value("tldd_updates_total{", "result=\"accepted\""),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value("tldd_updates_total{", "result=\"unauthorized\""),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value("tldd_update_publish_seconds_count", "shop."),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value("tldd_journal_entries", "shop."),
        Some(1.0),
        "{metrics}"
    );
    // SIGKILL, restart: the update is served from the store, not the file.
    let mut s = s;
    let _ = s.child.kill();
    let _ = s.child.wait();
    let s2 = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    assert_eq!(serial_at(s2.addr), Some(serial));
    assert!(s2.kdig(&["persist1.shop.", "NS"]).contains("ns.example."));
    assert!(s2
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("loaded from the store")));
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    s
}
