//! The Key Signing Request and Signed Key Response files, in the format
//! Knot DNS's `keymgr` reads and writes (`generate-ksr`, `sign-ksr`,
//! `import-skr`), so either side of an exchange may be Knot:
//!
//! ```text
//! ;; KeySigningRequest 1.0 1796395950 (2026-12-04T14:52:30Z) =========
//! shop. 3600 IN DNSKEY 256 3 13 cUWG...
//! ;; KeySigningRequest 1.0 1801579950 (2027-02-02T14:52:30Z) =========
//! ...
//! ;; KeySigningRequest 1.0 generated at 2026-12-04T14:52:30Z by tldd 0.1.0
//! ```
//!
//! A header line starts each slot with its start time (Unix seconds; a
//! BIND-style `YYYYMMDDHHMMSS` is read too); the records up to the next
//! header are the slot's, in RFC 1035 presentation form (parentheses and
//! comments allowed, as Knot writes them). An SKR (`;; SignedKeyResponse
//! 1.0`) slot holds the DNSKEY, CDS and CDNSKEY RRsets and their RRSIGs.
//! The `generated at` line ends the file. Directives (`$INCLUDE`,
//! `$ORIGIN`) are refused: the file comes from another machine.
use crate::keys::roll::rfc3339;
use anyhow::{bail, Context, Result};
use std::path::Path;
use tldd_zone::rdata::{CDNSKEY, CDS, DNSKEY, RRSIG};
use tldd_zone::RRset;

/// The header of a KSR slot.
pub const KSR: &str = ";; KeySigningRequest 1.0 ";
/// The header of an SKR slot.
pub const SKR: &str = ";; SignedKeyResponse 1.0 ";

/// One slot as read: its start, the line of its header, and its records
/// (type, TTL, RDATA).
#[derive(Debug, Clone)]
pub struct Chunk {
    pub at: u64,
    pub line: u32,
    pub records: Vec<(u16, u32, Vec<u8>)>,
}

/// A time in a header: Unix seconds, or `YYYYMMDDHHMMSS` (UTC).
fn header_time(tok: &str) -> Option<u64> {
    if tok.len() == 14 && tok.bytes().all(|b| b.is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| tok[r].parse::<u32>().ok();
        let d = time::Date::from_calendar_date(
            n(0..4)? as i32,
            time::Month::try_from(n(4..6)? as u8).ok()?,
            n(6..8)? as u8,
        )
        .ok()?;
        let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
        return u64::try_from(d.with_time(t).assume_utc().unix_timestamp()).ok();
    }
    tok.parse().ok()
}

/// Reads the slots of `text` (file `name`, of zone `origin`: text,
/// absolute) with headers `header`; every record must be owned by the
/// apex and of a type in `types`.
pub fn parse(
    name: &Path,
    text: &str,
    header: &str,
    origin: &str,
    types: &[u16],
) -> Result<Vec<Chunk>> {
    let at_line = |l: usize| format!("{}:{}", name.display(), l + 1);
    let mut origin_wire = Vec::new();
    tldd_zone::name::from_text(origin.as_bytes(), &[0], true, &mut origin_wire)
        .map_err(|e| anyhow::anyhow!("zone {origin}: {e}"))?;
    origin_wire.make_ascii_lowercase();
    // (start time, header line, byte range of the body).
    let mut spans: Vec<(u64, usize, usize, usize)> = Vec::new();
    let mut offset = 0;
    let mut ended = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix(header.trim_end()) {
            let tok = rest.split_whitespace().next().unwrap_or("");
            if let Some(last) = spans.last_mut() {
                last.3 = start;
            }
            if tok == "generated" {
                ended = true;
                break;
            }
            let Some(at) = header_time(tok) else {
                bail!("{}: {tok:?} is not a slot time", at_line(i));
            };
            if spans.last().is_some_and(|s| s.0 >= at) {
                bail!("{}: slot times must increase", at_line(i));
            }
            spans.push((at, i, offset, text.len()));
            continue;
        }
        if trimmed.starts_with('$') {
            bail!(
                "{}: directives are not allowed in a key signing file",
                at_line(i)
            );
        }
        if spans.is_empty() && !trimmed.is_empty() && !trimmed.starts_with(';') {
            bail!("{}: a record before the first {header:?} line", at_line(i));
        }
    }
    if spans.is_empty() {
        bail!(
            "{}: no {:?} line: not a file of this kind",
            name.display(),
            header.trim_end()
        );
    }
    if !ended {
        tracing::debug!(file = %name.display(), "no `generated at` line (a file cut short reads as fewer slots)");
    }
    let mut out = Vec::new();
    for (at, line, from, to) in spans {
        let mut records = Vec::new();
        tldd_zone::text::read_text(
            name,
            &text.as_bytes()[from..to],
            origin,
            line as u32 + 2,
            &mut |r| {
                if r.owner != origin_wire.as_slice() {
                    return Err(format!("a record not at the apex {origin}"));
                }
                if r.class != 1 {
                    return Err("class must be IN".into());
                }
                let covered = (r.rtype == RRSIG && r.rdata.len() >= 2)
                    .then(|| u16::from_be_bytes([r.rdata[0], r.rdata[1]]));
                if !types.contains(&covered.unwrap_or(r.rtype))
                    || (covered.is_some() && !types.contains(&RRSIG))
                {
                    return Err(format!(
                        "type {} is not part of a key signing file",
                        tldd_zone::rdata::type_name(r.rtype)
                    ));
                }
                records.push((r.rtype, r.ttl, r.rdata.to_vec()));
                Ok(())
            },
        )
        .with_context(|| format!("slot {at} ({})", rfc3339(at)))?;
        out.push(Chunk {
            at,
            line: line as u32 + 1,
            records,
        });
    }
    Ok(out)
}

/// The RRset of `rtype` in `chunk` with its RRSIGs (`None`: absent).
pub fn rrset(chunk: &Chunk, rtype: u16) -> Result<Option<RRset>> {
    let rds: Vec<&(u16, u32, Vec<u8>)> = chunk.records.iter().filter(|r| r.0 == rtype).collect();
    let sigs: Vec<&[u8]> = chunk
        .records
        .iter()
        .filter(|r| r.0 == RRSIG && r.2.len() >= 2 && u16::from_be_bytes([r.2[0], r.2[1]]) == rtype)
        .map(|r| r.2.as_slice())
        .collect();
    let Some(first) = rds.first() else {
        if !sigs.is_empty() {
            bail!(
                "slot {}: RRSIGs over an absent {} RRset",
                chunk.at,
                tldd_zone::rdata::type_name(rtype)
            );
        }
        return Ok(None);
    };
    if rds.iter().any(|r| r.1 != first.1) {
        bail!(
            "slot {}: the {} records differ in TTL",
            chunk.at,
            tldd_zone::rdata::type_name(rtype)
        );
    }
    let refs: Vec<&[u8]> = rds.iter().map(|r| r.2.as_slice()).collect();
    let mut set = RRset::new(rtype, first.1, &refs);
    set.set_sigs(&sigs);
    Ok(Some(set))
}

/// Appends a slot header.
pub fn push_header(out: &mut Vec<u8>, header: &str, at: u64) {
    out.extend_from_slice(format!("{header}{at} ({}) =========\n", rfc3339(at)).as_bytes());
}

/// Appends the closing line.
pub fn push_footer(out: &mut Vec<u8>, header: &str, now: u64) {
    out.extend_from_slice(
        format!(
            "{header}generated at {} by tldd {}\n",
            rfc3339(now),
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    );
}

/// The types an SKR slot carries.
pub const SKR_TYPES: [u16; 4] = [DNSKEY, CDS, CDNSKEY, RRSIG];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knot_style_multiline_and_bind_times_read() {
        let text = ";; KeySigningRequest 1.0 1796395950 (2026-12-04T14:52:30Z) =========\n\
shop.               \t3600 DNSKEY 256 3 13 (\n\t\t\t\tcUWGiG3vAYqR34ONhJsrpRlrYpIo+XkbKqItX4qE\n\
\t\t\t\teGoAx1HbNwAm6+MYR7JDOVsCQ2zz7j31xo303sgt\n\t\t\t\tgxN6vg==\n\t\t\t\t) ; ZSK\n\
;; KeySigningRequest 1.0 20270202145230 (x) =========\n\
shop. 3600 IN DNSKEY 256 3 13 cUWGiG3vAYqR34ONhJsrpRlrYpIo+XkbKqItX4qEeGoAx1HbNwAm6+MYR7JDOVsCQ2zz7j31xo303sgtgxN6vg==\n\
;; KeySigningRequest 1.0 generated at 2026-12-04T14:52:30Z by Knot DNS 3.2.6\n";
        let c = parse(Path::new("k.ksr"), text, KSR, "shop.", &[DNSKEY]).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].at, 1796395950);
        assert_eq!(c[1].at, 1801579950);
        assert_eq!(c[0].records, c[1].records);
        assert_eq!(c[0].records[0].0, DNSKEY);
    }

    #[test]
    fn foreign_owners_types_and_directives_are_refused() {
        let h = ";; KeySigningRequest 1.0 1 (x) =====\n";
        for body in [
            "other. 60 DNSKEY 256 3 13 AAAA\n",
            "shop. 60 A 192.0.2.1\n",
            "$INCLUDE /etc/passwd\n",
        ] {
            let text = format!("{h}{body}");
            assert!(
                parse(Path::new("k"), &text, KSR, "shop.", &[DNSKEY]).is_err(),
                "{body}"
            );
        }
        assert!(parse(
            Path::new("k"),
            "shop. 60 DNSKEY 256 3 13 AAAA\n",
            KSR,
            "shop.",
            &[DNSKEY]
        )
        .is_err());
        let twice = format!("{h}{h}");
        assert!(parse(Path::new("k"), &twice, KSR, "shop.", &[DNSKEY]).is_err());
    }
}
