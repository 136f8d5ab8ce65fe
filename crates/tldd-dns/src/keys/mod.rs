//! `tldd keys`: key generation, listing, DS/DNSKEY export and the audit log.
//!
//! # Design
//!
//! Key operations (the `tldd keys` commands without their printing, which
//! is the binary's) over three layers: [`crate::hsm`] (the keys themselves),
//! [`state`] (which keys a zone has: the signer reads it through
//! [`state::active_keys`]) and [`audit`] (the hash-chained record of every
//! key operation). Everything lives in `data_dir/keys/` (mode 0700):
//! `state.json`, `audit.log`, `.lock` and the soft keys' `*.pk8` files.
//!
//! A command that changes or exports keys takes the `flock` on
//! `data_dir/keys/.lock`, does its work, saves the state atomically, then
//! appends its audit entry; the operator is `--operator`, else
//! `$TLDD_OPERATOR`, else `$USER`. Exports (`ds`, `dnskey`) read the public
//! key from the key itself (the token for HSM keys), never from a copy.
//!
//! # Limits
//!
//! Rollovers: [`roll`] is the state machine, [`lifecycle`] the operations
//! on it (`roll`, `ds-seen`, `status`, and what the zone's loop records).
//! No key import; `ds` prints digest type 2 (SHA-256) only. A
//! crash between key creation and the state save leaves an unused key file
//! or token object (harmless; it is not in the state, so never used).
pub mod audit;
pub mod intact;
pub mod lifecycle;
pub mod offline;
pub mod roll;
pub mod state;

use crate::config::Config;
use crate::hsm::{dnskey, soft, KeyPair, SoftKey, Token};
use anyhow::{bail, Context, Result};
use state::{KeyState, Keystore, Role, StateFile, StateLock};
use std::path::PathBuf;

pub use state::active_keys;

fn audit_path(cfg: &Config) -> PathBuf {
    state::keys_dir(cfg).join("audit.log")
}

fn soft_file_name(zone: &str, alg: u8, tag: u16, role: Role) -> String {
    let safe: String = zone
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("K{safe}+{alg:03}+{tag:05}.{}.pk8", role.as_str())
}

/// How many times generation is retried when a new key's tag collides with
/// one the zone already has (RFC 6781 §3.4.3 advises unique tags).
const TAG_COLLISION_TRIES: usize = 8;

/// A key `generate` made: its state record (already saved and audited)
/// and the key itself.
pub struct Generated {
    pub record: state::KeyRecord,
    pub key: KeyPair,
}

/// Generates a key for `zone_arg` in the zone's keystore, saves the state
/// and appends the audit entry. The zone's first key of a role is
/// `active` at once (the zone is signed with it when it is next loaded);
/// a key of a role the zone already has is a successor: `created`, then
/// rolled in by the zone's loop ([`roll`]), never used before its DNSKEY
/// is published.
pub fn generate(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    role: Role,
    algorithm: Option<u8>,
) -> Result<Generated> {
    new_key(cfg, operator, zone_arg, role, algorithm, Mode::Roll)
}

/// How a new key enters the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A successor (or the zone's first key of its role).
    Roll,
    /// A successor that skips the waits for caches (`roll --now`).
    Emergency,
    /// A key of a new algorithm (RFC 6781 §4.1.4).
    AlgorithmRoll,
    /// An offline-KSK zone's ZSK planned by a Key Signing Request
    /// ([`offline`]): published at `publish`, while the key it succeeds
    /// (`after`) leaves the planned slots at `remove_after`.
    Planned {
        publish: u64,
        after: u16,
        remove_after: u64,
    },
}

/// Why a new key of `role` and `alg` cannot be added to `keys` now, if so.
fn successor_refusal(keys: &[&state::KeyRecord], role: Role, alg: u8) -> Option<String> {
    let live: Vec<_> = keys
        .iter()
        .filter(|k| k.state != KeyState::Retired)
        .collect();
    if let Some(k) = live.iter().find(|k| k.algorithm != alg) {
        return Some(format!(
            "the zone already has keys of algorithm {} (key {}); an algorithm roll              (RFC 6781 §4.1.4) is not supported yet, so a key of algorithm {alg} would              break validation",
            k.algorithm, k.key_tag
        ));
    }
    if let Some(k) = live.iter().find(|k| {
        k.role == role
            && matches!(
                k.state,
                KeyState::Created | KeyState::Published | KeyState::Ready | KeyState::Retiring
            )
    }) {
        return Some(format!(
            "a {} roll is under way (key {} is {}); see `tldd keys status`",
            role.as_str(),
            k.key_tag,
            k.state.as_str()
        ));
    }
    None
}

/// [`generate`], the key entering as `mode` says.
pub fn new_key(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    role: Role,
    algorithm: Option<u8>,
    mode: Mode,
) -> Result<Generated> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let zcfg = cfg.zone(&zone).context("zone vanished")?;
    let Some(dnssec) = &zcfg.dnssec else {
        bail!(
            "zone {zone} has no [zone.dnssec] section; add one with keystore = \"soft\" or \"hsm\""
        );
    };
    let alg = algorithm.unwrap_or(dnssec.algorithm);
    if !dnskey::is_supported(alg) {
        bail!("algorithm {alg} is not supported (8 RSASHA256, 13 ECDSAP256SHA256, 15 ED25519)");
    }
    if dnssec.offline_ksk && role == Role::Ksk {
        bail!(
            "zone {zone} has offline_ksk = true: its KSK lives on the KSK machine (generate it \
             there, with a configuration without offline_ksk), this signer holds ZSKs only"
        );
    }
    if dnssec.offline_ksk && matches!(mode, Mode::Emergency | Mode::AlgorithmRoll) {
        bail!(
            "zone {zone} has offline_ksk = true: its DNSKEY RRsets are signed in advance, so a \
             new ZSK is planned by `tldd keys ksr` and enters with the next Signed Key Response"
        );
    }
    let keystore = Keystore::from(dnssec.keystore);
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let mut st = StateFile::load(&dir)?;
    intact::ensure_intact(&audit_path(cfg), &st, operator)?;
    let taken: Vec<u16> = st.zone_keys(&zone).map(|k| k.key_tag).collect();
    let existing: Vec<&state::KeyRecord> = st.zone_keys(&zone).collect();
    let refusal = if mode == Mode::AlgorithmRoll {
        existing
            .iter()
            .find(|k| k.state != KeyState::Retired && (k.state != KeyState::Active || k.algorithm == alg) && !(k.algorithm_roll && k.algorithm == alg && k.role != role))
            .map(|k| format!("key {} is {} (algorithm {}); an algorithm roll starts from a zone whose keys are all active and of another algorithm", k.key_tag, k.state.as_str(), k.algorithm))
    } else if let Mode::Planned { after, .. } = mode {
        existing
            .iter()
            .find(|k| k.state != KeyState::Retired && k.algorithm != alg)
            .map(|k| format!("key {} is of algorithm {}", k.key_tag, k.algorithm))
            .or_else(|| {
                (!existing
                    .iter()
                    .any(|k| k.key_tag == after && k.role == role))
                .then(|| {
                    format!(
                        "it would succeed key {after}, which is not one of its {}s",
                        role.as_str()
                    )
                })
            })
    } else {
        successor_refusal(&existing, role, alg)
    };
    if let Some(why) = refusal {
        bail!("zone {zone}: no new {} key: {why}", role.as_str());
    }
    let successor = mode == Mode::AlgorithmRoll
        || existing
            .iter()
            .any(|k| k.role == role && k.state == KeyState::Active);

    let mut record = None;
    for _ in 0..TAG_COLLISION_TRIES {
        match keystore {
            Keystore::Soft => {
                let pk8 = soft::generate_pkcs8(alg)?;
                let key = SoftKey::from_pkcs8(alg, role.flags(), &pk8)?;
                let kp = KeyPair::Soft(key);
                if taken.contains(&kp.key_tag()) {
                    continue;
                }
                let file = soft_file_name(&zone, alg, kp.key_tag(), role);
                soft::write_private_file(&dir, &file, &pk8)?;
                let mut r = state::new_record(&zone, &kp, role);
                r.file = Some(file);
                record = Some((r, kp));
            }
            Keystore::Hsm => {
                let hsm = cfg.hsm.as_ref().context("keystore = \"hsm\" needs [hsm]")?;
                let token = Token::open(hsm)?;
                let mut id = [0u8; 16];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
                    .map_err(|_| anyhow::anyhow!("no randomness for CKA_ID"))?;
                let created = audit::now_rfc3339();
                let label = format!("tldd {zone} {} {created}", role.as_str());
                let key = token.generate(alg, role.flags(), &id, &label)?;
                let kp = KeyPair::Pkcs11(key);
                if taken.contains(&kp.key_tag()) {
                    token.destroy(&id)?;
                    continue;
                }
                let mut r = state::new_record(&zone, &kp, role);
                r.token = Some(token.label().to_string());
                r.id = Some(hex::encode(id));
                r.label = Some(label);
                record = Some((r, kp));
            }
        }
        break;
    }
    let Some((mut rec, kp)) = record else {
        bail!("could not generate a key whose tag differs from the zone's {taken:?}");
    };
    if let Mode::Planned {
        publish,
        after,
        remove_after,
    } = mode
    {
        rec.state = KeyState::Created;
        rec.plan_publish = Some(roll::rfc3339(publish));
        if let Some(pred) = st
            .keys
            .iter_mut()
            .find(|k| k.zone == zone && k.key_tag == after)
        {
            pred.plan_remove = Some(roll::rfc3339(remove_after));
        }
    } else if successor {
        rec.state = KeyState::Created;
        rec.emergency = mode == Mode::Emergency;
        rec.algorithm_roll = mode == Mode::AlgorithmRoll;
    } else {
        rec.activated = Some(rec.created.clone());
    }
    st.keys.push(rec.clone());
    st.save(&dir)?;
    audit::append(&audit_path(cfg), rec.audit_event(operator, "generate"))?;
    Ok(Generated {
        record: rec,
        key: kp,
    })
}

/// The keys in the state file, of one zone or all. Needs neither the HSM
/// nor its PIN.
pub fn list(cfg: &Config, zone: Option<&str>) -> Result<Vec<state::KeyRecord>> {
    let zone = zone.map(|z| state::canonical_zone(cfg, z)).transpose()?;
    let st = StateFile::load(&state::keys_dir(cfg))?;
    Ok(st
        .keys
        .into_iter()
        .filter(|k| zone.as_deref().is_none_or(|z| k.zone == z))
        .collect())
}

/// `owner TTL IN DNSKEY flags 3 alg base64`.
pub fn dnskey_line(zone: &str, ttl: u32, key: &KeyPair) -> String {
    use base64::Engine;
    format!(
        "{zone} {ttl} IN DNSKEY {} {} {} {}",
        key.flags(),
        dnskey::PROTOCOL,
        key.algorithm(),
        base64::engine::general_purpose::STANDARD.encode(key.public_key())
    )
}

/// `owner TTL IN DS tag alg 2 HEX`.
pub fn ds_line(zone: &str, ttl: u32, key: &KeyPair) -> Result<String> {
    let digest = dnskey::ds_sha256(zone, key.dnskey_rdata()).map_err(anyhow::Error::msg)?;
    Ok(format!(
        "{zone} {ttl} IN DS {} {} 2 {}",
        key.key_tag(),
        key.algorithm(),
        hex::encode_upper(digest)
    ))
}

fn export(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    action: &str,
    only_ksk: bool,
    line: impl Fn(&str, &KeyPair) -> Result<String>,
) -> Result<String> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let keys: Vec<_> = state::load_keys(
        cfg,
        &zone,
        &[
            KeyState::Active,
            KeyState::Published,
            KeyState::Ready,
            KeyState::Retiring,
        ],
    )?
    .into_iter()
    .filter(|(r, _)| !only_ksk || r.role == Role::Ksk)
    .collect();
    // After load_keys: a state file that points at the wrong key is named
    // as such first.
    intact::ensure_intact(&audit_path(cfg), &StateFile::load(&dir)?, operator)?;
    if keys.is_empty() {
        bail!(
            "zone {zone} has no {}key; run `tldd keys generate --zone {zone} --role ksk` first",
            if only_ksk { "KSK " } else { "" }
        );
    }
    let mut out = String::new();
    for (_, k) in &keys {
        out.push_str(&line(&zone, k)?);
        out.push('\n');
    }
    for (r, _) in &keys {
        audit::append(&audit_path(cfg), r.audit_event(operator, action))?;
    }
    Ok(out)
}

/// The DS records of the zone's KSKs (zone-file lines), audited as an export.
pub fn ds(cfg: &Config, operator: &str, zone: &str, ttl: u32) -> Result<String> {
    export(cfg, operator, zone, "export-ds", true, |z, k| {
        ds_line(z, ttl, k)
    })
}

/// The zone's DNSKEY records (active and published), audited as an export;
/// `ttl` by default the one the zone serves them with (`dnskey_ttl`).
pub fn dnskey(cfg: &Config, operator: &str, zone: &str, ttl: Option<u32>) -> Result<String> {
    let ttl = ttl.unwrap_or_else(|| served_dnskey_ttl(cfg, zone));
    export(cfg, operator, zone, "export-dnskey", false, |z, k| {
        Ok(dnskey_line(z, ttl, k))
    })
}

/// The DNSKEY TTL the configured zone `zone` is signed with.
pub fn served_dnskey_ttl(cfg: &Config, zone: &str) -> u32 {
    let norm = |s: &str| format!("{}.", s.trim_end_matches('.').to_ascii_lowercase());
    cfg.zone
        .iter()
        .find(|z| norm(&z.origin()) == norm(zone))
        .and_then(|z| z.dnssec.as_ref())
        .map_or(3600, |d| d.dnskey_ttl())
}

/// The audit log's text (empty when nothing was logged yet).
pub fn audit_text(cfg: &Config) -> Result<String> {
    let path = audit_path(cfg);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Checks the audit log's hash chain and, with `expect_head`, that a head
/// recorded earlier is the hash of one of its lines.
pub fn audit_verify(cfg: &Config, expect_head: Option<&str>) -> Result<audit::Verified> {
    let path = audit_path(cfg);
    let text = audit_text(cfg)?;
    let v = audit::verify(&text)
        .map_err(|b| anyhow::anyhow!("{}: audit chain BROKEN at {b}", path.display()))?;
    if let Some(want) = expect_head {
        let want = want.trim().to_ascii_lowercase();
        let mut hashes = text
            .split_terminator('\n')
            .map(|l| hex::encode(ring::digest::digest(&ring::digest::SHA256, l.as_bytes())));
        if want != audit::GENESIS && !hashes.any(|h| h == want) {
            bail!(
                "{}: the expected head {want} is not the hash of any line: the log was rewritten or cut",
                path.display()
            );
        }
    }
    Ok(v)
}

/// What the HSM token says of itself (logging in with the PIN).
pub struct TokenInfo {
    pub label: String,
    pub pool_size: usize,
    /// (algorithm, supported)
    pub algorithms: Vec<(u8, bool)>,
}

/// Opens the configured token, logs in, and asks it what it can do.
pub fn token_info(cfg: &Config) -> Result<TokenInfo> {
    let hsm = cfg
        .hsm
        .as_ref()
        .context("the config has no [hsm] section")?;
    let t = Token::open(hsm)?;
    Ok(TokenInfo {
        label: t.label().to_string(),
        pool_size: t.pool_size(),
        algorithms: [dnskey::ECDSAP256SHA256, dnskey::ED25519, dnskey::RSASHA256]
            .into_iter()
            .map(|a| (a, t.supports(a)))
            .collect(),
    })
}
