//! Operations on the rollover state machine ([`super::roll`]): what
//! `tldd keys roll`, `ds-seen` and `status` do to the state file, and
//! what the zone's event loop reads and records at a key step.
//!
//! Every change takes the state lock, re-reads the file, changes only the
//! records it owns, saves atomically and appends one audit entry per
//! change: the loop's transitions (`publish`, `ready`, `activate`,
//! `retire`, `remove`, `signatures-gone`, operator `tldd`) and the
//! operator's commands (`roll`, `ds-seen`) interleave safely.
use super::roll::{self, rfc3339, Facts, Next};
use super::state::{self, KeyRecord, KeyState, Role, StateFile, StateLock};
use super::{audit, audit_path, intact, Generated};
use crate::config::Config;
use crate::hsm::KeyPair;
use anyhow::{bail, Context, Result};

/// The operator name the zone's loop writes in the audit log.
pub const LOOP_OPERATOR: &str = "tldd";

fn event(operator: &str, action: &str, k: &KeyRecord) -> audit::Event {
    k.audit_event(operator, action)
}

/// Starts a roll of the zone's `role` key by hand: a successor of the
/// active key's algorithm; with another `algorithm`, an algorithm roll
/// (a KSK and a ZSK of it, both returned, KSK first). `emergency` skips
/// the waits for caches (not for an algorithm roll).
pub fn start_roll(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    role: Role,
    algorithm: Option<u8>,
    emergency: bool,
) -> Result<Vec<Generated>> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let st = StateFile::load(&state::keys_dir(cfg))?;
    let Some(active) = st
        .zone_keys(&zone)
        .find(|k| k.role == role && k.state == KeyState::Active)
    else {
        bail!(
            "zone {zone} has no active {} to roll; `tldd keys generate --zone {zone} --role {}` makes the first",
            role.as_str(),
            role.as_str()
        );
    };
    if let Some(a) = algorithm.filter(|&a| a != active.algorithm) {
        if emergency {
            bail!("zone {zone}: an algorithm roll cannot be an emergency roll (--now)");
        }
        if !crate::hsm::dnskey::is_supported(a) {
            bail!("algorithm {a} is not supported (8 RSASHA256, 13 ECDSAP256SHA256, 15 ED25519)");
        }
        let mode = super::Mode::AlgorithmRoll;
        let ksk = super::new_key(cfg, operator, &zone, Role::Ksk, Some(a), mode)?;
        let zsk = super::new_key(cfg, operator, &zone, Role::Zsk, Some(a), mode)?;
        return Ok(vec![ksk, zsk]);
    }
    let mode = if emergency {
        super::Mode::Emergency
    } else {
        super::Mode::Roll
    };
    Ok(vec![super::new_key(
        cfg,
        operator,
        &zone,
        role,
        Some(active.algorithm),
        mode,
    )?])
}

/// An operator's change to one live key of a zone, under the state lock:
/// `change` checks the record and changes it (or says why not); the state
/// is saved and `action` audited.
fn change_key(
    cfg: &Config,
    operator: &str,
    zone_arg: &str,
    tag: u16,
    action: &str,
    change: impl FnOnce(&str, &mut KeyRecord) -> Result<()>,
) -> Result<KeyRecord> {
    let zone = state::canonical_zone(cfg, zone_arg)?;
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let mut st = StateFile::load(&dir)?;
    intact::ensure_intact(&audit_path(cfg), &st, operator)?;
    let Some(k) = st
        .keys
        .iter_mut()
        .find(|k| k.zone == zone && k.key_tag == tag && k.state != KeyState::Retired)
    else {
        bail!("zone {zone} has no live key with tag {tag}; see `tldd keys status --zone {zone}`");
    };
    change(&zone, k)?;
    let rec = k.clone();
    st.save(&dir)?;
    audit::append(&audit_path(cfg), event(operator, action, &rec))?;
    Ok(rec)
}

/// Records that the parent serves the DS of KSK `tag` (which must be
/// `ready`, i.e. named by the zone's CDS): the roll goes on.
pub fn ds_seen(cfg: &Config, operator: &str, zone_arg: &str, tag: u16) -> Result<KeyRecord> {
    change_key(cfg, operator, zone_arg, tag, "ds-seen", |zone, k| {
        if k.role != Role::Ksk || k.state != KeyState::Ready {
            bail!(
                "key {tag} of {zone} is a {} in state {}: only a KSK in state ready (its CDS \
                 published) waits for the parent's DS",
                k.role.as_str(),
                k.state.as_str()
            );
        }
        k.ds_seen = Some(audit::now_rfc3339());
        Ok(())
    })
}

/// Cancels a roll before its key was served: key `tag` must be `created`
/// (the zone's loop has not published it yet); it becomes `retired`.
pub fn cancel(cfg: &Config, operator: &str, zone_arg: &str, tag: u16) -> Result<KeyRecord> {
    change_key(cfg, operator, zone_arg, tag, "cancel", |zone, k| {
        if k.state != KeyState::Created {
            bail!(
                "key {tag} of {zone} is {}: it has been served, so only its roll can take it \
                 out (a served key withdrawn at once would break validation for resolvers \
                 that cached it)",
                k.state.as_str()
            );
        }
        k.state = KeyState::Retired;
        k.removed = Some(audit::now_rfc3339());
        Ok(())
    })
}

/// The zone's key records, in state-file order (retired ones included).
pub fn zone_records(cfg: &Config, zone: &str) -> Result<Vec<KeyRecord>> {
    let st = StateFile::load(&state::keys_dir(cfg))?;
    Ok(st.zone_keys(zone).cloned().collect())
}

/// The audit action of a move to `to`.
fn action(to: KeyState) -> &'static str {
    match to {
        KeyState::Created => "create",
        KeyState::Presigned => "presign",
        KeyState::Withdrawn => "withdraw",
        KeyState::Published => "publish",
        KeyState::Ready => "ready",
        KeyState::Active => "activate",
        KeyState::Retiring => "retire",
        KeyState::Retired => "remove",
    }
}

/// Records what a key step made true (call once its version is durable):
/// for each key of `moved` and `marked` (tag and the fact's audit action:
/// `signatures-gone`, `signatures-complete`), its state and times from
/// `records` are written into the state file, and one audit entry each.
pub fn record(
    cfg: &Config,
    zone: &str,
    records: &[KeyRecord],
    moved: &[(u16, KeyState)],
    marked: &[(u16, &'static str)],
) -> Result<()> {
    if moved.is_empty() && marked.is_empty() {
        return Ok(());
    }
    let dir = state::ensure_keys_dir(cfg)?;
    let _lock = StateLock::acquire(&dir)?;
    let mut st = StateFile::load(&dir)?;
    let mut events = Vec::new();
    for k in st.keys.iter_mut().filter(|k| k.zone == zone) {
        let Some(new) = records.iter().find(|r| r.key_tag == k.key_tag) else {
            continue;
        };
        let tag = k.key_tag;
        let moves: Vec<KeyState> = moved
            .iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, s)| *s)
            .collect();
        let facts: Vec<&str> = marked
            .iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, a)| *a)
            .collect();
        if moves.is_empty() && facts.is_empty() {
            continue;
        }
        // The operator's facts (ds_seen) are theirs: kept as in the file.
        let ds_seen = k.ds_seen.clone();
        *k = KeyRecord {
            ds_seen,
            ..new.clone()
        };
        for s in moves {
            events.push(event(LOOP_OPERATOR, action(s), k));
        }
        for a in facts {
            events.push(event(LOOP_OPERATOR, a, k));
        }
    }
    st.save(&dir)?;
    for e in events {
        audit::append(&audit_path(cfg), e)?;
    }
    Ok(())
}

/// Generates the successor an automatic roll asks for (audited as the
/// loop's `generate`).
pub fn generate_successor(cfg: &Config, zone: &str, role: Role, alg: u8) -> Result<Generated> {
    super::new_key(cfg, LOOP_OPERATOR, zone, role, Some(alg), super::Mode::Roll)
}

/// The key material a key step serves with.
pub struct Loaded {
    /// (record, key) of every published or signing key.
    pub keys: Vec<(KeyRecord, KeyPair)>,
    /// Tags of the keys in the DNSKEY RRset.
    pub published: Vec<u16>,
    /// Tags of the signing keys.
    pub signing: Vec<u16>,
    /// Tags of the KSKs named by CDS/CDNSKEY.
    pub cds: Vec<u16>,
}

impl Loaded {
    /// The signing keys.
    pub fn signing_keys(&self) -> Vec<KeyPair> {
        self.keys
            .iter()
            .filter(|(r, _)| self.signing.contains(&r.key_tag))
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// DNSKEY RDATA of the keys that sign unpublished (an algorithm
    /// roll's `presigned` and `withdrawn` keys): the verifier checks their
    /// signatures with these, resolvers ignore them.
    pub fn unpublished_signers(&self) -> Vec<Vec<u8>> {
        self.keys
            .iter()
            .filter(|(r, _)| !self.published.contains(&r.key_tag))
            .map(|(_, k)| k.dnskey_rdata().to_vec())
            .collect()
    }
}

/// Loads the keys [`roll::serving`] names for `records` (blocking: may
/// log in to the HSM).
pub fn load_serving(cfg: &Config, records: &[KeyRecord]) -> Result<Loaded> {
    let s = roll::serving(records);
    let mut keys = Vec::new();
    for r in records {
        let tag = r.key_tag;
        let used = s
            .published
            .iter()
            .chain(&s.signing)
            .any(|k| k.key_tag == tag);
        if !used {
            continue;
        }
        let k = state::load_key(cfg, r).with_context(|| format!("key {} of {}", tag, r.zone))?;
        keys.push((r.clone(), k));
    }
    Ok(Loaded {
        keys,
        published: s.published.iter().map(|k| k.key_tag).collect(),
        signing: s.signing.iter().map(|k| k.key_tag).collect(),
        cds: s.cds.iter().map(|k| k.key_tag).collect(),
    })
}

/// One line of `tldd keys status`: `ZONE TAG ROLE ALG KEYSTORE STATE NEXT AT`.
pub fn status_line(k: &KeyRecord, next: Option<&Next>) -> String {
    let (what, at) = match next {
        None => ("-", "-".to_string()),
        Some(n) => (n.what, n.at.map_or("-".to_string(), rfc3339)),
    };
    format!(
        "{} {} {} {} {} {} {what} {at}",
        k.zone,
        k.key_tag,
        k.role.as_str(),
        k.algorithm,
        k.keystore.as_str(),
        k.state.as_str()
    )
}

/// `tldd keys status` lines for `records` with `facts` (the loop's, or a
/// guess from the state file alone when no server runs).
pub fn status_lines(
    records: &[KeyRecord],
    t: &crate::config::RollTimings,
    facts: &Facts,
) -> Vec<String> {
    records
        .iter()
        .map(|k| status_line(k, roll::next(k, records, t, facts).as_ref()))
        .collect()
}
