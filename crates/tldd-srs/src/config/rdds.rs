//! `[srs.whois]`: the settings of the registration data services (Whois on
//! port 43 and RDAP), read with `deny_unknown_fields` so a typo is an error
//! naming the key and its line.
//!
//! Abuse protection follows the .shop gTLD application, question 26 section
//! 3.4: a per-address limit (default 60 queries a minute, counted per IPv4
//! address and per IPv6 /64), the same kind of limit per subnet (IPv4 /24,
//! IPv6 /48), an allow-list of networks that bypass every limit, and
//! offenders blocked for exponentially growing periods. Connection limits,
//! read/write timeouts and a maximum query length bound what one client can
//! hold. Every limit is exported on `/metrics` as
//! `tldd_srs_rdds_limit{name=...}` so operators see what is in force.
//!
//! Presentation settings: whether contact data is redacted (the ICANN
//! Registration Data Policy; `redact = false` publishes everything, as the
//! 2012 application's "no proxy" policy intended), the legal terms printed
//! after every answer and linked from RDAP, and the public RDAP base URL
//! used in links, and what replaces a redacted contact e-mail
//! (`contact_email_replacement`, `contact_form_url`).
//!
//! Limits: the allow-list is static (reloaded on restart); limiter state is
//! in memory and per process (several Whois nodes each count on their own).
use ipnet::IpNet;
use serde::Deserialize;

/// `[srs.whois]`; every key is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhoisConfig {
    /// Queries per minute per IPv4 address / IPv6 /64 (0: no limit).
    pub rate_limit: u32,
    /// Queries per minute per IPv4 /24 (0: no limit).
    pub subnet_rate_limit_v4: u32,
    /// Queries per minute per IPv6 /48 (0: no limit).
    pub subnet_rate_limit_v6: u32,
    /// Networks (CIDR) or addresses never limited.
    pub allow: Vec<String>,
    /// Seconds the first offence blocks a client (or subnet).
    pub block_initial: u64,
    /// Longest block, seconds; each further offence doubles the block.
    pub block_max: u64,
    /// Seconds without an offence after which the doubling starts over.
    pub block_forget: u64,
    /// Seconds a client has to send its query line.
    pub read_timeout: u64,
    /// Seconds allowed to send the answer.
    pub write_timeout: u64,
    /// Longest query line, in bytes (CRLF excluded).
    pub max_query_length: usize,
    /// Whois connections open at once.
    pub max_connections: usize,
    /// Whois connections open at once from one address.
    pub max_connections_per_ip: usize,
    /// Apply the same per-address/subnet limits to RDAP (HTTP 429).
    pub limit_rdap: bool,
    /// Clients (addresses and subnets) tracked by each limiter at most.
    pub max_tracked: usize,
    /// Threads serving Whois and RDAP, each with its own socket per
    /// service (0: one per core); see [`crate::rdds::workers`].
    pub threads: usize,
    /// Rendered domain answers kept per service (0: no cache); see
    /// [`crate::rdds::cache`].
    pub cache_entries: usize,
    /// Redact personal data of contacts ("REDACTED FOR PRIVACY", RFC 9537).
    pub redact: bool,
    /// Legal terms printed after every Whois answer (default: built in).
    pub terms: Option<String>,
    /// Web page with the terms of use (RDAP "Terms of Service" notice link).
    pub terms_url: Option<String>,
    /// Public RDAP base URL for links, e.g. `"https://rdap.nic.shop/"`
    /// (default: http(s)://<rdap_listen>/).
    pub rdap_base_url: Option<String>,
    /// Whois host name RDAP gives in `port43` (default `"whois.nic.<tld>"`).
    pub port43_host: Option<String>,
    /// An e-mail address (e.g. a relay) published instead of a redacted
    /// registrant or technical e-mail: Whois `... Email:` and the RDAP
    /// vCard `email` (RFC 9537 `replacementValue`). Wins over
    /// `contact_form_url`.
    pub contact_email_replacement: Option<String>,
    /// A web form for writing to a contact whose e-mail is redacted: Whois
    /// `... Email:` prints the URL, RDAP has it as vCard `contact-uri`.
    /// With neither key set, Whois points to the registrar of record and
    /// RDAP's `contact-uri` is the registrar's RDAP answer for the domain.
    pub contact_form_url: Option<String>,
}

impl Default for WhoisConfig {
    fn default() -> Self {
        WhoisConfig {
            rate_limit: 60,
            subnet_rate_limit_v4: 600,
            subnet_rate_limit_v6: 600,
            allow: vec![],
            block_initial: 60,
            block_max: 86_400,
            block_forget: 86_400,
            read_timeout: 10,
            write_timeout: 30,
            max_query_length: 256,
            max_connections: 1024,
            max_connections_per_ip: 16,
            limit_rdap: true,
            max_tracked: 200_000,
            threads: 0,
            cache_entries: 10_000,
            redact: true,
            terms: None,
            terms_url: None,
            rdap_base_url: None,
            port43_host: None,
            contact_email_replacement: None,
            contact_form_url: None,
        }
    }
}

impl WhoisConfig {
    /// Checks values serde cannot; returns the parsed allow-list.
    pub fn check(&self) -> Result<Vec<IpNet>, String> {
        let mut nets = Vec::new();
        for a in &self.allow {
            let net = a
                .parse::<IpNet>()
                .or_else(|_| a.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("`srs.whois.allow`: {a:?} is not a network (CIDR) or address")
                })?;
            nets.push(net);
        }
        const YEAR: u64 = 366 * 86_400;
        if self.block_initial == 0 || self.block_max < self.block_initial || self.block_max > YEAR {
            return Err(
                "`srs.whois`: need 1 <= block_initial <= block_max <= 31622400 (a year)".into(),
            );
        }
        if self.block_forget > YEAR {
            return Err("`srs.whois.block_forget` must be at most a year (31622400)".into());
        }
        if !(1..=3600).contains(&self.read_timeout) || !(1..=3600).contains(&self.write_timeout) {
            return Err("`srs.whois`: read_timeout and write_timeout must be 1 to 3600".into());
        }
        if !(16..=4096).contains(&self.max_query_length) {
            return Err("`srs.whois.max_query_length` must be 16 to 4096".into());
        }
        if self.max_connections == 0 || self.max_connections_per_ip == 0 {
            return Err(
                "`srs.whois`: max_connections and max_connections_per_ip must be at least 1".into(),
            );
        }
        if self.cache_entries > 10_000_000 {
            return Err("`srs.whois.cache_entries` must be at most 10000000".into());
        }
        if self.max_tracked < 16 {
            return Err("`srs.whois.max_tracked` must be at least 16".into());
        }
        if let Some(u) = &self.rdap_base_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err("`srs.whois.rdap_base_url` must start with http:// or https://".into());
            }
        }
        if let Some(e) = &self.contact_email_replacement {
            let ok = e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            });
            if !ok || e.chars().any(|c| c.is_whitespace() || c.is_control()) || e.len() > 254 {
                return Err(format!(
                    "`srs.whois.contact_email_replacement`: {e:?} is not an e-mail address"
                ));
            }
        }
        if let Some(u) = &self.contact_form_url {
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
                || u.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(format!(
                    "`srs.whois.contact_form_url`: {u:?} is not an http(s) URL"
                ));
            }
        }
        Ok(nets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_application() {
        let c = WhoisConfig::default();
        assert_eq!(c.rate_limit, 60);
        assert!(c.check().unwrap().is_empty());
    }

    #[test]
    fn allow_list_parses_and_rejects_garbage() {
        let c = WhoisConfig {
            allow: vec!["192.0.2.0/24".into(), "2001:db8::1".into()],
            ..Default::default()
        };
        assert_eq!(c.check().unwrap().len(), 2);
        let c = WhoisConfig {
            allow: vec!["nope".into()],
            ..Default::default()
        };
        assert!(c.check().unwrap_err().contains("nope"));
    }

    #[test]
    fn out_of_range_values_rejected() {
        for c in [
            WhoisConfig {
                block_max: u64::MAX,
                ..Default::default()
            },
            WhoisConfig {
                block_initial: 0,
                ..Default::default()
            },
            WhoisConfig {
                read_timeout: u64::MAX,
                ..Default::default()
            },
            WhoisConfig {
                max_query_length: 1,
                ..Default::default()
            },
            WhoisConfig {
                max_connections: 0,
                ..Default::default()
            },
            WhoisConfig {
                rdap_base_url: Some("ftp://x/".into()),
                ..Default::default()
            },
            WhoisConfig {
                contact_email_replacement: Some("no-at-sign".into()),
                ..Default::default()
            },
            WhoisConfig {
                contact_email_replacement: Some("a b@nic.shop".into()),
                ..Default::default()
            },
            WhoisConfig {
                contact_form_url: Some("mailto:x@nic.shop".into()),
                ..Default::default()
            },
            WhoisConfig {
                contact_form_url: Some("https://".into()),
                ..Default::default()
            },
        ] {
            assert!(c.check().is_err(), "{c:?}");
        }
    }

    #[test]
    fn contact_replacements_accepted() {
        let c = WhoisConfig {
            contact_email_replacement: Some("relay@nic.shop".into()),
            contact_form_url: Some("https://nic.shop/contact".into()),
            ..Default::default()
        };
        assert!(c.check().is_ok());
    }

    #[test]
    fn unknown_key_rejected() {
        let e = toml::from_str::<WhoisConfig>("rate_limit = 5\nratelimit = 3\n").unwrap_err();
        assert!(e.to_string().contains("ratelimit"), "{e}");
    }
}
