//! `tldd ctl` against a running server: status and zone-status as a script
//! would read them (and as JSON), a zone-status that follows an update
//! made with `nsupdate`, a NOTIFY sent on command and received by a UDP
//! socket standing in for a secondary, updates answered SERVFAIL while the
//! zone is frozen and applied after the thaw, a flushed zone that BIND's
//! `named-checkzone` accepts at the served serial, refusals (exit 1) and
//! no server (exit 2).
use crate::support::serve as common;
use crate::support::update as update_kit;
use common::*;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};
use update_kit::*;

pub(crate) fn ctl(cfg: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("ctl")
        .arg("-c")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `key: value` of the first block.
pub(crate) fn fact(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")).map(str::to_string))
}

/// Waits for a NOTIFY (opcode 4) for `shop.`, answers it (so the server
/// stops retrying) and returns its id.
fn next_notify(sock: &UdpSocket, within: Duration) -> Option<u16> {
    let end = Instant::now() + within;
    let mut buf = [0u8; 1500];
    while Instant::now() < end {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let p = &buf[..n];
        if n < 12 || (p[2] >> 3) & 0xf != 4 || p[2] & 0x80 != 0 {
            continue;
        }
        let mut answer = p.to_vec();
        answer[2] |= 0x80; // QR
        let _ = sock.send_to(&answer, from);
        return Some(u16::from_be_bytes([p[0], p[1]]));
    }
    None
}

#[test]
fn ctl_reports_orders_and_flushes() {
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    target
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let s = Server::start(
        &keys_toml(),
        &format!(
            "[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\nnotify = [\"{}\"]\n",
            repo("zones/shop.zone").display(),
            target.local_addr().unwrap()
        ),
    );
    let cfg = s.dir.path().join("tldd.toml");

    let (code, out, err) = ctl(&cfg, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fact(&out, "zones").as_deref(), Some("1"), "{out}");
    assert!(
        fact(&out, "listen").is_some_and(|l| l.contains(&s.addr.to_string())),
        "{out}"
    );

    let serial = serial_at(s.addr).unwrap();
    let (code, out, _) = ctl(&cfg, &["zone-status", "shop"]);
    assert_eq!(code, 0);
    assert_eq!(fact(&out, "serial"), Some(serial.to_string()), "{out}");
    assert_eq!(fact(&out, "role").as_deref(), Some("primary"));
    assert_eq!(fact(&out, "signed").as_deref(), Some("no"));
    let entries: u64 = fact(&out, "journal_entries").unwrap().parse().unwrap();

    // An update moves what zone-status reports.
    let (ok, o) = nsupdate(
        &s,
        Some(("hmac-sha256", "srs-key", SECRET)),
        "update add ctl-test.shop. 3600 NS ns.example.net.",
    );
    assert!(ok, "{o}");
    let (_, out, _) = ctl(&cfg, &["--json", "zone-status"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let now = serial_at(s.addr).unwrap();
    assert_ne!(now, serial);
    assert_eq!(v[0]["serial"], now.to_string(), "{v}");
    assert_eq!(v[0]["journal_entries"], (entries + 1).to_string(), "{v}");

    // NOTIFY on command: the update's own NOTIFY first, then ours.
    assert!(next_notify(&target, Duration::from_secs(10)).is_some());
    while next_notify(&target, Duration::from_millis(500)).is_some() {}
    let (code, out, err) = ctl(&cfg, &["zone-notify", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&now.to_string()), "{out}");
    assert!(
        next_notify(&target, Duration::from_secs(10)).is_some(),
        "no NOTIFY after zone-notify"
    );

    // The served zone as text, checked by BIND at the served serial.
    let file = s.dir.path().join("flushed.zone");
    let (code, out, err) = ctl(
        &cfg,
        &["zone-flush", "shop.", "--out", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("records: "), "{out}");
    let check = Command::new("named-checkzone")
        // Local integrity checks only: no lookups of out-of-zone names.
        .args(["-i", "local", "shop.", file.to_str().unwrap()])
        .output()
        .expect("named-checkzone (bind9-utils)");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
    assert!(text.contains(&format!("serial {now}")), "{text}");
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("ctl-test.shop."));

    // Frozen: updates get SERVFAIL (retried by senders), then apply again.
    let add = |n: &str| {
        nsupdate(
            &s,
            Some(("hmac-sha256", "srs-key", SECRET)),
            &format!("update add {n}.shop. 3600 NS ns.example.net."),
        )
    };
    let (code, _, err) = ctl(&cfg, &["zone-freeze", "shop."]);
    assert_eq!(code, 0, "{err}");
    let (ok, o) = add("frozen-test");
    assert!(!ok && o.contains("SERVFAIL"), "{o}");
    let (_, out, _) = ctl(&cfg, &["zone-status", "shop."]);
    assert!(
        fact(&out, "frozen").is_some_and(|f| f.starts_with("yes")),
        "{out}"
    );
    assert_eq!(ctl(&cfg, &["zone-freeze", "shop."]).0, 1, "frozen twice");
    assert_eq!(ctl(&cfg, &["zone-thaw", "shop."]).0, 0);
    let (ok, o) = add("thawed-test");
    assert!(ok, "{o}");
    assert_eq!(ctl(&cfg, &["zone-thaw", "shop."]).0, 1, "thawed twice");

    // Refusals: a primary has no refresh; an unknown zone.
    let (code, _, err) = ctl(&cfg, &["zone-refresh", "shop."]);
    assert_eq!(code, 1);
    assert!(err.contains("not a secondary"), "{err}");
    let (code, _, err) = ctl(&cfg, &["zone-status", "example."]);
    assert_eq!(code, 1);
    assert!(err.contains("no zone example."), "{err}");

    // The socket is the owner's only.
    let sock = s.dir.path().join("data/ctl.sock");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let keep = tempfile::tempdir().unwrap();
    let kept = keep.path().join("tldd.toml");
    std::fs::copy(&cfg, &kept).unwrap();
    assert!(s.stop());
    let (code, _, err) = ctl(&kept, &["status"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no server"), "{err}");
}

/// `/health` on the metrics listener: 200 while every zone is fit; a
/// secondary whose primary never answered is not served, so 503, naming
/// it (and still saying the other zone is fine).
#[test]
fn health_names_the_unfit_zone() {
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap(); // a primary that never answers
    let s = Server::start(
        "metrics = \"127.0.0.1:0\"\n",
        &format!(
            "[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n",
            repo("zones/shop.zone").display()
        ),
    );
    let port = s.metrics.unwrap().port();
    let (code, _, body) = crate::support::whois::http(port, "GET", "/health");
    assert_eq!(code, 200, "{body}");
    assert!(body.starts_with("ok shop.: serial "), "{body}");
    drop(s);

    let s = Server::start(
        "metrics = \"127.0.0.1:0\"\n",
        &format!(
            "[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n[[zone]]\norigin = \"sec.example.\"\nprimary = \"{}\"\n",
            repo("zones/shop.zone").display(),
            dead.local_addr().unwrap()
        ),
    );
    let port = s.metrics.unwrap().port();
    let (code, _, body) = crate::support::whois::http(port, "GET", "/health");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("ok shop.: serial "), "{body}");
    assert!(body.contains("unfit sec.example.: not served"), "{body}");
    drop(s);

    // Signed, with signatures that do not last as long as asked.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nmetrics = \"127.0.0.1:0\"\n\
             health_min_signature_validity = 315360000\n\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n[zone.dnssec]\nkeystore = \"soft\"\n",
            dir.path().join("data").display(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    crate::support::dnssec::ksk_and_zsk(&cfg, "shop.");
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    let port = s.metrics.unwrap().port();
    let (code, _, body) = crate::support::whois::http(port, "GET", "/health");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("unfit shop.: serial") && body.contains("apex signatures expire in"),
        "{body}"
    );
}
