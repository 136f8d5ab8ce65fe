//! Data written by an earlier release is read by this one.
//!
//! `tests/fixtures/datadir-v0.tar.gz` was written by the single-crate tldd
//! before the workspace (commit 724e710) with
//! `tests/fixtures/make-datadir-v0.sh`: a signed zone (soft keys, key
//! state, audit log), its snapshot and four acknowledged updates in the
//! journal (entries without a version byte, meta format 2), and an SRS
//! store with one registrar. This build must serve exactly that zone,
//! append to that journal, replay the mixed journal after a restart, serve
//! IXFR across both entry formats, and read the keys and the SRS store.
use crate::support::serve as common;

use common::{Server, BIN};
use std::path::Path;
use std::process::Command;

const SECRET: &str = "c3JzLWtleS1mb3ItdGhlLWZpeHR1cmUtb25seQ==";

fn unpack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("xzf")
        .arg(common::repo("tests/fixtures/datadir-v0.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    dir
}

/// The fixture's config with absolute paths (it was written relative to
/// its own directory) and transfers allowed from loopback.
/// The config v0 ran with. It served the DNSKEY RRset with a TTL of one
/// day (`dnskey_ttl` did not exist yet), so that is set here: another
/// value would be a key step at start, a new version with the configured
/// TTL (served right, but not the "same as v0" this test checks).
fn config(v0: &Path) -> std::path::PathBuf {
    let cfg = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\n\
         [[tsig]]\nname = \"srs-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"srs-key\"\n\
         allow_transfer = [\"127.0.0.0/8\"]\n[zone.dnssec]\nkeystore = \"soft\"\n\
         dnskey_ttl = \"1d\"\n",
        v0.join("data").display(),
        v0.join("shop.zone").display()
    );
    let p = v0.join("tldd-now.toml");
    std::fs::write(&p, cfg).unwrap();
    p
}

fn serial(s: &Server) -> u32 {
    let soa = s.kdig(&["+short", "shop.", "SOA"]);
    soa.split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no SOA: {soa:?}"))
}

fn nsupdate(s: &Server, script: &str) {
    let mut child = Command::new("nsupdate")
        .args(["-y", &format!("hmac-sha256:srs-key:{SECRET}")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate (bind9-dnsutils)");
    use std::io::Write;
    let input = format!(
        "server 127.0.0.1 {}\nzone shop.\n{script}\nsend\n",
        s.port()
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "nsupdate failed");
}

#[test]
fn a_v0_data_directory_is_served_extended_and_replayed() {
    let dir = unpack();
    let v0 = dir.path().join("v0");
    let recorded: u32 = std::fs::read_to_string(v0.join("serial.txt"))
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    let cfg = config(&v0);
    let keep = tempfile::tempdir().unwrap();

    let s = Server::start_with_config(&cfg, keep);
    assert_eq!(serial(&s), recorded, "the journal's last version is served");
    let referral = s.kdig(&["+norec", "www.fixture2.shop.", "A"]);
    assert!(
        referral.contains("ns1.fixture2.shop."),
        "an update journaled by v0 is served: {referral}"
    );
    let ds = s.kdig(&["+dnssec", "+norec", "fixture1.shop.", "DS"]);
    assert!(
        ds.contains("DS\t12345 13 2") && ds.contains("RRSIG\tDS"),
        "{ds}"
    );

    nsupdate(
        &s,
        "update add fixture4.shop. 3600 IN NS ns1.fixture4.shop.\nupdate add ns1.fixture4.shop. 3600 IN A 192.0.2.4",
    );
    assert_eq!(serial(&s), recorded + 1);
    let keep = std::mem::replace(&mut { s }.dir, tempfile::tempdir().unwrap());

    // Restart: snapshot + v0 entries + this build's entry replay in order.
    let s = Server::start_with_config(&cfg, keep);
    assert_eq!(serial(&s), recorded + 1, "the mixed journal replays");
    let r = s.kdig(&["+norec", "www.fixture4.shop.", "A"]);
    assert!(r.contains("ns1.fixture4.shop."), "{r}");
    // IXFR from before the v0 updates to now crosses both entry formats.
    let ixfr = s.kdig(&["+tcp", "shop.", &format!("IXFR={}", recorded - 3)]);
    for name in ["fixture2.shop.", "fixture3.shop.", "fixture4.shop."] {
        assert!(ixfr.contains(name), "IXFR lacks {name}: {ixfr}");
    }
    assert!(
        ixfr.matches("\tSOA\t").count() >= 2 * 4 + 2,
        "one diff per version: {ixfr}"
    );
    s.stop();

    // Keys and the audit log.
    let out = Command::new(BIN)
        .args(["keys", "-c"])
        .arg(&cfg)
        .arg("list")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(list.contains(" ksk ") && list.contains(" zsk "), "{list}");
    let out = Command::new(BIN)
        .args(["keys", "-c"])
        .arg(&cfg)
        .args(["audit", "--verify"])
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && audit.contains("audit log OK: 2 entries"),
        "{audit}"
    );

    // The SRS store.
    let out = Command::new(BIN)
        .args(["srs", "-c"])
        .arg(v0.join("srs.toml"))
        .args(["registrar", "list"])
        .output()
        .unwrap();
    let rars = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && rars.contains("fixture-rar"),
        "{rars} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
