//! RRSIG wire form and the signature input (RFC 4034 §3.1.8.1, §6).
//!
//! Input = RRSIG RDATA without the signature (signer name in canonical
//! form) followed by every RR of the set in canonical form (lower-case owner,
//! class IN, the original TTL, RDATA with the names of the RFC 4034 §6.2
//! types lower-cased, as amended by RFC 6840 §5.1), the RRs sorted by their
//! canonical RDATA as unsigned octet strings.
//!
//! Everything writes into caller-owned buffers ([`Scratch`]) so a signing
//! worker allocates nothing per RRset but the signature itself.
use tldd_zone::name;
use tldd_zone::rdata::{CNAME, DNAME, MX, NS, PTR, SOA, SRV};
use tldd_zone::version::Packed;

/// Reusable buffers of one signing worker.
#[derive(Default)]
pub struct Scratch {
    pub(crate) canon: Vec<u8>,
    pub(crate) spans: Vec<(u32, u32)>,
    pub(crate) input: Vec<u8>,
}

/// Where names sit in RDATA, for canonical lower-casing.
fn name_fields(rtype: u16) -> &'static [Field] {
    use Field::*;
    match rtype {
        NS | CNAME | PTR | DNAME | 3 | 4 | 7 | 8 | 9 => &[Name],
        MX | 18 | 21 | 36 => &[Skip(2), Name],
        SOA | 14 | 17 => &[Name, Name],
        SRV => &[Skip(6), Name],
        26 => &[Skip(2), Name, Name],
        35 => &[Skip(4), Str, Str, Str, Name],
        _ => &[],
    }
}

#[derive(Clone, Copy)]
enum Field {
    Skip(usize),
    Name,
    Str,
}

/// Appends the canonical form of `rd` (type `rtype`).
pub fn canonical_rdata(rtype: u16, rd: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(rd);
    let fields = name_fields(rtype);
    if fields.is_empty() {
        return;
    }
    let buf = &mut out[start..];
    let mut at = 0;
    for f in fields {
        match *f {
            Field::Skip(n) => at += n,
            Field::Str => at += 1 + *buf.get(at).unwrap_or(&0) as usize,
            Field::Name => {
                let Some(len) = buf.get(at..).and_then(name::wire_len) else {
                    return;
                };
                buf[at..at + len].make_ascii_lowercase();
                at += len;
            }
        }
        if at > buf.len() {
            return;
        }
    }
}

/// Number of labels for the RRSIG Labels field (a leading `*` not counted).
pub fn rrsig_labels(owner: &[u8]) -> u8 {
    let n = name::label_count(owner) as u8;
    if owner.starts_with(b"\x01*") {
        n - 1
    } else {
        n
    }
}

/// The fixed fields of one RRSIG.
#[derive(Clone, Copy, Debug)]
pub struct RrsigFields<'a> {
    pub covered: u16,
    pub algorithm: u8,
    pub labels: u8,
    pub original_ttl: u32,
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    /// Signer name, wire.
    pub signer: &'a [u8],
}

impl<'a> RrsigFields<'a> {
    /// Appends the RDATA without the signature (signer name lower-cased).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.covered.to_be_bytes());
        out.push(self.algorithm);
        out.push(self.labels);
        out.extend_from_slice(&self.original_ttl.to_be_bytes());
        out.extend_from_slice(&self.expiration.to_be_bytes());
        out.extend_from_slice(&self.inception.to_be_bytes());
        out.extend_from_slice(&self.key_tag.to_be_bytes());
        let at = out.len();
        out.extend_from_slice(self.signer);
        out[at..].make_ascii_lowercase();
    }

    /// Splits RRSIG RDATA into its fields and the signature.
    pub fn parse(rd: &'a [u8]) -> Option<(RrsigFields<'a>, &'a [u8])> {
        if rd.len() < 19 {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([rd[i], rd[i + 1], rd[i + 2], rd[i + 3]]);
        let nlen = name::wire_len(&rd[18..])?;
        Some((
            RrsigFields {
                covered: u16::from_be_bytes([rd[0], rd[1]]),
                algorithm: rd[2],
                labels: rd[3],
                original_ttl: u32_at(4),
                expiration: u32_at(8),
                inception: u32_at(12),
                key_tag: u16::from_be_bytes([rd[16], rd[17]]),
                signer: &rd[18..18 + nlen],
            },
            &rd[18 + nlen..],
        ))
    }
}

/// Appends the canonical RRset (RFC 4034 §6.3 order) to `out`.
/// `owner` must be lower-case wire.
pub fn append_canonical_rrset(
    out: &mut Vec<u8>,
    owner: &[u8],
    rtype: u16,
    ttl: u32,
    rdatas: Packed<'_>,
    sc_canon: &mut Vec<u8>,
    sc_spans: &mut Vec<(u32, u32)>,
) {
    sc_canon.clear();
    sc_spans.clear();
    for rd in rdatas {
        let s = sc_canon.len() as u32;
        canonical_rdata(rtype, rd, sc_canon);
        sc_spans.push((s, sc_canon.len() as u32));
    }
    if sc_spans.len() > 1 {
        let c = &*sc_canon;
        sc_spans.sort_unstable_by(|a, b| {
            c[a.0 as usize..a.1 as usize].cmp(&c[b.0 as usize..b.1 as usize])
        });
        sc_spans.dedup_by(|a, b| c[a.0 as usize..a.1 as usize] == c[b.0 as usize..b.1 as usize]);
    }
    for &(s, e) in sc_spans.iter() {
        out.extend_from_slice(owner);
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&((e - s) as u16).to_be_bytes());
        out.extend_from_slice(&sc_canon[s as usize..e as usize]);
    }
}

/// The complete signature input for an RRSIG (`fields`) over an RRset.
pub fn signature_input(
    fields: &RrsigFields<'_>,
    owner: &[u8],
    rtype: u16,
    rdatas: Packed<'_>,
    sc: &mut Scratch,
) {
    sc.input.clear();
    fields.write(&mut sc.input);
    append_canonical_rrset(
        &mut sc.input,
        owner,
        rtype,
        fields.original_ttl,
        rdatas,
        &mut sc.canon,
        &mut sc.spans,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_lowercases_names_only() {
        let mut out = Vec::new();
        canonical_rdata(MX, b"\x00\x0a\x04MAIL\x04Shop\x00", &mut out);
        assert_eq!(out, b"\x00\x0a\x04mail\x04shop\x00");
        out.clear();
        canonical_rdata(16, b"\x03ABC", &mut out);
        assert_eq!(out, b"\x03ABC");
    }

    #[test]
    fn labels_field() {
        assert_eq!(rrsig_labels(b"\x01a\x04shop\x00"), 2);
        assert_eq!(rrsig_labels(b"\x01*\x04shop\x00"), 1);
        assert_eq!(rrsig_labels(b"\x00"), 0);
    }
}
