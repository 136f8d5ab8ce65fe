//! The SRS objects as stored: registrars, contacts, hosts, domains (with
//! their grace periods, redemption state and transfers), poll messages,
//! ledger entries and publisher operations.
//!
//! Every record is serialised as one version byte followed by JSON
//! ([`encode`]/[`decode`]). A reader that meets a version it does not know
//! refuses the record with an error naming it instead of guessing; a future
//! format adds a new version byte and a conversion from the old one. JSON
//! keeps records inspectable with ordinary tools and lets fields be added
//! with `#[serde(default)]` without a version bump.
//!
//! Names are stored in canonical form: A-labels, lower case, no trailing
//! dot (`example.shop`, `ns1.example.net`). Times are [`Ts`] (UTC seconds).
//!
//! Derived state (EPP status values, "linked", the RGP status, the next
//! time-driven transition) is computed
//! from these records by the functions here, never stored twice.
use crate::clock::Ts;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Current record format.
pub const RECORD_VERSION: u8 = 1;

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    serde_json::to_writer(&mut out, v).expect("records serialise");
    out
}

pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => {
            serde_json::from_slice(rest).map_err(|e| format!("corrupt {what} record: {e}"))
        }
        Some((v, _)) => Err(format!("{what} record has unknown format version {v}")),
        None => Err(format!("empty {what} record")),
    }
}

/// A registrar (an EPP client).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Registrar {
    pub id: String,
    pub name: String,
    pub iana_id: u32,
    /// argon2 PHC string.
    pub password_hash: String,
    /// SHA-256 of allowed client certificates (DER), lower-case hex.
    pub cert_sha256: Vec<String>,
    /// Source networks allowed to log in (CIDR); empty = any.
    #[serde(default)]
    pub networks: Vec<String>,
    /// How far the balance may go below zero; `None` = unlimited.
    #[serde(default)]
    pub credit_limit: Option<i64>,
    /// Minor currency units; charges subtract, credits and payments add.
    #[serde(default)]
    pub balance: i64,
    /// Sessions at once; `None` = `[srs] epp_registrar_connections`.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Shown by Whois/RDAP (issue 6).
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub whois_server: Option<String>,
    #[serde(default)]
    pub abuse_email: Option<String>,
    #[serde(default)]
    pub abuse_phone: Option<String>,
    /// The registrar's RDAP base URL (RDAP `about` link; issue 6).
    #[serde(default)]
    pub rdap_url: Option<String>,
    /// Its own address and contact points (Whois registrar answer, RDAP
    /// entity).
    #[serde(default)]
    pub contact: RegistrarContact,
    #[serde(default)]
    pub created: Ts,
    #[serde(default)]
    pub updated: Ts,
}

/// A registrar's postal address, phone, fax and email: the registrar data
/// of Spec 4 §1.6 (Whois) and the address, `tel` and `email` of the RDAP
/// registrar entity. Every part is optional; phones in the EPP form
/// `+CC.NUMBER`, the country as an ISO 3166 alpha-2 code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct RegistrarContact {
    pub street: Vec<String>,
    pub city: Option<String>,
    pub sp: Option<String>,
    pub pc: Option<String>,
    pub cc: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
}

/// RFC 5733 postal info (`type` int or loc).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PostalInfo {
    pub kind: String,
    pub name: String,
    pub org: Option<String>,
    pub street: Vec<String>,
    pub city: String,
    pub sp: Option<String>,
    pub pc: Option<String>,
    pub cc: String,
}

/// A phone number with optional extension (`+1.7035555555`, `x=1234`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Phone {
    pub number: String,
    pub ext: Option<String>,
}

/// RFC 5733 disclose preference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Disclose {
    pub flag: bool,
    /// e.g. "name:int", "org:loc", "addr:int", "voice", "fax", "email".
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Contact {
    pub id: String,
    pub roid: String,
    pub postal: Vec<PostalInfo>,
    pub voice: Option<Phone>,
    pub fax: Option<Phone>,
    pub email: String,
    pub auth_pw: String,
    pub disclose: Option<Disclose>,
    /// client*/server* status values set on the object.
    pub statuses: BTreeSet<String>,
    pub cl_id: String,
    pub cr_id: String,
    pub cr_date: Ts,
    pub up_id: Option<String>,
    pub up_date: Option<Ts>,
    pub tr_date: Option<Ts>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Host {
    pub name: String,
    pub roid: String,
    pub addrs: Vec<IpAddr>,
    pub statuses: BTreeSet<String>,
    pub cl_id: String,
    pub cr_id: String,
    pub cr_date: Ts,
    pub up_id: Option<String>,
    pub up_date: Option<Ts>,
    pub tr_date: Option<Ts>,
}

/// A delegation signer (RFC 5910 dsData).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DsData {
    pub key_tag: u16,
    pub alg: u8,
    pub digest_type: u8,
    /// Upper-case hex.
    pub digest: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum GraceKind {
    Add,
    Renew,
    AutoRenew,
    Transfer,
}

impl GraceKind {
    /// RFC 3915 rgpStatus value.
    pub fn rgp_status(self) -> &'static str {
        match self {
            GraceKind::Add => "addPeriod",
            GraceKind::Renew => "renewPeriod",
            GraceKind::AutoRenew => "autoRenewPeriod",
            GraceKind::Transfer => "transferPeriod",
        }
    }
}

/// A running grace period and the charge it may credit back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grace {
    pub kind: GraceKind,
    pub start: Ts,
    pub until: Ts,
    pub registrar: String,
    pub amount: i64,
    pub years: u32,
}

/// Where a domain is in the deletion part of its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Rgp {
    Active,
    /// Deleted outside the add grace period: restorable until `until`.
    Redemption {
        since: Ts,
        until: Ts,
    },
    /// Not restorable; purged at `until`.
    PendingDelete {
        until: Ts,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum TrStatus {
    Pending,
    ClientApproved,
    ClientCancelled,
    ClientRejected,
    ServerApproved,
    ServerCancelled,
}

impl TrStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TrStatus::Pending => "pending",
            TrStatus::ClientApproved => "clientApproved",
            TrStatus::ClientCancelled => "clientCancelled",
            TrStatus::ClientRejected => "clientRejected",
            TrStatus::ServerApproved => "serverApproved",
            TrStatus::ServerCancelled => "serverCancelled",
        }
    }
}

/// The latest transfer of a domain (pending or finished).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transfer {
    pub status: TrStatus,
    /// Gaining registrar.
    pub re_id: String,
    pub re_date: Ts,
    /// Losing registrar.
    pub ac_id: String,
    /// Pending: the auto-approve time; finished: when it finished.
    pub ac_date: Ts,
    pub years: u32,
    /// Expiry after the transfer (projected while pending).
    pub ex_date: Ts,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContactType {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "tech")]
    Tech,
    #[serde(rename = "billing")]
    Billing,
}

impl ContactType {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactType::Admin => "admin",
            ContactType::Tech => "tech",
            ContactType::Billing => "billing",
        }
    }
    pub fn parse(s: &str) -> Option<ContactType> {
        match s {
            "admin" => Some(ContactType::Admin),
            "tech" => Some(ContactType::Tech),
            "billing" => Some(ContactType::Billing),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Domain {
    pub name: String,
    pub roid: String,
    pub registrant: Option<String>,
    pub contacts: Vec<(ContactType, String)>,
    /// Host object names, in the order given.
    pub ns: Vec<String>,
    pub ds: Vec<DsData>,
    /// client*/server* status values set on the object.
    pub statuses: BTreeSet<String>,
    pub cl_id: String,
    pub cr_id: String,
    pub cr_date: Ts,
    pub up_id: Option<String>,
    pub up_date: Option<Ts>,
    pub ex_date: Ts,
    pub tr_date: Option<Ts>,
    pub auth_pw: String,
    pub grace: Vec<Grace>,
    pub rgp: Rgp,
    pub transfer: Option<Transfer>,
}

/// Status values a registrar may set (RFC 5731/5732/5733).
pub const CLIENT_STATUSES: &[&str] = &[
    "clientDeleteProhibited",
    "clientHold",
    "clientRenewProhibited",
    "clientTransferProhibited",
    "clientUpdateProhibited",
];

/// Status values only the registry sets.
pub const SERVER_STATUSES: &[&str] = &[
    "serverDeleteProhibited",
    "serverHold",
    "serverRenewProhibited",
    "serverTransferProhibited",
    "serverUpdateProhibited",
];

impl Domain {
    pub fn has(&self, s: &str) -> bool {
        self.statuses.contains(s)
    }
    pub fn pending_transfer(&self) -> Option<&Transfer> {
        self.transfer
            .as_ref()
            .filter(|t| t.status == TrStatus::Pending)
    }
    pub fn on_hold(&self) -> bool {
        self.has("clientHold") || self.has("serverHold")
    }
    /// Whether the delegation belongs in the zone.
    pub fn in_zone(&self) -> bool {
        self.rgp == Rgp::Active && !self.on_hold() && !self.ns.is_empty()
    }
    /// Grace periods still running at `now`.
    pub fn graces_at(&self, now: Ts) -> impl Iterator<Item = &Grace> {
        self.grace.iter().filter(move |g| g.until > now)
    }
    pub fn in_grace(&self, kind: GraceKind, now: Ts) -> bool {
        self.graces_at(now).any(|g| g.kind == kind)
    }
    /// EPP status values (RFC 5731 section 2.3).
    pub fn epp_statuses(&self) -> Vec<String> {
        let mut out: Vec<String> = self.statuses.iter().cloned().collect();
        if self.pending_transfer().is_some() {
            out.push("pendingTransfer".into());
        }
        if self.rgp != Rgp::Active {
            out.push("pendingDelete".into());
        }
        if self.ns.is_empty() {
            out.push("inactive".into());
        }
        if out.is_empty() {
            out.push("ok".into());
        }
        out
    }
    /// RFC 3915 rgpStatus values at `now`.
    pub fn rgp_statuses(&self, now: Ts) -> Vec<&'static str> {
        match self.rgp {
            Rgp::Redemption { .. } => vec!["redemptionPeriod"],
            Rgp::PendingDelete { .. } => vec!["pendingDelete"],
            Rgp::Active => {
                let mut v: Vec<&'static str> =
                    self.graces_at(now).map(|g| g.kind.rgp_status()).collect();
                v.dedup();
                v
            }
        }
    }
}

/// Status values of a host or contact, given whether it is linked.
pub fn object_statuses(set: &BTreeSet<String>, linked: bool) -> Vec<String> {
    let mut out: Vec<String> = set.iter().cloned().collect();
    if out.is_empty() {
        out.push("ok".into());
    }
    if linked {
        out.push("linked".into());
    }
    out
}

/// What a poll message carries besides its text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum PollPayload {
    /// Domain transfer data (RFC 5731 trnData).
    DomainTransfer { name: String, transfer: Transfer },
    /// A lifecycle notice about a domain (auto-renewed, purged, ...).
    Domain { name: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PollMsg {
    pub id: u64,
    pub registrar: String,
    pub q_date: Ts,
    pub msg: String,
    pub payload: Option<PollPayload>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum LedgerKind {
    Create,
    Renew,
    AutoRenew,
    Transfer,
    Restore,
    /// Grace-period credits: the charge credited back.
    CreditCreate,
    CreditRenew,
    CreditAutoRenew,
    CreditTransfer,
    /// Funds added by the operator.
    Payment,
}

/// One billable event. `amount` > 0 is a charge, < 0 a credit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    pub id: u64,
    pub at: Ts,
    pub registrar: String,
    pub kind: LedgerKind,
    pub object: String,
    pub years: u32,
    pub amount: i64,
    /// Registrar balance after this entry.
    pub balance: i64,
}

/// The DNS data the SRS wants at one owner name (only the types it
/// manages: NS, DS, A, AAAA). Empty = nothing at that name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct OwnerSet {
    pub name: String,
    pub ns: Vec<String>,
    pub ds: Vec<DsData>,
    pub addrs: Vec<IpAddr>,
}

impl OwnerSet {
    pub fn is_empty(&self) -> bool {
        self.ns.is_empty() && self.ds.is_empty() && self.addrs.is_empty()
    }
    /// Sorted, deduplicated form for comparisons.
    pub fn normalized(mut self) -> OwnerSet {
        self.ns.sort();
        self.ns.dedup();
        self.ds.sort();
        self.ds.dedup();
        self.addrs.sort();
        self.addrs.dedup();
        self
    }
}

/// One queued DNS change: the full wanted state of some owner names,
/// computed when the EPP transaction committed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PubOp {
    pub id: u64,
    pub queued: Ts,
    pub owners: Vec<OwnerSet>,
}

impl Domain {
    /// The earliest time-driven transition this domain is waiting for: a
    /// grace period ending, a pending transfer's auto-approval, the end of
    /// redemption or pending delete, or expiry (auto-renew).
    pub fn next_due(&self) -> Option<Ts> {
        match self.rgp {
            Rgp::Redemption { until, .. } | Rgp::PendingDelete { until } => return Some(until),
            Rgp::Active => {}
        }
        let mut due = self.ex_date;
        for g in &self.grace {
            due = due.min(g.until);
        }
        if let Some(t) = self.pending_transfer() {
            due = due.min(t.ac_date);
        }
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_unknown_version_is_refused() {
        let e = PollMsg {
            id: 7,
            registrar: "r1".into(),
            q_date: 1,
            msg: "hi".into(),
            payload: None,
        };
        let bytes = encode(&e);
        assert_eq!(decode::<PollMsg>("poll", &bytes).unwrap(), e);
        let mut bad = bytes.clone();
        bad[0] = 9;
        let err = decode::<PollMsg>("poll", &bad).unwrap_err();
        assert!(err.contains("unknown format version 9"), "{err}");
        assert!(decode::<PollMsg>("poll", &bytes[..5]).is_err());
    }
}
