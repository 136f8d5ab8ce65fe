//! tldd answers like NSD or Knot on the same generated TLD zone
//! (tests/differential.py does the work; it needs nsd, knotd and dnspython).
use crate::support::serve as common;

#[test]
fn answers_match_nsd_or_knot() {
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(common::repo("tests/differential.py"))
        .arg(common::BIN)
        .args(["3000", "3000"])
        .output()
        .expect("/usr/bin/python3 with python3-dnspython, nsd and knot must be installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "differential test failed:\n{text}");
    assert!(text.contains("answers identical to NSD or Knot"), "{text}");
}
