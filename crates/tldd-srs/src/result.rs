//! EPP result codes (RFC 5730 section 3) and the error type command
//! handlers return. Every failure a registrar can cause maps to one code
//! with its standard message plus a specific reason (sent as `<extValue>`).
use crate::db::StoreError;

/// The standard message of a result code.
pub fn message(code: u16) -> &'static str {
    match code {
        1000 => "Command completed successfully",
        1001 => "Command completed successfully; action pending",
        1300 => "Command completed successfully; no messages",
        1301 => "Command completed successfully; ack to dequeue",
        1500 => "Command completed successfully; ending session",
        2000 => "Unknown command",
        2001 => "Command syntax error",
        2002 => "Command use error",
        2003 => "Required parameter missing",
        2004 => "Parameter value range error",
        2005 => "Parameter value syntax error",
        2100 => "Unimplemented protocol version",
        2101 => "Unimplemented command",
        2102 => "Unimplemented option",
        2103 => "Unimplemented extension",
        2104 => "Billing failure",
        2105 => "Object is not eligible for renewal",
        2106 => "Object is not eligible for transfer",
        2200 => "Authentication error",
        2201 => "Authorization error",
        2202 => "Invalid authorization information",
        2300 => "Object pending transfer",
        2301 => "Object not pending transfer",
        2302 => "Object exists",
        2303 => "Object does not exist",
        2304 => "Object status prohibits operation",
        2305 => "Object association prohibits operation",
        2306 => "Parameter value policy error",
        2307 => "Unimplemented object service",
        2308 => "Data management policy violation",
        2400 => "Command failed",
        2500 => "Command failed; server closing connection",
        2501 => "Authentication error; server closing connection",
        2502 => "Session limit exceeded; server closing connection",
        _ => "Command failed",
    }
}

/// A failed command: code and the specific reason.
#[derive(Debug, Clone, PartialEq)]
pub struct EppError {
    pub code: u16,
    pub reason: String,
}

impl EppError {
    pub fn new(code: u16, reason: impl Into<String>) -> EppError {
        EppError {
            code,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for EppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, message(self.code), self.reason)
    }
}

impl From<StoreError> for EppError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure during EPP command");
        EppError::new(2400, "internal storage error; nothing was changed")
    }
}

impl From<crate::names::NameError> for EppError {
    fn from(e: crate::names::NameError) -> Self {
        EppError::new(if e.syntax { 2005 } else { 2306 }, e.reason)
    }
}

/// Shorthand: `Err(err(2303, "..."))`.
pub fn err(code: u16, reason: impl Into<String>) -> EppError {
    EppError::new(code, reason)
}

pub type EppResult<T> = Result<T, EppError>;

/// 2304 when `statuses` holds `client<Action>Prohibited` or
/// `server<Action>Prohibited` (RFC 5731-5733 §2.3); `what` names the object.
pub fn refuse_if_prohibited(
    statuses: &std::collections::BTreeSet<String>,
    action: &str,
    what: &str,
) -> EppResult<()> {
    for side in ["client", "server"] {
        let s = format!("{side}{action}Prohibited");
        if statuses.contains(&s) {
            return Err(err(2304, format!("{what} has status {s}")));
        }
    }
    Ok(())
}

/// The statuses of a host or contact after an `<update>` (RFC 5732/5733
/// §3.2.5): refused 2304 while `serverUpdateProhibited` is set, or
/// `clientUpdateProhibited` unless this update removes it; removing a
/// status that is not set or adding one that is gives 2306.
pub fn changed_statuses(
    kind: &str,
    id: &str,
    old: &std::collections::BTreeSet<String>,
    rem: &[String],
    add: &[String],
) -> EppResult<std::collections::BTreeSet<String>> {
    if old.contains("serverUpdateProhibited")
        || (old.contains("clientUpdateProhibited")
            && !rem.iter().any(|s| s == "clientUpdateProhibited"))
    {
        return Err(err(2304, format!("{kind} {id} is update-prohibited")));
    }
    let mut new = old.clone();
    for s in rem {
        if !new.remove(s) {
            return Err(err(2306, format!("status {s:?} is not set")));
        }
    }
    for s in add {
        if !new.insert(s.clone()) {
            return Err(err(2306, format!("status {s:?} is already set")));
        }
    }
    Ok(new)
}
