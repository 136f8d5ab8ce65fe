//! Differential: tldd, NSD and Knot serve the same `tldd sign` output; a
//! sample of DO=1 queries (apex data, NXDOMAIN, NODATA, ENT, DS, signed and
//! unsigned referrals, opt-out on and off) must get the same rcode, flags,
//! answer and authority sections (tests/dnssec_peers/diff.py, dnspython).
//! Needs nsd, knot, python3-dnspython.
use crate::support::dnssec as dnssec_common;
use crate::support::peers::*;
use crate::support::serve as common;
use common::Server;
use dnssec_common::*;
use std::path::Path;
use std::process::Command;

fn queries(extra: usize) -> String {
    let mut q = vec![
        "shop. SOA",
        "shop. NS",
        "shop. DNSKEY",
        "shop. NSEC3PARAM",
        "shop. MX",
        "shop. TXT",
        "shop. A",
        "shop. DS",
        "nic.shop. A",
        "nic.shop. TXT",
        "a.nic.shop. AAAA",
        "b.nic.shop. AAAA",
        "ent.shop. A",
        "x.ent.shop. A",
        "www.x.ent.shop. A",
        "www.x.ent.shop. TXT",
        "sub.shop. A",
        "nope.shop. A",
        "a.b.nope.shop. A",
        "x.nic.shop. A",
        "y.x.ent.shop. A",
        "zz.sub.shop. A",
        "signed.shop. DS",
        "signed.shop. NS",
        "signed.shop. A",
        "www.signed.shop. A",
        "ns1.signed.shop. A",
        "plain.shop. DS",
        "plain.shop. A",
        "www.plain.shop. AAAA",
        "unsigned.shop. DS",
        "ns1.unsigned.shop. A",
        "mixed.shop. DS",
        "deep.sub.shop. DS",
        "x.deep.sub.shop. A",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for i in 0..extra {
        q.push(format!("d{i}.shop. DS"));
        q.push(format!("www.d{i}.shop. A"));
        q.push(format!("n{i}x.shop. A"));
    }
    q.join("\n") + "\n"
}

#[test]
fn tldd_nsd_knot_agree_on_do_answers() {
    let dir = tempfile::tempdir().unwrap();
    let zone = write_zone(dir.path(), 30);
    let qfile = dir.path().join("queries.txt");
    std::fs::write(&qfile, queries(30)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dnssec_peers/diff.py");
    for opt_out in [true, false] {
        let cfg = write_config(dir.path(), &zone, Some((13, opt_out, "", 0)), "127.0.0.1:0");
        let signed = dir.path().join(format!("signed-{opt_out}.zone"));
        let (ok, err) = tldd_sign(&cfg, &signed, &[]);
        assert!(ok, "{err}");
        let srv = Server::with_zone("shop.", &signed, "");
        let nd = tempfile::tempdir().unwrap();
        let n = nsd_serving(nd.path(), &signed);
        let nport = n.port();
        let kd = tempfile::tempdir().unwrap();
        let k = knot_serving(kd.path(), &signed);
        let kport = k.port();
        let o = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(&qfile)
            .arg(format!("tldd={}", srv.port()))
            .arg(format!("nsd={nport}"))
            .arg(format!("knot={kport}"))
            .output()
            .expect("/usr/bin/python3 with dnspython");
        let out =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        eprintln!("opt-out {opt_out}: {out}");
        assert!(o.status.success(), "opt-out {opt_out}:\n{out}");
    }
}
