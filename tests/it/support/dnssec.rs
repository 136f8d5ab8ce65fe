//! Shared helpers of the signer/DNSSEC integration tests.
#![allow(dead_code)]
use std::path::{Path, PathBuf};

/// A small TLD zone with every shape the signer cares about: apex data,
/// an authoritative name with data (nic), an empty non-terminal (ent),
/// delegations with and without DS, in-bailiwick glue, a delegation
/// below an empty non-terminal.
pub const ZONE: &str = r#"$ORIGIN shop.
$TTL 3600
@ 86400 IN SOA a.nic.shop. hostmaster.nic.shop. 2026112601 1800 900 604800 900
@ 86400 IN NS a.nic.shop.
@ 86400 IN NS b.nic.shop.
@ 3600 IN MX 10 Mail.NIC.shop.
@ 3600 IN TXT "v=spf1 -all"
nic 3600 IN A 192.0.2.53
a.nic 86400 IN A 192.0.2.1
a.nic 86400 IN AAAA 2001:db8::1
b.nic 86400 IN A 192.0.2.2
mail.nic 3600 IN A 192.0.2.25
www.x.ent 3600 IN A 192.0.2.80
signed 86400 IN NS ns1.signed.shop.
signed 86400 IN NS ns2.elsewhere.example.
signed 86400 IN DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.signed 86400 IN A 198.51.100.1
ns1.signed 86400 IN AAAA 2001:db8:5::1
unsigned 86400 IN NS ns1.unsigned.shop.
ns1.unsigned 86400 IN A 198.51.100.2
plain 86400 IN NS ns1.elsewhere.example.
plain 86400 IN NS ns2.elsewhere.example.
Mixed 86400 IN NS NS1.Elsewhere.Example.
deep.sub 86400 IN NS ns1.elsewhere.example.
deep.sub 86400 IN DS 54321 13 2 FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210
"#;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tldd")
}

/// Writes the zone (plus `extra` delegations) into `dir/shop.zone`.
pub fn write_zone(dir: &Path, extra: usize) -> PathBuf {
    let mut z = ZONE.to_string();
    for i in 0..extra {
        z.push_str(&format!("d{i} 86400 IN NS ns1.host{}.example.\n", i % 7));
        if i % 5 == 0 {
            z.push_str(&format!(
                "d{i} 86400 IN DS {} 13 2 {:064X}\n",
                1000 + i,
                i as u128 * 7919
            ));
        }
    }
    let p = dir.join("shop.zone");
    std::fs::write(&p, z).unwrap();
    p
}

/// [`write_zone`] with every TTL (and the SOA MINIMUM, so negative
/// answers too) set to `ttl`: a child for the rollover tests, where
/// resolvers must forget within seconds. Pair it with
/// `dnskey_ttl = "<ttl>s"` ([`dnssec_options`]) for the DNSKEY RRset.
pub fn write_zone_ttl(dir: &Path, extra: usize, ttl: u32) -> PathBuf {
    let p = write_zone(dir, extra);
    let text = std::fs::read_to_string(&p).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut f: Vec<String> = line.split(' ').map(String::from).collect();
        if f[0] == "$TTL" {
            f[1] = ttl.to_string();
        } else if !f[0].starts_with('$') && f.len() > 3 && f[1].parse::<u32>().is_ok() {
            f[1] = ttl.to_string();
            if f[3] == "SOA" {
                *f.last_mut().unwrap() = ttl.to_string();
            }
        }
        out.push_str(&f.join(" "));
        out.push('\n');
    }
    std::fs::write(&p, out).unwrap();
    p
}

/// Appends `lines` (TOML keys, e.g. `dnskey_ttl = "3s"`) to the
/// `[zone.dnssec]` table of a config made by [`write_config`], which is
/// the last table it writes.
pub fn dnssec_options(config: &Path, lines: &str) {
    let mut c = std::fs::read_to_string(config).unwrap();
    assert!(
        c.lines()
            .rfind(|l| l.starts_with('['))
            .is_some_and(|l| l.trim() == "[zone.dnssec]"),
        "{} does not end with [zone.dnssec]",
        config.display()
    );
    c.push_str(lines.trim_end());
    c.push('\n');
    std::fs::write(config, c).unwrap();
}

/// A config signing `file` with the given settings, its own data_dir, and
/// (with `dnssec`) a soft KSK and ZSK made by `tldd keys generate`.
pub fn write_config(
    dir: &Path,
    file: &Path,
    dnssec: Option<(u8, bool, &str, u16)>,
    listen: &str,
) -> PathBuf {
    let n = rand_suffix();
    let mut c = format!(
        "[server]\nlisten = [\"{listen}\"]\ndata_dir = \"{}\"\n[[zone]]\norigin = \"shop.\"\nfile = \"{}\"\n",
        dir.join(format!("data-{n}")).display(),
        file.display()
    );
    if let Some((alg, opt_out, salt, iter)) = dnssec {
        c.push_str(&format!(
            "[zone.dnssec]\nkeystore = \"soft\"\nalgorithm = {alg}\nnsec3_opt_out = {opt_out}\nnsec3_salt = \"{salt}\"\nnsec3_iterations = {iter}\n"
        ));
        // RFC 9276 values are the default; anything else is lifted by name.
        let mut lifted = Vec::new();
        if iter != 0 {
            lifted.push("\"nsec3_iterations\"");
        }
        if !salt.is_empty() && salt != "-" {
            lifted.push("\"nsec3_salt\"");
        }
        if !lifted.is_empty() {
            c.push_str(&format!("allow_nonstandard = [{}]\n", lifted.join(", ")));
        }
    }
    let p = dir.join(format!("tldd-{n}.toml"));
    std::fs::write(&p, c).unwrap();
    if dnssec.is_some() {
        for role in ["ksk", "zsk"] {
            keys(&p, &["generate", "--zone", "shop.", "--role", role]);
        }
    }
    p
}

/// Runs `tldd keys -c CONFIG ARGS...`; returns stdout, panics on failure.
/// `tldd keys generate` of a KSK and a ZSK for `zone` (its keystore as
/// configured).
pub fn ksk_and_zsk(config: &Path, zone: &str) {
    for role in ["ksk", "zsk"] {
        keys(config, &["generate", "--zone", zone, "--role", role]);
    }
}

pub fn keys(config: &Path, args: &[&str]) -> String {
    let o = std::process::Command::new(bin())
        .args(["keys", "-c"])
        .arg(config)
        .args(args)
        .env("TLDD_OPERATOR", "test")
        .output()
        .expect("run tldd keys");
    assert!(
        o.status.success(),
        "tldd keys {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Runs `tldd sign`; returns (success, stderr).
pub fn tldd_sign(config: &Path, out: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["sign", "-c"])
        .arg(config)
        .args(["--zone", "shop.", "--out"])
        .arg(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run tldd sign");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Wire name from text (lower-cased).
pub fn wire(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    tldd_zone::name::from_text(s.as_bytes(), &[0], true, &mut v).unwrap();
    v
}

/// A query packet.
pub fn query(name: &str, qtype: u16, dnssec: bool) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    p.extend(wire(name));
    p.extend(qtype.to_be_bytes());
    p.extend(1u16.to_be_bytes());
    p.extend([
        0,
        0,
        41,
        0x04,
        0xd0,
        0,
        0,
        if dnssec { 0x80 } else { 0 },
        0,
        0,
        0,
    ]);
    p
}

/// One record of a response (owner decompressed, lower-cased).
#[derive(Debug, Clone)]
pub struct Rr {
    pub owner: Vec<u8>,
    pub rtype: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

#[derive(Debug)]
pub struct Resp {
    pub flags: u16,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
}

impl Resp {
    pub fn rcode(&self) -> u16 {
        self.flags & 0xf
    }
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
}

fn read_name(pkt: &[u8], mut at: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut end = None;
    loop {
        let l = pkt[at] as usize;
        if l & 0xc0 == 0xc0 {
            end.get_or_insert(at + 2);
            at = ((l & 0x3f) << 8) | pkt[at + 1] as usize;
            continue;
        }
        out.push(l as u8);
        if l == 0 {
            break;
        }
        out.extend(pkt[at + 1..at + 1 + l].iter().map(u8::to_ascii_lowercase));
        at += 1 + l;
    }
    (out, end.unwrap_or(at + 1))
}

pub fn parse(pkt: &[u8]) -> Resp {
    let c = |i: usize| u16::from_be_bytes([pkt[i], pkt[i + 1]]) as usize;
    let (qd, an, ns, ar) = (c(4), c(6), c(8), c(10));
    let mut at = 12;
    for _ in 0..qd {
        at = read_name(pkt, at).1 + 4;
    }
    let mut sections = vec![Vec::new(), Vec::new(), Vec::new()];
    for (s, n) in [(0, an), (1, ns), (2, ar)] {
        for _ in 0..n {
            let (owner, e) = read_name(pkt, at);
            let rtype = c(e) as u16;
            let ttl = u32::from_be_bytes(pkt[e + 4..e + 8].try_into().unwrap());
            let len = c(e + 8);
            let rdata = pkt[e + 10..e + 10 + len].to_vec();
            at = e + 10 + len;
            sections[s].push(Rr {
                owner,
                rtype,
                ttl,
                rdata,
            });
        }
    }
    let additional = sections.pop().unwrap();
    let authority = sections.pop().unwrap();
    let answer = sections.pop().unwrap();
    Resp {
        flags: c(2) as u16,
        answer,
        authority,
        additional,
    }
}

/// Whether a tool is installed.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}
