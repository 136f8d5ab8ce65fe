//! Whois query syntax (RFC 3912 leaves it to the server).
//!
//! One line, at most `max_query_length` bytes, ended by CRLF (a bare LF is
//! accepted), UTF-8. Forms, keywords case-insensitive:
//!
//! - `NAME`: a domain directly under the TLD is looked up as a domain;
//!   any other name with a dot as a name server (host), and when there is
//!   none the answer is "Domain not found." like any miss;
//! - `domain NAME`, `nameserver NAME` (also `host NAME`, `ns NAME`);
//! - `registrar X`: X is the SRS registrar ID, the IANA ID or the name;
//! - any of these after `=` (exact match, which every lookup here is).
//!
//! Names may be U-labels or A-labels in any case, with or without the
//! final dot. Anything else gets a one-line explanation, never a panic.
use crate::rdds::view::{normalize_name, QName};

#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Domain(QName),
    Nameserver(QName),
    /// A bare name that is no domain of the TLD: a name server if one is
    /// registered, else a miss ("Domain not found.", as for any name).
    Name(QName),
    Registrar(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryError {
    Empty,
    NotUtf8,
    BadName(String),
}

impl QueryError {
    pub fn message(&self) -> String {
        match self {
            QueryError::Empty => {
                "Empty query. Send a domain name, \"nameserver NAME\" or \"registrar NAME\".".into()
            }
            QueryError::NotUtf8 => "Invalid query: not UTF-8 text.".into(),
            QueryError::BadName(r) => format!("Invalid query: {r}."),
        }
    }
}

/// Parses one query line (without its line end).
pub fn parse(line: &[u8], tld: &str) -> Result<Query, QueryError> {
    let text = std::str::from_utf8(line).map_err(|_| QueryError::NotUtf8)?;
    let text = text.trim_matches(|c: char| c.is_whitespace());
    // `=NAME` (the "exact match" prefix some registries' clients send):
    // every lookup here is exact, so it changes nothing
    let text = text.strip_prefix('=').map_or(text, str::trim_start);
    if text.is_empty() {
        return Err(QueryError::Empty);
    }
    let (kw, rest) = match text.split_once(char::is_whitespace) {
        Some((k, r)) => (k.to_ascii_lowercase(), r.trim()),
        None => {
            let lower = text.to_ascii_lowercase();
            if ["domain", "nameserver", "host", "ns", "registrar"].contains(&lower.as_str()) {
                return Err(QueryError::BadName(format!(
                    "\"{lower}\" needs a name after it"
                )));
            }
            (String::new(), text)
        }
    };
    let name = |s: &str| normalize_name(s).map_err(QueryError::BadName);
    match kw.as_str() {
        "domain" => Ok(Query::Domain(name(rest)?)),
        "nameserver" | "host" | "ns" => Ok(Query::Nameserver(name(rest)?)),
        "registrar" => {
            if rest.is_empty() || rest.chars().any(char::is_control) {
                return Err(QueryError::BadName("registrar name missing".into()));
            }
            Ok(Query::Registrar(rest.to_string()))
        }
        "" => {
            let n = name(text)?;
            if is_domain(&n.ascii, tld) || !n.ascii.contains('.') {
                Ok(Query::Domain(n))
            } else {
                Ok(Query::Name(n))
            }
        }
        _ => Err(QueryError::BadName(
            "unknown keyword (use \"domain\", \"nameserver\" or \"registrar\")".into(),
        )),
    }
}

/// One label directly under the TLD (or the TLD itself, which is no domain
/// but should get "Domain not found." rather than a host lookup).
fn is_domain(ascii: &str, tld: &str) -> bool {
    match ascii.strip_suffix(tld) {
        Some("") => true,
        Some(rest) => rest.ends_with('.') && !rest[..rest.len() - 1].contains('.'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let d = |s: &str| parse(s.as_bytes(), "shop").unwrap();
        assert!(matches!(d("example.shop"), Query::Domain(n) if n.ascii == "example.shop"));
        assert!(matches!(d("DOMAIN Example.Shop."), Query::Domain(n) if n.ascii == "example.shop"));
        assert!(matches!(d("ns1.example.shop"), Query::Name(n) if n.ascii == "ns1.example.shop"));
        assert!(matches!(d("ns1.example.net"), Query::Name(_)));
        assert!(matches!(d("example.net"), Query::Name(_)));
        assert!(matches!(
            d("nameserver ns1.example.shop"),
            Query::Nameserver(_)
        ));
        assert!(
            matches!(d("registrar Example Registrar, Inc."), Query::Registrar(r) if r == "Example Registrar, Inc.")
        );
        assert!(matches!(d("bücher.shop"), Query::Domain(n) if n.ascii == "xn--bcher-kva.shop"));
        assert!(matches!(d("shop"), Query::Domain(_)));
        assert!(matches!(d("=example.shop"), Query::Domain(n) if n.ascii == "example.shop"));
        assert!(matches!(d("= domain example.shop"), Query::Domain(_)));
    }

    #[test]
    fn bad_input_is_explained() {
        let e = |b: &[u8]| parse(b, "shop").unwrap_err();
        assert_eq!(e(b""), QueryError::Empty);
        assert_eq!(e(b"   "), QueryError::Empty);
        assert_eq!(e(b"\xff\xfe"), QueryError::NotUtf8);
        assert!(matches!(e(b"frobnicate x"), QueryError::BadName(_)));
        assert!(matches!(e(b"registrar"), QueryError::BadName(_)));
        assert!(matches!(e(b"a_b!.shop"), QueryError::BadName(_)));
        assert!(e(b"\x00").message().starts_with("Invalid query"));
    }
}
