//! `tldd sign` output checked by independent verifiers: ldns-verify-zone
//! and BIND's dnssec-verify, for algorithms 13 and 15, opt-out on and off,
//! with and without salt/iterations; and the corrupted-signature hook stops
//! the output. Needs ldnsutils and bind9-utils (CI installs them).
use crate::support::dnssec as dnssec_common;
use dnssec_common::*;
use std::process::Command;

fn check_tools() {
    for t in ["ldns-verify-zone", "dnssec-verify"] {
        assert!(
            have(t),
            "{t} is required (apt-get install ldnsutils bind9-utils)"
        );
    }
}

#[test]
fn signed_output_passes_ldns_and_bind_verifiers() {
    check_tools();
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 120);
    for (alg, opt_out, salt, iter) in [
        (13, true, "", 0),
        (13, false, "", 0),
        (15, true, "", 0),
        (15, false, "a1b2c3", 3),
    ] {
        let cfg = write_config(
            dir.path(),
            &zone,
            Some((alg, opt_out, salt, iter)),
            "127.0.0.1:0",
        );
        let out = dir.path().join(format!("signed-{alg}-{opt_out}.zone"));
        let (ok, err) = tldd_sign(&cfg, &out, &[]);
        assert!(ok, "tldd sign failed: {err}");
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains(" NSEC3PARAM 1 0 "), "no NSEC3PARAM");
        let o = Command::new("ldns-verify-zone").arg(&out).output().unwrap();
        assert!(
            o.status.success(),
            "ldns-verify-zone alg {alg} opt-out {opt_out}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new("dnssec-verify")
            .args(["-o", "shop."])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "dnssec-verify alg {alg} opt-out {opt_out}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // Opt-out: exactly the unsigned delegations are left out of the chain.
        let nsec3 = text.lines().filter(|l| l.contains(" IN NSEC3 ")).count();
        let unsigned = 3 + 96; // plain, Mixed, unsigned + 96 of the 120 extra
        if opt_out {
            assert_eq!(nsec3, 11 + 24);
        } else {
            assert_eq!(nsec3, 11 + 24 + unsigned);
        }
    }
}

#[test]
fn corrupted_signature_is_caught_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 10);
    let cfg = write_config(dir.path(), &zone, Some((13, true, "", 0)), "127.0.0.1:0");
    let out = dir.path().join("signed.zone");
    let (ok, err) = tldd_sign(&cfg, &out, &[(tldd_dns::signer::CORRUPT_ENV, "1")]);
    assert!(!ok, "tldd sign succeeded with a corrupted signature");
    assert!(err.contains("signature does not verify"), "{err}");
    assert!(err.contains("nothing written"), "{err}");
    assert!(
        !out.exists(),
        "output written despite the failed verification"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("tldd-tmp")),
        "temporary output left behind"
    );
    // Without the hook the same run succeeds.
    let (ok, err) = tldd_sign(&cfg, &out, &[]);
    assert!(ok, "{err}");
    assert!(out.exists());
}

#[test]
fn sign_reports_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 0);
    let cfg = write_config(dir.path(), &zone, None, "127.0.0.1:0");
    let (ok, err) = tldd_sign(&cfg, &dir.path().join("o"), &[]);
    assert!(!ok);
    assert!(err.contains("[zone.dnssec]"), "{err}");
}
