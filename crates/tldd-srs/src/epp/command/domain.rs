//! Decoding domain commands (RFC 5731 with hostObj, RFC 5910 secDNS
//! dsData, RFC 3915 restore): check, info, create, update (and restore),
//! delete, renew, transfer.
//!
//! What is checked here, in the order the handlers always checked it: the
//! name (required; made canonical, i.e. lower case without a final dot),
//! `hosts=` of info, `<period>` syntax and range 1..99 with its unit
//! (months must be whole years, 2306), hostObj names (hostAttr is 2102),
//! contact types, statuses (`s=` required; `add` only client statuses,
//! 2306), authInfo (`<pw>` required inside, `<ext>` 2102, a new password 6
//! to 64 characters), `curExpDate` as `YYYY-MM-DD`, the transfer `op`, and
//! secDNS dsData (numbers, hex, accepted algorithms and digest lengths;
//! keyData and maxSigLife are 2102 / 2306).
//!
//! Not checked here (policy or store, in [`crate::epp::domain`]): that the
//! name is under the TLD and not reserved, the period the policy allows, the
//! name server / DS / check limits, duplicates, and everything about the
//! existing objects. See [`super`] for why [`DomainCreate`] and
//! [`DomainRestore`] carry [`Deferred`] fields.
use super::{Command, Deferred};
use crate::epp::parse::{auth_pw, check_new_pw, ds_list, opt, period, req, statuses};
use crate::epp::xml::{Elem, NS_DOMAIN, NS_RGP, NS_SECDNS};
use crate::model::{ContactType, DsData, CLIENT_STATUSES};
use crate::names::{canonical, check_host_name};
use crate::result::{err, EppResult};

/// Which host names `<domain:info>` returns (`hosts=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostsFilter {
    All,
    Del,
    Sub,
    None,
}

impl HostsFilter {
    /// Delegated name servers are listed.
    pub fn delegated(self) -> bool {
        matches!(self, HostsFilter::All | HostsFilter::Del)
    }
    /// Subordinate hosts are listed.
    pub fn subordinate(self) -> bool {
        matches!(self, HostsFilter::All | HostsFilter::Sub)
    }
}

/// `<domain:info>`.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    pub name: String,
    pub hosts: HostsFilter,
    /// `<domain:authInfo><domain:pw>`, for info by another registrar.
    pub auth_pw: Option<String>,
}

/// `<domain:create>` with its secDNS `<secDNS:create>`. The deferred
/// fields are answered in this order, between the policy checks (see
/// [`super`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainCreate {
    pub name: String,
    /// The period in years; `None` if the request has no `<period>`.
    pub years: Deferred<Option<u32>>,
    /// hostObj names, canonical.
    pub ns: Deferred<Vec<String>>,
    pub registrant: Option<String>,
    pub contacts: Deferred<Vec<(ContactType, String)>>,
    /// The authInfo password (required; 6 to 64 characters).
    pub auth_pw: Deferred<String>,
    /// RFC 5910 dsData.
    pub ds: Deferred<Vec<DsData>>,
}

/// A `<domain:add>` or `<domain:rem>`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainDelta {
    pub ns: Vec<String>,
    pub contacts: Vec<(ContactType, String)>,
    pub statuses: Vec<String>,
}

/// RFC 5910 `<secDNS:update>` (dsData interface).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SecDnsUpdate {
    /// `<secDNS:rem><secDNS:all>true</secDNS:all>`.
    pub rem_all: bool,
    pub rem: Vec<DsData>,
    pub add: Vec<DsData>,
}

/// `<domain:update>` without an RGP restore.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainUpdate {
    pub name: String,
    pub add: DomainDelta,
    pub rem: DomainDelta,
    /// `<domain:chg><domain:registrant>`.
    pub registrant: Option<String>,
    /// `<domain:chg><domain:authInfo>`: a new password.
    pub auth_pw: Option<String>,
    pub secdns: SecDnsUpdate,
}

/// The `op` of an RFC 3915 `<rgp:restore>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOp {
    Request,
    Report,
}

/// `<domain:update>` with `<rgp:update><rgp:restore op=".."/>`.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainRestore {
    pub name: String,
    /// Answered after the sponsorship check (see [`super`]).
    pub op: Deferred<RestoreOp>,
}

/// `<domain:renew>`.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainRenew {
    pub name: String,
    /// `curExpDate` as sent (quoted in answers).
    pub cur_exp: String,
    pub cur_date: time::Date,
    pub years: u32,
}

/// The `op` of `<transfer>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOp {
    /// With the requested period in years (default 1).
    Request {
        years: u32,
    },
    Query,
    Approve,
    Reject,
    Cancel,
}

impl TransferOp {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferOp::Request { .. } => "request",
            TransferOp::Query => "query",
            TransferOp::Approve => "approve",
            TransferOp::Reject => "reject",
            TransferOp::Cancel => "cancel",
        }
    }
}

/// `<domain:transfer>` under `<transfer op="..">`.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainTransfer {
    pub name: String,
    pub auth_pw: Option<String>,
    pub op: TransferOp,
}

/// `<domain:name>`, required and canonical.
fn name_of(el: &Elem) -> EppResult<String> {
    Ok(canonical(&req(el, NS_DOMAIN, "name")?))
}

pub fn check(el: &Elem) -> EppResult<Command> {
    let names: Vec<String> = el.all(NS_DOMAIN, "name").map(|n| n.text.clone()).collect();
    if names.is_empty() {
        return Err(err(2003, "<domain:name> is required"));
    }
    // An answer may only echo a valid labelType (see crate::epp::xsd).
    if let Some(bad) = names.iter().find(|n| !crate::epp::xsd::is_label(n)) {
        return Err(err(
            2005,
            format!("domain name {bad:?} must be 1 to 255 characters"),
        ));
    }
    Ok(Command::DomainCheck { names })
}

pub fn info(el: &Elem) -> EppResult<Command> {
    let name_el = el
        .child(NS_DOMAIN, "name")
        .ok_or_else(|| err(2003, "<domain:name> is required"))?;
    let name = canonical(&name_el.text);
    let hosts = match name_el.attr("hosts").unwrap_or("all") {
        "all" => HostsFilter::All,
        "del" => HostsFilter::Del,
        "sub" => HostsFilter::Sub,
        "none" => HostsFilter::None,
        other => {
            return Err(err(
                2005,
                format!("hosts={other:?} is not all, del, sub or none"),
            ))
        }
    };
    let auth_pw = auth_pw(el, NS_DOMAIN)?;
    Ok(Command::DomainInfo(DomainInfo {
        name,
        hosts,
        auth_pw,
    }))
}

/// hostObj names of a `<domain:ns>`; hostAttr is refused.
fn ns_list(el: Option<&Elem>) -> EppResult<Vec<String>> {
    let Some(ns) = el else { return Ok(vec![]) };
    if ns.child(NS_DOMAIN, "hostAttr").is_some() {
        return Err(err(
            2102,
            "host attributes are not supported; use host objects (hostObj)",
        ));
    }
    ns.all(NS_DOMAIN, "hostObj")
        .map(|h| {
            let n = canonical(&h.text);
            check_host_name(&n)?;
            Ok(n)
        })
        .collect()
}

fn contact_list(el: &Elem) -> EppResult<Vec<(ContactType, String)>> {
    el.all(NS_DOMAIN, "contact")
        .map(|c| {
            let kind = c
                .attr("type")
                .and_then(ContactType::parse)
                .ok_or_else(|| err(2005, "contact type must be admin, tech or billing"))?;
            Ok((kind, c.text.clone()))
        })
        .collect()
}

pub fn create(el: &Elem, ext: Option<&Elem>) -> EppResult<Command> {
    let name = name_of(el)?;
    let years = match el.child(NS_DOMAIN, "period") {
        Some(_) => period(el, NS_DOMAIN, 1).map(Some),
        None => Ok(None),
    };
    let auth = || -> EppResult<String> {
        let pw =
            auth_pw(el, NS_DOMAIN)?.ok_or_else(|| err(2003, "<domain:authInfo> is required"))?;
        check_new_pw(&pw)?;
        Ok(pw)
    };
    let ds = || -> EppResult<Vec<DsData>> {
        match ext.and_then(|e| e.child(NS_SECDNS, "create")) {
            Some(c) if c.child(NS_SECDNS, "maxSigLife").is_some() => {
                Err(err(2102, "maxSigLife is not supported"))
            }
            Some(c) => ds_list(c),
            None => Ok(vec![]),
        }
    };
    Ok(Command::DomainCreate(DomainCreate {
        name,
        years,
        ns: ns_list(el.child(NS_DOMAIN, "ns")),
        registrant: opt(el, NS_DOMAIN, "registrant"),
        contacts: contact_list(el),
        auth_pw: auth(),
        ds: ds(),
    }))
}

fn delta(el: Option<&Elem>) -> EppResult<DomainDelta> {
    let Some(el) = el else {
        return Ok(DomainDelta::default());
    };
    Ok(DomainDelta {
        ns: ns_list(el.child(NS_DOMAIN, "ns"))?,
        contacts: contact_list(el)?,
        statuses: statuses(el, NS_DOMAIN)?,
    })
}

pub fn update(el: &Elem, ext: Option<&Elem>) -> EppResult<Command> {
    let name = name_of(el)?;
    if let Some(upd) = ext.and_then(|e| e.child(NS_RGP, "update")) {
        let r = upd
            .child(NS_RGP, "restore")
            .ok_or_else(|| err(2003, "<rgp:restore> is required"))?;
        let op = match r.attr("op").unwrap_or("") {
            "request" => Ok(RestoreOp::Request),
            "report" => Ok(RestoreOp::Report),
            other => Err(err(
                2005,
                format!("restore op {other:?} is not request or report"),
            )),
        };
        return Ok(Command::DomainRestore(DomainRestore { name, op }));
    }
    let add = delta(el.child(NS_DOMAIN, "add"))?;
    let rem = delta(el.child(NS_DOMAIN, "rem"))?;
    let chg = el.child(NS_DOMAIN, "chg");
    let registrant = chg.and_then(|c| opt(c, NS_DOMAIN, "registrant"));
    let new_pw = match chg {
        Some(c) => auth_pw(c, NS_DOMAIN)?,
        None => None,
    };
    if let Some(pw) = &new_pw {
        check_new_pw(pw)?;
    }
    for s in &add.statuses {
        if !CLIENT_STATUSES.contains(&s.as_str()) {
            return Err(err(
                2306,
                format!("status {s:?} cannot be set by a registrar"),
            ));
        }
    }
    let secdns = match ext.and_then(|e| e.child(NS_SECDNS, "update")) {
        None => SecDnsUpdate::default(),
        Some(u) => {
            if u.child(NS_SECDNS, "chg").is_some() {
                return Err(err(2102, "maxSigLife is not supported"));
            }
            let rem = u.child(NS_SECDNS, "rem");
            let rem_all = rem
                .and_then(|r| r.child_text(NS_SECDNS, "all"))
                .is_some_and(|v| v == "true" || v == "1");
            let rem_list = match rem {
                Some(r) => ds_list(r)?,
                None => vec![],
            };
            let add_list = match u.child(NS_SECDNS, "add") {
                Some(a) => ds_list(a)?,
                None => vec![],
            };
            SecDnsUpdate {
                rem_all,
                rem: rem_list,
                add: add_list,
            }
        }
    };
    Ok(Command::DomainUpdate(DomainUpdate {
        name,
        add,
        rem,
        registrant,
        auth_pw: new_pw,
        secdns,
    }))
}

pub fn delete(el: &Elem) -> EppResult<Command> {
    Ok(Command::DomainDelete { name: name_of(el)? })
}

pub fn renew(el: &Elem) -> EppResult<Command> {
    let name = name_of(el)?;
    let cur_exp = req(el, NS_DOMAIN, "curExpDate")?;
    let cur_date = crate::clock::parse_date(&cur_exp)
        .ok_or_else(|| err(2005, format!("curExpDate {cur_exp:?} is not YYYY-MM-DD")))?;
    let years = period(el, NS_DOMAIN, 1)?;
    Ok(Command::DomainRenew(DomainRenew {
        name,
        cur_exp,
        cur_date,
        years,
    }))
}

/// `<transfer op="..">` (the `op` was found by the caller).
pub fn transfer(op: &str, el: &Elem) -> EppResult<Command> {
    let name = name_of(el)?;
    let auth_pw = auth_pw(el, NS_DOMAIN)?;
    let op = match op {
        "query" => TransferOp::Query,
        "request" => TransferOp::Request {
            years: period(el, NS_DOMAIN, 1)?,
        },
        "approve" => TransferOp::Approve,
        "reject" => TransferOp::Reject,
        "cancel" => TransferOp::Cancel,
        other => {
            return Err(err(
                2005,
                format!("transfer op {other:?} is not request, query, approve, reject or cancel"),
            ))
        }
    };
    Ok(Command::DomainTransfer(DomainTransfer {
        name,
        auth_pw,
        op,
    }))
}
