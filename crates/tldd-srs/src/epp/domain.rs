//! Applying domain commands (RFC 5731 with hostObj, RFC 5910 secDNS
//! dsData, RFC 3915 restore): check, info, create, update, restore, delete,
//! renew. Transfers are in [`super::transfer`]. The commands arrive decoded
//! ([`super::command::domain`]); this module checks policy and the store
//! and renders the answer.
//!
//! Authorization: only the sponsoring registrar may update, delete or renew;
//! info by another registrar without the right authInfo returns the public
//! subset (no contacts, no authInfo). Contacts used by a domain must be
//! sponsored by the same registrar; any existing host may be a name server.
//! Policy violations are 2306 with a reason naming the rule.
use super::command::{
    DomainCreate, DomainInfo, DomainRenew, DomainRestore, DomainUpdate, RestoreOp,
};
use super::response::{render_ds, Response};
use super::xml::{esc, NS_RGP, NS_SECDNS};
use super::Ctx;
use crate::clock::{add_years, date_of, fmt, fmt_date};
use crate::db::Txn;
use crate::lifecycle::charge;
use crate::model::*;
use crate::names::{canonical, check_domain_name};
use crate::result::{err, refuse_if_prohibited, EppResult};
use std::fmt::Write;

const XMLNS: &str = "xmlns:domain=\"urn:ietf:params:xml:ns:domain-1.0\"";

/// Loads a domain the caller sponsors (2303 / 2201 otherwise).
pub fn sponsored(t: &Txn, ctx: &Ctx, name: &str) -> EppResult<Domain> {
    let d = t
        .domain(name)?
        .ok_or_else(|| err(2303, format!("domain {name} does not exist")))?;
    if d.cl_id != ctx.clid {
        return Err(err(
            2201,
            format!("domain {name} is sponsored by another registrar"),
        ));
    }
    Ok(d)
}

pub fn check(ctx: &Ctx, names: &[String]) -> EppResult<Response> {
    if names.len() > ctx.policy.p.max_check {
        return Err(err(
            2306,
            format!("at most {} names per check", ctx.policy.p.max_check),
        ));
    }
    let r = ctx.store.read();
    let mut s = format!("<domain:chkData {XMLNS}>");
    for n in names {
        let name = canonical(n);
        let reason = match check_domain_name(&name, ctx.tld(), &ctx.policy.p.reserved) {
            Err(e) => Some(e.check),
            Ok(()) if r.domain(&name)?.is_some() => Some("In use"),
            Ok(()) => None,
        };
        let _ = write!(
            s,
            "<domain:cd><domain:name avail=\"{}\">{}</domain:name>",
            u8::from(reason.is_none()),
            esc(n)
        );
        if let Some(reason) = reason {
            let _ = write!(s, "<domain:reason>{}</domain:reason>", esc(reason));
        }
        s.push_str("</domain:cd>");
    }
    s.push_str("</domain:chkData>");
    Ok(Response::with_data(1000, s))
}

pub fn info(ctx: &Ctx, c: &DomainInfo) -> EppResult<Response> {
    let (name, hosts, pw) = (&c.name, c.hosts, &c.auth_pw);
    let r = ctx.store.read();
    let now = r.now();
    let d = r
        .domain(name)?
        .ok_or_else(|| err(2303, format!("domain {name} does not exist")))?;
    let full = d.cl_id == ctx.clid || pw.as_deref() == Some(d.auth_pw.as_str());
    if pw.is_some() && !full {
        return Err(err(2202, "authInfo does not match"));
    }
    let mut s = format!(
        "<domain:infData {XMLNS}><domain:name>{}</domain:name><domain:roid>{}</domain:roid>",
        esc(&d.name),
        esc(&d.roid)
    );
    for st in d.epp_statuses() {
        let _ = write!(s, "<domain:status s=\"{st}\"/>");
    }
    if full {
        if let Some(reg) = &d.registrant {
            let _ = write!(s, "<domain:registrant>{}</domain:registrant>", esc(reg));
        }
        for (kind, id) in &d.contacts {
            let _ = write!(
                s,
                "<domain:contact type=\"{}\">{}</domain:contact>",
                kind.as_str(),
                esc(id)
            );
        }
    }
    if hosts.delegated() && !d.ns.is_empty() {
        s.push_str("<domain:ns>");
        for h in &d.ns {
            let _ = write!(s, "<domain:hostObj>{}</domain:hostObj>", esc(h));
        }
        s.push_str("</domain:ns>");
    }
    if full && hosts.subordinate() {
        for h in r.subordinates(&d.name)? {
            let _ = write!(s, "<domain:host>{}</domain:host>", esc(&h));
        }
    }
    let _ = write!(
        s,
        "<domain:clID>{}</domain:clID><domain:crID>{}</domain:crID><domain:crDate>{}</domain:crDate>",
        esc(&d.cl_id),
        esc(&d.cr_id),
        fmt(d.cr_date)
    );
    if let (Some(id), Some(date)) = (&d.up_id, d.up_date) {
        let _ = write!(
            s,
            "<domain:upID>{}</domain:upID><domain:upDate>{}</domain:upDate>",
            esc(id),
            fmt(date)
        );
    }
    let _ = write!(s, "<domain:exDate>{}</domain:exDate>", fmt(d.ex_date));
    if let Some(tr) = d.tr_date {
        let _ = write!(s, "<domain:trDate>{}</domain:trDate>", fmt(tr));
    }
    if full {
        let _ = write!(
            s,
            "<domain:authInfo><domain:pw>{}</domain:pw></domain:authInfo>",
            esc(&d.auth_pw)
        );
    }
    s.push_str("</domain:infData>");
    let mut ext = String::new();
    let rgp = d.rgp_statuses(now);
    if !rgp.is_empty() {
        let _ = write!(ext, "<rgp:infData xmlns:rgp=\"{NS_RGP}\">");
        for st in rgp {
            let _ = write!(ext, "<rgp:rgpStatus s=\"{st}\"/>");
        }
        ext.push_str("</rgp:infData>");
    }
    if !d.ds.is_empty() {
        let _ = write!(
            ext,
            "<secDNS:infData xmlns:secDNS=\"{NS_SECDNS}\">{}</secDNS:infData>",
            render_ds(&d.ds)
        );
    }
    let mut resp = Response::with_data(1000, s);
    if !ext.is_empty() {
        resp.extension = Some(ext);
    }
    Ok(resp)
}

/// Checks that hosts exist and contacts exist and are ours.
fn check_links(t: &Txn, ctx: &Ctx, ns: &[String], contacts: &[String]) -> EppResult<()> {
    for h in ns {
        if t.host(h)?.is_none() {
            return Err(err(2303, format!("host {h} does not exist")));
        }
    }
    for c in contacts {
        match t.contact(c)? {
            None => return Err(err(2303, format!("contact {c} does not exist"))),
            Some(k) if k.cl_id != ctx.clid => {
                return Err(err(
                    2201,
                    format!("contact {c} is sponsored by another registrar"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_ns_policy(ctx: &Ctx, ns: &[String]) -> EppResult<()> {
    if ns.len() > ctx.policy.p.max_ns {
        return Err(err(
            2306,
            format!("at most {} name servers", ctx.policy.p.max_ns),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for h in ns {
        if !seen.insert(h) {
            return Err(err(2306, format!("name server {h} is listed twice")));
        }
    }
    Ok(())
}

fn check_ds_policy(ctx: &Ctx, ds: &[DsData]) -> EppResult<()> {
    if ds.len() > ctx.policy.p.max_ds {
        return Err(err(
            2306,
            format!("at most {} DS records", ctx.policy.p.max_ds),
        ));
    }
    Ok(())
}

/// Create; the deferred syntax results of `c` are answered between the
/// policy checks, where the handler always checked them.
pub fn create(ctx: &Ctx, c: DomainCreate) -> EppResult<Response> {
    let name = c.name;
    check_domain_name(&name, ctx.tld(), &ctx.policy.p.reserved)?;
    let years = c.years?.unwrap_or(ctx.policy.p.min_years);
    let p = &ctx.policy.p;
    if years < p.min_years || years > p.max_years {
        return Err(err(
            2004,
            format!("period must be {}..{} years", p.min_years, p.max_years),
        ));
    }
    let ns = c.ns?;
    check_ns_policy(ctx, &ns)?;
    let registrant = c.registrant;
    let contacts = c.contacts?;
    let pw = c.auth_pw?;
    let ds = c.ds?;
    check_ds_policy(ctx, &ds)?;
    let all_contacts: Vec<String> = registrant
        .iter()
        .cloned()
        .chain(contacts.iter().map(|(_, c)| c.clone()))
        .collect();
    let (cr, ex) = ctx.store.write(|t| -> EppResult<(i64, i64)> {
        if t.domain(&name)?.is_some() {
            return Err(err(2302, format!("domain {name} exists")));
        }
        check_links(t, ctx, &ns, &all_contacts)?;
        // A thick registry (.shop, question 26): every domain has a
        // registrant. Checked after the names it links to, so those
        // errors keep their own codes.
        if registrant.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(err(
                2003,
                "registrant missing: every domain in this registry has one",
            ));
        }
        let now = t.now();
        let amount = ctx.policy.fees.create * years as i64;
        charge(t, now, ctx.clid, LedgerKind::Create, &name, years, amount)?;
        let d = Domain {
            name: name.clone(),
            roid: t.new_roid('D')?,
            registrant: registrant.clone(),
            contacts: contacts.clone(),
            ns: ns.clone(),
            ds: ds.clone(),
            statuses: Default::default(),
            cl_id: ctx.clid.to_string(),
            cr_id: ctx.clid.to_string(),
            cr_date: now,
            up_id: None,
            up_date: None,
            ex_date: add_years(now, years as i32),
            tr_date: None,
            auth_pw: pw.clone(),
            grace: vec![ctx
                .policy
                .grace(GraceKind::Add, now, ctx.clid, amount, years)],
            rgp: Rgp::Active,
            transfer: None,
        };
        t.put_domain(None, &d);
        Ok((d.cr_date, d.ex_date))
    })?;
    Ok(Response::with_data(
        1000,
        format!(
            "<domain:creData {XMLNS}><domain:name>{}</domain:name><domain:crDate>{}</domain:crDate><domain:exDate>{}</domain:exDate></domain:creData>",
            esc(&name),
            fmt(cr),
            fmt(ex)
        ),
    ))
}

pub fn update(ctx: &Ctx, c: DomainUpdate) -> EppResult<Response> {
    let DomainUpdate {
        name,
        add,
        rem,
        registrant: new_registrant,
        auth_pw: new_pw,
        secdns,
    } = c;
    let (ds_rem_all, ds_rem, ds_add) = (secdns.rem_all, secdns.rem, secdns.add);
    ctx.store.write(|t| -> EppResult<()> {
        let old = sponsored(t, ctx, &name)?;
        let now = t.now();
        if old.rgp != Rgp::Active {
            return Err(err(
                2304,
                format!("{name} is pending delete; only restore is allowed"),
            ));
        }
        if old.pending_transfer().is_some() {
            return Err(err(2304, format!("{name} has a pending transfer")));
        }
        if old.has("serverUpdateProhibited") {
            return Err(err(
                2304,
                format!("{name} has status serverUpdateProhibited"),
            ));
        }
        if old.has("clientUpdateProhibited")
            && !rem.statuses.iter().any(|s| s == "clientUpdateProhibited")
        {
            return Err(err(
                2304,
                format!("{name} has status clientUpdateProhibited"),
            ));
        }
        let mut d = old.clone();
        for s in &rem.statuses {
            if SERVER_STATUSES.contains(&s.as_str()) {
                return Err(err(
                    2306,
                    format!("status {s:?} can only be removed by the registry"),
                ));
            }
            if !d.statuses.remove(s) {
                return Err(err(2306, format!("status {s:?} is not set")));
            }
        }
        for s in &add.statuses {
            if !d.statuses.insert(s.clone()) {
                return Err(err(2306, format!("status {s:?} is already set")));
            }
        }
        for h in &rem.ns {
            let before = d.ns.len();
            d.ns.retain(|x| x != h);
            if d.ns.len() == before {
                return Err(err(2306, format!("{h} is not a name server of {name}")));
            }
        }
        for h in &add.ns {
            if d.ns.contains(h) {
                return Err(err(2306, format!("{h} is already a name server of {name}")));
            }
            d.ns.push(h.clone());
        }
        check_ns_policy(ctx, &d.ns)?;
        for c in &rem.contacts {
            let before = d.contacts.len();
            d.contacts.retain(|x| x != c);
            if d.contacts.len() == before {
                return Err(err(
                    2306,
                    format!("contact {} ({}) is not on {name}", c.1, c.0.as_str()),
                ));
            }
        }
        for c in &add.contacts {
            if d.contacts.contains(c) {
                return Err(err(
                    2306,
                    format!("contact {} ({}) is already on {name}", c.1, c.0.as_str()),
                ));
            }
            d.contacts.push(c.clone());
        }
        if let Some(r) = &new_registrant {
            if r.trim().is_empty() {
                return Err(err(
                    2306,
                    "the registrant cannot be removed: every domain in this registry has one",
                ));
            }
            d.registrant = Some(r.clone());
        }
        if let Some(pw) = &new_pw {
            d.auth_pw = pw.clone();
        }
        if ds_rem_all {
            d.ds.clear();
        }
        for x in &ds_rem {
            let before = d.ds.len();
            d.ds.retain(|y| y != x);
            if d.ds.len() == before {
                return Err(err(
                    2306,
                    format!("DS with key tag {} is not on {name}", x.key_tag),
                ));
            }
        }
        for x in &ds_add {
            if d.ds.contains(x) {
                return Err(err(
                    2306,
                    format!("DS with key tag {} is already on {name}", x.key_tag),
                ));
            }
            d.ds.push(x.clone());
        }
        check_ds_policy(ctx, &d.ds)?;
        let added_contacts: Vec<String> = add
            .contacts
            .iter()
            .map(|(_, c)| c.clone())
            .chain(new_registrant.clone())
            .collect();
        check_links(t, ctx, &add.ns, &added_contacts)?;
        d.up_id = Some(ctx.clid.to_string());
        d.up_date = Some(now);
        t.put_domain(Some(&old), &d);
        Ok(())
    })?;
    Ok(Response::ok())
}

/// RFC 3915 restore: `op="request"` restores at once; `op="report"` is
/// accepted for a domain already restored (the report step is optional).
/// A bad `op` is answered after the sponsorship check (as it always was).
pub fn restore(ctx: &Ctx, c: &DomainRestore) -> EppResult<Response> {
    let name = c.name.as_str();
    ctx.store.write(|t| -> EppResult<()> {
        let old = sponsored(t, ctx, name)?;
        let now = t.now();
        match (c.op.clone()?, old.rgp) {
            (RestoreOp::Request, Rgp::Redemption { .. }) => {
                charge(
                    t,
                    now,
                    ctx.clid,
                    LedgerKind::Restore,
                    name,
                    0,
                    ctx.policy.fees.restore,
                )?;
                let mut d = old.clone();
                d.rgp = Rgp::Active;
                d.up_id = Some(ctx.clid.to_string());
                d.up_date = Some(now);
                t.put_domain(Some(&old), &d);
                Ok(())
            }
            (RestoreOp::Request, _) => {
                Err(err(2304, format!("{name} is not in its redemption period")))
            }
            (RestoreOp::Report, Rgp::Active) => Ok(()),
            (RestoreOp::Report, _) => Err(err(
                2304,
                format!("{name} has not been restored; send a restore request"),
            )),
        }
    })?;
    Ok(Response::ok())
}

pub fn delete(ctx: &Ctx, name: &str) -> EppResult<Response> {
    let purged = ctx.store.write(|t| -> EppResult<bool> {
        let d = sponsored(t, ctx, name)?;
        let now = t.now();
        if d.rgp != Rgp::Active {
            return Err(err(2304, format!("{name} is already pending delete")));
        }
        if d.pending_transfer().is_some() {
            return Err(err(2304, format!("{name} has a pending transfer")));
        }
        refuse_if_prohibited(&d.statuses, "Delete", name)?;
        let subs = t.subordinates(name)?;
        if !subs.is_empty() {
            return Err(err(
                2305,
                format!("subordinate hosts exist: {}", subs.join(", ")),
            ));
        }
        Ok(ctx.policy.delete(t, &d, now)?)
    })?;
    Ok(Response::code(if purged { 1000 } else { 1001 }))
}

pub fn renew(ctx: &Ctx, c: &DomainRenew) -> EppResult<Response> {
    let (name, cur, cur_date, years) = (c.name.as_str(), &c.cur_exp, c.cur_date, c.years);
    let ex = ctx.store.write(|t| -> EppResult<i64> {
        let old = sponsored(t, ctx, name)?;
        let now = t.now();
        if old.rgp != Rgp::Active {
            return Err(err(2105, format!("{name} is pending delete")));
        }
        if old.pending_transfer().is_some() {
            return Err(err(2304, format!("{name} has a pending transfer")));
        }
        refuse_if_prohibited(&old.statuses, "Renew", name)?;
        if date_of(old.ex_date) != Some(cur_date) {
            return Err(err(
                2306,
                format!(
                    "curExpDate {cur} is not the expiry date {}",
                    fmt_date(old.ex_date)
                ),
            ));
        }
        let new_ex = add_years(old.ex_date, years as i32);
        if new_ex > add_years(now, ctx.policy.p.max_years as i32) {
            return Err(err(
                2306,
                format!("renewal would exceed {} years", ctx.policy.p.max_years),
            ));
        }
        let amount = ctx.policy.fees.renew * years as i64;
        charge(t, now, ctx.clid, LedgerKind::Renew, name, years, amount)?;
        let mut d = old.clone();
        d.ex_date = new_ex;
        d.grace.push(
            ctx.policy
                .grace(GraceKind::Renew, now, ctx.clid, amount, years),
        );
        t.put_domain(Some(&old), &d);
        Ok(new_ex)
    })?;
    Ok(Response::with_data(
        1000,
        format!(
            "<domain:renData {XMLNS}><domain:name>{}</domain:name><domain:exDate>{}</domain:exDate></domain:renData>",
            esc(name),
            fmt(ex)
        ),
    ))
}
