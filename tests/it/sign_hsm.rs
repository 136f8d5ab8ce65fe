//! `tldd sign` with keys inside a SoftHSM2 token (PKCS#11): keys generated
//! in the token by `tldd keys generate`, signatures made by the token, the
//! output accepted by ldns-verify-zone and dnssec-verify, the DNSKEYs those
//! of `tldd keys dnskey`. Algorithms 13, 15 and 8 (SoftHSM2 has all three).
//! Needs softhsm2, ldnsutils, bind9-utils.
use crate::support::dnssec as dnssec_common;
use dnssec_common::*;
use std::path::Path;
use std::process::Command;

fn sh(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn token(dir: &Path) -> std::path::PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm/setup-softhsm.sh");
    sh(Command::new("bash")
        .arg(script)
        .arg(dir)
        .args(["tldd", "1234"]));
    dir.join("softhsm2.conf")
}

#[test]
fn hsm_keys_sign_a_zone_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let conf = token(&dir.path().join("softhsm"));
    let zone = write_zone(dir.path(), 60);
    for (alg, opt_out) in [(13u8, true), (15, false), (8, true)] {
        let data = dir.path().join(format!("data-hsm-{alg}"));
        let cfg = dir.path().join(format!("hsm-{alg}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\n[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n[zone.dnssec]\nkeystore = \"hsm\"\nalgorithm = {alg}\nnsec3_opt_out = {opt_out}\n[hsm]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken_label = \"tldd\"\npin = \"1234\"\n",
                data.display(),
                zone.display()
            ),
        )
        .unwrap();
        for role in ["ksk", "zsk"] {
            sh(Command::new(bin())
                .args(["keys", "-c"])
                .arg(&cfg)
                .args(["generate", "--zone", "shop.", "--role", role])
                .env("SOFTHSM2_CONF", &conf)
                .env("TLDD_OPERATOR", "test"));
        }
        let out = dir.path().join(format!("signed-hsm-{alg}.zone"));
        let conf_s = conf.to_string_lossy().into_owned();
        let (ok, err) = tldd_sign(&cfg, &out, &[("SOFTHSM2_CONF", &conf_s)]);
        assert!(ok, "alg {alg}: {err}");
        sh(Command::new("ldns-verify-zone").arg(&out));
        sh(Command::new("dnssec-verify")
            .args(["-o", "shop."])
            .arg(&out));
        // The DNSKEYs in the zone are the token's.
        let dnskey = sh(Command::new(bin())
            .args(["keys", "-c"])
            .arg(&cfg)
            .args(["dnskey", "--zone", "shop."])
            .env("SOFTHSM2_CONF", &conf));
        let text = std::fs::read_to_string(&out).unwrap();
        for line in dnskey.lines().filter(|l| l.contains("DNSKEY")) {
            let key = line.split_whitespace().last().unwrap();
            assert!(
                text.contains(key),
                "alg {alg}: {line} not in the signed zone"
            );
        }
    }
}
