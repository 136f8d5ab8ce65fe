//! One RRset with its signatures, packed in two allocations: the unit the
//! zone version, the NSEC3 chain, the signer and the answer builder share.

/// An RRset: type, TTL and the RDATAs packed as `[len u16][rdata]...` in
/// one allocation; RRSIG RDATAs covering it likewise in `sigs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RRset {
    pub rtype: u16,
    pub ttl: u32,
    data: Box<[u8]>,
    sigs: Box<[u8]>,
}

impl RRset {
    /// Builds an RRset from RDATAs, dropping duplicates (RFC 2181 §5).
    pub fn new(rtype: u16, ttl: u32, rdatas: &[&[u8]]) -> RRset {
        let mut data = Vec::new();
        let mut seen: Vec<&[u8]> = Vec::with_capacity(rdatas.len());
        for rd in rdatas {
            if seen.contains(rd) {
                continue;
            }
            seen.push(rd);
            data.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            data.extend_from_slice(rd);
        }
        RRset {
            rtype,
            ttl,
            data: data.into(),
            sigs: Box::default(),
        }
    }

    /// The RDATAs.
    pub fn rdatas(&self) -> Packed<'_> {
        Packed(&self.data)
    }

    /// RRSIG RDATAs covering this RRset.
    pub fn sigs(&self) -> Packed<'_> {
        Packed(&self.sigs)
    }

    /// Replaces the signatures.
    pub fn set_sigs(&mut self, sigs: &[&[u8]]) {
        let mut v = Vec::new();
        for s in sigs {
            v.extend_from_slice(&(s.len() as u16).to_be_bytes());
            v.extend_from_slice(s);
        }
        self.sigs = v.into();
    }

    pub fn len(&self) -> usize {
        self.rdatas().count()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// A copy with `rd` added (no-op if present).
    pub fn with(&self, rd: &[u8]) -> RRset {
        let mut all: Vec<&[u8]> = self.rdatas().collect();
        all.push(rd);
        RRset::new(self.rtype, self.ttl, &all)
    }

    /// A copy without `rd`.
    pub fn without(&self, rd: &[u8]) -> RRset {
        let all: Vec<&[u8]> = self.rdatas().filter(|r| *r != rd).collect();
        RRset::new(self.rtype, self.ttl, &all)
    }
}

/// Iterator over `[len u16][bytes]` packed records.
#[derive(Clone, Copy)]
pub struct Packed<'a>(&'a [u8]);

impl<'a> Iterator for Packed<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.len() < 2 {
            return None;
        }
        let len = u16::from_be_bytes([self.0[0], self.0[1]]) as usize;
        let (rd, rest) = self.0[2..].split_at(len.min(self.0.len() - 2));
        self.0 = rest;
        Some(rd)
    }
}
