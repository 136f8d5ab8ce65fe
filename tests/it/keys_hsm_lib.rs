//! The signer's view of HSM keys, in-process: keys generated in a SoftHSM2
//! token by `tldd keys generate` are loaded with `tldd_dns::keys::active_keys`,
//! sign through PKCS#11 (single, batch and from many threads), verify with
//! ring against the published DNSKEY, and are sensitive and not extractable.
//!
//! The only test that loads a PKCS#11 module in the test process itself: it
//! sets SOFTHSM2_CONF for the process (the module reads it once, at
//! C_Initialize). Every other HSM test passes SOFTHSM2_CONF to its child
//! processes explicitly, so none depends on the process's value.
use crate::support::keys as keys_util;
use keys_util::*;
use tldd_dns::hsm::KeyPair;

#[test]
fn hsm_keys_sign_through_the_library() {
    let env = Env::new(
        &[
            Zone {
                origin: "shop.",
                keystore: "hsm",
                algorithm: 13,
            },
            Zone {
                origin: "ed.",
                keystore: "hsm",
                algorithm: 15,
            },
            Zone {
                origin: "rsa.",
                keystore: "hsm",
                algorithm: 8,
            },
        ],
        true,
    );
    for zone in ["shop.", "ed.", "rsa."] {
        env.ok(&["generate", "--zone", zone, "--role", "ksk"]);
        env.ok(&["generate", "--zone", zone, "--role", "zsk"]);
    }
    // The signer's loader finds the keys in the token by
    // CKA_ID; the token signs; ring verifies with the published key.
    std::env::set_var("SOFTHSM2_CONF", env.softhsm_conf.as_ref().unwrap());
    std::env::remove_var("TLDD_HSM_PIN");
    let cfg = tldd_dns::config::Config::load(&env.config).unwrap();
    for (zone, sig_len) in [("shop.", 64usize), ("ed.", 64), ("rsa.", 256)] {
        let published = parse_dnskeys(&env.ok(&["dnskey", "--zone", zone]));
        let keys = tldd_dns::keys::active_keys(&cfg, zone).unwrap();
        assert_eq!(keys.len(), 2);
        for (role, key) in &keys {
            assert_eq!(key.flags(), role.flags());
            assert_eq!(key.keystore(), "hsm");
            let dk = published
                .iter()
                .find(|d| d.tag() == key.key_tag())
                .expect("published");
            assert_eq!(dk.rdata(), key.dnskey_rdata());
            let msg = format!("RRSIG input for {zone}");
            let sig = key.sign(msg.as_bytes()).unwrap();
            assert_eq!(sig.len(), sig_len);
            assert!(tldd_dns::hsm::verify(
                dk.algorithm,
                &dk.public_key,
                msg.as_bytes(),
                &sig
            ));
            assert!(!tldd_dns::hsm::verify(
                dk.algorithm,
                &dk.public_key,
                b"tampered",
                &sig
            ));

            // Batch signing across the session pool keeps order.
            let items: Vec<Vec<u8>> = (0..40).map(|i| format!("rrset {i}").into_bytes()).collect();
            let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
            let sigs = key.sign_many(&refs);
            assert_eq!(sigs.len(), 40);
            for (m, s) in refs.iter().zip(&sigs) {
                assert!(
                    key.verify(m, s.as_ref().unwrap()),
                    "batch signature out of order"
                );
            }

            // The private key stays in the token.
            let KeyPair::Pkcs11(p) = key else {
                panic!("expected an HSM key")
            };
            let prot = p.protection().unwrap();
            assert!(
                prot.token && prot.sensitive && !prot.extractable,
                "{prot:?}"
            );
            assert!(prot.always_sensitive && prot.never_extractable, "{prot:?}");
            assert!(!p.private_value_readable().unwrap());
        }
    }

    // Concurrent use from many threads (the signer's pattern).
    let keys = tldd_dns::keys::active_keys(&cfg, "shop.").unwrap();
    let (_, zsk) = keys
        .iter()
        .find(|(r, _)| *r == tldd_dns::keys::state::Role::Zsk)
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..6 {
            let k = zsk.clone();
            s.spawn(move || {
                for i in 0..10 {
                    let m = format!("{t}/{i}");
                    let sig = k.sign(m.as_bytes()).unwrap();
                    assert!(k.verify(m.as_bytes(), &sig));
                }
            });
        }
    });
}
