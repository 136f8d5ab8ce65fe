//! Shared helpers of the `tests/keys_*.rs` integration tests: temporary
//! configs and data dirs, SoftHSM2 tokens made by `hsm/setup-softhsm.sh`,
//! running the real `tldd` binary, parsing its zone-file output, and the
//! peer tools (`ldns-key2ds`, `dnssec-dsfromkey`) that cross-check it.
#![allow(dead_code)]
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A temporary directory with a tldd config; `hsm` set when it has a token.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub softhsm_conf: Option<PathBuf>,
}

/// One `[[zone]]` of the generated config.
pub struct Zone<'a> {
    pub origin: &'a str,
    pub keystore: &'a str,
    pub algorithm: u8,
}

impl Env {
    /// A config with `zones`; a fresh SoftHSM2 token (label "tldd", PIN
    /// 1234) when `with_token`.
    pub fn new(zones: &[Zone], with_token: bool) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let softhsm_conf =
            with_token.then(|| init_token(&dir.path().join("softhsm"), "tldd", "1234"));
        let mut cfg = format!(
            "[server]\nlisten = [\"127.0.0.1:5353\"]\ndata_dir = \"{}\"\n",
            dir.path().join("data").display()
        );
        for z in zones {
            cfg.push_str(&format!(
                "\n[[zone]]\norigin = \"{}\"\nfile = \"unused.zone\"\n[zone.dnssec]\nkeystore = \"{}\"\nalgorithm = {}\n",
                z.origin, z.keystore, z.algorithm
            ));
        }
        if with_token {
            cfg.push_str(&format!(
                "\n[hsm]\nmodule = \"{MODULE}\"\ntoken_label = \"tldd\"\npin = \"1234\"\n"
            ));
        }
        let config = dir.path().join("tldd.toml");
        std::fs::write(&config, cfg).expect("write config");
        Env {
            dir,
            config,
            softhsm_conf,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir().join("keys")
    }

    /// `tldd keys -c CONFIG ARGS...` with this env's SOFTHSM2_CONF.
    pub fn keys(&self, args: &[&str]) -> Output {
        self.keys_env(args, &[])
    }

    pub fn keys_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tldd"));
        cmd.arg("keys").arg("-c").arg(&self.config).args(args);
        cmd.env_remove("TLDD_HSM_PIN").env("USER", "test-officer");
        if let Some(c) = &self.softhsm_conf {
            cmd.env("SOFTHSM2_CONF", c);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run tldd")
    }

    /// Like [`Env::keys`] but panics with stderr unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.keys(args);
        assert!(
            out.status.success(),
            "tldd keys {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }
}

/// Runs `hsm/setup-softhsm.sh DIR LABEL PIN` and returns the conf path it exports.
pub fn init_token(dir: &Path, label: &str, pin: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hsm/setup-softhsm.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(dir)
        .arg(label)
        .arg(pin)
        .output()
        .expect("run hsm/setup-softhsm.sh (needs bash and softhsm2)");
    assert!(
        out.status.success(),
        "setup-softhsm.sh failed (is the softhsm2 package installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("export SOFTHSM2_CONF="))
        .expect("setup-softhsm.sh prints the export line");
    PathBuf::from(line.trim())
}

/// A DNSKEY line of `tldd keys dnskey`.
#[derive(Debug, Clone)]
pub struct Dnskey {
    pub owner: String,
    pub ttl: u32,
    pub flags: u16,
    pub algorithm: u8,
    pub public_key: Vec<u8>,
}

impl Dnskey {
    pub fn rdata(&self) -> Vec<u8> {
        let mut r = self.flags.to_be_bytes().to_vec();
        r.push(3);
        r.push(self.algorithm);
        r.extend_from_slice(&self.public_key);
        r
    }
    /// Key tag computed by hickory-proto, independently of tldd's own code.
    pub fn tag(&self) -> u16 {
        hickory_proto::dnssec::rdata::DNSKEY::calculate_key_tag_internal(&self.rdata())
    }
}

pub fn parse_dnskeys(text: &str) -> Vec<Dnskey> {
    use base64::Engine;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 8, "DNSKEY line {l:?}");
            assert_eq!((f[2], f[3], f[5]), ("IN", "DNSKEY", "3"), "{l:?}");
            Dnskey {
                owner: f[0].to_string(),
                ttl: f[1].parse().unwrap(),
                flags: f[4].parse().unwrap(),
                algorithm: f[6].parse().unwrap(),
                public_key: base64::engine::general_purpose::STANDARD
                    .decode(f[7])
                    .expect("base64 public key"),
            }
        })
        .collect()
}

/// DS lines as (owner lowercased, tag, alg, digest type, DIGEST), any TTL/spacing/case.
pub fn parse_ds(text: &str) -> BTreeSet<(String, u16, u8, u8, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|x| *x == "DS").expect("DS line");
            (
                f[0].to_ascii_lowercase(),
                f[i + 1].parse().unwrap(),
                f[i + 2].parse().unwrap(),
                f[i + 3].parse().unwrap(),
                f[i + 4..].concat().to_ascii_uppercase(),
            )
        })
        .collect()
}

fn run_tool(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} (install ldnsutils / bind9-dnsutils): {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// DS of the SEP keys in `dnskey_file`, by `ldns-key2ds -n -2`.
pub fn ldns_key2ds(dnskey_file: &Path) -> String {
    run_tool(
        Command::new("ldns-key2ds")
            .arg("-n")
            .arg("-2")
            .arg(dnskey_file),
        "ldns-key2ds",
    )
}

/// DS of the KSKs in `dnskey_file`, by `dnssec-dsfromkey -2 -f FILE ZONE`.
pub fn dnssec_dsfromkey(dnskey_file: &Path, zone: &str) -> String {
    run_tool(
        Command::new("dnssec-dsfromkey")
            .arg("-2")
            .arg("-f")
            .arg(dnskey_file)
            .arg(zone),
        "dnssec-dsfromkey",
    )
}

/// Checks `tldd keys dnskey` and `tldd keys ds` of `zone` against each other
/// and against both peer tools; returns the parsed DNSKEYs.
pub fn cross_check_zone(env: &Env, zone: &str) -> Vec<Dnskey> {
    let dnskey_text = env.ok(&["dnskey", "--zone", zone]);
    let keys = parse_dnskeys(&dnskey_text);
    assert!(!keys.is_empty());
    for k in &keys {
        assert_eq!(k.owner, zone);
        assert!(k.flags == 256 || k.flags == 257, "{k:?}");
    }
    let file = env.dir.path().join(format!("dnskey-{zone}txt"));
    std::fs::write(&file, &dnskey_text).unwrap();
    let ours = parse_ds(&env.ok(&["ds", "--zone", zone]));
    let ldns = parse_ds(&ldns_key2ds(&file));
    let bind = parse_ds(&dnssec_dsfromkey(&file, zone));
    assert_eq!(ours, ldns, "tldd ds vs ldns-key2ds");
    assert_eq!(ours, bind, "tldd ds vs dnssec-dsfromkey");
    // One DS per KSK, tagged with the DNSKEY's independently computed tag.
    let ksk_tags: BTreeSet<u16> = keys
        .iter()
        .filter(|k| k.flags == 257)
        .map(|k| k.tag())
        .collect();
    let ds_tags: BTreeSet<u16> = ours.iter().map(|d| d.1).collect();
    assert_eq!(ksk_tags, ds_tags);
    keys
}

/// `tldd keys list` rows as (zone, tag, role, alg, keystore, state).
pub fn parse_list(text: &str) -> Vec<(String, u16, String, u8, String, String)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f[3].parse().unwrap(),
                f[5].to_string(),
                f[6].to_string(),
            )
        })
        .collect()
}
