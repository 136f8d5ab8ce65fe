//! `[zone.dnssec]`: how a zone is signed and how its keys roll.
//!
//! The section's presence makes the zone signed. Besides the signing
//! parameters (algorithm, NSEC3, signature validity and refresh) it holds
//! the key-lifecycle policy the zone's event loop follows
//! ([`crate::keys::roll`]): key lifetimes, the RFC 7583 timing parameters,
//! the CDS digest types and how the parent's DS is learnt.
//!
//! # Policy checks (ICANN RST `dnssec-91`..`93`)
//! Refused unless `allow_nonstandard` names the rule: NSEC3 iterations
//! other than 0 (`nsec3_iterations`, RFC 9276), a non-empty salt
//! (`nsec3_salt`), SHA-1 among `cds_digest_types` (`ds_digest_sha1`).
//! Algorithms below 8 are never accepted (tldd signs with 8, 13 and 15).
use super::parse_duration;
use serde::Deserialize;
use std::net::SocketAddr;

/// Where keys live.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeystoreKind {
    /// PKCS#8 files in `data_dir` (mode 0600), used through ring.
    #[default]
    Soft,
    /// A PKCS#11 token, configured under `[hsm]`.
    Hsm,
}

/// A policy rule `allow_nonstandard` may lift.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Nonstandard {
    /// NSEC3 iterations other than 0 (RFC 9276 §3.1, RST dnssec-93).
    Nsec3Iterations,
    /// A non-empty NSEC3 salt (RFC 9276 §3.1, RST dnssec-93).
    Nsec3Salt,
    /// DS/CDS digest type 1, SHA-1 (RFC 8624, RST dnssec-92).
    DsDigestSha1,
}

/// `ksk_submission`: `"manual"` (the operator says `tldd keys ds-seen`)
/// or the parent's name servers, polled for the new DS.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(untagged)]
pub enum KskSubmission {
    /// Only `"manual"` is accepted.
    Mode(String),
    /// Addresses (`192.0.2.1`, `192.0.2.1:53`, `[2001:db8::1]:53`).
    Parents(Vec<String>),
}

impl Default for KskSubmission {
    fn default() -> Self {
        KskSubmission::Mode("manual".into())
    }
}

impl KskSubmission {
    /// The parent servers to poll (empty: manual).
    pub fn parents(&self) -> Vec<SocketAddr> {
        match self {
            KskSubmission::Mode(_) => Vec::new(),
            KskSubmission::Parents(v) => v.iter().filter_map(|s| parse_server(s)).collect(),
        }
    }
}

fn parse_server(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(|ip| (ip, 53).into()))
}

/// `[zone.dnssec]`: present => the zone is signed.
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnssecConfig {
    pub keystore: KeystoreKind,
    /// DNSSEC algorithm number: 13 (ECDSA P-256, default), 15 (Ed25519), 8 (RSA/SHA-256).
    #[serde(default = "default_algorithm")]
    pub algorithm: u8,
    #[serde(default = "default_true")]
    pub nsec3_opt_out: bool,
    /// RFC 9276: 0.
    #[serde(default)]
    pub nsec3_iterations: u16,
    /// Hex salt; empty or "-" for none (RFC 9276).
    #[serde(default)]
    pub nsec3_salt: String,
    /// Signature validity, e.g. "14d", "336h", or seconds.
    #[serde(default = "default_validity")]
    pub signature_validity: String,
    /// Re-sign an RRset when its signatures expire within this long
    /// (duration); default a quarter of `signature_validity`.
    pub signature_refresh: Option<String>,
    /// Up to this much is taken off the validity of each signing pass's
    /// signatures, at random, so expirations spread (default 0).
    pub signature_jitter: Option<String>,
    /// TTL of the DNSKEY RRset (duration); default one hour, the value
    /// RFC 7583 rollover timings are usually planned with.
    pub dnskey_ttl: Option<String>,
    /// A ZSK is rolled this long after it started signing ("0": only on
    /// command); default 90 days.
    pub zsk_lifetime: Option<String>,
    /// A KSK is rolled this long after it became active; default "0",
    /// only on command (`tldd keys roll`).
    pub ksk_lifetime: Option<String>,
    /// Time for a change to reach every secondary and anycast node and
    /// leave the caches' view (RFC 7583 "Dprp"); default one hour.
    pub propagation_delay: Option<String>,
    /// Extra wait before a pre-published key is used (RFC 7583 "Ipub"
    /// safety); default one hour.
    pub publish_safety: Option<String>,
    /// Extra wait before a retired key's DNSKEY is removed (RFC 7583
    /// "Iret" safety); default one hour.
    pub retire_safety: Option<String>,
    /// TTL of the DS RRset at the parent (RFC 7583 "TTLds"); default one
    /// day (the root zone's).
    pub parent_ds_ttl: Option<String>,
    /// Digest types of the CDS records published during a KSK roll
    /// (2 SHA-256, 4 SHA-384); default `[2]`.
    #[serde(default = "default_cds_digests")]
    pub cds_digest_types: Vec<u8>,
    /// How the parent's DS for a new KSK is learnt: "manual" (default) or
    /// a list of the parent's name servers to poll.
    #[serde(default)]
    pub ksk_submission: KskSubmission,
    /// Policy rules lifted on purpose (see the module doc).
    #[serde(default)]
    pub allow_nonstandard: Vec<Nonstandard>,
    /// The KSK lives offline (`crate::keys::offline`): this signer holds
    /// ZSKs only and serves the DNSKEY, CDS and CDNSKEY RRsets of an
    /// imported Signed Key Response (`tldd keys import-skr`).
    #[serde(default)]
    pub offline_ksk: bool,
    /// The largest TTL the zone will have, as a Key Signing Request plans
    /// a ZSK's removal with it (default two days; the running signer
    /// still waits for the zone's real largest TTL).
    pub max_zone_ttl: Option<String>,
    /// Alarm (log and `tldd_skr_remaining_seconds`) when the imported
    /// SKR runs out within this long; default 30 days.
    pub skr_warning: Option<String>,
}

impl Default for DnssecConfig {
    /// `keystore = "soft"` and every other key at its documented default.
    fn default() -> Self {
        toml::from_str("keystore = \"soft\"").expect("the defaults parse")
    }
}

/// The key-lifecycle durations of a zone, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollTimings {
    pub zsk_lifetime: u64,
    pub ksk_lifetime: u64,
    pub dnskey_ttl: u64,
    pub propagation_delay: u64,
    pub publish_safety: u64,
    pub retire_safety: u64,
    pub parent_ds_ttl: u64,
    /// `max_zone_ttl` (only an offline-KSK plan uses it).
    pub max_zone_ttl: u64,
}

fn dur(v: &Option<String>, default: u64) -> u64 {
    v.as_deref().and_then(parse_duration).unwrap_or(default)
}

impl DnssecConfig {
    /// Signature validity in seconds (checked by [`super::Config::load`]).
    pub fn validity(&self) -> u32 {
        parse_duration(&self.signature_validity).unwrap_or(14 * 86400) as u32
    }

    /// The refresh window in seconds (checked by [`super::Config::load`]).
    pub fn refresh_window(&self) -> u32 {
        self.signature_refresh
            .as_deref()
            .and_then(parse_duration)
            .map_or(self.validity() / 4, |r| r as u32)
    }

    /// The signature jitter in seconds.
    pub fn jitter(&self) -> u32 {
        dur(&self.signature_jitter, 0) as u32
    }

    /// The DNSKEY TTL in seconds (checked by [`super::Config::load`]).
    pub fn dnskey_ttl(&self) -> u32 {
        dur(&self.dnskey_ttl, 3600) as u32
    }

    /// The key-lifecycle durations.
    pub fn timings(&self) -> RollTimings {
        RollTimings {
            zsk_lifetime: dur(&self.zsk_lifetime, 90 * 86400),
            ksk_lifetime: dur(&self.ksk_lifetime, 0),
            dnskey_ttl: u64::from(self.dnskey_ttl()),
            propagation_delay: dur(&self.propagation_delay, 3600),
            publish_safety: dur(&self.publish_safety, 3600),
            retire_safety: dur(&self.retire_safety, 3600),
            parent_ds_ttl: dur(&self.parent_ds_ttl, 86400),
            max_zone_ttl: dur(&self.max_zone_ttl, 2 * 86400),
        }
    }

    /// `skr_warning` in seconds.
    pub fn skr_warning(&self) -> u64 {
        dur(&self.skr_warning, 30 * 86400)
    }

    /// Whether `rule` was lifted by `allow_nonstandard`.
    pub fn allows(&self, rule: Nonstandard) -> bool {
        self.allow_nonstandard.contains(&rule)
    }

    /// Checks what serde cannot: `Err((line, key, message))`, the line
    /// found by `line_of(key name)`.
    pub(super) fn validate(
        &self,
        line_of: &dyn Fn(&str) -> usize,
        have_hsm: bool,
    ) -> Result<(), (usize, String, String)> {
        let err = |k: &str, m: String| Err((line_of(k), format!("zone.dnssec.{k}"), m));
        if !matches!(self.algorithm, 8 | 13 | 15) {
            return err(
                "algorithm",
                format!(
                    "unsupported algorithm {} (8, 13, 15; RST dnssec-91 refuses anything below 8)",
                    self.algorithm
                ),
            );
        }
        let validity = match parse_duration(&self.signature_validity) {
            Some(v) if (3600..1 << 31).contains(&v) => v,
            _ => {
                return err(
                    "signature_validity",
                    format!(
                        "{:?} is not a duration between 1h and 68 years",
                        self.signature_validity
                    ),
                )
            }
        };
        if let Some(r) = &self.signature_refresh {
            if !parse_duration(r).is_some_and(|r| r > 0 && r < validity) {
                return err(
                    "signature_refresh",
                    format!("{r:?}: must be a duration shorter than signature_validity"),
                );
            }
        }
        let refresh = u64::from(self.refresh_window());
        for (k, v) in [
            ("dnskey_ttl", &self.dnskey_ttl),
            ("zsk_lifetime", &self.zsk_lifetime),
            ("ksk_lifetime", &self.ksk_lifetime),
            ("propagation_delay", &self.propagation_delay),
            ("publish_safety", &self.publish_safety),
            ("retire_safety", &self.retire_safety),
            ("parent_ds_ttl", &self.parent_ds_ttl),
            ("signature_jitter", &self.signature_jitter),
            ("max_zone_ttl", &self.max_zone_ttl),
            ("skr_warning", &self.skr_warning),
        ] {
            if let Some(t) = v {
                if parse_duration(t).is_none_or(|t| t >= 1 << 31) {
                    return err(k, format!("{t:?} is not a duration below 68 years"));
                }
            }
        }
        if u64::from(self.jitter()) >= validity.saturating_sub(refresh) {
            return err(
                "signature_jitter",
                "must be shorter than signature_validity minus signature_refresh".into(),
            );
        }
        let t = self.timings();
        let roll = t.dnskey_ttl + t.propagation_delay + t.publish_safety;
        for (k, life) in [
            ("zsk_lifetime", t.zsk_lifetime),
            ("ksk_lifetime", t.ksk_lifetime),
        ] {
            if life != 0 && life <= roll {
                return err(
                    k,
                    format!(
                        "{life}s is not longer than a roll's pre-publication \
                         (dnskey_ttl + propagation_delay + publish_safety = {roll}s); \
                         use \"0\" to roll only on command"
                    ),
                );
            }
        }
        if self.cds_digest_types.is_empty() {
            return err("cds_digest_types", "needs at least one digest type".into());
        }
        for &d in &self.cds_digest_types {
            match d {
                2 | 4 => {}
                1 if self.allows(Nonstandard::DsDigestSha1) => {}
                1 => {
                    return err(
                        "cds_digest_types",
                        "digest type 1 (SHA-1) is refused (RST dnssec-92, RFC 8624); \
                         allow_nonstandard = [\"ds_digest_sha1\"] to use it anyway"
                            .into(),
                    )
                }
                d => {
                    return err(
                        "cds_digest_types",
                        format!("unknown digest type {d} (2, 4)"),
                    )
                }
            }
        }
        match &self.ksk_submission {
            KskSubmission::Mode(m) if m == "manual" => {}
            KskSubmission::Mode(m) => {
                return err(
                    "ksk_submission",
                    format!("{m:?}: \"manual\" or a list of parent name server addresses"),
                )
            }
            KskSubmission::Parents(v) => {
                if v.is_empty() {
                    return err("ksk_submission", "an empty list; use \"manual\"".into());
                }
                if let Some(bad) = v.iter().find(|s| parse_server(s).is_none()) {
                    return err(
                        "ksk_submission",
                        format!("{bad:?} is not an address or address:port"),
                    );
                }
            }
        }
        if self.nsec3_iterations != 0 && !self.allows(Nonstandard::Nsec3Iterations) {
            return err(
                "nsec3_iterations",
                format!(
                    "{} iterations: RFC 9276 and RST dnssec-93 require 0; \
                     allow_nonstandard = [\"nsec3_iterations\"] to use it anyway",
                    self.nsec3_iterations
                ),
            );
        }
        let salt = self.nsec3_salt.trim();
        if !(salt.is_empty() || salt == "-") {
            if hex::decode(salt).is_err() {
                return err("nsec3_salt", "must be hex, empty or \"-\"".into());
            }
            if !self.allows(Nonstandard::Nsec3Salt) {
                return err(
                    "nsec3_salt",
                    "a salt: RFC 9276 and RST dnssec-93 require none; \
                     allow_nonstandard = [\"nsec3_salt\"] to use it anyway"
                        .into(),
                );
            }
        }
        if self.keystore == KeystoreKind::Hsm && !have_hsm {
            return err(
                "keystore",
                "keystore = \"hsm\" needs an [hsm] section".into(),
            );
        }
        Ok(())
    }
}

fn default_algorithm() -> u8 {
    13
}
fn default_true() -> bool {
    true
}
fn default_validity() -> String {
    "14d".into()
}
fn default_cds_digests() -> Vec<u8> {
    vec![2]
}
