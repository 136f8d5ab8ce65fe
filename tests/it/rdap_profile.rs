//! The February 2024 gTLD RDAP Response Profile and TIG, and RFC 9537, on
//! real answers of the `tldd srs` binary over HTTP, with the members ICANN's
//! rdap-conformance-tool checks: a redacted registrant or technical e-mail
//! is replaced (`email` with `[srs.whois] contact_email_replacement`,
//! `contact-uri` with `contact_form_url`, or by default `contact-uri` to
//! the registrar of record's RDAP answer and the Whois text as a remark),
//! with its `redacted` entry (`replacementValue` and the profile's paths);
//! the top-level `related` link to the registrar's RDAP (TIG 3.2), and a
//! remark when the registrar has no RDAP base URL; the registrar's `about`
//! link (profile 2.4.6); `tel:` URIs per RFC 3966 on every card (domain,
//! nameserver, registrar entity); a not-found error body. Whois (the
//! Debian client) must print the same replacement as RDAP.
use crate::rdap_service::{
    check_conformance, entities_with_role, get, notice, redaction, strs, vcard,
};
use crate::support::whois::*;
use serde_json::Value;

const REG: &str = "$.entities[?(@.roles[0]=='registrant')]";
const TECH: &str = "$.entities[?(@.roles[0]=='technical')]";

/// RFC 3966 global number as the profile wants it: `tel:+` digits and
/// `-` separators (no `.`), an optional `;ext=` with digits.
fn check_tel(uri: &str) {
    let rest = uri
        .strip_prefix("tel:+")
        .unwrap_or_else(|| panic!("{uri}: not tel:+..."));
    let (num, ext) = match rest.split_once(";ext=") {
        Some((n, x)) => (n, Some(x)),
        None => (rest, None),
    };
    assert!(
        num.starts_with(|c: char| c.is_ascii_digit())
            && num.ends_with(|c: char| c.is_ascii_digit())
            && num.chars().all(|c| c.is_ascii_digit() || c == '-')
            && !num.contains("--"),
        "{uri}: not an RFC 3966 global number"
    );
    if let Some(x) = ext {
        assert!(
            !x.is_empty() && x.chars().all(|c| c.is_ascii_digit()),
            "{uri}"
        );
    }
}

/// Every `tel` property of `e` and of the entities inside it: value type
/// `uri`, a `type` of voice or fax, an RFC 3966 value. Returns the count.
fn check_tels(e: &Value) -> usize {
    let mut n = 0;
    if e.get("vcardArray").is_some() {
        for t in vcard(e, "tel") {
            assert_eq!(t[2], "uri", "{t}");
            let ty = t[1]["type"].as_str().unwrap_or("");
            assert!(ty == "voice" || ty == "fax", "{t}");
            check_tel(t[3].as_str().unwrap());
            n += 1;
        }
    }
    for sub in e["entities"].as_array().into_iter().flatten() {
        n += check_tels(sub);
    }
    n
}

fn link<'a>(v: &'a Value, rel: &str) -> Option<&'a Value> {
    v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == rel)
}

fn remark<'a>(e: &'a Value, title: &str) -> Option<&'a Value> {
    e["remarks"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["title"] == title))
}

fn one<'a>(v: &'a Value, role: &str) -> &'a Value {
    let e = entities_with_role(v, role);
    assert_eq!(e.len(), 1, "one {role} entity");
    e[0]
}

/// The domain answer's registrar `related` link (TIG 2024 3.2) and the
/// registrar's `about` link (profile 2024 2.4.6).
fn check_registrar_links(v: &Value, request_url: &str) {
    let rel = link(v, "related").expect("a top-level related link (TIG 3.2)");
    assert_eq!(
        rel["href"], "https://rdap.reg-a.example/domain/example.shop",
        "{rel}"
    );
    assert_eq!(rel["type"], "application/rdap+json");
    assert_eq!(rel["value"], request_url);
    let about = link(one(v, "registrar"), "about").unwrap();
    assert_eq!(about["value"], "https://rdap.reg-a.example/");
    assert_eq!(about["href"], "https://www.reg-a.example");
    assert!(remark(one(v, "registrar"), "Registrar RDAP base URL").is_none());
}

/// The nameserver, the registrar entity and a not-found, as the profile
/// wants them (tel URIs on each card, conformance, notices).
fn check_other_objects(port: u16) {
    let (st, _, ns) = get(port, "/nameserver/ns1.example.shop");
    assert_eq!(st, 200);
    check_conformance(&ns, false);
    assert!(ns["handle"].as_str().unwrap().ends_with("-SHOP"));
    assert_eq!(ns["ldhName"], "ns1.example.shop");
    assert_eq!(strs(&ns["status"]), ["active", "associated"]);
    assert!(check_tels(one(&ns, "registrar")) >= 1);
    notice(&ns, "Terms of Service");

    let (st, _, e) = get(port, "/entity/9999");
    assert_eq!(st, 200);
    check_conformance(&e, false);
    assert_eq!(strs(&e["roles"]), ["registrar"]);
    // voice and fax of the registrar, voice of its abuse contact
    assert_eq!(check_tels(&e), 3, "{}", e["vcardArray"]);
    assert!(!vcard(&e, "email").is_empty() && !vcard(&e, "adr").is_empty());
    assert_eq!(
        link(&e, "about").unwrap()["href"],
        "https://www.reg-a.example"
    );

    // profile 2.11 (-65300) asks for /domain/not-a-domain.invalid
    for path in ["/domain/not-a-domain.shop", "/domain/not-a-domain.invalid"] {
        let (st, h, nf) = get(port, path);
        assert_eq!(st, 404, "{path}");
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
        assert_eq!(nf["errorCode"], 404);
        check_conformance(&nf, false);
        notice(&nf, "Terms of Service");
    }
}

/// `[srs.whois] contact_email_replacement`: the relay address in the
/// vCard `email` of registrant and tech, `replacementValue` with the
/// `postPath` of that value, and the same address in Whois.
#[test]
fn rdap_profile_email_replacement() {
    let mut fx = start(
        "allow = [\"127.0.0.1/32\"]\ncontact_email_replacement = \"relay@nic.shop\"",
        "",
    );
    let port = fx.rdap_port;
    let url = format!("http://127.0.0.1:{port}/domain/example.shop");
    let (st, _, v) = get(port, "/domain/example.shop");
    assert_eq!(st, 200);
    check_conformance(&v, true);
    for (role, sel, label) in [
        ("registrant", REG, "Registrant"),
        ("technical", TECH, "Tech"),
    ] {
        let e = one(&v, role);
        let emails = vcard(e, "email");
        assert_eq!(emails.len(), 1, "{role}: {}", e["vcardArray"]);
        assert_eq!(emails[0][3], "relay@nic.shop");
        assert!(vcard(e, "contact-uri").is_empty(), "not both (-64100)");
        let r = redaction(&v, &format!("{label} Email"));
        assert_eq!(r["method"], "replacementValue", "{r}");
        assert_eq!(r["pathLang"], "jsonpath");
        assert_eq!(
            r["postPath"],
            format!("{sel}.vcardArray[1][?(@[0]=='email')][3]"),
            "{r}"
        );
        assert!(r.get("prePath").is_none() && r.get("replacementPath").is_none());
    }
    assert!(!v.to_string().contains("test@example.net"));
    check_registrar_links(&v, &url);
    assert!(check_tels(one(&v, "registrar")) >= 1);
    check_other_objects(port);

    // Whois prints the same replacement
    let w = whois_client(fx.whois_port, "example.shop");
    assert_eq!(values(&w, "Registrant Email"), ["relay@nic.shop"], "{w}");
    assert_eq!(values(&w, "Tech Email"), ["relay@nic.shop"], "{w}");
    fx.srs.stop();
}

/// `[srs.whois] contact_form_url`: `contact-uri` with the form in place of
/// the e-mail (`prePath` the e-mail, `replacementPath` the contact-uri),
/// and the same URL in Whois.
#[test]
fn rdap_profile_contact_form() {
    let mut fx = start(
        "allow = [\"127.0.0.1/32\"]\ncontact_form_url = \"https://nic.shop/contact\"",
        "",
    );
    let port = fx.rdap_port;
    let (_, _, v) = get(port, "/domain/example.shop");
    for (role, sel, label) in [
        ("registrant", REG, "Registrant"),
        ("technical", TECH, "Tech"),
    ] {
        let e = one(&v, role);
        assert!(vcard(e, "email").is_empty(), "not both (-64100)");
        let cu = vcard(e, "contact-uri");
        assert_eq!(cu.len(), 1, "{role}: {}", e["vcardArray"]);
        assert_eq!(cu[0][2], "uri");
        assert_eq!(cu[0][3], "https://nic.shop/contact");
        let r = redaction(&v, &format!("{label} Email"));
        assert_eq!(r["method"], "replacementValue", "{r}");
        assert_eq!(
            r["prePath"],
            format!("{sel}.vcardArray[1][?(@[0]=='email')]")
        );
        assert_eq!(
            r["replacementPath"],
            format!("{sel}.vcardArray[1][?(@[0]=='contact-uri')]")
        );
    }
    let w = whois_client(fx.whois_port, "example.shop");
    assert_eq!(
        values(&w, "Registrant Email"),
        ["https://nic.shop/contact"],
        "{w}"
    );
    assert_eq!(
        values(&w, "Tech Email"),
        ["https://nic.shop/contact"],
        "{w}"
    );
    fx.srs.stop();
}

/// Neither key set: `contact-uri` is the registrar of record's RDAP answer
/// for the domain, and the contact carries, as a remark, exactly the text
/// Whois prints as its e-mail. A registrar without an RDAP base URL: no
/// `related` link, a remark saying so on the registrar entity, and the
/// contact-uri falls back to the registrar's web site.
#[test]
fn rdap_profile_registrar_pointer() {
    let mut fx = start("allow = [\"127.0.0.1/32\"]", "");
    let port = fx.rdap_port;
    let url = format!("http://127.0.0.1:{port}/domain/example.shop");
    let (_, _, v) = get(port, "/domain/example.shop");
    check_registrar_links(&v, &url);
    let w = whois_client(fx.whois_port, "example.shop");
    let whois_email = values(&w, "Registrant Email");
    assert_eq!(whois_email.len(), 1, "{w}");
    assert!(
        whois_email[0].starts_with("Please query the RDDS service of the Registrar of Record"),
        "{w}"
    );
    assert_eq!(values(&w, "Tech Email"), whois_email);
    for (role, label) in [("registrant", "Registrant"), ("technical", "Tech")] {
        let e = one(&v, role);
        assert_eq!(
            vcard(e, "contact-uri")[0][3],
            "https://rdap.reg-a.example/domain/example.shop",
            "{role}"
        );
        let rm = remark(e, "Email").unwrap_or_else(|| panic!("{role}: no Email remark: {e}"));
        assert_eq!(rm["description"][0], whois_email[0].as_str(), "{role}");
        assert_eq!(
            redaction(&v, &format!("{label} Email"))["method"],
            "replacementValue"
        );
    }

    // a registrant without an organisation: "Registrant Organization"
    // listed as removed (profile 2024 2.7.4.2, -63300)
    assert!(!vcard(one(&v, "registrant"), "org").is_empty());
    assert!(v["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["name"]["type"] != "Registrant Organization"));
    let mut c2 = crate::support::srs::contact("ca-2");
    c2["postalInfo"]["int"]
        .as_object_mut()
        .unwrap()
        .remove("org");
    fx.epp
        .expect(1000, "create_contact", serde_json::json!([c2]));
    fx.epp.expect(
        1000,
        "create_domain",
        serde_json::json!([{
            "name": "noorg.shop", "period": 1, "registrant": "ca-2",
            "contacts": { "admin": "ca-2", "tech": "ca-2" }, "authInfo": "dom-Pass1",
        }]),
    );
    let (st, _, n) = get(port, "/domain/noorg.shop");
    assert_eq!(st, 200);
    assert!(vcard(one(&n, "registrant"), "org").is_empty());
    let r = redaction(&n, "Registrant Organization");
    assert_eq!(r["method"], "removal");
    assert_eq!(r["prePath"], format!("{REG}.vcardArray[1][?(@[0]=='org')]"));

    // the registrar's RDAP base URL cleared
    fx.srs
        .ok(&["registrar", "update", "--id", "reg-a", "--rdap-url", ""]);
    let (_, _, v) = get(port, "/domain/example.shop");
    assert!(link(&v, "related").is_none(), "{}", v["links"]);
    let r = one(&v, "registrar");
    let rm = remark(r, "Registrar RDAP base URL").expect("the registrar entity says so");
    assert!(
        rm["description"][0]
            .as_str()
            .unwrap()
            .contains("has not provided an RDAP base URL"),
        "{rm}"
    );
    assert_eq!(
        vcard(one(&v, "registrant"), "contact-uri")[0][3],
        "https://www.reg-a.example"
    );
    // the about link still gives the Registrar URL
    assert_eq!(
        link(r, "about").unwrap()["href"],
        "https://www.reg-a.example"
    );
    fx.srs.stop();
}
