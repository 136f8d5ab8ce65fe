//! tldd answers like NSD or Knot on the same generated TLD zone, unsigned
//! and signed by BIND's dnssec-signzone, including hand-made messages
//! (opcodes, malformed sections, QDCOUNT 0, EDNS EXPIRE). The work is in
//! tests/differential.py; it needs nsd, knotd, bind9-utils and dnspython.
use crate::support::serve as common;

fn differential(extra: &[&str]) {
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(common::repo("tests/differential.py"))
        .arg(common::BIN)
        .args(["3000", "3000"])
        .args(extra)
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
    assert!(
        text.contains("hand-made messages answered like NSD or Knot"),
        "{text}"
    );
}

#[test]
fn answers_match_nsd_or_knot() {
    differential(&[]);
}

#[test]
fn signed_answers_match_nsd_or_knot() {
    differential(&["--signed"]);
}
