//! Knot DNS and NSD as secondaries of tldd over TSIG: they load the zone
//! by AXFR, follow a run of updates by NOTIFY + IXFR, and end up serving
//! exactly what tldd serves (their AXFRs equal tldd's). Also: IXFR with
//! kdig over TCP and UDP, the transfer ACL, and a pre-signed zone that
//! must stay byte-exact through tldd's store and transfers
//! (ldns-verify-zone on what a secondary serves).
use crate::support::peers::*;
use crate::support::serve as common;
use crate::support::update as update_kit;
use common::*;
use std::process::Command;
use update_kit::*;

fn metric(s: &Server, name: &str, labels: &[&str]) -> f64 {
    let addr = s.metrics.unwrap();
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    write!(c, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut t = String::new();
    c.read_to_string(&mut t).unwrap();
    t.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn knot_and_nsd_follow_tldd_by_ixfr() {
    let (kp, np) = (free_port(), free_port());
    let s = primary(
        "srs-key",
        &format!("notify = [\"127.0.0.1:{kp}\", \"127.0.0.1:{np}\"]\nallow_transfer = [\"127.0.0.1\"]\njournal_max = 50"),
        "metrics = \"127.0.0.1:0\"",
    );
    let k = knot_secondary(kp, s.addr);
    let n = nsd_secondary(np, s.addr);
    let first = serial_at(s.addr).unwrap();
    assert!(
        wait_for(30, || serial_at(k.addr) == Some(first)
            && serial_at(n.addr) == Some(first)),
        "initial AXFR: knot {:?} nsd {:?}\n{}\n{}",
        serial_at(k.addr),
        serial_at(n.addr),
        k.log(),
        n.log()
    );
    // A run of updates: adds with DS and glue, changes, deletes.
    let key = Some(("hmac-sha256", "srs-key", SECRET));
    for i in 0..6 {
        let (ok, out) = nsupdate(
            &s,
            key,
            &format!(
                "update add run{i}.shop. 3600 NS ns1.run{i}.shop.\n\
                 update add ns1.run{i}.shop. 3600 A 192.0.2.{i}\n\
                 update add run{i}.shop. 3600 DS {i} 13 2 {:064X}",
                i + 1
            ),
        );
        assert!(ok, "{out}");
    }
    let (ok, out) = nsupdate(
        &s,
        key,
        "update delete run0.shop.\nupdate delete ns1.run0.shop.\n\
         update delete run1.shop. DS\nupdate add run1.shop. 3600 NS ns.elsewhere.example.\n\
         update delete 03p8hs.shop.",
    );
    assert!(ok, "{out}");
    let last = serial_at(s.addr).unwrap();
    assert_eq!(last, first + 7);
    assert!(
        wait_for(30, || serial_at(k.addr) == Some(last)
            && serial_at(n.addr) == Some(last)),
        "follow: knot {:?} nsd {:?}\n{}\n{}",
        serial_at(k.addr),
        serial_at(n.addr),
        k.log(),
        n.log()
    );
    let ours = axfr(s.addr);
    assert!(ours.len() > 900, "{}", ours.len());
    assert!(ours
        .iter()
        .any(|l| l.starts_with("run5.shop. 3600 in ds 5 13 2")));
    assert!(!ours
        .iter()
        .any(|l| l.starts_with("run0.shop.") || l.starts_with("03p8hs.shop.")));
    assert_eq!(axfr(k.addr), ours, "Knot's copy differs");
    assert_eq!(axfr(n.addr), ours, "NSD's copy differs");
    // Both followed by IXFR, not AXFR.
    assert!(k.log().contains("IXFR"), "{}", k.log());
    assert!(
        metric(
            &s,
            "tldd_transfers_total",
            &["kind=\"ixfr\"", "result=\"ok\""]
        ) >= 2.0
    );
    assert!(metric(&s, "tldd_notify_total", &["result=\"acked\""]) >= 2.0);
    // Same answers from all three for a changed delegation.
    for addr in [s.addr, k.addr, n.addr] {
        let r = kdig_at(addr, &["www.run3.shop.", "A", "+norec"]);
        assert!(
            r.contains("ns1.run3.shop.") && r.contains("192.0.2.3"),
            "{addr}: {r}"
        );
    }
}

#[test]
fn ixfr_over_tcp_and_udp_and_the_transfer_acl() {
    let s = primary("srs-key", "journal_max = 3", "");
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let s0 = serial_at(s.addr).unwrap();
    for i in 0..5 {
        let (ok, out) = nsupdate(
            &s,
            Some(("hmac-sha256", "srs-key", SECRET)),
            &format!("update add ix{i}.shop. 3600 NS ns.example."),
        );
        assert!(ok, "{out}");
    }
    // Within the journal (3 versions): incremental.
    let ixfr = format!("IXFR={}", s0 + 3);
    let r = kdig_at(s.addr, &["shop.", &ixfr, "-y", &key]);
    let soas = r.lines().filter(|l| l.contains("\tSOA\t")).count();
    assert_eq!(soas, 6, "2 diffs => 6 SOAs: {r}");
    assert!(
        r.contains("ix3.shop.") && r.contains("ix4.shop.") && !r.contains("ix2.shop."),
        "{r}"
    );
    // Over UDP it fits, so it comes over UDP.
    let r = kdig_at(s.addr, &["shop.", &ixfr, "-y", &key, "+notcp"]);
    assert!(r.contains("(UDP)") && r.contains("ix4.shop."), "{r}");
    // Older than the journal: AXFR form.
    let r = kdig_at(s.addr, &["shop.", &format!("IXFR={s0}"), "-y", &key]);
    assert!(
        r.contains("05z2v7f.shop.") && r.contains("ix0.shop."),
        "{r}"
    );
    // Up to date: the SOA alone.
    let r = kdig_at(
        s.addr,
        &["shop.", &format!("IXFR={}", s0 + 5), "-y", &key, "+notcp"],
    );
    assert_eq!(
        r.lines().filter(|l| l.contains("\tSOA\t")).count(),
        1,
        "{r}"
    );
    // No key, wrong key: REFUSED; not our zone: NOTAUTH.
    assert!(kdig_at(s.addr, &["shop.", "AXFR"]).contains("REFUSED"));
    let wrong = format!("hmac-sha256:srs-key:{SECRET}");
    assert!(kdig_at(s.addr, &["shop.", "AXFR", "-y", &wrong]).contains("REFUSED"));
    assert!(kdig_at(s.addr, &["example.", "AXFR", "-y", &key]).contains("NOTAUTH"));
    // An ACL that excludes us.
    let s2 = primary("srs-key", "allow_transfer = [\"192.0.2.0/24\"]", "");
    assert!(kdig_at(s2.addr, &["shop.", "AXFR", "-y", &key]).contains("REFUSED"));
}

/// Signs the example zone with ldns (NSEC3) into `dir`; returns the file.
fn presigned(dir: &std::path::Path) -> std::path::PathBuf {
    let zone = dir.join("shop.zone");
    std::fs::copy(repo("zones/shop.zone"), &zone).unwrap();
    let run = |c: &mut Command| {
        let o = c
            .current_dir(dir)
            .output()
            .expect("ldnsutils must be installed");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let ksk = run(Command::new("ldns-keygen").args(["-a", "ECDSAP256SHA256", "-k", "shop."]));
    let zsk = run(Command::new("ldns-keygen").args(["-a", "ECDSAP256SHA256", "shop."]));
    run(Command::new("ldns-signzone").args(["-n", "shop.zone", &ksk, &zsk]));
    dir.join("shop.zone.signed")
}

#[test]
fn a_presigned_zone_stays_valid_through_store_and_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let signed = presigned(dir.path());
    let kp = free_port();
    let s = Server::start(
        "",
        &format!(
            "{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\ntransfer_key = \"xfr-key\"\nnotify = [\"127.0.0.1:{kp}\"]\n",
            keys_toml(),
            signed.display()
        ),
    );
    let k = knot_secondary(kp, s.addr);
    let serial = serial_at(s.addr).unwrap();
    assert!(
        wait_for(30, || serial_at(k.addr) == Some(serial)),
        "{}",
        k.log()
    );
    for (who, addr) in [("tldd", s.addr), ("knot", k.addr)] {
        let key = format!("hmac-sha256:xfr-key:{SECRET}");
        let text = kdig_at(
            addr,
            &["shop.", "AXFR", "-y", &key, "+nocomments", "+nostats"],
        );
        let text: String = text
            .lines()
            .filter(|l| !l.contains("\tTSIG\t"))
            .map(|l| format!("{l}\n"))
            .collect();
        let f = dir.path().join(format!("{who}.axfr"));
        std::fs::write(&f, &text).unwrap();
        let o = Command::new("ldns-verify-zone").arg(&f).output().unwrap();
        assert!(
            o.status.success(),
            "{who}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(axfr(k.addr), axfr(s.addr));
    // DO answers carry the stored signatures.
    let r = s.kdig(&["shop.", "SOA", "+dnssec"]);
    assert!(r.contains("RRSIG"), "{r}");
}

/// NOTIFY retries are the zone loop's: a target that never answers gets
/// the new version's NOTIFY five times (after 0, 1, 2, 4 and 8 s), each a
/// NOTIFY for the zone with the new SOA, signed with the zone's transfer
/// key, and then no more; the failure is counted. (A target that answers
/// is notified once: `knot_and_nsd_follow_tldd_by_ixfr`.)
#[test]
fn notify_is_retried_five_times_then_given_up() {
    use hickory_proto::op::{Message, MessageType, OpCode};
    use std::time::Duration;
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = primary(
        "srs-key",
        &format!("notify = [\"{}\"]", silent.local_addr().unwrap()),
        "metrics = \"127.0.0.1:0\"",
    );
    let (ok, out) = nsupdate(
        &s,
        Some(("hmac-sha256", "srs-key", SECRET)),
        "update add notified.shop. 3600 IN NS ns1.example.net.",
    );
    assert!(ok, "{out}");
    let serial = serial_at(s.addr).unwrap();
    // Count until nothing comes for longer than the last back-off (8 s).
    silent
        .set_read_timeout(Some(Duration::from_secs(12)))
        .unwrap();
    let mut buf = [0u8; 1500];
    let mut tries = 0;
    while let Ok((n, _)) = silent.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).expect("a NOTIFY decodes");
        assert_eq!(m.op_code, OpCode::Notify);
        assert_eq!(m.message_type, MessageType::Query);
        assert_eq!(m.queries[0].name().to_ascii(), "shop.");
        match m.answers.first().map(|r| &r.data) {
            Some(hickory_proto::rr::RData::SOA(soa)) => assert_eq!(soa.serial, serial),
            other => panic!("NOTIFY without the SOA: {other:?}"),
        }
        assert!(m.signature().is_some(), "signed with the transfer key");
        tries += 1;
        assert!(tries <= 5, "more than five tries");
    }
    assert_eq!(tries, 5);
    assert_eq!(metric(&s, "tldd_notify_total", &["result=\"sent\""]), 5.0);
    assert_eq!(metric(&s, "tldd_notify_total", &["result=\"failed\""]), 1.0);
}
