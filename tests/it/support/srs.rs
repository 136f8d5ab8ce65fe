//! Shared harness of the SRS integration tests: real processes on
//! ephemeral loopback ports.
//!
//! - [`Knot`]: `knotd` with a temporary config serving `shop.` and accepting
//!   RFC 2136 updates and AXFR signed with the test TSIG key; the zone is
//!   read back with `kdig` AXFR.
//! - [`Srs`]: the real `tldd srs` binary (config written here, registrars
//!   added with the real CLI).
//! - [`Perl`]: Net::EPP::Simple (Debian libnet-epp-perl) driven through
//!   `tests/srs/epp_driver.pl`, over TLS with a client certificate made by
//!   `openssl` at test time.
//!
//! A missing tool fails the test with the Debian package to install; nothing
//! is skipped.
#![allow(dead_code)]
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const TSIG_SECRET: &str = "c3JzLXRlc3Qta2V5LXNlY3JldC0zMi1ieXRlcy0hISE=";
pub const TLDD: &str = env!("CARGO_BIN_EXE_tldd");

/// Panics (fails the test) when a tool is not installed.
pub fn need(tool: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
    {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("this test needs `{tool}`: install the Debian package {package}");
}

pub use super::ports::free_port;

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A certificate and key made with openssl, and its SHA-256 fingerprint.
pub struct Cert {
    pub crt: PathBuf,
    pub key: PathBuf,
    pub sha256: String,
}

pub fn make_cert(dir: &Path, name: &str) -> Cert {
    let openssl = need("openssl", "openssl");
    let crt = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let out = run(Command::new(&openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "30",
            "-subj",
        ])
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt));
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(Command::new(&openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&crt));
    let text = String::from_utf8_lossy(&out.stdout);
    let sha256 = text.trim().rsplit('=').next().unwrap().to_string();
    assert_eq!(sha256.len(), 95, "fingerprint {text}");
    Cert { crt, key, sha256 }
}

/// knotd serving `shop.` with DDNS and AXFR allowed for the test key.
pub struct Knot {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// TSIG algorithm of `srs-key`.
    pub alg: String,
}

impl Knot {
    pub fn start(dir: &Path) -> Knot {
        Self::start_on(dir, free_port())
    }

    pub fn start_on(dir: &Path, port: u16) -> Knot {
        Self::start_with(dir, port, "hmac-sha256")
    }

    /// knotd whose `srs-key` uses TSIG algorithm `alg`.
    pub fn start_with(dir: &Path, port: u16, alg: &str) -> Knot {
        let knotd = need("knotd", "knot");
        need("kdig", "knot-dnsutils");
        let dir = dir.join("knot");
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(
            dir.join("shop.zone"),
            "$ORIGIN shop.\n$TTL 3600\n@ SOA a.nic.shop. hostmaster.nic.shop. 1 3600 900 604800 300\n\
             @ NS a.nic.shop.\na.nic A 192.0.2.53\n",
        )
        .unwrap();
        let conf = format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n    pidfile: \"{d}/knot.pid\"\n\
control:\n    listen: \"{d}/knot.sock\"\n\
database:\n    storage: \"{d}/db\"\n\
key:\n  - id: srs-key\n    algorithm: {alg}\n    secret: {TSIG_SECRET}\n\
acl:\n  - id: srs\n    key: srs-key\n    action: [update, transfer]\n\
template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    journal-content: changes\n\
zone:\n  - domain: shop.\n    file: \"shop.zone\"\n    acl: srs\n\
log:\n  - target: stderr\n    any: info\n",
            d = dir.display()
        );
        std::fs::write(dir.join("knot.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.join("knotd.log")).unwrap();
        let child = Command::new(knotd)
            .arg("-c")
            .arg(dir.join("knot.conf"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start knotd");
        let k = Knot {
            child,
            port,
            dir,
            alg: alg.to_string(),
        };
        wait_for("knotd to serve shop.", Duration::from_secs(20), || {
            k.kdig(&["shop.", "SOA", "+short"]).contains("a.nic.shop.")
        });
        k
    }

    pub fn kdig(&self, args: &[&str]) -> String {
        let out = run(Command::new("kdig")
            .arg("@127.0.0.1")
            .args(["-p", &self.port.to_string(), "+time=2", "+retry=0"])
            .args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The zone as (owner, type, rdata) lines, via TSIG-signed AXFR.
    pub fn axfr(&self) -> Vec<(String, String, String)> {
        let out = self.kdig(&[
            "-y",
            &format!("{}:srs-key:{TSIG_SECRET}", self.alg),
            "shop.",
            "AXFR",
            "+noall",
            "+answer",
        ]);
        out.lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 5).then(|| (f[0].to_lowercase(), f[3].to_string(), f[4..].join(" ")))
            })
            .collect()
    }

    pub fn records(&self, owner: &str, rtype: &str) -> Vec<String> {
        self.axfr()
            .into_iter()
            .filter(|(o, t, _)| o == owner && t == rtype)
            .map(|(_, _, r)| r)
            .collect()
    }

    /// Waits until `records(owner, rtype)` (sorted) equals `want`.
    pub fn wait_records(&self, owner: &str, rtype: &str, want: &[&str]) {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        let mut last = vec![];
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            let mut got = self.records(owner, rtype);
            got.sort();
            if got == want {
                return;
            }
            last = got;
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{owner} {rtype}: zone has {last:?}, want {want:?}");
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("knotd.log")).unwrap_or_default();
            eprintln!("----- knotd log -----\n{log}");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of `key=ADDR:PORT` in a log line.
fn logged_port(line: &str, key: &str) -> Option<u16> {
    let rest = &line[line.find(key)? + key.len()..];
    let addr = rest.split_whitespace().next()?;
    addr.parse::<std::net::SocketAddr>().ok().map(|a| a.port())
}

/// A `tldd srs` instance (config, data dir, optional running server).
pub struct Srs {
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The bound ports, read from the server's log at each [`Srs::start`]
    /// (the config asks for port 0: the kernel picks, nothing races).
    pub epp_port: u16,
    pub metrics_port: u16,
    pub whois_port: Option<u16>,
    pub rdap_port: Option<u16>,
    pub server_cert: Cert,
    child: Option<Child>,
}

impl Srs {
    /// Writes the config; `extra_srs` is appended to the `[srs]` table.
    pub fn new(dir: &Path, dns_port: u16, extra_srs: &str) -> Srs {
        Self::new_with(dir, dns_port, extra_srs, "hmac-sha256")
    }

    /// As [`Srs::new`], the `srs-key` with TSIG algorithm `alg`.
    pub fn new_with(dir: &Path, dns_port: u16, extra_srs: &str, alg: &str) -> Srs {
        let server_cert = make_cert(dir, "server");
        let config = dir.join("srs.toml");
        let text = format!(
            "[srs]\ntld = \"shop.\"\ndata_dir = \"{d}/srs-data\"\nepp_listen = \"127.0.0.1:0\"\n\
tls_cert = \"{crt}\"\ntls_key = \"{key}\"\nmetrics_listen = \"127.0.0.1:0\"\n\
clock_control = true\nlifecycle_interval = 3600\n{extra_srs}\n\
[srs.dns]\nserver = \"127.0.0.1:{dns_port}\"\ntsig_key = \"srs-key\"\ntimeout = 3\n\
[srs.policy]\nallow_documentation_addresses = true\n\
[srs.fees]\ncreate = 1000\nrenew = 900\ntransfer = 800\nrestore = 5000\n\
[[tsig]]\nname = \"srs-key\"\nalgorithm = \"{alg}\"\nsecret = \"{TSIG_SECRET}\"\n",
            d = dir.display(),
            crt = server_cert.crt.display(),
            key = server_cert.key.display(),
        );
        std::fs::write(&config, text).unwrap();
        Srs {
            dir: dir.to_owned(),
            config,
            epp_port: 0,
            metrics_port: 0,
            whois_port: None,
            rdap_port: None,
            server_cert,
            child: None,
        }
    }

    /// Runs `tldd srs ARGS -c CONFIG`; returns (success, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = run(Command::new(TLDD)
            .arg("srs")
            .args(args)
            .arg("-c")
            .arg(&self.config));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `cli` that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.cli(args);
        assert!(ok, "tldd srs {args:?} failed:\n{out}\n{err}");
        out
    }

    /// Adds a registrar with a fresh client certificate.
    pub fn add_registrar(&self, id: &str, password: &str, extra: &[&str]) -> Cert {
        let cert = make_cert(&self.dir, id);
        let mut args = vec![
            "registrar",
            "add",
            "--id",
            id,
            "--name",
            id,
            "--iana-id",
            "9999",
            "--password",
            password,
            "--cert-sha256",
            &cert.sha256,
        ];
        args.extend_from_slice(extra);
        self.ok(&args);
        cert
    }

    pub fn start(&mut self) {
        let from = std::fs::metadata(self.dir.join("srs.log")).map_or(0, |m| m.len() as usize);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("srs.log"))
            .unwrap();
        let child = Command::new(TLDD)
            .args(["srs", "serve", "-c"])
            .arg(&self.config)
            .env("RUST_LOG", "info,tldd=debug")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start tldd srs");
        self.child = Some(child);
        let config = std::fs::read_to_string(&self.config).unwrap();
        let wants = |key: &str| config.lines().any(|l| l.trim_start().starts_with(key));
        let (whois, rdap) = (wants("whois_listen"), wants("rdap_listen"));
        let mut ports = (None, None, None, None);
        wait_for(
            "the SRS to log its listeners",
            Duration::from_secs(20),
            || {
                let log = self.log();
                let new = log.get(from..).unwrap_or_default();
                let port = |line: &str, key: &str| {
                    new.lines()
                        .filter(|l| l.contains(line))
                        .find_map(|l| logged_port(l, key))
                };
                ports = (
                    port("SRS serving", "epp="),
                    port("SRS metrics listening", "metrics="),
                    port("Whois serving", "whois="),
                    port("RDAP serving", "rdap="),
                );
                ports.0.is_some()
                    && ports.1.is_some()
                    && (!whois || ports.2.is_some())
                    && (!rdap || ports.3.is_some())
            },
        );
        (self.epp_port, self.metrics_port) = (ports.0.unwrap(), ports.1.unwrap());
        (self.whois_port, self.rdap_port) = (ports.2, ports.3);
        let port = self.epp_port;
        wait_for("the EPP listener", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        wait_for("the control socket", Duration::from_secs(5), || {
            self.dir.join("srs-data/control.sock").exists()
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("srs.log")).unwrap_or_default()
    }

    pub fn metrics(&self) -> String {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// The value of one series in `/metrics`, e.g.
    /// `tldd_srs_epp_timeouts_total{phase="login"}` (0 when absent).
    pub fn metric(&self, series: &str) -> f64 {
        self.metrics()
            .lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    }

    /// Ledger lines of a registrar: (kind, object, amount).
    pub fn ledger(&self, registrar: &str) -> Vec<(String, String, i64)> {
        self.ok(&["ledger", "--registrar", registrar])
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let amount = f[6].trim_start_matches("amount=").parse().unwrap();
                (f[3].to_string(), f[4].to_string(), amount)
            })
            .collect()
    }
}

impl Drop for Srs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("----- tldd srs log -----\n{}", self.log());
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Net::EPP::Simple session.
pub struct Perl {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub login: Value,
}

impl Perl {
    pub fn connect(srs: &Srs, clid: &str, pw: &str, cert: Option<&Cert>) -> Perl {
        need("perl", "perl");
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/srs/epp_driver.pl");
        let mut cmd = Command::new("perl");
        cmd.arg(driver)
            .args(["127.0.0.1", &srs.epp_port.to_string(), clid, pw]);
        if let Some(c) = cert {
            cmd.arg(&c.crt).arg(&c.key);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start perl");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let login: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("Net::EPP driver did not start (is libnet-epp-perl installed?): {e}: {line:?}")
        });
        Perl {
            child,
            stdin,
            stdout,
            login,
        }
    }

    fn send(&mut self, v: Value) -> Value {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver answer {line:?}: {e}"))
    }

    /// Calls a Net::EPP::Simple method.
    pub fn call(&mut self, method: &str, args: Value) -> Value {
        self.send(json!({ "call": method, "args": args }))
    }

    /// Calls a method and asserts the result code.
    pub fn expect(&mut self, code: u64, method: &str, args: Value) -> Value {
        let r = self.call(method, args.clone());
        assert_eq!(r["code"].as_u64(), Some(code), "{method}({args}) => {r}");
        r
    }

    /// Sends a raw frame (a string of XML).
    pub fn raw(&mut self, xml: &str) -> Value {
        self.send(json!({ "raw": xml.replace('\n', " ") }))
    }

    pub fn raw_expect(&mut self, code: u64, xml: &str) -> Value {
        let r = self.raw(xml);
        assert_eq!(r["code"].as_u64(), Some(code), "{xml} => {r}");
        r
    }
}

impl Drop for Perl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// EPP command frame with the usual envelope.
pub fn cmd(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><command>{inner}<clTRID>TEST-1</clTRID></command></epp>"
    )
}

pub const DOM: &str = "xmlns:domain=\"urn:ietf:params:xml:ns:domain-1.0\"";
pub const SECDNS: &str = "xmlns:secDNS=\"urn:ietf:params:xml:ns:secDNS-1.1\"";
pub const RGP: &str = "xmlns:rgp=\"urn:ietf:params:xml:ns:rgp-1.0\"";

/// Contact hash for Net::EPP::Simple create_contact.
pub fn contact(id: &str) -> Value {
    json!({
        "id": id,
        "postalInfo": { "int": { "name": "Test Person", "org": "Test Org",
            "addr": { "street": ["1 Main St"], "city": "Tokyo", "sp": "13", "pc": "100-0001", "cc": "JP" } } },
        "voice": "+81.312345678",
        "fax": "",
        "email": "test@example.net",
        "authInfo": "c0ntact-pw",
    })
}

/// A raw EPP-over-TLS client (rustls, blocking) for byte-level tests.
pub struct RawEpp {
    s: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    pub greeting: String,
}

#[derive(Debug)]
struct AnyServer(rustls::crypto::WebPkiSupportedAlgorithms);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// A plain TCP connection to the loopback `port` from `source` (any
/// 127.0.0.0/8 address on Linux).
pub fn tcp_from(source: &str, port: u16) -> std::net::TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let src: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    sock.bind(&src.into()).unwrap();
    let dst: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect_timeout(&dst.into(), Duration::from_secs(5))
        .unwrap();
    sock.into()
}

impl RawEpp {
    pub fn connect(port: u16, cert: Option<&Cert>) -> RawEpp {
        Self::connect_from(port, cert, "127.0.0.1")
    }

    /// As [`RawEpp::connect`], from the loopback address `source`.
    pub fn connect_from(port: u16, cert: Option<&Cert>, source: &str) -> RawEpp {
        use rustls::pki_types::pem::PemObject;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let b = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(AnyServer(
                provider.signature_verification_algorithms,
            )));
        let cfg = match cert {
            Some(c) => b
                .with_client_auth_cert(
                    vec![rustls::pki_types::CertificateDer::from_pem_file(&c.crt).unwrap()],
                    rustls::pki_types::PrivateKeyDer::from_pem_file(&c.key).unwrap(),
                )
                .unwrap(),
            None => b.with_no_client_auth(),
        };
        let conn =
            rustls::ClientConnection::new(std::sync::Arc::new(cfg), "epp.test".try_into().unwrap())
                .unwrap();
        let tcp = tcp_from(source, port);
        tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut r = RawEpp {
            s: rustls::StreamOwned::new(conn, tcp),
            greeting: String::new(),
        };
        r.greeting = r.recv().expect("greeting");
        r
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
        self.s.flush().unwrap();
    }

    pub fn send(&mut self, body: &[u8]) {
        let mut f = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        self.send_bytes(&f);
    }

    /// The next frame, or None when the server closed the connection.
    pub fn recv(&mut self) -> Option<String> {
        use std::io::Read;
        let mut h = [0u8; 4];
        self.s.read_exact(&mut h).ok()?;
        let n = u32::from_be_bytes(h) as usize;
        let mut b = vec![0u8; n.checked_sub(4)?];
        self.s.read_exact(&mut b).ok()?;
        Some(String::from_utf8(b).unwrap())
    }

    pub fn req(&mut self, xml: &str) -> String {
        self.send(xml.as_bytes());
        self.recv().expect("an answer")
    }

    /// Sends and returns the result code.
    pub fn code(&mut self, xml: &str) -> u16 {
        result_code(&self.req(xml))
    }

    pub fn login(&mut self, clid: &str, pw: &str) -> u16 {
        self.code(&login_xml(clid, pw))
    }
}

pub fn login_xml(clid: &str, pw: &str) -> String {
    cmd(&format!(
        "<login><clID>{clid}</clID><pw>{pw}</pw><options><version>1.0</version><lang>en</lang></options>\
         <svcs><objURI>urn:ietf:params:xml:ns:domain-1.0</objURI><objURI>urn:ietf:params:xml:ns:host-1.0</objURI>\
         <objURI>urn:ietf:params:xml:ns:contact-1.0</objURI></svcs></login>"
    ))
}

pub fn result_code(xml: &str) -> u16 {
    xml.split("<result code=\"")
        .nth(1)
        .and_then(|s| s.get(..4))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no result code in {xml}"))
}
