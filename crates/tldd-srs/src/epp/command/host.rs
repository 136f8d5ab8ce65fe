//! Decoding host commands (RFC 5732): check, info, create, update, delete.
//!
//! Checked here: the host name (required, canonical, host name syntax:
//! 2005), each `<host:addr>` (an IP address of the family `ip=` names,
//! default v4, 2005; a public unicast address, 2306: see [`not_routable`]),
//! statuses (`s=` required; `add` only clientDeleteProhibited and
//! clientUpdateProhibited, 2306) and a new name of `<host:chg>`.
//!
//! Not checked here (in [`crate::epp::host`]): the address and check
//! limits, whether a host is under the TLD (and so needs or must not have
//! addresses), its superordinate domain, links and sponsorship.
use super::Command;
use crate::epp::parse::{opt, req, statuses};
use crate::epp::xml::{Elem, NS_HOST};
use crate::names::{canonical, check_host_name};
use crate::result::{err, EppResult};
use std::net::IpAddr;

/// `<host:create>`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostCreate {
    pub name: String,
    pub addrs: Vec<IpAddr>,
}

/// `<host:update>`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostUpdate {
    pub name: String,
    pub add_addrs: Vec<IpAddr>,
    pub rem_addrs: Vec<IpAddr>,
    pub add_statuses: Vec<String>,
    pub rem_statuses: Vec<String>,
    /// `<host:chg><host:name>`, canonical.
    pub new_name: Option<String>,
}

fn name_of(el: &Elem) -> EppResult<String> {
    let n = canonical(&req(el, NS_HOST, "name")?);
    check_host_name(&n)?;
    Ok(n)
}

fn addrs(el: &Elem) -> EppResult<Vec<IpAddr>> {
    el.all(NS_HOST, "addr")
        .map(|a| {
            let ip: IpAddr = a
                .text
                .parse()
                .map_err(|_| err(2005, format!("{:?} is not an IP address", a.text)))?;
            match (a.attr("ip").unwrap_or("v4"), ip) {
                ("v4", IpAddr::V4(_)) | ("v6", IpAddr::V6(_)) => {}
                (v, _) => return Err(err(2005, format!("address {ip} does not match ip=\"{v}\""))),
            }
            if let Some(why) = not_routable(ip) {
                return Err(err(
                    2306,
                    format!("{ip} is not a public unicast address ({why})"),
                ));
            }
            Ok(ip)
        })
        .collect()
}

/// Why `ip` can never be glue on the Internet, if it cannot: the
/// special-purpose ranges of RFC 6890 that no resolver can reach (the
/// documentation ranges are a policy question: [`is_documentation`]).
pub fn not_routable(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            if v.is_loopback() {
                Some("loopback")
            } else if v.is_unspecified() || o[0] == 0 {
                Some("\"this network\"")
            } else if v.is_private() {
                Some("private, RFC 1918")
            } else if v.is_link_local() {
                Some("link-local")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared address space, RFC 6598")
            } else if v.is_multicast() || v.is_broadcast() || o[0] >= 240 {
                Some("multicast or reserved")
            } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
                Some("IETF protocol assignments")
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                Some("benchmarking, RFC 2544")
            } else {
                None
            }
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            if v.is_loopback() {
                Some("loopback")
            } else if v.is_unspecified() {
                Some("unspecified")
            } else if v.is_multicast() {
                Some("multicast")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("unique local, RFC 4193")
            } else if v.to_ipv4_mapped().is_some() {
                Some("IPv4-mapped")
            } else {
                None
            }
        }
    }
}

/// The documentation ranges (RFC 5737, RFC 3849).
pub fn is_documentation(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => matches!(
            v.octets(),
            [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]
        ),
        IpAddr::V6(v) => v.segments()[0] == 0x2001 && v.segments()[1] == 0x0db8,
    }
}

pub fn check(el: &Elem) -> EppResult<Command> {
    let names: Vec<String> = el.all(NS_HOST, "name").map(|n| n.text.clone()).collect();
    if names.is_empty() {
        return Err(err(2003, "<host:name> is required"));
    }
    // An answer may only echo a valid labelType (see crate::epp::xsd).
    if let Some(bad) = names.iter().find(|n| !crate::epp::xsd::is_label(n)) {
        return Err(err(
            2005,
            format!("host name {bad:?} must be 1 to 255 characters"),
        ));
    }
    Ok(Command::HostCheck { names })
}

pub fn info(el: &Elem) -> EppResult<Command> {
    Ok(Command::HostInfo { name: name_of(el)? })
}

pub fn create(el: &Elem) -> EppResult<Command> {
    let name = name_of(el)?;
    let addrs = addrs(el)?;
    Ok(Command::HostCreate(HostCreate { name, addrs }))
}

pub fn update(el: &Elem) -> EppResult<Command> {
    let name = name_of(el)?;
    let add = el.child(NS_HOST, "add");
    let rem = el.child(NS_HOST, "rem");
    let add_addrs = match add {
        Some(a) => addrs(a)?,
        None => vec![],
    };
    let rem_addrs = match rem {
        Some(r) => addrs(r)?,
        None => vec![],
    };
    let add_statuses = match add {
        Some(a) => statuses(a, NS_HOST)?,
        None => vec![],
    };
    let rem_statuses = match rem {
        Some(r) => statuses(r, NS_HOST)?,
        None => vec![],
    };
    let new_name = match el
        .child(NS_HOST, "chg")
        .and_then(|c| opt(c, NS_HOST, "name"))
    {
        Some(n) => {
            let n = canonical(&n);
            check_host_name(&n)?;
            Some(n)
        }
        None => None,
    };
    for s in &add_statuses {
        if !["clientDeleteProhibited", "clientUpdateProhibited"].contains(&s.as_str()) {
            return Err(err(
                2306,
                format!("status {s:?} cannot be set on a host by a registrar"),
            ));
        }
    }
    Ok(Command::HostUpdate(HostUpdate {
        name,
        add_addrs,
        rem_addrs,
        add_statuses,
        rem_statuses,
        new_name,
    }))
}

pub fn delete(el: &Elem) -> EppResult<Command> {
    Ok(Command::HostDelete { name: name_of(el)? })
}
