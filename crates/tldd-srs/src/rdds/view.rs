//! What Whois and RDAP show, computed once from the live SRS store: query
//! names normalised (U-label or A-label in, A-label out), a domain with its
//! registrar, contacts and status values, the redaction decisions, and the
//! fixed texts both services print.
//!
//! Freshness: every lookup reads the sled store directly (the same committed
//! state EPP answers from), so a change is visible as soon as its EPP reply
//! has gone out. The answer cache ([`crate::rdds::cache`]) keeps that
//! true: it reuses an answer only while the records it was made from
//! ([`Deps`]) still hold the same bytes.
//!
//! Redaction (`[srs.whois] redact`, default on) follows the ICANN
//! Registration Data Policy as registries apply it: the contact's handle,
//! name, street, city, postal code, phone, fax and e-mail are withheld;
//! organisation, state/province and country are shown. A contact whose EPP
//! `<contact:disclose flag="1">` lists a field has consented to publishing
//! it, and that field is shown.
//!
//! Limits: the registrar's postal address and contacts other than abuse are
//! not in the SRS model, so registrar answers show name, IANA ID, URLs and
//! the abuse contact only.
use crate::clock::Ts;
use crate::db::{SResult, Store, StoreError};
use crate::model::decode;
use crate::model::{Contact, ContactType, Domain, Host, PostalInfo, Registrar};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Shown instead of a redacted value (RA Specification 4 as amended).
pub const REDACTED: &str = "REDACTED FOR PRIVACY";
/// Shown instead of a redacted e-mail address when the registry has no
/// relay address or web form of its own (Whois `Registrant Email`, the
/// RDAP contact's `remarks`).
pub const EMAIL_REDIRECT: &str = "Please query the RDDS service of the Registrar of Record identified in this output for information on how to contact the Registrant, Admin, or Tech contact of the queried domain name.";

/// What replaces a redacted contact e-mail, in Whois and RDAP alike
/// (Registration Data Policy: an e-mail address or a web form that
/// facilitates e-mail communication with the contact; RDAP profile 2024
/// 2.7.4.9 / 2.7.6.3: vCard `email` with the replacement, or
/// `contact-uri` to the form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactPoint<'a> {
    /// `[srs.whois] contact_email_replacement`: Whois prints it, RDAP has
    /// it as the `email` value.
    Email(&'a str),
    /// `[srs.whois] contact_form_url`: Whois prints the URL, RDAP has it
    /// as `contact-uri`.
    Form(&'a str),
    /// Neither set: Whois prints [`EMAIL_REDIRECT`], RDAP gives the same
    /// text as a remark and, as `contact-uri`, the registrar of record's
    /// RDAP answer for the domain (else its web site, else its entity here).
    Registrar,
}

impl<'a> ContactPoint<'a> {
    pub fn new(email: Option<&'a str>, form: Option<&'a str>) -> ContactPoint<'a> {
        match (email, form) {
            (Some(e), _) => ContactPoint::Email(e),
            (None, Some(u)) => ContactPoint::Form(u),
            (None, None) => ContactPoint::Registrar,
        }
    }

    /// The Whois `... Email:` value.
    pub fn whois(&self) -> &'a str {
        match *self {
            ContactPoint::Email(e) => e,
            ContactPoint::Form(u) => u,
            ContactPoint::Registrar => EMAIL_REDIRECT,
        }
    }
}

/// A phone number as an RFC 3966 `tel:` URI: the EPP form `+CC.NUMBER`
/// (RFC 5733) becomes `tel:+CC-NUMBER`, an extension `;ext=X`. The `.` of
/// the EPP form is written `-`, the separator every validator accepts.
/// None when the number is not a global number (no `+`, no digits after
/// the country code, characters other than digits and separators).
pub fn tel_uri(number: &str, ext: Option<&str>) -> Option<String> {
    let n = number.trim();
    let rest = n.strip_prefix('+')?;
    let (cc, national) = rest.split_once('.').unwrap_or(("", rest));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let sep = |b: u8| matches!(b, b'-' | b'.' | b'(' | b')' | b' ');
    if !national.bytes().any(|b| b.is_ascii_digit())
        || !national.bytes().all(|b| b.is_ascii_digit() || sep(b))
        || !(cc.is_empty() || digits(cc))
    {
        return None;
    }
    let national: String = national
        .bytes()
        .map(|b| if sep(b) { '-' } else { b as char })
        .collect();
    let mut out = String::with_capacity(n.len() + 16);
    out.push_str("tel:+");
    if !cc.is_empty() {
        out.push_str(cc);
        out.push('-');
    }
    out.push_str(national.trim_matches('-'));
    if let Some(x) = ext.map(str::trim).filter(|x| !x.is_empty()) {
        if !digits(x) {
            return None;
        }
        out.push_str(";ext=");
        out.push_str(x);
    }
    Some(out)
}
pub const WICF_URL: &str = "https://icann.org/wicf";
pub const EPP_STATUS_URL: &str = "https://icann.org/epp";

/// A query name, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct QName {
    /// A-labels, lower case, no trailing dot.
    pub ascii: String,
    /// The U-label form when the name has IDN labels.
    pub unicode: Option<String>,
}

/// Normalises a name given in U-label or A-label form (UTS 46 mapping,
/// IDNA2008 validity, LDH rules); `Err` says why the name is not one.
pub fn normalize_name(input: &str) -> Result<QName, String> {
    let s = input.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err("empty name".into());
    }
    if s.len() > 253 * 4 {
        return Err("name too long".into());
    }
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("name contains spaces or control characters".into());
    }
    let ascii = idna::domain_to_ascii_strict(s)
        .or_else(|_| idna::domain_to_ascii(s))
        .map_err(|_| format!("{s:?} is not a valid domain name"))?
        .to_ascii_lowercase();
    if ascii.is_empty() || ascii.len() > 253 {
        return Err(format!("{s:?} is not a valid domain name"));
    }
    for label in ascii.split('.') {
        crate::names::check_label(label).map_err(|e| e.reason)?;
    }
    let unicode = if ascii.split('.').any(|l| l.starts_with("xn--")) {
        let (u, r) = idna::domain_to_unicode(&ascii);
        r.ok().map(|_| u)
    } else {
        None
    };
    Ok(QName { ascii, unicode })
}

/// RFC 3339 UTC without fractions, as Spec 4 and the RDAP profile show.
pub fn time(ts: Ts) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "9999-12-31T23:59:59Z".into())
}

/// A domain and everything its answers need.
#[derive(Debug, Clone)]
pub struct DomainView {
    pub domain: Domain,
    pub unicode: Option<String>,
    pub registrar: Option<Registrar>,
    pub registrant: Option<Contact>,
    pub admin: Option<Contact>,
    pub tech: Option<Contact>,
    /// EPP status values, then RFC 3915 grace/redemption values.
    pub statuses: Vec<String>,
    pub now: Ts,
}

/// The committed records an answer was made from, as (key, raw value):
/// the answer is current while every key still holds the same bytes.
pub type Deps = Vec<(Vec<u8>, Option<sled::IVec>)>;

impl DomainView {
    pub fn load(store: &Store, name: &QName) -> SResult<Option<DomainView>> {
        Ok(Self::load_with_deps(store, name)?.map(|(v, _)| v))
    }

    /// Loads the domain, its registrar and contacts, and says which records
    /// they came from (for [`crate::rdds::cache`]).
    pub fn load_with_deps(store: &Store, name: &QName) -> SResult<Option<(DomainView, Deps)>> {
        let mut deps: Deps = Vec::with_capacity(5);
        let mut fetch = |key: String| -> SResult<Option<sled::IVec>> {
            let v = store.raw(key.as_bytes())?;
            deps.push((key.into_bytes(), v.clone()));
            Ok(v)
        };
        let Some(raw) = fetch(format!("dom/{}", name.ascii))? else {
            return Ok(None);
        };
        let d: Domain = decode("domain", &raw).map_err(StoreError)?;
        let now = store.clock.now();
        let mut contact = |id: Option<&String>| -> SResult<Option<Contact>> {
            let Some(id) = id else { return Ok(None) };
            match fetch(format!("con/{id}"))? {
                Some(v) => decode("contact", &v).map(Some).map_err(StoreError),
                None => Ok(None),
            }
        };
        let role = |role: ContactType| {
            d.contacts
                .iter()
                .find(|(t, _)| *t == role)
                .map(|(_, id)| id)
        };
        let registrant = contact(d.registrant.as_ref())?;
        let admin = contact(role(ContactType::Admin))?;
        let tech = contact(role(ContactType::Tech))?;
        let registrar = match fetch(format!("reg/{}", d.cl_id))? {
            Some(v) => Some(decode("registrar", &v).map_err(StoreError)?),
            None => None,
        };
        let mut statuses = d.epp_statuses();
        for s in d.rgp_statuses(now) {
            if !statuses.iter().any(|x| x == s) {
                statuses.push(s.to_string());
            }
        }
        let view = DomainView {
            registrar,
            registrant,
            admin,
            tech,
            unicode: name.unicode.clone(),
            statuses,
            domain: d,
            now,
        };
        Ok(Some((view, deps)))
    }

    /// The first second at which the answer changes without a store write
    /// (a grace period ending changes the status list), or `Ts::MAX`.
    pub fn stable_until(&self) -> Ts {
        self.domain
            .grace
            .iter()
            .map(|g| g.until)
            .filter(|&u| u > self.now)
            .min()
            .unwrap_or(Ts::MAX)
    }

    /// The date of the last change (update, else transfer, else creation).
    pub fn updated(&self) -> Ts {
        let d = &self.domain;
        d.up_date
            .into_iter()
            .chain(d.tr_date)
            .max()
            .unwrap_or(d.cr_date)
    }
}

/// A host and its sponsoring registrar.
#[derive(Debug, Clone)]
pub struct HostView {
    pub host: Host,
    pub unicode: Option<String>,
    pub registrar: Option<Registrar>,
    pub linked: bool,
    pub now: Ts,
}

impl HostView {
    pub fn load(store: &Store, name: &QName) -> SResult<Option<HostView>> {
        let r = store.read();
        let Some(h) = r.host(&name.ascii)? else {
            return Ok(None);
        };
        Ok(Some(HostView {
            registrar: r.registrar(&h.cl_id)?,
            linked: !r.host_links(&h.name)?.is_empty(),
            unicode: name.unicode.clone(),
            host: h,
            now: store.clock.now(),
        }))
    }
}

/// Finds a registrar by SRS ID, IANA ID or exact name (case-insensitive).
pub fn find_registrar(store: &Store, q: &str) -> SResult<Option<Registrar>> {
    let q = q.trim();
    if let Some(r) = store.get_registrar(q)? {
        return Ok(Some(r));
    }
    let all = store.registrars()?;
    if let Ok(n) = q.parse::<u32>() {
        if let Some(r) = all.iter().find(|r| r.iana_id == n) {
            return Ok(Some(r.clone()));
        }
    }
    // clients (Debian whois) drop a final dot: "Example, Inc." -> "Example, Inc"
    let bare = |s: &str| s.trim().trim_end_matches('.').to_lowercase();
    let qb = bare(q);
    Ok(all
        .into_iter()
        .find(|r| r.id.eq_ignore_ascii_case(q) || bare(&r.name) == qb))
}

/// A contact field that policy may redact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Handle,
    Name,
    Org,
    Street,
    City,
    PostalCode,
    Phone,
    Fax,
    Email,
}

/// Whether `field` of `c` is published.
pub fn shown(redact: bool, c: &Contact, field: Field) -> bool {
    if !redact {
        return true;
    }
    match field {
        Field::Org => true,
        Field::Handle => false,
        _ => {
            let want: &[&str] = match field {
                Field::Name => &["name:int", "name:loc", "name"],
                Field::Street | Field::City | Field::PostalCode => {
                    &["addr:int", "addr:loc", "addr"]
                }
                Field::Phone => &["voice"],
                Field::Fax => &["fax"],
                Field::Email => &["email"],
                Field::Org | Field::Handle => &[],
            };
            c.disclose
                .as_ref()
                .is_some_and(|d| d.flag && d.fields.iter().any(|f| want.contains(&f.as_str())))
        }
    }
}

/// The postal info to show: "int" first, else the first one.
pub fn postal(c: &Contact) -> Option<&PostalInfo> {
    c.postal
        .iter()
        .find(|p| p.kind == "int")
        .or_else(|| c.postal.first())
}

/// RFC 8056 name of an EPP (or RFC 3915) status value.
pub fn rdap_status(epp: &str) -> String {
    match epp {
        "ok" => "active".into(),
        "linked" => "associated".into(),
        "inactive" => "inactive".into(),
        _ => {
            // camelCase -> lower case words: clientDeleteProhibited ->
            // "client delete prohibited", autoRenewPeriod -> "auto renew period"
            let mut out = String::with_capacity(epp.len() + 4);
            for ch in epp.chars() {
                if ch.is_ascii_uppercase() {
                    out.push(' ');
                    out.push(ch.to_ascii_lowercase());
                } else {
                    out.push(ch);
                }
            }
            out
        }
    }
}

/// The built-in legal terms, one paragraph per line.
pub fn default_terms(tld: &str) -> String {
    format!(
        "Terms of Use: The data in the .{tld} registry's Whois and RDAP services is provided \
for information purposes only, to assist persons in obtaining information about or related \
to a domain name registration record. The registry does not guarantee its accuracy. By \
submitting a query you agree to use this data only for lawful purposes and that, under no \
circumstances, will you use it to allow, enable or otherwise support the transmission of \
mass unsolicited commercial advertising or solicitations, to enable high volume, automated, \
electronic processes that send queries or data to the systems of the registry or of any \
ICANN-accredited registrar, or for any purpose that violates applicable law. Queries are \
rate-limited; compilation, repackaging, dissemination or other use of this data is \
prohibited without the prior written consent of the registry. The registry reserves the \
right to modify these terms at any time."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_either_form() {
        let a = normalize_name("Example.SHOP.").unwrap();
        assert_eq!(a.ascii, "example.shop");
        assert_eq!(a.unicode, None);
        let u = normalize_name("bücher.shop").unwrap();
        assert_eq!(u.ascii, "xn--bcher-kva.shop");
        assert_eq!(u.unicode.as_deref(), Some("bücher.shop"));
        let b = normalize_name("XN--BCHER-KVA.shop").unwrap();
        assert_eq!(b, u);
        for bad in [
            "",
            ".",
            "a b.shop",
            "xn--zz.shop",
            "-a.shop",
            "a..shop",
            "a\u{0}.shop",
        ] {
            assert!(normalize_name(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_name(&"a".repeat(5000)).is_err());
    }

    #[test]
    fn rfc8056_names() {
        assert_eq!(rdap_status("ok"), "active");
        assert_eq!(
            rdap_status("clientDeleteProhibited"),
            "client delete prohibited"
        );
        assert_eq!(rdap_status("pendingDelete"), "pending delete");
        assert_eq!(rdap_status("autoRenewPeriod"), "auto renew period");
        assert_eq!(rdap_status("serverHold"), "server hold");
        assert_eq!(rdap_status("linked"), "associated");
    }

    #[test]
    fn rfc3966_tel_uris() {
        assert_eq!(tel_uri("+1.5555551212", None).unwrap(), "tel:+1-5555551212");
        assert_eq!(
            tel_uri("+1.5555551212", Some("123")).unwrap(),
            "tel:+1-5555551212;ext=123"
        );
        assert_eq!(
            tel_uri("+81.312345678", Some("")).unwrap(),
            "tel:+81-312345678"
        );
        assert_eq!(
            tel_uri("+44.20 7946 0000", None).unwrap(),
            "tel:+44-20-7946-0000"
        );
        for bad in ["5555551212", "+1.", "+1.555x", "+x.555", "", "+"] {
            assert_eq!(tel_uri(bad, None), None, "{bad:?}");
        }
        assert_eq!(tel_uri("+1.555", Some("12a")), None);
        // what comes out is RFC 3966 global-number syntax, no '.' left
        let t = tel_uri("+1.5555551212", Some("9")).unwrap();
        assert!(!t.contains('.') && t.starts_with("tel:+1-"), "{t}");
    }

    #[test]
    fn contact_point_choice() {
        let e = ContactPoint::new(Some("relay@nic.shop"), Some("https://nic.shop/f"));
        assert_eq!(e, ContactPoint::Email("relay@nic.shop"));
        assert_eq!(e.whois(), "relay@nic.shop");
        let f = ContactPoint::new(None, Some("https://nic.shop/f"));
        assert_eq!(f.whois(), "https://nic.shop/f");
        assert_eq!(ContactPoint::new(None, None).whois(), EMAIL_REDIRECT);
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
