//! Offline KSK as a TLD runs it: the online signer holds ZSKs only (in one
//! SoftHSM2 token), the KSK lives in another token on "the KSK machine"
//! (its own configuration and data directory). The online side writes a
//! KSR for a period with ZSK rolls in it, the KSK side signs it into an
//! SKR at a "ceremony", the online side imports it and serves; a caching,
//! validating Unbound whose only trust anchor is a [`Parent`] root (with
//! the KSK's DS) is asked the same questions all along. Every answer must
//! stay secure through the ZSK roll the pre-signed DNSKEY sets carry, a
//! restart included, and every served DNSKEY signature must be one of the
//! SKR's. Also: Knot DNS's `keymgr sign-ksr` as the KSK side, and tampered
//! SKRs refused.
//!
//! Needs softhsm2, ldnsutils, knot, knot-dnsutils and unbound.
use crate::support::dnssec::write_zone_ttl;
use crate::support::keys::init_token;
use crate::support::parent::Parent;
use crate::support::peers::unbound_caching;
use crate::support::ports::free_port;
use crate::support::serve::{Server, BIN};
use crate::support::watch::{ask, Expect, Watcher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TTL: u32 = 3;
const CHILD_NS: &[&str] = &["a.nic.shop.", "b.nic.shop."];

/// `tldd keys -c CFG ARGS` with `SOFTHSM2_CONF=conf` (if any): (ok, stdout, stderr).
fn keys_run(cfg: &Path, conf: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut c = Command::new(BIN);
    c.args(["keys", "-c"]).arg(cfg).args(args);
    c.env("TLDD_OPERATOR", "officer");
    if let Some(conf) = conf {
        c.env("SOFTHSM2_CONF", conf);
    }
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn keys(cfg: &Path, conf: Option<&Path>, args: &[&str]) -> String {
    let (ok, out, err) = keys_run(cfg, conf, args);
    assert!(ok, "tldd keys {args:?}: {err}");
    out
}

/// A config for zone `shop.` (file `zone`) with `[zone.dnssec]` lines
/// `dnssec` and, with a token label, an `[hsm]` section for it.
fn config(
    dir: &Path,
    name: &str,
    zone: &Path,
    listen: &str,
    dnssec: &str,
    token: Option<&str>,
) -> PathBuf {
    let mut c = format!(
        "[server]\nlisten = [\"{listen}\"]\ndata_dir = \"{}\"\nmetrics = \"127.0.0.1:0\"\n\
         [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nallow_transfer = [\"127.0.0.1\"]\n\
         [zone.dnssec]\nnsec3_opt_out = false\ndnskey_ttl = \"{TTL}s\"\n{dnssec}",
        dir.join(format!("data-{name}")).display(),
        zone.display()
    );
    if let Some(label) = token {
        c.push_str(&format!(
            "[hsm]\nmodule = \"{}\"\ntoken_label = \"{label}\"\npin = \"1234\"\n",
            crate::support::keys::MODULE
        ));
    }
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, c).unwrap();
    p
}

/// The online signer's timings: a ZSK lives 25 s; waits of a second.
const ONLINE: &str = "keystore = \"hsm\"\noffline_ksk = true\nzsk_lifetime = \"25s\"\n\
    propagation_delay = \"1s\"\npublish_safety = \"1s\"\nretire_safety = \"1s\"\nmax_zone_ttl = \"3s\"\n";

/// AXFR from `s` checked by ldns-verify-zone; the zone text.
fn verify_axfr(s: &Server, dir: &Path, what: &str) -> String {
    let text: String = s
        .kdig(&["shop.", "AXFR", "+nocomments", "+nostats"])
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(text.contains("SOA"), "{what}: no AXFR");
    let f = dir.join("axfr.zone");
    std::fs::write(&f, &text).unwrap();
    let v = Command::new("ldns-verify-zone").arg(&f).output().unwrap();
    assert!(
        v.status.success(),
        "{what}: ldns-verify-zone: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    text
}

/// (tag, role, state) of each line of `tldd keys status`.
fn states(cfg: &Path, conf: &Path) -> Vec<(u16, String, String)> {
    keys(cfg, Some(conf), &["status", "--zone", "shop."])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 8)
                .then(|| Some((f[1].parse().ok()?, f[2].to_string(), f[5].to_string())))?
        })
        .collect()
}

/// The base64 signatures of the served DNSKEY RRset's RRSIGs.
fn served_dnskey_sigs(s: &Server) -> Vec<String> {
    s.kdig(&["+dnssec", "+short", "shop.", "DNSKEY"])
        .lines()
        .filter(|l| l.starts_with("DNSKEY "))
        .map(|l| l.split_whitespace().skip(8).collect::<String>())
        .collect()
}

fn watched() -> Vec<(String, String, Expect)> {
    [
        ("shop.", "SOA", Expect::SecureNoError),
        ("shop.", "DNSKEY", Expect::SecureNoError),
        ("nic.shop.", "A", Expect::SecureNoError),
        ("nope.shop.", "A", Expect::SecureNxdomain),
    ]
    .into_iter()
    .map(|(n, t, e)| (n.to_string(), t.to_string(), e))
    .collect()
}

#[test]
fn an_offline_ksk_pre_signs_a_zsk_roll_that_validates_throughout() {
    let dir = tempfile::tempdir().unwrap();
    let online_conf = init_token(&dir.path().join("hsm-online"), "online", "1234");
    let ksk_conf = init_token(&dir.path().join("hsm-ksk"), "ksk", "1234");
    let zone = write_zone_ttl(dir.path(), 20, TTL);
    let listen = format!("127.0.0.1:{}", free_port());
    let online = config(dir.path(), "online", &zone, &listen, ONLINE, Some("online"));
    let ksk_side = config(
        dir.path(),
        "ksk",
        &zone,
        "127.0.0.1:0",
        "keystore = \"hsm\"\n",
        Some("ksk"),
    );

    // The KSK ceremony on the KSK machine; the online signer refuses a KSK.
    let (ok, _, err) = keys_run(
        &online,
        Some(&online_conf),
        &["generate", "--zone", "shop.", "--role", "ksk"],
    );
    assert!(!ok && err.contains("offline_ksk"), "{err}");
    keys(
        &ksk_side,
        Some(&ksk_conf),
        &["generate", "--zone", "shop.", "--role", "ksk"],
    );
    let ds = keys(&ksk_side, Some(&ksk_conf), &["ds", "--zone", "shop."]);
    keys(
        &online,
        Some(&online_conf),
        &["generate", "--zone", "shop.", "--role", "zsk"],
    );
    let parent = Parent::new("shop.", CHILD_NS, &ds);

    // Before any SKR the signer cannot serve the zone signed, and says why.
    let early = Server::try_start_with_env(
        &online,
        tempfile::tempdir().unwrap(),
        &[("SOFTHSM2_CONF", &online_conf)],
    );
    match early {
        Ok(_) => panic!("an offline-KSK zone was served without an SKR"),
        Err(log) => assert!(log.contains("import-skr"), "{log}"),
    }

    // KSR for 150 s: ZSK successors planned and generated in the online token.
    let ksr = dir.path().join("shop.ksr");
    let (ok, _, err) = keys_run(
        &online,
        Some(&online_conf),
        &[
            "ksr", "--zone", "shop.", "--from", "now", "--to", "+150s", "--out",
        ],
    );
    assert!(!ok, "--out needs a value: {err}");
    let (ok, _, err) = keys_run(
        &online,
        Some(&online_conf),
        &[
            "ksr",
            "--zone",
            "shop.",
            "--from",
            "now",
            "--to",
            "+150s",
            "--out",
            ksr.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let ksr_text = std::fs::read_to_string(&ksr).unwrap();
    assert!(
        ksr_text.starts_with(";; KeySigningRequest 1.0 "),
        "{ksr_text}"
    );
    assert!(
        ksr_text.matches(";; KeySigningRequest 1.0 ").count() >= 5,
        "{ksr_text}"
    );
    assert!(
        !ksr_text.contains("DNSKEY 257"),
        "a KSK in the request: {ksr_text}"
    );
    let planned: Vec<(u16, String, String)> = states(&online, &online_conf);
    assert!(
        planned
            .iter()
            .filter(|k| k.1 == "zsk" && k.2 == "created")
            .count()
            >= 3,
        "{planned:?}"
    );
    assert!(planned.iter().all(|k| k.1 == "zsk"), "{planned:?}");

    // The ceremony: SKR signed with the second token; the transcript.
    let skr = dir.path().join("shop.skr");
    let (ok, _, transcript) = keys_run(
        &ksk_side,
        Some(&ksk_conf),
        &[
            "skr",
            "--zone",
            "shop.",
            "--ksr",
            ksr.to_str().unwrap(),
            "--out",
            skr.to_str().unwrap(),
        ],
    );
    assert!(ok, "{transcript}");
    let ds_digest = ds.split_whitespace().last().unwrap().to_string();
    for want in ["operator:   officer", "token:", "ksr:", "slot:", &ds_digest] {
        assert!(
            transcript.contains(want),
            "{want:?} not in the transcript:\n{transcript}"
        );
    }
    let skr_text = std::fs::read_to_string(&skr).unwrap();

    // Tampered SKRs are refused, naming the slot; the good one is taken.
    let mut bad = skr_text.clone();
    let at = bad.find(" RRSIG DNSKEY ").unwrap();
    let end = at + bad[at..].find('\n').unwrap();
    let pos = at + bad[at..end].rfind(' ').unwrap() + 6;
    let flip = if &bad[pos..pos + 1] == "A" { "B" } else { "A" };
    bad.replace_range(pos..pos + 1, flip);
    let badf = dir.path().join("bad.skr");
    std::fs::write(&badf, &bad).unwrap();
    let (ok, _, err) = keys_run(
        &online,
        Some(&online_conf),
        &["import-skr", "--zone", "shop.", badf.to_str().unwrap()],
    );
    assert!(
        !ok && err.contains("slot") && err.contains("verify"),
        "{err}"
    );
    let short = skr_text.replacen(
        &skr_text[skr_text.find("shop.").unwrap()..]
            .lines()
            .find(|l| l.contains("DNSKEY 256"))
            .unwrap()
            .to_string(),
        "",
        1,
    );
    std::fs::write(&badf, short).unwrap();
    let (ok, _, err) = keys_run(
        &online,
        Some(&online_conf),
        &["import-skr", "--zone", "shop.", badf.to_str().unwrap()],
    );
    assert!(!ok && err.contains("plan"), "a slot without its ZSK: {err}");
    let out = keys(
        &online,
        Some(&online_conf),
        &["import-skr", "--zone", "shop.", skr.to_str().unwrap()],
    );
    assert!(out.starts_with("imported "), "{out}");

    let mut tldd = Server::start_with_env(
        &online,
        tempfile::tempdir().unwrap(),
        &[("SOFTHSM2_CONF", &online_conf)],
    );
    let unbound = unbound_caching(
        &parent.trust_anchor(),
        &[(".", parent.port()), ("shop.", tldd.port())],
    );
    for (n, t) in [("shop.", "SOA"), ("shop.", "DNSKEY")] {
        let a = ask(unbound.port, n, t).unwrap();
        if let Err(why) = a.check(Expect::SecureNoError) {
            panic!("{n} {t}: {why}\n{}", tldd.log.lock().unwrap().join("\n"));
        }
    }
    let metrics = crate::support::to_tldd::http_metrics(tldd.metrics.unwrap());
    let left: i64 = metrics
        .lines()
        .find(|l| l.starts_with("tldd_skr_remaining_seconds{zone=\"shop.\"}"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| panic!("no tldd_skr_remaining_seconds:\n{metrics}"));
    assert!(left > 150, "the SKR runs out in {left} s");

    let w = Watcher::start(unbound.port, watched());
    let first_zsk = planned.iter().find(|k| k.2 == "active").unwrap().0;
    let mut seen = Vec::new();
    let mut restarted = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = states(&online, &online_conf);
        if seen.last() != Some(&st) {
            w.mark(&format!("states {st:?}"));
            verify_axfr(&tldd, dir.path(), &format!("at {st:?}"));
            // Every served DNSKEY signature is one the KSK machine made.
            let sigs = served_dnskey_sigs(&tldd);
            assert!(!sigs.is_empty(), "no DNSKEY RRSIG served");
            for sig in sigs {
                assert!(
                    skr_text.replace(char::is_whitespace, "").contains(&sig),
                    "a DNSKEY RRSIG not from the SKR: {sig}"
                );
            }
            seen.push(st.clone());
        }
        if !restarted && st.iter().any(|k| k.0 != first_zsk && k.2 == "published") {
            w.mark("restart");
            crate::support::serve::unsafe_kill(tldd.child.id(), 15);
            let _ = tldd.child.wait();
            tldd = Server::start_with_env(
                &online,
                tempfile::tempdir().unwrap(),
                &[("SOFTHSM2_CONF", &online_conf)],
            );
            restarted = true;
        }
        if st.iter().any(|k| k.0 == first_zsk && k.2 == "retired") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the roll did not finish: {seen:?}\nfailures {:?}\n{}",
            w.failures_so_far(),
            tldd.log.lock().unwrap().join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    w.rounds(3);
    let report = w.stop();
    report.assert_clean("offline-KSK ZSK roll");
    assert!(restarted, "{seen:?}");
    assert!(
        seen.iter()
            .any(|s| s.iter().any(|k| k.0 == first_zsk && k.2 == "retiring")),
        "{seen:?}"
    );
    verify_axfr(&tldd, dir.path(), "after the roll");
    let audit = keys(&online, Some(&online_conf), &["audit"]);
    for a in [
        "\"action\":\"ksr\"",
        "\"action\":\"import-skr\"",
        "\"action\":\"remove\"",
    ] {
        assert!(audit.contains(a), "{a} not audited:\n{audit}");
    }
    let audit = keys(&ksk_side, Some(&ksk_conf), &["audit"]);
    assert!(audit.contains("\"action\":\"sign-ksr\""), "{audit}");
}

/// Knot DNS as the KSK side: `keymgr sign-ksr` signs tldd's KSR, tldd
/// imports Knot's SKR (multi-line records, Knot's slot spacing) and the
/// zone it serves verifies, its DNSKEY RRset signed by Knot's KSK.
#[test]
fn knot_keymgr_signs_our_ksr() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone_ttl(dir.path(), 5, TTL);
    let online = config(
        dir.path(),
        "online",
        &zone,
        "127.0.0.1:0",
        "keystore = \"soft\"\noffline_ksk = true\nzsk_lifetime = \"30d\"\nsignature_validity = \"14d\"\nsignature_refresh = \"7d\"\n",
        None,
    );
    let kd = dir.path().join("knot");
    std::fs::create_dir_all(kd.join("kasp")).unwrap();
    let knot_conf = kd.join("knot.conf");
    std::fs::write(
        &knot_conf,
        format!(
            "server:\n    rundir: {k}\ntemplate:\n  - id: default\n    storage: {k}\n    kasp-db: {k}/kasp\n\
             policy:\n  - id: off\n    manual: on\n    offline-ksk: on\n    dnskey-ttl: {TTL}\n    zone-max-ttl: {TTL}\n\
             \x20   rrsig-lifetime: 14d\n    rrsig-refresh: 7d\n\
             zone:\n  - domain: shop.\n    dnssec-signing: on\n    dnssec-policy: off\n",
            k = kd.display()
        ),
    )
    .unwrap();
    let keymgr = |args: &[&str]| {
        let o = Command::new("keymgr")
            .arg("-c")
            .arg(&knot_conf)
            .arg("shop.")
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "keymgr {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    keymgr(&["generate", "ksk=yes", "algorithm=13"]);
    keys(
        &online,
        None,
        &["generate", "--zone", "shop.", "--role", "zsk"],
    );
    let ksr = dir.path().join("shop.ksr");
    keys(
        &online,
        None,
        &[
            "ksr",
            "--zone",
            "shop.",
            "--to",
            "+70d",
            "--out",
            ksr.to_str().unwrap(),
        ],
    );
    let skr = keymgr(&["sign-ksr", ksr.to_str().unwrap()]);
    assert!(skr.contains(";; SignedKeyResponse 1.0 "), "{skr}");
    let skrf = dir.path().join("shop.skr");
    std::fs::write(&skrf, &skr).unwrap();
    let out = keys(
        &online,
        None,
        &["import-skr", "--zone", "shop.", skrf.to_str().unwrap()],
    );
    assert!(out.starts_with("imported "), "{out}");
    let knot_ksk: u16 = keymgr(&["list"])
        .lines()
        .find(|l| l.contains("KSK"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    let s = Server::start_with_config(&online, tempfile::tempdir().unwrap());
    let text = verify_axfr(&s, dir.path(), "with Knot's SKR");
    let f: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<&str>>())
        .find(|f| f.len() > 10 && f[3] == "RRSIG" && f[4] == "DNSKEY")
        .unwrap_or_else(|| panic!("no DNSKEY RRSIG:\n{text}"));
    let dnskey_sig = f.join(" ");
    assert_eq!(f[10].parse::<u16>().unwrap(), knot_ksk, "{dnskey_sig}");
}
