//! Updates to a signed zone: the example zone signed by `tldd sign` (soft
//! ECDSA P-256 keys, NSEC3, with and without opt-out), served, then changed
//! by `nsupdate` (delegations with and without DS added, DS changed,
//! delegations deleted). After every batch tldd's AXFR passes
//! `ldns-verify-zone`, DS answers carry fresh RRSIGs, and a Knot secondary
//! that follows by IXFR serves the same signed data.
use crate::support::serve as common;
use crate::support::update as update_kit;
use common::*;
use std::process::Command;
use update_kit::*;

fn tldd(args: &[&str], cfg: &std::path::Path) {
    let o = Command::new(BIN)
        .args(&args[..1])
        .arg("-c")
        .arg(cfg)
        .args(&args[1..])
        .env("TLDD_OPERATOR", "test")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tldd {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Keys, `tldd sign`, and a serving config for the signed output.
fn signed_server(dir: &std::path::Path, opt_out: bool, zone_extra: &str) -> Server {
    let data = dir.join("data");
    let dnssec =
        format!("[zone.dnssec]\nkeystore = \"soft\"\nalgorithm = 13\nnsec3_opt_out = {opt_out}\n");
    let sign_cfg = dir.join("sign.toml");
    std::fs::write(
        &sign_cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\n[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n{dnssec}",
            data.display(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    for role in ["ksk", "zsk"] {
        tldd(
            &["keys", "generate", "--zone", "shop.", "--role", role],
            &sign_cfg,
        );
    }
    let signed = dir.join("shop.signed");
    tldd(
        &["sign", "--zone", "shop.", "--out", signed.to_str().unwrap()],
        &sign_cfg,
    );
    let cfg = dir.join("serve.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\n{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\ntransfer_key = \"xfr-key\"\n{zone_extra}\n{dnssec}",
            data.display(),
            keys_toml(),
            signed.display()
        ),
    )
    .unwrap();
    Server::start_with_config(&cfg, tempfile::tempdir().unwrap())
}

fn verify_axfr(addr: std::net::SocketAddr, dir: &std::path::Path, tag: &str) {
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let text: String = kdig_at(
        addr,
        &["shop.", "AXFR", "-y", &key, "+nocomments", "+nostats"],
    )
    .lines()
    .filter(|l| !l.contains("\tTSIG\t") && !l.starts_with(';'))
    .map(|l| format!("{l}\n"))
    .collect();
    let f = dir.join(format!("{tag}.axfr"));
    std::fs::write(&f, &text).unwrap();
    let o = Command::new("ldns-verify-zone")
        .arg(&f)
        .output()
        .expect("ldnsutils");
    assert!(
        o.status.success(),
        "{tag}: ldns-verify-zone: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

const K: Option<(&str, &str, &str)> = Some(("hmac-sha256", "srs-key", SECRET));

fn batches(s: &Server, dir: &std::path::Path) {
    let steps = [
        // A signed delegation with glue, and an unsigned one.
        "update add sig1.shop. 3600 NS ns1.sig1.shop.\n\
         update add ns1.sig1.shop. 3600 A 192.0.2.71\n\
         update add sig1.shop. 3600 DS 1111 13 2 1111111111111111111111111111111111111111111111111111111111111111\n\
         update add plain1.shop. 3600 NS ns.example.",
        // DS added to an existing unsigned delegation, another DS changed.
        "update add plain1.shop. 3600 DS 2222 13 2 2222222222222222222222222222222222222222222222222222222222222222\n\
         update delete sig1.shop. DS\n\
         update add sig1.shop. 3600 DS 3333 13 2 3333333333333333333333333333333333333333333333333333333333333333",
        // Deletions: a delegation with DS and glue, DS removed from another.
        "update delete sig1.shop.\nupdate delete ns1.sig1.shop.\nupdate delete plain1.shop. DS",
        // A delegation below a new empty non-terminal.
        "update add a.deep.shop. 3600 NS ns.example.\n\
         update add a.deep.shop. 3600 DS 4444 13 2 4444444444444444444444444444444444444444444444444444444444444444",
        "update delete a.deep.shop.",
    ];
    let first = serial_at(s.addr).unwrap();
    for (i, cmds) in steps.iter().enumerate() {
        let (ok, out) = nsupdate(s, K, cmds);
        assert!(ok, "step {i}: {out}\n{:?}", s.log.lock().unwrap());
        assert_eq!(serial_at(s.addr), Some(first + 1 + i as u32));
        verify_axfr(s.addr, dir, &format!("step{i}"));
        if i == 1 {
            let r = s.kdig(&["sig1.shop.", "DS", "+dnssec"]);
            assert!(r.contains("3333 13 2") && r.contains("RRSIG\tDS 13"), "{r}");
            let r = s.kdig(&["www.plain1.shop.", "A", "+dnssec", "+norec"]);
            assert!(
                r.contains("2222 13 2") && r.contains("RRSIG\tDS"),
                "referral with DS: {r}"
            );
        }
    }
    // A deleted name is now denied with NSEC3.
    let r = s.kdig(&["sig1.shop.", "DS", "+dnssec"]);
    assert!(r.contains("NXDOMAIN") && r.contains("NSEC3"), "{r}");
}

#[test]
fn updates_to_a_signed_opt_out_zone_stay_valid_and_follow_to_knot() {
    let dir = tempfile::tempdir().unwrap();
    let kp = free_port();
    let s = signed_server(dir.path(), true, &format!("notify = [\"127.0.0.1:{kp}\"]"));
    verify_axfr(s.addr, dir.path(), "start");
    // Knot follows by NOTIFY + IXFR.
    let knot = crate::support::peers::knot_secondary(kp, s.addr);
    let kaddr = knot.addr;
    let first = serial_at(s.addr).unwrap();
    assert!(wait_for(30, || serial_at(kaddr) == Some(first)));
    batches(&s, dir.path());
    let last = serial_at(s.addr).unwrap();
    let ok = wait_for(30, || serial_at(kaddr) == Some(last));
    let klog = knot.log();
    let same = ok && axfr(kaddr) == axfr(s.addr);
    drop(knot);
    assert!(ok, "knot did not follow: {klog}");
    assert!(klog.contains("IXFR"), "{klog}");
    assert!(same, "Knot's copy differs");
}

#[test]
fn updates_to_a_signed_zone_without_opt_out_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let s = signed_server(dir.path(), false, "");
    batches(&s, dir.path());
    // Restart: the signed, updated version comes back from the store.
    let serial = serial_at(s.addr).unwrap();
    let before = axfr(s.addr);
    drop(s);
    let s = Server::start_with_config(&dir.path().join("serve.toml"), tempfile::tempdir().unwrap());
    assert_eq!(serial_at(s.addr), Some(serial));
    let after = axfr(s.addr);
    let gone: Vec<_> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "lost {gone:#?}\ngained {new:#?}"
    );
    verify_axfr(s.addr, dir.path(), "restarted");
}
