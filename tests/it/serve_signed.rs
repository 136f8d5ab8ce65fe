//! `tldd serve` on a zone with `[zone.dnssec]`: signed at load with the keys
//! made by `tldd keys generate`, verified, served with DNSSEC (checked with
//! kdig and `ldns-verify-zone` on the AXFR).
use crate::support::serve as common;
use common::*;
use std::process::Command;

#[test]
fn a_dnssec_zone_is_signed_at_load_and_served_signed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("tldd.toml");
    let key = "c3JzLWtleS1zZWNyZXQtZm9yLXRlc3Rz";
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 1\n\
             [[tsig]]\nname = \"xfr\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{key}\"\n\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\ntransfer_key = \"xfr\"\n\
             [zone.dnssec]\nkeystore = \"soft\"\nnsec3_opt_out = true\ndnskey_ttl = \"2h\"\n",
            data.display(),
            repo("zones/shop.zone").display()
        ),
    )
    .unwrap();
    crate::support::dnssec::ksk_and_zsk(&cfg, "shop.");
    let s = Server::start_with_config(&cfg, dir);
    let dnskey = s.kdig(&["shop.", "DNSKEY", "+dnssec", "+norec"]);
    assert!(dnskey.contains("DNSKEY\t257 3 13"), "{dnskey}");
    assert!(dnskey.contains("RRSIG\tDNSKEY 13 1"), "{dnskey}");
    let nx = s.kdig(&["no-such-name.shop.", "A", "+dnssec", "+norec"]);
    assert!(nx.contains("NXDOMAIN"), "{nx}");
    assert!(nx.contains("NSEC3\t1 1 0 -"), "opt-out NSEC3 proof: {nx}");
    let param = s.kdig(&["shop.", "NSEC3PARAM", "+norec"]);
    assert!(param.contains("NSEC3PARAM\t1 0 0 -"), "{param}");
    // NSEC3PARAM with the NSEC3 TTL (the zone's negative TTL, SOA MINIMUM
    // 900 here), not 0; DNSKEY with `dnskey_ttl`, and `tldd keys dnskey`
    // prints the TTL that is served.
    let ttl_of = |out: &str, t: &str| -> Vec<u32> {
        out.lines()
            .filter(|l| !l.starts_with(';'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() > 3 && f[3] == t).then(|| f[1].parse().unwrap())
            })
            .collect()
    };
    assert_eq!(ttl_of(&param, "NSEC3PARAM"), [900], "{param}");
    assert_eq!(ttl_of(&dnskey, "DNSKEY"), [7200, 7200], "{dnskey}");
    let printed = Command::new(BIN)
        .args(["keys", "-c"])
        .arg(&cfg)
        .args(["dnskey", "--zone", "shop."])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert_eq!(ttl_of(&printed, "DNSKEY"), [7200, 7200], "{printed}");

    // The whole zone, transferred out, verifies with a tool nobody here wrote.
    let axfr = s.kdig(&[
        "shop.",
        "AXFR",
        "-y",
        &format!("hmac-sha256:xfr:{key}"),
        "+nocomments",
        "+nostats",
    ]);
    let f = s.dir.path().join("axfr.zone");
    // kdig prints each message's TSIG record; they are not zone data.
    let records: String = axfr
        .lines()
        .filter(|l| !l.contains("\tTSIG\t"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(records.contains("\tNSEC3\t"), "the chain is transferred");
    std::fs::write(&f, records).unwrap();
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

/// A secondary provisioned with the same unsigned file the primary signs
/// at load still gets the signed zone: signing is new content, so the
/// primary serves it with a new serial and the secondary transfers.
#[test]
fn a_secondary_started_from_the_unsigned_file_gets_the_signed_zone() {
    use crate::support::peers::{nsd_secondary_from, wait_up};
    use crate::support::ports::free_port;
    use crate::support::update::{keys_toml, serial_at, wait_for};
    let dir = tempfile::tempdir().unwrap();
    let file = repo("zones/shop.zone");
    let nport = free_port();
    let cfg = dir.path().join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 1\n{}\
             [[zone]]\norigin = \"shop.\"\nfile = \"{}\"\ntransfer_key = \"xfr-key\"\n\
             notify = [\"127.0.0.1:{nport}\"]\n\
             [zone.dnssec]\nkeystore = \"soft\"\n",
            dir.path().join("data").display(),
            keys_toml(),
            file.display()
        ),
    )
    .unwrap();
    crate::support::dnssec::ksk_and_zsk(&cfg, "shop.");
    let file_serial: u32 = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .find(|l| l.contains(" SOA "))
        .and_then(|l| l.split_whitespace().nth(6)?.parse().ok())
        .unwrap();
    let p = Server::start_with_config(&cfg, dir);
    let served = serial_at(p.addr).unwrap();
    assert_ne!(
        served, file_serial,
        "signing changed the content, not the serial"
    );
    assert!(tldd_zone::serial::serial_lt(file_serial, served));
    let nsd = nsd_secondary_from(nport, p.addr, Some(&file));
    wait_up(nport);
    let nsd_addr = std::net::SocketAddr::from(([127, 0, 0, 1], nport));
    assert!(
        wait_for(60, || serial_at(nsd_addr) == Some(served)),
        "NSD stayed at the file's serial: {}",
        nsd.log()
    );
    let out = crate::support::update::kdig_at(nsd_addr, &["shop.", "DNSKEY", "+dnssec", "+norec"]);
    assert!(
        out.contains("DNSKEY\t257 3 13") && out.contains("RRSIG"),
        "{out}"
    );
}
