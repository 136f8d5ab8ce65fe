//! RDAP objects (RFC 9083) shaped by the ICANN gTLD RDAP Response Profile
//! and Technical Implementation Guide (February 2024).
//!
//! What each answer carries, and why:
//! - `rdapConformance`: `rdap_level_0`, `icann_rdap_response_profile_1`,
//!   `icann_rdap_technical_implementation_guide_1`, plus `redacted` when the
//!   answer has a `redacted` member (RFC 9537);
//! - `notices`: "Terms of Service" (link to `terms_url`) on every answer;
//!   domain answers add "Status Codes" (description and `glossary` link to
//!   <https://icann.org/epp>) and "RDDS Inaccuracy Complaint Form" (`help`
//!   link to <https://icann.org/wicf>), whose link `value` is the request URL;
//! - domain: `handle` (ROID), `ldhName`, `unicodeName` for IDNs, `status`
//!   in RFC 8056 names, events `registration`, `expiration`, `last changed`,
//!   `transfer`, `last update of RDAP database`; exactly one entity with
//!   role `registrar` (handle and `publicIds` "IANA Registrar ID" = the IANA
//!   ID, `fn`, an `about` link with `value` its RDAP base URL and `href` its
//!   web site (profile 2024 2.4.6), and a nested `abuse` entity with `fn`,
//!   `tel` (voice) and `email`); `registrant` and `technical` entities;
//!   `nameservers`; `secureDNS` with `delegationSigned` and `dsData`; a
//!   `self` link and a `related` link to the registrar's RDAP answer for the
//!   domain (TIG 2024 3.2; a registrar without an RDAP base URL gets a
//!   remark saying so instead);
//! - redaction: with `[srs.whois] redact` the contact handle (removal), name
//!   (emptyValue), street, city and postal code (emptyValue), phone and fax
//!   (removal) are withheld, each listed in `redacted` with the JSON path
//!   the profile expects; the e-mail is replaced (`replacementValue`,
//!   profile 2024 2.7.4.9 and 2.7.6.3) by what [`ContactPoint`] says, the
//!   same as Whois prints; organisation, state/province and country stay;
//! - phone numbers are RFC 3966 `tel:` URIs ([`tel_uri`]) with `type`
//!   voice or fax.
//!
//! Design: every answer is a tree of typed `#[derive(Serialize)]` structs
//! borrowing from the view, serialised straight into the response buffer
//! (no `serde_json::Value` tree: building and dropping one was about 40% of
//! the RDAP time). Member order is the struct order; the `last update of
//! RDAP database` event is written `eventAction` first so the response
//! cache ([`crate::rdds::cache`]) can find and refresh its date.
//!
//! Limits: the registrar's RDAP base URL is what `registrar update
//! --rdap-url` recorded (IANA's registry is not read); no `port43` member
//! unless `whois_listen` is set; contacts are not served as top-level
//! entities; a number that is not an EPP global number (`+CC.NUMBER`) is
//! left out rather than published as an invalid `tel:` URI.
use super::parts::*;
use crate::model::{Contact, Registrar};
use crate::rdds::view::{
    postal, rdap_status, shown, tel_uri, ContactPoint, DomainView, Field, HostView, EMAIL_REDIRECT,
    EPP_STATUS_URL, WICF_URL,
};
use serde::Serialize;
use std::borrow::Cow;

/// Per-request context: where links point.
pub struct Ctx<'a> {
    /// Base URL ending in '/'.
    pub base: &'a str,
    /// The URL of this request (link `value`s).
    pub request_url: String,
    pub terms: &'a str,
    pub terms_url: &'a str,
    pub redact: bool,
    /// Whois server host name for `port43`, if any.
    pub port43: Option<&'a str>,
    /// What replaces a redacted contact e-mail (the same as in Whois).
    pub email: ContactPoint<'a>,
}

/// Marker before the date of the `last update of RDAP database` event.
pub const LAST_UPDATE_MARK: &[u8] =
    b"\"eventAction\":\"last update of RDAP database\",\"eventDate\":\"";

const BASE_CONFORMANCE: [&str; 3] = [
    "rdap_level_0",
    "icann_rdap_response_profile_1",
    "icann_rdap_technical_implementation_guide_1",
];
const REDACTED_CONFORMANCE: [&str; 4] = [
    "rdap_level_0",
    "icann_rdap_response_profile_1",
    "icann_rdap_technical_implementation_guide_1",
    "redacted",
];

fn conformance(redacted: bool) -> &'static [&'static str] {
    if redacted {
        &REDACTED_CONFORMANCE
    } else {
        &BASE_CONFORMANCE
    }
}

/// `{}` (vCard parameters without any).
fn link<'a>(c: &'a Ctx, rel: &'a str, href: impl Into<Cow<'a, str>>, typ: &'a str) -> Link<'a> {
    Link {
        value: &c.request_url,
        rel,
        href: href.into(),
        typ,
    }
}
fn tos_notice<'a>(c: &'a Ctx) -> Notice<'a> {
    Notice {
        title: "Terms of Service",
        description: Description::Lines(Lines(c.terms)),
        links: [link(c, "terms-of-service", c.terms_url, "text/html")],
    }
}

fn domain_notices<'a>(c: &'a Ctx) -> [Notice<'a>; 3] {
    [
        tos_notice(c),
        Notice {
            title: "Status Codes",
            description: Description::Fixed(&[
                "For more information on domain status codes, please visit https://icann.org/epp",
            ]),
            links: [link(c, "glossary", EPP_STATUS_URL, "text/html")],
        },
        Notice {
            title: "RDDS Inaccuracy Complaint Form",
            description: Description::Fixed(&[
                "URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf",
            ]),
            links: [link(c, "help", WICF_URL, "text/html")],
        },
    ]
}

#[derive(Serialize)]
struct PublicId {
    #[serde(rename = "type")]
    typ: &'static str,
    identifier: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AbuseEntity<'a> {
    object_class_name: &'static str,
    roles: [&'static str; 1],
    vcard_array: VCard<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistrarEntity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    rdap_conformance: Option<&'static [&'static str]>,
    object_class_name: &'static str,
    handle: String,
    roles: [&'static str; 1],
    public_ids: [PublicId; 1],
    vcard_array: VCard<'a>,
    entities: [AbuseEntity<'a>; 1],
    links: Vec<Link<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<[Event; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notices: Option<[Notice<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port43: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remarks: Option<[Remark<'a>; 1]>,
}

/// Said on a registrar entity without an RDAP base URL (no `related` link
/// to it can be given, TIG 2024 3.2).
pub const NO_REGISTRAR_RDAP: &str =
    "The registrar of record has not provided an RDAP base URL; this answer has no link to the registrar's RDAP service.";

/// The registrar's own card: its name and, when it is the object looked
/// up, whatever of its address, phone, fax and email is recorded.
fn registrar_card(r: &Registrar, top: bool) -> Vec<VProp<'_>> {
    let mut card = vec![text("version", "4.0"), text("fn", r.name.as_str())];
    if !top {
        return card;
    }
    let c = &r.contact;
    let some = |v: &Option<String>| v.is_some();
    if !c.street.is_empty() || [&c.city, &c.sp, &c.pc, &c.cc].into_iter().any(some) {
        card.push(VProp::Adr(
            "adr",
            CcParam {
                cc: or_empty(&c.cc),
            },
            "text",
            Adr(
                "",
                "",
                Street::Lines(&c.street),
                or_empty(&c.city),
                or_empty(&c.sp),
                or_empty(&c.pc),
                "",
            ),
        ));
    }
    for (num, typ) in [(&c.phone, "voice"), (&c.fax, "fax")] {
        if let Some(uri) = num.as_deref().and_then(|n| tel_uri(n, None)) {
            card.push(VProp::Typed("tel", TypeParam { typ }, "uri", uri));
        }
    }
    if let Some(e) = &c.email {
        card.push(text("email", e.as_str()));
    }
    card
}

fn or_empty(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// The registrar entity (profile 2.4): IANA ID, name, abuse contact.
/// `answered` is the time of the answer when the entity is the object
/// looked up (it then carries its status and events, profile 2.3.1.3's
/// `last update of RDAP database` among them); None inside a domain.
fn registrar_entity<'a>(
    r: &'a Registrar,
    c: &'a Ctx,
    answered: Option<i64>,
) -> RegistrarEntity<'a> {
    let top = answered.is_some();
    let handle = r.iana_id.to_string();
    let mut abuse_card = vec![
        text("version", "4.0"),
        text("fn", format!("{} abuse contact", r.name)),
    ];
    if let Some(uri) = r.abuse_phone.as_deref().and_then(|p| tel_uri(p, None)) {
        abuse_card.push(VProp::Typed("tel", TypeParam { typ: "voice" }, "uri", uri));
    }
    if let Some(e) = &r.abuse_email {
        abuse_card.push(text("email", e.as_str()));
    }
    let mut links = Vec::with_capacity(2);
    // profile 2024 2.4.6: `about` with `value` the registrar's RDAP base URL
    // (as in IANA's Registrar IDs registry) and `href` its web site (the
    // Registrar URL); without a recorded RDAP base URL `value` is, as RFC
    // 9083 has it, this request's URL
    let value = r.rdap_url.as_deref().unwrap_or(&c.request_url);
    match (&r.url, &r.rdap_url) {
        (Some(u), _) => links.push(Link {
            value,
            rel: "about",
            href: u.as_str().into(),
            typ: "text/html",
        }),
        (None, Some(rd)) => links.push(Link {
            value,
            rel: "about",
            href: rd.as_str().into(),
            typ: "application/rdap+json",
        }),
        (None, None) => {}
    }
    links.push(link(
        c,
        if top { "self" } else { "related" },
        format!("{}entity/{}", c.base, handle),
        "application/rdap+json",
    ));
    RegistrarEntity {
        rdap_conformance: None,
        object_class_name: "entity",
        public_ids: [PublicId {
            typ: "IANA Registrar ID",
            identifier: handle.clone(),
        }],
        handle,
        roles: ["registrar"],
        vcard_array: vcard(registrar_card(r, top)),
        entities: [AbuseEntity {
            object_class_name: "entity",
            roles: ["abuse"],
            vcard_array: vcard(abuse_card),
        }],
        links,
        status: top.then_some(["active"]),
        events: answered.map(|now| {
            [
                event("registration", r.created),
                event("last changed", r.updated),
                event("last update of RDAP database", now),
            ]
        }),
        notices: None,
        port43: None,
        remarks: r.rdap_url.is_none().then_some([Remark {
            title: "Registrar RDAP base URL",
            description: [NO_REGISTRAR_RDAP],
        }]),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContactEntity<'a> {
    object_class_name: &'static str,
    roles: [&'a str; 1],
    vcard_array: VCard<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remarks: Option<[Remark<'static>; 1]>,
}

/// A contact entity with `role`; pushes its redactions onto `redacted`.
/// `registrar_uri` is where [`ContactPoint::Registrar`] sends a reader.
fn contact_entity<'a>(
    ct: &'a Contact,
    role: &'a str,
    label: &str,
    c: &Ctx<'a>,
    registrar_uri: &'a str,
    redacted: &mut Vec<Redaction>,
) -> ContactEntity<'a> {
    let sel = format!("$.entities[?(@.roles[0]=='{role}')]");
    let p = postal(ct);
    let mut card = vec![text("version", "4.0")];
    if shown(c.redact, ct, Field::Name) {
        card.push(text("fn", p.map(|p| p.name.as_str()).unwrap_or("")));
    } else {
        card.push(text("fn", ""));
        redacted.push(redaction(
            format!("{label} Name"),
            "emptyValue",
            format!("{sel}.vcardArray[1][?(@[0]=='fn')][3]"),
        ));
    }
    if let Some(org) = p.and_then(|p| p.org.as_deref()) {
        card.push(text("org", org));
    } else if c.redact && role == "registrant" {
        // profile 2024 2.7.4.2: a registrant card without `org` lists
        // "Registrant Organization" as removed
        redacted.push(redaction(
            format!("{label} Organization"),
            "removal",
            format!("{sel}.vcardArray[1][?(@[0]=='org')]"),
        ));
    }
    if let Some(p) = p {
        let addr_shown = shown(c.redact, ct, Field::Street);
        let (street, city, pc) = if addr_shown {
            (
                Street::Lines(&p.street),
                p.city.as_str(),
                p.pc.as_deref().unwrap_or(""),
            )
        } else {
            (Street::Empty(""), "", "")
        };
        card.push(VProp::Adr(
            "adr",
            CcParam { cc: &p.cc },
            "text",
            Adr("", "", street, city, p.sp.as_deref().unwrap_or(""), pc, ""),
        ));
        if !addr_shown {
            for (what, idx) in [("Street", 2), ("City", 3), ("Postal Code", 5)] {
                redacted.push(redaction(
                    format!("{label} {what}"),
                    "emptyValue",
                    format!("{sel}.vcardArray[1][?(@[0]=='adr')][3][{idx}]"),
                ));
            }
        }
    }
    for (what, phone, f, typ) in [
        ("Phone", &ct.voice, Field::Phone, "voice"),
        ("Fax", &ct.fax, Field::Fax, "fax"),
    ] {
        if shown(c.redact, ct, f) {
            if let Some(uri) = phone
                .as_ref()
                .and_then(|ph| tel_uri(&ph.number, ph.ext.as_deref()))
            {
                card.push(VProp::Typed("tel", TypeParam { typ }, "uri", uri));
            }
        } else {
            redacted.push(redaction(
                format!("{label} {what}"),
                "removal",
                format!("{sel}.vcardArray[1][?(@[1].type=='{typ}')]"),
            ));
        }
    }
    let mut remarks = None;
    let email_at = format!("{sel}.vcardArray[1][?(@[0]=='email')]");
    if shown(c.redact, ct, Field::Email) {
        card.push(text("email", ct.email.as_str()));
    } else if let ContactPoint::Email(e) = c.email {
        // profile 2024 2.7.4.9 / 2.7.6.3: the replacement in `email`
        card.push(text("email", e));
        redacted.push(replaced(
            format!("{label} Email"),
            None,
            Some(format!("{email_at}[3]")),
            None,
        ));
    } else {
        // ... or a `contact-uri` in its place
        let uri = match c.email {
            ContactPoint::Form(u) => u,
            _ => {
                remarks = Some([Remark {
                    title: "Email",
                    description: [EMAIL_REDIRECT],
                }]);
                registrar_uri
            }
        };
        card.push(VProp::Text("contact-uri", NoParams {}, "uri", uri.into()));
        redacted.push(replaced(
            format!("{label} Email"),
            Some(email_at),
            None,
            Some(format!("{sel}.vcardArray[1][?(@[0]=='contact-uri')]")),
        ));
    }
    let handle = if shown(c.redact, ct, Field::Handle) {
        Some(ct.id.as_str())
    } else {
        let id_label = format!("Registry {label} ID");
        redacted.push(redaction(id_label, "removal", format!("{sel}.handle")));
        None
    };
    ContactEntity {
        object_class_name: "entity",
        roles: [role],
        vcard_array: vcard(card),
        handle,
        remarks,
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Entity<'a> {
    Registrar(Box<RegistrarEntity<'a>>),
    Contact(ContactEntity<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NameserverBrief<'a> {
    object_class_name: &'static str,
    ldh_name: &'a str,
    links: [Link<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    unicode_name: Option<String>,
}

fn nameserver_brief<'a>(name: &'a str, c: &'a Ctx) -> NameserverBrief<'a> {
    let unicode_name = if name.split('.').any(|l| l.starts_with("xn--")) {
        let (u, r) = idna::domain_to_unicode(name);
        r.ok().map(|_| u)
    } else {
        None
    };
    NameserverBrief {
        object_class_name: "nameserver",
        ldh_name: name,
        links: [link(
            c,
            "related",
            format!("{}nameserver/{name}", c.base),
            "application/rdap+json",
        )],
        unicode_name,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ds<'a> {
    key_tag: u16,
    algorithm: u8,
    digest_type: u8,
    digest: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecureDns<'a> {
    delegation_signed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ds_data: Vec<Ds<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DomainObject<'a> {
    rdap_conformance: &'static [&'static str],
    object_class_name: &'static str,
    handle: &'a str,
    ldh_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unicode_name: Option<&'a str>,
    status: Vec<String>,
    events: Vec<Event>,
    entities: Vec<Entity<'a>>,
    nameservers: Vec<NameserverBrief<'a>>,
    #[serde(rename = "secureDNS")]
    secure_dns: SecureDns<'a>,
    links: Vec<Link<'a>>,
    notices: [Notice<'a>; 3],
    #[serde(skip_serializing_if = "Option::is_none")]
    port43: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    redacted: Vec<Redaction>,
}

fn to_vec<T: Serialize>(v: &T, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    // serialising these types into a Vec cannot fail (no maps with
    // non-string keys, no I/O)
    let _ = serde_json::to_writer(&mut out, v);
    out
}

/// The registrar's RDAP answer for domain `name`: its base URL (ending in
/// '/' or not) + `domain/<name>`.
fn registrar_domain_url(base: &str, name: &str) -> String {
    let sep = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{sep}domain/{name}")
}

/// A domain answer.
pub fn domain<'a>(v: &'a DomainView, c: &'a Ctx<'a>) -> Vec<u8> {
    let d = &v.domain;
    let r = v.registrar.as_ref();
    let related = r
        .and_then(|r| r.rdap_url.as_deref())
        .map(|b| registrar_domain_url(b, &d.name));
    // where a reader learns how to reach a contact whose e-mail is redacted
    // (without a relay address or form of the registry's own)
    let registrar_uri: String = match (&related, r) {
        (Some(u), _) => u.clone(),
        (None, Some(r)) => r
            .url
            .clone()
            .unwrap_or_else(|| format!("{}entity/{}", c.base, r.iana_id)),
        (None, None) => format!("{}domain/{}", c.base, d.name),
    };
    let registrar_uri = registrar_uri.as_str();
    let mut redacted = vec![];
    let mut entities = Vec::with_capacity(3);
    if let Some(r) = &v.registrar {
        entities.push(Entity::Registrar(Box::new(registrar_entity(r, c, None))));
    }
    if let Some(ct) = &v.registrant {
        entities.push(Entity::Contact(contact_entity(
            ct,
            "registrant",
            "Registrant",
            c,
            registrar_uri,
            &mut redacted,
        )));
    }
    if let Some(ct) = &v.tech {
        entities.push(Entity::Contact(contact_entity(
            ct,
            "technical",
            "Tech",
            c,
            registrar_uri,
            &mut redacted,
        )));
    }
    let mut events = Vec::with_capacity(5);
    events.push(event("registration", d.cr_date));
    events.push(event("expiration", d.ex_date));
    if let Some(u) = d.up_date {
        events.push(event("last changed", u));
    }
    if let Some(t) = d.tr_date {
        events.push(event("transfer", t));
    }
    events.push(event("last update of RDAP database", v.now));
    let out = DomainObject {
        rdap_conformance: conformance(!redacted.is_empty()),
        object_class_name: "domain",
        handle: &d.roid,
        ldh_name: &d.name,
        unicode_name: v.unicode.as_deref(),
        status: v.statuses.iter().map(|s| rdap_status(s)).collect(),
        events,
        entities,
        nameservers: d.ns.iter().map(|n| nameserver_brief(n, c)).collect(),
        secure_dns: SecureDns {
            delegation_signed: !d.ds.is_empty(),
            ds_data: d
                .ds
                .iter()
                .map(|ds| Ds {
                    key_tag: ds.key_tag,
                    algorithm: ds.alg,
                    digest_type: ds.digest_type,
                    digest: &ds.digest,
                })
                .collect(),
        },
        links: {
            let mut l = vec![link(
                c,
                "self",
                format!("{}domain/{}", c.base, d.name),
                "application/rdap+json",
            )];
            // TIG 2024 3.2: the registrar's RDAP answer for the domain
            if let Some(href) = related {
                l.push(link(c, "related", href, "application/rdap+json"));
            }
            l
        },
        notices: domain_notices(c),
        port43: c.port43,
        redacted,
    };
    to_vec(&out, 6144)
}

#[derive(Serialize)]
struct IpAddresses {
    v4: Vec<String>,
    v6: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NameserverObject<'a> {
    rdap_conformance: &'static [&'static str],
    object_class_name: &'static str,
    handle: &'a str,
    ldh_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unicode_name: Option<&'a str>,
    status: Vec<String>,
    events: Vec<Event>,
    entities: Vec<RegistrarEntity<'a>>,
    links: [Link<'a>; 1],
    notices: [Notice<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_addresses: Option<IpAddresses>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port43: Option<&'a str>,
}

/// A nameserver answer.
pub fn nameserver(v: &HostView, c: &Ctx) -> Vec<u8> {
    let h = &v.host;
    let mut statuses: Vec<String> = crate::model::object_statuses(&h.statuses, v.linked)
        .iter()
        .map(|s| rdap_status(s))
        .collect();
    statuses.dedup();
    let mut events = vec![event("registration", h.cr_date)];
    if let Some(u) = h.up_date {
        events.push(event("last changed", u));
    }
    events.push(event("last update of RDAP database", v.now));
    let ip_addresses = (!h.addrs.is_empty()).then(|| {
        let (v4, v6): (Vec<&std::net::IpAddr>, Vec<_>) = h.addrs.iter().partition(|a| a.is_ipv4());
        IpAddresses {
            v4: v4.iter().map(|a| a.to_string()).collect(),
            v6: v6.iter().map(|a| a.to_string()).collect(),
        }
    });
    let out = NameserverObject {
        rdap_conformance: conformance(false),
        object_class_name: "nameserver",
        handle: &h.roid,
        ldh_name: &h.name,
        unicode_name: v.unicode.as_deref(),
        status: statuses,
        events,
        entities: v
            .registrar
            .iter()
            .map(|r| registrar_entity(r, c, None))
            .collect(),
        links: [link(
            c,
            "self",
            format!("{}nameserver/{}", c.base, h.name),
            "application/rdap+json",
        )],
        notices: [tos_notice(c)],
        ip_addresses,
        port43: c.port43,
    };
    to_vec(&out, 4096)
}

/// A registrar answer (`/entity/{IANA ID or registrar ID}`) given at `now`.
pub fn entity(r: &Registrar, c: &Ctx, now: i64) -> Vec<u8> {
    let mut e = registrar_entity(r, c, Some(now));
    e.rdap_conformance = Some(conformance(false));
    e.notices = Some([tos_notice(c)]);
    e.port43 = c.port43;
    to_vec(&e, 4096)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Help<'a> {
    rdap_conformance: &'static [&'static str],
    notices: [Notice<'a>; 2],
}

/// `/help`.
pub fn help(c: &Ctx, tld: &str) -> Vec<u8> {
    let out = Help {
        rdap_conformance: conformance(false),
        notices: [
            tos_notice(c),
            Notice {
                title: "Help",
                description: Description::Owned(vec![
                    format!(
                        "RDAP service of the .{tld} registry (RFC 9082/9083, ICANN gTLD profile)."
                    ),
                    "Queries: /domain/NAME (A-label or U-label), /nameserver/NAME, /entity/IANA-ID, /help.".into(),
                    "Queries are rate-limited per client address.".into(),
                ]),
                links: [link(
                    c,
                    "self",
                    format!("{}help", c.base),
                    "application/rdap+json",
                )],
            },
        ],
    };
    to_vec(&out, 2048)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    rdap_conformance: &'static [&'static str],
    error_code: u16,
    title: &'a str,
    description: [&'a str; 1],
    notices: [Notice<'a>; 1],
}

/// An RDAP error body (RFC 9083 section 6).
pub fn error(code: u16, title: &str, description: &str, c: &Ctx) -> Vec<u8> {
    to_vec(
        &ErrorBody {
            rdap_conformance: conformance(false),
            error_code: code,
            title,
            description: [description],
            notices: [tos_notice(c)],
        },
        2048,
    )
}
