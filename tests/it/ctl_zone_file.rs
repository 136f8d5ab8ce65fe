//! `tldd ctl zone-reload` and `zone-sign`, checked by what clients see: an
//! edited zone file becomes one new version whose IXFR carries exactly the
//! edit (an unsigned zone) or whose AXFR verifies with `ldns-verify-zone`
//! and serves the edit signed (a signed zone); a file with an error
//! changes nothing; an unchanged file makes no version; `--force` replaces;
//! `zone-sign` gives every RRSIG a new inception and the zone still
//! verifies.
use crate::ctl::{ctl, fact};
use crate::support::serve::*;
use crate::support::update::{kdig_at, normalize, serial_at};
use std::path::Path;
use std::process::Command;

fn copy_zone(dir: &Path) -> std::path::PathBuf {
    let f = dir.join("shop.zone");
    std::fs::copy(repo("zones/shop.zone"), &f).unwrap();
    f
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in the zone file");
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn axfr(s: &Server) -> String {
    kdig_at(s.addr, &["shop.", "AXFR", "+nocomments", "+nostats"])
}

#[test]
fn zone_reload_turns_an_edited_file_into_one_ixfr_version() {
    let files = tempfile::tempdir().unwrap();
    let file = copy_zone(files.path());
    let s = Server::start(
        "",
        &format!(
            "[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nallow_transfer = [\"127.0.0.1\"]\n",
            file.display()
        ),
    );
    let cfg = s.dir.path().join("tldd.toml");
    let s0 = serial_at(s.addr).unwrap();
    let (code, out, err) = ctl(&cfg, &["zone-reload", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(
        fact(&out, "result").unwrap().starts_with("unchanged"),
        "{out}"
    );
    assert_eq!(serial_at(s.addr), Some(s0));

    // One delegation added, one removed, one TTL changed.
    edit(
        &file,
        "03p8hs 86400 IN NS ns1.host339.example.\n03p8hs 86400 IN NS ns2.host339.example.\n",
        "",
    );
    edit(
        &file,
        "a.nic 86400 IN A 192.0.2.1",
        "a.nic 600 IN A 192.0.2.1",
    );
    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap() + "reloaded 86400 IN NS ns1.example.net.\n",
    )
    .unwrap();
    let (code, out, err) = ctl(&cfg, &["zone-reload", "shop."]);
    assert_eq!(code, 0, "{err}");
    let s1 = serial_at(s.addr).unwrap();
    assert_ne!(s1, s0, "{out}");
    assert!(kdig_at(s.addr, &["x.reloaded.shop.", "A"]).contains("reloaded.shop."));
    assert!(kdig_at(s.addr, &["03p8hs.shop.", "NS"]).contains("NXDOMAIN"));
    // The IXFR from s0 is exactly the edit (plus the SOAs).
    let ixfr = normalize(&kdig_at(
        s.addr,
        &["shop.", &format!("IXFR={s0}"), "+nocomments", "+nostats"],
    ));
    let body: Vec<&String> = ixfr.iter().filter(|l| !l.contains(" soa ")).collect();
    assert_eq!(body.len(), 5, "{ixfr:#?}");
    for want in [
        "03p8hs.shop. 86400 in ns ns1.host339.example.",
        "reloaded.shop. 86400 in ns ns1.example.net.",
        "a.nic.shop. 600 in a 192.0.2.1",
        "a.nic.shop. 86400 in a 192.0.2.1",
    ] {
        assert!(body.iter().any(|l| *l == want), "{want} not in {ixfr:#?}");
    }

    // A file with an error changes nothing.
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, good.clone() + "broken 86400 IN A 999.1.1.1\n").unwrap();
    let (code, _, err) = ctl(&cfg, &["zone-reload", "shop."]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("shop.zone:"), "no file and line: {err}");
    assert_eq!(serial_at(s.addr), Some(s1));

    // --force replaces the zone by the file.
    std::fs::write(
        &file,
        good.replace("reloaded 86400 IN NS ns1.example.net.\n", ""),
    )
    .unwrap();
    let (code, out, err) = ctl(&cfg, &["zone-reload", "shop.", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(fact(&out, "result").unwrap().contains("replaced"), "{out}");
    assert!(kdig_at(s.addr, &["reloaded.shop.", "NS"]).contains("NXDOMAIN"));
    let (code, _, err) = ctl(&cfg, &["zone-sign", "shop."]);
    assert_eq!(code, 1, "zone-sign of an unsigned zone: {err}");
}

/// Inception fields of every RRSIG in an AXFR text.
fn inceptions(axfr: &str) -> Vec<String> {
    axfr.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 10 && f[3] == "RRSIG").then(|| f[9].to_string())
        })
        .collect()
}

fn verify(dir: &Path, text: &str) {
    let f = dir.join("axfr.zone");
    std::fs::write(&f, text).unwrap();
    let v = Command::new("ldns-verify-zone").arg(&f).output().unwrap();
    assert!(
        v.status.success(),
        "ldns-verify-zone: {}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn a_signed_zone_reloads_signed_and_zone_sign_signs_everything_again() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_zone(dir.path());
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 1\n\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nallow_transfer = [\"127.0.0.1\"]\n\
             [zone.dnssec]\nkeystore = \"soft\"\nnsec3_opt_out = true\n",
            dir.path().join("data").display(),
            file.display()
        ),
    )
    .unwrap();
    crate::support::dnssec::ksk_and_zsk(&cfg, "shop.");
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    let s0 = serial_at(s.addr).unwrap();
    let before = axfr(&s);
    verify(dir.path(), &before);

    // The file knows nothing of DNSSEC: only its own edit is applied.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap()
            + "signedreload 86400 IN NS ns1.signedreload.shop.\n\
               ns1.signedreload 86400 IN A 198.51.100.99\n\
               signedreload 86400 IN DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000\n",
    )
    .unwrap();
    let (code, out, err) = ctl(&cfg, &["zone-reload", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(fact(&out, "result").unwrap().contains("IXFR"), "{out}");
    let after = axfr(&s);
    verify(dir.path(), &after);
    assert!(after.contains("signedreload.shop."), "not served");
    assert!(
        after.contains("DNSKEY"),
        "the signer's keys went with the reload"
    );
    let ds = kdig_at(s.addr, &["signedreload.shop.", "DS", "+dnssec"]);
    assert!(ds.contains("RRSIG\tDS"), "the new DS is not signed: {ds}");
    assert_ne!(serial_at(s.addr), Some(s0));

    // zone-sign: every signature made again (one second later at least).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let old = inceptions(&after);
    let (code, out, err) = ctl(&cfg, &["zone-sign", "shop."]);
    assert_eq!(code, 0, "{err}");
    assert!(
        fact(&out, "result").unwrap().contains("signed again"),
        "{out}"
    );
    let resigned = axfr(&s);
    verify(dir.path(), &resigned);
    let new = inceptions(&resigned);
    assert_eq!(new.len(), old.len(), "a different number of RRSIGs");
    let newest_old = old.iter().max().unwrap();
    assert!(
        new.iter().all(|i| i > newest_old),
        "an RRSIG kept its old inception after zone-sign"
    );
}

#[test]
fn a_file_edited_while_stopped_is_reported_or_applied_as_zonefile_load_says() {
    let dir = tempfile::tempdir().unwrap();
    let file = copy_zone(dir.path());
    let cfg = dir.path().join("tldd.toml");
    let config = |extra: &str| {
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 1\n\
                 [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n{extra}",
                dir.path().join("data").display(),
                file.display()
            ),
        )
        .unwrap()
    };
    let logged = |s: &Server, what: &str| s.log.lock().unwrap().iter().any(|l| l.contains(what));
    config("");
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    let s0 = serial_at(s.addr).unwrap();
    assert!(s.stop());

    std::fs::write(
        &file,
        std::fs::read_to_string(&file).unwrap() + "whilestopped 86400 IN NS ns1.example.net.\n",
    )
    .unwrap();
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    assert!(
        logged(&s, "the zone file changed"),
        "no report of the edited file"
    );
    assert!(kdig_at(s.addr, &["whilestopped.shop.", "NS"]).contains("NXDOMAIN"));
    assert_eq!(
        serial_at(s.addr),
        Some(s0),
        "the store's version is not served"
    );
    assert!(s.stop());

    config("zonefile_load = \"difference\"\n");
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    assert!(logged(&s, "changed file applied"), "not applied");
    assert!(kdig_at(s.addr, &["x.whilestopped.shop.", "A"]).contains("whilestopped.shop."));
    let s1 = serial_at(s.addr).unwrap();
    assert_ne!(s1, s0);
    assert!(s.stop());

    // Applied once: the next start has nothing to say.
    let s = Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    assert!(!logged(&s, "the zone file changed") && !logged(&s, "changed file applied"));
    assert_eq!(serial_at(s.addr), Some(s1));
}
