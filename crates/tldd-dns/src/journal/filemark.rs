//! What a zone's file was when its content last became a version: its
//! SHA-256 and size, in `data_dir/marks/<zone>.file` (JSON, tagged by
//! `version`). Written when the zone is first loaded from the file and
//! after every `zone-reload`; read at start, so a file edited while the
//! store was serving is reported (and, with `zonefile_load =
//! "difference"`, applied) instead of silently ignored.
//!
//! A data directory from before this record has none: the first start
//! records the file as it is then (nothing to compare with).
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum FileMark {
    #[serde(rename = "1")]
    V1 { sha256: String, bytes: u64 },
}

impl FileMark {
    /// The mark of `path` as it is now.
    pub fn of_file(path: &Path) -> std::io::Result<FileMark> {
        let mut f = std::fs::File::open(path)?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
            ctx.update(&buf[..n]);
        }
        Ok(FileMark::V1 {
            sha256: hex::encode(ctx.finish().as_ref()),
            bytes,
        })
    }

    /// `sha256:HEX` for logs.
    pub fn describe(&self) -> String {
        match self {
            FileMark::V1 { sha256, bytes } => format!("sha256:{sha256} ({bytes} bytes)"),
        }
    }
}

/// The recorded mark at `path` (`None`: none, or unreadable).
pub fn read(path: &Path) -> Option<FileMark> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Records `mark` at `path` (temporary file, fsync, rename).
pub fn write(path: &Path, mark: &FileMark) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("file.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(mark).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_has_another_mark_and_marks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("z");
        std::fs::write(&f, "a").unwrap();
        let a = FileMark::of_file(&f).unwrap();
        std::fs::write(&f, "b").unwrap();
        let b = FileMark::of_file(&f).unwrap();
        assert_ne!(a, b);
        let m = dir.path().join("shop.file");
        assert_eq!(read(&m), None);
        write(&m, &b).unwrap();
        assert_eq!(read(&m), Some(b));
        let text = std::fs::read_to_string(&m).unwrap();
        assert!(text.contains("\"version\":\"1\""), "{text}");
    }
}
