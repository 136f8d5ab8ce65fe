//! The key-state file and the loader the signer uses.
//!
//! # Design
//!
//! `data_dir/keys/state.json` lists every key tldd knows, for every zone:
//!
//! ```json
//! { "version": 2,
//!   "keys": [
//!     { "zone": "shop.", "key_tag": 12345, "role": "ksk", "algorithm": 13,
//!       "keystore": "hsm", "token": "tldd", "id": "9f0c…", "label": "tldd shop. ksk 2025-…",
//!       "state": "active", "created": "2025-01-01T00:00:00Z" },
//!     { "zone": "shop.", "key_tag": 2345, "role": "zsk", "algorithm": 13,
//!       "keystore": "soft", "file": "Kshop.+013+02345.zsk.pk8",
//!       "state": "active", "created": "2025-01-01T00:00:00Z" } ] }
//! ```
//!
//! * `version` is checked (only 1 is known) and every struct has
//!   `deny_unknown_fields`, so a file from a newer tldd or a typo is an error,
//!   never silently ignored.
//! * The locator is `file` (a bare file name in `data_dir/keys`, no `/`) for
//!   soft keys, and `token` + `id` (hex `CKA_ID`) + `label` for HSM keys.
//! * The file holds no secrets and no public keys: the public key is always
//!   read from the key itself, and the key tag it gives must equal `key_tag`
//!   here, so a state file that points at the wrong key is caught at load.
//! * Writes replace the file atomically (write a temporary file, fsync,
//!   rename, fsync the directory) under an exclusive `flock` on
//!   `data_dir/keys/.lock`, which also serialises the audit log; readers
//!   take no lock.
//!
//! States ([`KeyState`]): `created`, `published`, `ready`, `active`,
//! `retiring`, `retired`, each entered at a time recorded beside it
//! (`published`, `ready`, `activated`, `retiring`, `removed`; `ds_seen`
//! and `sigs_gone` are the two facts a roll waits for). The zone's event
//! loop moves keys between them ([`super::roll`]) and writes a time only
//! after the version that made it true is durable, so a recorded time is
//! never earlier than the truth and every wait computed from it is safe.
//!
//! # Limits
//!
//! One file for all zones: fine for a TLD's handful of keys, not for
//! thousands of zones. No migration code yet (there is only version 1).
use super::audit::now_rfc3339;
use crate::config::{Config, KeystoreKind};
use crate::hsm::{dnskey, KeyPair, SoftKey, Token};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The state file format version this build writes. Version 1 (no
/// rollover states or times) is read too: its keys were all `active`.
pub const STATE_VERSION: u32 = 2;

/// Key role in the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Key-signing key: signs the DNSKEY RRset; its DS goes to the parent. Flags 257.
    Ksk,
    /// Zone-signing key: signs everything else. Flags 256.
    Zsk,
}

impl Role {
    /// DNSKEY flags of the role.
    pub fn flags(self) -> u16 {
        match self {
            Role::Ksk => dnskey::FLAGS_KSK,
            Role::Zsk => dnskey::FLAGS_ZSK,
        }
    }
    /// "ksk" / "zsk".
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ksk => "ksk",
            Role::Zsk => "zsk",
        }
    }
}

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keystore {
    Soft,
    Hsm,
}

impl From<KeystoreKind> for Keystore {
    fn from(k: KeystoreKind) -> Self {
        match k {
            KeystoreKind::Soft => Keystore::Soft,
            KeystoreKind::Hsm => Keystore::Hsm,
        }
    }
}

impl Keystore {
    /// "soft" / "hsm".
    pub fn as_str(self) -> &'static str {
        match self {
            Keystore::Soft => "soft",
            Keystore::Hsm => "hsm",
        }
    }
}

/// Life-cycle state of a key ([`super::roll`] moves keys between them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Generated for a roll, not served yet: the zone's loop publishes it
    /// at its next key step.
    Created,
    /// An algorithm roll's new key: it signs (a ZSK the zone data, a KSK
    /// the DNSKEY RRset) but is not in the DNSKEY RRset yet, so that every
    /// RRset carries the new algorithm's signature before any resolver
    /// sees the new algorithm's keys (RFC 6781 §4.1.4).
    Presigned,
    /// In the DNSKEY RRset; a ZSK does not sign yet (pre-publication), a
    /// KSK already signs the DNSKEY RRset (double signature).
    Published,
    /// A KSK whose DNSKEY has propagated: CDS/CDNSKEY name it, the roll
    /// waits for the parent's DS (`tldd keys ds-seen`).
    Ready,
    /// In the DNSKEY RRset and signing.
    Active,
    /// Replaced: a ZSK no longer signs and stays published until its
    /// signatures are gone from the zone and from caches; a KSK still
    /// signs the DNSKEY RRset until the parent's old DS has expired.
    Retiring,
    /// An algorithm roll's old key after the parent's DS moved on: out of
    /// the DNSKEY RRset, still signing until resolvers holding the old
    /// DNSKEY RRset have let it go.
    Withdrawn,
    /// Neither; kept for the record.
    Retired,
}

impl KeyState {
    /// The state's word in `tldd keys list` / `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Created => "created",
            KeyState::Presigned => "presigned",
            KeyState::Withdrawn => "withdrawn",
            KeyState::Published => "published",
            KeyState::Ready => "ready",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }

    /// In the served DNSKEY RRset.
    pub fn is_published(self) -> bool {
        matches!(
            self,
            KeyState::Published | KeyState::Ready | KeyState::Active | KeyState::Retiring
        )
    }
}

/// One key of one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Canonical origin: lower case, trailing dot.
    pub zone: String,
    pub key_tag: u16,
    pub role: Role,
    pub algorithm: u8,
    pub keystore: Keystore,
    /// Soft keys: file name in `data_dir/keys`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// HSM keys: token label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// HSM keys: `CKA_ID`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// HSM keys: `CKA_LABEL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub state: KeyState,
    /// RFC 3339, UTC.
    pub created: String,
    /// When its DNSKEY was first served (RFC 3339; state 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// When a KSK's CDS/CDNSKEY were first served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// When it started signing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated: Option<String>,
    /// A KSK: when the parent's DS for it was seen (`tldd keys ds-seen`
    /// or the parent poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds_seen: Option<String>,
    /// When it was replaced (stopped signing, or its successor's DS was seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<String>,
    /// A retiring ZSK: when the zone first held no signature of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigs_gone: Option<String>,
    /// When its DNSKEY was withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
    /// An algorithm roll's new key: when it started signing unpublished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presigned: Option<String>,
    /// An algorithm roll's new ZSK: when every RRset first carried its
    /// signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigs_complete: Option<String>,
    /// An algorithm roll's old key: when its DNSKEY left the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// An offline-KSK zone's ZSK planned by a Key Signing Request: when
    /// its DNSKEY is to be published (`tldd keys ksr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_publish: Option<String>,
    /// An offline-KSK zone's ZSK: when the planned Signed Key Response
    /// slots stop carrying its DNSKEY (its successor's plan set it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_remove: Option<String>,
    /// Made for an algorithm roll (RFC 6781 §4.1.4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub algorithm_roll: bool,
    /// Made by an emergency roll (`tldd keys roll --now`): the waits for
    /// caches are skipped (the DS wait of a KSK is not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
}

impl KeyRecord {
    /// The audit-log entry of `action` on this key by `operator`.
    pub fn audit_event(&self, operator: &str, action: &str) -> super::audit::Event {
        super::audit::Event {
            operator: operator.into(),
            action: action.into(),
            zone: self.zone.clone(),
            key_tag: Some(self.key_tag),
            role: Some(self.role.as_str().into()),
            algorithm: Some(self.algorithm),
            keystore: Some(self.keystore.as_str().into()),
            token: self.token.clone(),
        }
    }

    /// The locator for listings: file name, or `token:id`.
    pub fn locator(&self) -> String {
        match self.keystore {
            Keystore::Soft => self.file.clone().unwrap_or_default(),
            Keystore::Hsm => format!(
                "{}:{}",
                self.token.as_deref().unwrap_or(""),
                self.id.as_deref().unwrap_or("")
            ),
        }
    }
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub version: u32,
    #[serde(default)]
    pub keys: Vec<KeyRecord>,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            version: STATE_VERSION,
            keys: Vec::new(),
        }
    }
}

/// `data_dir/keys`: soft keys, state file, audit log, lock.
pub fn keys_dir(cfg: &Config) -> PathBuf {
    cfg.server.data_dir.join("keys")
}

/// Creates `data_dir/keys` with mode 0700 if missing.
pub fn ensure_keys_dir(cfg: &Config) -> Result<PathBuf> {
    let dir = keys_dir(cfg);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

impl StateFile {
    /// Reads `dir/state.json`; a missing file is an empty state.
    pub fn load(dir: &Path) -> Result<StateFile> {
        let path = state_path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateFile::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Self::parse(&text).with_context(|| format!("{}", path.display()))
    }

    /// Parses and checks state-file text.
    pub fn parse(text: &str) -> Result<StateFile> {
        let st: StateFile = serde_json::from_str(text).context("not a valid key-state file")?;
        if !(1..=STATE_VERSION).contains(&st.version) {
            bail!(
                "key-state file version {} is not supported by this tldd (it reads versions 1 to {STATE_VERSION})",
                st.version
            );
        }
        for (i, k) in st.keys.iter().enumerate() {
            let what = || format!("key #{} (zone {}, tag {})", i + 1, k.zone, k.key_tag);
            if !dnskey::is_supported(k.algorithm) {
                bail!("{}: unsupported algorithm {}", what(), k.algorithm);
            }
            match k.keystore {
                Keystore::Soft => match &k.file {
                    Some(f) if valid_file_name(f) => {}
                    _ => bail!("{}: a soft key needs `file`, a bare file name", what()),
                },
                Keystore::Hsm => {
                    if k.token.is_none()
                        || k.id.as_deref().and_then(|i| hex::decode(i).ok()).is_none()
                    {
                        bail!("{}: an HSM key needs `token` and a hex `id`", what());
                    }
                }
            }
        }
        Ok(st)
    }

    /// Writes atomically to `dir/state.json`. Call with the lock held.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = state_path(dir);
        let tmp = dir.join(".state.json.tmp");
        let mut this = self.clone();
        this.version = STATE_VERSION;
        let mut text = serde_json::to_string_pretty(&this)?;
        text.push('\n');
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().with_context(|| format!("cannot write {}", path.display()))
    }

    /// Keys of `zone` (canonical origin).
    pub fn zone_keys<'a>(&'a self, zone: &'a str) -> impl Iterator<Item = &'a KeyRecord> + 'a {
        self.keys.iter().filter(move |k| k.zone == zone)
    }
}

fn valid_file_name(f: &str) -> bool {
    !f.is_empty() && !f.contains('/') && f != "." && f != ".." && !f.contains('\0')
}

/// An exclusive `flock` on `data_dir/keys/.lock`, released on drop.
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Blocks until the lock is held.
    pub fn acquire(dir: &Path) -> Result<StateLock> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot lock {}", path.display()));
        }
        Ok(StateLock { _file: file })
    }
}

/// Canonical origin of a zone argument, which must be configured.
pub fn canonical_zone(cfg: &Config, zone: &str) -> Result<String> {
    match cfg.zone(zone) {
        Some(z) => Ok(z.origin()),
        None => {
            let known: Vec<String> = cfg.zone.iter().map(|z| z.origin()).collect();
            bail!("zone {zone:?} is not configured (configured zones: {known:?})")
        }
    }
}

/// Loads the key material of one record and checks its key tag.
///
/// Soft keys are read from `data_dir/keys/FILE`; HSM keys are looked up in
/// the `[hsm]` token by `CKA_ID` (logging in on first use).
pub fn load_key(cfg: &Config, rec: &KeyRecord) -> Result<KeyPair> {
    let key = match rec.keystore {
        Keystore::Soft => {
            let file = rec.file.as_deref().unwrap_or_default();
            if !valid_file_name(file) {
                bail!("key {}: bad file name {file:?}", rec.key_tag);
            }
            let path = keys_dir(cfg).join(file);
            KeyPair::Soft(SoftKey::load(&path, rec.algorithm, rec.role.flags())?)
        }
        Keystore::Hsm => {
            let hsm = cfg
                .hsm
                .as_ref()
                .context("an HSM key is in the key state but the config has no [hsm] section")?;
            let want = rec.token.as_deref().unwrap_or_default();
            if want != hsm.token_label {
                bail!(
                    "key {} of {} is in token {want:?} but [hsm] token_label is {:?}",
                    rec.key_tag,
                    rec.zone,
                    hsm.token_label
                );
            }
            let id = hex::decode(rec.id.as_deref().unwrap_or_default())
                .context("bad CKA_ID in key state")?;
            let token = Token::open(hsm)?;
            KeyPair::Pkcs11(token.find_key(&id, rec.algorithm, rec.role.flags())?)
        }
    };
    if key.key_tag() != rec.key_tag {
        bail!(
            "key state says {} key tag {} but the key material gives tag {}: \
             the state file does not match the key",
            rec.zone,
            rec.key_tag,
            key.key_tag()
        );
    }
    Ok(key)
}

/// Loads the keys of `zone` whose state is in `states`, in state-file order.
pub fn load_keys(
    cfg: &Config,
    zone: &str,
    states: &[KeyState],
) -> Result<Vec<(KeyRecord, KeyPair)>> {
    let zone = canonical_zone(cfg, zone)?;
    let st = StateFile::load(&keys_dir(cfg))?;
    st.zone_keys(&zone)
        .filter(|r| states.contains(&r.state))
        .map(|r| Ok((r.clone(), load_key(cfg, r)?)))
        .collect()
}

/// **The signer's entry point.** The `active` keys of `zone` (any case,
/// trailing dot optional; must be configured), each with its role, loaded
/// from the soft keystore or the HSM and checked against the recorded key
/// tag. Blocking (may open the PKCS#11 module and log in): call it off the
/// async runtime. An empty vector means the zone has no active key.
///
/// The signer publishes `dnskey_rdata()` of every returned key in the apex
/// DNSKEY RRset, signs the DNSKEY RRset with the [`Role::Ksk`] keys and
/// everything else with the [`Role::Zsk`] keys.
pub fn active_keys(cfg: &Config, zone: &str) -> Result<Vec<(Role, KeyPair)>> {
    Ok(load_keys(cfg, zone, &[KeyState::Active])?
        .into_iter()
        .map(|(r, k)| (r.role, k))
        .collect())
}

/// A new record for a key just created.
pub fn new_record(zone: &str, key: &KeyPair, role: Role) -> KeyRecord {
    KeyRecord {
        zone: zone.to_string(),
        key_tag: key.key_tag(),
        role,
        algorithm: key.algorithm(),
        keystore: if matches!(key, KeyPair::Soft(_)) {
            Keystore::Soft
        } else {
            Keystore::Hsm
        },
        file: None,
        token: None,
        id: None,
        label: None,
        state: KeyState::Active,
        created: now_rfc3339(),
        published: None,
        ready: None,
        activated: None,
        ds_seen: None,
        retiring: None,
        sigs_gone: None,
        removed: None,
        presigned: None,
        sigs_complete: None,
        withdrawn: None,
        plan_publish: None,
        plan_remove: None,
        algorithm_roll: false,
        emergency: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"version":1,"keys":[{"zone":"shop.","key_tag":1,"role":"ksk","algorithm":13,"keystore":"soft","file":"K.pk8","state":"active","created":"2025-01-01T00:00:00Z"}]}"#;

    #[test]
    fn parses_and_round_trips() {
        let st = StateFile::parse(GOOD).unwrap();
        assert_eq!(st.keys[0].role, Role::Ksk);
        let again = StateFile::parse(&serde_json::to_string(&st).unwrap()).unwrap();
        assert_eq!(st, again);
    }

    #[test]
    fn rejects_unknown_fields_versions_and_bad_locators() {
        let e = StateFile::parse(&GOOD.replace("\"state\"", "\"stat\"")).unwrap_err();
        assert!(format!("{e:#}").contains("stat"), "{e:#}");
        let e = StateFile::parse(&GOOD.replace("\"version\":1", "\"version\":3")).unwrap_err();
        assert!(e.to_string().contains("version 3"), "{e}");
        // Version 2 reads version 1 and rollover fields.
        let v2 = GOOD.replace("\"version\":1", "\"version\":2").replace(
            "\"state\":\"active\"",
            "\"state\":\"retiring\",\"retiring\":\"2025-02-01T00:00:00Z\"",
        );
        assert_eq!(
            StateFile::parse(&v2).unwrap().keys[0].state,
            KeyState::Retiring
        );
        assert!(StateFile::parse(&GOOD.replace("K.pk8", "../../etc/passwd")).is_err());
        assert!(StateFile::parse(&GOOD.replace("\"algorithm\":13", "\"algorithm\":5")).is_err());
        assert!(StateFile::parse(&GOOD.replace("\"soft\"", "\"hsm\"")).is_err());
        assert!(StateFile::parse("{").is_err());
        assert!(StateFile::parse(r#"{"keys":[]}"#).is_err());
    }
}
