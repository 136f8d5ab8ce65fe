//! Registrar accounts: creation and changes (`tldd srs registrar ...`),
//! password hashing (argon2id, PHC strings; the clear password is never
//! stored or logged), certificate fingerprints and source networks.
//!
//! Fingerprints are SHA-256 of the client certificate's DER, accepted as
//! hex with or without colons, in any case (`openssl x509 -fingerprint
//! -sha256` output works as is), stored as lower-case hex.
use crate::clock::Ts;
use crate::db::{Store, StoreError};
use crate::model::{LedgerKind, Registrar};
use crate::names;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(pw: &str) -> anyhow::Result<String> {
    check_password(pw)?;
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// RFC 5730 pwType is 6-16 characters.
pub fn check_password(pw: &str) -> anyhow::Result<()> {
    if pw.len() < 6 || pw.len() > 16 {
        anyhow::bail!("EPP passwords must be 6 to 16 characters (RFC 5730 pwType)");
    }
    Ok(())
}

pub fn verify_password(hash: &str, pw: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Normalises a SHA-256 fingerprint to 64 lower-case hex digits.
pub fn normalize_fingerprint(fp: &str) -> anyhow::Result<String> {
    let hex: String = fp
        .trim()
        .trim_start_matches("sha256 Fingerprint=")
        .trim_start_matches("SHA256 Fingerprint=")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("{fp:?} is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
    }
    Ok(hex)
}

pub fn network_allowed(r: &Registrar, ip: IpAddr) -> bool {
    r.networks.is_empty()
        || r.networks.iter().any(|n| {
            n.parse::<ipnet::IpNet>().is_ok_and(|net| net.contains(&ip))
                || n.parse::<IpAddr>().is_ok_and(|a| a == ip)
        })
}

fn check_networks(n: &[String]) -> anyhow::Result<()> {
    for x in n {
        if x.parse::<ipnet::IpNet>().is_err() && x.parse::<IpAddr>().is_err() {
            anyhow::bail!("{x:?} is not a network (CIDR such as 192.0.2.0/24) or address");
        }
    }
    Ok(())
}

/// Everything `registrar add` and `registrar update` can set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegistrarSpec {
    pub id: String,
    pub name: Option<String>,
    pub iana_id: Option<u32>,
    pub password: Option<String>,
    /// Replaces the list when given (add); appended on update.
    pub cert_sha256: Vec<String>,
    pub remove_cert_sha256: Vec<String>,
    pub networks: Option<Vec<String>>,
    pub credit_limit: Option<i64>,
    pub unlimited_credit: bool,
    /// Funds added (ledger `Payment`).
    pub add_funds: Option<i64>,
    pub max_connections: Option<u32>,
    pub url: Option<String>,
    pub whois_server: Option<String>,
    pub abuse_email: Option<String>,
    pub abuse_phone: Option<String>,
    #[serde(default)]
    pub rdap_url: Option<String>,
    /// The registrar's own address lines (replace the old ones when given).
    #[serde(default)]
    pub street: Option<Vec<String>>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub fax: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

fn apply(r: &mut Registrar, s: &RegistrarSpec, now: Ts) -> anyhow::Result<()> {
    check_published(s)?;
    if let Some(n) = &s.name {
        r.name = n.clone();
    }
    if let Some(i) = s.iana_id {
        r.iana_id = i;
    }
    if let Some(pw) = &s.password {
        r.password_hash = hash_password(pw)?;
    }
    for fp in &s.cert_sha256 {
        let fp = normalize_fingerprint(fp)?;
        if !r.cert_sha256.contains(&fp) {
            r.cert_sha256.push(fp);
        }
    }
    for fp in &s.remove_cert_sha256 {
        let fp = normalize_fingerprint(fp)?;
        r.cert_sha256.retain(|x| *x != fp);
    }
    if let Some(n) = &s.networks {
        check_networks(n)?;
        r.networks = n.clone();
    }
    if s.unlimited_credit {
        r.credit_limit = None;
    } else if let Some(c) = s.credit_limit {
        if c < 0 {
            anyhow::bail!("credit limit must not be negative");
        }
        r.credit_limit = Some(c);
    }
    if let Some(m) = s.max_connections {
        r.max_connections = Some(m);
    }
    let country = s.country.as_ref().map(|v| v.to_ascii_uppercase());
    let c = &mut r.contact;
    for (dst, src) in [
        (&mut r.url, &s.url),
        (&mut r.whois_server, &s.whois_server),
        (&mut r.abuse_email, &s.abuse_email),
        (&mut r.abuse_phone, &s.abuse_phone),
        (&mut r.rdap_url, &s.rdap_url),
        (&mut c.city, &s.city),
        (&mut c.sp, &s.state),
        (&mut c.pc, &s.postal_code),
        (&mut c.cc, &country),
        (&mut c.phone, &s.phone),
        (&mut c.fax, &s.fax),
        (&mut c.email, &s.email),
    ] {
        if let Some(v) = src {
            *dst = if v.is_empty() { None } else { Some(v.clone()) };
        }
    }
    if let Some(lines) = &s.street {
        c.street = lines.iter().filter(|l| !l.is_empty()).cloned().collect();
    }
    r.updated = now;
    Ok(())
}

/// Refuses malformed values of the fields Whois and RDAP publish (an empty
/// value clears a field): URLs must be absolute http(s) URLs (the RDAP base
/// URL https, ICANN TIG 1.2), the Whois server a host name, emails
/// addresses, phones in the EPP form `+CC.NUMBER` (RFC 5733), the country
/// a two-letter code, address lines short text without control characters.
fn check_published(s: &RegistrarSpec) -> anyhow::Result<()> {
    if let Some(u) = given(&s.url) {
        check_url(u, &["http", "https"]).map_err(|e| anyhow::anyhow!("--url {u:?}: {e}"))?;
    }
    if let Some(u) = given(&s.rdap_url) {
        check_url(u, &["https"]).map_err(|e| anyhow::anyhow!("--rdap-url {u:?}: {e}"))?;
    }
    if let Some(h) = given(&s.whois_server) {
        if !is_host_name(h) {
            anyhow::bail!("--whois-server {h:?}: not a host name (e.g. whois.example.com)");
        }
    }
    for (flag, v) in [("--abuse-email", &s.abuse_email), ("--email", &s.email)] {
        if let Some(e) = given(v) {
            if !names::is_email(e) {
                anyhow::bail!("{flag} {e:?}: not an email address (e.g. abuse@example.com)");
            }
        }
    }
    for (flag, v) in [
        ("--abuse-phone", &s.abuse_phone),
        ("--phone", &s.phone),
        ("--fax", &s.fax),
    ] {
        if let Some(p) = given(v) {
            if !names::is_epp_phone(p) {
                anyhow::bail!("{flag} {p:?}: use the EPP form +CC.NUMBER (e.g. +1.5555550100)");
            }
        }
    }
    if let Some(cc) = given(&s.country) {
        if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
            anyhow::bail!("--country {cc:?}: use the two-letter ISO 3166 code (e.g. US)");
        }
    }
    let lines = s.street.as_deref().unwrap_or_default();
    if lines.len() > 3 {
        anyhow::bail!("--street: at most 3 lines");
    }
    let others = [
        ("--city", &s.city),
        ("--state", &s.state),
        ("--postal-code", &s.postal_code),
    ];
    let texts = lines.iter().map(|l| ("--street", l.as_str())).chain(
        others
            .into_iter()
            .filter_map(|(flag, v)| Some((flag, given(v)?))),
    );
    for (flag, t) in texts {
        if t.len() > 255 || t.chars().any(char::is_control) {
            anyhow::bail!("{flag} {t:?}: at most 255 characters, no control characters");
        }
    }
    Ok(())
}

/// A value given and not empty (empty clears the field).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

fn check_url(u: &str, schemes: &[&str]) -> Result<(), String> {
    let url = url::Url::parse(u).map_err(|e| e.to_string())?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!("the scheme must be {}", schemes.join(" or ")));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    Ok(())
}

/// A host name by the registry's own rules (LDH labels, valid A-labels).
fn is_host_name(h: &str) -> bool {
    names::check_host_name(&names::canonical(h)).is_ok()
}

/// Creates a registrar; fails if the ID exists.
pub fn add(store: &Store, s: &RegistrarSpec) -> anyhow::Result<Registrar> {
    names::check_handle(&s.id).map_err(|e| anyhow::anyhow!("--id: {}", e.reason))?;
    let name = s
        .name
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--name is required"))?;
    let iana_id = s
        .iana_id
        .ok_or_else(|| anyhow::anyhow!("--iana-id is required"))?;
    let pw = s
        .password
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("--password is required"))?;
    if s.cert_sha256.is_empty() {
        anyhow::bail!("--cert-sha256 is required (registrars log in with a client certificate)");
    }
    let now = store.clock.now();
    let mut r = Registrar {
        id: s.id.clone(),
        name,
        iana_id,
        password_hash: hash_password(pw)?,
        cert_sha256: vec![],
        networks: vec![],
        credit_limit: None,
        balance: 0,
        max_connections: None,
        url: None,
        whois_server: None,
        abuse_email: None,
        abuse_phone: None,
        rdap_url: None,
        contact: Default::default(),
        created: now,
        updated: now,
    };
    let mut spec = s.clone();
    spec.password = None;
    apply(&mut r, &spec, now)?;
    store.write(|t| -> anyhow::Result<()> {
        if t.registrar(&r.id)?.is_some() {
            anyhow::bail!("registrar {:?} exists (use `registrar update`)", r.id);
        }
        t.put_registrar(&r);
        if let Some(f) = s.add_funds {
            t.ledger(now, &r.id, LedgerKind::Payment, &r.id, 0, -f)?;
        }
        Ok(())
    })?;
    Ok(store.get_registrar(&r.id)?.unwrap_or(r))
}

/// Changes a registrar.
pub fn update(store: &Store, s: &RegistrarSpec) -> anyhow::Result<Registrar> {
    let now = store.clock.now();
    store.write(|t| -> anyhow::Result<Registrar> {
        let mut r = t
            .registrar(&s.id)?
            .ok_or_else(|| anyhow::anyhow!("no registrar {:?}", s.id))?;
        apply(&mut r, s, now)?;
        if r.cert_sha256.is_empty() {
            anyhow::bail!("a registrar needs at least one certificate fingerprint");
        }
        t.put_registrar(&r);
        if let Some(f) = s.add_funds {
            t.ledger(now, &r.id, LedgerKind::Payment, &r.id, 0, -f)?;
        }
        Ok(t.registrar(&s.id)?.unwrap_or(r))
    })
}

/// Sets a new password (EPP `<newPW>`).
pub fn set_password(store: &Store, id: &str, pw: &str) -> anyhow::Result<()> {
    let hash = hash_password(pw)?;
    store.write(|t| -> Result<(), StoreError> {
        if let Some(mut r) = t.registrar(id)? {
            r.password_hash = hash.clone();
            t.put_registrar(&r);
        }
        Ok(())
    })?;
    Ok(())
}

/// One line per registrar for `registrar list`.
pub fn describe(r: &Registrar) -> String {
    format!(
        "{}\t{}\tiana={}\tbalance={}\tcredit_limit={}\tcerts={}\tnetworks={}\tmax_connections={}",
        r.id,
        r.name,
        r.iana_id,
        r.balance,
        r.credit_limit
            .map(|c| c.to_string())
            .unwrap_or_else(|| "unlimited".into()),
        r.cert_sha256.join(","),
        if r.networks.is_empty() {
            "any".to_string()
        } else {
            r.networks.join(",")
        },
        r.max_connections
            .map(|c| c.to_string())
            .unwrap_or_else(|| "default".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_fingerprints() {
        let h = hash_password("secret123").unwrap();
        assert!(h.starts_with("$argon2"));
        assert!(verify_password(&h, "secret123"));
        assert!(!verify_password(&h, "secret124"));
        assert!(!verify_password("garbage", "secret123"));
        assert!(hash_password("abc").is_err());
        let fp = "AB:".repeat(31) + "AB";
        assert_eq!(normalize_fingerprint(&fp).unwrap(), "ab".repeat(32));
        assert!(normalize_fingerprint("abcd").is_err());
    }

    #[test]
    fn networks() {
        let mut r = Registrar {
            id: "r".into(),
            name: "r".into(),
            iana_id: 1,
            password_hash: String::new(),
            cert_sha256: vec![],
            networks: vec![],
            credit_limit: None,
            balance: 0,
            max_connections: None,
            url: None,
            whois_server: None,
            abuse_email: None,
            abuse_phone: None,
            rdap_url: None,
            contact: Default::default(),
            created: 0,
            updated: 0,
        };
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(network_allowed(&r, ip));
        r.networks = vec!["198.51.100.0/24".into()];
        assert!(!network_allowed(&r, ip));
        r.networks.push("192.0.2.0/24".into());
        assert!(network_allowed(&r, ip));
        assert!(check_networks(&["nope".into()]).is_err());
    }
}
