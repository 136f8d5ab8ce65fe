//! PKCS#11 keys through cryptoki: generated inside the token, never leaving it.
//!
//! # Design
//!
//! * **One context per module, one [`Token`] per (module, token label)**, kept
//!   for the life of the process in a registry: PKCS#11 allows a single
//!   `C_Initialize` per library, and the login state is per application and
//!   token, so every key of a token shares one [`Token`] and its sessions.
//! * **Session pool.** Signing uses read-only sessions taken from a pool
//!   whose size comes from the token: `ulMaxSessionCount` minus 2 (left for
//!   key management and other tools), capped at 4 x the CPU count (at most
//!   64) when the token reports no limit. Sessions are opened lazily, each
//!   is logged in (`CKR_USER_ALREADY_LOGGED_IN` is fine), and a session that
//!   returns any error is closed instead of going back to the pool, so a
//!   token that was restarted or re-inserted is used again as soon as it
//!   answers. Key generation uses its own read-write session
//!   (`ulMaxRwSessionCount` is therefore never a pool limit).
//! * **Blocking calls, plain threads.** Every call here blocks in the
//!   module; call it from worker threads (or `spawn_blocking`), never on an
//!   async runtime thread. [`Pkcs11Key::sign_many`] spreads a batch over as
//!   many threads as the pool has sessions, one session per thread, which
//!   keeps several requests in flight on a network HSM.
//! * **Keys** are found by `CKA_ID` (16 random octets chosen at generation;
//!   `CKA_LABEL` carries a readable name). Private keys are created with
//!   `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` = true and
//!   `CKA_EXTRACTABLE` = false. The public key is read from the public key
//!   object when the key is loaded. A stale object handle (token restarted)
//!   is looked up again by `CKA_ID` once before a signature fails.
//! * **Mechanisms**: ECDSA P-256 signs `CKM_ECDSA` over a SHA-256 digest
//!   computed here (the token returns raw `r || s`, which is the DNSSEC
//!   format); Ed25519 uses `CKM_EDDSA` (pure, no parameters) on a
//!   `CKK_EC_EDWARDS` key; RSA uses `CKM_SHA256_RSA_PKCS` on a 2048-bit key
//!   with exponent 65537. [`Token::supports`] checks the token's mechanism
//!   list, so an algorithm the token lacks is a clear error.
//! * **PIN** from `TLDD_HSM_PIN` (overrides), else `pin`, else `pin_file`
//!   (first line). It is kept in a `secrecy` wrapper, never logged, never put
//!   in an error message.
//!
//! * **A token that went away** (unplugged, a network HSM unreachable, a
//!   SoftHSM2 token directory moved away) fails every call; once it is back
//!   some modules (SoftHSM2 among them) keep failing until they are
//!   re-initialised. So when a signature fails because the token or its key
//!   cannot be reached ([`is_lost`]), the token is recovered: idle sessions
//!   dropped, `C_Finalize` and `C_Initialize` on the module, the slot found
//!   again by label, and the signature tried once more ([`Token::recover`],
//!   at most once every [`RECOVER_EVERY`]). Callers see a failure while the
//!   token is away and success as soon as it is back.
//!
//! # Limits
//!
//! The first PIN used for a (module, token) in a process is the one kept.
//! Tokens are matched by label only (first slot whose token has that
//! label). No `C_WaitForSlotEvent`: recovery is on the next call.
//! Recovery re-initialises the whole module: with two tokens of one module
//! in use, the other one's sessions are lost too and recovered on its own
//! next failure.
use super::dnskey::{self, ECDSAP256SHA256, ED25519, RSASHA256};
use super::{KeyError, PublicInfo, SignError};
use crate::config::HsmConfig;
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Limit, Slot};
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};

mod recover;
pub use recover::{is_lost, RECOVER_EVERY};

/// DER of the P-256 curve OID 1.2.840.10045.3.1.7 (`CKA_EC_PARAMS`).
const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the Ed25519 OID 1.3.101.112 (`CKA_EC_PARAMS` of an Edwards key).
const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The environment variable that overrides `pin` and `pin_file`.
pub const PIN_ENV: &str = "TLDD_HSM_PIN";

/// The user PIN from the environment (`TLDD_HSM_PIN`), `pin` or `pin_file`.
pub fn resolve_pin(cfg: &HsmConfig) -> Result<AuthPin, KeyError> {
    if let Ok(p) = std::env::var(PIN_ENV) {
        if !p.is_empty() {
            return Ok(AuthPin::new(p));
        }
    }
    if let Some(p) = &cfg.pin {
        return Ok(AuthPin::new(p.clone()));
    }
    if let Some(path) = &cfg.pin_file {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if line.is_empty() {
            return Err(KeyError::Pin(format!(
                "{}: the PIN file is empty",
                path.display()
            )));
        }
        return Ok(AuthPin::new(line.to_string()));
    }
    Err(KeyError::Pin(format!(
        "no HSM PIN: set [hsm] pin or pin_file, or {PIN_ENV}"
    )))
}

/// Turns a cryptoki error into a message for `what`, naming PIN problems
/// plainly. Never includes the PIN.
fn ck(what: &str, token: &str, e: CkError) -> KeyError {
    match e {
        CkError::Pkcs11(RvError::PinIncorrect, _) => KeyError::Pin(format!(
            "token {token:?}: the HSM rejected the PIN (CKR_PIN_INCORRECT)"
        )),
        CkError::Pkcs11(RvError::PinLocked, _) => KeyError::Pin(format!(
            "token {token:?}: the user PIN is locked (CKR_PIN_LOCKED); the security officer must reset it"
        )),
        CkError::Pkcs11(RvError::PinLenRange, _) => KeyError::Pin(format!(
            "token {token:?}: the PIN has a length the token does not accept (CKR_PIN_LEN_RANGE)"
        )),
        e => KeyError::Hsm(format!("token {token:?}: {what}: {e}")),
    }
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Default::default)
}

#[derive(Default)]
struct Registry {
    contexts: HashMap<PathBuf, Pkcs11>,
    tokens: HashMap<(PathBuf, String), Arc<Token>>,
}

/// A PKCS#11 token: its slot, a logged-in session pool, its mechanisms.
pub struct Token {
    ctx: Pkcs11,
    /// The module's path (for [`Token::recover`]).
    module: PathBuf,
    slot: RwLock<Slot>,
    /// When [`Token::recover`] last ran.
    recovered: Mutex<Option<std::time::Instant>>,
    label: String,
    pin: AuthPin,
    mechanisms: Vec<MechanismType>,
    pool: Pool,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("label", &self.label)
            .field("slot", &self.slot)
            .field("pool", &self.pool.max)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Opens (once per process) the token of `[hsm]` and logs in.
    pub fn open(cfg: &HsmConfig) -> Result<Arc<Token>, KeyError> {
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        let key = (cfg.module.clone(), cfg.token_label.clone());
        if let Some(t) = reg.tokens.get(&key) {
            return Ok(t.clone());
        }
        let pin = resolve_pin(cfg)?;
        let ctx = match reg.contexts.get(&cfg.module) {
            Some(c) => c.clone(),
            None => {
                if !cfg.module.exists() {
                    return Err(KeyError::Hsm(format!(
                        "PKCS#11 module {} does not exist (set [hsm] module)",
                        cfg.module.display()
                    )));
                }
                let c = Pkcs11::new(&cfg.module).map_err(|e| {
                    KeyError::Hsm(format!(
                        "cannot load PKCS#11 module {}: {e}",
                        cfg.module.display()
                    ))
                })?;
                match c.initialize(CInitializeArgs::OsThreads) {
                    Ok(())
                    | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _))
                    | Err(CkError::AlreadyInitialized) => {}
                    Err(e) => {
                        // Dropping it would call C_Finalize on a library that
                        // never initialised (and log an error); leak it instead.
                        std::mem::forget(c);
                        return Err(KeyError::Hsm(format!(
                            "PKCS#11 module {}: C_Initialize failed: {e} \
                             (SoftHSM: is SOFTHSM2_CONF set to a readable softhsm2.conf?)",
                            cfg.module.display()
                        )));
                    }
                }
                reg.contexts.insert(cfg.module.clone(), c.clone());
                c
            }
        };
        let label = cfg.token_label.clone();
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| ck("C_GetSlotList", &label, e))?;
        let mut seen = Vec::new();
        let mut found = None;
        for slot in slots {
            let info = ctx
                .get_token_info(slot)
                .map_err(|e| ck("C_GetTokenInfo", &label, e))?;
            let l = info.label().trim_end().to_string();
            if l == label {
                found = Some((slot, info));
                break;
            }
            seen.push(l);
        }
        let Some((slot, info)) = found else {
            return Err(KeyError::Hsm(format!(
                "no token labelled {label:?} in {} (tokens present: {seen:?}); \
                 is SOFTHSM2_CONF set / the HSM connected?",
                cfg.module.display()
            )));
        };
        // Ask for the few mechanisms we use one by one: C_GetMechanismList
        // makes cryptoki log an error for every vendor mechanism it does not know.
        let mechanisms = [
            MechanismType::ECC_KEY_PAIR_GEN,
            MechanismType::ECDSA,
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            MechanismType::EDDSA,
            MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            MechanismType::SHA256_RSA_PKCS,
        ]
        .into_iter()
        .filter(|m| ctx.get_mechanism_info(slot, *m).is_ok())
        .collect();
        let cap = std::thread::available_parallelism()
            .map(|n| n.get() * 4)
            .unwrap_or(8)
            .clamp(4, 64);
        let max = match info.max_session_count() {
            Limit::Max(n) => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .saturating_sub(2)
                .clamp(1, cap),
            Limit::Infinite | Limit::Unavailable => cap,
        };
        let token = Arc::new(Token {
            ctx,
            module: cfg.module.clone(),
            slot: RwLock::new(slot),
            recovered: Mutex::new(None),
            label,
            pin,
            mechanisms,
            pool: Pool::new(max),
        });
        // Log in now so that a wrong PIN is reported here, not at the first signature.
        drop(token.lease()?);
        reg.tokens.insert(key, token.clone());
        Ok(token)
    }

    /// The token label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How many sessions the signing pool may open.
    pub fn pool_size(&self) -> usize {
        self.pool.max
    }

    /// True if the token has the key generation and signing mechanisms of
    /// DNSSEC algorithm `alg`.
    pub fn supports(&self, alg: u8) -> bool {
        let need: &[MechanismType] = match alg {
            ECDSAP256SHA256 => &[MechanismType::ECC_KEY_PAIR_GEN, MechanismType::ECDSA],
            ED25519 => &[
                MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
                MechanismType::EDDSA,
            ],
            RSASHA256 => &[
                MechanismType::RSA_PKCS_KEY_PAIR_GEN,
                MechanismType::SHA256_RSA_PKCS,
            ],
            _ => return false,
        };
        need.iter().all(|m| self.mechanisms.contains(m))
    }

    fn slot(&self) -> Slot {
        *self.slot.read().unwrap_or_else(|e| e.into_inner())
    }

    fn open_session(&self, rw: bool) -> Result<Session, KeyError> {
        let s = if rw {
            self.ctx.open_rw_session(self.slot())
        } else {
            self.ctx.open_ro_session(self.slot())
        }
        .map_err(|e| ck("C_OpenSession", &self.label, e))?;
        match s.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(s),
            Err(e) => Err(ck("C_Login", &self.label, e)),
        }
    }

    fn lease(&self) -> Result<Lease<'_>, KeyError> {
        {
            let mut st = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(s) = st.idle.pop() {
                    return Ok(Lease {
                        token: self,
                        session: Some(s),
                        broken: false,
                    });
                }
                if st.open < self.pool.max {
                    st.open += 1;
                    break;
                }
                st = self.pool.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
        // A slot is reserved; open outside the lock.
        match self.open_session(false) {
            Ok(s) => Ok(Lease {
                token: self,
                session: Some(s),
                broken: false,
            }),
            Err(e) => {
                let mut st = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
                st.open -= 1;
                self.pool.cv.notify_one();
                Err(e)
            }
        }
    }

    /// Generates a key pair for DNSSEC algorithm `alg` inside the token,
    /// with `CKA_ID` = `id` and `CKA_LABEL` = `label`, private key sensitive
    /// and not extractable, then loads it with DNSKEY `flags`.
    pub fn generate(
        self: &Arc<Self>,
        alg: u8,
        flags: u16,
        id: &[u8],
        label: &str,
    ) -> Result<Pkcs11Key, KeyError> {
        if !dnskey::is_supported(alg) {
            return Err(KeyError::Unsupported(format!(
                "algorithm {alg} is not supported (8, 13, 15)"
            )));
        }
        if !self.supports(alg) {
            return Err(KeyError::Unsupported(format!(
                "token {:?} lacks the PKCS#11 mechanisms for algorithm {alg} ({})",
                self.label,
                dnskey::algorithm_name(alg)
            )));
        }
        let common = |private: bool| {
            vec![
                Attribute::Token(true),
                Attribute::Private(private),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.to_vec()),
            ]
        };
        let mut public = common(false);
        public.push(Attribute::Verify(true));
        let mut private = common(true);
        private.extend([
            Attribute::Sign(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
        ]);
        let mech = match alg {
            ECDSAP256SHA256 => {
                public.push(Attribute::EcParams(P256_PARAMS.to_vec()));
                Mechanism::EccKeyPairGen
            }
            ED25519 => {
                public.push(Attribute::EcParams(ED25519_PARAMS.to_vec()));
                Mechanism::EccEdwardsKeyPairGen
            }
            _ => {
                public.push(Attribute::ModulusBits(2048u64.into()));
                public.push(Attribute::PublicExponent(vec![1, 0, 1]));
                Mechanism::RsaPkcsKeyPairGen
            }
        };
        let s = self.open_session(true)?;
        s.generate_key_pair(&mech, &public, &private)
            .map_err(|e| ck("C_GenerateKeyPair", &self.label, e))?;
        drop(s);
        self.find_key(id, alg, flags)
    }

    /// Destroys both objects with `CKA_ID` = `id` (used to discard a freshly
    /// generated key whose tag collides with an existing one).
    pub fn destroy(&self, id: &[u8]) -> Result<(), KeyError> {
        let s = self.open_session(true)?;
        let objs = s
            .find_objects(&[Attribute::Id(id.to_vec())])
            .map_err(|e| ck("C_FindObjects", &self.label, e))?;
        for o in objs {
            s.destroy_object(o)
                .map_err(|e| ck("C_DestroyObject", &self.label, e))?;
        }
        Ok(())
    }

    fn find_one(
        &self,
        s: &Session,
        class: ObjectClass,
        id: &[u8],
    ) -> Result<ObjectHandle, KeyError> {
        let found = s
            .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
            .map_err(|e| ck("C_FindObjects", &self.label, e))?;
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(KeyError::Hsm(format!(
                "token {:?}: no {class} with CKA_ID {}",
                self.label,
                hex::encode(id)
            ))),
            _ => Err(KeyError::Hsm(format!(
                "token {:?}: {} objects of class {class} share CKA_ID {}",
                self.label,
                found.len(),
                hex::encode(id)
            ))),
        }
    }

    /// Finds the key pair with `CKA_ID` = `id`, checks its type against
    /// `alg`, and reads its public key.
    pub fn find_key(
        self: &Arc<Self>,
        id: &[u8],
        alg: u8,
        flags: u16,
    ) -> Result<Pkcs11Key, KeyError> {
        let lease = self.lease()?;
        let s = lease.session();
        let private = self.find_one(s, ObjectClass::PRIVATE_KEY, id)?;
        let public = self.find_one(s, ObjectClass::PUBLIC_KEY, id)?;
        let attrs = s
            .get_attributes(
                public,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::EcPoint,
                    AttributeType::Modulus,
                    AttributeType::PublicExponent,
                ],
            )
            .map_err(|e| ck("C_GetAttributeValue", &self.label, e))?;
        let mut key_type = None;
        let (mut params, mut point, mut modulus, mut exponent) = (None, None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(k) => key_type = Some(k),
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                Attribute::Modulus(m) => modulus = Some(m),
                Attribute::PublicExponent(e) => exponent = Some(e),
                _ => {}
            }
        }
        let mismatch = || {
            KeyError::BadKey(format!(
                "token {:?}: key {} is not an algorithm {alg} ({}) key",
                self.label,
                hex::encode(id),
                dnskey::algorithm_name(alg)
            ))
        };
        let public_key = match alg {
            ECDSAP256SHA256 => {
                if key_type != Some(KeyType::EC) || params.as_deref() != Some(P256_PARAMS) {
                    return Err(mismatch());
                }
                point.as_deref().and_then(dnskey::p256_from_ec_point)
            }
            ED25519 => {
                if key_type != Some(KeyType::EC_EDWARDS) {
                    return Err(mismatch());
                }
                point.as_deref().and_then(dnskey::ed25519_from_ec_point)
            }
            RSASHA256 => {
                if key_type != Some(KeyType::RSA) {
                    return Err(mismatch());
                }
                match (&exponent, &modulus) {
                    (Some(e), Some(n)) => dnskey::rsa_public_key(e, n),
                    _ => None,
                }
            }
            _ => return Err(mismatch()),
        }
        .ok_or_else(|| {
            KeyError::BadKey(format!(
                "token {:?}: cannot read the public key of {}",
                self.label,
                hex::encode(id)
            ))
        })?;
        drop(lease);
        Ok(Pkcs11Key {
            token: self.clone(),
            id: id.to_vec(),
            handle: Arc::new(RwLock::new(private)),
            info: Arc::new(PublicInfo::new(alg, flags, public_key)),
        })
    }
}

struct Pool {
    max: usize,
    state: Mutex<PoolState>,
    cv: Condvar,
}

struct PoolState {
    idle: Vec<Session>,
    open: usize,
}

impl Pool {
    fn new(max: usize) -> Pool {
        Pool {
            max,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            cv: Condvar::new(),
        }
    }
}

/// A session taken from the pool; goes back on drop unless marked broken.
struct Lease<'a> {
    token: &'a Token,
    session: Option<Session>,
    broken: bool,
}

impl Lease<'_> {
    fn session(&self) -> &Session {
        // Always Some until drop.
        self.session
            .as_ref()
            .expect("lease holds a session until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let pool = &self.token.pool;
        let s = self.session.take();
        let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
        match s {
            Some(s) if !self.broken => st.idle.push(s),
            _ => st.open = st.open.saturating_sub(1),
        }
        pool.cv.notify_one();
    }
}

/// Security-relevant attributes of a private key object, as the token reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    pub token: bool,
    pub sensitive: bool,
    pub extractable: bool,
    pub always_sensitive: bool,
    pub never_extractable: bool,
}

/// A private key inside a PKCS#11 token. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Pkcs11Key {
    token: Arc<Token>,
    id: Vec<u8>,
    handle: Arc<RwLock<ObjectHandle>>,
    pub(super) info: Arc<PublicInfo>,
}

impl std::fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("token", &self.token.label)
            .field("id", &hex::encode(&self.id))
            .field("algorithm", &self.info.algorithm)
            .field("key_tag", &self.info.key_tag)
            .finish()
    }
}

fn is_stale_handle(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid, _)
    )
}

impl Pkcs11Key {
    /// The token this key lives in.
    pub fn token(&self) -> &Arc<Token> {
        &self.token
    }

    /// The key's `CKA_ID`.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// One signature in `lease`'s session; `Err((error, lost))`, `lost`
    /// when the token or the key could not be reached ([`is_lost`]).
    fn sign_in(&self, lease: &mut Lease<'_>, data: &[u8]) -> Result<Vec<u8>, (SignError, bool)> {
        let alg = self.info.algorithm;
        let digest;
        let (mech, input) = match alg {
            ECDSAP256SHA256 => {
                digest = ring::digest::digest(&ring::digest::SHA256, data);
                (Mechanism::Ecdsa, digest.as_ref())
            }
            ED25519 => (
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                data,
            ),
            _ => (Mechanism::Sha256RsaPkcs, data),
        };
        let label = &self.token.label;
        let handle = *self.handle.read().unwrap_or_else(|e| e.into_inner());
        let result = match lease.session().sign(&mech, handle, input) {
            Err(e) if is_stale_handle(&e) => {
                // A key that is gone from a token that answers: the token
                // lost its objects (re-inserted, or a module that must be
                // re-initialised).
                let fresh = self
                    .token
                    .find_one(lease.session(), ObjectClass::PRIVATE_KEY, &self.id)
                    .map_err(|e| {
                        lease.broken = true;
                        (SignError::Hsm(e.to_string()), true)
                    })?;
                *self.handle.write().unwrap_or_else(|e| e.into_inner()) = fresh;
                lease.session().sign(&mech, fresh, input)
            }
            r => r,
        };
        let sig = result.map_err(|e| {
            lease.broken = true;
            let lost = is_lost(&e);
            (
                SignError::Hsm(format!("token {label:?}: C_Sign: {e}")),
                lost,
            )
        })?;
        if alg == ECDSAP256SHA256 && sig.len() != 64 {
            return Err((
                SignError::Crypto(format!(
                    "token {label:?} returned a {}-octet ECDSA signature (expected 64)",
                    sig.len()
                )),
                false,
            ));
        }
        Ok(sig)
    }

    /// [`Self::sign_in`] in a fresh lease, recovering the token once if it
    /// was lost.
    fn sign_recovering(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let attempt = || -> Result<Vec<u8>, (SignError, bool)> {
            let mut lease = self
                .token
                .lease()
                .map_err(|e| (SignError::Hsm(e.to_string()), true))?;
            self.sign_in(&mut lease, data)
        };
        match attempt() {
            Ok(s) => Ok(s),
            Err((e, false)) => Err(e),
            Err((e, true)) => {
                if let Err(r) = self.token.recover() {
                    return Err(SignError::Hsm(format!("{e}; recovery: {r}")));
                }
                attempt().map_err(|(e, _)| e)
            }
        }
    }

    /// Signs `data` (the RRSIG input) in the DNSSEC signature format.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign_recovering(data)
    }

    /// Signs every item, in order, spreading the batch over up to
    /// [`Token::pool_size`] threads with one session each.
    pub fn sign_many(&self, items: &[&[u8]]) -> Vec<Result<Vec<u8>, SignError>> {
        let threads = self.token.pool.max.min(items.len()).max(1);
        if threads == 1 {
            return items.iter().map(|d| self.sign(d)).collect();
        }
        let chunk = items.len().div_ceil(threads);
        let lost = std::sync::atomic::AtomicBool::new(false);
        let lost = &lost;
        let mut all = std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        let mut lease = match self.token.lease() {
                            Ok(l) => l,
                            Err(e) => {
                                return part
                                    .iter()
                                    .map(|_| Err(SignError::Hsm(e.to_string())))
                                    .collect::<Vec<_>>()
                            }
                        };
                        let mut out = Vec::with_capacity(part.len());
                        for d in part {
                            if lease.broken {
                                // Replace a session that failed.
                                drop(lease);
                                lease = match self.token.lease() {
                                    Ok(l) => l,
                                    Err(e) => {
                                        out.resize_with(part.len(), || {
                                            Err(SignError::Hsm(e.to_string()))
                                        });
                                        return out;
                                    }
                                };
                            }
                            out.push(self.sign_in(&mut lease, d).map_err(|(e, l)| {
                                if l {
                                    lost.store(true, std::sync::atomic::Ordering::Relaxed);
                                }
                                e
                            }));
                        }
                        out
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(items.len());
            for (h, part) in handles.into_iter().zip(items.chunks(chunk)) {
                match h.join() {
                    Ok(v) => all.extend(v),
                    Err(_) => all.extend(
                        part.iter()
                            .map(|_| Err(SignError::Crypto("signing thread panicked".into()))),
                    ),
                }
            }
            all
        });
        // The token was lost: recover it once (no thread signs now) and
        // sign what failed again.
        if lost.load(std::sync::atomic::Ordering::Relaxed) && self.token.recover().is_ok() {
            for (r, d) in all.iter_mut().zip(items) {
                if r.is_err() {
                    *r = self.sign(d);
                }
            }
        }
        all
    }

    /// Reads `CKA_TOKEN`, `CKA_SENSITIVE`, `CKA_EXTRACTABLE`,
    /// `CKA_ALWAYS_SENSITIVE` and `CKA_NEVER_EXTRACTABLE` of the private key.
    pub fn protection(&self) -> Result<KeyProtection, KeyError> {
        let lease = self.token.lease()?;
        let s = lease.session();
        let h = self.token.find_one(s, ObjectClass::PRIVATE_KEY, &self.id)?;
        let attrs = s
            .get_attributes(
                h,
                &[
                    AttributeType::Token,
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::AlwaysSensitive,
                    AttributeType::NeverExtractable,
                ],
            )
            .map_err(|e| ck("C_GetAttributeValue", &self.token.label, e))?;
        let mut p = KeyProtection {
            token: false,
            sensitive: false,
            extractable: true,
            always_sensitive: false,
            never_extractable: false,
        };
        for a in attrs {
            match a {
                Attribute::Token(v) => p.token = v,
                Attribute::Sensitive(v) => p.sensitive = v,
                Attribute::Extractable(v) => p.extractable = v,
                Attribute::AlwaysSensitive(v) => p.always_sensitive = v,
                Attribute::NeverExtractable(v) => p.never_extractable = v,
                _ => {}
            }
        }
        Ok(p)
    }

    /// Tries to read the private value (`CKA_VALUE` / `CKA_PRIVATE_EXPONENT`);
    /// `Ok(true)` if the token handed out any secret bytes. A correctly
    /// protected key gives `Ok(false)`.
    pub fn private_value_readable(&self) -> Result<bool, KeyError> {
        let lease = self.token.lease()?;
        let s = lease.session();
        let h = self.token.find_one(s, ObjectClass::PRIVATE_KEY, &self.id)?;
        for t in [AttributeType::Value, AttributeType::PrivateExponent] {
            match s.get_attributes(h, &[t]) {
                Ok(attrs) => {
                    for a in attrs {
                        match a {
                            Attribute::Value(v) | Attribute::PrivateExponent(v)
                                if !v.is_empty() =>
                            {
                                return Ok(true)
                            }
                            _ => {}
                        }
                    }
                }
                Err(CkError::Pkcs11(
                    RvError::AttributeSensitive | RvError::AttributeTypeInvalid,
                    _,
                )) => {}
                Err(e) => return Err(ck("C_GetAttributeValue", &self.token.label, e)),
            }
        }
        Ok(false)
    }
}
