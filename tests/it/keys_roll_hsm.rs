//! An automatic ZSK roll with the keys in a SoftHSM2 token: the running
//! server generates the successor in the token itself when `zsk_lifetime`
//! is reached (audited as operator `tldd`), pre-publishes it, signs with it
//! and withdraws the old key; the zone verifies with ldns-verify-zone all
//! along, and the new key is the token's (never extractable).
//! Needs softhsm2, knot-dnsutils, ldnsutils.
use crate::support::keys::{init_token, MODULE};
use crate::support::serve::{Server, BIN};
use crate::support::update::{kdig_at, wait_for};
use std::path::Path;
use std::process::Command;

fn keys(cfg: &Path, conf: &Path, args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(["keys", "-c"])
        .arg(cfg)
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .env("TLDD_OPERATOR", "test")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn verify(s: &Server, dir: &Path) {
    let text: String = kdig_at(s.addr, &["shop.", "AXFR", "+nocomments", "+nostats"])
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let f = dir.join("axfr.zone");
    std::fs::write(&f, text).unwrap();
    let v = Command::new("ldns-verify-zone").arg(&f).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn the_server_rolls_a_zsk_inside_the_hsm_at_its_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let conf = init_token(&dir.path().join("softhsm"), "tldd", "1234");
    let zone = crate::support::dnssec::write_zone_ttl(dir.path(), 10, 2);
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\n\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nallow_transfer = [\"127.0.0.1\"]\n\
             [zone.dnssec]\nkeystore = \"hsm\"\nnsec3_opt_out = false\ndnskey_ttl = \"2s\"\n\
             propagation_delay = \"1s\"\npublish_safety = \"1s\"\nretire_safety = \"1s\"\n\
             zsk_lifetime = \"12s\"\n\
             [hsm]\nmodule = \"{MODULE}\"\ntoken_label = \"tldd\"\npin = \"1234\"\n",
            dir.path().join("data").display(),
            zone.display()
        ),
    )
    .unwrap();
    keys(
        &cfg,
        &conf,
        &["generate", "--zone", "shop.", "--role", "ksk"],
    );
    keys(
        &cfg,
        &conf,
        &["generate", "--zone", "shop.", "--role", "zsk"],
    );
    let first_zsk: u16 = keys(&cfg, &conf, &["list", "--zone", "shop."])
        .lines()
        .find(|l| l.contains(" zsk "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    let s = Server::start_with_env(
        &cfg,
        tempfile::tempdir().unwrap(),
        &[("SOFTHSM2_CONF", &conf)],
    );
    verify(&s, dir.path());
    let status = || keys(&cfg, &conf, &["status", "--zone", "shop."]);
    assert!(
        wait_for(60, || status().lines().any(|l| l
            .contains(&format!(" {first_zsk} zsk "))
            && l.contains(" retired "))),
        "the roll did not finish: {}\n{}",
        status(),
        s.log.lock().unwrap().join("\n")
    );
    verify(&s, dir.path());
    let st = status();
    let new: Vec<&str> = st
        .lines()
        .filter(|l| l.contains(" zsk ") && l.contains(" active "))
        .collect();
    assert_eq!(new.len(), 1, "{st}");
    assert!(new[0].contains(" hsm "), "{st}");
    let audit = keys(&cfg, &conf, &["audit"]);
    assert!(
        audit.lines().any(|l| l.contains("\"action\":\"generate\"")
            && l.contains("\"operator\":\"tldd\"")
            && l.contains("\"token\":\"tldd\"")),
        "{audit}"
    );
    assert!(keys(&cfg, &conf, &["audit", "--verify"]).starts_with("audit log OK"));
}
