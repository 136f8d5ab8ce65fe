//! The `[server]` keys of DNS cookies (`cookie_*`) and response rate
//! limiting (`rrl_*`): their defaults, their checks, and their values as
//! plain data (the secrets as bytes, the allow list as prefixes) for the
//! server, which builds `wire::cookie` and `server::rrl` from them.
use super::{line_of, parse_duration, parse_prefix, ConfigError, ServerConfig};
use std::path::Path;

/// Knot's and NSD's advice: 200 identical-class responses a second to one
/// /24 or /56 is far beyond what a caching resolver asks of one name.
pub(super) fn default_rrl_rate() -> u32 {
    200
}
pub(super) fn default_rrl_slip() -> u32 {
    2
}
pub(super) fn default_rrl_table_size() -> usize {
    1 << 18
}
/// A day: a restart or a roll costs each client one fresh cookie.
pub const DEFAULT_COOKIE_ROTATION: u64 = 86_400;

impl ServerConfig {
    /// `cookie_secret` and `cookie_secret_previous` (validated at load).
    pub fn cookie_secrets(&self) -> (Option<[u8; 16]>, Option<[u8; 16]>) {
        let parse = |s: &Option<String>| s.as_deref().and_then(parse_secret);
        (
            parse(&self.cookie_secret),
            parse(&self.cookie_secret_previous),
        )
    }

    /// Seconds between rolls of a random cookie secret.
    pub fn cookie_rotation_secs(&self) -> u64 {
        self.cookie_rotation
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_COOKIE_ROTATION)
    }

    /// `rrl_allow` parsed (validated at load).
    pub fn rrl_allow_list(&self) -> Vec<ipnet::IpNet> {
        self.rrl_allow
            .iter()
            .filter_map(|s| parse_prefix(s.get_ref()))
            .collect()
    }
}

/// A 16-byte secret from 32 hex digits.
fn parse_secret(s: &str) -> Option<[u8; 16]> {
    hex::decode(s.trim()).ok()?.try_into().ok()
}

/// Checks the `[server]` keys of DNS cookies and rate limiting.
pub(super) fn validate(s: &ServerConfig, text: &str, path: &Path) -> Result<(), ConfigError> {
    // The line that sets `key` (not one whose key merely starts so).
    let at = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        line: text
            .lines()
            .position(|l| {
                l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            })
            .map_or(0, |i| i + 1),
        key: format!("server.{key}"),
        message,
    };
    for (key, v) in [
        ("cookie_secret", &s.cookie_secret),
        ("cookie_secret_previous", &s.cookie_secret_previous),
    ] {
        if v.as_deref().is_some_and(|v| parse_secret(v).is_none()) {
            return Err(at(key, "must be 32 hex digits (16 bytes)".into()));
        }
    }
    if s.cookie_secret_previous.is_some() && s.cookie_secret.is_none() {
        return Err(at(
            "cookie_secret_previous",
            "needs `cookie_secret` (a random secret keeps its own previous one)".into(),
        ));
    }
    if let Some(r) = &s.cookie_rotation {
        if s.cookie_secret.is_some() {
            return Err(at(
                "cookie_rotation",
                "a configured `cookie_secret` is not rolled by the server (roll it with `cookie_secret_previous`)".into(),
            ));
        }
        if parse_duration(r).is_none_or(|d| d < 3600) {
            return Err(at(
                "cookie_rotation",
                format!("{r:?}: a duration of at least \"1h\" (a server cookie lives an hour)"),
            ));
        }
    }
    if s.rrl_rate > 65535 {
        return Err(at(
            "rrl_rate",
            "must be 0 (off) to 65535 responses a second".into(),
        ));
    }
    if s.rrl_slip > 100 {
        return Err(at("rrl_slip", "must be 0 to 100".into()));
    }
    if !(1024..=1 << 24).contains(&s.rrl_table_size) {
        return Err(at(
            "rrl_table_size",
            "must be 1024 to 16777216 buckets".into(),
        ));
    }
    for p in &s.rrl_allow {
        if parse_prefix(p.get_ref()).is_none() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                line: line_of(text, p.span().start),
                key: "server.rrl_allow".into(),
                message: format!("{:?} is not an address or prefix", p.get_ref()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    fn parse(s: &str) -> Result<Config, super::ConfigError> {
        Config::parse(s, Path::new("t.toml"))
    }

    #[test]
    fn cookie_and_rrl_keys() {
        let base = "[server]\nlisten=[\"127.0.0.1:53\"]\ndata_dir=\"/tmp\"\n";
        let c = parse(base).unwrap();
        assert_eq!(c.server.rrl_rate, 200);
        assert_eq!(c.server.rrl_slip, 2);
        assert_eq!(c.server.cookie_secrets(), (None, None));
        assert_eq!(c.server.cookie_rotation_secs(), 86_400);
        let c = parse(&format!(
            "{base}cookie_secret = \"e5e973e5a6b2a43f48e7dc849e37bfcf\"\ncookie_secret_previous = \"dd3bdf9344b678b185a6f5cb60fca715\"\nrrl_rate = 0\nrrl_allow = [\"10.0.0.0/8\", \"::1\"]\n"
        ))
        .unwrap();
        assert_eq!(c.server.cookie_secrets().0.unwrap()[0], 0xe5);
        assert_eq!(c.server.cookie_secrets().1.unwrap()[0], 0xdd);
        assert_eq!(c.server.rrl_allow_list().len(), 2);
        for (bad, key) in [
            ("cookie_secret = \"abcd\"", "server.cookie_secret"),
            (
                "cookie_secret_previous = \"e5e973e5a6b2a43f48e7dc849e37bfcf\"",
                "server.cookie_secret_previous",
            ),
            ("cookie_rotation = \"10m\"", "server.cookie_rotation"),
            ("rrl_rate = 70000", "server.rrl_rate"),
            ("rrl_slip = 101", "server.rrl_slip"),
            ("rrl_table_size = 10", "server.rrl_table_size"),
            ("rrl_allow = [\"10.0.0.0/8\", \"nope\"]", "server.rrl_allow"),
        ] {
            let e = parse(&format!("{base}{bad}\n")).unwrap_err().to_string();
            assert!(e.contains("t.toml:4:") && e.contains(key), "{bad}: {e}");
        }
        assert_eq!(
            parse(&format!("{base}cookie_rotation = \"12h\"\n"))
                .unwrap()
                .server
                .cookie_rotation_secs(),
            43_200
        );
    }
}
