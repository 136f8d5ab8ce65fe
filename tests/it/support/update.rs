//! Shared by the update/transfer/crash/secondary tests: TSIG keys, a
//! config with `update_key`/`transfer_key`, and drivers for the real peer
//! tools (BIND `nsupdate`, Knot `knsupdate`/`kdig`, dnspython).
#![allow(dead_code)]
use super::serve::*;
use std::net::SocketAddr;
use std::process::Command;

/// base64 of 32 bytes "0123456789abcdef0123456789abcdef".
pub const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// base64 of 64 bytes.
pub const SECRET512: &str =
    "c2VjcmV0LXNoYTUxMi1zZWNyZXQtc2hhNTEyLXNlY3JldC1zaGE1MTItc2VjcmV0LXNoYTUxMi0xMjM0NTY3OA==";
pub const SECRET1: &str = "c2hhMS1vbGQtcGVlci1rZXk=";

/// `[[tsig]]` sections: srs-key (sha256), srs512 (sha512), old-peer (sha1),
/// xfr-key (sha256, for transfers only).
pub fn keys_toml() -> String {
    format!(
        "[[tsig]]\nname = \"srs-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n\
         [[tsig]]\nname = \"srs512\"\nalgorithm = \"hmac-sha512\"\nsecret = \"{SECRET512}\"\n\
         [[tsig]]\nname = \"old-peer\"\nalgorithm = \"hmac-sha1\"\nsecret = \"{SECRET1}\"\n\
         [[tsig]]\nname = \"xfr-key\"\nalgorithm = \"hmac-sha256\"\nsecret = \"{SECRET}\"\n"
    )
}

/// The example zone with updates by `update_key` and transfers by xfr-key.
pub fn primary(update_key: &str, zone_extra: &str, server_extra: &str) -> Server {
    Server::start(
        server_extra,
        &format!(
            "{}[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\nupdate_key = \"{update_key}\"\ntransfer_key = \"xfr-key\"\n{zone_extra}\n",
            keys_toml(),
            repo("zones/shop.zone").display()
        ),
    )
}

/// Runs `nsupdate -y ALG:NAME:SECRET` (or unsigned when `key` is None)
/// with `cmds` after `server`/`zone` lines. Returns (success, output).
pub fn nsupdate(s: &Server, key: Option<(&str, &str, &str)>, cmds: &str) -> (bool, String) {
    let script = format!(
        "server {} {}\nzone shop.\n{cmds}\nsend\n",
        s.addr.ip(),
        s.port()
    );
    let mut c = Command::new("nsupdate");
    c.arg("-t").arg("5");
    if let Some((alg, name, secret)) = key {
        c.arg("-y").arg(format!("{alg}:{name}:{secret}"));
    }
    run_stdin(c, &script)
}

/// Runs Knot's `knsupdate -y ALG:NAME:SECRET`.
pub fn knsupdate(s: &Server, key: (&str, &str, &str), cmds: &str) -> (bool, String) {
    let script = format!(
        "server {} {}\nzone shop.\norigin shop.\n{cmds}\nsend\nanswer\n",
        s.addr.ip(),
        s.port()
    );
    let mut c = Command::new("knsupdate");
    c.arg("-y").arg(format!("{}:{}:{}", key.0, key.1, key.2));
    run_stdin(c, &script)
}

fn run_stdin(mut c: Command, input: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsupdate (bind9-dnsutils) / knsupdate (knot-dnsutils) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// kdig at an arbitrary address.
pub fn kdig_at(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("kdig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+retry=1", "+time=3"])
        .args(args)
        .output()
        .expect("kdig");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// The zone's SOA serial as served at `addr`.
pub fn serial_at(addr: SocketAddr) -> Option<u32> {
    kdig_at(addr, &["shop.", "SOA", "+short"])
        .split_whitespace()
        .nth(2)
        .and_then(|s| s.parse().ok())
}

/// AXFR of shop. from `addr` (signed with xfr-key), as sorted,
/// lower-cased "owner ttl class type rdata" lines without the SOA repeat.
pub fn axfr(addr: SocketAddr) -> Vec<String> {
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let out = kdig_at(
        addr,
        &["shop.", "AXFR", "-y", &key, "+nocomments", "+nostats"],
    );
    normalize(&out)
}

/// Sorted, deduplicated, lower-cased record lines (TSIG dropped).
pub fn normalize(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase()
        })
        .filter(|l| !l.contains(" tsig "))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Waits until `f` is true (polling every 100 ms) or `secs` pass.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// Runs `tests/update_tool.py` (dnspython) and parses its JSON output.
pub fn update_tool(args: &[&str]) -> serde_json::Value {
    let out = Command::new("/usr/bin/python3")
        .arg(repo("tests/update_tool.py"))
        .args(args)
        .output()
        .expect("/usr/bin/python3 with dnspython");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

/// An UPDATE signed by dnspython and not sent: the bytes to send (and
/// resend, byte for byte) and its TSIG time signed.
pub struct SignedUpdate {
    pub wire: Vec<u8>,
    pub time: u64,
}

/// Signs `ops` (update_tool.py's OPS_JSON) with `key` (ALG:NAME:SECRET),
/// TSIG fudge `fudge`, on a clock `skew` seconds off ours.
pub fn sign_update(key: &str, ops: &str, fudge: u16, skew: i64) -> SignedUpdate {
    let (fudge, skew) = (fudge.to_string(), skew.to_string());
    let v = update_tool(&["sign", key, ops, "--fudge", &fudge, "--skew", &skew]);
    SignedUpdate {
        wire: from_hex(v["wire"].as_str().expect("wire")),
        time: v["time"].as_u64().expect("time"),
    }
}

/// One answer to [`send_raw`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    pub rcode: String,
    /// The error field of the answer's TSIG (None: unsigned).
    pub tsig_error: Option<u64>,
    pub bytes: Vec<u8>,
}

/// Sends each message over UDP from its own socket, `gap` seconds apart,
/// and collects the answers (None: none within 15 s).
pub fn send_raw(addr: SocketAddr, gap: f64, msgs: &[&[u8]]) -> Vec<Option<RawAnswer>> {
    let (ip, port, gap) = (
        addr.ip().to_string(),
        addr.port().to_string(),
        gap.to_string(),
    );
    let hex: Vec<String> = msgs.iter().map(|m| to_hex(m)).collect();
    let mut args = vec!["sendraw", ip.as_str(), port.as_str(), gap.as_str()];
    args.extend(hex.iter().map(String::as_str));
    let v = update_tool(&args);
    v.as_array()
        .expect("a list of answers")
        .iter()
        .map(|a| {
            (!a.is_null()).then(|| RawAnswer {
                rcode: a["rcode"].as_str().unwrap_or_default().to_string(),
                tsig_error: a["tsig_error"].as_u64(),
                bytes: from_hex(a["answer"].as_str().unwrap_or_default()),
            })
        })
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}
