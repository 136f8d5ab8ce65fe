//! TSIG (RFC 8945): authenticating UPDATE, NOTIFY, SOA checks and zone
//! transfers with shared HMAC keys from `[[tsig]]`.
//!
//! # Design
//! Works on raw wire bytes, not on decoded `Message`s: our responses are
//! written straight into buffers by tldd-dns's `wire::writer` and by the
//! transfer code, and a TSIG is appended to those bytes after the fact
//! ([`Signer::sign`] bumps ARCOUNT and appends the record). HMAC comes from
//! ring. hickory-proto's `TSigner` was evaluated and not used because it
//! (a) supports no hmac-sha1 (still needed for old peers), (b) signs only
//! `Message` values, and (c) has no signer for the second and later messages
//! of a multi-message transfer (RFC 8945 §5.3.1). hickory is used for the
//! algorithm-name constants' spelling only through the RFC, and our tests
//! cross-check every path against BIND's `nsupdate`/`dig`, Knot's
//! `knsupdate`/`kdig` and Knot/NSD as transfer peers.
//!
//! # What is checked (server side, [`KeyRing::verify`])
//! RFC 8945 §5.2 in order: key name and algorithm known (else BADKEY, an
//! *unsigned* NOTAUTH answer), MAC length and value (else BADSIG, unsigned
//! NOTAUTH), then the time: `|now - time_signed| <= fudge` (else BADTIME, a
//! *signed* NOTAUTH answer whose Other Data carries our clock, §5.2.3).
//! Truncated MACs (RFC 8945 §5.2.2.1) are refused as BADSIG: no peer we
//! talk to sends them.
//!
//! The fudge is the signer's choice (it is in the message), so it is
//! capped: a message is held to `min(its fudge, the key's max fudge)`
//! ([`Key::max_fudge`], `[server] tsig_max_fudge` in `tldd serve`, 300 s
//! by default, [`FUDGE`] wherever nothing is configured, e.g. the SRS).
//! A message claiming fudge 65535 is BADTIME once it is more than the cap
//! away from our clock. The same cap applies to the responses a
//! [`Verifier`] checks (transfers and SOA checks in secondary mode, the
//! SRS's UPDATE and AXFR answers).
//!
//! # Replay
//! A request signed outside its (capped) window is refused (BADTIME).
//! Inside the window an identical MAC means the very same request: the
//! UPDATE path admits every signed request through a [`ReplayCache`],
//! which answers a repeat with the first answer instead of applying it
//! twice (so a client's retransmission after a lost answer is harmless,
//! and a replay changes nothing). The rules that make that hold:
//!
//! 1. **Never forget early.** An accepted MAC stays in the cache until its
//!    own window has closed by our clock (`time_signed + capped fudge <
//!    now`); after that the message itself is BADTIME. The cache also
//!    remembers the latest window it let go of, and refuses a request whose
//!    window closed at or before it, so a clock stepped backwards cannot
//!    reopen a forgotten window.
//! 2. **Full means refuse.** The cache holds [`ReplayCache::CAPACITY`]
//!    entries: 1000 updates/s for the 600 s a default window can stay open
//!    (an entry lives at most 2 x 300 s: accepted up to 300 s before its
//!    time signed, kept until 300 s after it). When it is full a new
//!    request is refused, never admitted by forgetting another: `tldd
//!    serve` answers it REFUSED (signed), logs a warning and counts
//!    `tldd_updates_total{result="replay_cache_full"}`. REFUSED rather
//!    than BADTIME because the client's clock is fine (BADTIME tells
//!    clients their clock is off, and some adjust it); the condition is
//!    the server's and clears as windows close, and the SRS publisher
//!    retries anything but NOERROR.
//! 3. **A restart forgets nothing it could be asked about.** The cache is
//!    not persisted; instead it vouches only for requests signed after the
//!    process started: a request whose time signed is in or before the
//!    second the process started ([`ReplayCache::not_before`]) cannot be
//!    in this process's memory, so it is refused (BADTIME). Persisting
//!    would have to be as durable as the journal (an update applied and
//!    acknowledged, then kill -9 before its MAC is on disk, would be
//!    applied again), i.e. one more fsync on every update, and a format to
//!    version; the time rule costs nothing, survives kill -9, and only
//!    refuses what was signed before the start (a retransmission across a
//!    restart gets BADTIME instead of its old answer; the client signs
//!    anew; a client whose clock lags ours by L seconds is refused for L
//!    seconds after a restart). `tldd serve` binds its sockets only once
//!    its clock has passed `not_before`, so a client that signs after
//!    seeing it listen is never refused for this; and when no zone was
//!    restored from its store (a new data_dir) no earlier process applied
//!    anything through it, so the rule is off
//!    ([`ReplayCache::for_new_store`]).
//! 4. **Nothing is applied before its time signed.** A request signed
//!    ahead of our clock (the client's clock is fast, within the fudge)
//!    could be accepted by one process and replayed, bytes unchanged, to
//!    the next, whose start is then still before the time signed. So the
//!    UPDATE path waits until our clock has reached the time signed before
//!    applying ([`until`]): anything a process applied was signed before
//!    any later process started. For a synchronised client the wait is
//!    under a second, and none at all for a client on the same host (the
//!    SRS).
//!
//! NOTIFY and transfer requests get the fudge cap but no cache: replaying
//! one makes us check a primary's SOA or send a zone that the key may
//! have anyway, and only inside the capped window.
//!
//! # Multi-message responses
//! [`Signer`] keeps the running MAC: the first message is signed over the
//! request MAC, the message and all TSIG variables; later ones over the
//! previous MAC, the message and the timers only (§5.3.1). Every message is
//! signed (allowed, and what Knot and BIND do). [`Verifier`] checks such a
//! stream when we are the client (secondary mode), accepting up to 99
//! unsigned messages between signed ones as the RFC allows.
use ring::hmac;
use serde::Deserialize;
use std::sync::Arc;
use tldd_zone::name;

mod replay;
pub use replay::{Admit, Refusal, ReplayCache};

/// `[[tsig]]`: one shared key as configured (the same table in `tldd serve`
/// and `tldd srs` configs).
#[derive(Debug, Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub name: String,
    pub algorithm: String,
    pub secret: String,
}

/// A `[[tsig]]` entry that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("tsig {name}: unknown algorithm {algorithm} (hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512)")]
    Algorithm { name: String, algorithm: String },
    #[error("tsig {name}: secret is not base64: {source}")]
    Secret {
        name: String,
        source: base64::DecodeError,
    },
    #[error("TSIG key name {name:?}: {message}")]
    Name { name: String, message: String },
}

/// TSIG RR type.
pub const TSIG: u16 = 250;
/// TSIG error codes (RFC 8945 §3).
pub const BADSIG: u16 = 16;
pub const BADKEY: u16 = 17;
pub const BADTIME: u16 = 18;
/// Fudge we put in what we sign (seconds), and the cap on the fudge we
/// accept when nothing else is configured ([`Key::with_max_fudge`]).
pub const FUDGE: u16 = 300;

/// A HMAC algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Alg {
    /// From the `[[tsig]] algorithm` spelling.
    pub fn from_config(s: &str) -> Option<Alg> {
        match s.to_ascii_lowercase().trim_end_matches('.') {
            "hmac-sha1" => Some(Alg::Sha1),
            "hmac-sha256" => Some(Alg::Sha256),
            "hmac-sha384" => Some(Alg::Sha384),
            "hmac-sha512" => Some(Alg::Sha512),
            _ => None,
        }
    }

    /// The algorithm name in (lower-case) wire form.
    pub fn wire_name(self) -> &'static [u8] {
        match self {
            Alg::Sha1 => b"\x09hmac-sha1\x00",
            Alg::Sha256 => b"\x0bhmac-sha256\x00",
            Alg::Sha384 => b"\x0bhmac-sha384\x00",
            Alg::Sha512 => b"\x0bhmac-sha512\x00",
        }
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Alg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Alg::Sha256 => hmac::HMAC_SHA256,
            Alg::Sha384 => hmac::HMAC_SHA384,
            Alg::Sha512 => hmac::HMAC_SHA512,
        }
    }

    pub fn mac_len(self) -> usize {
        self.ring().digest_algorithm().output_len()
    }

    /// Text form as used by `nsupdate -y ALG:NAME:SECRET`.
    pub fn text(self) -> &'static str {
        match self {
            Alg::Sha1 => "hmac-sha1",
            Alg::Sha256 => "hmac-sha256",
            Alg::Sha384 => "hmac-sha384",
            Alg::Sha512 => "hmac-sha512",
        }
    }
}

/// One shared key.
#[derive(Clone)]
pub struct Key {
    /// Lower-case wire name.
    pub name: Box<[u8]>,
    /// As configured (`[[tsig]] name`).
    pub label: String,
    pub alg: Alg,
    key: hmac::Key,
    /// The largest fudge we hold a message signed with this key to.
    max_fudge: u16,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} {:?})", self.label, self.alg)
    }
}

impl Key {
    /// A key from its parts; `name` in presentation form.
    pub fn new(name_text: &str, alg: Alg, secret: &[u8]) -> Result<Key, KeyError> {
        let mut n = Vec::new();
        name::from_text(name_text.as_bytes(), &[0], true, &mut n).map_err(|e| KeyError::Name {
            name: name_text.to_string(),
            message: e.to_string(),
        })?;
        Ok(Key {
            name: n.into(),
            label: name_text.to_string(),
            alg,
            key: hmac::Key::new(alg.ring(), secret),
            max_fudge: FUDGE,
        })
    }

    /// The same key, holding what it verifies to a fudge of at most
    /// `secs` seconds (default [`FUDGE`]): a message or response claiming a
    /// larger fudge is checked as if it said `secs`.
    pub fn with_max_fudge(mut self, secs: u16) -> Key {
        self.max_fudge = secs;
        self
    }

    /// The cap on the fudge of what this key verifies (seconds).
    pub fn max_fudge(&self) -> u16 {
        self.max_fudge
    }

    /// A key from its `[[tsig]]` entry (algorithm spelling, base64 secret).
    pub fn from_config(k: &KeyConfig) -> Result<Key, KeyError> {
        use base64::Engine;
        let alg = Alg::from_config(&k.algorithm).ok_or_else(|| KeyError::Algorithm {
            name: k.name.clone(),
            algorithm: k.algorithm.clone(),
        })?;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(k.secret.trim())
            .map_err(|source| KeyError::Secret {
                name: k.name.clone(),
                source,
            })?;
        Key::new(&k.name, alg, &secret)
    }

    fn mac(&self, tbs: &[u8]) -> hmac::Tag {
        hmac::sign(&self.key, tbs)
    }

    /// Constant-time check of `mac` over `tbs`.
    fn check(&self, tbs: &[u8], mac: &[u8]) -> bool {
        hmac::verify(&self.key, tbs, mac).is_ok()
    }
}

/// The configured keys.
#[derive(Default, Clone, Debug)]
pub struct KeyRing {
    keys: Vec<Arc<Key>>,
}

impl KeyRing {
    /// From `[[tsig]]` sections (already validated by `config`).
    pub fn from_config(cfg: &[KeyConfig]) -> Result<KeyRing, KeyError> {
        let keys = cfg
            .iter()
            .map(|k| Key::from_config(k).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(KeyRing { keys })
    }

    /// The same keys, each capped at `secs` of fudge
    /// ([`Key::with_max_fudge`]); `tldd serve` passes `[server]
    /// tsig_max_fudge`.
    pub fn with_max_fudge(self, secs: u16) -> KeyRing {
        KeyRing {
            keys: self
                .keys
                .iter()
                .map(|k| Arc::new((**k).clone().with_max_fudge(secs)))
                .collect(),
        }
    }

    /// The key configured under `label` (`[[tsig]] name`).
    pub fn by_label(&self, label: &str) -> Option<Arc<Key>> {
        self.keys.iter().find(|k| k.label == label).cloned()
    }

    fn by_name(&self, wire: &[u8]) -> Option<&Arc<Key>> {
        self.keys.iter().find(|k| &*k.name == wire)
    }

    /// Verifies the TSIG of a request at offset `at` (the start of the TSIG
    /// RR, as found by the query parser). `now` in seconds since the epoch.
    /// The time is checked against the message's fudge capped at the key's
    /// [`Key::max_fudge`]; [`Verified::fudge`] is that capped value.
    pub fn verify(&self, pkt: &[u8], at: usize, now: u64) -> Result<Verified, Failure> {
        let rr = parse(pkt, at).ok_or(Failure::FormErr)?;
        let Some(key) = self.by_name(&rr.key_name) else {
            return Err(Failure::Unsigned(Unsigned::from(&rr, BADKEY)));
        };
        if key.alg.wire_name() != &*rr.alg_name {
            return Err(Failure::Unsigned(Unsigned::from(&rr, BADKEY)));
        }
        if rr.mac.len() != key.alg.mac_len() {
            return Err(Failure::Unsigned(Unsigned::from(&rr, BADSIG)));
        }
        let mut tbs = Vec::with_capacity(pkt.len() + 64);
        digest_message(&mut tbs, pkt, at, rr.orig_id);
        digest_variables(
            &mut tbs,
            &rr.key_name,
            &rr.alg_name,
            rr.time,
            rr.fudge,
            rr.error,
            rr.other,
        );
        if !key.check(&tbs, rr.mac) {
            return Err(Failure::Unsigned(Unsigned::from(&rr, BADSIG)));
        }
        let fudge = rr.fudge.min(key.max_fudge);
        let verified = Verified {
            key: key.clone(),
            mac: rr.mac.to_vec(),
            time: rr.time,
            fudge,
            orig_id: rr.orig_id,
            tsig_at: at,
        };
        if now.abs_diff(rr.time) > u64::from(fudge) {
            return Err(Failure::BadTime(verified));
        }
        Ok(verified)
    }
}

/// A request whose TSIG verified.
#[derive(Clone, Debug)]
pub struct Verified {
    pub key: Arc<Key>,
    /// The request MAC (the first response is signed over it).
    pub mac: Vec<u8>,
    /// Time signed (seconds since the epoch).
    pub time: u64,
    /// The fudge the request is held to: its own, capped at the key's
    /// [`Key::max_fudge`].
    pub fudge: u16,
    pub orig_id: u16,
    /// Where the TSIG RR started: `pkt[..tsig_at]` is the unsigned request
    /// (with ARCOUNT still counting the TSIG).
    pub tsig_at: usize,
}

impl Verified {
    /// The last second of the request's window (`time + fudge`): from the
    /// second after it on, the request is BADTIME.
    pub fn window_end(&self) -> u64 {
        self.time + u64::from(self.fudge)
    }

    /// A signer for the response(s) to this request.
    pub fn signer(&self) -> Signer {
        Signer {
            key: self.key.clone(),
            prior: self.mac.clone(),
            first: true,
            error: 0,
            other: Vec::new(),
            time_override: None,
            fudge: FUDGE,
        }
    }
}

/// Why a TSIG did not verify, and what to answer.
#[derive(Debug)]
pub enum Failure {
    /// The TSIG RR is malformed: FORMERR.
    FormErr,
    /// BADKEY / BADSIG: NOTAUTH with an unsigned TSIG.
    Unsigned(Unsigned),
    /// BADTIME: NOTAUTH, signed, with our time in Other Data.
    BadTime(Verified),
}

impl Failure {
    /// The TSIG error code, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::FormErr => "FORMERR",
            Failure::Unsigned(u) if u.error == BADKEY => "BADKEY",
            Failure::Unsigned(_) => "BADSIG",
            Failure::BadTime(_) => "BADTIME",
        }
    }

    /// Appends the TSIG this failure calls for to an already finished
    /// NOTAUTH reply in `out` (its length `len`); returns the new length.
    /// `now` is our clock. FormErr appends nothing.
    pub fn append(&self, out: &mut Vec<u8>, now: u64) {
        match self {
            Failure::FormErr => {}
            Failure::Unsigned(u) => {
                let mut rd = Vec::new();
                rd.extend_from_slice(&u.alg_name);
                rd.extend_from_slice(&u48(u.time));
                rd.extend_from_slice(&u.fudge.to_be_bytes());
                rd.extend_from_slice(&0u16.to_be_bytes()); // MAC size 0
                rd.extend_from_slice(&u.orig_id.to_be_bytes());
                rd.extend_from_slice(&u.error.to_be_bytes());
                rd.extend_from_slice(&0u16.to_be_bytes());
                append_rr(out, &u.key_name, &rd);
            }
            Failure::BadTime(v) => {
                let mut s = v.signer();
                s.error = BADTIME;
                s.other = u48(now).to_vec();
                s.time_override = Some(v.time);
                s.sign(out, now);
            }
        }
    }
}

/// What an unsigned error TSIG echoes.
#[derive(Debug)]
pub struct Unsigned {
    key_name: Vec<u8>,
    alg_name: Vec<u8>,
    time: u64,
    fudge: u16,
    orig_id: u16,
    pub error: u16,
}

impl Unsigned {
    fn from(rr: &Rr<'_>, error: u16) -> Unsigned {
        Unsigned {
            key_name: rr.key_name.clone(),
            alg_name: rr.alg_name.clone(),
            time: rr.time,
            fudge: rr.fudge,
            orig_id: rr.orig_id,
            error,
        }
    }
}

/// Signs a response (or a stream of them) or a request.
#[derive(Clone)]
pub struct Signer {
    key: Arc<Key>,
    /// Request MAC (first response) or the previous message's MAC.
    prior: Vec<u8>,
    first: bool,
    error: u16,
    other: Vec<u8>,
    time_override: Option<u64>,
    /// The fudge put in what it signs ([`FUDGE`]).
    fudge: u16,
}

impl Signer {
    /// A signer for a request we send (NOTIFY, SOA, AXFR/IXFR).
    pub fn request(key: Arc<Key>) -> Signer {
        Signer {
            key,
            prior: Vec::new(),
            first: true,
            error: 0,
            other: Vec::new(),
            time_override: None,
            fudge: FUDGE,
        }
    }

    /// Signs with `fudge` instead of [`FUDGE`] (tests: what a client that
    /// picks its own fudge sends).
    #[cfg(test)]
    fn with_fudge(mut self, fudge: u16) -> Signer {
        self.fudge = fudge;
        self
    }

    /// The MAC of the last signed message.
    pub fn last_mac(&self) -> &[u8] {
        &self.prior
    }

    pub fn key(&self) -> &Arc<Key> {
        &self.key
    }

    /// Appends a TSIG to the finished message in `msg` (ARCOUNT is bumped).
    /// The first call signs with all TSIG variables (over the request MAC
    /// when this signs a response); later calls sign over the prior MAC and
    /// the timers only (RFC 8945 §5.3.1).
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) {
        let time = self.time_override.unwrap_or(now);
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let mut tbs = Vec::with_capacity(msg.len() + 128);
        if !self.prior.is_empty() {
            tbs.extend_from_slice(&(self.prior.len() as u16).to_be_bytes());
            tbs.extend_from_slice(&self.prior);
        }
        tbs.extend_from_slice(msg);
        if self.first {
            digest_variables(
                &mut tbs,
                &self.key.name,
                self.key.alg.wire_name(),
                time,
                self.fudge,
                self.error,
                &self.other,
            );
        } else {
            tbs.extend_from_slice(&u48(time));
            tbs.extend_from_slice(&self.fudge.to_be_bytes());
        }
        let mac = self.key.mac(&tbs);
        let mut rd = Vec::with_capacity(64);
        rd.extend_from_slice(self.key.alg.wire_name());
        rd.extend_from_slice(&u48(time));
        rd.extend_from_slice(&self.fudge.to_be_bytes());
        rd.extend_from_slice(&(mac.as_ref().len() as u16).to_be_bytes());
        rd.extend_from_slice(mac.as_ref());
        rd.extend_from_slice(&id.to_be_bytes());
        rd.extend_from_slice(&self.error.to_be_bytes());
        rd.extend_from_slice(&(self.other.len() as u16).to_be_bytes());
        rd.extend_from_slice(&self.other);
        let name = self.key.name.clone();
        append_rr(msg, &name, &rd);
        self.prior = mac.as_ref().to_vec();
        self.first = false;
    }
}

/// Checks the TSIGs of a response stream to a request we signed.
pub struct Verifier {
    key: Arc<Key>,
    prior: Vec<u8>,
    first: bool,
    /// Unsigned messages since the last signed one (RFC 8945 §5.3.1).
    pending: Vec<u8>,
    unsigned_run: usize,
}

impl Verifier {
    /// For the responses to a request signed by `s`.
    pub fn new(s: &Signer) -> Verifier {
        Verifier {
            key: s.key.clone(),
            prior: s.prior.clone(),
            first: true,
            pending: Vec::new(),
            unsigned_run: 0,
        }
    }

    /// Checks one response message. `now` is our clock; the time is held to
    /// the response's fudge capped at the key's [`Key::max_fudge`].
    pub fn check(&mut self, msg: &[u8], now: u64) -> Result<(), String> {
        let Some(at) = find_tsig(msg) else {
            if self.first {
                return Err("first response is not signed".into());
            }
            self.unsigned_run += 1;
            if self.unsigned_run > 99 {
                return Err("more than 99 unsigned messages in a row".into());
            }
            self.pending.extend_from_slice(msg);
            return Ok(());
        };
        let rr = parse(msg, at).ok_or("malformed TSIG")?;
        if *rr.key_name != *self.key.name || *rr.alg_name != *self.key.alg.wire_name() {
            return Err(format!(
                "response signed with another key (error {})",
                rr.error
            ));
        }
        if rr.error != 0 {
            return Err(format!("TSIG error {} from the peer", rr.error));
        }
        let mut tbs = Vec::with_capacity(self.pending.len() + msg.len() + 128);
        tbs.extend_from_slice(&(self.prior.len() as u16).to_be_bytes());
        tbs.extend_from_slice(&self.prior);
        tbs.extend_from_slice(&self.pending);
        digest_message(&mut tbs, msg, at, rr.orig_id);
        if self.first {
            digest_variables(
                &mut tbs,
                &rr.key_name,
                &rr.alg_name,
                rr.time,
                rr.fudge,
                rr.error,
                rr.other,
            );
        } else {
            tbs.extend_from_slice(&u48(rr.time));
            tbs.extend_from_slice(&rr.fudge.to_be_bytes());
        }
        if !self.key.check(&tbs, rr.mac) {
            return Err("response TSIG does not verify".into());
        }
        if now.abs_diff(rr.time) > u64::from(rr.fudge.min(self.key.max_fudge)) {
            return Err("response TSIG time outside the fudge".into());
        }
        self.prior = rr.mac.to_vec();
        self.first = false;
        self.pending.clear();
        self.unsigned_run = 0;
        Ok(())
    }

    /// True when the last message checked carried a TSIG (a transfer must
    /// end on a signed message).
    pub fn settled(&self) -> bool {
        self.pending.is_empty() && !self.first
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How long until the wall clock reaches second `t` (seconds since the
/// epoch); `None` once it has. The UPDATE path waits this long before
/// applying a request signed ahead of our clock (rule 4 of the module's
/// `# Replay`).
pub fn until(t: u64) -> Option<std::time::Duration> {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t);
    at.duration_since(std::time::SystemTime::now())
        .ok()
        .filter(|d| !d.is_zero())
}

/// A parsed TSIG RR.
struct Rr<'a> {
    key_name: Vec<u8>,
    alg_name: Vec<u8>,
    time: u64,
    fudge: u16,
    mac: &'a [u8],
    orig_id: u16,
    error: u16,
    other: &'a [u8],
}

fn parse(pkt: &[u8], at: usize) -> Option<Rr<'_>> {
    let (key_name, pos) = read_name(pkt, at)?;
    let f = pkt.get(pos..pos + 10)?;
    if u16::from_be_bytes([f[0], f[1]]) != TSIG {
        return None;
    }
    let rdlen = u16::from_be_bytes([f[8], f[9]]) as usize;
    let rd_start = pos + 10;
    let rd = pkt.get(rd_start..rd_start + rdlen)?;
    if rd_start + rdlen != pkt.len() {
        return None;
    }
    // The algorithm name is not compressed (RFC 8945 §4.2).
    let alg_len = name::wire_len(rd)?;
    let alg_name = rd[..alg_len].to_ascii_lowercase();
    let mut p = alg_len;
    let t = rd.get(p..p + 10)?;
    let time = u64::from(u16::from_be_bytes([t[0], t[1]])) << 32
        | u64::from(u32::from_be_bytes([t[2], t[3], t[4], t[5]]));
    let fudge = u16::from_be_bytes([t[6], t[7]]);
    let mac_len = u16::from_be_bytes([t[8], t[9]]) as usize;
    p += 10;
    let mac = rd.get(p..p + mac_len)?;
    p += mac_len;
    let t = rd.get(p..p + 6)?;
    let orig_id = u16::from_be_bytes([t[0], t[1]]);
    let error = u16::from_be_bytes([t[2], t[3]]);
    let other_len = u16::from_be_bytes([t[4], t[5]]) as usize;
    p += 6;
    let other = rd.get(p..p + other_len)?;
    if p + other_len != rd.len() {
        return None;
    }
    Some(Rr {
        key_name,
        alg_name,
        time,
        fudge,
        mac,
        orig_id,
        error,
        other,
    })
}

/// The message as signed: header with the original ID and ARCOUNT - 1,
/// everything up to the TSIG RR.
fn digest_message(tbs: &mut Vec<u8>, pkt: &[u8], at: usize, orig_id: u16) {
    let ar = u16::from_be_bytes([pkt[10], pkt[11]]).saturating_sub(1);
    tbs.extend_from_slice(&orig_id.to_be_bytes());
    tbs.extend_from_slice(&pkt[2..10]);
    tbs.extend_from_slice(&ar.to_be_bytes());
    tbs.extend_from_slice(&pkt[12..at]);
}

fn digest_variables(
    tbs: &mut Vec<u8>,
    key_name: &[u8],
    alg_name: &[u8],
    time: u64,
    fudge: u16,
    error: u16,
    other: &[u8],
) {
    tbs.extend_from_slice(key_name);
    tbs.extend_from_slice(&255u16.to_be_bytes()); // class ANY
    tbs.extend_from_slice(&0u32.to_be_bytes()); // TTL
    tbs.extend_from_slice(alg_name);
    tbs.extend_from_slice(&u48(time));
    tbs.extend_from_slice(&fudge.to_be_bytes());
    tbs.extend_from_slice(&error.to_be_bytes());
    tbs.extend_from_slice(&(other.len() as u16).to_be_bytes());
    tbs.extend_from_slice(other);
}

fn u48(t: u64) -> [u8; 6] {
    let b = t.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Appends a TSIG RR (owner `name`, class ANY, TTL 0) and bumps ARCOUNT.
fn append_rr(msg: &mut Vec<u8>, name: &[u8], rd: &[u8]) {
    msg.extend_from_slice(name);
    msg.extend_from_slice(&TSIG.to_be_bytes());
    msg.extend_from_slice(&255u16.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    msg.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    msg.extend_from_slice(rd);
    let ar = u16::from_be_bytes([msg[10], msg[11]]).wrapping_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// Reads a possibly compressed name at `pos`; returns it lower-cased in
/// wire form and the position after it. Loops and overlong names fail.
pub fn read_name(pkt: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(32);
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *pkt.get(pos)? as usize;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    out.push(0);
                    return (out.len() <= 255).then_some((out, end.unwrap_or(pos + 1)));
                }
                let label = pkt.get(pos + 1..pos + 1 + len)?;
                out.push(len as u8);
                out.extend(label.iter().map(u8::to_ascii_lowercase));
                if out.len() > 255 {
                    return None;
                }
                pos += 1 + len;
            }
            0xc0 => {
                let ptr = (len & 0x3f) << 8 | *pkt.get(pos + 1)? as usize;
                if end.is_none() {
                    end = Some(pos + 2);
                }
                hops += 1;
                if hops > 64 || ptr >= pkt.len() {
                    return None;
                }
                pos = ptr;
            }
            _ => return None,
        }
    }
}

/// Offset of the TSIG RR if it is the last additional record of `msg`.
pub fn find_tsig(msg: &[u8]) -> Option<usize> {
    if msg.len() < 12 {
        return None;
    }
    let counts: Vec<usize> = (0..4)
        .map(|i| u16::from_be_bytes([msg[4 + 2 * i], msg[5 + 2 * i]]) as usize)
        .collect();
    let mut pos = 12;
    for _ in 0..counts[0] {
        pos = skip_name(msg, pos)? + 4;
    }
    let total = counts[1] + counts[2] + counts[3];
    let mut last = None;
    for _ in 0..total {
        let start = pos;
        let p = skip_name(msg, pos)?;
        let f = msg.get(p..p + 10)?;
        let rtype = u16::from_be_bytes([f[0], f[1]]);
        let rdlen = u16::from_be_bytes([f[8], f[9]]) as usize;
        pos = p + 10 + rdlen;
        if pos > msg.len() {
            return None;
        }
        last = Some((start, rtype));
    }
    match last {
        Some((start, TSIG)) if counts[3] > 0 && pos == msg.len() => Some(start),
        _ => None,
    }
}

fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            return Some(pos + 1);
        }
        if len & 0xc0 == 0xc0 {
            msg.get(pos + 1)?;
            return Some(pos + 2);
        }
        if len & 0xc0 != 0 {
            return None;
        }
        pos += 1 + len;
    }
}

#[cfg(test)]
mod tests;
