//! Parsing a query: header, the one question, and the OPT record.
//!
//! Hand-written on purpose (the fast path): hickory-proto's `Message::from_vec`
//! decodes every record into owned types, which costs more than the whole
//! answer. This parser touches only what an authoritative answer needs, never
//! allocates, lower-cases the query name into a fixed buffer as it goes, and
//! rejects anything malformed with a precise reason (mapped to FORMERR by the
//! caller). It never panics on any input: every read is bounds-checked.
use tldd_zone::rdata::{OPT, TSIG};

/// EDNS option code of NSID (RFC 5001).
pub const OPT_NSID: u16 = 3;
/// EDNS option code of EXPIRE (RFC 7314).
pub const OPT_EXPIRE: u16 = 9;
/// EDNS option code of COOKIE (RFC 7873).
pub const OPT_COOKIE: u16 = 10;

/// Where the query's (first) COOKIE option is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CookieOpt {
    #[default]
    None,
    /// Its length is not 8 or 16 to 40 (RFC 7873 §5.2.2: FORMERR).
    Malformed,
    /// Its data is `packet[at..at + len]`.
    At { at: u16, len: u8 },
}

/// What was in the OPT record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    pub nsid: bool,
    /// The query asked for the zone's remaining time (RFC 7314).
    pub expire: bool,
    /// The COOKIE option (RFC 7873), if any.
    pub cookie: CookieOpt,
}

/// A parsed query. Borrowing nothing: the raw question is at
/// `packet[12..question_end]`.
pub struct Query {
    pub id: u16,
    pub opcode: u8,
    /// Header flags word as received.
    pub flags: u16,
    /// Lower-cased query name, wire form.
    pub qname: [u8; 256],
    pub qname_len: usize,
    /// Offsets of the label starts in `qname` (root excluded).
    pub labels: [u8; 128],
    pub label_count: usize,
    pub qtype: u16,
    pub qclass: u16,
    /// End of the question section in the packet.
    pub question_end: usize,
    pub edns: Option<Edns>,
    /// Offset of a TSIG record in the packet (it must be last).
    pub tsig_at: Option<usize>,
}

impl Query {
    pub fn name(&self) -> &[u8] {
        &self.qname[..self.qname_len]
    }
    pub fn recursion_desired(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    pub fn checking_disabled(&self) -> bool {
        self.flags & 0x0010 != 0
    }
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }
}

/// Why a packet cannot be answered normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Too short for a header, or a response: no answer at all.
    Drop,
    /// Malformed: FORMERR. `question` says whether the question parsed and
    /// may be echoed.
    FormErr {
        question: bool,
        reason: &'static str,
    },
    /// An opcode we do not implement.
    NotImp,
}

/// Parses `pkt` into `q` (reused across queries to keep the buffer warm).
pub fn parse(pkt: &[u8], q: &mut Query) -> Result<(), Reject> {
    if pkt.len() < 12 {
        return Err(Reject::Drop);
    }
    q.id = u16::from_be_bytes([pkt[0], pkt[1]]);
    q.flags = u16::from_be_bytes([pkt[2], pkt[3]]);
    if q.flags & 0x8000 != 0 {
        return Err(Reject::Drop);
    }
    q.opcode = ((q.flags >> 11) & 0xf) as u8;
    q.edns = None;
    q.tsig_at = None;
    q.qname_len = 0;
    q.label_count = 0;
    // No question until one parsed (the buffer is reused across queries:
    // an error reply must never echo a previous query's question).
    q.question_end = 12;
    let qd = u16::from_be_bytes([pkt[4], pkt[5]]);
    let an = u16::from_be_bytes([pkt[6], pkt[7]]);
    let ns = u16::from_be_bytes([pkt[8], pkt[9]]);
    let ar = u16::from_be_bytes([pkt[10], pkt[11]]);
    if qd != 1 {
        if q.opcode != 0 && q.opcode != 4 && q.opcode != 5 {
            return Err(Reject::NotImp);
        }
        return Err(Reject::FormErr {
            question: false,
            reason: "QDCOUNT is not 1",
        });
    }
    let mut pos = 12;
    let bad_q = |reason| Reject::FormErr {
        question: false,
        reason,
    };
    // Question name: no compression allowed this early.
    loop {
        let len = *pkt.get(pos).ok_or(bad_q("truncated question"))? as usize;
        if len & 0xc0 != 0 {
            return Err(bad_q("compressed or bad label in question"));
        }
        // Room for this label and the root label that must follow.
        if q.qname_len + 1 + len + usize::from(len != 0) > 255 {
            return Err(bad_q("question name too long"));
        }
        if len == 0 {
            q.qname[q.qname_len] = 0;
            q.qname_len += 1;
            pos += 1;
            break;
        }
        let label = pkt
            .get(pos + 1..pos + 1 + len)
            .ok_or(bad_q("truncated question"))?;
        q.labels[q.label_count] = q.qname_len as u8;
        q.label_count += 1;
        q.qname[q.qname_len] = len as u8;
        for (d, s) in q.qname[q.qname_len + 1..q.qname_len + 1 + len]
            .iter_mut()
            .zip(label)
        {
            *d = s.to_ascii_lowercase();
        }
        q.qname_len += 1 + len;
        pos += 1 + len;
    }
    let tc = pkt.get(pos..pos + 4).ok_or(bad_q("truncated question"))?;
    q.qtype = u16::from_be_bytes([tc[0], tc[1]]);
    q.qclass = u16::from_be_bytes([tc[2], tc[3]]);
    pos += 4;
    q.question_end = pos;
    if q.opcode != 0 && q.opcode != 4 && q.opcode != 5 {
        return Err(Reject::NotImp);
    }
    let bad = |reason| Reject::FormErr {
        question: true,
        reason,
    };
    // UPDATE and NOTIFY carry records in the answer/authority sections; a
    // QUERY should not, but tolerating them (skipping) is what peers do.
    for _ in 0..(an as usize + ns as usize) {
        pos = skip_rr(pkt, pos).ok_or(bad("malformed record"))?.0;
    }
    for i in 0..ar {
        let start = pos;
        let (end, rtype, owner_root) =
            skip_rr(pkt, pos).ok_or(bad("malformed additional record"))?;
        match rtype {
            OPT => {
                if q.edns.is_some() {
                    return Err(bad("more than one OPT record"));
                }
                if !owner_root {
                    return Err(bad("OPT owner is not the root"));
                }
                let e = parse_opt(pkt, start + 1, end).ok_or(bad("malformed OPT options"))?;
                if e.cookie == CookieOpt::Malformed {
                    return Err(bad("malformed COOKIE option"));
                }
                q.edns = Some(e);
            }
            TSIG => {
                if i + 1 != ar {
                    return Err(bad("TSIG is not the last record"));
                }
                q.tsig_at = Some(start);
            }
            _ => {}
        }
        pos = end;
    }
    if pos != pkt.len() {
        return Err(bad("trailing bytes after the last record"));
    }
    Ok(())
}

/// Skips one RR at `pos`; returns (end, type, owner is root).
fn skip_rr(pkt: &[u8], pos: usize) -> Option<(usize, u16, bool)> {
    let owner_root = *pkt.get(pos)? == 0;
    let pos = skip_name(pkt, pos)?;
    let f = pkt.get(pos..pos + 10)?;
    let rtype = u16::from_be_bytes([f[0], f[1]]);
    let rdlen = u16::from_be_bytes([f[8], f[9]]) as usize;
    let end = pos + 10 + rdlen;
    if end > pkt.len() {
        return None;
    }
    Some((end, rtype, owner_root))
}

/// Parses the OPT record `pkt[start..end]`, from its TYPE field on (the
/// owner byte already skipped).
fn parse_opt(pkt: &[u8], start: usize, end: usize) -> Option<Edns> {
    let rr = &pkt[start..end];
    let udp_size = u16::from_be_bytes([*rr.get(2)?, *rr.get(3)?]);
    let version = *rr.get(5)?;
    let dnssec_ok = rr.get(6)? & 0x80 != 0;
    let rdlen = u16::from_be_bytes([*rr.get(8)?, *rr.get(9)?]) as usize;
    let mut opts = rr.get(10..10 + rdlen)?;
    let mut nsid = false;
    let mut expire = false;
    let mut cookie = CookieOpt::None;
    while !opts.is_empty() {
        if opts.len() < 4 {
            return None;
        }
        let code = u16::from_be_bytes([opts[0], opts[1]]);
        let len = u16::from_be_bytes([opts[2], opts[3]]) as usize;
        if opts.len() < 4 + len {
            return None;
        }
        match code {
            OPT_NSID => nsid = true,
            // A query's EXPIRE option is empty (RFC 7314 §2).
            OPT_EXPIRE => expire = true,
            // Only the first COOKIE counts.
            OPT_COOKIE if cookie == CookieOpt::None => {
                cookie = if len == 8 || (16..=40).contains(&len) {
                    // The option data's offset in the packet (< 64 KiB).
                    let at = end - opts.len() + 4;
                    CookieOpt::At {
                        at: at as u16,
                        len: len as u8,
                    }
                } else {
                    CookieOpt::Malformed
                };
            }
            _ => {}
        }
        opts = &opts[4 + len..];
    }
    Some(Edns {
        udp_size,
        version,
        dnssec_ok,
        nsid,
        expire,
        cookie,
    })
}

/// The OPT of a message that [`parse`] refused (FORMERR, NOTIMP), so the
/// error reply can carry OPT as RFC 6891 §7 asks: found by walking every
/// section by its counts. `None` when there is no OPT, more than one, one
/// not owned by the root, or when the message does not walk cleanly to its
/// end (then nothing in it can be trusted, and the reply goes without OPT
/// as Knot's does).
pub fn scan_edns(pkt: &[u8]) -> Option<Edns> {
    let count = |i: usize| u16::from_be_bytes([pkt[i], pkt[i + 1]]) as usize;
    if pkt.len() < 12 {
        return None;
    }
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(pkt, pos)? + 4;
    }
    for _ in 0..an + ns {
        pos = skip_rr(pkt, pos)?.0;
    }
    let mut edns = None;
    for _ in 0..ar {
        let start = pos;
        let (end, rtype, owner_root) = skip_rr(pkt, pos)?;
        if rtype == OPT {
            if edns.is_some() || !owner_root {
                return None;
            }
            edns = Some(parse_opt(pkt, start + 1, end)?);
        }
        pos = end;
    }
    (pos == pkt.len()).then_some(edns).flatten()
}

/// Skips a (possibly compressed) name at `pos`; returns the end.
fn skip_name(pkt: &[u8], mut pos: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *pkt.get(pos)? as usize;
        match len & 0xc0 {
            0 if len == 0 => return Some(pos + 1),
            0 => pos += 1 + len,
            0xc0 => return pkt.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
    None
}

impl Default for Query {
    fn default() -> Self {
        Query {
            id: 0,
            opcode: 0,
            flags: 0,
            qname: [0; 256],
            qname_len: 0,
            labels: [0; 128],
            label_count: 0,
            qtype: 0,
            qclass: 0,
            question_end: 0,
            edns: None,
            tsig_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, opt: Option<&[u8]>) -> Vec<u8> {
        let mut p = vec![
            0x12,
            0x34,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            opt.is_some() as u8,
        ];
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        if let Some(o) = opt {
            p.extend_from_slice(o);
        }
        p
    }

    #[test]
    fn parses_question_and_opt() {
        let opt = [0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0];
        let p = query(b"\x03WwW\x04Shop\x00", 1, Some(&opt));
        let mut q = Query::default();
        parse(&p, &mut q).unwrap();
        assert_eq!(q.name(), b"\x03www\x04shop\x00");
        assert_eq!(q.label_count, 2);
        let e = q.edns.unwrap();
        assert!(e.dnssec_ok && e.nsid);
        assert_eq!(e.udp_size, 4096);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        let mut q = Query::default();
        assert_eq!(parse(&[0; 5], &mut q), Err(Reject::Drop));
        let mut p = query(b"\x03www\x00", 1, None);
        p.push(0);
        assert!(matches!(parse(&p, &mut q), Err(Reject::FormErr { .. })));
        let p = query(b"\xc0\x0c", 1, None);
        assert!(matches!(
            parse(&p, &mut q),
            Err(Reject::FormErr {
                question: false,
                ..
            })
        ));
        for n in 0..200u32 {
            let mut p = query(
                b"\x03www\x04shop\x00",
                1,
                Some(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 4, 0, 3, 0, 0]),
            );
            let i = (n as usize * 7) % p.len();
            p[i] = p[i].wrapping_add(n as u8 | 1);
            p.truncate(p.len() - (n as usize % 5));
            let _ = parse(&p, &mut q);
        }
    }
}
