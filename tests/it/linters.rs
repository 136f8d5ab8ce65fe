//! Zonemaster (undelegated test) and DNSViz (probe -A, grok) find nothing
//! wrong with tldd that they do not also find with NSD or Knot serving the
//! same signed zone, signed by BIND's dnssec-signzone or by `tldd sign`.
//! tests/linters.py does the work (on 127.0.0.10-12 port 53, with a local
//! root); it needs zonemaster-cli, dnsviz, bind9, bind9-utils, nsd, knot.
use crate::support::serve as common;

fn linters(signer: &str) {
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(common::repo("tests/linters.py"))
        .arg(common::BIN)
        .args(["--signer", signer])
        .output()
        .expect("/usr/bin/python3 with python3-dnspython");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "linters found more in tldd:\n{text}");
    assert!(
        text.contains("0 messages for tldd that neither NSD nor Knot gets"),
        "{text}"
    );
}

/// One test: both runs use the same fixed addresses and port 53.
#[test]
fn zonemaster_and_dnsviz_find_nothing_nsd_and_knot_do_not() {
    linters("bind");
    linters("tldd");
}
