//! Decoding contact commands (RFC 5733): check, info, create, update,
//! delete.
//!
//! Checked here: the handle (3-16 token characters, 2005); 1 or 2
//! postalInfo, at most one of each type (2001), each with `type` int or
//! loc (2005), name, `<addr>` with city and a two-letter country code
//! (2003 / 2005), at most three street lines (2001), `int` ASCII-only
//! (2005); phones `+CC.NUMBER` (an empty one is absent); e-mail
//! `local@domain`; authInfo (required on create, 6 to 64 characters);
//! `<disclose flag=..>` (only RFC 5733 fields, kept in its order); postal
//! lines at most 255 characters, postal codes 16 (2005); statuses (`add`
//! only client statuses a contact may carry, 2306).
//!
//! Not checked here (in [`crate::epp::contact`]): the check limit,
//! existence, sponsorship, status and links.
use super::Command;
use crate::epp::parse::{auth_pw, check_new_pw, opt, req, statuses};
use crate::epp::xml::{Elem, NS_CONTACT};
use crate::epp::xsd;
use crate::model::{Disclose, Phone, PostalInfo};
use crate::names::check_handle;
use crate::result::{err, EppResult};

/// `<contact:info>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactInfo {
    pub id: String,
    pub auth_pw: Option<String>,
}

/// `<contact:create>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactCreate {
    pub id: String,
    pub postal: Vec<PostalInfo>,
    pub voice: Option<Phone>,
    pub fax: Option<Phone>,
    pub email: String,
    pub auth_pw: String,
    pub disclose: Option<Disclose>,
}

/// `<contact:update>`. `Some(None)` for a phone clears it (an empty
/// element).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUpdate {
    pub id: String,
    pub add_statuses: Vec<String>,
    pub rem_statuses: Vec<String>,
    /// Replaces the postalInfo of the same type.
    pub postal: Vec<PostalInfo>,
    pub voice: Option<Option<Phone>>,
    pub fax: Option<Option<Phone>>,
    pub email: Option<String>,
    pub auth_pw: Option<String>,
    pub disclose: Option<Disclose>,
}

fn id_of(el: &Elem) -> EppResult<String> {
    let id = req(el, NS_CONTACT, "id")?;
    check_handle(&id)?;
    Ok(id)
}

fn postal(el: &Elem) -> EppResult<PostalInfo> {
    let kind = el.attr("type").unwrap_or("");
    if kind != "int" && kind != "loc" {
        return Err(err(2005, "postalInfo type must be int or loc"));
    }
    let addr = el
        .child(NS_CONTACT, "addr")
        .ok_or_else(|| err(2003, "<contact:addr> is required"))?;
    let street: Vec<String> = addr
        .all(NS_CONTACT, "street")
        .map(|s| s.text.clone())
        .collect();
    if street.len() > 3 {
        return Err(err(2001, "at most three street lines"));
    }
    let cc = req(addr, NS_CONTACT, "cc")?.to_ascii_uppercase();
    if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(err(2005, format!("country code {cc:?} is not two letters")));
    }
    // RFC 5733 §2.4.2: an ISO 3166-1 alpha-2 code, not any two letters.
    if isocountry::CountryCode::for_alpha2(&cc).is_err() {
        return Err(err(
            2005,
            format!("country code {cc:?} is not an ISO 3166-1 alpha-2 code"),
        ));
    }
    let p = PostalInfo {
        kind: kind.to_string(),
        name: req(el, NS_CONTACT, "name")?,
        org: opt(el, NS_CONTACT, "org"),
        street,
        city: req(addr, NS_CONTACT, "city")?,
        sp: opt(addr, NS_CONTACT, "sp"),
        pc: opt(addr, NS_CONTACT, "pc"),
        cc,
    };
    // RFC 5733 postalLineType / optPostalLineType (255), pcType (16):
    // what is stored is answered by info, so it must fit the schema
    let lines = [("name", &p.name), ("city", &p.city)]
        .into_iter()
        .chain(p.org.iter().map(|o| ("org", o)))
        .chain(p.street.iter().map(|s| ("street", s)))
        .chain(p.sp.iter().map(|s| ("sp", s)));
    for (what, v) in lines {
        if xsd::normalized_len(v) > 255 {
            return Err(err(
                2005,
                format!("<contact:{what}> is longer than 255 characters"),
            ));
        }
    }
    if p.pc.as_ref().is_some_and(|pc| xsd::token_len(pc) > 16) {
        return Err(err(2005, "<contact:pc> is longer than 16 characters"));
    }
    if kind == "int" {
        let all = [&p.name, &p.city]
            .into_iter()
            .chain(p.org.iter())
            .chain(p.street.iter())
            .chain(p.sp.iter())
            .chain(p.pc.iter());
        for s in all {
            if !s.is_ascii() {
                return Err(err(
                    2005,
                    "postalInfo type=\"int\" must be ASCII; use type=\"loc\"",
                ));
            }
        }
    }
    Ok(p)
}

fn postal_list(el: &Elem) -> EppResult<Vec<PostalInfo>> {
    let list: Vec<PostalInfo> = el
        .all(NS_CONTACT, "postalInfo")
        .map(postal)
        .collect::<EppResult<_>>()?;
    if list.len() > 2 || (list.len() == 2 && list[0].kind == list[1].kind) {
        return Err(err(2001, "at most one postalInfo of each type"));
    }
    Ok(list)
}

fn phone(e: &Elem) -> EppResult<Option<Phone>> {
    if e.text.is_empty() {
        return Ok(None);
    }
    if !crate::names::is_epp_phone(&e.text) {
        return Err(err(2005, format!("phone {:?} is not +CC.NUMBER", e.text)));
    }
    Ok(Some(Phone {
        number: e.text.clone(),
        ext: e.attr("x").filter(|x| !x.is_empty()).map(str::to_string),
    }))
}

fn email(s: &str) -> EppResult<String> {
    if !crate::names::is_email(s) {
        return Err(err(2005, format!("{s:?} is not an e-mail address")));
    }
    Ok(s.to_string())
}

/// The fields of `<contact:disclose>` in the order of RFC 5733's
/// `discloseType`: `name`, `org` and `addr` with a `type` (`int` or
/// `loc`), then `voice`, `fax`, `email`.
pub const DISCLOSE_FIELDS: [&str; 9] = [
    "name:int", "name:loc", "org:int", "org:loc", "addr:int", "addr:loc", "voice", "fax", "email",
];

/// Where `field` goes in a `<contact:disclose>` (`None`: not a field).
pub fn disclose_rank(field: &str) -> Option<usize> {
    DISCLOSE_FIELDS.iter().position(|f| *f == field)
}

/// `<contact:disclose flag="..">`: its fields, each once, kept in the
/// schema's order (so an info answer renders them validly whatever order
/// they came in); anything else is 2005.
fn disclose(el: Option<&Elem>) -> EppResult<Option<Disclose>> {
    let Some(d) = el else { return Ok(None) };
    let flag = match d.attr("flag") {
        Some("1") | Some("true") => true,
        Some("0") | Some("false") => false,
        _ => return Err(err(2005, "disclose needs flag=\"0\" or \"1\"")),
    };
    let mut fields = Vec::new();
    for c in &d.children {
        let f = match (c.name.as_str(), c.attr("type")) {
            ("name" | "org" | "addr", Some(t)) => format!("{}:{t}", c.name),
            ("name" | "org" | "addr", None) => {
                return Err(err(
                    2003,
                    format!(
                        "<contact:{}> in disclose needs type=\"int\" or \"loc\"",
                        c.name
                    ),
                ))
            }
            (n, _) => n.to_string(),
        };
        if c.ns != NS_CONTACT || disclose_rank(&f).is_none() {
            return Err(err(
                2005,
                format!("<{}> is not a disclose field of RFC 5733", c.name),
            ));
        }
        if !fields.contains(&f) {
            fields.push(f);
        }
    }
    fields.sort_by_key(|f| disclose_rank(f));
    Ok(Some(Disclose { flag, fields }))
}

pub fn check(el: &Elem) -> EppResult<Command> {
    let ids: Vec<String> = el.all(NS_CONTACT, "id").map(|i| i.text.clone()).collect();
    if ids.is_empty() {
        return Err(err(2003, "<contact:id> is required"));
    }
    // An answer may only echo a valid clIDType (see crate::epp::xsd).
    if let Some(bad) = ids.iter().find(|i| !xsd::is_cl_id(i)) {
        return Err(err(
            2005,
            format!("contact id {bad:?} must be 3 to 16 characters"),
        ));
    }
    Ok(Command::ContactCheck { ids })
}

pub fn info(el: &Elem) -> EppResult<Command> {
    let id = id_of(el)?;
    let auth_pw = auth_pw(el, NS_CONTACT)?;
    Ok(Command::ContactInfo(ContactInfo { id, auth_pw }))
}

pub fn create(el: &Elem) -> EppResult<Command> {
    let id = id_of(el)?;
    let postal = postal_list(el)?;
    if postal.is_empty() {
        return Err(err(2003, "<contact:postalInfo> is required"));
    }
    let voice = el.child(NS_CONTACT, "voice").map(phone).transpose()?;
    let fax = el.child(NS_CONTACT, "fax").map(phone).transpose()?;
    let email = email(&req(el, NS_CONTACT, "email")?)?;
    let pw = auth_pw(el, NS_CONTACT)?.ok_or_else(|| err(2003, "<contact:authInfo> is required"))?;
    check_new_pw(&pw)?;
    let disclose = disclose(el.child(NS_CONTACT, "disclose"))?;
    Ok(Command::ContactCreate(ContactCreate {
        id,
        postal,
        voice: voice.flatten(),
        fax: fax.flatten(),
        email,
        auth_pw: pw,
        disclose,
    }))
}

const ADDABLE: [&str; 3] = [
    "clientDeleteProhibited",
    "clientUpdateProhibited",
    "clientTransferProhibited",
];

pub fn update(el: &Elem) -> EppResult<Command> {
    let id = id_of(el)?;
    let add_statuses = match el.child(NS_CONTACT, "add") {
        Some(a) => statuses(a, NS_CONTACT)?,
        None => vec![],
    };
    let rem_statuses = match el.child(NS_CONTACT, "rem") {
        Some(r) => statuses(r, NS_CONTACT)?,
        None => vec![],
    };
    for s in &add_statuses {
        if !ADDABLE.contains(&s.as_str()) {
            return Err(err(
                2306,
                format!("status {s:?} cannot be set on a contact by a registrar"),
            ));
        }
    }
    let chg = el.child(NS_CONTACT, "chg");
    let postal = match chg {
        Some(c) => postal_list(c)?,
        None => vec![],
    };
    let voice = chg
        .and_then(|c| c.child(NS_CONTACT, "voice"))
        .map(phone)
        .transpose()?;
    let fax = chg
        .and_then(|c| c.child(NS_CONTACT, "fax"))
        .map(phone)
        .transpose()?;
    let new_email = chg
        .and_then(|c| opt(c, NS_CONTACT, "email"))
        .map(|e| email(&e))
        .transpose()?;
    let new_pw = match chg {
        Some(c) => auth_pw(c, NS_CONTACT)?,
        None => None,
    };
    if let Some(pw) = &new_pw {
        check_new_pw(pw)?;
    }
    let disclose = disclose(chg.and_then(|c| c.child(NS_CONTACT, "disclose")))?;
    Ok(Command::ContactUpdate(ContactUpdate {
        id,
        add_statuses,
        rem_statuses,
        postal,
        voice,
        fax,
        email: new_email,
        auth_pw: new_pw,
        disclose,
    }))
}

pub fn delete(el: &Elem) -> EppResult<Command> {
    Ok(Command::ContactDelete { id: id_of(el)? })
}
