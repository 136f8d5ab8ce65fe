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
//! # Replay
//! A request signed outside the fudge window is refused (BADTIME). Inside
//! the window an identical MAC means the very same request: the UPDATE path
//! answers it from a small cache (see [`ReplayCache`]) instead of applying it
//! twice, which also makes a client's retransmission after a lost answer
//! harmless.
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

/// `[[tsig]]`: one shared key as configured (the same table in `tldd serve`
/// and `tldd srs` configs).
#[derive(Debug, Deserialize, Clone)]
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
/// Fudge we put in what we sign (seconds).
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
pub struct Key {
    /// Lower-case wire name.
    pub name: Box<[u8]>,
    /// As configured (`[[tsig]] name`).
    pub label: String,
    pub alg: Alg,
    key: hmac::Key,
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
        })
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

    /// The key configured under `label` (`[[tsig]] name`).
    pub fn by_label(&self, label: &str) -> Option<Arc<Key>> {
        self.keys.iter().find(|k| k.label == label).cloned()
    }

    fn by_name(&self, wire: &[u8]) -> Option<&Arc<Key>> {
        self.keys.iter().find(|k| &*k.name == wire)
    }

    /// Verifies the TSIG of a request at offset `at` (the start of the TSIG
    /// RR, as found by the query parser). `now` in seconds since the epoch.
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
        let verified = Verified {
            key: key.clone(),
            mac: rr.mac.to_vec(),
            time: rr.time,
            orig_id: rr.orig_id,
            tsig_at: at,
        };
        if now.abs_diff(rr.time) > rr.fudge as u64 {
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
    pub time: u64,
    pub orig_id: u16,
    /// Where the TSIG RR started: `pkt[..tsig_at]` is the unsigned request
    /// (with ARCOUNT still counting the TSIG).
    pub tsig_at: usize,
}

impl Verified {
    /// A signer for the response(s) to this request.
    pub fn signer(&self) -> Signer {
        Signer {
            key: self.key.clone(),
            prior: self.mac.clone(),
            first: true,
            error: 0,
            other: Vec::new(),
            time_override: None,
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
        }
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
                FUDGE,
                self.error,
                &self.other,
            );
        } else {
            tbs.extend_from_slice(&u48(time));
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
        }
        let mac = self.key.mac(&tbs);
        let mut rd = Vec::with_capacity(64);
        rd.extend_from_slice(self.key.alg.wire_name());
        rd.extend_from_slice(&u48(time));
        rd.extend_from_slice(&FUDGE.to_be_bytes());
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

    /// Checks one response message. `now` is our clock.
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
        if now.abs_diff(rr.time) > rr.fudge as u64 {
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

/// Remembers answers to signed requests by their MAC for twice the fudge,
/// so a retransmitted (or replayed) UPDATE gets the same answer and is not
/// applied twice. A hash map for lookups, a queue in arrival order for
/// expiry; bounded at [`ReplayCache::MAX`] entries (oldest dropped first).
#[derive(Default)]
pub struct ReplayCache {
    inner: std::sync::Mutex<ReplayInner>,
}

#[derive(Default)]
struct ReplayInner {
    by_mac: std::collections::HashMap<Vec<u8>, Vec<u8>>,
    order: std::collections::VecDeque<(u64, Vec<u8>)>,
}

impl ReplayCache {
    pub const MAX: usize = 1 << 20;

    /// The cached answer for this request MAC.
    pub fn get(&self, mac: &[u8]) -> Option<Vec<u8>> {
        let c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        c.by_mac.get(mac).cloned()
    }

    /// Caches `response` for `mac`, dropping entries older than 2 x fudge.
    pub fn put(&self, mac: &[u8], response: &[u8], now: u64) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((t, m)) = c.order.front() {
            if now.saturating_sub(*t) <= 2 * FUDGE as u64 && c.order.len() < Self::MAX {
                break;
            }
            let m = m.clone();
            c.by_mac.remove(&m);
            c.order.pop_front();
        }
        if c.by_mac.insert(mac.to_vec(), response.to_vec()).is_none() {
            c.order.push_back((now, mac.to_vec()));
        }
    }
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
mod tests {
    use super::*;

    fn key(alg: Alg) -> Arc<Key> {
        Arc::new(Key::new("k1.", alg, b"0123456789abcdef").unwrap())
    }

    fn ring_of(k: &Arc<Key>) -> KeyRing {
        KeyRing {
            keys: vec![k.clone()],
        }
    }

    fn request() -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(b"\x04shop\x00\x00\x06\x00\x01");
        p
    }

    #[test]
    fn request_round_trip_all_algorithms() {
        for alg in [Alg::Sha1, Alg::Sha256, Alg::Sha384, Alg::Sha512] {
            let k = key(alg);
            let mut p = request();
            let len = p.len();
            Signer::request(k.clone()).sign(&mut p, 1000);
            let v = ring_of(&k).verify(&p, len, 1000).unwrap();
            assert_eq!(v.time, 1000);
            // Tampering breaks it.
            let mut bad = p.clone();
            bad[13] ^= 1;
            assert!(matches!(
                ring_of(&k).verify(&bad, len, 1000),
                Err(Failure::Unsigned(Unsigned { error: BADSIG, .. }))
            ));
            // Time outside the fudge.
            assert!(matches!(
                ring_of(&k).verify(&p, len, 1000 + 301),
                Err(Failure::BadTime(_))
            ));
        }
    }

    #[test]
    fn unknown_key_is_badkey() {
        let k = key(Alg::Sha256);
        let other = Arc::new(Key::new("k2.", Alg::Sha256, b"x").unwrap());
        let mut p = request();
        let len = p.len();
        Signer::request(k).sign(&mut p, 5);
        assert!(matches!(
            ring_of(&other).verify(&p, len, 5),
            Err(Failure::Unsigned(Unsigned { error: BADKEY, .. }))
        ));
    }

    #[test]
    fn multi_message_stream_verifies() {
        let k = key(Alg::Sha256);
        let mut req = request();
        let mut client = Signer::request(k.clone());
        client.sign(&mut req, 77);
        let v = ring_of(&k).verify(&req, request().len(), 77).unwrap();
        let mut server = v.signer();
        let mut check = Verifier::new(&client);
        for i in 0..3u8 {
            let mut m = request();
            m[2] |= 0x80;
            m[1] = i;
            server.sign(&mut m, 78);
            assert_eq!(find_tsig(&m), Some(request().len()));
            check.check(&m, 78).unwrap();
        }
        assert!(check.settled());
    }

    #[test]
    fn replay_cache_expires_after_twice_the_fudge() {
        let c = ReplayCache::default();
        c.put(b"mac1", b"answer1", 1000);
        c.put(b"mac2", b"answer2", 1500);
        assert_eq!(c.get(b"mac1").as_deref(), Some(&b"answer1"[..]));
        c.put(b"mac3", b"answer3", 1000 + 2 * FUDGE as u64 + 1);
        assert_eq!(c.get(b"mac1"), None);
        assert_eq!(c.get(b"mac2").as_deref(), Some(&b"answer2"[..]));
    }

    #[test]
    fn read_name_handles_pointers_and_loops() {
        let mut p = vec![0u8; 12];
        p.extend_from_slice(b"\x04Shop\x00\x03abc\xc0\x0c");
        assert_eq!(
            read_name(&p, 18).unwrap(),
            (b"\x03abc\x04shop\x00".to_vec(), 24)
        );
        let l = b"\xc0\x00".to_vec();
        assert!(read_name(&l, 0).is_none());
    }
}
