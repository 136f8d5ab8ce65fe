//! `tldd keys` with the soft keystore, driven through the real binary and
//! cross-checked with ldns-key2ds and dnssec-dsfromkey.
use crate::support::keys as keys_util;
use keys_util::*;
use std::os::unix::fs::PermissionsExt;

fn soft_env() -> Env {
    Env::new(
        &[
            Zone {
                origin: "shop.",
                keystore: "soft",
                algorithm: 13,
            },
            Zone {
                origin: "ed.",
                keystore: "soft",
                algorithm: 15,
            },
        ],
        false,
    )
}

#[test]
fn soft_keys_generate_list_export_and_sign() {
    let env = soft_env();
    // shop.: the zone default (13); ed.: 15 from config; plus an explicit
    // 13 in shop., which starts a ZSK roll (state `created`).
    for (zone, role, alg) in [
        ("shop.", "ksk", None),
        ("shop.", "zsk", None),
        ("ed.", "ksk", None),
        ("ED", "zsk", None),
        ("shop.", "zsk", Some("13")),
    ] {
        let mut args = vec!["generate", "--zone", zone, "--role", role];
        if let Some(a) = alg {
            args.extend(["--algorithm", a]);
        }
        let out = env.ok(&args);
        // generate prints the new DNSKEY.
        assert_eq!(parse_dnskeys(&out).len(), 1, "{out}");
    }
    let list = parse_list(&env.ok(&["list"]));
    assert_eq!(list.len(), 5);
    let shop: Vec<_> = list.iter().filter(|r| r.0 == "shop.").collect();
    assert_eq!(
        shop.iter().map(|r| r.3).collect::<Vec<_>>(),
        vec![13, 13, 13]
    );
    assert!(list.iter().all(|r| r.4 == "soft"));
    assert_eq!(
        list.iter().map(|r| r.5.as_str()).collect::<Vec<_>>(),
        vec!["active", "active", "active", "active", "created"]
    );
    // A key of another algorithm would need an algorithm roll: refused,
    // and a second ZSK roll while one is under way too.
    for (alg, why) in [("15", "algorithm roll"), ("13", "roll is under way")] {
        let out = env.keys(&[
            "generate",
            "--zone",
            "shop.",
            "--role",
            "zsk",
            "--algorithm",
            alg,
        ]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
    }
    assert_eq!(parse_list(&env.ok(&["list", "--zone", "ed"])).len(), 2);

    // DNSKEY/DS agree with both peer tools, and tags agree with `list`.
    for zone in ["shop.", "ed."] {
        let keys = cross_check_zone(&env, zone);
        let mut from_dnskey: Vec<(u16, u8, String)> = keys
            .iter()
            .map(|k| {
                (
                    k.tag(),
                    k.algorithm,
                    if k.flags == 257 { "ksk" } else { "zsk" }.to_string(),
                )
            })
            .collect();
        let mut from_list: Vec<(u16, u8, String)> = list
            .iter()
            // A `created` key is not published yet.
            .filter(|r| r.0 == zone && r.5 != "created")
            .map(|r| (r.1, r.3, r.2.clone()))
            .collect();
        from_dnskey.sort();
        from_list.sort();
        assert_eq!(from_dnskey, from_list, "{zone}");
        for k in &keys {
            let expect = if k.algorithm == 13 { 64 } else { 32 };
            assert_eq!(k.public_key.len(), expect, "{k:?}");
        }
    }

    // Private key files: mode 0600 in a 0700 directory.
    let dir = env.keys_dir();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let pk8: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pk8"))
        .collect();
    assert_eq!(pk8.len(), 5);
    for p in &pk8 {
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600,
            "{p:?}"
        );
    }

    // The signer's loader: every active key signs, ring verifies with the
    // published DNSKEY public key.
    let cfg = tldd_dns::config::Config::load(&env.config).unwrap();
    let published = parse_dnskeys(&env.ok(&["dnskey", "--zone", "shop."]));
    let keys = tldd_dns::keys::active_keys(&cfg, "SHOP").unwrap();
    assert_eq!(keys.len(), 2);
    for (role, key) in &keys {
        assert_eq!(key.flags(), role.flags());
        let dk = published
            .iter()
            .find(|d| d.tag() == key.key_tag())
            .expect("published");
        assert_eq!(dk.rdata(), key.dnskey_rdata());
        let msg = b"RRSIG rdata || canonical RRset";
        let sig = key.sign(msg).unwrap();
        assert_eq!(sig.len(), 64);
        assert!(tldd_dns::hsm::verify(
            dk.algorithm,
            &dk.public_key,
            msg,
            &sig
        ));
        assert!(!tldd_dns::hsm::verify(
            dk.algorithm,
            &dk.public_key,
            b"other data",
            &sig
        ));
        let many = key.sign_many(&[b"a", b"b", b"c"]);
        assert!(many
            .iter()
            .zip([b"a", b"b", b"c"])
            .all(|(s, m)| key.verify(m, s.as_ref().unwrap())));
    }

    // Every generate and export was audited, and the chain holds.
    let log = env.ok(&["audit"]);
    assert!(
        log.lines()
            .filter(|l| l.contains("\"action\":\"generate\""))
            .count()
            == 5
    );
    assert!(log.contains("\"operator\":\"test-officer\""));
    assert!(log.contains("export-ds"));
    let v = env.ok(&["audit", "--verify"]);
    assert!(v.starts_with("audit log OK"), "{v}");
}

#[test]
fn soft_rsa_generation_is_refused_clearly() {
    let env = soft_env();
    let out = env.keys(&[
        "generate",
        "--zone",
        "shop.",
        "--role",
        "ksk",
        "--algorithm",
        "8",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot generate RSA"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = env.keys(&[
        "generate",
        "--zone",
        "shop.",
        "--role",
        "ksk",
        "--algorithm",
        "5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not supported"));
}

#[test]
fn audit_tampering_is_detected_with_the_line() {
    let env = soft_env();
    for role in ["ksk", "zsk", "zsk"] {
        env.ok(&["generate", "--zone", "shop.", "--role", role]);
    }
    let head = env.ok(&["audit", "--verify"]);
    let head = head.split_whitespace().last().unwrap().to_string();
    env.ok(&["generate", "--zone", "ed.", "--role", "ksk"]);
    // The log grew; the recorded head is still in it.
    env.ok(&["audit", "--verify", "--expect-head", &head]);
    let out = env.keys(&["audit", "--verify", "--expect-head", &"ab".repeat(32)]);
    assert!(!out.status.success());

    let path = env.keys_dir().join("audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    // Change the operator of line 2: line 3 no longer chains.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[1] = lines[1].replace("test-officer", "mallory");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = env.keys(&["audit", "--verify"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BROKEN at line 3"), "{err}");

    // Deleting line 1 is caught at line 1.
    std::fs::write(
        &path,
        text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&env.keys(&["audit", "--verify"]).stderr).to_string();
    assert!(err.contains("line 1"), "{err}");

    // Restored, it verifies again.
    std::fs::write(&path, &text).unwrap();
    env.ok(&["audit", "--verify"]);
}

#[test]
fn state_file_that_points_at_the_wrong_key_is_refused() {
    let env = soft_env();
    env.ok(&["generate", "--zone", "shop.", "--role", "ksk"]);
    let state = env.keys_dir().join("state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tag = v["keys"][0]["key_tag"].as_u64().unwrap();
    let wrong = text.replace(
        &format!("\"key_tag\": {tag}"),
        &format!("\"key_tag\": {}", (tag + 1) % 65536),
    );
    assert_ne!(wrong, text);
    std::fs::write(&state, wrong).unwrap();
    let out = env.keys(&["ds", "--zone", "shop."]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not match the key"), "{err}");

    // An unknown field is an error naming it.
    std::fs::write(&state, text.replace("\"state\"", "\"stat\"")).unwrap();
    let err = String::from_utf8_lossy(&env.keys(&["list"]).stderr).to_string();
    assert!(err.contains("stat"), "{err}");
}

#[test]
fn config_mistakes_are_clear_errors() {
    let env = soft_env();
    let out = env.keys(&["generate", "--zone", "nope.", "--role", "ksk"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not configured"));
    let out = env.keys(&["ds", "--zone", "shop."]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no KSK"));
    // A zone without [zone.dnssec].
    let cfg = std::fs::read_to_string(&env.config).unwrap()
        + "\n[[zone]]\norigin = \"plain.\"\nfile = \"x\"\n";
    std::fs::write(&env.config, cfg).unwrap();
    let out = env.keys(&["generate", "--zone", "plain.", "--role", "ksk"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[zone.dnssec]"));
    // No [hsm] but the token subcommand.
    let out = env.keys(&["token"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[hsm]"));
}
