//! One resource record as the update and transfer code handles it
//! ([`Rec`]), and its conversion from hickory-proto's decoded records.
//!
//! RFC 2136 messages, AXFR/IXFR streams and journal entries all reach the
//! zone as `Rec`s: owner lower-cased wire name, class, TTL, uncompressed
//! RDATA with the case it came with.
use crate::rdata;
use hickory_proto::op::Message;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// One resource record as the update and transfer code handles it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rec {
    /// Lower-cased absolute wire name.
    pub owner: Box<[u8]>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Uncompressed RDATA (empty for the RFC 2136 "no RDATA" forms).
    pub rdata: Box<[u8]>,
}

impl Rec {
    /// A class IN record (`owner` lower-case wire).
    pub fn new_in(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Rec {
        Rec {
            owner: owner.into(),
            rtype,
            class: CLASS_IN,
            ttl,
            rdata: rdata.into(),
        }
    }
}

pub const CLASS_IN: u16 = 1;
pub const CLASS_NONE: u16 = 254;
pub const CLASS_ANY: u16 = 255;

/// Decodes a whole message with hickory-proto (UPDATE, IXFR/AXFR
/// responses, NOTIFY). A decode error is FORMERR for the caller.
pub fn decode(pkt: &[u8]) -> Result<Message, RecError> {
    Message::from_vec(pkt).map_err(|e| RecError::Message(e.to_string()))
}

/// A message or record the update and transfer code cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecError {
    /// hickory-proto could not decode the message.
    #[error("{0}")]
    Message(String),
    /// A record's RDATA would not re-encode.
    #[error("{rtype} RDATA: {reason}")]
    Rdata { rtype: String, reason: String },
}

impl From<RecError> for String {
    fn from(e: RecError) -> String {
        e.to_string()
    }
}

/// Wire form of a hickory name, lower-cased.
pub fn wire_name(name: &hickory_proto::rr::Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// Converts a decoded record: owner lower-cased, RDATA re-encoded without
/// compression and with the case it came with.
pub fn rec_from(r: &Record) -> Result<Rec, RecError> {
    let mut rd = Vec::new();
    if !matches!(r.data, hickory_proto::rr::RData::Update0(_)) {
        let mut enc = BinEncoder::new(&mut rd);
        enc.set_name_encoding(NameEncoding::Uncompressed);
        r.data.emit(&mut enc).map_err(|e| RecError::Rdata {
            rtype: r.record_type().to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(Rec {
        owner: wire_name(&r.name).into(),
        rtype: u16::from(r.record_type()),
        class: u16::from(r.dns_class),
        ttl: r.ttl,
        rdata: rd.into(),
    })
}

/// RDATA equality as RFC 2136 §1.1 asks: names inside the well-known types
/// compare case-insensitively.
pub fn rdata_eq(rtype: u16, a: &[u8], b: &[u8]) -> bool {
    match rtype {
        rdata::NS | rdata::CNAME | rdata::PTR | rdata::DNAME => a.eq_ignore_ascii_case(b),
        rdata::MX => {
            a.len() == b.len()
                && a.len() >= 2
                && a[..2] == b[..2]
                && a[2..].eq_ignore_ascii_case(&b[2..])
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdata_reencoding_is_uncompressed_and_keeps_case() {
        // An UPDATE-like message: question shop. SOA, one NS in authority
        // whose RDATA points back into the question.
        let mut p = vec![0, 1, 0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0];
        p.extend_from_slice(b"\x04shop\x00\x00\x06\x00\x01");
        p.extend_from_slice(
            b"\x03Foo\xc0\x0c\x00\x02\x00\x01\x00\x00\x0e\x10\x00\x06\x03NS1\xc0\x0c",
        );
        let m = decode(&p).unwrap();
        let r = rec_from(&m.authorities[0]).unwrap();
        assert_eq!(&*r.owner, b"\x03foo\x04shop\x00");
        assert_eq!(&*r.rdata, b"\x03NS1\x04shop\x00");
        assert_eq!(r.ttl, 3600);
    }
}
