//! RDAP objects (RFC 9083) shaped by the ICANN gTLD RDAP Response Profile
//! and Technical Implementation Guide (February 2024).
//!
//! What each answer carries, and why:
//! - `rdapConformance`: `rdap_level_0`, `icann_rdap_response_profile_1`,
//!   `icann_rdap_technical_implementation_guide_1`, plus `redacted` when the
//!   answer has a `redacted` member (RFC 9537);
//! - `notices`: "Terms of Service" (link to `terms_url`) on every answer;
//!   domain answers add "Status Codes" (description and `glossary` link to
//!   https://icann.org/epp) and "RDDS Inaccuracy Complaint Form" (`help`
//!   link to https://icann.org/wicf), whose link `value` is the request URL;
//! - domain: `handle` (ROID), `ldhName`, `unicodeName` for IDNs, `status`
//!   in RFC 8056 names, events `registration`, `expiration`, `last changed`,
//!   `transfer`, `last update of RDAP database`; exactly one entity with
//!   role `registrar` (handle and `publicIds` "IANA Registrar ID" = the IANA
//!   ID, `fn`, an `about` link to the registrar URL, and a nested `abuse`
//!   entity with `fn`, `tel` (voice) and `email`); `registrant` and
//!   `technical` entities; `nameservers`; `secureDNS` with
//!   `delegationSigned` and `dsData`; a `self` link;
//! - redaction: with `[srs.whois] redact` the contact handle (removal), name
//!   (emptyValue), street, city and postal code (emptyValue), phone, fax and
//!   e-mail (removal) are withheld, each listed in `redacted` with the JSON
//!   path the profile expects; organisation, state/province and country stay.
//!
//! Limits: a registrar without a recorded RDAP base URL (`registrar update
//! --rdap-url`) gets its web URL as the `about` link; no `port43`
//! member unless `whois_listen` is set; contacts are not served as
//! top-level entities.
use crate::srs::model::Contact;
use crate::srs::model::Registrar;
use crate::srs::whois::view::{
    postal, rdap_status, shown, time, DomainView, Field, HostView, EPP_STATUS_URL, WICF_URL,
};
use serde_json::{json, Value};

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
}

pub fn conformance(redacted: bool) -> Value {
    let mut v = vec![
        "rdap_level_0",
        "icann_rdap_response_profile_1",
        "icann_rdap_technical_implementation_guide_1",
    ];
    if redacted {
        v.push("redacted");
    }
    json!(v)
}

fn link(value: &str, rel: &str, href: &str, typ: &str) -> Value {
    json!({ "value": value, "rel": rel, "href": href, "type": typ })
}

pub fn tos_notice(c: &Ctx) -> Value {
    json!({
        "title": "Terms of Service",
        "description": c.terms.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>(),
        "links": [link(&c.request_url, "terms-of-service", c.terms_url, "text/html")],
    })
}

fn domain_notices(c: &Ctx) -> Value {
    json!([
        tos_notice(c),
        {
            "title": "Status Codes",
            "description": ["For more information on domain status codes, please visit https://icann.org/epp"],
            "links": [link(&c.request_url, "glossary", EPP_STATUS_URL, "text/html")],
        },
        {
            "title": "RDDS Inaccuracy Complaint Form",
            "description": ["URL of the ICANN RDDS Inaccuracy Complaint Form: https://icann.org/wicf"],
            "links": [link(&c.request_url, "help", WICF_URL, "text/html")],
        },
    ])
}

fn event(action: &str, ts: i64) -> Value {
    json!({ "eventAction": action, "eventDate": time(ts) })
}

/// The registrar entity (profile 2.4): IANA ID, name, abuse contact.
pub fn registrar_entity(r: &Registrar, c: &Ctx, top: bool) -> Value {
    let handle = r.iana_id.to_string();
    let mut abuse_card = vec![
        json!(["version", {}, "text", "4.0"]),
        json!(["fn", {}, "text", format!("{} abuse contact", r.name)]),
    ];
    if let Some(p) = &r.abuse_phone {
        abuse_card.push(json!(["tel", {"type": "voice"}, "uri", format!("tel:{p}")]));
    }
    if let Some(e) = &r.abuse_email {
        abuse_card.push(json!(["email", {}, "text", e]));
    }
    let mut links = vec![];
    // profile 2.4.6: `about` is the registrar's RDAP base URL; without one
    // recorded, its web site (documented limit)
    match (&r.rdap_url, &r.url) {
        (Some(rd), _) => links.push(link(&c.request_url, "about", rd, "application/rdap+json")),
        (None, Some(u)) => links.push(link(&c.request_url, "about", u, "text/html")),
        (None, None) => {}
    }
    let self_url = format!("{}entity/{}", c.base, handle);
    links.push(link(
        &c.request_url,
        if top { "self" } else { "related" },
        &self_url,
        "application/rdap+json",
    ));
    let mut e = json!({
        "objectClassName": "entity",
        "handle": handle,
        "roles": ["registrar"],
        "publicIds": [{ "type": "IANA Registrar ID", "identifier": r.iana_id.to_string() }],
        "vcardArray": ["vcard", [
            ["version", {}, "text", "4.0"],
            ["fn", {}, "text", r.name],
        ]],
        "entities": [{
            "objectClassName": "entity",
            "roles": ["abuse"],
            "vcardArray": ["vcard", abuse_card],
        }],
        "links": links,
    });
    if top {
        e["status"] = json!(["active"]);
        e["events"] = json!([
            event("registration", r.created),
            event("last changed", r.updated)
        ]);
    }
    e
}

/// A contact entity with `role`; pushes its redactions onto `redacted`.
fn contact_entity(
    ct: &Contact,
    role: &str,
    label: &str,
    c: &Ctx,
    redacted: &mut Vec<Value>,
) -> Value {
    let sel = format!("$.entities[?(@.roles[0]=='{role}')]");
    let red = |name: String, method: &str, path_key: &str, path: String| {
        json!({
            "name": { "type": name },
            path_key: path,
            "pathLang": "jsonpath",
            "method": method,
            "reason": { "type": "Server policy" },
        })
    };
    let p = postal(ct);
    let mut card = vec![json!(["version", {}, "text", "4.0"])];
    let name = p.map(|p| p.name.clone()).unwrap_or_default();
    if shown(c.redact, ct, Field::Name) {
        card.push(json!(["fn", {}, "text", name]));
    } else {
        card.push(json!(["fn", {}, "text", ""]));
        redacted.push(red(
            format!("{label} Name"),
            "emptyValue",
            "postPath",
            format!("{sel}.vcardArray[1][?(@[0]=='fn')][3]"),
        ));
    }
    if let Some(org) = p.and_then(|p| p.org.clone()) {
        card.push(json!(["org", {}, "text", org]));
    }
    if let Some(p) = p {
        let addr_shown = shown(c.redact, ct, Field::Street);
        let street: Value = if addr_shown {
            json!(p.street)
        } else {
            json!("")
        };
        let city = if addr_shown {
            p.city.clone()
        } else {
            String::new()
        };
        let pc = if addr_shown {
            p.pc.clone().unwrap_or_default()
        } else {
            String::new()
        };
        card.push(json!(["adr", {"cc": p.cc}, "text",
            ["", "", street, city, p.sp.clone().unwrap_or_default(), pc, ""]]));
        if !addr_shown {
            for (what, idx) in [("Street", 2), ("City", 3), ("Postal Code", 5)] {
                redacted.push(red(
                    format!("{label} {what}"),
                    "emptyValue",
                    "postPath",
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
            if let Some(ph) = phone {
                let uri = match &ph.ext {
                    Some(x) => format!("tel:{};ext={x}", ph.number),
                    None => format!("tel:{}", ph.number),
                };
                card.push(json!(["tel", {"type": typ}, "uri", uri]));
            }
        } else {
            redacted.push(red(
                format!("{label} {what}"),
                "removal",
                "prePath",
                format!("{sel}.vcardArray[1][?(@[1].type=='{typ}')]"),
            ));
        }
    }
    if shown(c.redact, ct, Field::Email) {
        card.push(json!(["email", {}, "text", ct.email]));
    } else {
        redacted.push(red(
            format!("{label} Email"),
            "removal",
            "prePath",
            format!("{sel}.vcardArray[1][?(@[0]=='email')]"),
        ));
    }
    let mut e = json!({
        "objectClassName": "entity",
        "roles": [role],
        "vcardArray": ["vcard", card],
    });
    if shown(c.redact, ct, Field::Handle) {
        e["handle"] = json!(ct.id);
    } else {
        let id_label = if label == "Registrant" {
            "Registry Registrant ID".to_string()
        } else {
            format!("Registry {label} ID")
        };
        redacted.push(red(id_label, "removal", "prePath", format!("{sel}.handle")));
    }
    e
}

fn nameserver_brief(name: &str, c: &Ctx) -> Value {
    let mut v = json!({
        "objectClassName": "nameserver",
        "ldhName": name,
        "links": [link(&c.request_url, "related", &format!("{}nameserver/{name}", c.base), "application/rdap+json")],
    });
    if name.split('.').any(|l| l.starts_with("xn--")) {
        let (u, r) = idna::domain_to_unicode(name);
        if r.is_ok() {
            v["unicodeName"] = json!(u);
        }
    }
    v
}

/// A domain answer.
pub fn domain(v: &DomainView, c: &Ctx) -> Value {
    let d = &v.domain;
    let mut redacted = vec![];
    let mut entities = vec![];
    if let Some(r) = &v.registrar {
        entities.push(registrar_entity(r, c, false));
    }
    if let Some(ct) = &v.registrant {
        entities.push(contact_entity(
            ct,
            "registrant",
            "Registrant",
            c,
            &mut redacted,
        ));
    }
    if let Some(ct) = &v.tech {
        entities.push(contact_entity(ct, "technical", "Tech", c, &mut redacted));
    }
    let mut events = vec![
        event("registration", d.cr_date),
        event("expiration", d.ex_date),
    ];
    if let Some(u) = d.up_date {
        events.push(event("last changed", u));
    }
    if let Some(t) = d.tr_date {
        events.push(event("transfer", t));
    }
    events.push(event("last update of RDAP database", v.now));
    let mut out = json!({
        "rdapConformance": conformance(!redacted.is_empty()),
        "objectClassName": "domain",
        "handle": d.roid,
        "ldhName": d.name,
        "status": v.statuses.iter().map(|s| rdap_status(s)).collect::<Vec<_>>(),
        "events": events,
        "entities": entities,
        "nameservers": d.ns.iter().map(|n| nameserver_brief(n, c)).collect::<Vec<_>>(),
        "secureDNS": {
            "delegationSigned": !d.ds.is_empty(),
            "dsData": d.ds.iter().map(|ds| json!({
                "keyTag": ds.key_tag,
                "algorithm": ds.alg,
                "digestType": ds.digest_type,
                "digest": ds.digest,
            })).collect::<Vec<_>>(),
        },
        "links": [link(&c.request_url, "self", &format!("{}domain/{}", c.base, d.name), "application/rdap+json")],
        "notices": domain_notices(c),
    });
    if d.ds.is_empty() {
        if let Some(s) = out["secureDNS"].as_object_mut() {
            s.remove("dsData");
        }
    }
    if let Some(u) = &v.unicode {
        out["unicodeName"] = json!(u);
    }
    if let Some(p) = c.port43 {
        out["port43"] = json!(p);
    }
    if !redacted.is_empty() {
        out["redacted"] = json!(redacted);
    }
    out
}

/// A nameserver answer.
pub fn nameserver(v: &HostView, c: &Ctx) -> Value {
    let h = &v.host;
    let (v4, v6): (Vec<&std::net::IpAddr>, Vec<&std::net::IpAddr>) =
        h.addrs.iter().partition(|a| a.is_ipv4());
    let mut statuses: Vec<String> = crate::srs::model::object_statuses(&h.statuses, v.linked)
        .iter()
        .map(|s| rdap_status(s))
        .collect();
    statuses.dedup();
    let mut events = vec![event("registration", h.cr_date)];
    if let Some(u) = h.up_date {
        events.push(event("last changed", u));
    }
    events.push(event("last update of RDAP database", v.now));
    let mut out = json!({
        "rdapConformance": conformance(false),
        "objectClassName": "nameserver",
        "handle": h.roid,
        "ldhName": h.name,
        "status": statuses,
        "events": events,
        "entities": v.registrar.iter().map(|r| registrar_entity(r, c, false)).collect::<Vec<_>>(),
        "links": [link(&c.request_url, "self", &format!("{}nameserver/{}", c.base, h.name), "application/rdap+json")],
        "notices": [tos_notice(c)],
    });
    if !h.addrs.is_empty() {
        out["ipAddresses"] = json!({
            "v4": v4.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "v6": v6.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        });
    }
    if let Some(u) = &v.unicode {
        out["unicodeName"] = json!(u);
    }
    if let Some(p) = c.port43 {
        out["port43"] = json!(p);
    }
    out
}

/// A registrar answer (`/entity/{IANA ID or registrar ID}`).
pub fn entity(r: &Registrar, c: &Ctx) -> Value {
    let mut e = registrar_entity(r, c, true);
    e["rdapConformance"] = conformance(false);
    e["notices"] = json!([tos_notice(c)]);
    if let Some(p) = c.port43 {
        e["port43"] = json!(p);
    }
    e
}

/// `/help`.
pub fn help(c: &Ctx, tld: &str) -> Value {
    json!({
        "rdapConformance": conformance(false),
        "notices": [
            tos_notice(c),
            {
                "title": "Help",
                "description": [
                    format!("RDAP service of the .{tld} registry (RFC 9082/9083, ICANN gTLD profile)."),
                    "Queries: /domain/NAME (A-label or U-label), /nameserver/NAME, /entity/IANA-ID, /help.",
                    "Queries are rate-limited per client address.",
                ],
                "links": [link(&c.request_url, "self", &format!("{}help", c.base), "application/rdap+json")],
            }
        ],
    })
}

/// An RDAP error body (RFC 9083 section 6).
pub fn error(code: u16, title: &str, description: &str, c: &Ctx) -> Value {
    json!({
        "rdapConformance": conformance(false),
        "errorCode": code,
        "title": title,
        "description": [description],
        "notices": [tos_notice(c)],
    })
}
