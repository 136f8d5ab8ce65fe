//! The building blocks of RDAP answers (RFC 9083, RFC 7095 jCard,
//! RFC 9537 redaction) as typed, borrowing `Serialize` values: what
//! [`super::json`] assembles into whole answers.
use crate::rdds::view::time;
use serde::{Serialize, Serializer};
use std::borrow::Cow;

#[derive(Serialize)]
pub(super) struct NoParams {}

#[derive(Serialize)]
pub(super) struct TypeParam<'a> {
    #[serde(rename = "type")]
    pub(super) typ: &'a str,
}

#[derive(Serialize)]
pub(super) struct CcParam<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(super) cc: &'a str,
}

/// One jCard property (RFC 7095): `[name, params, type, value]`.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum VProp<'a> {
    Text(&'a str, NoParams, &'a str, Cow<'a, str>),
    Typed(&'a str, TypeParam<'a>, &'a str, String),
    Adr(&'a str, CcParam<'a>, &'a str, Adr<'a>),
}

/// The street member of an address: the lines, or "" when redacted.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Street<'a> {
    Lines(&'a [String]),
    Empty(&'a str),
}

/// jCard `adr` value: PO box, extended, street, city, region, code, country.
#[derive(Serialize)]
pub(super) struct Adr<'a>(
    pub(super) &'a str,
    pub(super) &'a str,
    pub(super) Street<'a>,
    pub(super) &'a str,
    pub(super) &'a str,
    pub(super) &'a str,
    pub(super) &'a str,
);

/// `["vcard", [props]]`.
#[derive(Serialize)]
pub(super) struct VCard<'a>(pub(super) &'static str, pub(super) Vec<VProp<'a>>);

pub(super) fn vcard(props: Vec<VProp<'_>>) -> VCard<'_> {
    VCard("vcard", props)
}

pub(super) fn text<'a>(name: &'a str, value: impl Into<Cow<'a, str>>) -> VProp<'a> {
    VProp::Text(name, NoParams {}, "text", value.into())
}

#[derive(Serialize)]
pub(super) struct Link<'a> {
    pub(super) value: &'a str,
    pub(super) rel: &'a str,
    pub(super) href: Cow<'a, str>,
    #[serde(rename = "type")]
    pub(super) typ: &'a str,
}

/// Non-empty lines of a text, as a JSON array of strings.
pub(super) struct Lines<'a>(pub(super) &'a str);

impl Serialize for Lines<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.lines().filter(|l| !l.trim().is_empty()))
    }
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum Description<'a> {
    Lines(Lines<'a>),
    Fixed(&'a [&'a str]),
    Owned(Vec<String>),
}

#[derive(Serialize)]
pub(super) struct Notice<'a> {
    pub(super) title: &'a str,
    pub(super) description: Description<'a>,
    pub(super) links: [Link<'a>; 1],
}

#[derive(Serialize)]
pub(super) struct Event {
    #[serde(rename = "eventAction")]
    pub(super) action: &'static str,
    #[serde(rename = "eventDate")]
    pub(super) date: String,
}

pub(super) fn event(action: &'static str, ts: i64) -> Event {
    Event {
        action,
        date: time(ts),
    }
}

#[derive(Serialize)]
pub(super) struct RedactionName {
    #[serde(rename = "type")]
    pub(super) typ: String,
}

#[derive(Serialize)]
pub(super) struct Reason {
    #[serde(rename = "type")]
    pub(super) typ: &'static str,
}

/// An RFC 9537 `redacted` member entry.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Redaction {
    pub(super) name: RedactionName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) pre_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) post_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) replacement_path: Option<String>,
    pub(super) path_lang: &'static str,
    pub(super) method: &'static str,
    pub(super) reason: Reason,
}

/// An RFC 9083 `remarks` member entry (no links).
#[derive(Serialize)]
pub(super) struct Remark<'a> {
    pub(super) title: &'a str,
    pub(super) description: [&'a str; 1],
}

/// An RFC 9537 `replacementValue` entry: the value at `post_path` was put
/// in place of the redacted one, or the redacted member at `pre_path` was
/// replaced by the one at `replacement_path`.
pub(super) fn replaced(
    name: String,
    pre_path: Option<String>,
    post_path: Option<String>,
    replacement_path: Option<String>,
) -> Redaction {
    Redaction {
        name: RedactionName { typ: name },
        pre_path,
        post_path,
        replacement_path,
        path_lang: "jsonpath",
        method: "replacementValue",
        reason: Reason {
            typ: "Server policy",
        },
    }
}

pub(super) fn redaction(name: String, method: &'static str, path: String) -> Redaction {
    // removal names the path before, emptyValue the path after (RFC 9537)
    let (pre_path, post_path) = if method == "removal" {
        (Some(path), None)
    } else {
        (None, Some(path))
    };
    Redaction {
        name: RedactionName { typ: name },
        pre_path,
        post_path,
        replacement_path: None,
        path_lang: "jsonpath",
        method,
        reason: Reason {
            typ: "Server policy",
        },
    }
}
