//! The XML Schema simple types that bound what a response may carry
//! (RFC 5730 `eppcom-1.0` and the object schemas), as predicates.
//!
//! A response echoes values the client sent: the names and ids of a
//! `<check>`, the clTRID. The schemas limit them: `eppcom:clIDType` (contact
//! ids, client ids) is a token of 3 to 16 characters, `eppcom:labelType`
//! (domain and host names) 1 to 255, `eppcom:reasonBaseType` (the
//! `<reason>` of a check answer) 1 to 32, `epp:trIDStringType` 3 to 64. A
//! value is only echoed when it is valid for its type; otherwise the
//! command is refused (2005) and the value appears only in the result's
//! `<extValue><reason>`, an `epp:msgType` without a length limit. Check
//! reasons are short fixed texts ([`crate::names::NameError::check`]).
//!
//! Lengths are counted as the schema counts them: in characters, after the
//! `token` whitespace collapse (leading and trailing white space dropped,
//! inner runs of it one space).
//!
//! The schemas themselves are in `schemas/` of this crate; the schema test
//! (`epp::schema`, a test) validates every answer against them.

/// The `token` value of `s`: XML white space collapsed.
pub fn token(s: &str) -> String {
    s.split([' ', '\t', '\r', '\n'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Length of `s` as a schema `token` facet counts it.
pub fn token_len(s: &str) -> usize {
    token(s).chars().count()
}

/// `eppcom:clIDType`: 3 to 16 characters.
pub fn is_cl_id(s: &str) -> bool {
    (3..=16).contains(&token_len(s))
}

/// `eppcom:labelType`: 1 to 255 characters.
pub fn is_label(s: &str) -> bool {
    (1..=255).contains(&token_len(s))
}

/// `eppcom:reasonBaseType`: 1 to 32 characters.
pub fn is_reason(s: &str) -> bool {
    (1..=32).contains(&token_len(s))
}

/// `epp:trIDStringType`: 3 to 64 characters.
pub fn is_tr_id(s: &str) -> bool {
    (3..=64).contains(&token_len(s))
}

/// Characters of a string the schema types as `normalizedString` (white
/// space is replaced, not collapsed, so every character counts).
pub fn normalized_len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_the_schema() {
        assert_eq!(token("  a \t\n b  "), "a b");
        assert!(!is_cl_id("ab"));
        assert!(is_cl_id("a b"));
        assert!(is_cl_id(" a  b "));
        assert!(!is_cl_id(&"x".repeat(17)));
        assert!(is_cl_id(&"ü".repeat(16)));
        assert!(!is_label(""));
        assert!(!is_label("   "));
        assert!(is_label(&"a".repeat(255)));
        assert!(!is_label(&"a".repeat(256)));
        assert!(is_reason("Reserved"));
        assert!(!is_reason(&"r".repeat(33)));
        assert!(!is_tr_id("ab"));
        assert!(is_tr_id("a-b"));
    }
}
