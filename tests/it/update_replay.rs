//! Replay-proof TSIG for UPDATE (issue 20, item 1), with dnspython over
//! real sockets against the real `tldd serve`: signed UPDATEs are captured
//! as bytes (`update_tool.py sign`) and resent byte for byte
//! (`update_tool.py sendraw`); the zone is checked with kdig.
//!
//! - A client's fudge of 65535 is held to `[server] tsig_max_fudge` (3 s
//!   here): the captured add, resent after its capped window has closed
//!   (the delegation deleted meanwhile, more updates sent), is BADTIME and
//!   changes nothing.
//! - Resent inside the window it gets the cached answer, byte for byte,
//!   and changes nothing; a retransmission while the first copy is still
//!   held (signed ahead of the server's clock) gets the same answer and
//!   the update is applied once.
//! - Across a restart on the same data_dir, a captured update (signed now,
//!   or ahead of the server's clock) is BADTIME and not applied.
use crate::support::serve::*;
use crate::support::update::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn key() -> String {
    format!("hmac-sha256:srs-key:{SECRET}")
}

fn add(name: &str) -> String {
    format!(r#"[["add","{name}",3600,"NS","ns.example."]]"#)
}

fn delete(name: &str) -> String {
    format!(r#"[["delete","{name}"]]"#)
}

/// Sends `u` once; its answer.
fn send(s: &Server, u: &SignedUpdate) -> RawAnswer {
    send_raw(s.addr, 0.0, &[&u.wire])
        .pop()
        .flatten()
        .expect("an answer to the UPDATE")
}

/// Signs and sends `ops` now (fudge 300); asserts NOERROR.
fn update_ok(s: &Server, ops: &str) {
    let a = send(s, &sign_update(&key(), ops, 300, 0));
    assert_eq!(a.rcode, "NOERROR", "{ops}: {a:?}");
}

/// Whether `name` is delegated in the served zone (a referral to
/// ns.example.; NXDOMAIN when absent).
fn delegated(s: &Server, name: &str) -> bool {
    let r = s.kdig(&[name, "NS", "+norec"]);
    match () {
        _ if r.contains("status: NXDOMAIN") => false,
        _ if r.contains("status: NOERROR") && r.contains("ns.example.") => true,
        _ => panic!("unexpected answer for {name}: {r}"),
    }
}

/// Sleeps until the wall clock is past second `t` (plus a little).
fn sleep_past(t: u64) {
    let target = UNIX_EPOCH + Duration::from_secs(t + 1) + Duration::from_millis(200);
    if let Ok(d) = target.duration_since(SystemTime::now()) {
        std::thread::sleep(d);
    }
}

/// BADTIME: NOTAUTH with TSIG error 18 (RFC 8945 §5.2.3).
fn assert_badtime(a: &RawAnswer, what: &str) {
    assert_eq!(
        (a.rcode.as_str(), a.tsig_error),
        ("NOTAUTH", Some(18)),
        "{what}: {a:?}"
    );
}

#[test]
fn a_large_fudge_is_capped_and_the_replay_after_the_window_is_badtime() {
    const CAP: u64 = 3;
    let s = primary("srs-key", "", &format!("tsig_max_fudge = {CAP}"));
    let first = sign_update(&key(), &add("rpa.shop."), 65535, 0);
    let a = send(&s, &first);
    assert_eq!(a.rcode, "NOERROR", "{a:?}");
    assert!(delegated(&s, "rpa.shop."));
    update_ok(&s, &delete("rpa.shop."));
    for i in 0..3 {
        update_ok(&s, &add(&format!("rpa-more{i}.shop.")));
    }
    assert!(!delegated(&s, "rpa.shop."));
    let serial = serial_at(s.addr);
    // The message says 65535 s; the server holds it to CAP seconds.
    sleep_past(first.time + CAP);
    let r = send(&s, &first);
    assert_badtime(&r, "the captured add after its capped window");
    assert!(!delegated(&s, "rpa.shop."), "the replay re-added it");
    assert_eq!(serial_at(s.addr), serial);
    // A fudge inside the cap is fine.
    let small = sign_update(&key(), &add("rpa-small.shop."), 1, 0);
    assert_eq!(send(&s, &small).rcode, "NOERROR");
}

#[test]
fn a_resend_inside_the_window_gets_the_cached_answer_and_changes_nothing() {
    let s = primary("srs-key", "", "");
    let first = sign_update(&key(), &add("rpb.shop."), 65535, 0);
    let a = send(&s, &first);
    assert_eq!(a.rcode, "NOERROR", "{a:?}");
    update_ok(&s, &delete("rpb.shop."));
    update_ok(&s, &add("rpb-more.shop."));
    let serial = serial_at(s.addr).unwrap();
    let r = send(&s, &first);
    assert_eq!(r.bytes, a.bytes, "the cached answer, byte for byte");
    assert!(!delegated(&s, "rpb.shop."), "the resend re-added it");
    assert_eq!(serial_at(s.addr), Some(serial));

    // Signed 3 s ahead of the server's clock: held until the clock gets
    // there; a retransmission meanwhile waits for the first copy's answer.
    // The prerequisite makes a second application fail (YXDOMAIN).
    let ahead = sign_update(
        &key(),
        r#"[["absent","rpc.shop."],["add","rpc.shop.",3600,"NS","ns.example."]]"#,
        300,
        3,
    );
    let both = send_raw(s.addr, 0.5, &[&ahead.wire, &ahead.wire]);
    let first = both[0].clone().expect("an answer to the first copy");
    assert_eq!(first.rcode, "NOERROR", "{both:?}");
    assert_eq!(both[1].as_ref(), Some(&first), "the same answer twice");
    assert!(delegated(&s, "rpc.shop."));
    assert_eq!(
        serial_at(s.addr),
        Some(serial.wrapping_add(1)),
        "applied once"
    );
}

#[test]
fn replays_across_a_restart_are_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\n{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\n",
            dir.path().join("data").display(),
            keys_toml(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    // Signed now (default fudge), and 4 s ahead of the server's clock: the
    // latter is applied only once the clock has reached its time signed,
    // so it too was signed before the next process starts.
    let now = sign_update(&key(), &add("rpr1.shop."), 300, 0);
    let ahead = sign_update(&key(), &add("rpr2.shop."), 300, 4);
    for u in [&now, &ahead] {
        let a = send(&s, u);
        assert_eq!(a.rcode, "NOERROR", "{a:?}");
    }
    for name in ["rpr1.shop.", "rpr2.shop."] {
        assert!(delegated(&s, name));
        update_ok(&s, &delete(name));
    }
    let serial = serial_at(s.addr);
    assert!(s.stop(), "clean shutdown");

    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    assert_eq!(serial_at(s.addr), serial, "the same store");
    for (u, name) in [(&now, "rpr1.shop."), (&ahead, "rpr2.shop.")] {
        let r = send(&s, u);
        assert_badtime(&r, &format!("{name} resent after the restart"));
        assert!(!delegated(&s, name), "{name}: the replay re-added it");
    }
    assert_eq!(serial_at(s.addr), serial);
    assert!(s
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("signed_before_start")));
    // A fresh update is accepted.
    update_ok(&s, &add("rpr3.shop."));
}
