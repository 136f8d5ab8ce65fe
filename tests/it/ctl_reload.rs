//! `tldd ctl reload` and SIGHUP against a running server, checked by what
//! clients see: a zone added by the reload answers (and one removed is
//! REFUSED), a new `allow_transfer` lets an AXFR through, a changed TSIG
//! secret is the only one `nsupdate` can sign with, a changed NOTIFY list
//! restarts the zone's loop and updates still apply, a listen address added
//! answers and a removed one falls silent; a broken file is refused with its
//! line and key while the old configuration keeps serving; and a client
//! asking all along never misses an answer.
use crate::ctl::{ctl, fact};
use crate::support::ports::free_port;
use crate::support::serve::*;
use crate::support::update::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// base64 of 32 bytes: the srs-key secret after the reload.
const NEW_SECRET: &str = "bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=";

/// A client asking shop. SOA over UDP until stopped: (asked, answered).
fn asker(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u32, u32)> {
    std::thread::spawn(move || {
        let (mut asked, mut answered) = (0, 0);
        while !stop.load(Ordering::Relaxed) {
            asked += 1;
            let q = query_packet(asked as u16, "shop.", 6);
            if let Some(a) = udp_exchange(addr, &q, Duration::from_secs(2)) {
                // NOERROR with one answer.
                if a.len() > 12 && a[3] & 0xf == 0 && a[7] == 1 {
                    answered += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (asked, answered)
    })
}

fn rcode(addr: SocketAddr, name: &str) -> String {
    let out = kdig_at(addr, &[name, "SOA"]);
    out.split("status: ")
        .nth(1)
        .and_then(|r| r.split([',', ';']).next())
        .unwrap_or("no answer")
        .to_string()
}

#[test]
fn reload_applies_zones_keys_acls_and_listeners_and_refuses_a_broken_file() {
    let zone = |origin: &str| {
        format!(
            "[[zone]]\norigin = \"{origin}\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\n",
            repo("zones/shop.zone").display()
        )
    };
    let s = Server::start(&keys_toml(), &zone("shop."));
    let cfg = s.dir.path().join("tldd.toml");
    let base = std::fs::read_to_string(&cfg).unwrap();
    let example = s.dir.path().join("example.zone");
    std::fs::write(
        &example,
        "$TTL 300\n@ SOA ns.example. host.example. 7 3600 600 86400 300\n@ NS ns.example.\nns A 192.0.2.53\nwww A 192.0.2.80\n",
    )
    .unwrap();
    let example_zone = format!(
        "[[zone]]\norigin = \"example.\"\nfile = \"{}\"\n",
        example.display()
    );
    assert!(axfr_lines(s.addr).is_empty(), "AXFR allowed before any ACL");
    assert_eq!(rcode(s.addr, "example."), "REFUSED");

    let stop = Arc::new(AtomicBool::new(false));
    let client = asker(s.addr, stop.clone());

    // Reload 1: a zone, an ACL, a new secret, a second listen address.
    let port = free_port();
    let second: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let v1 =
        base.replace(
            "listen = [\"127.0.0.1:0\"]",
            &format!("listen = [\"127.0.0.1:0\", \"{second}\"]"),
        )
        .replacen(SECRET, NEW_SECRET, 1)
        .replace(
            "update_key = \"srs-key\"\n",
            "update_key = \"srs-key\"\nallow_transfer = [\"127.0.0.1\"]\n",
        ) + &example_zone;
    assert_ne!(v1, base);
    std::fs::write(&cfg, &v1).unwrap();
    let (code, out, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        fact(&out, "zones_added").as_deref(),
        Some("example."),
        "{out}"
    );
    assert_eq!(
        fact(&out, "zones_reconfigured").as_deref(),
        Some("shop."),
        "{out}"
    );
    assert!(
        fact(&out, "listen_added").is_some_and(|l| l.contains(&second.to_string())),
        "{out}"
    );
    assert_eq!(fact(&out, "restart_needed").as_deref(), Some("-"), "{out}");
    assert_eq!(rcode(s.addr, "example."), "NOERROR");
    assert!(kdig_at(s.addr, &["www.example.", "A", "+short"]).contains("192.0.2.80"));
    assert_eq!(rcode(second, "shop."), "NOERROR", "the added listener");
    assert!(
        axfr_lines(s.addr).iter().any(|l| l.contains(" soa ")),
        "AXFR refused after allow_transfer was added"
    );
    let (ok, o) = nsupdate(
        &s,
        Some(("hmac-sha256", "srs-key", SECRET)),
        "update add old-key.shop. 3600 NS ns.example.net.",
    );
    assert!(!ok, "the replaced secret still signs updates: {o}");
    let before = serial_at(s.addr).unwrap();
    let (ok, o) = nsupdate(
        &s,
        Some(("hmac-sha256", "srs-key", NEW_SECRET)),
        "update add new-key.shop. 3600 NS ns.example.net.",
    );
    assert!(ok, "{o}");
    assert_ne!(serial_at(s.addr), Some(before));

    // Reload 2: NOTIFY targets change, the loop restarts, updates go on.
    let v2 = v1.replace(
        "allow_transfer = [\"127.0.0.1\"]\n",
        "allow_transfer = [\"127.0.0.1\"]\nnotify = [\"127.0.0.1:9\"]\n",
    );
    std::fs::write(&cfg, &v2).unwrap();
    let served = serial_at(s.addr).unwrap();
    let (code, out, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        fact(&out, "zones_restarted").as_deref(),
        Some("shop."),
        "{out}"
    );
    assert_eq!(
        serial_at(s.addr),
        Some(served),
        "a restart changed the zone"
    );
    let (ok, o) = nsupdate(
        &s,
        Some(("hmac-sha256", "srs-key", NEW_SECRET)),
        "update add after-restart.shop. 3600 NS ns.example.net.",
    );
    assert!(ok, "no updates after the loop restarted: {o}");
    assert!(kdig_at(s.addr, &["after-restart.shop.", "NS"]).contains("ns.example.net."));

    // A broken file: refused with line and key, nothing changes.
    let broken = v2.replace("udp_workers = 2\n", "udp_workers = 2\nudp_wrokers = 3\n");
    std::fs::write(&cfg, &broken).unwrap();
    let (code, out, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("udp_wrokers") && err.contains("tldd.toml"),
        "no key and file in the refusal: {err}"
    );
    let missing = v2.clone() + "[[zone]]\norigin = \"gone.\"\nfile = \"/nonexistent/gone.zone\"\n";
    std::fs::write(&cfg, &missing).unwrap();
    let (code, out, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("gone."), "{err}");
    assert_eq!(rcode(s.addr, "gone."), "REFUSED");
    assert_eq!(rcode(s.addr, "example."), "NOERROR");

    // SIGHUP: example. and the second listener go.
    std::fs::write(
        &cfg,
        v2.replace(&example_zone, "")
            .replace(&format!(", \"{second}\""), ""),
    )
    .unwrap();
    unsafe_kill(s.child.id(), 1);
    assert!(
        wait_for(20, || rcode(s.addr, "example.") == "REFUSED"),
        "example. still served after SIGHUP"
    );
    assert!(wait_for(10, || udp_exchange(
        second,
        &query_packet(1, "shop.", 6),
        Duration::from_millis(300)
    )
    .is_none()));
    assert!(wait_for(5, || s
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("configuration reloaded"))));
    let (_, out, _) = ctl(&cfg, &["status"]);
    assert!(
        fact(&out, "listen").is_some_and(|l| !l.contains(&second.to_string())),
        "{out}"
    );

    stop.store(true, Ordering::Relaxed);
    let (asked, answered) = client.join().unwrap();
    assert!(asked > 10, "{asked}");
    assert_eq!(answered, asked, "queries went unanswered during reloads");
    assert!(s.stop(), "tldd did not exit cleanly after the reloads");
}

/// AXFR of shop. without TSIG, as record lines.
fn axfr_lines(addr: SocketAddr) -> Vec<String> {
    normalize(&kdig_at(
        addr,
        &["shop.", "AXFR", "+nocomments", "+nostats"],
    ))
}
