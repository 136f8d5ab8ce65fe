//! The registry store's high-water mark: `data_dir/srs.hwm` records how
//! many transactions ([`crate::db::Store::write`]: every EPP transform,
//! every admin change) the store has acknowledged, outside sled.
//!
//! Why: sled recovers a damaged or cut log by opening it at an older
//! state, without an error. For the registry that is the worst failure
//! there is: domains registrars were told they hold are gone, and nobody
//! is told. Every transaction adds one to a counter in the same sled batch
//! (`meta/commits`); after the fsync that makes it durable and before the
//! reply, the mark is moved to it ([`tldd_store::mark`]: two checksummed
//! slots, `fdatasync`). At open the counter must reach the mark.
//!
//! | at open | means | answer |
//! |---|---|---|
//! | counter ≥ mark | sound (one ahead: a stop between fsync and mark) | open |
//! | counter < mark | acknowledged transactions lost (cut log, old copy) | refuse |
//! | mark, no store | `srs.sled` deleted | refuse |
//! | store with a counter, no mark | `srs.hwm` deleted | refuse |
//! | neither | a new store, or one written before the mark existed | open, mark it |
//!
//! A restore from a backup is older than its mark by design: the operator
//! accepts it explicitly with `tldd store recover --srs-data DIR`
//! ([`accept`]), which keeps the old mark aside and says how many
//! acknowledged transactions the backup lacks.
//!
//! Not covered: the publisher's queue removals and the clock offset do not
//! count (losing them re-publishes an operation, which applies idempotently,
//! or moves a test clock back), and damage that sled opens *at the same
//! commit count* (a flipped bit inside a record) is caught only when the
//! record is read (it then fails to decode: an error, never a panic).
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tldd_store::mark::{self, Mark, MarkFile};

/// Why the mark refuses the store (or cannot be written); the store
/// turns it into its own error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HwmError(pub String);

/// The counter's key in the store's tree.
pub(crate) const META_COMMITS: &[u8] = b"meta/commits";

/// The mark's file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("srs.hwm")
}

fn at(seq: u64) -> Mark {
    Mark {
        seq,
        serial: 0,
        chain: [0; 32],
    }
}

/// The writer's handle: the file and the highest count recorded.
pub(crate) struct Hwm {
    inner: Mutex<(MarkFile, u64)>,
}

fn refuse(path: &Path, detail: String) -> HwmError {
    HwmError(format!(
        "the registry store {detail}; nothing was served. `tldd store check {dir}` \
         reports every file. If srs.sled was restored from a backup on purpose, \
         `tldd store recover --srs-data {dir}` accepts it (and says how many \
         acknowledged transactions it lacks); see README \"When the store is damaged\"",
        dir = path
            .parent()
            .map_or_else(|| "DATA_DIR".into(), |d| d.display().to_string())
    ))
}

impl Hwm {
    /// Checks the store's counter (`stored`: `None` when the store has
    /// none) against the mark and opens the mark for writing.
    /// `store_existed`: `srs.sled` was there before this open.
    pub(crate) fn open(
        data_dir: &Path,
        stored: Option<u64>,
        store_existed: bool,
    ) -> Result<Hwm, HwmError> {
        let path = path(data_dir);
        let seen = mark::read(&path).map_err(|e| refuse(&path, format!("mark: {e}")))?;
        let count = stored.unwrap_or(0);
        match (seen, stored) {
            (Some(m), _) if !store_existed => {
                return Err(refuse(
                    &path,
                    format!(
                        "{} is missing, but {} records {} acknowledged transactions",
                        data_dir.join("srs.sled").display(),
                        path.display(),
                        m.seq
                    ),
                ))
            }
            (Some(m), _) if count < m.seq => {
                return Err(refuse(
                    &path,
                    format!(
                        "{} holds {count} transactions but {} were acknowledged ({}): \
                         {} acknowledged transactions are lost (a cut or damaged log, or an \
                         older copy)",
                        data_dir.join("srs.sled").display(),
                        m.seq,
                        path.display(),
                        m.seq - count
                    ),
                ))
            }
            (None, Some(c)) if c > 0 => {
                return Err(refuse(
                    &path,
                    format!(
                        "mark {} is missing, so {} cannot be checked for lost transactions",
                        path.display(),
                        data_dir.join("srs.sled").display()
                    ),
                ))
            }
            (None, _) if store_existed => tracing::warn!(
                mark = %path.display(),
                "the registry store has no high-water mark (written by an earlier tldd): trusting it this once and marking it"
            ),
            _ => {}
        }
        let file = MarkFile::open(&path, &at(count))
            .map_err(|e| HwmError(format!("cannot write {}: {e}", path.display())))?;
        Ok(Hwm {
            inner: Mutex::new((file, seen.map_or(count, |m| m.seq))),
        })
    }

    /// Records that transaction `n` is durable (after sled's fsync).
    pub(crate) fn record(&self, n: u64) -> Result<(), HwmError> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if n <= g.1 {
            return Ok(()); // a later commit's flush already covered it
        }
        g.0.write(&at(n)).map_err(|e| {
            HwmError(format!(
                "cannot write the high-water mark {}: {e}",
                g.0.path().display()
            ))
        })?;
        g.1 = n;
        Ok(())
    }
}

/// `tldd store recover --srs-data DIR`: accepts the store as it is (a
/// restored backup): the old mark is moved to `aside`, a new one records
/// the store's count. Returns (acknowledged by the old mark, held now).
pub fn accept(data_dir: &Path, stored: u64, aside: &Path) -> std::io::Result<(Option<u64>, u64)> {
    let path = path(data_dir);
    let old = mark::read(&path).ok().flatten().map(|m| m.seq);
    if path.exists() {
        std::fs::create_dir_all(aside)?;
        std::fs::rename(&path, aside.join("srs.hwm"))?;
    }
    MarkFile::open(&path, &at(stored))?;
    Ok((old, stored))
}
