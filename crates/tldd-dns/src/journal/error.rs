//! What can be wrong with a zone store, said so that an operator knows
//! which file and what to do.
//!
//! Every variant's message ends with the same two pointers: `tldd store
//! check DATA_DIR` (reports every file of the store) and the README's
//! "When the store is damaged" (the recovery: `tldd store recover`, then
//! `tldd srs reconcile` to send what the registry has and the store lost).
use super::mark::MarkError;
use std::fmt;
use std::path::PathBuf;

/// A store that cannot be trusted as it is.
#[derive(Debug)]
pub enum StoreError {
    /// sled could not open the database (an error or a panic in sled).
    Open { path: PathBuf, detail: String },
    /// Another process (a running tldd) holds the database.
    Locked {
        path: PathBuf,
        /// Who holds it, from `data_dir/tldd.pid` ("pid 123: tldd serve -c
        /// ...") when that process is alive.
        holder: Option<String>,
    },
    /// A read of the database failed (I/O, or a panic in sled).
    Read {
        path: PathBuf,
        zone: String,
        detail: String,
    },
    /// The journal ends before the newest acknowledged version.
    JournalBehind {
        zone: String,
        journal_serial: u32,
        journal_seq: u64,
        acked_serial: u32,
        acked_seq: u64,
        mark: PathBuf,
    },
    /// The journal holds other content than the one acknowledged (or its
    /// own checksum chain does not close).
    ChainMismatch {
        zone: String,
        seq: u64,
        against: PathBuf,
    },
    /// The journal knows nothing of a zone that has durable state (a mark
    /// or snapshot files): the journal was deleted or replaced.
    JournalMissing { zone: String, evidence: PathBuf },
    /// A journal written with marks has lost its mark file.
    MarkMissing { zone: String, path: PathBuf },
    /// The mark file cannot be read.
    Mark(MarkError),
    /// The snapshot file or the journal's records do not decode.
    Damaged {
        zone: String,
        path: PathBuf,
        detail: String,
    },
    /// The whole store's directory.
    Dir { path: PathBuf, detail: String },
}

impl StoreError {
    /// The `data_dir` the hint names.
    fn hint(&self) -> String {
        let p = match self {
            StoreError::Locked { .. } => return String::new(),
            StoreError::Open { path, .. }
            | StoreError::Read { path, .. }
            | StoreError::JournalBehind { mark: path, .. }
            | StoreError::ChainMismatch { against: path, .. }
            | StoreError::JournalMissing { evidence: path, .. }
            | StoreError::MarkMissing { path, .. }
            | StoreError::Damaged { path, .. }
            | StoreError::Dir { path, .. } => path.clone(),
            StoreError::Mark(MarkError::Io { path, .. } | MarkError::Damaged { path }) => {
                path.clone()
            }
        };
        // Every store file is one or two levels below data_dir.
        let dir = match p.parent() {
            Some(d) if d.ends_with("marks") || d.ends_with("snapshots") => d.parent(),
            Some(d) => Some(d),
            None => None,
        };
        let dir = dir.map_or_else(|| "DATA_DIR".into(), |d| d.display().to_string());
        format!(
            "; nothing was served. `tldd store check {dir}` reports every file of the store; \
             to recover see README \"When the store is damaged\" (`tldd store recover -c CONFIG`, \
             then `tldd srs reconcile`)"
        )
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Open { path, detail } => {
                write!(
                    f,
                    "the zone store {} cannot be opened: {detail}",
                    path.display()
                )
            }
            StoreError::Locked {
                path,
                holder: Some(h),
            } => write!(
                f,
                "the zone store {} is in use by another process: {h}; one tldd serves a data_dir",
                path.display()
            ),
            StoreError::Locked { path, holder: None } => write!(
                f,
                "the zone store {} is in use by another process (a running tldd serve?)",
                path.display()
            ),
            StoreError::Read { path, zone, detail } => write!(
                f,
                "zone {zone}: reading the zone store {} failed: {detail}",
                path.display()
            ),
            StoreError::JournalBehind {
                zone,
                journal_serial,
                journal_seq,
                acked_serial,
                acked_seq,
                mark,
            } => write!(
                f,
                "zone {zone}: the journal ends at serial {journal_serial} (entry {journal_seq}) \
                 but serial {acked_serial} (entry {acked_seq}) was acknowledged ({}): \
                 {} acknowledged version(s) are missing from the journal (cut, or an older copy)",
                mark.display(),
                acked_seq.saturating_sub(*journal_seq)
            ),
            StoreError::ChainMismatch { zone, seq, against } => write!(
                f,
                "zone {zone}: journal entry {seq} is not the one that was acknowledged \
                 (its checksum chain differs from {})",
                against.display()
            ),
            StoreError::JournalMissing { zone, evidence } => write!(
                f,
                "zone {zone}: the journal has no record of this zone, but {} shows it had \
                 durable state: the journal (zones.sled) was deleted or replaced; \
                 refusing to fall back to the zone file, which would lose every update since",
                evidence.display()
            ),
            StoreError::MarkMissing { zone, path } => write!(
                f,
                "zone {zone}: the high-water mark {} is missing, so the journal cannot be \
                 checked for lost versions",
                path.display()
            ),
            StoreError::Mark(e) => write!(f, "high-water mark: {e}"),
            StoreError::Damaged { zone, path, detail } => {
                write!(f, "zone {zone}: {} is damaged: {detail}", path.display())
            }
            StoreError::Dir { path, detail } => write!(f, "{}: {detail}", path.display()),
        }?;
        f.write_str(&self.hint())
    }
}

impl std::error::Error for StoreError {}

impl From<MarkError> for StoreError {
    fn from(e: MarkError) -> Self {
        StoreError::Mark(e)
    }
}
