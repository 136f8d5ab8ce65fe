//! The HSM goes away under a running signer and comes back: a SoftHSM2
//! token whose directory is moved away and back while `tldd serve` signs
//! updates with keys in it. Queries are answered throughout from the last
//! signed version; updates are answered SERVFAIL while the token is away
//! (nothing is acknowledged that is not signed and served) and
//! `tldd_hsm_up` says 0; once the token is back, the next update is
//! signed (the module re-initialised), the zone verifies with
//! ldns-verify-zone, and `tldd_hsm_up` says 1 again.
//! Needs softhsm2, bind9-dnsutils (nsupdate), knot-dnsutils, ldnsutils.
use crate::support::keys::{init_token, MODULE};
use crate::support::serve::{repo, Server, BIN};
use crate::support::to_tldd::http_metrics;
use crate::support::update::{kdig_at, keys_toml, nsupdate, serial_at, wait_for, SECRET};
use std::process::Command;

fn hsm_up(s: &Server) -> Option<i64> {
    let text = http_metrics(s.metrics.expect("metrics listener"));
    text.lines()
        .find(|l| l.starts_with("tldd_hsm_up{zone=\"shop.\"}"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
}

fn add(s: &Server, name: &str) -> (bool, String) {
    nsupdate(
        s,
        Some(("hmac-sha256", "srs-key", SECRET)),
        &format!("update add {name}.shop. 3600 NS ns1.example.net."),
    )
}

#[test]
fn queries_go_on_updates_wait_and_signing_resumes_when_the_token_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let softhsm = dir.path().join("softhsm");
    let conf = init_token(&softhsm, "tldd", "1234");
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nmetrics = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{}\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\n\
             allow_transfer = [\"127.0.0.1\"]\n[zone.dnssec]\nkeystore = \"hsm\"\n\
             [hsm]\nmodule = \"{MODULE}\"\ntoken_label = \"tldd\"\npin = \"1234\"\n",
            dir.path().join("data").display(),
            keys_toml(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    for role in ["ksk", "zsk"] {
        let o = Command::new(BIN)
            .args(["keys", "-c"])
            .arg(&cfg)
            .args(["generate", "--zone", "shop.", "--role", role])
            .env("SOFTHSM2_CONF", &conf)
            .env("TLDD_OPERATOR", "test")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let s = Server::start_with_env(
        &cfg,
        tempfile::tempdir().unwrap(),
        &[("SOFTHSM2_CONF", &conf)],
    );
    let (ok, out) = add(&s, "before");
    assert!(ok, "{out}");
    let serial = serial_at(s.addr).unwrap();

    // The token goes away.
    let tokens = softhsm.join("tokens");
    let away = softhsm.join("tokens.away");
    std::fs::rename(&tokens, &away).unwrap();
    let (ok, out) = add(&s, "during");
    assert!(
        !ok && out.contains("SERVFAIL"),
        "an update was acknowledged without the HSM: {out}"
    );
    assert_eq!(hsm_up(&s), Some(0));
    // Queries are answered from the last signed version.
    assert_eq!(serial_at(s.addr), Some(serial));
    let soa = kdig_at(s.addr, &["+dnssec", "shop.", "SOA"]);
    assert!(soa.contains("RRSIG"), "{soa}");
    let during = kdig_at(s.addr, &["+norec", "during.shop.", "NS"]);
    assert!(during.contains("NXDOMAIN"), "{during}");

    // It comes back: the sender's retry is signed and served.
    std::fs::rename(&away, &tokens).unwrap();
    assert!(
        wait_for(30, || add(&s, "during").0),
        "updates still fail with the token back; log:\n{}",
        s.log.lock().unwrap().join("\n")
    );
    assert!(serial_at(s.addr).unwrap() > serial);
    let back = kdig_at(s.addr, &["+norec", "during.shop.", "NS"]);
    assert!(back.contains("ns1.example.net."), "{back}");
    assert_eq!(hsm_up(&s), Some(1));
    let text: String = kdig_at(s.addr, &["shop.", "AXFR", "+nocomments", "+nostats"])
        .lines()
        .filter(|l| !l.starts_with(';'))
        .map(|l| format!("{l}\n"))
        .collect();
    let f = dir.path().join("after.axfr");
    std::fs::write(&f, text).unwrap();
    let v = Command::new("ldns-verify-zone").arg(&f).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let log = s.log.lock().unwrap().join("\n");
    assert!(log.contains("HSM token recovered"), "{log}");
}
