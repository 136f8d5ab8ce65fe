//! The byte format of one journal entry (one [`Diff`]), owned by the journal.
//!
//! ```text
//! entry  = version:u8 body          (version 2: this build)
//! body   = from:u32 to:u32 nremoved:u32 nadded:u32 record{nremoved + nadded}
//! record = ownerlen:u8 owner type:u16 ttl:u32 rdlen:u16 rdata
//! ```
//! All integers big-endian; `removed` come first (old SOA first), then
//! `added` (new SOA first); owners are lower-case wire names; the class is
//! IN. Entries written before the version byte existed (format 1: `body`
//! alone) are still read: the zone's meta record says from which journal
//! sequence on entries carry the byte ([`Format`]), so no guess is made
//! from the bytes themselves.
//!
//! Decoding checks every length against the bytes there and never panics;
//! what is wrong is a [`EntryError`] naming the entry and the byte offset.
use tldd_zone::rec::CLASS_IN;
use tldd_zone::{name, Diff, Rec};

/// The version byte this build writes.
pub const VERSION: u8 = 2;

/// How an entry in the tree is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Format 1 (before the version byte): the body alone.
    Untagged,
    /// A version byte, then the body.
    Tagged,
}

/// A journal entry that cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    #[error("journal entry {seq}: empty")]
    Empty { seq: u64 },
    #[error("journal entry {seq}: format version {version} is not one this build reads (it reads 1 and {VERSION})")]
    Version { seq: u64, version: u8 },
    #[error("journal entry {seq}: cut short at byte {at} ({what})")]
    Truncated {
        seq: u64,
        at: usize,
        what: &'static str,
    },
    #[error("journal entry {seq}: bad owner name at byte {at}")]
    Owner { seq: u64, at: usize },
    #[error("journal entry {seq}: {extra} byte(s) after the last record")]
    Trailing { seq: u64, extra: usize },
}

/// The entry bytes of `diff` (tagged, [`VERSION`]).
pub fn encode(diff: &Diff) -> Vec<u8> {
    let mut v = Vec::with_capacity(65 + 64 * (diff.removed.len() + diff.added.len()));
    v.push(VERSION);
    v.extend_from_slice(&diff.from.to_be_bytes());
    v.extend_from_slice(&diff.to.to_be_bytes());
    v.extend_from_slice(&(diff.removed.len() as u32).to_be_bytes());
    v.extend_from_slice(&(diff.added.len() as u32).to_be_bytes());
    for r in diff.removed.iter().chain(&diff.added) {
        v.push(r.owner.len() as u8);
        v.extend_from_slice(&r.owner);
        v.extend_from_slice(&r.rtype.to_be_bytes());
        v.extend_from_slice(&r.ttl.to_be_bytes());
        v.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(&r.rdata);
    }
    v
}

/// The serials (from, to) of an entry without decoding its records.
pub fn peek_serials(b: &[u8], format: Format) -> Option<(u32, u32)> {
    let at = usize::from(format == Format::Tagged);
    if format == Format::Tagged && b.first() != Some(&VERSION) {
        return None;
    }
    Some((
        u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?),
        u32::from_be_bytes(b.get(at + 4..at + 8)?.try_into().ok()?),
    ))
}

/// Decodes entry `seq` laid out as `format`.
pub fn decode(seq: u64, b: &[u8], format: Format) -> Result<Diff, EntryError> {
    let body = match format {
        Format::Untagged => 0,
        Format::Tagged => match b.first() {
            None => return Err(EntryError::Empty { seq }),
            Some(&VERSION) => 1,
            Some(&version) => return Err(EntryError::Version { seq, version }),
        },
    };
    let mut r = Reader { b, pos: body, seq };
    let from = r.u32("serial from")?;
    let to = r.u32("serial to")?;
    let nr = r.u32("removed count")? as usize;
    let na = r.u32("added count")? as usize;
    // Counts come from the bytes: cap what is reserved up front.
    let mut removed = Vec::with_capacity(nr.min(1 << 16));
    let mut added = Vec::with_capacity(na.min(1 << 16));
    for i in 0..nr.saturating_add(na) {
        let rec = r.rec()?;
        if i < nr {
            removed.push(rec);
        } else {
            added.push(rec);
        }
    }
    if r.pos != b.len() {
        return Err(EntryError::Trailing {
            seq,
            extra: b.len() - r.pos,
        });
    }
    Ok(Diff {
        from,
        to,
        removed,
        added,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    seq: u64,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EntryError> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(EntryError::Truncated {
                seq: self.seq,
                at: self.pos,
                what,
            })?;
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, EntryError> {
        let s = self.take(4, what)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn rec(&mut self) -> Result<Rec, EntryError> {
        let at = self.pos;
        let ol = self.take(1, "owner length")?[0] as usize;
        let owner = self.take(ol, "owner")?;
        if name::wire_len(owner) != Some(ol) {
            return Err(EntryError::Owner { seq: self.seq, at });
        }
        let f = self.take(8, "type, TTL, RDATA length")?;
        let rtype = u16::from_be_bytes([f[0], f[1]]);
        let ttl = u32::from_be_bytes([f[2], f[3], f[4], f[5]]);
        let rl = u16::from_be_bytes([f[6], f[7]]) as usize;
        let rdata = self.take(rl, "RDATA")?;
        Ok(Rec {
            owner: owner.into(),
            rtype,
            class: CLASS_IN,
            ttl,
            rdata: rdata.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff() -> Diff {
        Diff {
            from: 7,
            to: 8,
            removed: vec![Rec::new_in(b"\x04shop\x00", 6, 3600, &[1, 2, 3])],
            added: vec![
                Rec::new_in(b"\x04shop\x00", 6, 3600, &[1, 2, 4]),
                Rec::new_in(b"\x01a\x04shop\x00", 2, 86400, b"\x02ns\x01a\x04shop\x00"),
            ],
        }
    }

    #[test]
    fn round_trip_with_the_version_byte() {
        let d = diff();
        let b = encode(&d);
        assert_eq!(b[0], VERSION);
        assert_eq!(decode(1, &b, Format::Tagged), Ok(d));
    }

    #[test]
    fn format_1_entries_still_decode() {
        let d = diff();
        let b = encode(&d);
        assert_eq!(decode(1, &b[1..], Format::Untagged), Ok(d));
        assert_eq!(peek_serials(&b[1..], Format::Untagged), Some((7, 8)));
        assert_eq!(peek_serials(&b, Format::Tagged), Some((7, 8)));
    }

    #[test]
    fn errors_name_the_entry_and_the_place() {
        let b = encode(&diff());
        assert_eq!(
            decode(5, &[9, 0, 0], Format::Tagged),
            Err(EntryError::Version { seq: 5, version: 9 })
        );
        assert_eq!(
            decode(5, &[], Format::Tagged),
            Err(EntryError::Empty { seq: 5 })
        );
        assert!(matches!(
            decode(5, &b[..b.len() - 1], Format::Tagged),
            Err(EntryError::Truncated {
                seq: 5,
                what: "RDATA",
                ..
            })
        ));
        let mut long = b.clone();
        long.push(0);
        assert_eq!(
            decode(5, &long, Format::Tagged),
            Err(EntryError::Trailing { seq: 5, extra: 1 })
        );
        let mut bad = b.clone();
        bad[18] = 9; // first owner's first label length
        assert!(matches!(
            decode(5, &bad, Format::Tagged),
            Err(EntryError::Owner { seq: 5, at: 17 })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        for n in 0..200usize {
            let b: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            let _ = decode(1, &b, Format::Tagged);
            let _ = decode(1, &b, Format::Untagged);
        }
        let mut huge = vec![VERSION];
        huge.extend_from_slice(&[
            0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
        assert!(decode(1, &huge, Format::Tagged).is_err());
    }
}
