//! The configuration of `tldd srs -c FILE.toml`.
//!
//! TOML read with serde and `deny_unknown_fields` on every table, so a typo is
//! an error naming the key and the line. Checks serde cannot express (a
//! `[srs.dns] tsig_key` naming no `[[tsig]]`, a TLD that is not a name, a
//! bad TSIG secret) are reported with the line of the offending value.
//!
//! Layout:
//! - `[srs]`: TLD, data directory, EPP listener and TLS material, limits,
//!   the Whois/RDAP listeners (issue 6; parsed here so the file format is
//!   stable, served by their own modules).
//! - `[srs.dns]`: the RFC 2136 publisher target and its TSIG key.
//! - `[srs.policy]`: the registry policy; defaults are the .shop gTLD
//!   application's question 27 (grace periods in days, 1-10 years, ...).
//! - `[srs.fees]`: prices in minor currency units, per year.
//! - `[[tsig]]`: keys, same shape as in `tldd serve`.
//!
//! Limits: one TLD per SRS process; the TLD must be a single label.
pub mod rdds;

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

mod guard;
pub use guard::GuardSettings;

pub use tldd_tsig::KeyConfig as TsigKeyConfig;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrsFile {
    pub srs: SrsConfig,
    #[serde(default)]
    pub tsig: Vec<TsigKeyConfig>,
}

/// `[srs]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrsConfig {
    /// The TLD served, e.g. "shop." (one label).
    pub tld: Spanned<String>,
    /// sled store and the admin control socket.
    pub data_dir: PathBuf,
    /// EPP over TLS listener (RFC 5734; the IANA port is 700).
    #[serde(default = "default_epp_listen")]
    pub epp_listen: SocketAddr,
    /// PEM certificate chain presented to registrars.
    pub tls_cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: PathBuf,
    /// Connections accepted at once over all registrars.
    #[serde(default = "default_max_connections")]
    pub epp_max_connections: usize,
    /// Logged-in sessions per registrar unless the registrar record says otherwise.
    #[serde(default = "default_registrar_connections")]
    pub epp_registrar_connections: u32,
    /// Seconds without a complete frame before the server closes the session.
    #[serde(default = "default_idle")]
    pub epp_idle_timeout: u64,
    /// Largest EPP frame accepted, in bytes (header included).
    #[serde(default = "default_max_frame")]
    pub epp_max_frame: u32,
    /// Failed logins on one connection before it is closed with 2501.
    #[serde(default = "default_max_login_failures")]
    pub epp_max_login_failures: u32,
    /// Connections not logged in yet from one IPv4 address / IPv6 /64
    /// (`epp::guard`); more are closed at accept.
    #[serde(default = "default_prelogin_per_address")]
    pub epp_prelogin_per_address: usize,
    /// Connections not logged in yet, over all sources (clamped to
    /// `epp_max_connections`).
    #[serde(default = "default_prelogin_max")]
    pub epp_prelogin_max: usize,
    /// Accept to the end of the TLS handshake (a duration: `5`, `"5s"`, `"500ms"`).
    #[serde(default = "default_handshake_timeout", with = "duration")]
    pub epp_handshake_timeout: Duration,
    /// Greeting to a successful `<login>` (a duration).
    #[serde(default = "default_login_timeout", with = "duration")]
    pub epp_login_timeout: Duration,
    /// Failed logins of one source (or one client ID, with its certificate)
    /// before further logins are refused for a while.
    #[serde(default = "default_failures_before_backoff")]
    pub epp_login_failures_before_backoff: u32,
    /// First refusal window; doubled with each further failure (a duration).
    #[serde(default = "default_backoff_initial", with = "duration")]
    pub epp_login_backoff_initial: Duration,
    /// Longest refusal window (a duration).
    #[serde(default = "default_backoff_max", with = "duration")]
    pub epp_login_backoff_max: Duration,
    /// `svID` in the greeting.
    pub server_id: Option<String>,
    /// Prometheus `/metrics` listener (HTTP).
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds between runs of the time-driven lifecycle inside the server.
    #[serde(default = "default_lifecycle_interval")]
    pub lifecycle_interval: u64,
    /// Allow `tldd srs lifecycle --at` to move the SRS clock forward (tests
    /// and drills only: it runs transitions early and is persistent).
    #[serde(default)]
    pub clock_control: bool,
    /// Suffix of repository object IDs (ROIDs); default: the TLD upper-cased.
    pub roid_suffix: Option<String>,
    /// Whois (RFC 3912) listener; served by the Whois module (issue 6).
    pub whois_listen: Option<SocketAddr>,
    /// RDAP listener; served by the RDAP module (issue 6).
    pub rdap_listen: Option<SocketAddr>,
    pub rdap_tls_cert: Option<PathBuf>,
    pub rdap_tls_key: Option<PathBuf>,
    /// `[srs.whois]`: Whois/RDAP limits and presentation (issue 6; see
    /// `rdds` and docs/whois-rdap.md).
    #[serde(default)]
    pub whois: crate::config::rdds::WhoisConfig,
    pub dns: DnsConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub fees: FeesConfig,
}

/// `[srs.dns]`: where DNS changes are published.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// RFC 2136 target (TCP).
    pub server: SocketAddr,
    /// Name of a `[[tsig]]` key signing updates (and, unless
    /// `transfer_key` is set, the AXFR of `tldd srs reconcile`).
    pub tsig_key: Spanned<String>,
    /// Name of a `[[tsig]]` key for the AXFR of `tldd srs reconcile`, so
    /// the key that can read the zone need not be the one that writes it.
    pub transfer_key: Option<Spanned<String>>,
    /// AXFR source for `tldd srs reconcile`; default `server`.
    pub axfr_server: Option<SocketAddr>,
    /// TTL of published NS, DS and glue records.
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// Seconds to wait for an update's answer before retrying.
    #[serde(default = "default_dns_timeout")]
    pub timeout: u64,
    /// Largest number of owner names sent in one UPDATE message.
    #[serde(default = "default_batch")]
    pub batch: usize,
}

/// `[srs.policy]`: defaults from the .shop application, question 27.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub add_grace_days: u32,
    pub renew_grace_days: u32,
    pub auto_renew_grace_days: u32,
    pub transfer_grace_days: u32,
    pub pending_transfer_days: u32,
    pub transfer_lock_days: u32,
    pub redemption_days: u32,
    pub pending_delete_days: u32,
    pub min_years: u32,
    pub max_years: u32,
    /// Labels (directly under the TLD) nobody may register.
    pub reserved: Vec<String>,
    pub max_ns: usize,
    pub max_ds: usize,
    pub max_host_addrs: usize,
    /// Names per `<check>` command.
    pub max_check: usize,
    /// Accept glue in the documentation ranges (192.0.2.0/24,
    /// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): test set-ups only.
    /// Private, shared, link-local, loopback and other non-routable
    /// addresses are always refused.
    pub allow_documentation_addresses: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            add_grace_days: 5,
            renew_grace_days: 5,
            auto_renew_grace_days: 45,
            transfer_grace_days: 5,
            pending_transfer_days: 5,
            transfer_lock_days: 60,
            redemption_days: 30,
            pending_delete_days: 5,
            min_years: 1,
            max_years: 10,
            reserved: vec!["nic".into(), "whois".into(), "rdap".into(), "www".into()],
            max_ns: 13,
            max_ds: 8,
            max_host_addrs: 13,
            max_check: 50,
            allow_documentation_addresses: false,
        }
    }
}

/// `[srs.fees]`: prices per year in minor units of `currency` (cents).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct FeesConfig {
    pub currency: String,
    pub create: i64,
    pub renew: i64,
    pub transfer: i64,
    /// Per restore, not per year.
    pub restore: i64,
}

impl Default for FeesConfig {
    fn default() -> Self {
        FeesConfig {
            currency: "USD".into(),
            create: 0,
            renew: 0,
            transfer: 0,
            restore: 0,
        }
    }
}

fn default_epp_listen() -> SocketAddr {
    "127.0.0.1:700".parse().expect("static address")
}
fn default_max_connections() -> usize {
    200
}
fn default_registrar_connections() -> u32 {
    4
}
fn default_idle() -> u64 {
    600
}
fn default_max_frame() -> u32 {
    65536
}
fn default_max_login_failures() -> u32 {
    3
}
fn default_prelogin_per_address() -> usize {
    GuardSettings::default().prelogin_per_address
}
fn default_prelogin_max() -> usize {
    GuardSettings::default().prelogin_max
}
fn default_handshake_timeout() -> Duration {
    GuardSettings::default().handshake_timeout
}
fn default_login_timeout() -> Duration {
    GuardSettings::default().login_timeout
}
fn default_failures_before_backoff() -> u32 {
    GuardSettings::default().failures_before_backoff
}
fn default_backoff_initial() -> Duration {
    GuardSettings::default().backoff_initial
}
fn default_backoff_max() -> Duration {
    GuardSettings::default().backoff_max
}

/// A duration: an integer (seconds, as the other `[srs]` timeouts) or a
/// string with a unit: `"500ms"`, `"5s"`, `"2m"`, `"1h"`, `"1d"`.
pub mod duration {
    use serde::{de, Deserializer};
    use std::time::Duration;

    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let n: u64 = s[..split].parse().ok()?;
        let ms = match s[split..].trim() {
            "ms" => 1,
            "" | "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        n.checked_mul(ms).map(Duration::from_millis)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration: seconds, or a string such as \"5s\" or \"500ms\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "{v:?} is not a duration (\"5s\", \"500ms\", \"2m\")"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

fn default_lifecycle_interval() -> u64 {
    60
}
fn default_ttl() -> u32 {
    3600
}
fn default_dns_timeout() -> u64 {
    5
}
fn default_batch() -> usize {
    64
}

/// The checked configuration with derived values.
#[derive(Debug)]
pub struct Loaded {
    pub srs: SrsConfig,
    pub tsig: Vec<TsigKeyConfig>,
    /// The TLD without the trailing dot, lower case ("shop").
    pub tld: String,
    /// The key `[srs.dns] tsig_key` names.
    pub dns_key: TsigKeyConfig,
    /// The key `[srs.dns] transfer_key` names (else `dns_key`).
    pub xfr_key: TsigKeyConfig,
    pub path: PathBuf,
}

impl Loaded {
    pub fn load(path: &Path) -> anyhow::Result<Loaded> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Loaded> {
        let file: SrsFile = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let at = |span: std::ops::Range<usize>, key: &str, msg: String| {
            anyhow::anyhow!(
                "{}:{}: `{key}`: {msg}",
                path.display(),
                line_of(text, span.start)
            )
        };
        let raw = file
            .srs
            .tld
            .get_ref()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if raw.is_empty()
            || raw.contains('.')
            || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(at(
                file.srs.tld.span(),
                "srs.tld",
                format!(
                    "{:?} is not a one-label TLD such as \"shop.\"",
                    file.srs.tld.get_ref()
                ),
            ));
        }
        let key_name = file.srs.dns.tsig_key.get_ref();
        let Some(dns_key) = file.tsig.iter().find(|k| &k.name == key_name).cloned() else {
            return Err(at(
                file.srs.dns.tsig_key.span(),
                "srs.dns.tsig_key",
                format!("no [[tsig]] key named {key_name:?}"),
            ));
        };
        crate::dns::signer(&dns_key)
            .map_err(|e| anyhow::anyhow!("{}: [[tsig]] {:?}: {e}", path.display(), dns_key.name))?;
        let xfr_key = match &file.srs.dns.transfer_key {
            None => dns_key.clone(),
            Some(name) => {
                let Some(k) = file
                    .tsig
                    .iter()
                    .find(|k| &k.name == name.get_ref())
                    .cloned()
                else {
                    return Err(at(
                        name.span(),
                        "srs.dns.transfer_key",
                        format!("no [[tsig]] key named {:?}", name.get_ref()),
                    ));
                };
                crate::dns::signer(&k).map_err(|e| {
                    anyhow::anyhow!("{}: [[tsig]] {:?}: {e}", path.display(), k.name)
                })?;
                k
            }
        };
        let p = &file.srs.policy;
        if p.min_years == 0 || p.min_years > p.max_years || p.max_years > 10 {
            anyhow::bail!(
                "{}: `srs.policy`: need 1 <= min_years <= max_years <= 10",
                path.display()
            );
        }
        if file.srs.epp_max_frame < 1024 {
            anyhow::bail!(
                "{}: `srs.epp_max_frame` must be at least 1024",
                path.display()
            );
        }
        check_guard(&file.srs).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        check_epp_ids(&file.srs).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // --- whois/rdap (issue 6) ---
        if let Err(e) = file.srs.whois.check() {
            anyhow::bail!("{}: {e}", path.display());
        }
        // --- end whois/rdap ---
        if file.srs.dns.batch == 0 {
            anyhow::bail!("{}: `srs.dns.batch` must be at least 1", path.display());
        }
        Ok(Loaded {
            tld: raw,
            dns_key,
            xfr_key,
            tsig: file.tsig,
            srs: file.srs,
            path: path.to_owned(),
        })
    }

    /// The greeting's `svID`: `server_id`, by default "tldd SRS for .TLD",
    /// or "tldd SRS" where that would pass the 64 characters of
    /// `epp:sIDType`.
    pub fn server_id(&self) -> String {
        self.srs.server_id.clone().unwrap_or_else(|| {
            let long = format!("tldd SRS for .{}", self.tld);
            if long.chars().count() <= 64 {
                long
            } else {
                "tldd SRS".into()
            }
        })
    }

    /// ROID suffix, e.g. "SHOP". The default is the TLD upper-cased
    /// without hyphens, cut to the 8 characters `eppcom:roidType` allows.
    pub fn roid_suffix(&self) -> String {
        self.srs.roid_suffix.clone().unwrap_or_else(|| {
            self.tld
                .to_ascii_uppercase()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect()
        })
    }

    /// Resolves a path from the config relative to the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    }
}

/// The `epp::guard` keys: in range, and in order.
fn check_guard(c: &SrsConfig) -> Result<(), String> {
    let ms = Duration::from_millis;
    let hour = Duration::from_secs(3600);
    if c.epp_prelogin_per_address == 0 || c.epp_prelogin_max == 0 {
        return Err(
            "`srs.epp_prelogin_per_address` and `epp_prelogin_max` must be at least 1".into(),
        );
    }
    for (key, d) in [
        ("epp_handshake_timeout", c.epp_handshake_timeout),
        ("epp_login_timeout", c.epp_login_timeout),
    ] {
        if d < ms(10) || d > hour {
            return Err(format!("`srs.{key}` must be 10ms to 1h"));
        }
    }
    if c.epp_login_failures_before_backoff == 0 {
        return Err("`srs.epp_login_failures_before_backoff` must be at least 1".into());
    }
    let (a, b) = (c.epp_login_backoff_initial, c.epp_login_backoff_max);
    if a < ms(10) || b < a || b > 24 * hour {
        return Err(
            "`srs`: need 10ms <= epp_login_backoff_initial <= epp_login_backoff_max <= 1d".into(),
        );
    }
    Ok(())
}

/// The identifiers EPP answers carry must fit their schema types (RFC
/// 5730): `server_id` is the greeting's `svID` (`epp:sIDType`, 3 to 64
/// characters), `roid_suffix` ends every ROID (`eppcom:roidType`, 1 to 8
/// word characters).
fn check_epp_ids(c: &SrsConfig) -> Result<(), String> {
    if let Some(id) = &c.server_id {
        if !(3..=64).contains(&id.chars().count()) {
            return Err(format!(
                "`srs.server_id` {id:?} must be 3 to 64 characters (EPP svID)"
            ));
        }
    }
    if let Some(r) = &c.roid_suffix {
        let word = r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !(1..=8).contains(&r.len()) || !word {
            return Err(format!(
                "`srs.roid_suffix` {r:?} must be 1 to 8 letters, digits or '_' (EPP roidType)"
            ));
        }
    }
    Ok(())
}

impl SrsConfig {
    /// The `epp::guard` settings (`epp_prelogin_max` clamped to
    /// `epp_max_connections`).
    pub fn guard(&self) -> GuardSettings {
        GuardSettings {
            prelogin_per_address: self.epp_prelogin_per_address,
            prelogin_max: self.epp_prelogin_max.min(self.epp_max_connections.max(1)),
            handshake_timeout: self.epp_handshake_timeout,
            login_timeout: self.epp_login_timeout,
            failures_before_backoff: self.epp_login_failures_before_backoff,
            backoff_initial: self.epp_login_backoff_initial,
            backoff_max: self.epp_login_backoff_max,
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[srs]
tld = "shop."
data_dir = "/tmp/x"
epp_listen = "127.0.0.1:700"
tls_cert = "server.crt"
tls_key = "server.key"
[srs.dns]
server = "127.0.0.1:53"
tsig_key = "srs-key"
[[tsig]]
name = "srs-key"
algorithm = "hmac-sha256"
secret = "c2VjcmV0c2VjcmV0c2VjcmV0"
"#;

    #[test]
    fn contract_example_parses_with_policy_defaults() {
        let c = Loaded::parse(BASE, Path::new("srs.toml")).unwrap();
        assert_eq!(c.tld, "shop");
        assert_eq!(c.srs.policy.add_grace_days, 5);
        assert_eq!(c.srs.policy.auto_renew_grace_days, 45);
        assert_eq!(c.srs.policy.redemption_days, 30);
        assert_eq!(c.roid_suffix(), "SHOP");
    }

    #[test]
    fn epp_ids_fit_their_schema_types() {
        let with = |extra: &str| {
            let text = BASE.replace(
                "tls_key = \"server.key\"",
                &format!("tls_key = \"server.key\"\n{extra}"),
            );
            Loaded::parse(&text, Path::new("srs.toml")).map_err(|e| e.to_string())
        };
        assert!(with("server_id = \"ab\"").unwrap_err().contains("svID"));
        assert!(with(&format!("server_id = \"{}\"", "x".repeat(65))).is_err());
        assert!(with("server_id = \"srs\"").is_ok());
        assert!(with("roid_suffix = \"TOOLONGXX\"")
            .unwrap_err()
            .contains("roidType"));
        assert!(with("roid_suffix = \"A-B\"").is_err());
        assert_eq!(
            with("roid_suffix = \"EX_1\"").unwrap().roid_suffix(),
            "EX_1"
        );
        let long = BASE.replace("tld = \"shop.\"", "tld = \"photo-graphy.\"");
        let c = Loaded::parse(&long, Path::new("srs.toml")).unwrap();
        assert_eq!(c.roid_suffix(), "PHOTOGRA");
        assert_eq!(c.server_id(), "tldd SRS for .photo-graphy");
        let label = "x".repeat(60);
        let longest = BASE.replace("tld = \"shop.\"", &format!("tld = \"{label}.\""));
        let c = Loaded::parse(&longest, Path::new("srs.toml")).unwrap();
        assert_eq!(c.server_id(), "tldd SRS");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let text = BASE.replace("tld = \"shop.\"", "tld = \"shop.\"\ntypo = 1");
        let e = Loaded::parse(&text, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("typo"), "{e}");
    }

    #[test]
    fn transfer_key_defaults_to_the_update_key_and_must_exist() {
        let c = Loaded::parse(BASE, Path::new("srs.toml")).unwrap();
        assert_eq!(c.xfr_key.name, "srs-key");
        let text = BASE.replace(
            "tsig_key = \"srs-key\"\n",
            "tsig_key = \"srs-key\"\ntransfer_key = \"reader\"\n",
        );
        let e = Loaded::parse(&text, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("srs.dns.transfer_key") && e.contains("reader"),
            "{e}"
        );
    }

    #[test]
    fn missing_tsig_key_names_line() {
        let text = BASE.replace("tsig_key = \"srs-key\"", "tsig_key = \"other\"");
        let e = Loaded::parse(&text, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("srs.toml:10: `srs.dns.tsig_key`"), "{e}");
    }

    #[test]
    fn guard_keys_default_parse_and_are_checked() {
        let c = Loaded::parse(BASE, Path::new("srs.toml")).unwrap();
        let g = c.srs.guard();
        assert_eq!((g.prelogin_per_address, g.prelogin_max), (8, 64));
        assert_eq!(g.handshake_timeout, Duration::from_secs(5));
        assert_eq!(g.login_timeout, Duration::from_secs(20));
        let text = BASE.replace(
            "tls_key = \"server.key\"",
            "tls_key = \"server.key\"\nepp_handshake_timeout = \"750ms\"\nepp_login_timeout = 3\n\
             epp_login_backoff_max = \"2m\"\nepp_max_connections = 10",
        );
        let g = Loaded::parse(&text, Path::new("srs.toml"))
            .unwrap()
            .srs
            .guard();
        assert_eq!(g.handshake_timeout, Duration::from_millis(750));
        assert_eq!(g.login_timeout, Duration::from_secs(3));
        assert_eq!(g.backoff_max, Duration::from_secs(120));
        assert_eq!(g.prelogin_max, 10, "clamped to epp_max_connections");
        let bad = BASE.replace(
            "tls_key = \"server.key\"",
            "tls_key = \"server.key\"\nepp_login_timeout = \"soon\"",
        );
        let e = Loaded::parse(&bad, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("epp_login_timeout") && e.contains("not a duration"),
            "{e}"
        );
        let bad = BASE.replace("tls_key = \"server.key\"", "tls_key = \"server.key\"\nepp_login_backoff_initial = \"1h\"\nepp_login_backoff_max = \"1m\"");
        let e = Loaded::parse(&bad, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("epp_login_backoff_initial"), "{e}");
        assert_eq!(duration::parse("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(duration::parse("5 s"), Some(Duration::from_secs(5)));
        assert_eq!(duration::parse("s"), None);
    }

    #[test]
    fn multi_label_tld_rejected() {
        let text = BASE.replace("tld = \"shop.\"", "tld = \"co.uk.\"");
        let e = Loaded::parse(&text, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("srs.tld"), "{e}");
    }
}

#[cfg(test)]
mod example {
    #[test]
    fn the_shipped_example_config_parses() {
        let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../zones/srs.toml"));
        let c = super::Loaded::parse(text, std::path::Path::new("zones/srs.toml")).unwrap();
        assert_eq!(c.tld, "shop");
        assert_eq!(c.srs.fees.restore, 4000);
    }
}

#[cfg(test)]
mod whois_section_tests {
    //! `[srs.whois]` (issue 6): typed, checked, errors name the key.
    use super::*;

    const BASE: &str =
        "[srs]\ntld = \"shop.\"\ndata_dir = \"/tmp/x\"\ntls_cert = \"c\"\ntls_key = \"k\"\n\
[srs.dns]\nserver = \"127.0.0.1:53\"\ntsig_key = \"k\"\n\
[[tsig]]\nname = \"k\"\nalgorithm = \"hmac-sha256\"\nsecret = \"c2VjcmV0c2VjcmV0c2VjcmV0\"\n";

    #[test]
    fn whois_table_typed_and_checked() {
        let c = Loaded::parse(BASE, Path::new("srs.toml")).unwrap();
        assert_eq!(c.srs.whois.rate_limit, 60);
        let t = format!("{BASE}[srs.whois]\nrate_limit = 10\nallow = [\"192.0.2.0/24\"]\n");
        let c = Loaded::parse(&t, Path::new("srs.toml")).unwrap();
        assert_eq!(c.srs.whois.rate_limit, 10);
        let t = format!("{BASE}[srs.whois]\nrate_limt = 10\n");
        let e = Loaded::parse(&t, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rate_limt") && e.contains("line 14"), "{e}");
        let t = format!("{BASE}[srs.whois]\nallow = [\"nonsense\"]\n");
        let e = Loaded::parse(&t, Path::new("srs.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("srs.whois.allow"), "{e}");
    }
}
