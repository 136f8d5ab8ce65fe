//! The product's main data flow end to end: registrars (Net::EPP::Simple over
//! TLS) -> `tldd srs` -> RFC 2136 + TSIG -> `tldd serve`, for an unsigned
//! zone and for a `[zone.dnssec]` zone signed with soft keys.
//!
//! Each EPP step is followed by what a resolver sees (dnspython queries:
//! referral NS, glue, DS; with DO=1 the RRSIG over DS or the NSEC3 proof
//! that there is none) and by the zone itself (TSIG AXFR: no glue without
//! the delegation that needs it). At the end tldd's metrics must show no
//! update refused, the SRS publisher queue must be empty with no failed
//! update, and the signed zone must pass `ldns-verify-zone`.
//!
//! Covered: out-of-bailiwick and in-bailiwick name servers, sibling glue
//! (a name server under another registry domain), a host under a domain
//! that is not delegated, DS add/remove (secDNS-1.1), NS changes, host
//! address change, rename and delete, clientHold, delete into redemption,
//! restore, pending delete and purge (`lifecycle --at`).
#[path = "srs/common.rs"]
mod common;
#[path = "common/mod.rs"]
mod serve;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const QUERY_PY: &str = r#"
import sys, json, dns.message, dns.query, dns.flags, dns.rcode
port, name, qtype, do = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
q = dns.message.make_query(name, qtype, want_dnssec=do)
q.flags &= ~dns.flags.RD
r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=5)
def sec(s):
    return sorted([rr.name.to_text().lower(), dns.rdatatype.to_text(rr.rdtype), d.to_text().lower()]
                  for rr in s for d in rr)
print(json.dumps({"rcode": dns.rcode.to_text(r.rcode()), "aa": bool(r.flags & dns.flags.AA),
    "answer": sec(r.answer), "authority": sec(r.authority), "additional": sec(r.additional)}))
"#;

struct Ans {
    rcode: String,
    aa: bool,
    answer: Vec<(String, String, String)>,
    authority: Vec<(String, String, String)>,
    additional: Vec<(String, String, String)>,
}

fn triples(v: &Value) -> Vec<(String, String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = |i: usize| t[i].as_str().unwrap().to_string();
            (s(0), s(1), s(2))
        })
        .collect()
}

/// One query over TCP with dnspython (Debian's /usr/bin/python3).
fn query(port: u16, name: &str, qtype: &str, dnssec: bool) -> Ans {
    let (ok, out) = serve::python(
        QUERY_PY,
        &[
            &port.to_string(),
            name,
            qtype,
            if dnssec { "1" } else { "0" },
        ],
    );
    assert!(
        ok,
        "dnspython query failed (python3-dnspython installed?): {out}"
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    Ans {
        rcode: v["rcode"].as_str().unwrap().to_string(),
        aa: v["aa"].as_bool().unwrap(),
        answer: triples(&v["answer"]),
        authority: triples(&v["authority"]),
        additional: triples(&v["additional"]),
    }
}

/// What a resolver must get for a name below the apex.
#[derive(Clone, Debug, PartialEq)]
enum Want<'a> {
    /// Not in the zone: NXDOMAIN.
    Absent,
    /// A referral with these NS, this in-bailiwick glue ("name type addr"),
    /// and a DS RRset (answered to a DS query) or not.
    Referral {
        ns: &'a [&'a str],
        glue: &'a [&'a str],
        ds: bool,
    },
}

struct Flow {
    tldd: serve::Server,
    srs: Srs,
    signed: bool,
    dir: std::path::PathBuf,
}

impl Flow {
    fn port(&self) -> u16 {
        self.tldd.port()
    }

    /// Why the answers for `name` are not (yet) what we want, or None.
    fn mismatch(&self, name: &str, want: &Want) -> Option<String> {
        let a = query(self.port(), name, "A", false);
        let got = match want {
            Want::Absent => {
                if a.rcode == "NXDOMAIN" && a.aa {
                    None
                } else {
                    Some(format!("want NXDOMAIN, got {} {:?}", a.rcode, a.authority))
                }
            }
            Want::Referral { ns, glue, ds } => {
                let got_ns: BTreeSet<String> = a
                    .authority
                    .iter()
                    .filter(|(o, t, _)| o == name && t == "NS")
                    .map(|(_, _, r)| r.clone())
                    .collect();
                let want_ns: BTreeSet<String> = ns.iter().map(|s| s.to_string()).collect();
                // in-bailiwick glue: every address below `name` in additional
                let got_glue: BTreeSet<String> = a
                    .additional
                    .iter()
                    .filter(|(o, t, _)| o.ends_with(&format!(".{name}")) && t != "OPT")
                    .map(|(o, t, r)| format!("{o} {t} {r}"))
                    .collect();
                let want_glue: BTreeSet<String> = glue.iter().map(|s| s.to_string()).collect();
                // DS is asked for directly: a DO=0 referral does not carry it
                let has_ds = query(self.port(), name, "DS", false)
                    .answer
                    .iter()
                    .any(|(o, t, _)| o == name && t == "DS");
                if a.rcode != "NOERROR" || a.aa || got_ns != want_ns {
                    Some(format!(
                        "want referral NS {want_ns:?}, got {} aa={} {:?}",
                        a.rcode, a.aa, a.authority
                    ))
                } else if got_glue != want_glue {
                    Some(format!("glue {got_glue:?}, want {want_glue:?}"))
                } else if has_ds != *ds {
                    Some(format!("DS present: {has_ds}, want {ds}"))
                } else {
                    None
                }
            }
        };
        if got.is_some() || !self.signed {
            return got;
        }
        // DO=1: DS signed, or its absence proven by NSEC3; NXDOMAIN proven.
        let d = query(self.port(), name, "A", true);
        let types: BTreeSet<&str> = d.authority.iter().map(|(_, t, _)| t.as_str()).collect();
        let sig_over = |covered: &str| {
            d.authority.iter().any(|(_, t, r)| {
                t == "RRSIG"
                    && r.split_whitespace()
                        .next()
                        .is_some_and(|c| c.eq_ignore_ascii_case(covered))
            })
        };
        let ok = match want {
            Want::Absent => d.rcode == "NXDOMAIN" && sig_over("NSEC3") && sig_over("SOA"),
            Want::Referral { ds: true, .. } => sig_over("DS") && !types.contains("NSEC3"),
            Want::Referral { ds: false, .. } => types.contains("NSEC3") && sig_over("NSEC3"),
        };
        (!ok).then(|| format!("DO=1 proof missing: {} {:?}", d.rcode, d.authority))
    }

    /// Polls (with a deadline) until tldd answers `want` for `name`.
    fn expect(&self, step: &str, name: &str, want: Want) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let Some(why) = self.mismatch(name, &want) else {
                return;
            };
            if Instant::now() > end {
                self.dump();
                panic!("{step}: {name}: {why}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The zone's address records (owner, type, address) by TSIG AXFR.
    fn addresses(&self) -> BTreeSet<String> {
        let o = Command::new("kdig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.port().to_string(),
                "+time=5",
                "+retry=0",
            ])
            .args(["-y", &format!("hmac-sha256:srs-key:{TSIG_SECRET}")])
            .args(["shop.", "AXFR", "+noall", "+answer"])
            .output()
            .expect("kdig (knot-dnsutils)");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 5 && (f[3] == "A" || f[3] == "AAAA") && !f[0].ends_with(".nic.shop."))
                    .then(|| format!("{} {} {}", f[0].to_lowercase(), f[3], f[4]))
            })
            .collect()
    }

    /// Polls until the zone holds exactly these address records (glue).
    fn expect_glue(&self, step: &str, want: &[&str]) {
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.addresses();
            if got == want {
                return;
            }
            if Instant::now() > end {
                self.dump();
                panic!("{step}: zone address records {got:?}, want {want:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn dump(&self) {
        let log = self.tldd.log.lock().unwrap().join("\n");
        eprintln!("----- tldd serve log -----\n{log}");
    }
}

/// `tldd serve` (zone `shop.` plus `extra_zone` lines), then `tldd srs`
/// publishing to it.
fn start(dir: &Path, signed: bool, extra_zone: &str) -> Flow {
    let zone = dir.join("shop.zone");
    std::fs::write(
        &zone,
        format!(
            "$ORIGIN shop.\n$TTL 3600\n@ SOA a.nic.shop. hostmaster.nic.shop. 1 3600 900 604800 300\n\
             @ NS a.nic.shop.\na.nic A 192.0.2.53\n{extra_zone}"
        ),
    )
    .unwrap();
    let dnssec = if signed {
        "[zone.dnssec]\nkeystore = \"soft\"\nalgorithm = 13\nnsec3_opt_out = true\n"
    } else {
        ""
    };
    let cfg = dir.join("tldd.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{d}/tldd-data\"\nudp_workers = 1\nmetrics = \"127.0.0.1:0\"\n\
             [[tsig]]\nname = \"srs-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{TSIG_SECRET}\"\n\
             [[zone]]\norigin = \"shop.\"\nfile = \"{z}\"\nupdate_key = \"srs-key\"\ntransfer_key = \"srs-key\"\n{dnssec}",
            d = dir.display(),
            z = zone.display()
        ),
    )
    .unwrap();
    if signed {
        for role in ["ksk", "zsk"] {
            let o = Command::new(serve::BIN)
                .args(["keys", "-c"])
                .arg(&cfg)
                .args(["generate", "--zone", "shop.", "--role", role])
                .env("TLDD_OPERATOR", "test")
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    }
    let tldd = serve::Server::start_with_config(&cfg, tempfile::tempdir().unwrap());
    let mut srs = Srs::new(dir, tldd.port(), "");
    srs.start();
    Flow {
        tldd,
        srs,
        signed,
        dir: dir.to_owned(),
    }
}

const DS1: &str = "8D2B3F5A6C7E9D0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F607182";

fn ds_xml(op: &str, name: &str) -> String {
    cmd(&format!(
        "<update><domain:update {DOM}><domain:name>{name}</domain:name></domain:update></update>\
         <extension><secDNS:update {SECDNS}><secDNS:{op}><secDNS:dsData><secDNS:keyTag>4242</secDNS:keyTag>\
         <secDNS:alg>13</secDNS:alg><secDNS:digestType>2</secDNS:digestType><secDNS:digest>{DS1}</secDNS:digest>\
         </secDNS:dsData></secDNS:{op}></secDNS:update></extension>"
    ))
}

fn host(p: &mut Perl, name: &str, v4: &[&str], v6: &[&str]) {
    let addrs: Vec<Value> = v4
        .iter()
        .map(|a| json!({"ip": a, "version": "v4"}))
        .chain(v6.iter().map(|a| json!({"ip": a, "version": "v6"})))
        .collect();
    p.expect(
        1000,
        "create_host",
        json!([{ "name": name, "addrs": addrs }]),
    );
}

fn domain(p: &mut Perl, name: &str, ns: &[&str]) {
    p.expect(
        1000,
        "create_domain",
        json!([{
            "name": name, "period": 1, "registrant": "ca-1",
            "contacts": { "admin": "ca-1", "tech": "ca-1" },
            "ns": ns, "authInfo": "dom-Pass1",
        }]),
    );
}

fn update(p: &mut Perl, name: &str, add: Value, rem: Value) {
    let mut u = json!({ "name": name });
    for (k, v) in [("add", add), ("rem", rem)] {
        if v.as_object().is_some_and(|o| !o.is_empty()) {
            u[k] = v;
        }
    }
    p.expect(1000, "update_domain", json!([u]));
}

fn days(d: i64) -> String {
    rfc3339(now() + time::Duration::days(d))
}

fn metric_lines(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

fn http_metrics(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn flow(signed: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let f = start(tmp.path(), signed, "");
    let cert = f.srs.add_registrar("reg-a", "passA-123", &[]);
    let mut a = Perl::connect(&f.srs, "reg-a", "passA-123", Some(&cert));
    assert_eq!(a.login["code"], 1000, "{}", a.login);
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    host(&mut a, "ns1.example.net", &[], &[]);
    host(&mut a, "ns2.example.net", &[], &[]);

    // out-of-bailiwick name servers: a referral without glue
    domain(
        &mut a,
        "alpha.shop",
        &["ns1.example.net", "ns2.example.net"],
    );
    let ext = Want::Referral {
        ns: &["ns1.example.net.", "ns2.example.net."],
        glue: &[],
        ds: false,
    };
    f.expect("alpha created", "alpha.shop.", ext.clone());

    // a domain without NS is not in the zone; its hosts are no glue yet
    domain(&mut a, "beta.shop", &[]);
    host(&mut a, "ns1.beta.shop", &["192.0.2.1"], &["2001:db8::1"]);
    host(&mut a, "ns2.beta.shop", &["192.0.2.2"], &[]);
    f.expect("beta inactive", "beta.shop.", Want::Absent);
    f.expect_glue("beta inactive", &[]);

    // in-bailiwick NS: delegation and glue arrive together
    update(
        &mut a,
        "beta.shop",
        json!({"ns": ["ns1.beta.shop", "ns2.beta.shop"]}),
        json!({}),
    );
    let beta_glue = [
        "ns1.beta.shop. A 192.0.2.1",
        "ns1.beta.shop. AAAA 2001:db8::1",
        "ns2.beta.shop. A 192.0.2.2",
    ];
    let beta_ns: &[&str] = &["ns1.beta.shop.", "ns2.beta.shop."];
    f.expect(
        "beta delegated",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns,
            glue: &beta_glue,
            ds: false,
        },
    );
    f.expect_glue("beta delegated", &beta_glue);

    // sibling glue: gamma uses a name server under beta
    domain(&mut a, "gamma.shop", &["ns1.beta.shop", "ns1.example.net"]);
    let gamma = Want::Referral {
        ns: &["ns1.beta.shop.", "ns1.example.net."],
        glue: &[],
        ds: false,
    };
    f.expect("gamma created", "gamma.shop.", gamma.clone());

    // a host under a domain that is not delegated: used by eps, it must
    // not become an address record outside any delegation
    domain(&mut a, "delta.shop", &[]);
    host(&mut a, "ns1.delta.shop", &["192.0.2.4"], &[]);
    domain(&mut a, "eps.shop", &["ns1.delta.shop", "ns1.example.net"]);
    let eps = Want::Referral {
        ns: &["ns1.delta.shop.", "ns1.example.net."],
        glue: &[],
        ds: false,
    };
    f.expect("eps created", "eps.shop.", eps.clone());
    f.expect("delta inactive", "delta.shop.", Want::Absent);
    f.expect_glue("eps created", &beta_glue);
    // once delta is delegated (elsewhere), its host becomes glue for eps
    update(
        &mut a,
        "delta.shop",
        json!({"ns": ["ns2.example.net"]}),
        json!({}),
    );
    f.expect(
        "delta delegated",
        "delta.shop.",
        Want::Referral {
            ns: &["ns2.example.net."],
            glue: &[],
            ds: false,
        },
    );
    let mut glue2: Vec<&str> = beta_glue.to_vec();
    glue2.push("ns1.delta.shop. A 192.0.2.4");
    f.expect_glue("delta delegated", &glue2);

    // DS with secDNS-1.1
    a.raw_expect(1000, &ds_xml("add", "beta.shop"));
    f.expect(
        "beta DS",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns,
            glue: &beta_glue,
            ds: true,
        },
    );

    // a hold takes beta out with its glue, although gamma still uses ns1.beta.shop
    update(
        &mut a,
        "beta.shop",
        json!({"status": ["clientHold"]}),
        json!({}),
    );
    f.expect("beta held", "beta.shop.", Want::Absent);
    f.expect_glue("beta held", &["ns1.delta.shop. A 192.0.2.4"]);
    f.expect("beta held", "gamma.shop.", gamma.clone());
    update(
        &mut a,
        "beta.shop",
        json!({}),
        json!({"status": ["clientHold"]}),
    );
    f.expect(
        "beta released",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns,
            glue: &beta_glue,
            ds: true,
        },
    );
    f.expect_glue("beta released", &glue2);

    // NS change: ns2.beta.shop unused afterwards, its glue goes
    update(
        &mut a,
        "beta.shop",
        json!({"ns": ["ns1.example.net"]}),
        json!({"ns": ["ns2.beta.shop"]}),
    );
    let beta_glue1 = [
        "ns1.beta.shop. A 192.0.2.1",
        "ns1.beta.shop. AAAA 2001:db8::1",
    ];
    let beta_ns1: &[&str] = &["ns1.beta.shop.", "ns1.example.net."];
    f.expect(
        "beta NS changed",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue1,
            ds: true,
        },
    );
    f.expect_glue(
        "beta NS changed",
        &[beta_glue1[0], beta_glue1[1], "ns1.delta.shop. A 192.0.2.4"],
    );

    // a linked host's addresses change: the glue follows
    a.expect(
        1000,
        "update_host",
        json!([{ "name": "ns1.beta.shop", "add": {"addrs": [{"ip": "192.0.2.11", "version": "v4"}]},
                 "rem": {"addrs": [{"ip": "2001:db8::1", "version": "v6"}]} }]),
    );
    let beta_glue2 = ["ns1.beta.shop. A 192.0.2.1", "ns1.beta.shop. A 192.0.2.11"];
    f.expect(
        "host addresses changed",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue2,
            ds: true,
        },
    );

    // rename the unused host, use it from alpha (sibling glue), then drop it
    a.expect(
        1000,
        "update_host",
        json!([{ "name": "ns2.beta.shop", "chg": {"name": "ns3.beta.shop"} }]),
    );
    update(
        &mut a,
        "alpha.shop",
        json!({"ns": ["ns3.beta.shop"]}),
        json!({}),
    );
    f.expect(
        "alpha uses the renamed host",
        "alpha.shop.",
        Want::Referral {
            ns: &["ns1.example.net.", "ns2.example.net.", "ns3.beta.shop."],
            glue: &[],
            ds: false,
        },
    );
    f.expect_glue(
        "renamed host is glue",
        &[
            beta_glue2[0],
            beta_glue2[1],
            "ns1.delta.shop. A 192.0.2.4",
            "ns3.beta.shop. A 192.0.2.2",
        ],
    );
    update(
        &mut a,
        "alpha.shop",
        json!({}),
        json!({"ns": ["ns3.beta.shop"]}),
    );
    a.expect(1000, "delete_host", json!(["ns3.beta.shop"]));
    f.expect("alpha back", "alpha.shop.", ext.clone());
    f.expect_glue(
        "host deleted",
        &[beta_glue2[0], beta_glue2[1], "ns1.delta.shop. A 192.0.2.4"],
    );

    // DS removed: the referral is unsigned again
    a.raw_expect(1000, &ds_xml("rem", "beta.shop"));
    f.expect(
        "beta DS removed",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue2,
            ds: false,
        },
    );

    // lifecycle: past the add grace period, delete goes to redemption (out of the zone)
    f.srs.ok(&["lifecycle", "--at", &days(6)]);
    let r = a.call("delete_domain", json!(["alpha.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    f.expect("alpha in redemption", "alpha.shop.", Want::Absent);
    a.raw_expect(
        1000,
        &cmd(&format!(
            "<update><domain:update {DOM}><domain:name>alpha.shop</domain:name><domain:chg/></domain:update></update>\
             <extension><rgp:update {RGP}><rgp:restore op=\"request\"/></rgp:update></extension>"
        )),
    );
    f.expect("alpha restored", "alpha.shop.", ext.clone());
    // delta goes to redemption: its delegation and the glue eps needs leave together
    let r = a.call("delete_domain", json!(["delta.shop"]));
    assert_eq!(r["code"], 2305, "delta has a subordinate host: {r}");
    update(
        &mut a,
        "eps.shop",
        json!({}),
        json!({"ns": ["ns1.delta.shop"]}),
    );
    a.expect(1000, "delete_host", json!(["ns1.delta.shop"]));
    let r = a.call("delete_domain", json!(["delta.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    f.expect("delta in redemption", "delta.shop.", Want::Absent);
    f.expect_glue("delta in redemption", &beta_glue2);
    let r = a.call("delete_domain", json!(["gamma.shop"]));
    assert_eq!(r["code"], 1001, "{r}");
    f.expect("gamma in redemption", "gamma.shop.", Want::Absent);
    f.expect(
        "beta unaffected",
        "beta.shop.",
        Want::Referral {
            ns: beta_ns1,
            glue: &beta_glue2,
            ds: false,
        },
    );
    // redemption -> pending delete -> purge: out of the zone throughout
    f.srs.ok(&["lifecycle", "--at", &days(6 + 31)]);
    f.expect("gamma pending delete", "gamma.shop.", Want::Absent);
    f.srs.ok(&["lifecycle", "--at", &days(6 + 37)]);
    let r = a.expect(1000, "check_domain", json!(["gamma.shop"]));
    assert_eq!(r["result"], "1", "gamma purged: {r}");
    f.expect("gamma purged", "gamma.shop.", Want::Absent);
    f.expect(
        "eps",
        "eps.shop.",
        Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        },
    );
    f.expect("alpha", "alpha.shop.", ext);
    drop(a);

    // Nothing refused on either side, nothing left to publish.
    let status = f.srs.ok(&["status"]);
    assert!(status.contains("queue"), "{status}");
    let srs_metrics = f.srs.metrics();
    let pubs = metric_lines(&srs_metrics, "tldd_srs_publisher_updates_total");
    assert!(pubs.iter().any(|l| l.contains("result=\"ok\"")), "{pubs:?}");
    for l in &pubs {
        assert!(
            l.contains("result=\"ok\"") || l.ends_with(" 0"),
            "SRS publisher failures: {pubs:?}\n{}",
            f.srs.log()
        );
    }
    let depth = metric_lines(&srs_metrics, "tldd_srs_publisher_queue_depth");
    assert_eq!(
        depth,
        vec!["tldd_srs_publisher_queue_depth 0".to_string()],
        "{status}"
    );
    let tm = http_metrics(f.tldd.metrics.expect("tldd metrics address"));
    let ups = metric_lines(&tm, "tldd_updates_total");
    assert!(
        ups.iter().any(|l| l.contains("result=\"accepted\"")),
        "{ups:?}"
    );
    for l in &ups {
        assert!(
            l.contains("result=\"accepted\"") || l.ends_with(" 0"),
            "tldd refused updates: {ups:?}"
        );
    }
    let log = f.tldd.log.lock().unwrap().join("\n");
    assert!(!log.contains("update refused"), "{log}");
    if signed {
        verify_zone(&f);
    }
}

/// The served signed zone passes ldns-verify-zone.
fn verify_zone(f: &Flow) {
    need("ldns-verify-zone", "ldnsutils");
    let o = Command::new("kdig")
        .args(["@127.0.0.1", "-p", &f.port().to_string(), "+time=5"])
        .args(["-y", &format!("hmac-sha256:srs-key:{TSIG_SECRET}")])
        .args(["shop.", "AXFR", "+nocomments", "+nostats"])
        .output()
        .unwrap();
    let text: String = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.contains("\tTSIG\t") && !l.starts_with(';'))
        .map(|l| format!("{l}\n"))
        .collect();
    let file = f.dir.join("final.axfr");
    std::fs::write(&file, text).unwrap();
    let o = Command::new("ldns-verify-zone")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ldns-verify-zone: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn srs_publishes_to_tldd_unsigned() {
    flow(false);
}

#[test]
fn srs_publishes_to_tldd_signed() {
    flow(true);
}

/// A change the server refuses (here: the zone has registry data at a name
/// a registrar registers) must not be retried silently: ERROR in the SRS
/// log, `result="refused"`, the blocked gauge, and `status` naming it.
#[test]
fn a_refused_change_is_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let f = start(tmp.path(), false, "taken TXT \"registry data\"\n");
    let cert = f.srs.add_registrar("reg-a", "passA-123", &[]);
    let mut a = Perl::connect(&f.srs, "reg-a", "passA-123", Some(&cert));
    a.expect(1000, "create_contact", json!([contact("ca-1")]));
    host(&mut a, "ns1.example.net", &[], &[]);
    domain(&mut a, "fine.shop", &["ns1.example.net"]);
    f.expect(
        "fine.shop published",
        "fine.shop.",
        Want::Referral {
            ns: &["ns1.example.net."],
            glue: &[],
            ds: false,
        },
    );
    domain(&mut a, "taken.shop", &["ns1.example.net"]);
    let end = Instant::now() + Duration::from_secs(30);
    while !f.srs.metrics().contains("tldd_srs_publisher_blocked 1") {
        assert!(Instant::now() < end, "never blocked:\n{}", f.srs.metrics());
        std::thread::sleep(Duration::from_millis(200));
    }
    let m = f.srs.metrics();
    let refused = metric_lines(&m, "tldd_srs_publisher_updates_total{result=\"refused\"}");
    assert!(!refused.is_empty() && !refused[0].ends_with(" 0"), "{m}");
    let status = f.srs.ok(&["status"]);
    assert!(
        status.contains("publisher_queue 1")
            && status.contains("publisher_blocked operation")
            && status.contains("taken.shop")
            && status.contains("since"),
        "{status}"
    );
    assert!(
        f.srs.log().contains("refused a queued change"),
        "{}",
        f.srs.log()
    );
    let tm = http_metrics(f.tldd.metrics.unwrap());
    assert!(tm.contains("result=\"policy_authoritative\""), "{tm}");
    // the zone keeps its data; the delegation was not published
    let txt = query(f.port(), "taken.shop.", "TXT", false);
    assert_eq!(txt.rcode, "NOERROR");
    assert!(txt.aa);
}
