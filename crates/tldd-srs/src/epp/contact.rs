//! Contact commands (RFC 5733): check, info, create, update, delete.
//!
//! Contact data is personal data: info by a registrar other than the
//! sponsor needs the contact's authInfo (2201 otherwise). Field rules:
//! handle 3-16 token characters; 1 or 2 postalInfo (`int` ASCII-only, `loc`
//! any script) each with name, city and a two-letter country code, at most
//! three street lines; e-mail `local@domain`; phone `+CC.NUMBER`. A linked
//! contact (used by a domain) cannot be deleted (2305). Contact transfer is
//! not offered (2101); contacts stay with their registrar. The commands
//! arrive decoded ([`super::command::contact`]).
use super::command::contact::disclose_rank;
use super::command::{ContactCreate, ContactInfo, ContactUpdate};
use super::response::Response;
use super::xml::esc;
use super::Ctx;
use crate::clock::fmt;
use crate::model::*;
use crate::names::check_handle;
use crate::result::{changed_statuses, err, refuse_if_prohibited, EppResult};
use std::fmt::Write;

const XMLNS: &str = "xmlns:contact=\"urn:ietf:params:xml:ns:contact-1.0\"";

fn sponsored(t: &crate::db::Txn, ctx: &Ctx, id: &str) -> EppResult<Contact> {
    let c = t
        .contact(id)?
        .ok_or_else(|| err(2303, format!("contact {id} does not exist")))?;
    if c.cl_id != ctx.clid {
        return Err(err(
            2201,
            format!("contact {id} is sponsored by another registrar"),
        ));
    }
    Ok(c)
}

pub fn check(ctx: &Ctx, ids: &[String]) -> EppResult<Response> {
    if ids.len() > ctx.policy.p.max_check {
        return Err(err(
            2306,
            format!("at most {} ids per check", ctx.policy.p.max_check),
        ));
    }
    let r = ctx.store.read();
    let mut s = format!("<contact:chkData {XMLNS}>");
    for i in ids {
        let reason = match check_handle(i) {
            Err(e) => Some(e.check),
            Ok(()) if r.contact(i)?.is_some() => Some("In use"),
            Ok(()) => None,
        };
        let _ = write!(
            s,
            "<contact:cd><contact:id avail=\"{}\">{}</contact:id>",
            u8::from(reason.is_none()),
            esc(i)
        );
        if let Some(reason) = reason {
            let _ = write!(s, "<contact:reason>{}</contact:reason>", esc(reason));
        }
        s.push_str("</contact:cd>");
    }
    s.push_str("</contact:chkData>");
    Ok(Response::with_data(1000, s))
}

pub fn info(ctx: &Ctx, q: &ContactInfo) -> EppResult<Response> {
    let (id, pw) = (&q.id, &q.auth_pw);
    let r = ctx.store.read();
    let c = r
        .contact(id)?
        .ok_or_else(|| err(2303, format!("contact {id} does not exist")))?;
    let sponsor = c.cl_id == ctx.clid;
    match pw.as_deref() {
        // RFC 5733 §3.1.2: authInfo that does not match is 2202.
        Some(p) if !sponsor && p != c.auth_pw.as_str() => {
            return Err(err(
                2202,
                format!("authInfo for contact {id} does not match"),
            ))
        }
        None if !sponsor => {
            return Err(err(
                2201,
                format!("contact {id} is sponsored by another registrar"),
            ))
        }
        _ => {}
    }
    let linked = !r.contact_links(id)?.is_empty();
    let mut s = format!(
        "<contact:infData {XMLNS}><contact:id>{}</contact:id><contact:roid>{}</contact:roid>",
        esc(&c.id),
        esc(&c.roid)
    );
    for st in object_statuses(&c.statuses, linked) {
        let _ = write!(s, "<contact:status s=\"{st}\"/>");
    }
    for p in &c.postal {
        let _ = write!(
            s,
            "<contact:postalInfo type=\"{}\"><contact:name>{}</contact:name>",
            p.kind,
            esc(&p.name)
        );
        if let Some(o) = &p.org {
            let _ = write!(s, "<contact:org>{}</contact:org>", esc(o));
        }
        s.push_str("<contact:addr>");
        for st in &p.street {
            let _ = write!(s, "<contact:street>{}</contact:street>", esc(st));
        }
        let _ = write!(s, "<contact:city>{}</contact:city>", esc(&p.city));
        if let Some(sp) = &p.sp {
            let _ = write!(s, "<contact:sp>{}</contact:sp>", esc(sp));
        }
        if let Some(pc) = &p.pc {
            let _ = write!(s, "<contact:pc>{}</contact:pc>", esc(pc));
        }
        let _ = write!(
            s,
            "<contact:cc>{}</contact:cc></contact:addr></contact:postalInfo>",
            esc(&p.cc)
        );
    }
    for (tag, ph) in [("voice", &c.voice), ("fax", &c.fax)] {
        if let Some(ph) = ph {
            match &ph.ext {
                Some(x) => {
                    let _ = write!(
                        s,
                        "<contact:{tag} x=\"{}\">{}</contact:{tag}>",
                        esc(x),
                        esc(&ph.number)
                    );
                }
                None => {
                    let _ = write!(s, "<contact:{tag}>{}</contact:{tag}>", esc(&ph.number));
                }
            }
        }
    }
    let _ = write!(
        s,
        "<contact:email>{}</contact:email><contact:clID>{}</contact:clID><contact:crID>{}</contact:crID><contact:crDate>{}</contact:crDate>",
        esc(&c.email),
        esc(&c.cl_id),
        esc(&c.cr_id),
        fmt(c.cr_date)
    );
    if let (Some(u), Some(d)) = (&c.up_id, c.up_date) {
        let _ = write!(
            s,
            "<contact:upID>{}</contact:upID><contact:upDate>{}</contact:upDate>",
            esc(u),
            fmt(d)
        );
    }
    if let Some(d) = c.tr_date {
        let _ = write!(s, "<contact:trDate>{}</contact:trDate>", fmt(d));
    }
    if sponsor {
        let _ = write!(
            s,
            "<contact:authInfo><contact:pw>{}</contact:pw></contact:authInfo>",
            esc(&c.auth_pw)
        );
    }
    if let Some(d) = &c.disclose {
        let _ = write!(s, "<contact:disclose flag=\"{}\">", u8::from(d.flag));
        // in the schema's order; a field that is not one (stored by an
        // older build) is left out
        let mut fields: Vec<&String> = d
            .fields
            .iter()
            .filter(|f| disclose_rank(f).is_some())
            .collect();
        fields.sort_by_key(|f| disclose_rank(f));
        fields.dedup();
        for f in fields {
            match f.split_once(':') {
                Some((n, t)) => {
                    let _ = write!(s, "<contact:{n} type=\"{t}\"/>");
                }
                None => {
                    let _ = write!(s, "<contact:{f}/>");
                }
            }
        }
        s.push_str("</contact:disclose>");
    }
    s.push_str("</contact:infData>");
    Ok(Response::with_data(1000, s))
}

pub fn create(ctx: &Ctx, c: ContactCreate) -> EppResult<Response> {
    let ContactCreate {
        id,
        postal,
        voice,
        fax,
        email,
        auth_pw: pw,
        disclose,
    } = c;
    let cr = ctx.store.write(|t| -> EppResult<i64> {
        if t.contact(&id)?.is_some() {
            return Err(err(2302, format!("contact {id} exists")));
        }
        let now = t.now();
        t.put_contact(&Contact {
            id: id.clone(),
            roid: t.new_roid('C')?,
            postal: postal.clone(),
            voice: voice.clone(),
            fax: fax.clone(),
            email: email.clone(),
            auth_pw: pw.clone(),
            disclose: disclose.clone(),
            statuses: Default::default(),
            cl_id: ctx.clid.to_string(),
            cr_id: ctx.clid.to_string(),
            cr_date: now,
            up_id: None,
            up_date: None,
            tr_date: None,
        });
        Ok(now)
    })?;
    Ok(Response::with_data(
        1000,
        format!("<contact:creData {XMLNS}><contact:id>{}</contact:id><contact:crDate>{}</contact:crDate></contact:creData>", esc(&id), fmt(cr)),
    ))
}

pub fn update(ctx: &Ctx, u: ContactUpdate) -> EppResult<Response> {
    let ContactUpdate {
        id,
        add_statuses: add_st,
        rem_statuses: rem_st,
        postal,
        voice,
        fax,
        email: new_email,
        auth_pw: new_pw,
        disclose: new_disclose,
    } = u;
    ctx.store.write(|t| -> EppResult<()> {
        let old = sponsored(t, ctx, &id)?;
        let mut c = old.clone();
        c.statuses = changed_statuses("contact", &id, &old.statuses, &rem_st, &add_st)?;
        for p in &postal {
            c.postal.retain(|x| x.kind != p.kind);
            c.postal.push(p.clone());
        }
        if let Some(v) = &voice {
            c.voice = v.clone();
        }
        if let Some(f) = &fax {
            c.fax = f.clone();
        }
        if let Some(e) = &new_email {
            c.email = e.clone();
        }
        if let Some(pw) = &new_pw {
            c.auth_pw = pw.clone();
        }
        if new_disclose.is_some() {
            c.disclose = new_disclose.clone();
        }
        c.up_id = Some(ctx.clid.to_string());
        c.up_date = Some(t.now());
        t.put_contact(&c);
        Ok(())
    })?;
    Ok(Response::ok())
}

pub fn delete(ctx: &Ctx, id: &str) -> EppResult<Response> {
    ctx.store.write(|t| -> EppResult<()> {
        let c = sponsored(t, ctx, id)?;
        refuse_if_prohibited(&c.statuses, "Delete", &format!("contact {id}"))?;
        let links = t.contact_links(id)?;
        if !links.is_empty() {
            return Err(err(
                2305,
                format!("contact {id} is used by {}", links.join(", ")),
            ));
        }
        t.del_contact(id);
        Ok(())
    })?;
    Ok(Response::ok())
}
