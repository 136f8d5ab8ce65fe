//! Harness of tests/srs_to_tldd.rs: `tldd serve` + `tldd srs` started
//! together, answers read with dnspython, the zone by TSIG AXFR (kdig),
//! EPP helpers over Net::EPP::Simple.
#![allow(dead_code)]
use super::serve;
use super::srs::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
pub const QUERY_PY: &str = r#"
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

pub struct Ans {
    pub rcode: String,
    pub aa: bool,
    pub answer: Vec<(String, String, String)>,
    pub authority: Vec<(String, String, String)>,
    pub additional: Vec<(String, String, String)>,
}

pub fn triples(v: &Value) -> Vec<(String, String, String)> {
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
pub fn query(port: u16, name: &str, qtype: &str, dnssec: bool) -> Ans {
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
pub enum Want<'a> {
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

pub struct Flow {
    pub tldd: serve::Server,
    pub srs: Srs,
    pub signed: bool,
    pub dir: std::path::PathBuf,
}

impl Flow {
    pub fn port(&self) -> u16 {
        self.tldd.port()
    }

    /// Why the answers for `name` are not (yet) what we want, or None.
    pub fn mismatch(&self, name: &str, want: &Want) -> Option<String> {
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
    pub fn expect(&self, step: &str, name: &str, want: Want) {
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
    pub fn addresses(&self) -> BTreeSet<String> {
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
    pub fn expect_glue(&self, step: &str, want: &[&str]) {
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

    pub fn dump(&self) {
        let log = self.tldd.log.lock().unwrap().join("\n");
        eprintln!("----- tldd serve log -----\n{log}");
    }
}

/// `tldd serve` (zone `shop.` plus `extra_zone` lines), then `tldd srs`
/// publishing to it.
pub fn start(dir: &Path, signed: bool, extra_zone: &str) -> Flow {
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
        super::dnssec::ksk_and_zsk(&cfg, "shop.");
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

pub const DS1: &str = "8D2B3F5A6C7E9D0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F607182";

pub fn ds_xml(op: &str, name: &str) -> String {
    cmd(&format!(
        "<update><domain:update {DOM}><domain:name>{name}</domain:name></domain:update></update>\
         <extension><secDNS:update {SECDNS}><secDNS:{op}><secDNS:dsData><secDNS:keyTag>4242</secDNS:keyTag>\
         <secDNS:alg>13</secDNS:alg><secDNS:digestType>2</secDNS:digestType><secDNS:digest>{DS1}</secDNS:digest>\
         </secDNS:dsData></secDNS:{op}></secDNS:update></extension>"
    ))
}

pub fn host(p: &mut Perl, name: &str, v4: &[&str], v6: &[&str]) {
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

pub fn domain(p: &mut Perl, name: &str, ns: &[&str]) {
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

pub fn update(p: &mut Perl, name: &str, add: Value, rem: Value) {
    let mut u = json!({ "name": name });
    for (k, v) in [("add", add), ("rem", rem)] {
        if v.as_object().is_some_and(|o| !o.is_empty()) {
            u[k] = v;
        }
    }
    p.expect(1000, "update_domain", json!([u]));
}

pub fn days(d: i64) -> String {
    rfc3339(now() + time::Duration::days(d))
}

pub fn metric_lines(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

pub fn http_metrics(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The served signed zone passes ldns-verify-zone.
pub fn verify_zone(f: &Flow) {
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
