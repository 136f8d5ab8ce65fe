//! EPP (RFC 5730-5733, 5910, 3915): from one request frame to one response.
//!
//! [`Epp::handle_frame`] is the whole protocol state machine of a session apart
//! from I/O (which is [`session`]): it parses the frame ([`xml`]), checks
//! the envelope, enforces "login first", routes `<check>`..`<transfer>` to
//! the object modules ([`domain`], [`transfer`], [`host`], [`contact`]) and
//! `<poll>` to [`poll`], and renders the answer ([`response`]). It never
//! fails: bad XML is 2001, an unknown command 2000, an unknown extension
//! 2103, an object service we do not offer 2307, a store failure 2400 —
//! each with a reason — and the session continues, except after logout
//! (1500), repeated login failures (2501) or a session limit (2502).
//!
//! Validation is done by these typed readers rather than by an XML Schema
//! engine: required elements (2003), value syntax (2005), ranges (2004)
//! and the structural rules the handlers rely on are checked; unexpected
//! extra elements inside known commands are ignored (a limit of this build).
pub mod contact;
pub mod domain;
pub mod host;
pub mod parse;
pub mod poll;
pub mod response;
pub mod session;
#[cfg(test)]
mod tests;
pub mod transfer;
pub mod xml;

use crate::db::Store;
use crate::lifecycle::Policy;
use crate::result::{err, EppError, EppResult};
use response::{greeting, render, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use xml::*;

/// What a command handler sees.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub policy: &'a Policy,
    /// The logged-in registrar.
    pub clid: &'a str,
}

impl Ctx<'_> {
    pub fn tld(&self) -> &str {
        self.store.tld()
    }
}

/// Limits and identity of the EPP service.
#[derive(Debug, Clone)]
pub struct EppSettings {
    pub sv_id: String,
    pub max_login_failures: u32,
    pub registrar_connections: u32,
    pub idle_timeout: std::time::Duration,
    pub max_frame: u32,
    pub max_connections: usize,
}

/// State shared by all sessions.
pub struct Epp {
    pub store: Arc<Store>,
    pub policy: Policy,
    pub settings: EppSettings,
    pub metrics: Arc<crate::metrics::Metrics>,
    sessions: Mutex<HashMap<String, u32>>,
    trid: AtomicU64,
}

/// Per-connection state.
pub struct Session {
    pub peer: IpAddr,
    /// SHA-256 of the client certificate (DER), lower-case hex.
    pub cert_sha256: Option<String>,
    pub clid: Option<String>,
    pub failures: u32,
}

/// One answered frame.
pub struct Answer {
    pub xml: String,
    pub close: bool,
    /// Metrics label, e.g. "domain:create".
    pub command: String,
    pub code: u16,
}

impl Epp {
    pub fn new(
        store: Arc<Store>,
        policy: Policy,
        settings: EppSettings,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Epp {
        Epp {
            store,
            policy,
            settings,
            metrics,
            sessions: Mutex::new(HashMap::new()),
            trid: AtomicU64::new(0),
        }
    }

    pub fn greeting(&self) -> String {
        greeting(&self.settings.sv_id, self.store.clock.now())
    }

    fn sv_trid(&self) -> String {
        format!(
            "SRS-{:x}-{}",
            self.store.clock.now(),
            self.trid.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Ends a session's hold on its registrar's connection count.
    pub fn end_session(&self, s: &Session) {
        if let Some(clid) = &s.clid {
            let mut m = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = m.get_mut(clid) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Answers one frame.
    pub fn handle_frame(&self, s: &mut Session, frame: &[u8]) -> Answer {
        let (resp, cl_trid, command, close) = match self.route(s, frame) {
            Routed::Greeting => {
                return Answer {
                    xml: self.greeting(),
                    close: false,
                    command: "hello".into(),
                    code: 1000,
                }
            }
            Routed::Done {
                resp,
                cl_trid,
                command,
                close,
            } => (resp, cl_trid, command, close),
        };
        let code = resp.code;
        Answer {
            xml: render(&resp, cl_trid.as_deref(), &self.sv_trid()),
            close: close || matches!(code, 1500 | 2500 | 2501 | 2502),
            command,
            code,
        }
    }

    fn route(&self, s: &mut Session, frame: &[u8]) -> Routed {
        let fail = |e: EppError, command: &str| Routed::Done {
            resp: e.into(),
            cl_trid: None,
            command: command.to_string(),
            close: false,
        };
        let text = match std::str::from_utf8(frame) {
            Ok(t) => t,
            Err(_) => return fail(err(2001, "frame is not UTF-8"), "invalid"),
        };
        let root = match xml::parse(text) {
            Ok(r) => r,
            Err(e) => return fail(err(2001, e.0), "invalid"),
        };
        if !root.is(NS_EPP, "epp") {
            return fail(
                err(2001, format!("root element must be <epp> in {NS_EPP}")),
                "invalid",
            );
        }
        if root.child(NS_EPP, "hello").is_some() {
            return Routed::Greeting;
        }
        let Some(cmd) = root.child(NS_EPP, "command") else {
            return fail(err(2001, "expected <hello> or <command>"), "invalid");
        };
        let cl_trid = cmd.child_text(NS_EPP, "clTRID").map(str::to_string);
        if cl_trid
            .as_ref()
            .is_some_and(|c| c.len() < 3 || c.len() > 64)
        {
            return fail(err(2001, "clTRID must be 3 to 64 characters"), "invalid");
        }
        let verbs: Vec<&Elem> = cmd
            .children
            .iter()
            .filter(|c| !(c.ns == NS_EPP && (c.name == "extension" || c.name == "clTRID")))
            .collect();
        let (resp, command) = match verbs.as_slice() {
            [verb] => self.command(s, verb, cmd.child(NS_EPP, "extension")),
            [] => (
                err(2001, "<command> holds no command").into(),
                "invalid".to_string(),
            ),
            _ => (
                err(2001, "<command> holds more than one command").into(),
                "invalid".to_string(),
            ),
        };
        Routed::Done {
            resp,
            cl_trid,
            command,
            close: false,
        }
    }

    fn command(&self, s: &mut Session, verb: &Elem, ext: Option<&Elem>) -> (Response, String) {
        if verb.ns != NS_EPP {
            return (
                err(2000, format!("unknown command <{}>", verb.name)).into(),
                "unknown".into(),
            );
        }
        let name = verb.name.as_str();
        match (name, &s.clid) {
            ("login", None) => return (self.login(s, verb), "login".into()),
            ("login", Some(_)) => return (err(2002, "already logged in").into(), "login".into()),
            ("logout", Some(_)) => return (Response::code(1500), "logout".into()),
            (_, None) => {
                return (err(2002, "log in first").into(), name.to_string());
            }
            _ => {}
        }
        let clid = s.clid.clone().unwrap_or_default();
        let ctx = Ctx {
            store: &self.store,
            policy: &self.policy,
            clid: &clid,
        };
        if let Some(e) = ext {
            if let Some(bad) = e
                .children
                .iter()
                .find(|c| c.ns != NS_SECDNS && c.ns != NS_RGP)
            {
                return (
                    err(2103, format!("extension {} is not supported", bad.ns)).into(),
                    name.to_string(),
                );
            }
        }
        if name == "poll" {
            return (
                poll::poll(&ctx, verb).unwrap_or_else(Into::into),
                "poll".into(),
            );
        }
        if ![
            "check", "info", "create", "update", "delete", "renew", "transfer",
        ]
        .contains(&name)
        {
            return (
                err(2000, format!("unknown command <{name}>")).into(),
                "unknown".into(),
            );
        }
        let Some(obj) = verb.children.first() else {
            return (
                err(2001, format!("<{name}> holds no object")).into(),
                name.to_string(),
            );
        };
        let label = format!(
            "{}:{name}",
            match obj.ns.as_str() {
                NS_DOMAIN => "domain",
                NS_HOST => "host",
                NS_CONTACT => "contact",
                _ => "other",
            }
        );
        if obj.name != name {
            return (
                err(
                    2001,
                    format!("<{name}> must hold <obj:{name}>, not <{}>", obj.name),
                )
                .into(),
                label,
            );
        }
        let r = self.object(&ctx, name, verb, obj, ext);
        (r.unwrap_or_else(Into::into), label)
    }

    fn object(
        &self,
        ctx: &Ctx,
        name: &str,
        verb: &Elem,
        obj: &Elem,
        ext: Option<&Elem>,
    ) -> EppResult<Response> {
        match (obj.ns.as_str(), name) {
            (NS_DOMAIN, "check") => domain::check(ctx, obj),
            (NS_DOMAIN, "info") => domain::info(ctx, obj),
            (NS_DOMAIN, "create") => domain::create(ctx, obj, ext),
            (NS_DOMAIN, "update") => domain::update(ctx, obj, ext),
            (NS_DOMAIN, "delete") => domain::delete(ctx, obj),
            (NS_DOMAIN, "renew") => domain::renew(ctx, obj),
            (NS_DOMAIN, "transfer") => {
                let op = verb
                    .attr("op")
                    .ok_or_else(|| err(2003, "transfer needs an op attribute"))?;
                transfer::transfer(ctx, op, obj)
            }
            (NS_HOST, "check") => host::check(ctx, obj),
            (NS_HOST, "info") => host::info(ctx, obj),
            (NS_HOST, "create") => host::create(ctx, obj),
            (NS_HOST, "update") => host::update(ctx, obj),
            (NS_HOST, "delete") => host::delete(ctx, obj),
            (NS_CONTACT, "check") => contact::check(ctx, obj),
            (NS_CONTACT, "info") => contact::info(ctx, obj),
            (NS_CONTACT, "create") => contact::create(ctx, obj),
            (NS_CONTACT, "update") => contact::update(ctx, obj),
            (NS_CONTACT, "delete") => contact::delete(ctx, obj),
            (NS_HOST | NS_CONTACT, "renew" | "transfer") => {
                Err(err(2101, format!("{name} is not offered for this object")))
            }
            (ns, _) => Err(err(2307, format!("object service {ns:?} is not offered"))),
        }
    }

    fn login(&self, s: &mut Session, el: &Elem) -> Response {
        match self.try_login(s, el) {
            Ok(r) => r,
            Err(e) if e.code == 2200 => {
                s.failures += 1;
                tracing::warn!(peer = %s.peer, failures = s.failures, reason = %e.reason, "EPP login failed");
                if s.failures >= self.settings.max_login_failures {
                    err(2501, format!("{}; too many failures", e.reason)).into()
                } else {
                    e.into()
                }
            }
            Err(e) => e.into(),
        }
    }

    fn try_login(&self, s: &mut Session, el: &Elem) -> EppResult<Response> {
        let clid = parse::req(el, NS_EPP, "clID")?;
        let pw = parse::req(el, NS_EPP, "pw")?;
        let opts = el
            .child(NS_EPP, "options")
            .ok_or_else(|| err(2003, "<options> is required"))?;
        if opts.child_text(NS_EPP, "version") != Some("1.0") {
            return Err(err(2100, "only EPP version 1.0 is offered"));
        }
        if opts.child_text(NS_EPP, "lang") != Some("en") {
            return Err(err(2102, "only lang en is offered"));
        }
        if let Some(svcs) = el.child(NS_EPP, "svcs") {
            for o in svcs.all(NS_EPP, "objURI") {
                if ![NS_DOMAIN, NS_HOST, NS_CONTACT].contains(&o.text.as_str()) {
                    return Err(err(
                        2307,
                        format!("object service {} is not offered", o.text),
                    ));
                }
            }
            if let Some(ext) = svcs.child(NS_EPP, "svcExtension") {
                for x in ext.all(NS_EPP, "extURI") {
                    if ![NS_SECDNS, NS_RGP].contains(&x.text.as_str()) {
                        return Err(err(2103, format!("extension {} is not offered", x.text)));
                    }
                }
            }
        }
        let denied = || {
            err(
                2200,
                "client ID, password, certificate or source address not accepted",
            )
        };
        let Some(reg) = self.store.get_registrar(&clid)? else {
            return Err(denied());
        };
        if !crate::registrar::verify_password(&reg.password_hash, &pw) {
            return Err(denied());
        }
        match &s.cert_sha256 {
            Some(fp) if reg.cert_sha256.iter().any(|c| c == fp) => {}
            _ => return Err(denied()),
        }
        if !crate::registrar::network_allowed(&reg, s.peer) {
            return Err(denied());
        }
        if let Some(new_pw) = parse::opt(el, NS_EPP, "newPW") {
            crate::registrar::set_password(&self.store, &clid, &new_pw)
                .map_err(|e| err(2306, e.to_string()))?;
        }
        let limit = reg
            .max_connections
            .unwrap_or(self.settings.registrar_connections);
        {
            let mut m = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let n = m.entry(clid.clone()).or_insert(0);
            if *n >= limit {
                return Err(err(
                    2502,
                    format!("{clid} already has {n} sessions (limit {limit})"),
                ));
            }
            *n += 1;
        }
        tracing::info!(registrar = %clid, peer = %s.peer, "EPP login");
        s.clid = Some(clid);
        Ok(Response::ok())
    }
}

enum Routed {
    Greeting,
    Done {
        resp: Response,
        cl_trid: Option<String>,
        command: String,
        close: bool,
    },
}
