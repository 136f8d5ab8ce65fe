//! Knot DNS, NSD and Unbound as the tests run them: one typed driver each,
//! instead of a config in every test that needs one.
//!
//! - [`knot_secondary`] / [`nsd_secondary`]: secondaries of a tldd primary
//!   over TSIG (`xfr-key`), following by NOTIFY + IXFR;
//! - [`knot_serving`] / [`nsd_serving`]: authoritative for a zone file
//!   (the differential tests); [`knot_serving_zone`] for any origin (the
//!   root zone of [`super::parent`]);
//! - [`unbound`]: a validating resolver with stubs and a trust anchor that
//!   caches nothing; [`unbound_caching`]: the same resolver caching as a
//!   real one does (the rollover tests, where caches are the point).
#![allow(dead_code)]
use super::dnssec::query;
use super::ports::free_port;
use super::update::SECRET;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running peer server; killed when dropped.
pub struct Peer {
    child: Child,
    pub addr: SocketAddr,
    log: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Peer {
    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// knotd as a secondary of `primary` on `port`: AXFR/IXFR and NOTIFY with
/// the TSIG key `xfr-key` (hmac-sha256, [`SECRET`]); it also serves
/// transfers to loopback with that key.
pub fn knot_secondary(port: u16, primary: SocketAddr) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
         log:\n  - target: stderr\n    any: info\n\
         database:\n    storage: \"{d}\"\n\
         key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
         remote:\n  - id: tldd\n    address: {}@{}\n    key: xfr-key\n\
         acl:\n  - id: from_tldd\n    address: 127.0.0.1\n    key: xfr-key\n    action: notify\n\
         \x20 - id: local_xfr\n    address: 127.0.0.1\n    key: xfr-key\n    action: transfer\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n\
         zone:\n  - domain: shop.\n    master: tldd\n    acl: [from_tldd, local_xfr]\n",
        primary.ip(),
        primary.port()
    );
    let path = dir.path().join("knot.conf");
    std::fs::write(&path, conf).unwrap();
    let log = dir.path().join("knot.log");
    let child = Command::new("knotd")
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("knotd (package knot) must be installed");
    Peer {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
        _dir: Some(dir),
    }
}

/// NSD as a secondary of `primary` on `port`, same key and ACLs as
/// [`knot_secondary`].
pub fn nsd_secondary(port: u16, primary: SocketAddr) -> Peer {
    nsd_secondary_from(port, primary, None)
}

/// [`nsd_secondary`] that starts from a copy of `initial` as its zone file
/// (as a secondary provisioned from the primary's file would).
pub fn nsd_secondary_from(port: u16, primary: SocketAddr, initial: Option<&Path>) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    if let Some(f) = initial {
        std::fs::copy(f, dir.path().join("shop.zone")).unwrap();
    }
    let d = dir.path().display();
    let conf = format!(
        "server:\n    ip-address: 127.0.0.1@{port}\n    username: \"\"\n    zonesdir: \"{d}\"\n    database: \"\"\n\
         \x20   pidfile: \"{d}/nsd.pid\"\n    xfrdfile: \"{d}/xfrd.state\"\n    zonelistfile: \"{d}/zone.list\"\n\
         \x20   xfrdir: \"{d}\"\n    logfile: \"{d}/nsd.log\"\n    verbosity: 2\n    server-count: 1\n\
         remote-control:\n    control-enable: no\n\
         key:\n    name: \"xfr-key\"\n    algorithm: hmac-sha256\n    secret: \"{SECRET}\"\n\
         zone:\n    name: \"shop.\"\n    zonefile: \"shop.zone\"\n    allow-notify: 127.0.0.1 xfr-key\n\
         \x20   request-xfr: {}@{} xfr-key\n    provide-xfr: 127.0.0.1 xfr-key\n",
        primary.ip(),
        primary.port()
    );
    let path = dir.path().join("nsd.conf");
    std::fs::write(&path, conf).unwrap();
    let log = dir.path().join("nsd.log");
    let child = Command::new("nsd")
        .args(["-d", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsd (package nsd) must be installed");
    Peer {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
        _dir: Some(dir),
    }
}

/// Waits until something answers `shop. SOA` NOERROR on `port`.
pub fn wait_up(port: u16) {
    wait_up_zone(port, "shop.")
}

/// Waits until something answers `origin SOA` NOERROR on `port`.
pub fn wait_up_zone(port: u16, origin: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let q = query(origin, 6, false);
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

/// NSD serving `zone` (a file for `shop.`) from `dir`, on a free port.
pub fn nsd_serving(dir: &Path, zone: &Path) -> Peer {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  chroot: \"\"\n  username: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  do-ip6: no\nremote-control:\n  control-enable: no\nzone:\n  name: shop.\n  zonefile: \"{}\"\n",
        zone.display()
    );
    serve_with(
        &["nsd", "-d", "-c"],
        dir.join("nsd.conf"),
        &conf,
        port,
        "shop.",
    )
}

/// knotd serving `zone` (a file for `shop.`) from `dir`, on a free port.
pub fn knot_serving(dir: &Path, zone: &Path) -> Peer {
    knot_serving_zone(dir, "shop.", zone)
}

/// knotd serving `zone`, a file for `origin`, from `dir` (its rundir, so
/// its control socket is `dir/knot.sock` for `knotc -s`), on a free port;
/// returns once it answers `origin SOA`.
pub fn knot_serving_zone(dir: &Path, origin: &str, zone: &Path) -> Peer {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "server:\n  listen: 127.0.0.1@{port}\n  rundir: \"{d}\"\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: \"{d}\"\ntemplate:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    journal-content: none\nzone:\n  - domain: \"{origin}\"\n    file: \"{}\"\n",
        zone.display()
    );
    serve_with(&["knotd", "-c"], dir.join("knot.conf"), &conf, port, origin)
}

/// Writes `conf` to `path`, runs `cmd... path` (its stderr to
/// `server.log` next to `path`, [`Peer::log`]), waits until it answers
/// `origin SOA` on `port`.
fn serve_with(cmd: &[&str], path: std::path::PathBuf, conf: &str, port: u16, origin: &str) -> Peer {
    std::fs::write(&path, conf).unwrap();
    let log = path.with_file_name("server.log");
    let child = Command::new(cmd[0])
        .args(&cmd[1..])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{} must be installed: {e}", cmd[0]));
    let peer = Peer {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
        _dir: None,
    };
    wait_up_zone(port, origin);
    peer
}

/// A validating Unbound; killed when dropped.
pub struct Unbound {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Unbound {
    /// What Unbound logged so far (`val-log-level: 2`: one line per
    /// validation failure, with the reason).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("unbound.log")).unwrap_or_default()
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unbound validating with `anchor` (DS lines) as trust anchors and a stub
/// zone per `(zone, port)` on loopback; caches nothing (`cache-max-ttl: 0`),
/// so every answer is fetched and validated afresh; waits until it
/// resolves `shop. SOA`.
pub fn unbound(anchor: &str, stubs: &[(&str, u16)]) -> Unbound {
    unbound_with(anchor, stubs, false)
}

/// [`unbound`] that caches as a deployed resolver does (answers, negative
/// answers, DS and DNSKEY for their TTLs; bogus results for Unbound's
/// default `val-bogus-ttl`, 60 s): what a key rollover has to get past.
/// Typical stubs: `[(".", parent.port()), ("shop.", tldd.port())]` with the
/// parent's [`super::parent::Parent::trust_anchor`].
pub fn unbound_caching(anchor: &str, stubs: &[(&str, u16)]) -> Unbound {
    unbound_with(anchor, stubs, true)
}

/// The Unbound of [`unbound`] and [`unbound_caching`]: `caching` leaves
/// out the `cache-max-ttl: 0` / `cache-max-negative-ttl: 0` lines. It logs
/// to `unbound.log` in its directory ([`Unbound::log`]) and adds Extended
/// DNS Errors (RFC 8914) to its SERVFAILs.
fn unbound_with(anchor: &str, stubs: &[(&str, u16)], caching: bool) -> Unbound {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut conf = format!(
        "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  chroot: \"\"\n  username: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  do-not-query-localhost: no\n  module-config: \"validator iterator\"\n  qname-minimisation: no\n  num-threads: 1\n  so-reuseport: no\n  val-log-level: 2\n  verbosity: 1\n  ede: yes\n  trust-anchor-signaling: no\n  root-key-sentinel: no\n",
        d = dir.path().display()
    );
    if !caching {
        conf.push_str("  cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n");
    }
    for line in anchor.lines().filter(|l| !l.trim().is_empty()) {
        conf.push_str(&format!("  trust-anchor: \"{}\"\n", line.trim()));
    }
    for (zone, p) in stubs {
        conf.push_str(&format!(
            "stub-zone:\n  name: \"{zone}\"\n  stub-addr: 127.0.0.1@{p}\n"
        ));
    }
    let path = dir.path().join("unbound.conf");
    std::fs::write(&path, &conf).unwrap();
    let child = Command::new("unbound")
        .args(["-d", "-c"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unbound must be installed");
    let u = Unbound { child, port, dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if !resolve(&u, "shop.", "SOA").is_empty() {
            return u;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "unbound did not come up; config:\n{conf}\nlog:\n{}",
        u.log()
    );
}

/// kdig through Unbound (+dnssec); returns the whole output.
pub fn resolve(u: &Unbound, name: &str, t: &str) -> String {
    let o = Command::new("kdig")
        .args([
            "@127.0.0.1",
            "-p",
            &u.port.to_string(),
            "+dnssec",
            "+time=5",
            "+retry=0",
            name,
            t,
        ])
        .output()
        .expect("kdig (knot-dnsutils) must be installed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}
