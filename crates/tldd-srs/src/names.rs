//! Name rules: domain names registrable under the TLD, host names, contact
//! handles, and IDN A-labels; and the two contact-point syntaxes EPP
//! contacts and registrar records share (phone numbers, email addresses).
//!
//! Names arrive from EPP in A-label form (RFC 5891); they are lower-cased,
//! a trailing dot is dropped. A label starting `xn--` must be a valid IDNA
//! A-label: it is decoded with the `idna` crate (UTS 46 processing, which
//! follows IDNA2008's code point rules) and must round-trip to exactly
//! itself with STD3 rules, hyphen checks and DNS length checks; anything else
//! with `--` in positions 3-4 is refused (RFC 5891 section 4.2.3.1).
//! U-labels (non-ASCII) are refused with a message asking for the A-label.
//!
//! Limits: no per-script IDN tables (the registry's language tables are a
//! policy document this build does not carry); bundling/variants are not
//! modelled.

/// Why a name is not acceptable; `syntax` separates 2005 from 2306.
#[derive(Debug, Clone, PartialEq)]
pub struct NameError {
    pub syntax: bool,
    /// The full explanation (an error's `<extValue><reason>`).
    pub reason: String,
    /// The short form a `<check>` answer gives as its `<reason>`, which
    /// `eppcom:reasonBaseType` limits to 32 characters
    /// ([`crate::epp::xsd`]): "Invalid name", "Reserved", ...
    pub check: &'static str,
}

impl NameError {
    fn checked(self, check: &'static str) -> NameError {
        NameError { check, ..self }
    }
}

fn syntax(reason: impl Into<String>) -> NameError {
    NameError {
        syntax: true,
        reason: reason.into(),
        check: "Invalid name",
    }
}
fn policy(check: &'static str, reason: impl Into<String>) -> NameError {
    NameError {
        syntax: false,
        reason: reason.into(),
        check,
    }
}

/// RFC 5733 `e164StringType`: `+CC.NUMBER`, at most 3 + 14 digits.
pub fn is_epp_phone(p: &str) -> bool {
    p.strip_prefix('+')
        .and_then(|p| p.split_once('.'))
        .is_some_and(|(cc, n)| {
            (1..=3).contains(&cc.len())
                && (1..=14).contains(&n.len())
                && cc.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
        })
}

/// An email address as far as a registry checks one: `local@domain.tld`,
/// no white space or control characters (Whois shows it on one line).
pub fn is_email(s: &str) -> bool {
    // RFC 5321 §4.5.3.1: local part at most 64 octets, domain at most 255.
    s.matches('@').count() == 1
        && s.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && l.len() <= 64
                && d.len() <= 255
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !s.contains(|c: char| c.is_whitespace() || c.is_control())
        })
}

/// Lower-cases and drops one trailing dot.
pub fn canonical(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Is `name` (canonical) strictly below the TLD?
pub fn in_tld(name: &str, tld: &str) -> bool {
    name.len() > tld.len() + 1
        && name.ends_with(tld)
        && name.as_bytes()[name.len() - tld.len() - 1] == b'.'
}

/// The registrable domain (one label below the TLD) a host is under.
pub fn superordinate(host: &str, tld: &str) -> Option<String> {
    if !in_tld(host, tld) {
        return None;
    }
    let rest = &host[..host.len() - tld.len() - 1];
    let label = rest.rsplit('.').next()?;
    Some(format!("{label}.{tld}"))
}

/// Checks one label (LDH, or a valid A-label).
pub fn check_label(label: &str) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(syntax("empty label"));
    }
    if label.len() > 63 {
        return Err(syntax(format!("label {label:?} is longer than 63 octets")));
    }
    if !label.is_ascii() {
        return Err(syntax(format!(
            "label {label:?} is not ASCII: send IDNs as A-labels (xn--...)"
        )));
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(syntax(format!(
            "label {label:?} has characters other than letters, digits and hyphen"
        )));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(syntax(format!(
            "label {label:?} starts or ends with a hyphen"
        )));
    }
    if label.len() >= 4 && &label[2..4] == "--" {
        if !label.starts_with("xn--") {
            return Err(syntax(format!(
                "label {label:?} has hyphens in positions 3 and 4 but is not an A-label"
            )));
        }
        let (unicode, res) = idna::domain_to_unicode(label);
        if res.is_err() {
            return Err(syntax(format!("{label:?} is not a valid IDNA A-label")));
        }
        match idna::domain_to_ascii_strict(&unicode) {
            Ok(back) if back == label => {}
            _ => {
                return Err(syntax(format!(
                    "{label:?} is not a valid IDNA2008 A-label (it does not round-trip)"
                )))
            }
        }
    }
    Ok(())
}

/// Checks a (canonical) host name's syntax.
pub fn check_host_name(name: &str) -> Result<(), NameError> {
    host_name_syntax(name).map_err(|e| e.checked("Invalid host name"))
}

fn host_name_syntax(name: &str) -> Result<(), NameError> {
    if name.len() > 253 {
        return Err(syntax("host name longer than 253 octets"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(syntax(format!(
            "host name {name:?} needs at least two labels"
        )));
    }
    for l in &labels {
        check_label(l)?;
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(syntax(format!(
            "host name {name:?} has an all-numeric top label"
        )));
    }
    Ok(())
}

/// Checks that `name` (canonical) is a registrable domain: one label
/// directly under the TLD, not reserved.
pub fn check_domain_name(name: &str, tld: &str, reserved: &[String]) -> Result<(), NameError> {
    if !in_tld(name, tld) {
        return Err(policy(
            "Not in TLD",
            format!("{name:?} is not under .{tld}"),
        ));
    }
    let label = &name[..name.len() - tld.len() - 1];
    if label.contains('.') {
        return Err(policy(
            "Not directly under TLD",
            format!("{name:?}: only names directly under .{tld} can be registered"),
        ));
    }
    check_label(label)?;
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(label)) {
        return Err(policy("Reserved", format!("{name:?} is reserved")));
    }
    Ok(())
}

/// RFC 5730 clIDType: a token of 3 to 16 characters.
pub fn check_handle(id: &str) -> Result<(), NameError> {
    handle_syntax(id).map_err(|e| e.checked("Invalid id"))
}

fn handle_syntax(id: &str) -> Result<(), NameError> {
    if id.len() < 3 || id.len() > 16 {
        return Err(syntax(format!("handle {id:?} must be 3 to 16 characters")));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(syntax(format!(
            "handle {id:?} may hold only letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_emails() {
        assert!(is_epp_phone("+1.5555550100") && is_epp_phone("+353.1234"));
        for bad in ["555", "+1 555", "+1.", "+.5", "+1234.5", "+1.55x", "1.555"] {
            assert!(!is_epp_phone(bad), "{bad}");
        }
        assert!(is_email("abuse@reg-a.example"));
        for bad in [
            "bogus",
            "info@",
            "@x.example",
            "a@example",
            "a b@x.example",
            "a@x.example\n",
            "a@b@x.example",
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
        // RFC 5321: a local part of at most 64 octets.
        assert!(is_email(&format!("{}@x.example", "a".repeat(64))));
        assert!(!is_email(&format!("{}@x.example", "a".repeat(65))));
    }

    #[test]
    fn domain_rules() {
        let r = vec!["nic".to_string()];
        assert!(check_domain_name("example.shop", "shop", &r).is_ok());
        assert!(
            !check_domain_name("a.b.shop", "shop", &r)
                .unwrap_err()
                .syntax
        );
        assert!(
            !check_domain_name("example.com", "shop", &r)
                .unwrap_err()
                .syntax
        );
        assert!(check_domain_name("-x.shop", "shop", &r).unwrap_err().syntax);
        assert!(
            check_domain_name("ab--c.shop", "shop", &r)
                .unwrap_err()
                .syntax
        );
        assert!(
            check_domain_name("exa_mple.shop", "shop", &r)
                .unwrap_err()
                .syntax
        );
        assert!(check_domain_name(&format!("{}.shop", "a".repeat(64)), "shop", &r).is_err());
    }

    #[test]
    fn nic_is_reserved() {
        let r = vec!["nic".to_string()];
        let e = check_domain_name("nic.shop", "shop", &r).unwrap_err();
        assert!(!e.syntax);
        assert!(e.reason.contains("reserved"));
    }

    #[test]
    fn idn_a_labels() {
        // "bücher"
        assert!(check_label("xn--bcher-kva").is_ok());
        // invalid punycode
        assert!(check_label("xn--zz-").is_err());
        assert!(check_label("xn--a").is_err());
        // upper case A-label of an ASCII-only string is not an A-label
        assert!(check_label("xn--abc-").is_err());
        assert!(check_label("bücher")
            .unwrap_err()
            .reason
            .contains("A-label"));
    }

    #[test]
    fn host_and_superordinate() {
        assert_eq!(
            superordinate("ns1.example.shop", "shop").as_deref(),
            Some("example.shop")
        );
        assert_eq!(
            superordinate("a.b.example.shop", "shop").as_deref(),
            Some("example.shop")
        );
        assert_eq!(superordinate("ns1.example.net", "shop"), None);
        assert_eq!(superordinate("shop", "shop"), None);
        assert!(!in_tld("xshop", "shop"));
        assert!(check_host_name("ns1.example.net").is_ok());
        assert!(check_host_name("localhost").is_err());
        assert!(check_host_name("1.2.3.4").is_err());
    }

    #[test]
    fn handles() {
        assert!(check_handle("abc-123").is_ok());
        assert!(check_handle("ab").is_err());
        assert!(check_handle("a b c").is_err());
    }

    #[test]
    fn check_reasons_fit_reason_base_type() {
        let r = vec!["nic".to_string()];
        let long = "a".repeat(64);
        let mut errors = vec![
            check_domain_name("a.net", "shop", &r),
            check_domain_name("a.b.shop", "shop", &r),
            check_domain_name("nic.shop", "shop", &r),
            check_domain_name("-a.shop", "shop", &r),
            check_domain_name(&format!("{long}.shop"), "shop", &r),
            check_domain_name("xn--zz.shop", "shop", &r),
            check_domain_name("\u{fc}.shop", "shop", &r),
            check_host_name("x"),
            check_host_name("a.1"),
            check_host_name(&"a.".repeat(200)),
            check_handle("x"),
            check_handle("a b"),
        ];
        errors.retain(|e| e.is_err());
        assert_eq!(errors.len(), 12);
        for e in errors {
            let e = e.unwrap_err();
            assert!(crate::epp::xsd::is_reason(e.check), "{e:?}");
            assert!(e.reason.len() > e.check.len(), "{e:?}");
        }
    }
}
