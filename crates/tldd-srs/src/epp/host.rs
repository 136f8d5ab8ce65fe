//! Host commands (RFC 5732): check, info, create, update, delete.
//!
//! A host under the TLD (e.g. `ns1.example.shop`) is *subordinate* to its
//! registry domain: that domain must exist, be active and be sponsored by
//! the registrar creating the host (2303 / 2304 / 2201), and the host needs
//! at least one address, which becomes glue in the zone while a delegated
//! domain uses the host. A host outside the TLD must have no addresses
//! (2306). Addresses must be public unicast ones (2306, see
//! [`super::command::host::not_routable`]).
//! A linked host (a domain delegates to it) cannot be deleted (2305) or
//! renamed (2305; limit of this build: rename only unlinked hosts). A
//! rename may cross the TLD boundary (RST epp-23): out of it the host's
//! addresses are dropped, into it the update must add one, and the new
//! name's superordinate domain must exist and be the client's.
//! The commands arrive decoded ([`super::command::host`]).
use super::command::{HostCreate, HostUpdate};
use super::response::Response;
use super::xml::esc;
use super::Ctx;
use crate::clock::fmt;
use crate::db::Txn;
use crate::model::*;
use crate::names::{canonical, check_host_name, in_tld};
use crate::result::{changed_statuses, err, refuse_if_prohibited, EppResult};
use std::fmt::Write;

const XMLNS: &str = "xmlns:host=\"urn:ietf:params:xml:ns:host-1.0\"";

fn sponsored(t: &Txn, ctx: &Ctx, name: &str) -> EppResult<Host> {
    let h = t
        .host(name)?
        .ok_or_else(|| err(2303, format!("host {name} does not exist")))?;
    if h.cl_id != ctx.clid {
        return Err(err(
            2201,
            format!("host {name} is sponsored by another registrar"),
        ));
    }
    Ok(h)
}

/// For a host under the TLD: its superordinate domain must be ours and active.
fn check_parent(t: &Txn, ctx: &Ctx, name: &str) -> EppResult<bool> {
    let Some(sup) = t.superordinate(name) else {
        return Ok(false);
    };
    let d = t
        .domain(&sup)?
        .ok_or_else(|| err(2303, format!("superordinate domain {sup} does not exist")))?;
    if d.cl_id != ctx.clid {
        return Err(err(
            2201,
            format!("superordinate domain {sup} is sponsored by another registrar"),
        ));
    }
    if d.rgp != Rgp::Active {
        return Err(err(
            2304,
            format!("superordinate domain {sup} is pending delete"),
        ));
    }
    Ok(true)
}

pub fn check(ctx: &Ctx, names: &[String]) -> EppResult<Response> {
    if names.len() > ctx.policy.p.max_check {
        return Err(err(
            2306,
            format!("at most {} names per check", ctx.policy.p.max_check),
        ));
    }
    let r = ctx.store.read();
    let mut s = format!("<host:chkData {XMLNS}>");
    for n in names {
        let name = canonical(n);
        let reason = match check_host_name(&name) {
            Err(e) => Some(e.check),
            Ok(()) if r.host(&name)?.is_some() => Some("In use"),
            Ok(()) => None,
        };
        let _ = write!(
            s,
            "<host:cd><host:name avail=\"{}\">{}</host:name>",
            u8::from(reason.is_none()),
            esc(n)
        );
        if let Some(reason) = reason {
            let _ = write!(s, "<host:reason>{}</host:reason>", esc(reason));
        }
        s.push_str("</host:cd>");
    }
    s.push_str("</host:chkData>");
    Ok(Response::with_data(1000, s))
}

pub fn info(ctx: &Ctx, name: &str) -> EppResult<Response> {
    let r = ctx.store.read();
    let h = r
        .host(name)?
        .ok_or_else(|| err(2303, format!("host {name} does not exist")))?;
    let linked = !r.host_links(name)?.is_empty();
    let mut s = format!(
        "<host:infData {XMLNS}><host:name>{}</host:name><host:roid>{}</host:roid>",
        esc(&h.name),
        esc(&h.roid)
    );
    for st in object_statuses(&h.statuses, linked) {
        let _ = write!(s, "<host:status s=\"{st}\"/>");
    }
    for a in &h.addrs {
        let v = if a.is_ipv4() { "v4" } else { "v6" };
        let _ = write!(s, "<host:addr ip=\"{v}\">{a}</host:addr>");
    }
    let _ = write!(
        s,
        "<host:clID>{}</host:clID><host:crID>{}</host:crID><host:crDate>{}</host:crDate>",
        esc(&h.cl_id),
        esc(&h.cr_id),
        fmt(h.cr_date)
    );
    if let (Some(id), Some(d)) = (&h.up_id, h.up_date) {
        let _ = write!(
            s,
            "<host:upID>{}</host:upID><host:upDate>{}</host:upDate>",
            esc(id),
            fmt(d)
        );
    }
    if let Some(d) = h.tr_date {
        let _ = write!(s, "<host:trDate>{}</host:trDate>", fmt(d));
    }
    s.push_str("</host:infData>");
    Ok(Response::with_data(1000, s))
}

/// Documentation addresses are glue only where `[srs.policy]
/// allow_documentation_addresses` says so (test set-ups).
fn check_documentation(ctx: &Ctx, addrs: &[std::net::IpAddr]) -> EppResult<()> {
    if ctx.policy.p.allow_documentation_addresses {
        return Ok(());
    }
    match addrs
        .iter()
        .find(|a| crate::epp::command::host::is_documentation(**a))
    {
        Some(a) => Err(err(
            2306,
            format!("{a} is a documentation address (RFC 5737/3849), not glue"),
        )),
        None => Ok(()),
    }
}

pub fn create(ctx: &Ctx, c: HostCreate) -> EppResult<Response> {
    let HostCreate { name, addrs } = c;
    check_documentation(ctx, &addrs)?;
    if addrs.len() > ctx.policy.p.max_host_addrs {
        return Err(err(
            2306,
            format!("at most {} addresses", ctx.policy.p.max_host_addrs),
        ));
    }
    let cr = ctx.store.write(|t| -> EppResult<i64> {
        if t.host(&name)?.is_some() {
            return Err(err(2302, format!("host {name} exists")));
        }
        let internal = check_parent(t, ctx, &name)?;
        if internal && addrs.is_empty() {
            return Err(err(
                2003,
                format!(
                    "{name} is under .{}: at least one address is required",
                    ctx.tld()
                ),
            ));
        }
        if !internal && !addrs.is_empty() {
            return Err(err(
                2306,
                format!(
                    "{name} is outside .{}: addresses are not allowed",
                    ctx.tld()
                ),
            ));
        }
        let now = t.now();
        let h = Host {
            name: name.clone(),
            roid: t.new_roid('H')?,
            addrs: addrs.clone(),
            statuses: Default::default(),
            cl_id: ctx.clid.to_string(),
            cr_id: ctx.clid.to_string(),
            cr_date: now,
            up_id: None,
            up_date: None,
            tr_date: None,
        };
        t.put_host(None, &h);
        Ok(now)
    })?;
    Ok(Response::with_data(
        1000,
        format!("<host:creData {XMLNS}><host:name>{}</host:name><host:crDate>{}</host:crDate></host:creData>", esc(&name), fmt(cr)),
    ))
}

pub fn update(ctx: &Ctx, c: HostUpdate) -> EppResult<Response> {
    let HostUpdate {
        name,
        add_addrs,
        rem_addrs,
        add_statuses: add_st,
        rem_statuses: rem_st,
        new_name,
    } = c;
    check_documentation(ctx, &add_addrs)?;
    ctx.store.write(|t| -> EppResult<()> {
        let old = sponsored(t, ctx, &name)?;
        let mut h = old.clone();
        h.statuses = changed_statuses("host", &name, &old.statuses, &rem_st, &add_st)?;
        for a in &rem_addrs {
            let before = h.addrs.len();
            h.addrs.retain(|x| x != a);
            if h.addrs.len() == before {
                return Err(err(2306, format!("{a} is not an address of {name}")));
            }
        }
        let internal = in_tld(&name, ctx.tld());
        // Where the host ends up: a rename is checked like a create of the
        // new name (its superordinate domain must exist and be ours).
        let target = match &new_name {
            Some(n) => {
                if !t.host_links(&name)?.is_empty() {
                    return Err(err(
                        2305,
                        format!("{name} is linked to domains; it cannot be renamed"),
                    ));
                }
                if t.host(n)?.is_some() {
                    return Err(err(2302, format!("host {n} exists")));
                }
                check_parent(t, ctx, n)?;
                in_tld(n, ctx.tld())
            }
            None => internal,
        };
        // Out of the TLD (RST epp-23): the addresses it had go with the
        // old name; an external host has none.
        if internal && !target {
            h.addrs.clear();
        }
        for a in &add_addrs {
            if h.addrs.contains(a) {
                return Err(err(2306, format!("{a} is already an address of {name}")));
            }
            h.addrs.push(*a);
        }
        if h.addrs.len() > ctx.policy.p.max_host_addrs {
            return Err(err(
                2306,
                format!("at most {} addresses", ctx.policy.p.max_host_addrs),
            ));
        }
        let shown = new_name.as_deref().unwrap_or(&name);
        if target && h.addrs.is_empty() {
            return Err(err(
                2306,
                format!("{shown} is under .{}: it must keep an address", ctx.tld()),
            ));
        }
        if !target && !h.addrs.is_empty() {
            return Err(err(
                2306,
                format!(
                    "{shown} is outside .{}: addresses are not allowed",
                    ctx.tld()
                ),
            ));
        }
        h.up_id = Some(ctx.clid.to_string());
        h.up_date = Some(t.now());
        if let Some(n) = &new_name {
            t.del_host(&old);
            h.name = n.clone();
            t.put_host(None, &h);
        } else {
            t.put_host(Some(&old), &h);
        }
        Ok(())
    })?;
    Ok(Response::ok())
}

pub fn delete(ctx: &Ctx, name: &str) -> EppResult<Response> {
    ctx.store.write(|t| -> EppResult<()> {
        let h = sponsored(t, ctx, name)?;
        refuse_if_prohibited(&h.statuses, "Delete", &format!("host {name}"))?;
        let links = t.host_links(name)?;
        if !links.is_empty() {
            return Err(err(
                2305,
                format!("host {name} is used by {}", links.join(", ")),
            ));
        }
        t.del_host(&h);
        Ok(())
    })?;
    Ok(Response::ok())
}
