//! Shared test harness: start the real `tldd` binary on ephemeral loopback
//! ports and talk to it with real tools (kdig, dig, dnspython).
#![allow(dead_code)]
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use super::ports::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_tldd");

/// Path inside the repository.
pub fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// A running `tldd serve`.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub metrics: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `tldd serve` with `[server]` extras and `[[zone]]` sections
    /// (`server_extra` goes inside `[server]`; `rest` after it).
    ///
    /// Rate limiting stays on at its default, but the tests' own address,
    /// 127.0.0.1, is allow-listed: a test asking hundreds of questions a
    /// second is a busy resolver, not an attack. A test that sets any
    /// `rrl_` key decides for itself (`tests/it/rrl.rs` floods from other
    /// 127/8 addresses).
    pub fn start(server_extra: &str, rest: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let rrl = if server_extra.contains("rrl_") {
            ""
        } else {
            "rrl_allow = [\"127.0.0.1\"]\n"
        };
        let cfg = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\ndata_dir = \"{}\"\nudp_workers = 2\n{rrl}{server_extra}\n{rest}\n",
            dir.path().join("data").display()
        );
        let path = dir.path().join("tldd.toml");
        std::fs::write(&path, cfg).unwrap();
        Self::start_with_config(&path, dir)
    }

    /// Serves a zone file for `origin`.
    pub fn with_zone(origin: &str, file: &Path, server_extra: &str) -> Server {
        Self::start(
            server_extra,
            &format!(
                "[[zone]]\norigin = \"{origin}\"\nfile = \"{}\"\n",
                file.display()
            ),
        )
    }

    pub fn start_with_config(path: &Path, dir: tempfile::TempDir) -> Server {
        Self::try_start_with_config(path, dir)
            .unwrap_or_else(|log| panic!("tldd exited early; log: {log}"))
    }

    /// As [`Server::start_with_config`]; a tldd that exits before it
    /// listens (it refused its config or its store) is `Err(its log)`.
    pub fn try_start_with_config(path: &Path, dir: tempfile::TempDir) -> Result<Server, String> {
        Self::try_start_with_env(path, dir, &[])
    }

    /// [`Server::start_with_config`] with extra environment variables
    /// (`SOFTHSM2_CONF` for a server whose keys are in a SoftHSM2 token).
    pub fn start_with_env(path: &Path, dir: tempfile::TempDir, env: &[(&str, &Path)]) -> Server {
        Self::try_start_with_env(path, dir, env)
            .unwrap_or_else(|log| panic!("tldd exited early; log: {log}"))
    }

    /// [`Server::try_start_with_config`] with extra environment variables.
    pub fn try_start_with_env(
        path: &Path,
        dir: tempfile::TempDir,
        env: &[(&str, &Path)],
    ) -> Result<Server, String> {
        let mut cmd = Command::new(BIN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["serve", "-c"]).arg(path);
        Self::watch(cmd, path, dir)
    }

    /// `tldd serve -c CONFIG_ARG` run in `cwd` (`path`: the same file,
    /// as this process names it).
    pub fn try_start_in(
        cwd: &Path,
        config_arg: &str,
        path: &Path,
        dir: tempfile::TempDir,
    ) -> Result<Server, String> {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(cwd).args(["serve", "-c", config_arg]);
        Self::watch(cmd, path, dir)
    }

    /// Starts `cmd` and waits for the listen address in its log.
    fn watch(mut cmd: Command, path: &Path, dir: tempfile::TempDir) -> Result<Server, String> {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tldd");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                log2.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut addr = None;
        let mut metrics = None;
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(a) = field(&line, "udp=") {
                        addr = a.parse().ok();
                    }
                    if line.contains("metrics listening") {
                        metrics = field(&line, "addr=").and_then(|a| a.parse().ok());
                    }
                    if addr.is_some() && (metrics.is_some() || !path_has_metrics(path)) {
                        break;
                    }
                }
                Err(e) => {
                    let exited = match e {
                        std::sync::mpsc::RecvTimeoutError::Timeout => {
                            matches!(child.try_wait(), Ok(Some(_)))
                        }
                        // stderr closed: the process is gone or going.
                        std::sync::mpsc::RecvTimeoutError::Disconnected => {
                            let _ = child.wait();
                            true
                        }
                    };
                    if exited {
                        return Err(log.lock().unwrap().join("\n"));
                    }
                }
            }
        }
        let addr = addr.expect("tldd did not report its listen address");
        Ok(Server {
            child,
            addr,
            metrics,
            dir,
            log,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Runs kdig against the server; returns stdout.
    pub fn kdig(&self, args: &[&str]) -> String {
        let out = Command::new("kdig")
            .arg(format!("@{}", self.addr.ip()))
            .args(["-p", &self.port().to_string(), "+retry=1", "+time=3"])
            .args(args)
            .output()
            .expect("kdig (package knot-dnsutils) must be installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops with SIGTERM; returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        unsafe_kill(self.child.id(), 15);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path_has_metrics(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .is_ok_and(|s| s.lines().any(|l| l.trim_start().starts_with("metrics")))
}

/// `key=value` of a text log line, or `"key":"value"` of a JSON one
/// (`log_format = "json"`).
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    if let Some(name) = key.strip_suffix('=').filter(|_| line.starts_with('{')) {
        let k = format!("\"{name}\":\"");
        let i = line.find(&k)?;
        let rest = &line[i + k.len()..];
        return rest.split('"').next();
    }
    let i = line.find(key)?;
    let rest = &line[i + key.len()..];
    Some(rest.split_whitespace().next()?.trim_matches('"'))
}

pub fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Runs `/usr/bin/python3` (Debian's, which has dnspython) with a script.
pub fn python(script: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("/usr/bin/python3 with python3-dnspython must be installed");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// Sends one UDP datagram and waits for the answer (None on timeout).
pub fn udp_exchange(addr: SocketAddr, pkt: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(pkt, addr).unwrap();
    let mut buf = [0u8; 65535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// A plain query packet (no EDNS).
pub fn query_packet(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    p
}

/// A query packet with EDNS (payload 1232) and, when given, a COOKIE
/// option (RFC 7873) holding `cookie` as it is (any length: malformed ones
/// too).
pub fn edns_query(id: u16, name: &str, qtype: u16, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut p = query_packet(id, name, qtype);
    p[11] = 1; // ARCOUNT
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    let opt: Vec<u8> = cookie.map_or_else(Vec::new, |c| {
        let mut o = vec![0, 10];
        o.extend_from_slice(&(c.len() as u16).to_be_bytes());
        o.extend_from_slice(c);
        o
    });
    p.extend_from_slice(&(opt.len() as u16).to_be_bytes());
    p.extend_from_slice(&opt);
    p
}

/// A reply's RCODE with the upper bits from OPT (BADCOOKIE is 23), its
/// TC bit, and the data of its COOKIE option — decoded with hickory-proto.
pub fn reply_facts(reply: &[u8]) -> (u16, bool, Option<Vec<u8>>) {
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    let m = hickory_proto::op::Message::from_vec(reply).expect("a DNS message");
    let cookie = m
        .edns
        .as_ref()
        .and_then(|e| match e.option(EdnsCode::Cookie) {
            Some(EdnsOption::Unknown(10, v)) => Some(v.clone()),
            _ => None,
        });
    (u16::from(m.response_code), m.truncation, cookie)
}
