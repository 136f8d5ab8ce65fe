//! `tldd keys` with a real SoftHSM2 token through PKCS#11: keys generated
//! in the token, DS/DNSKEY cross-checked with ldns-key2ds and
//! dnssec-dsfromkey, signatures made by the token verified with ring, and
//! the private keys checked to be sensitive and not extractable.
//!
//! Each test makes its own token directory with `hsm/setup-softhsm.sh` and
//! passes its SOFTHSM2_CONF to the child processes. The in-process library
//! test is `keys_hsm_lib`, the only one that sets SOFTHSM2_CONF for the
//! whole test process.
use crate::support::keys as keys_util;
use keys_util::*;

fn hsm_env(algs: &[(&'static str, u8)]) -> Env {
    let zones: Vec<Zone> = algs
        .iter()
        .map(|(origin, algorithm)| Zone {
            origin,
            keystore: "hsm",
            algorithm: *algorithm,
        })
        .collect();
    Env::new(&zones, true)
}

#[test]
fn hsm_keys_generated_in_token_sign_and_cross_check() {
    let env = hsm_env(&[("shop.", 13), ("ed.", 15), ("rsa.", 8)]);
    let token = env.ok(&["token"]);
    for alg in ["13", "15", " 8"] {
        assert!(
            token.contains(&format!("algorithm {alg}")) && !token.contains("NOT supported"),
            "SoftHSM should support 8, 13 and 15: {token}"
        );
    }
    for zone in ["shop.", "ed.", "rsa."] {
        env.ok(&["generate", "--zone", zone, "--role", "ksk"]);
        env.ok(&["generate", "--zone", zone, "--role", "zsk"]);
    }
    let list = parse_list(&env.ok(&["list"]));
    assert_eq!(list.len(), 6);
    assert!(list.iter().all(|r| r.4 == "hsm" && r.5 == "active"));
    for (zone, alg) in [("shop.", 13u8), ("ed.", 15), ("rsa.", 8)] {
        let keys = cross_check_zone(&env, zone);
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.algorithm == alg));
        let mut tags: Vec<u16> = keys.iter().map(|k| k.tag()).collect();
        let mut listed: Vec<u16> = list.iter().filter(|r| r.0 == zone).map(|r| r.1).collect();
        tags.sort();
        listed.sort();
        assert_eq!(tags, listed, "{zone}");
        if alg == 8 {
            // RFC 3110: exponent length 3, 65537, then a 2048-bit modulus.
            let pk = &keys[0].public_key;
            assert_eq!(&pk[..4], &[3, 1, 0, 1]);
            assert_eq!(pk.len() - 4, 256);
        }
    }

    let v = env.ok(&["audit", "--verify"]);
    assert!(v.starts_with("audit log OK"), "{v}");
    let log = env.ok(&["audit"]);
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"action\":\"generate\""))
            .count(),
        6
    );
    assert!(log
        .lines()
        .all(|l| !l.contains("\"generate\"") || l.contains("\"token\":\"tldd\"")));
}

#[test]
fn bad_pin_is_a_clear_error_and_never_printed() {
    let env = hsm_env(&[("shop.", 13)]);
    env.ok(&["generate", "--zone", "shop.", "--role", "ksk"]);
    let before = std::fs::read_to_string(env.keys_dir().join("state.json")).unwrap();
    for args in [
        &["generate", "--zone", "shop.", "--role", "zsk"][..],
        &["ds", "--zone", "shop."][..],
        &["token"][..],
    ] {
        let out = env.keys_env(args, &[("TLDD_HSM_PIN", "987654")]);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("CKR_PIN_INCORRECT"), "{err}");
        assert!(
            !err.contains("987654") && !err.contains("panicked"),
            "{err}"
        );
    }
    // Nothing was added by the failed attempts.
    assert_eq!(
        std::fs::read_to_string(env.keys_dir().join("state.json")).unwrap(),
        before
    );

    // pin_file works, and the environment overrides it.
    let pin_file = env.dir.path().join("pin");
    std::fs::write(&pin_file, "1234\n").unwrap();
    let cfg = std::fs::read_to_string(&env.config).unwrap().replace(
        "pin = \"1234\"",
        &format!("pin_file = \"{}\"", pin_file.display()),
    );
    std::fs::write(&env.config, cfg).unwrap();
    assert_eq!(parse_ds(&env.ok(&["ds", "--zone", "shop."])).len(), 1);
    let out = env.keys_env(&["ds", "--zone", "shop."], &[("TLDD_HSM_PIN", "000000")]);
    assert!(!out.status.success());
}

#[test]
fn missing_token_or_module_is_an_error_not_a_panic() {
    let env = hsm_env(&[("shop.", 13)]);
    let cfg = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        cfg.replace("token_label = \"tldd\"", "token_label = \"other\""),
    )
    .unwrap();
    let out = env.keys(&["generate", "--zone", "shop.", "--role", "ksk"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no token labelled \"other\""), "{err}");

    std::fs::write(
        &env.config,
        cfg.replace(MODULE, "/nonexistent/libpkcs11.so"),
    )
    .unwrap();
    let out = env.keys(&["token"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");

    // A token that cannot be reached (SoftHSM with no readable config).
    std::fs::write(&env.config, &cfg).unwrap();
    let out = env.keys_env(
        &["token"],
        &[("SOFTHSM2_CONF", "/nonexistent/softhsm2.conf")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HSM") && !err.contains("panicked"), "{err}");
}
