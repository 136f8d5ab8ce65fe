//! The parent of a tldd zone, as a validating resolver sees it: a signed
//! root zone (`.`) that the test serves and re-signs itself, as a real
//! parent would when its child asks for a new DS.
//!
//! - keys: a KSK and a ZSK for `.` by `ldns-keygen` (ECDSA P-256,
//!   algorithm 13); [`Parent::trust_anchor`] is the KSK's DS by
//!   `ldns-key2ds`, for Unbound's `trust-anchor:`;
//! - zone: SOA, NS `a.root-servers.test.`, the child's delegation (NS, an
//!   A 127.0.0.1 for every NS name: the addresses do not matter, resolvers
//!   reach the child through a stub zone) and its DS RRset, TTLs of a few
//!   seconds; signed by `ldns-signzone` (NSEC);
//! - server: knotd ([`super::peers::knot_serving_zone`]); a new DS RRset
//!   ([`Parent::set_ds`]) is a new serial, re-signed and reloaded with
//!   `knotc zone-reload`, served before `set_ds` returns;
//! - the child's side: [`child_cds`] reads the CDS RRset (RFC 7344) tldd
//!   publishes, [`cds_to_ds`] turns it into DS lines, [`Parent::follow_cds`]
//!   does both and updates the parent.
//!
//! Needs ldnsutils (ldns-keygen, ldns-signzone, ldns-key2ds), knot (knotd,
//! knotc) and knot-dnsutils (kdig).
#![allow(dead_code)]
use super::peers::{knot_serving_zone, Peer};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The default TTL of the child's DS RRset at the parent, in seconds.
pub const DS_TTL: u32 = 3;

/// TTL of the parent's own records (SOA, NS, DNSKEY, the delegation NS);
/// its SOA MINIMUM, the TTL of its NSEC records, is 1.
pub const ROOT_TTL: u32 = 3;

/// The root zone's name server (an A 127.0.0.1 in the zone itself).
pub const ROOT_NS: &str = "a.root-servers.test.";

/// A signed root zone delegating to one child with a DS RRset, served by
/// knotd on a loopback port; stopped when dropped.
pub struct Parent {
    // Dropped first: knotd stops before its directory goes.
    server: Peer,
    zone: RootZone,
    anchor: String,
}

/// The root zone's content and where it is signed.
struct RootZone {
    dir: tempfile::TempDir,
    child: String,
    child_ns: Vec<String>,
    ds: String,
    ds_ttl: u32,
    serial: u32,
    /// Key base names (`K.+013+TAG`) in `dir`: KSK, ZSK.
    keys: [String; 2],
}

impl Parent {
    /// The root zone delegating `child` (e.g. `shop.`) to the names
    /// `child_ns` with the DS RRset `ds` (DS lines in zone-file form, e.g.
    /// `tldd keys ds` output; owners must be `child`, TTLs are replaced by
    /// [`DS_TTL`]; empty: an insecure delegation). Served before it returns.
    pub fn new(child: &str, child_ns: &[&str], ds: &str) -> Parent {
        Self::with_ds_ttl(child, child_ns, ds, DS_TTL)
    }

    /// [`Parent::new`] with the DS RRset served with TTL `ds_ttl`.
    pub fn with_ds_ttl(child: &str, child_ns: &[&str], ds: &str, ds_ttl: u32) -> Parent {
        assert!(child.ends_with('.') && child != ".", "child {child:?}");
        assert!(!child_ns.is_empty(), "a delegation needs NS names");
        let dir = tempfile::tempdir().unwrap();
        let ksk = run(
            Command::new("ldns-keygen")
                .args(["-a", "ECDSAP256SHA256", "-k", "."])
                .current_dir(dir.path()),
            "ldns-keygen",
        );
        let zsk = run(
            Command::new("ldns-keygen")
                .args(["-a", "ECDSAP256SHA256", "."])
                .current_dir(dir.path()),
            "ldns-keygen",
        );
        let keys = [ksk.trim().to_string(), zsk.trim().to_string()];
        let anchor = run(
            Command::new("ldns-key2ds")
                .args(["-n", "-2"])
                .arg(format!("{}.key", keys[0]))
                .current_dir(dir.path()),
            "ldns-key2ds",
        );
        let child = child.to_ascii_lowercase();
        let zone = RootZone {
            ds: normalise_ds(&child, ds, ds_ttl),
            dir,
            child,
            child_ns: child_ns.iter().map(|n| n.to_ascii_lowercase()).collect(),
            ds_ttl,
            serial: 1,
            keys,
        };
        let signed = zone.sign();
        let server = knot_serving_zone(zone.dir.path(), ".", &signed);
        let p = Parent {
            server,
            zone,
            anchor,
        };
        p.wait_serial();
        p
    }

    /// Replaces the child's DS RRset by `ds_lines` (zone-file form, owners
    /// the child, TTLs replaced by the parent's DS TTL; empty: no DS, an
    /// insecure delegation), bumps the SOA serial, re-signs and reloads the
    /// zone; returns once the server answers with the new serial.
    pub fn set_ds(&mut self, ds_lines: &str) {
        let z = &mut self.zone;
        z.ds = normalise_ds(&z.child, ds_lines, z.ds_ttl);
        z.serial += 1;
        z.sign();
        let sock = z.dir.path().join("knot.sock");
        run(
            Command::new("knotc")
                .arg("-s")
                .arg(&sock)
                .args(["zone-reload", "."]),
            "knotc zone-reload",
        );
        self.wait_serial();
    }

    /// Asks the child's server on `127.0.0.1:child_port` for its CDS RRset
    /// ([`child_cds`]), as a parent polling for CDS does (RFC 7344; taken on
    /// trust here: the resolver under test is not asked); with one, makes
    /// the DS RRset match it ([`cds_to_ds`], [`Parent::set_ds`]) and
    /// returns the new DS lines (empty for a CDS "delete", RFC 8078).
    /// Without a CDS RRset nothing changes and it returns `None`.
    pub fn follow_cds(&mut self, child_port: u16) -> Option<String> {
        let cds = child_cds(child_port, &self.zone.child);
        if records(&cds, "CDS").is_empty() {
            return None;
        }
        self.set_ds(&cds_to_ds(&cds));
        Some(self.zone.ds.clone())
    }

    /// The DS RRset served now, one line per record
    /// (`shop. 3 IN DS 12345 13 2 ABCD...`).
    pub fn ds(&self) -> &str {
        &self.zone.ds
    }

    /// The TTL the DS RRset is served with.
    pub fn ds_ttl(&self) -> u32 {
        self.zone.ds_ttl
    }

    /// The SOA serial served now (1, then one more per [`Parent::set_ds`]).
    pub fn serial(&self) -> u32 {
        self.zone.serial
    }

    /// The DS of the root KSK (`ldns-key2ds -n -2`), for Unbound's
    /// `trust-anchor:` ([`super::peers::unbound_caching`]).
    pub fn trust_anchor(&self) -> String {
        self.anchor.clone()
    }

    /// The loopback port knotd serves `.` on.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The root zone as last signed (for failure messages).
    pub fn zone(&self) -> String {
        std::fs::read_to_string(self.zone.dir.path().join("root.signed")).unwrap_or_default()
    }

    /// What knotd logged so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Waits until knotd answers `. SOA` with [`Parent::serial`].
    fn wait_serial(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let want = self.serial().to_string();
        let mut last = String::new();
        while Instant::now() < deadline {
            last = kdig(self.port(), ".", "SOA", &["+short"]);
            if last.split_whitespace().nth(2) == Some(want.as_str()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the parent does not serve serial {want} (last answer {last:?}); knotd log:\n{}",
            self.log()
        );
    }
}

impl RootZone {
    /// Writes `root.zone` for the current serial and DS and signs it into
    /// `root.signed` with `ldns-signzone`; returns the signed file.
    fn sign(&self) -> PathBuf {
        let t = ROOT_TTL;
        let mut z = format!(
            "$ORIGIN .\n$TTL {t}\n. {t} IN SOA {ROOT_NS} hostmaster.root-servers.test. {} 60 30 3600 1\n. {t} IN NS {ROOT_NS}\n",
            self.serial
        );
        let mut hosts = vec![ROOT_NS.to_string()];
        for ns in &self.child_ns {
            z.push_str(&format!("{} {t} IN NS {ns}\n", self.child));
            if !hosts.contains(ns) {
                hosts.push(ns.clone());
            }
        }
        for h in &hosts {
            z.push_str(&format!("{h} {t} IN A 127.0.0.1\n"));
        }
        z.push_str(&self.ds);
        let d = self.dir.path();
        std::fs::write(d.join("root.zone"), z).unwrap();
        run(
            Command::new("ldns-signzone")
                .args(["-o", ".", "-f", "root.signed", "root.zone"])
                .args(&self.keys)
                .current_dir(d),
            "ldns-signzone",
        );
        d.join("root.signed")
    }
}

/// The CDS RRset of `zone` at the server on `127.0.0.1:port`, straight
/// from it (`kdig +norec +dnssec`; not validated): the record lines of
/// kdig's answer section, RRSIGs included (empty when there is none).
pub fn child_cds(port: u16, zone: &str) -> String {
    kdig(
        port,
        zone,
        "CDS",
        &["+norec", "+dnssec", "+noall", "+answer"],
    )
}

/// DS lines from CDS records (kdig output or zone-file lines; comments,
/// other types and RRSIGs ignored): a CDS RDATA is a DS RDATA (RFC 7344),
/// the owner stays the child's. A CDS "delete" (`0 0 0 00`, RFC 8078)
/// gives no DS line, so a set of only that gives "" (an insecure
/// delegation).
pub fn cds_to_ds(text: &str) -> String {
    records(text, "CDS")
        .into_iter()
        .filter(|(_, rdata)| rdata.first().map(String::as_str) != Some("0"))
        .map(|(owner, rdata)| format!("{owner} IN DS {}\n", rdata_of_ds(&rdata)))
        .collect()
}

/// `(owner, RDATA fields)` of every record of type `rtype` in `text`
/// (zone-file or kdig lines: `OWNER [TTL] [CLASS] TYPE RDATA...`, TTL and
/// class in either order or absent; `;` lines and comments skipped).
fn records(text: &str, rtype: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("");
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 2 || line.starts_with(char::is_whitespace) {
            continue;
        }
        let Some(i) = (1..f.len())
            .find(|&i| !(f[i].parse::<u32>().is_ok() || ["IN", "CH", "HS", "CS"].contains(&f[i])))
        else {
            continue;
        };
        if f[i].eq_ignore_ascii_case(rtype) {
            out.push((
                f[0].to_ascii_lowercase(),
                f[i + 1..].iter().map(|s| s.to_string()).collect(),
            ));
        }
    }
    out
}

/// DS RDATA fields as one presentation string, the digest (which tools
/// split in chunks) joined and upper-cased.
fn rdata_of_ds(f: &[String]) -> String {
    assert!(f.len() >= 4, "DS/CDS RDATA {f:?}");
    format!(
        "{} {} {} {}",
        f[0],
        f[1],
        f[2],
        f[3..].concat().to_ascii_uppercase()
    )
}

/// The DS lines of `text` as the parent serves them: owner `child`
/// (checked), TTL `ttl`, canonical RDATA text.
fn normalise_ds(child: &str, text: &str, ttl: u32) -> String {
    records(text, "DS")
        .into_iter()
        .map(|(owner, rdata)| {
            assert_eq!(owner, child, "a DS line for another owner: {text}");
            format!("{child} {ttl} IN DS {}\n", rdata_of_ds(&rdata))
        })
        .collect()
}

/// `kdig @127.0.0.1 -p PORT NAME TYPE ARGS...`; returns stdout.
fn kdig(port: u16, name: &str, t: &str, args: &[&str]) -> String {
    let o = Command::new("kdig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+retry=1"])
        .args(args)
        .args([name, t])
        .output()
        .expect("kdig (knot-dnsutils) must be installed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `cmd`; returns its stdout, panics with its stderr on failure.
fn run(cmd: &mut Command, what: &str) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} must be installed: {e}"));
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
