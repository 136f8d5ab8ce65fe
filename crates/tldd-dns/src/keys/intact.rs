//! The audit log checked against the key state before a key operation:
//! the chain must verify and must record every key `state.json` holds (a
//! log cut at a line boundary still verifies; the missing generation of a
//! key it lists does not). Here, not in `audit`, because it needs both
//! `audit` and `state` and `state` already uses `audit`.
use super::audit;
use super::state::{KeyRecord, StateFile};
use anyhow::{Context, Result};
use std::path::Path;

/// The keys of `state` whose generation (or adoption by a new chain) the
/// log `text` does not record: the log lost its last lines (a cut the hash
/// chain alone cannot show, see `--expect-head`), or the state file was
/// edited by hand.
pub fn unrecorded_keys<'a>(text: &str, state: &'a StateFile) -> Vec<&'a KeyRecord> {
    let recorded = audit::recorded_keys(text);
    state
        .keys
        .iter()
        .filter(|k| {
            !recorded
                .iter()
                .any(|(z, t)| *z == k.zone && *t == k.key_tag)
        })
        .collect()
}

/// Called by every key operation before it changes anything: fails
/// unless the log at `path` verifies and records the generation of every
/// key in `state` (a log cut at a line boundary still verifies: see
/// [`unrecorded_keys`]), so a damaged log stops an operation before a key
/// is made, not after. A log that does not exist yet (the first operation,
/// or a new chain after a damaged log was moved aside) begins with one
/// `adopt` entry per key `state` already holds, by `operator`.
pub fn ensure_intact(path: &Path, state: &StateFile, operator: &str) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    audit::refuse_broken(path, &text)?;
    if text.is_empty() {
        for k in &state.keys {
            audit::append(path, k.audit_event(operator, "adopt"))?;
        }
        return Ok(());
    }
    if let Some(k) = unrecorded_keys(&text, state).first() {
        anyhow::bail!(
            "{}: the generation of {} key {} of zone {} is not in the audit log (lines cut \
             from its end, or state.json edited): the key operation was not done. Compare \
             the log with its write-once copy and the last ceremony's head hash \
             (`tldd keys audit --verify --expect-head HASH`); once the incident is recorded, \
             keep the log aside (`mv {0} {0}.damaged`) and run the command again (the new \
             log starts by adopting the keys state.json holds)",
            path.display(),
            k.role.as_str(),
            k.key_tag,
            k.zone
        );
    }
    Ok(())
}
