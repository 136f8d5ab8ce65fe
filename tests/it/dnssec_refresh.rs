//! Signature refresh: a signed zone served with a short validity and a
//! refresh window that makes signatures due seconds after signing. Without
//! the refresh the zone would go bogus when the first signatures expire;
//! here every RRSIG must be re-made (later expiration) while the zone keeps
//! verifying with `ldns-verify-zone`, the SOA serial moves on, and an IXFR
//! from the first serial carries the new RRSIGs (so secondaries follow).
use crate::support::serve as common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const KEY: &str = "c3JzLWtleS1zZWNyZXQtZm9yLXRlc3Rz";

/// AXFR as zone text, TSIG records dropped.
fn axfr(s: &Server) -> String {
    s.kdig(&[
        "shop.",
        "AXFR",
        "-y",
        &format!("hmac-sha256:xfr:{KEY}"),
        "+nocomments",
        "+nostats",
    ])
    .lines()
    .filter(|l| !l.contains("\tTSIG\t"))
    .map(|l| format!("{l}\n"))
    .collect()
}

/// Every RRSIG in `zone_text`: (owner, covered type) -> expiration
/// (YYYYMMDDHHmmSS, so string order is time order).
fn expirations(zone_text: &str) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    for l in zone_text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 8 && f[3] == "RRSIG" {
            out.insert((f[0].to_lowercase(), f[4].to_string()), f[8].to_string());
        }
    }
    out
}

fn serial(zone_text: &str) -> u32 {
    let soa = zone_text
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .expect("SOA in the AXFR");
    soa.split_whitespace().nth(6).unwrap().parse().unwrap()
}

fn ldns_verify(dir: &std::path::Path, text: &str) {
    let f = dir.join("axfr.zone");
    std::fs::write(&f, text).unwrap();
    let v = Command::new("ldns-verify-zone")
        .arg(&f)
        .output()
        .expect("ldns-verify-zone (ldnsutils)");
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn signatures_near_expiry_are_refreshed_and_transferred() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("tldd.toml");
    // Validity 1 h, refresh window 3590 s: due ten seconds after signing.
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 1\n\
             [[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{KEY}\"\n\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\ntransfer_key = \"xfr\"\n\
             [zone.dnssec]\nkeystore = \"soft\"\nsignature_validity = \"1h\"\n\
             signature_refresh = \"3590s\"\n",
            data.display(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    for role in ["ksk", "zsk"] {
        let out = Command::new(BIN)
            .args(["keys", "-c"])
            .arg(&cfg)
            .args(["generate", "--zone", "shop.", "--role", role])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = Server::start_with_config(&cfg, dir);
    let first = axfr(&s);
    let first_serial = serial(&first);
    let before = expirations(&first);
    assert!(
        before.keys().any(|(_, t)| t == "DS") && before.keys().any(|(_, t)| t == "NSEC3"),
        "a signed zone with DS and NSEC3: {} RRSIGs",
        before.len()
    );

    // Wait until every signature was re-made (or give up after 90 s).
    let deadline = Instant::now() + Duration::from_secs(90);
    let refreshed = loop {
        let now = axfr(&s);
        let after = expirations(&now);
        let stale = before
            .iter()
            .filter(|(k, exp)| after.get(*k).is_none_or(|e| e <= *exp))
            .count();
        if stale == 0 {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "{stale} of {} signatures not refreshed",
            before.len()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert_eq!(
        expirations(&refreshed).len(),
        before.len(),
        "the same RRsets are signed"
    );
    assert!(serial(&refreshed) > first_serial, "a new version was made");
    ldns_verify(s.dir.path(), &refreshed);

    // Secondaries follow by IXFR: the difference from the first serial
    // carries RRSIGs and the new SOA.
    let ixfr = s.kdig(&[
        "shop.",
        &format!("IXFR={first_serial}"),
        "-y",
        &format!("hmac-sha256:xfr:{KEY}"),
        "+nocomments",
        "+nostats",
    ]);
    assert!(
        ixfr.contains("\tRRSIG\tDS "),
        "IXFR with new DS signatures: {ixfr}"
    );
    assert!(
        ixfr.contains(&format!(" {first_serial} ")),
        "IXFR starts at the first serial"
    );
    let dnskey = s.kdig(&["shop.", "DNSKEY", "+dnssec", "+norec"]);
    let exp_now = dnskey
        .lines()
        .find(|l| l.contains("RRSIG\tDNSKEY"))
        .and_then(|l| l.split_whitespace().nth(8))
        .unwrap()
        .to_string();
    let exp_first = &before[&("shop.".to_string(), "DNSKEY".to_string())];
    assert!(
        exp_now > *exp_first,
        "DNSKEY answers carry the refreshed RRSIG ({exp_now} vs {exp_first})"
    );
    assert!(s.stop(), "clean stop");
}
