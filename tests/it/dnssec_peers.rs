//! Differential: tldd, NSD and Knot serve the same `tldd sign` output; a
//! sample of DO=1 queries (apex data, NXDOMAIN, NODATA, ENT, DS, signed and
//! unsigned referrals, opt-out on and off) must get the same rcode, flags,
//! answer and authority sections (tests/dnssec_peers/diff.py, dnspython).
//! Needs nsd, knot, python3-dnspython.
use crate::support::dnssec as dnssec_common;
use crate::support::serve as common;
use common::{free_port, Server};
use dnssec_common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_up(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let q = query("shop.", 6, false);
    while Instant::now() < deadline {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let _ = s.send_to(&q, ("127.0.0.1", port));
        let mut b = [0u8; 4096];
        if let Ok((n, _)) = s.recv_from(&mut b) {
            if n > 12 && b[3] & 0xf == 0 {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("peer on port {port} did not come up");
}

fn nsd(dir: &Path, zone: &Path) -> (Peer, u16) {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  chroot: \"\"\n  username: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  do-ip6: no\nremote-control:\n  control-enable: no\nzone:\n  name: shop.\n  zonefile: \"{}\"\n",
        zone.display()
    );
    let p = dir.join("nsd.conf");
    std::fs::write(&p, conf).unwrap();
    let c = Command::new("nsd")
        .args(["-d", "-c"])
        .arg(&p)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsd must be installed");
    let peer = Peer(c);
    wait_up(port);
    (peer, port)
}

fn knot(dir: &Path, zone: &Path) -> (Peer, u16) {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{d}\"\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: \"{d}\"\ntemplate:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    journal-content: none\nzone:\n  - domain: shop.\n    file: \"{}\"\n",
        zone.display()
    );
    let p = dir.join("knot.conf");
    std::fs::write(&p, conf).unwrap();
    let c = Command::new("knotd")
        .args(["-c"])
        .arg(&p)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("knotd must be installed");
    let peer = Peer(c);
    wait_up(port);
    (peer, port)
}

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
        let (_n, nport) = nsd(nd.path(), &signed);
        let kd = tempfile::tempdir().unwrap();
        let (_k, kport) = knot(kd.path(), &signed);
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
