//! Encoding a response straight into the caller's buffer.
//!
//! Hand-written on purpose (the fast path; hickory-proto's `BinEncoder`
//! needs an owned `Message`). The writer keeps a small fixed table of the
//! offsets where names (and their label suffixes) were written, seeded with
//! the echoed question, and compresses every owner name and the names inside
//! the RDATA of the RFC 1035 types (RFC 3597 §4 forbids it for newer types).
//! Nothing is allocated. Writes past `limit` fail with [`Full`] and leave the
//! buffer consistent at the last [`Mark`], so the caller can roll back a
//! whole RRset and set TC.
use tldd_zone::rdata::{self, NameAt};

/// What the OPT record of a response carries besides its header fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct OptData<'a> {
    /// NSID (RFC 5001).
    pub nsid: Option<&'a [u8]>,
    /// EDNS EXPIRE (RFC 7314).
    pub expire: Option<u32>,
    /// COOKIE (RFC 7873): the client cookie echoed and our server cookie
    /// ([`super::cookie::REPLY_LEN`] bytes).
    pub cookie: Option<&'a [u8]>,
    /// An Extended DNS Error (RFC 8914), its text at most 64 bytes.
    pub ede: Option<(u16, &'a [u8])>,
}

/// The response did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// Sections, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Answer = 0,
    Authority = 1,
    Additional = 2,
}

const MAX_PTRS: usize = 96;

/// A position to roll back to.
#[derive(Clone, Copy)]
pub struct Mark {
    pos: usize,
    counts: [u16; 3],
    ptrs: usize,
}

pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    limit: usize,
    counts: [u16; 3],
    ptrs: [u16; MAX_PTRS],
    nptrs: usize,
}

impl<'b> Writer<'b> {
    /// Starts a response: copies header and question from the query
    /// (`question` is the raw packet up to the end of the question).
    /// `limit` is the most the message may take (without the OPT reserve).
    pub fn new(buf: &'b mut [u8], question: &[u8], labels: &[u8], limit: usize) -> Writer<'b> {
        let n = question.len().min(buf.len());
        buf[..n].copy_from_slice(&question[..n]);
        let limit = limit.min(buf.len());
        let mut w = Writer {
            buf,
            pos: n,
            limit,
            counts: [0; 3],
            ptrs: [0; MAX_PTRS],
            nptrs: 0,
        };
        if question.len() > 12 {
            for &l in labels {
                w.remember(12 + l as usize);
            }
        }
        w
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(self.buf.len());
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            counts: self.counts,
            ptrs: self.nptrs,
        }
    }

    pub fn rollback(&mut self, m: Mark) {
        self.pos = m.pos;
        self.counts = m.counts;
        self.nptrs = m.ptrs;
    }

    pub fn count(&self, s: Section) -> u16 {
        self.counts[s as usize]
    }

    fn remember(&mut self, off: usize) {
        if self.nptrs < MAX_PTRS && off < 0x4000 {
            self.ptrs[self.nptrs] = off as u16;
            self.nptrs += 1;
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Full> {
        let end = self.pos + bytes.len();
        if end > self.limit {
            return Err(Full);
        }
        self.buf[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn put_u16(&mut self, v: u16) -> Result<(), Full> {
        self.put(&v.to_be_bytes())
    }

    /// True when the (possibly compressed) name at `off` equals `name`
    /// (uncompressed wire), ignoring ASCII case.
    fn same_name_at(&self, mut off: usize, name: &[u8]) -> bool {
        let mut i = 0;
        let mut hops = 0;
        loop {
            let Some(&len) = self.buf.get(off) else {
                return false;
            };
            if len & 0xc0 == 0xc0 {
                let Some(&lo) = self.buf.get(off + 1) else {
                    return false;
                };
                off = (((len & 0x3f) as usize) << 8) | lo as usize;
                hops += 1;
                if hops > 64 {
                    return false;
                }
                continue;
            }
            let Some(&nlen) = name.get(i) else {
                return false;
            };
            if nlen != len {
                return false;
            }
            if len == 0 {
                return true;
            }
            let l = len as usize;
            match (
                self.buf.get(off + 1..off + 1 + l),
                name.get(i + 1..i + 1 + l),
            ) {
                (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => {}
                _ => return false,
            }
            off += 1 + l;
            i += 1 + l;
        }
    }

    /// Writes `name` (uncompressed wire), compressing against earlier names.
    pub fn name(&mut self, name: &[u8]) -> Result<(), Full> {
        let mut i = 0;
        while i < name.len() && name[i] != 0 {
            let suffix = &name[i..];
            let hit = (0..self.nptrs)
                .map(|k| self.ptrs[k])
                .find(|&p| self.same_name_at(p as usize, suffix));
            if let Some(p) = hit {
                return self.put_u16(0xc000 | p);
            }
            let at = self.pos;
            let l = name[i] as usize;
            self.put(&name[i..i + 1 + l])?;
            self.remember(at);
            i += 1 + l;
        }
        self.put(&[0])
    }

    /// Writes one RR. RDATA names of RFC 1035 types are compressed.
    pub fn rr(
        &mut self,
        s: Section,
        owner: &[u8],
        rtype: u16,
        class: u16,
        ttl: u32,
        rd: &[u8],
    ) -> Result<(), Full> {
        self.name(owner)?;
        self.put_u16(rtype)?;
        self.put_u16(class)?;
        self.put(&ttl.to_be_bytes())?;
        let len_at = self.pos;
        self.put_u16(0)?;
        let names = rdata::compressible_names(rtype);
        if names.is_empty() {
            self.put(rd)?;
        } else {
            let mut at = 0;
            for n in names {
                let start = match n {
                    NameAt::Offset(o) => *o,
                    NameAt::AfterFirst => at,
                };
                let Some(len) = rd.get(start..).and_then(tldd_zone::name::wire_len) else {
                    // Not a valid name: copy verbatim.
                    self.put(&rd[at..])?;
                    at = rd.len();
                    break;
                };
                self.put(&rd[at..start])?;
                self.name(&rd[start..start + len])?;
                at = start + len;
            }
            self.put(&rd[at..])?;
        }
        let rdlen = (self.pos - len_at - 2) as u16;
        self.buf[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        self.counts[s as usize] += 1;
        Ok(())
    }

    /// Sets header flags and counts; returns the message length.
    pub fn finish(self, flags: u16, qdcount: u16) -> usize {
        let b = &mut *self.buf;
        b[2..4].copy_from_slice(&flags.to_be_bytes());
        b[4..6].copy_from_slice(&qdcount.to_be_bytes());
        b[6..8].copy_from_slice(&self.counts[0].to_be_bytes());
        b[8..10].copy_from_slice(&self.counts[1].to_be_bytes());
        b[10..12].copy_from_slice(&self.counts[2].to_be_bytes());
        self.pos
    }

    /// Appends the OPT record (always fits: the caller reserved its room).
    pub fn opt(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool, x: OptData<'_>) {
        let saved = self.limit;
        self.limit = self.buf.len();
        let mut rd = [0u8; 4 + 255 + 8 + 6 + 64 + 4 + super::cookie::REPLY_LEN];
        let mut rdlen = 0;
        if let Some(n) = x.nsid {
            rd[..2].copy_from_slice(&super::query::OPT_NSID.to_be_bytes());
            rd[2..4].copy_from_slice(&(n.len() as u16).to_be_bytes());
            rd[4..4 + n.len()].copy_from_slice(n);
            rdlen = 4 + n.len();
        }
        if let Some(e) = x.expire {
            rd[rdlen..rdlen + 2].copy_from_slice(&super::query::OPT_EXPIRE.to_be_bytes());
            rd[rdlen + 2..rdlen + 4].copy_from_slice(&4u16.to_be_bytes());
            rd[rdlen + 4..rdlen + 8].copy_from_slice(&e.to_be_bytes());
            rdlen += 8;
        }
        if let Some(c) = x.cookie {
            // RFC 7873 §4: client cookie and our server cookie.
            let c = &c[..c.len().min(super::cookie::REPLY_LEN)];
            rd[rdlen..rdlen + 2].copy_from_slice(&super::query::OPT_COOKIE.to_be_bytes());
            rd[rdlen + 2..rdlen + 4].copy_from_slice(&(c.len() as u16).to_be_bytes());
            rd[rdlen + 4..rdlen + 4 + c.len()].copy_from_slice(c);
            rdlen += 4 + c.len();
        }
        if let Some((code, text)) = x.ede {
            // RFC 8914: INFO-CODE and EXTRA-TEXT (short, fixed texts here).
            let text = &text[..text.len().min(64)];
            rd[rdlen..rdlen + 2].copy_from_slice(&super::ede::OPT_EDE.to_be_bytes());
            rd[rdlen + 2..rdlen + 4].copy_from_slice(&((2 + text.len()) as u16).to_be_bytes());
            rd[rdlen + 4..rdlen + 6].copy_from_slice(&code.to_be_bytes());
            rd[rdlen + 6..rdlen + 6 + text.len()].copy_from_slice(text);
            rdlen += 6 + text.len();
        }
        let ttl = ((ext_rcode as u32) << 24) | if dnssec_ok { 0x8000 } else { 0 };
        if self
            .rr(
                Section::Additional,
                &[0],
                rdata::OPT,
                udp_size,
                ttl,
                &rd[..rdlen],
            )
            .is_err()
        {
            tracing::warn!("no room for OPT");
        }
        self.limit = saved;
    }
}
