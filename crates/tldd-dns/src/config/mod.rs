//! The configuration contract of `tldd serve`, `tldd sign` and `tldd keys`.
//!
//! TOML, read with serde and `deny_unknown_fields` everywhere, so a typo is an
//! error that names the key and the line (toml's own diagnostics carry the
//! span). Checks that serde cannot express (a zone naming an unknown TSIG key,
//! a bad origin) are reported with the line of the offending value, found
//! through `toml::Spanned`.
//!
//! The keys under `[server]`, `[[tsig]]`, `[[zone]]`, `[zone.dnssec]` and
//! `[hsm]` are a stable contract; `zones/shop.toml` is the commented example.
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

mod dnssec;
mod limits;
pub use dnssec::{DnssecConfig, KeystoreKind, KskSubmission, Nonstandard, RollTimings};
pub use limits::DEFAULT_COOKIE_ROTATION;

/// Errors reading a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}:{line}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub tsig: Vec<TsigKeyConfig>,
    #[serde(default)]
    pub zone: Vec<ZoneConfig>,
    pub hsm: Option<HsmConfig>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// UDP and TCP are served on each address.
    pub listen: Vec<SocketAddr>,
    /// Durable state (sled store, soft keys, audit log).
    pub data_dir: PathBuf,
    /// Prometheus `/metrics` listener.
    pub metrics: Option<SocketAddr>,
    /// RFC 5001 NSID returned when a query asks for it.
    pub nsid: Option<String>,
    /// UDP worker threads per listen address; default one per core.
    pub udp_workers: Option<usize>,
    /// Microseconds a UDP worker waits after a partial batch so that the
    /// next wake-up receives several packets (0 = off). Trades up to this
    /// much latency for fewer wake-ups per query under load.
    #[serde(default = "default_coalesce")]
    pub udp_coalesce_us: u64,
    /// Our EDNS UDP payload size (advertised and used as the cap).
    #[serde(default = "default_udp_payload")]
    pub udp_payload: u16,
    /// TCP connections served at once; further connections are closed at accept.
    #[serde(default = "default_tcp_max")]
    pub tcp_max_connections: usize,
    /// Seconds a TCP connection may stay idle (RFC 7766 §6.2.3).
    #[serde(default = "default_tcp_idle")]
    pub tcp_idle_timeout: u64,
    /// CHAOS TXT `id.server` / `hostname.bind`; absent => REFUSED.
    pub identity: Option<String>,
    /// CHAOS TXT `version.bind` / `version.server`; absent (the default) => REFUSED.
    pub version: Option<String>,
    /// Seconds: the largest TSIG fudge accepted; a signed request (or a
    /// response we check) claiming more is held to this (1 to 65535).
    #[serde(default = "default_tsig_max_fudge")]
    pub tsig_max_fudge: u64,
    /// `/health` (on `metrics`): a secondary without contact to its
    /// primary for longer than this many seconds is unfit (0: the SOA
    /// refresh + retry of the served zone).
    #[serde(default)]
    pub health_max_lag: u64,
    /// `/health`: a signed zone whose apex signatures (SOA, DNSKEY) expire
    /// within this many seconds is unfit.
    #[serde(default = "default_health_min_validity")]
    pub health_min_signature_validity: u64,
    /// `"text"` (default) or `"json"`: one JSON object per log line (for
    /// a log collector). Read before anything is logged; a restart applies it.
    #[serde(default)]
    pub log_format: LogFormat,
    /// DNS cookies (RFC 7873, RFC 9018 server cookies): the 16-byte
    /// SipHash secret as 32 hex digits, the same on every node of an
    /// anycast fleet. Absent: a random secret, rolled every
    /// `cookie_rotation`.
    pub cookie_secret: Option<String>,
    /// A second secret whose cookies are accepted too (never made): for a
    /// fleet-wide roll (RFC 9018 §5). Only with `cookie_secret`.
    pub cookie_secret_previous: Option<String>,
    /// How often the random secret is rolled (the one before stays
    /// accepted); at least "1h". Default "1d". Not with `cookie_secret`.
    pub cookie_rotation: Option<String>,
    /// Response rate limiting on UDP: responses per second per bucket
    /// (client prefix, response class, name); 0 = off.
    #[serde(default = "limits::default_rrl_rate")]
    pub rrl_rate: u32,
    /// Every N-th limited response is sent truncated (TC=1) instead of
    /// dropped; 0 = never, 1 = always.
    #[serde(default = "limits::default_rrl_slip")]
    pub rrl_slip: u32,
    /// Addresses/prefixes never rate limited.
    #[serde(default)]
    pub rrl_allow: Vec<Spanned<String>>,
    /// Buckets in the rate limiting table (rounded up to a power of two;
    /// 8 bytes each).
    #[serde(default = "limits::default_rrl_table_size")]
    pub rrl_table_size: usize,
}

/// `[server] log_format`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[server] log_format` of a file, read before logging starts (the full
/// checks come after, and are logged in that format). Text when absent
/// or unreadable.
pub fn log_format_only(path: &Path) -> LogFormat {
    let read = || -> Option<LogFormat> {
        let t: toml::Table = std::fs::read_to_string(path).ok()?.parse().ok()?;
        match t.get("server")?.get("log_format")?.as_str()? {
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    };
    read().unwrap_or_default()
}

fn default_health_min_validity() -> u64 {
    86_400
}

fn default_udp_payload() -> u16 {
    1232
}
/// 200 µs: measured to bring CPU per query from 0.86x to 0.77x NSD's at
/// 20k qps; invisible next to Internet round trips. Lone queries are
/// answered at once (the wait follows a batch, it never delays a reply).
fn default_coalesce() -> u64 {
    200
}
fn default_tcp_max() -> usize {
    1000
}
fn default_tcp_idle() -> u64 {
    10
}
fn default_tsig_max_fudge() -> u64 {
    tldd_tsig::FUDGE.into()
}

/// `[[tsig]]` (shared with the SRS config).
pub use tldd_tsig::KeyConfig as TsigKeyConfig;

/// `[[zone]]`.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub origin: Spanned<String>,
    /// Initial content when the store has none.
    pub file: Option<PathBuf>,
    pub update_key: Option<Spanned<String>>,
    pub transfer_key: Option<Spanned<String>>,
    #[serde(default)]
    pub notify: Vec<SocketAddr>,
    pub primary: Option<SocketAddr>,
    pub dnssec: Option<DnssecConfig>,
    /// How an update moves the SOA serial: "increment" (default) or
    /// "unixtime" (the current time, or old + 1 if that is not larger).
    #[serde(default)]
    pub serial_policy: SerialPolicy,
    /// Journal entries (versions) kept for IXFR; older ones are compacted away.
    #[serde(default = "default_journal_max")]
    pub journal_max: u64,
    /// Addresses/prefixes allowed to transfer (AXFR/IXFR) the zone, e.g.
    /// ["192.0.2.0/24", "::1"]. Absent: any address if `transfer_key` is
    /// set, none otherwise. Both set: both must match.
    #[serde(default)]
    pub allow_transfer: Vec<Spanned<String>>,
    /// Secondary zones: addresses besides `primary` allowed to send NOTIFY.
    #[serde(default)]
    pub allow_notify: Vec<Spanned<String>>,
    /// A zone served from the store whose `file` changed since it was last
    /// loaded: `"ignore"` (default: reported in the log; `tldd ctl
    /// zone-reload` applies it) or `"difference"` (applied at start as one
    /// new version, as `zone-reload` does).
    #[serde(default)]
    pub zonefile_load: ZonefileLoad,
}

/// `[[zone]] zonefile_load` (Knot's `zonefile-load`).
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ZonefileLoad {
    /// The store wins; a changed file is reported.
    #[default]
    Ignore,
    /// A changed file's differences become a version at start.
    Difference,
}

fn default_journal_max() -> u64 {
    1000
}

/// `[[zone]] serial_policy`.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SerialPolicy {
    #[default]
    Increment,
    Unixtime,
}

impl SerialPolicy {
    /// The serial after `old` (RFC 1982 arithmetic: always "greater").
    pub fn next(self, old: u32, now: u64) -> u32 {
        match self {
            SerialPolicy::Increment => old.wrapping_add(1),
            SerialPolicy::Unixtime => {
                let t = now as u32;
                let d = t.wrapping_sub(old);
                if d != 0 && d < 0x8000_0000 {
                    t
                } else {
                    old.wrapping_add(1)
                }
            }
        }
    }
}

/// Parses "192.0.2.0/24", "2001:db8::/32" or a bare address.
pub fn parse_prefix(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

impl ZoneConfig {
    /// `allow_transfer` parsed (validated at load).
    pub fn transfer_acl(&self) -> Vec<ipnet::IpNet> {
        self.allow_transfer
            .iter()
            .filter_map(|s| parse_prefix(s.get_ref()))
            .collect()
    }

    /// `allow_notify` parsed (validated at load).
    pub fn notify_acl(&self) -> Vec<ipnet::IpNet> {
        self.allow_notify
            .iter()
            .filter_map(|s| parse_prefix(s.get_ref()))
            .collect()
    }
}

impl ZoneConfig {
    /// The origin in canonical form: lower case, with the trailing dot.
    pub fn origin(&self) -> String {
        let o = self.origin.get_ref().to_ascii_lowercase();
        if o.ends_with('.') {
            o
        } else {
            format!("{o}.")
        }
    }
}

/// Where signing keys live.
/// `[hsm]`: the PKCS#11 token.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HsmConfig {
    pub module: PathBuf,
    pub token_label: String,
    /// The user PIN; prefer `pin_file` or `TLDD_HSM_PIN`. Never logged.
    pub pin: Option<String>,
    pub pin_file: Option<PathBuf>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses configuration text read from `path`: messages name it, and
    /// relative paths in it (`data_dir`, zone `file`, `pin_file`, an
    /// `[hsm] module` with a `/`) are resolved from its directory, as the
    /// SRS config does, whatever the current directory.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.validate(text, path)?;
        let base = path.parent().unwrap_or(Path::new(""));
        cfg.server.data_dir = resolve(base, &cfg.server.data_dir);
        for z in &mut cfg.zone {
            if let Some(f) = &z.file {
                z.file = Some(resolve(base, f));
            }
        }
        if let Some(h) = &mut cfg.hsm {
            if h.module.components().count() > 1 {
                h.module = resolve(base, &h.module);
            }
            if let Some(p) = &h.pin_file {
                h.pin_file = Some(resolve(base, p));
            }
        }
        Ok(cfg)
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid =
            |span: std::ops::Range<usize>, key: &str, message: String| ConfigError::Invalid {
                path: path.to_owned(),
                line: line_of(text, span.start),
                key: key.to_string(),
                message,
            };
        let first_line_of = |needle: &str| {
            text.find(needle)
                .map(|p| line_of(text, p))
                .unwrap_or_default()
        };
        if self.server.listen.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                line: first_line_of("listen"),
                key: "server.listen".into(),
                message: "needs at least one address".into(),
            });
        }
        if self.server.udp_payload < 512 {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                line: first_line_of("udp_payload"),
                key: "server.udp_payload".into(),
                message: "must be at least 512".into(),
            });
        }
        if let Some(nsid) = &self.server.nsid {
            if nsid.is_empty() || nsid.len() > 255 {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line: first_line_of("nsid"),
                    key: "server.nsid".into(),
                    message: "must be 1 to 255 bytes".into(),
                });
            }
        }
        if !(1..=u64::from(u16::MAX)).contains(&self.server.tsig_max_fudge) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                line: first_line_of("tsig_max_fudge"),
                key: "server.tsig_max_fudge".into(),
                message: "must be 1 to 65535 seconds".into(),
            });
        }
        limits::validate(&self.server, text, path)?;
        for key in &self.tsig {
            if !matches!(
                key.algorithm.to_ascii_lowercase().as_str(),
                "hmac-sha256" | "hmac-sha512" | "hmac-sha384" | "hmac-sha1"
            ) {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line: first_line_of(&key.algorithm),
                    key: "tsig.algorithm".into(),
                    message: format!(
                        "unknown algorithm {:?} (hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha1)",
                        key.algorithm
                    ),
                });
            }
            use base64::Engine;
            if base64::engine::general_purpose::STANDARD
                .decode(&key.secret)
                .is_err()
            {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line: first_line_of(&key.secret),
                    key: "tsig.secret".into(),
                    message: "not valid base64".into(),
                });
            }
        }
        let mut seen = Vec::new();
        for zone in &self.zone {
            let origin = zone.origin();
            if let Err(e) = hickory_proto::rr::Name::from_ascii(&origin) {
                return Err(invalid(
                    zone.origin.span(),
                    "zone.origin",
                    format!("not a domain name: {e}"),
                ));
            }
            if seen.contains(&origin) {
                return Err(invalid(
                    zone.origin.span(),
                    "zone.origin",
                    format!("{origin} is configured twice"),
                ));
            }
            seen.push(origin);
            if zone.file.is_none() && zone.primary.is_none() {
                return Err(invalid(
                    zone.origin.span(),
                    "zone.file",
                    "a zone needs `file` (primary) or `primary` (secondary)".into(),
                ));
            }
            for (k, name) in [
                ("zone.update_key", &zone.update_key),
                ("zone.transfer_key", &zone.transfer_key),
            ] {
                if let Some(name) = name {
                    if !self.tsig.iter().any(|t| t.name == *name.get_ref()) {
                        return Err(invalid(
                            name.span(),
                            k,
                            format!("no [[tsig]] key named {:?}", name.get_ref()),
                        ));
                    }
                }
            }
            for (k, list) in [
                ("zone.allow_transfer", &zone.allow_transfer),
                ("zone.allow_notify", &zone.allow_notify),
            ] {
                for p in list {
                    if parse_prefix(p.get_ref()).is_none() {
                        return Err(invalid(
                            p.span(),
                            k,
                            format!("{:?} is not an address or prefix", p.get_ref()),
                        ));
                    }
                }
            }
            if zone.journal_max == 0 {
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line: first_line_of("journal_max"),
                    key: "zone.journal_max".into(),
                    message: "must be at least 1".into(),
                });
            }
            if let Some(d) = &zone.dnssec {
                d.validate(&first_line_of, self.hsm.is_some()).map_err(
                    |(line, key, message)| ConfigError::Invalid {
                        path: path.to_owned(),
                        line,
                        key,
                        message,
                    },
                )?;
            }
        }
        Ok(())
    }

    /// The zone configured for `origin` (any case, dot optional).
    pub fn zone(&self, origin: &str) -> Option<&ZoneConfig> {
        let mut o = origin.to_ascii_lowercase();
        if !o.ends_with('.') {
            o.push('.');
        }
        self.zone.iter().find(|z| z.origin() == o)
    }
}

/// `p` from `base` (the config file's directory) when relative, made
/// absolute so a `tldd ctl` from another directory finds the same socket.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_owned();
    }
    let joined = base.join(p);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// `[server] data_dir` of a file that may not pass the full checks
/// (`tldd ctl` still finds the socket of a server whose file now has an
/// error, so `reload` gets the server's refusal).
pub fn data_dir_only(path: &Path) -> Option<PathBuf> {
    let t: toml::Table = std::fs::read_to_string(path).ok()?.parse().ok()?;
    let d = PathBuf::from(t.get("server")?.get("data_dir")?.as_str()?);
    Some(resolve(path.parent().unwrap_or(Path::new("")), &d))
}

/// Parses "14d", "12h", "30m", "45s" or plain seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'd' => (&s[..s.len() - 1], 86400),
        'h' => (&s[..s.len() - 1], 3600),
        'm' => (&s[..s.len() - 1], 60),
        's' => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
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

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("t.toml"))
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = parse("[server]\nlisten=[\"127.0.0.1:53\"]\ndata_dir=\"/tmp\"\nlisen=1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn unknown_tsig_key_is_reported_with_line() {
        let e = parse(
            "[server]\nlisten=[\"127.0.0.1:53\"]\ndata_dir=\"/tmp\"\n[[zone]]\norigin=\"shop.\"\nfile=\"x\"\nupdate_key=\"nope\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(":7:"), "{e}");
        assert!(e.contains("zone.update_key"), "{e}");
    }

    #[test]
    fn bad_address_is_an_error() {
        let e = parse("[server]\nlisten=[\"localhost\"]\ndata_dir=\"/tmp\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn transfer_acl_and_serial_policy() {
        let base = "[server]\nlisten=[\"127.0.0.1:53\"]\ndata_dir=\"/tmp\"\n[[zone]]\norigin=\"shop.\"\nfile=\"x\"\n";
        let e = parse(&format!(
            "{base}allow_transfer=[\"10.0.0.0/8\", \"nope\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(":7:") && e.contains("zone.allow_transfer"),
            "{e}"
        );
        let e = parse(&format!("{base}serial_policy=\"date\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 7") && e.contains("serial_policy"), "{e}");
        let c = parse(&format!(
            "{base}serial_policy=\"unixtime\"\nallow_transfer=[\"::1\"]\n"
        ))
        .unwrap();
        assert_eq!(c.zone[0].serial_policy, SerialPolicy::Unixtime);
        assert_eq!(c.zone[0].transfer_acl().len(), 1);
        assert_eq!(SerialPolicy::Unixtime.next(5, 1000), 1000);
        assert_eq!(SerialPolicy::Unixtime.next(2000, 1000), 2001);
        assert_eq!(SerialPolicy::Increment.next(u32::MAX, 0), 0);
    }

    #[test]
    fn tsig_max_fudge_is_seconds_with_a_range() {
        let base = "[server]\nlisten=[\"127.0.0.1:53\"]\ndata_dir=\"/tmp\"\n";
        assert_eq!(parse(base).unwrap().server.tsig_max_fudge, 300);
        assert_eq!(
            parse(&format!("{base}tsig_max_fudge = 3\n"))
                .unwrap()
                .server
                .tsig_max_fudge,
            3
        );
        for bad in ["0", "65536"] {
            let e = parse(&format!("{base}tsig_max_fudge = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("t.toml:4:") && e.contains("server.tsig_max_fudge"),
                "{e}"
            );
        }
        let e = parse(&format!("{base}tsig_max_fudge = \"5m\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("tsig_max_fudge"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("14d"), Some(14 * 86400));
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("x"), None);
    }
}
