//! EPP requests decoded into typed commands before anything touches the
//! store (in the style of tokio's mini-redis: `Command::from_frame`, then
//! `apply`).
//!
//! # Design
//!
//! [`decode`] turns one frame (the bytes inside the RFC 5734 length
//! prefix) into a [`Frame`]: `<hello>` or a [`Envelope`] holding the
//! client transaction id and a [`Request`]. Everything that can be judged
//! from the frame alone is judged here, with the result code and reason the
//! handlers have always answered:
//!
//! - the XML itself ([`super::xml`]: well-formedness, no DOCTYPE, depth and
//!   element limits) and the envelope: root `<epp>`, `<hello>` or
//!   `<command>`, clTRID of 3 to 64 characters, exactly one verb (2001);
//! - the verb: outside the EPP namespace or unknown (2000), the object
//!   element matching the verb (2001), the object service (2307), commands
//!   not offered for an object (2101), the `op` attributes of
//!   `<transfer>` and `<poll>` (2003 / 2005);
//! - the `<extension>`: only secDNS-1.1 (RFC 5910) and rgp-1.0 (RFC 3915)
//!   children (2103); their content is decoded into typed fields of the
//!   command that uses it ([`DomainCreate::ds`], [`DomainUpdate::secdns`],
//!   [`Command::DomainRestore`]) and ignored elsewhere, as before;
//! - the object's elements: required elements (2003), value syntax (2005),
//!   ranges (2004), options this build does not implement (2102) and the
//!   rules that need no state (authInfo password length, DS algorithm and
//!   digest length, statuses a registrar may set: 2306).
//!
//! The apply side ([`super::Epp::handle_frame`] and the object modules
//! [`super::domain`], [`super::transfer`], [`super::host`],
//! [`super::contact`], [`super::poll`]) takes these values and never sees
//! an XML element: it checks the session, the policy (limits, reserved
//! names, periods allowed) and the store, then renders the answer.
//!
//! # Keeping every answer as it was
//!
//! A decode error does not end the decoding of the envelope: it is kept in
//! the [`Verb`] as `Err`, because a client must still get the answers that
//! came before it. In order: a verb outside EPP (2000), then the session
//! ("log in first", "already logged in" — 2002; logout answers 1500 whatever
//! it holds), then the extension (2103), then the body. So a syntax error in
//! a command sent before login is still answered 2002, and a `<login>` whose
//! body is wrong is still "already logged in" inside a session.
//!
//! Two handlers ran a policy or store check *before* a syntax check; their
//! order is kept by carrying the syntax result as a field of type
//! [`Deferred`] that the apply side unwraps at the point where the check
//! used to run:
//!
//! - `domain:create` checked the name against the TLD and the reserved list
//!   (policy, 2306) before it read the period, and the period range of the
//!   policy before the name servers, and the name server limit before the
//!   contacts, authInfo and DS data: [`DomainCreate`] keeps `years`, `ns`,
//!   `contacts`, `auth_pw` and `ds` deferred.
//! - an RGP restore checked that the domain exists and is the caller's
//!   (2303 / 2201) before the `op` attribute (2005): [`DomainRestore::op`]
//!   is deferred.
//!
//! Every other handler read all of its elements before its first policy or
//! store check, so its decode errors are plain `Err`s of the command.
//!
//! # Limits
//!
//! As before this is no XML Schema engine: unexpected extra elements inside
//! known commands are ignored, and where a handler read the first of
//! several elements (`child`) the decoder does too.
pub mod contact;
pub mod domain;
pub mod host;
#[cfg(test)]
mod tests;

use crate::epp::parse;
use crate::epp::xml::{self, Elem, NS_CONTACT, NS_DOMAIN, NS_EPP, NS_HOST, NS_RGP, NS_SECDNS};
use crate::result::{err, EppError, EppResult};

pub use contact::{ContactCreate, ContactInfo, ContactUpdate};
pub use domain::{
    DomainCreate, DomainDelta, DomainInfo, DomainRenew, DomainRestore, DomainTransfer,
    DomainUpdate, HostsFilter, RestoreOp, SecDnsUpdate, TransferOp,
};
pub use host::{HostCreate, HostUpdate};

/// A syntax result whose error is answered later than some policy or store
/// check, because that is the order clients have always seen (see the
/// module documentation).
pub type Deferred<T> = Result<T, EppError>;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `<hello/>`: answered with the greeting.
    Hello,
    /// `<command>`.
    Command(Envelope),
}

/// A `<command>`: its client transaction id and what it asks.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `<clTRID>`, echoed in the answer.
    pub cl_trid: Option<String>,
    pub request: Request,
}

/// What a `<command>` asks, sorted by how the session gates it.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Answered with `error` whatever the session's state: a `<command>`
    /// without exactly one verb (2001, label `invalid`) or a verb outside
    /// the EPP namespace (2000, label `unknown`).
    Refused {
        error: EppError,
        label: &'static str,
    },
    /// `<login>` and its decoded body (answered only outside a session).
    Login(Result<Login, EppError>),
    /// `<logout>` (its content is not looked at).
    Logout,
    /// Any other EPP verb, answered only inside a session (boxed: a
    /// decoded command is large next to the other requests).
    Command(Box<Verb>),
}

/// An EPP verb other than login and logout.
#[derive(Debug, Clone, PartialEq)]
pub struct Verb {
    /// The verb element's local name (`create`, `poll`, `frobnicate`...):
    /// the metrics label of the "log in first" answer.
    pub name: String,
    /// The metrics label once logged in (`domain:create`, `poll`,
    /// `unknown`...).
    pub label: String,
    /// The decoded command, or the first error a logged-in client gets.
    pub command: Result<Command, EppError>,
}

/// `<login>` (RFC 5730 section 2.9.1.1).
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub clid: String,
    pub pw: String,
    /// `<newPW>`: the password to set once logged in.
    pub new_pw: Option<String>,
}

/// A typed command, ready to be applied to the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `<poll op="req"/>`.
    PollReq,
    /// `<poll op="ack" msgID=".."/>`.
    PollAck {
        id: u64,
    },
    /// `<domain:check>`: the names as sent (answers echo them).
    DomainCheck {
        names: Vec<String>,
    },
    DomainInfo(DomainInfo),
    DomainCreate(DomainCreate),
    DomainUpdate(DomainUpdate),
    /// `<domain:update>` carrying an RGP `<rgp:update>` (the rest of the
    /// update is then not looked at).
    DomainRestore(DomainRestore),
    DomainDelete {
        name: String,
    },
    DomainRenew(DomainRenew),
    DomainTransfer(DomainTransfer),
    /// `<host:check>`: the names as sent.
    HostCheck {
        names: Vec<String>,
    },
    HostInfo {
        name: String,
    },
    HostCreate(HostCreate),
    HostUpdate(HostUpdate),
    HostDelete {
        name: String,
    },
    /// `<contact:check>`: the ids as sent.
    ContactCheck {
        ids: Vec<String>,
    },
    ContactInfo(ContactInfo),
    ContactCreate(ContactCreate),
    ContactUpdate(ContactUpdate),
    ContactDelete {
        id: String,
    },
}

impl Command {
    /// Decodes a frame (mini-redis's `Command::from_frame`); see [`decode`].
    pub fn decode(frame: &[u8]) -> Result<Frame, EppError> {
        decode(frame)
    }
}

/// The verbs that take an object element.
const OBJECT_VERBS: [&str; 7] = [
    "check", "info", "create", "update", "delete", "renew", "transfer",
];

/// Decodes one frame. An `Err` concerns the frame as a whole (not UTF-8,
/// not XML, not an EPP `<hello>` or `<command>`, a bad clTRID) and is
/// answered without a clTRID; errors inside a command are in its
/// [`Request`].
pub fn decode(frame: &[u8]) -> Result<Frame, EppError> {
    let text = std::str::from_utf8(frame).map_err(|_| err(2001, "frame is not UTF-8"))?;
    let root = xml::parse(text).map_err(|e| err(2001, e.0))?;
    if !root.is(NS_EPP, "epp") {
        return Err(err(2001, format!("root element must be <epp> in {NS_EPP}")));
    }
    if root.child(NS_EPP, "hello").is_some() {
        return Ok(Frame::Hello);
    }
    let cmd = root
        .child(NS_EPP, "command")
        .ok_or_else(|| err(2001, "expected <hello> or <command>"))?;
    let cl_trid = cmd.child_text(NS_EPP, "clTRID").map(str::to_string);
    if cl_trid
        .as_ref()
        .is_some_and(|c| !crate::epp::xsd::is_tr_id(c))
    {
        return Err(err(2001, "clTRID must be 3 to 64 characters"));
    }
    let verbs: Vec<&Elem> = cmd
        .children
        .iter()
        .filter(|c| !(c.ns == NS_EPP && (c.name == "extension" || c.name == "clTRID")))
        .collect();
    let request = match verbs.as_slice() {
        [verb] => request(verb, cmd.child(NS_EPP, "extension")),
        [] => Request::Refused {
            error: err(2001, "<command> holds no command"),
            label: "invalid",
        },
        _ => Request::Refused {
            error: err(2001, "<command> holds more than one command"),
            label: "invalid",
        },
    };
    Ok(Frame::Command(Envelope { cl_trid, request }))
}

fn request(verb: &Elem, ext: Option<&Elem>) -> Request {
    if verb.ns != NS_EPP {
        return Request::Refused {
            error: err(2000, format!("unknown command <{}>", verb.name)),
            label: "unknown",
        };
    }
    match verb.name.as_str() {
        "login" => Request::Login(login(verb)),
        "logout" => Request::Logout,
        name => {
            let (label, command) = command(name, verb, ext);
            Request::Command(Box::new(Verb {
                name: name.to_string(),
                label,
                command,
            }))
        }
    }
}

/// A verb other than login/logout: its label and command.
fn command(name: &str, verb: &Elem, ext: Option<&Elem>) -> (String, EppResult<Command>) {
    if let Some(e) = ext {
        if let Some(bad) = e
            .children
            .iter()
            .find(|c| c.ns != NS_SECDNS && c.ns != NS_RGP)
        {
            return (
                name.to_string(),
                Err(err(2103, format!("extension {} is not supported", bad.ns))),
            );
        }
    }
    if name == "poll" {
        return ("poll".into(), poll(verb));
    }
    if !OBJECT_VERBS.contains(&name) {
        return (
            "unknown".into(),
            Err(err(2000, format!("unknown command <{name}>"))),
        );
    }
    let Some(obj) = verb.children.first() else {
        return (
            name.to_string(),
            Err(err(2001, format!("<{name}> holds no object"))),
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
            label,
            Err(err(
                2001,
                format!("<{name}> must hold <obj:{name}>, not <{}>", obj.name),
            )),
        );
    }
    (label, object(name, verb, obj, ext))
}

fn object(name: &str, verb: &Elem, obj: &Elem, ext: Option<&Elem>) -> EppResult<Command> {
    match (obj.ns.as_str(), name) {
        (NS_DOMAIN, "check") => domain::check(obj),
        (NS_DOMAIN, "info") => domain::info(obj),
        (NS_DOMAIN, "create") => domain::create(obj, ext),
        (NS_DOMAIN, "update") => domain::update(obj, ext),
        (NS_DOMAIN, "delete") => domain::delete(obj),
        (NS_DOMAIN, "renew") => domain::renew(obj),
        (NS_DOMAIN, "transfer") => {
            let op = verb
                .attr("op")
                .ok_or_else(|| err(2003, "transfer needs an op attribute"))?;
            domain::transfer(op, obj)
        }
        (NS_HOST, "check") => host::check(obj),
        (NS_HOST, "info") => host::info(obj),
        (NS_HOST, "create") => host::create(obj),
        (NS_HOST, "update") => host::update(obj),
        (NS_HOST, "delete") => host::delete(obj),
        (NS_CONTACT, "check") => contact::check(obj),
        (NS_CONTACT, "info") => contact::info(obj),
        (NS_CONTACT, "create") => contact::create(obj),
        (NS_CONTACT, "update") => contact::update(obj),
        (NS_CONTACT, "delete") => contact::delete(obj),
        (NS_HOST | NS_CONTACT, "renew" | "transfer") => {
            Err(err(2101, format!("{name} is not offered for this object")))
        }
        (ns, _) => Err(err(2307, format!("object service {ns:?} is not offered"))),
    }
}

/// `<login>`: everything the server checks before it looks up the
/// registrar.
fn login(el: &Elem) -> EppResult<Login> {
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
    Ok(Login {
        clid,
        pw,
        new_pw: parse::opt(el, NS_EPP, "newPW"),
    })
}

/// `<poll op="req|ack" msgID="..">` (RFC 5730 section 2.9.2.3).
fn poll(el: &Elem) -> EppResult<Command> {
    match el.attr("op") {
        Some("req") => Ok(Command::PollReq),
        Some("ack") => {
            let id_s = el
                .attr("msgID")
                .ok_or_else(|| err(2003, "poll ack needs msgID"))?;
            let id: u64 = id_s
                .parse()
                .map_err(|_| err(2005, format!("msgID {id_s:?} is not a message id")))?;
            Ok(Command::PollAck { id })
        }
        Some(other) => Err(err(2005, format!("poll op {other:?} is not req or ack"))),
        None => Err(err(2003, "poll needs an op attribute")),
    }
}
