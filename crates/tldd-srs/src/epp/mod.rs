//! EPP (RFC 5730-5733, 5910, 3915): from one request frame to one response.
//!
//! [`Epp::handle_frame`] is the whole protocol state machine of a session apart
//! from I/O (which is [`session`]). It works in two steps, in the style of
//! tokio's mini-redis (`Command::from_frame`, then `apply`):
//!
//! 1. **decode** ([`Command::decode`](command::Command::decode)): the
//!    frame is parsed ([`xml`]) and turned into a typed
//!    [`command::Frame`] — `<hello>`, or an envelope with
//!    the clTRID and a [`command::Request`] (login, logout, or a
//!    [`command::Command`] such as `DomainCreate` with its secDNS data).
//!    Every check that needs only the frame is made here: XML, envelope,
//!    verb, extension namespaces, required elements, value syntax and
//!    ranges. No store, no policy.
//! 2. **apply** ([`Epp::apply`]): the session gate ("log in first", once),
//!    then the object modules ([`domain`], [`transfer`], [`host`],
//!    [`contact`], [`poll`]) check policy and the store and render the
//!    answer ([`response`]). They never see XML elements.
//!
//! It never fails: bad XML is 2001, an unknown command 2000, an unknown
//! extension 2103, an object service we do not offer 2307, a store failure
//! 2400 — each with a reason — and the session continues, except after
//! logout (1500), repeated login failures (2501) or a session limit (2502).
//!
//! The split kept every answer as it was: the same code, reason and
//! response for every frame, and the same order of checks where a frame has
//! several faults. Where a handler used to make a policy or store check
//! before a syntax check, the syntax result is carried in the command as a
//! [`command::Deferred`] field and answered at the old point (see
//! [`command`]). `golden` (a test) replays a script of frames against a
//! transcript recorded before the split.
//!
//! Validation is done by typed readers ([`parse`]) rather than by an XML
//! Schema engine: required elements (2003), value syntax (2005), ranges
//! (2004) and the structural rules the handlers rely on are checked;
//! unexpected extra elements inside known commands are ignored (a limit of
//! this build).
//!
//! Answers are valid against the XSDs of the RFCs by construction (the
//! schemas are in this crate's `schemas/`): a value the client sent is
//! echoed only when it is valid for its schema type, and check reasons are
//! short fixed texts ([`xsd`]); the `schema` test validates every answer of
//! a broad corpus with `xmllint --schema`.
pub mod command;
pub mod contact;
pub mod domain;
#[cfg(test)]
mod golden;
pub mod guard;
pub mod host;
pub mod parse;
pub mod poll;
pub mod response;
#[cfg(test)]
mod schema;
pub mod session;
#[cfg(test)]
mod tests;
pub mod transfer;
pub mod xml;
pub mod xsd;

use crate::db::Store;
use crate::lifecycle::Policy;
use crate::result::{err, EppResult};
use command::{Command, Frame, Login, Request};
use response::{greeting, render, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Pre-login limits, deadlines and the login backoff ([`guard`]).
    pub guard: guard::GuardSettings,
}

/// State shared by all sessions.
pub struct Epp {
    pub store: Arc<Store>,
    pub policy: Policy,
    pub settings: EppSettings,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Connections before login, and failed logins across connections.
    pub guard: guard::Guard,
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
        let guard = guard::Guard::new(settings.guard.clone(), metrics.epp_prelogin.clone());
        Epp {
            store,
            policy,
            settings,
            metrics,
            guard,
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

    /// Answers one frame: decodes it ([`Command::decode`]), then applies
    /// the command ([`Epp::apply`]).
    pub fn handle_frame(&self, s: &mut Session, frame: &[u8]) -> Answer {
        let (resp, cl_trid, command) = match Command::decode(frame) {
            Ok(Frame::Hello) => {
                return Answer {
                    xml: self.greeting(),
                    close: false,
                    command: "hello".into(),
                    code: 1000,
                }
            }
            Ok(Frame::Command(env)) => {
                let (resp, label) = self.apply(s, env.request);
                (resp, env.cl_trid, label)
            }
            Err(e) => (e.into(), None, "invalid".to_string()),
        };
        let code = resp.code;
        Answer {
            xml: render(&resp, cl_trid.as_deref(), &self.sv_trid()),
            close: matches!(code, 1500 | 2500 | 2501 | 2502),
            command,
            code,
        }
    }

    /// Applies a decoded request: the session gate (login first, once),
    /// then the command; returns the answer and its metrics label.
    pub fn apply(&self, s: &mut Session, req: Request) -> (Response, String) {
        let verb = match (req, &s.clid) {
            (Request::Refused { error, label }, _) => return (error.into(), label.into()),
            (Request::Login(l), None) => return (self.login(s, l), "login".into()),
            (Request::Login(_), Some(_)) => {
                return (err(2002, "already logged in").into(), "login".into())
            }
            (Request::Logout, Some(_)) => return (Response::code(1500), "logout".into()),
            (Request::Logout, None) => return (err(2002, "log in first").into(), "logout".into()),
            (Request::Command(v), None) => return (err(2002, "log in first").into(), v.name),
            (Request::Command(v), Some(_)) => v,
        };
        let clid = s.clid.clone().unwrap_or_default();
        let ctx = Ctx {
            store: &self.store,
            policy: &self.policy,
            clid: &clid,
        };
        let r = verb.command.and_then(|c| apply(&ctx, c));
        (r.unwrap_or_else(Into::into), verb.label)
    }

    /// A `<login>`: the backoff ([`guard::LoginGuard`]) first, then the
    /// credentials; failures count per connection and in the backoff.
    fn login(&self, s: &mut Session, l: EppResult<Login>) -> Response {
        let l = match l {
            Ok(l) => l,
            Err(e) => return e.into(),
        };
        let now = std::time::Instant::now();
        if let Err(b) = self.guard.login.check(s.peer, &l.clid, now) {
            self.metrics
                .epp_login_backoff
                .with_label_values(&[b.scope()])
                .inc();
            tracing::warn!(peer = %s.peer, clid = %l.clid, reason = %b.reason(), "EPP login refused");
            return err(2501, b.reason()).into();
        }
        let clid = l.clid.clone();
        let mut with_cert = false;
        match self.try_login(s, l, &mut with_cert) {
            Ok(r) => {
                self.guard.login.succeeded(s.peer, &clid);
                r
            }
            Err(e) if e.code == 2200 => {
                s.failures += 1;
                let backoff =
                    self.guard
                        .login
                        .failed(s.peer, with_cert.then_some(clid.as_str()), now);
                tracing::warn!(peer = %s.peer, failures = s.failures, reason = %e.reason,
                    backoff = ?backoff, "EPP login failed");
                if s.failures >= self.settings.max_login_failures {
                    err(2501, format!("{}; too many failures", e.reason)).into()
                } else {
                    e.into()
                }
            }
            Err(e) => e.into(),
        }
    }

    /// Logs in a decoded `<login>` (2200 for any credential that does not
    /// match, without saying which). `with_cert` is set when the connection
    /// presented one of the registrar's certificates (the backoff counts
    /// such failures against the client ID too).
    fn try_login(&self, s: &mut Session, l: Login, with_cert: &mut bool) -> EppResult<Response> {
        let Login { clid, pw, new_pw } = l;
        let denied = || {
            err(
                2200,
                "client ID, password, certificate or source address not accepted",
            )
        };
        let Some(reg) = self.store.get_registrar(&clid)? else {
            return Err(denied());
        };
        *with_cert = s
            .cert_sha256
            .as_ref()
            .is_some_and(|fp| reg.cert_sha256.iter().any(|c| c == fp));
        if !crate::registrar::verify_password(&reg.password_hash, &pw) || !*with_cert {
            return Err(denied());
        }
        if !crate::registrar::network_allowed(&reg, s.peer) {
            return Err(denied());
        }
        if let Some(new_pw) = new_pw {
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

/// Runs a command a logged-in session sent.
fn apply(ctx: &Ctx, c: Command) -> EppResult<Response> {
    match c {
        Command::PollReq => poll::req(ctx),
        Command::PollAck { id } => poll::ack(ctx, id),
        Command::DomainCheck { names } => domain::check(ctx, &names),
        Command::DomainInfo(c) => domain::info(ctx, &c),
        Command::DomainCreate(c) => domain::create(ctx, c),
        Command::DomainUpdate(c) => domain::update(ctx, c),
        Command::DomainRestore(c) => domain::restore(ctx, &c),
        Command::DomainDelete { name } => domain::delete(ctx, &name),
        Command::DomainRenew(c) => domain::renew(ctx, &c),
        Command::DomainTransfer(c) => transfer::transfer(ctx, c),
        Command::HostCheck { names } => host::check(ctx, &names),
        Command::HostInfo { name } => host::info(ctx, &name),
        Command::HostCreate(c) => host::create(ctx, c),
        Command::HostUpdate(c) => host::update(ctx, c),
        Command::HostDelete { name } => host::delete(ctx, &name),
        Command::ContactCheck { ids } => contact::check(ctx, &ids),
        Command::ContactInfo(c) => contact::info(ctx, &c),
        Command::ContactCreate(c) => contact::create(ctx, c),
        Command::ContactUpdate(c) => contact::update(ctx, c),
        Command::ContactDelete { id } => contact::delete(ctx, &id),
    }
}
