//! The hash-chained key audit log, `data_dir/keys/audit.log`.
//!
//! # Design
//!
//! One JSON object per line, appended (`O_APPEND`, one `write`, then fsync)
//! under the key-state lock:
//!
//! ```json
//! {"seq":3,"time":"2025-01-01T10:00:00Z","operator":"alice","action":"generate","zone":"shop.",
//!  "key_tag":12345,"role":"ksk","algorithm":13,"keystore":"hsm","token":"tldd",
//!  "prev":"<hex SHA-256 of line 2, exactly as stored, without its newline>"}
//! ```
//!
//! `seq` counts from 1; line 1 has `prev` = 64 zeros. Changing, inserting,
//! removing or reordering any line breaks the chain at the next line (or at
//! `seq`), which [`verify`] reports as the first broken line. The *head*,
//! the SHA-256 of the last line, is printed by `tldd keys audit --verify`;
//! key officers write it in the ceremony record, and a later
//! `--expect-head HASH` proves that nothing up to that point was rewritten
//! (a chain alone cannot show that its last lines were cut off or rewritten
//! wholesale by someone who can write the file).
//!
//! Actions: `generate`, `export-ds`, `export-dnskey`.
//!
//! # Limits
//!
//! Tamper-evident, not tamper-proof: anyone with write access can rebuild a
//! consistent chain; the head recorded off the machine is what anchors it.
//! No signatures, no remote copy (ship the file to syslog/WORM storage if
//! required).
use anyhow::{Context, Result};
use ring::digest;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339 UTC.
    pub time: String,
    pub operator: String,
    pub action: String,
    pub zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_tag: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore: Option<String>,
    /// Token label (HSM keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Hex SHA-256 of the previous line.
    pub prev: String,
}

/// What an operation records; `seq`, `time` and `prev` are filled in by [`append`].
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub operator: String,
    pub action: String,
    pub zone: String,
    pub key_tag: Option<u16>,
    pub role: Option<String>,
    pub algorithm: Option<u8>,
    pub keystore: Option<String>,
    pub token: Option<String>,
}

/// Current time, RFC 3339 UTC, whole seconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

fn sha256_hex(line: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, line.as_bytes()))
}

/// Extending a chain that no longer verifies would bury the damage under
/// valid-looking entries: refused, with what to do.
pub fn refuse_broken(path: &Path, text: &str) -> Result<()> {
    if let Err(b) = verify(text) {
        anyhow::bail!(
            "{}: {b}: the audit log's hash chain is broken, so nothing more is \
             appended to it and the key operation was not done. Keep the damaged \
             log as evidence (`mv {0} {0}.damaged`), record the incident, and run \
             the command again: a new log starts a new chain (write down its head \
             with `tldd keys audit --verify`)",
            path.display()
        );
    }
    Ok(())
}

/// Appends `ev` to `path` (created mode 0600 if missing). Call with the
/// key-state lock held. Returns the new entry.
pub fn append(path: &Path, ev: Event) -> Result<AuditEntry> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    refuse_broken(path, &existing)?;
    let last = existing.lines().rfind(|l| !l.is_empty());
    let (seq, prev) = match last {
        Some(l) => {
            let seq = serde_json::from_str::<AuditEntry>(l)
                .map(|e| e.seq + 1)
                .unwrap_or(existing.lines().count() as u64 + 1);
            (seq, sha256_hex(l))
        }
        None => (1, GENESIS.to_string()),
    };
    let entry = AuditEntry {
        seq,
        time: now_rfc3339(),
        operator: ev.operator,
        action: ev.action,
        zone: ev.zone,
        key_tag: ev.key_tag,
        role: ev.role,
        algorithm: ev.algorithm,
        keystore: ev.keystore,
        token: ev.token,
        prev,
    };
    let mut line = serde_json::to_string(&entry)?;
    // A file cut mid-line (crash during a write) must not glue two entries.
    if !existing.is_empty() && !existing.ends_with('\n') {
        line.insert(0, '\n');
    }
    line.push('\n');
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(line.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot append to {}", path.display()))?;
    Ok(entry)
}

/// The result of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub entries: u64,
    /// Hex SHA-256 of the last line (GENESIS for an empty log).
    pub head: String,
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct Broken {
    /// 1-based line number of the first line that fails.
    pub line: usize,
    pub reason: String,
}

/// Checks the whole chain in `text`: every line parses, `seq` counts from
/// 1 and `prev` is the SHA-256 of the line before.
pub fn verify(text: &str) -> Result<Verified, Broken> {
    let mut prev_hash = GENESIS.to_string();
    let mut n = 0u64;
    for (i, line) in text.split_terminator('\n').enumerate() {
        let lineno = i + 1;
        let broken = |reason: String| Broken {
            line: lineno,
            reason,
        };
        let e: AuditEntry =
            serde_json::from_str(line).map_err(|e| broken(format!("not an audit entry ({e})")))?;
        n += 1;
        if e.seq != n {
            return Err(broken(format!(
                "sequence number {} where {n} was expected (a line was removed, inserted or reordered)",
                e.seq
            )));
        }
        if e.prev != prev_hash {
            return Err(broken(if lineno == 1 {
                "the first entry does not start the chain (lines before it were removed)".into()
            } else {
                format!(
                    "hash chain broken: `prev` is not the SHA-256 of line {} (line {} or this line was altered)",
                    lineno - 1,
                    lineno - 1
                )
            }));
        }
        prev_hash = sha256_hex(line);
    }
    Ok(Verified {
        entries: n,
        head: prev_hash,
    })
}

/// The (zone, key tag) pairs whose generation, or adoption by a new
/// chain, the log `text` records.
pub fn recorded_keys(text: &str) -> Vec<(String, u16)> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<AuditEntry>(l).ok())
        .filter(|e| e.action == "generate" || e.action == "adopt")
        .filter_map(|e| Some((e.zone, e.key_tag?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(n: usize) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        for i in 0..n {
            append(
                &p,
                Event {
                    operator: "alice".into(),
                    action: "generate".into(),
                    zone: "shop.".into(),
                    key_tag: Some(i as u16),
                    ..Default::default()
                },
            )
            .unwrap();
        }
        (d, p)
    }

    #[test]
    fn chain_verifies_and_head_is_last_line_hash() {
        let (_d, p) = log_with(3);
        let text = std::fs::read_to_string(&p).unwrap();
        let v = verify(&text).unwrap();
        assert_eq!(v.entries, 3);
        assert_eq!(v.head, sha256_hex(text.lines().last().unwrap()));
        assert_eq!(verify("").unwrap().head, GENESIS);
    }

    #[test]
    fn edits_removals_and_reorders_are_found() {
        let (_d, p) = log_with(4);
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Edit line 2: line 3 breaks.
        let edited = text.replacen("\"key_tag\":1,", "\"key_tag\":9,", 1);
        assert_eq!(verify(&edited).unwrap_err().line, 3);
        // Remove line 2: line 2 (old 3) has the wrong seq.
        let removed = [lines[0], lines[2], lines[3]].join("\n");
        assert_eq!(verify(&removed).unwrap_err().line, 2);
        // Remove line 1.
        let e = verify(&lines[1..].join("\n")).unwrap_err();
        assert_eq!(e.line, 1);
        // Garbage.
        assert_eq!(verify(&format!("{}\nxx\n", lines[0])).unwrap_err().line, 2);
    }

    #[test]
    fn a_broken_chain_is_not_extended() {
        let (_d, p) = log_with(1);
        // A torn line (a crash during a write), or any other damage.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"seq\":2,\"ti").unwrap();
        drop(f);
        let before = std::fs::read_to_string(&p).unwrap();
        let e = append(&p, Event::default()).unwrap_err();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), before);
        // Moved aside, a new chain starts.
        std::fs::rename(&p, p.with_extension("damaged")).unwrap();
        append(&p, Event::default()).unwrap();
        assert_eq!(
            verify(&std::fs::read_to_string(&p).unwrap())
                .unwrap()
                .entries,
            1
        );
    }
}
