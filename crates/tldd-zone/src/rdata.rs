//! RDATA: presentation form to wire, and the few structural facts the
//! server needs (which RDATA contain compressible names, SOA fields).
//!
//! Type mnemonics come from hickory-proto's `RecordType`; the text-to-wire
//! conversion of each type is ours because it feeds the streaming zone
//! reader (see `text.rs` for why).
use super::name;
use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER_PERMISSIVE};
use hickory_proto::rr::RecordType;
use std::str::FromStr;

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const CNAME: u16 = 5;
pub const SOA: u16 = 6;
pub const PTR: u16 = 12;
pub const HINFO: u16 = 13;
pub const MX: u16 = 15;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;
pub const SRV: u16 = 33;
pub const DNAME: u16 = 39;
pub const OPT: u16 = 41;
pub const DS: u16 = 43;
pub const RRSIG: u16 = 46;
pub const NSEC: u16 = 47;
pub const DNSKEY: u16 = 48;
pub const NSEC3: u16 = 50;
pub const NSEC3PARAM: u16 = 51;
/// RFC 7344 child DS.
pub const CDS: u16 = 59;
/// RFC 7344 child DNSKEY.
pub const CDNSKEY: u16 = 60;
pub const TSIG: u16 = 250;
pub const IXFR: u16 = 251;
pub const AXFR: u16 = 252;
pub const ANY: u16 = 255;

/// Type number from a mnemonic or `TYPEnnn`.
pub fn parse_type(s: &[u8]) -> Option<u16> {
    // The types a TLD zone is made of, without an allocation per record.
    let common = [
        (&b"NS"[..], NS),
        (b"DS", DS),
        (b"A", A),
        (b"AAAA", AAAA),
        (b"RRSIG", RRSIG),
        (b"NSEC3", NSEC3),
    ];
    if let Some(&(_, t)) = common.iter().find(|(m, _)| m.eq_ignore_ascii_case(s)) {
        return Some(t);
    }
    let s = std::str::from_utf8(s).ok()?;
    let up = s.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    match RecordType::from_str(&up) {
        Ok(RecordType::Unknown(_)) | Err(_) => None,
        Ok(t) => Some(u16::from(t)),
    }
}

/// Mnemonic (or `TYPEnnn`).
pub fn type_name(t: u16) -> String {
    match RecordType::from(t) {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        r => r.to_string(),
    }
}

/// Name-bearing RDATA that RFC 3597 §4 lets a server compress.
pub fn compressible_names(rtype: u16) -> &'static [NameAt] {
    match rtype {
        NS | CNAME | PTR | DNAME => &[NameAt::Offset(0)],
        MX => &[NameAt::Offset(2)],
        SOA => &[NameAt::Offset(0), NameAt::AfterFirst],
        _ => &[],
    }
}

/// Where a name lies in RDATA.
#[derive(Clone, Copy)]
pub enum NameAt {
    Offset(usize),
    /// Right after the first name (SOA RNAME).
    AfterFirst,
}

/// SOA MINIMUM field.
pub fn soa_minimum(rd: &[u8]) -> Option<u32> {
    soa_u32(rd, 4)
}

/// SOA EXPIRE field.
pub fn soa_expire(rd: &[u8]) -> Option<u32> {
    soa_u32(rd, 3)
}

/// SOA SERIAL field.
pub fn soa_serial(rd: &[u8]) -> Option<u32> {
    soa_u32(rd, 0)
}

/// The i-th 32-bit field after MNAME and RNAME (0 = serial).
fn soa_u32(rd: &[u8], i: usize) -> Option<u32> {
    let m = name::wire_len(rd)?;
    let r = name::wire_len(&rd[m..])?;
    let at = m + r + 4 * i;
    Some(u32::from_be_bytes(rd.get(at..at + 4)?.try_into().ok()?))
}

/// Target names of NS/MX/SRV RDATA, for additional-section processing.
pub fn target_name(rtype: u16, rd: &[u8]) -> Option<&[u8]> {
    let off = match rtype {
        NS => 0,
        MX => 2,
        SRV => 6,
        _ => return None,
    };
    let rest = rd.get(off..)?;
    Some(&rest[..name::wire_len(rest)?])
}

/// Why presentation RDATA does not convert (the zone reader adds the line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    #[error("missing RDATA field")]
    Missing,
    #[error("not UTF-8")]
    NotUtf8,
    #[error("bad number {0:?}")]
    Number(String),
    /// A field that does not parse: what it should have been.
    #[error("{0}")]
    Field(&'static str),
    #[error("name {name:?}: {reason}")]
    Name { name: String, reason: String },
    #[error("bad time {0:?}")]
    Time(String),
    #[error("bad SOA timer {0:?}")]
    SoaTimer(String),
    #[error("unknown type {0:?}")]
    UnknownType(String),
    #[error(
        "type {0} is not supported in presentation form; write it as RFC 3597 `\\# <len> <hex>`"
    )]
    Unsupported(String),
    #[error("trailing data {0:?}")]
    Trailing(String),
    #[error("\\# length {len} but {got} bytes of data")]
    GenericLength { len: usize, got: usize },
}

/// Appends the wire RDATA of `rtype` given its presentation tokens.
pub fn from_text(
    rtype: u16,
    args: &[&[u8]],
    origin: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let mut p = Args { args, i: 0, origin };
    if args.first() == Some(&&b"\\#"[..]) {
        return p.generic(out);
    }
    match rtype {
        A => {
            let a: std::net::Ipv4Addr = p
                .str()?
                .parse()
                .map_err(|_| RdataError::Field("bad IPv4 address"))?;
            out.extend_from_slice(&a.octets());
        }
        AAAA => {
            let a: std::net::Ipv6Addr = p
                .str()?
                .parse()
                .map_err(|_| RdataError::Field("bad IPv6 address"))?;
            out.extend_from_slice(&a.octets());
        }
        NS | CNAME | PTR | DNAME => p.name(out)?,
        MX => {
            p.u16(out)?;
            p.name(out)?
        }
        SRV => {
            p.u16(out)?;
            p.u16(out)?;
            p.u16(out)?;
            p.name(out)?
        }
        SOA => {
            p.name(out)?;
            p.name(out)?;
            p.u32(out)?;
            for _ in 0..4 {
                let t = p.next()?;
                let v = parse_ttl(t).ok_or_else(|| RdataError::SoaTimer(lossy(t)))?;
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        TXT | 99 => {
            if args.is_empty() {
                return Err(RdataError::Field("TXT needs at least one string"));
            }
            while p.i < args.len() {
                p.char_string(out)?;
            }
        }
        HINFO => {
            p.char_string(out)?;
            p.char_string(out)?
        }
        257 => {
            // CAA: flags tag value
            p.u8(out)?;
            let tag = p.next()?;
            if tag.is_empty() || tag.len() > 255 {
                return Err(RdataError::Field("bad CAA tag"));
            }
            out.push(tag.len() as u8);
            out.extend_from_slice(tag);
            let v = p.next()?;
            unescape_into(v, out)?;
        }
        DS | 59 | 32769 => {
            p.u16(out)?;
            p.u8_or_mnemonic(out)?;
            p.u8(out)?;
            p.hex_rest(out)?
        }
        DNSKEY | 60 => {
            p.u16(out)?;
            p.u8(out)?;
            p.u8_or_mnemonic(out)?;
            p.base64_rest(out)?
        }
        RRSIG => {
            let t = p.next()?;
            let covered = parse_type(t).ok_or_else(|| RdataError::UnknownType(lossy(t)))?;
            out.extend_from_slice(&covered.to_be_bytes());
            p.u8_or_mnemonic(out)?;
            p.u8(out)?;
            p.u32(out)?;
            p.time(out)?;
            p.time(out)?;
            p.u16(out)?;
            p.name(out)?;
            p.base64_rest(out)?
        }
        NSEC => {
            p.name(out)?;
            p.bitmap(out)?
        }
        NSEC3 => {
            p.u8(out)?;
            p.u8(out)?;
            p.u16(out)?;
            p.salt(out)?;
            let h = p.next()?;
            let hash = BASE32HEX_NOPAD
                .decode(&h.to_ascii_uppercase())
                .map_err(|_| RdataError::Field("bad base32hex next hashed owner"))?;
            out.push(hash.len() as u8);
            out.extend_from_slice(&hash);
            p.bitmap(out)?
        }
        NSEC3PARAM => {
            p.u8(out)?;
            p.u8(out)?;
            p.u16(out)?;
            p.salt(out)?
        }
        44 => {
            // SSHFP
            p.u8(out)?;
            p.u8(out)?;
            p.hex_rest(out)?
        }
        52 | 53 => {
            // TLSA, SMIMEA
            p.u8(out)?;
            p.u8(out)?;
            p.u8(out)?;
            p.hex_rest(out)?
        }
        63 => {
            // ZONEMD
            p.u32(out)?;
            p.u8(out)?;
            p.u8(out)?;
            p.hex_rest(out)?
        }
        _ => return Err(RdataError::Unsupported(type_name(rtype))),
    }
    if p.i < args.len() {
        return Err(RdataError::Trailing(lossy(args[p.i])));
    }
    if out.len() > 65535 {
        return Err(RdataError::Field("RDATA longer than 65535 bytes"));
    }
    Ok(())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn unescape_into(s: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' {
            let (b, used) = name::unescape(&s[i + 1..]).ok_or(RdataError::Field("bad escape"))?;
            out.push(b);
            i += 1 + used;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Ok(())
}

struct Args<'a> {
    args: &'a [&'a [u8]],
    i: usize,
    origin: &'a [u8],
}

impl<'a> Args<'a> {
    fn next(&mut self) -> Result<&'a [u8], RdataError> {
        let t = self.args.get(self.i).ok_or(RdataError::Missing)?;
        self.i += 1;
        Ok(t)
    }
    fn str(&mut self) -> Result<&'a str, RdataError> {
        std::str::from_utf8(self.next()?).map_err(|_| RdataError::NotUtf8)
    }
    fn num<T: FromStr>(&mut self) -> Result<T, RdataError> {
        let s = self.str()?;
        s.parse().map_err(|_| RdataError::Number(s.to_string()))
    }
    fn u8(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        out.push(self.num::<u8>()?);
        Ok(())
    }
    /// Algorithm fields may be written as mnemonics in some zones.
    fn u8_or_mnemonic(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let s = self.str()?;
        let v = match s.to_ascii_uppercase().as_str() {
            "RSASHA1" => 5,
            "RSASHA256" => 8,
            "RSASHA512" => 10,
            "ECDSAP256SHA256" => 13,
            "ECDSAP384SHA384" => 14,
            "ED25519" => 15,
            "ED448" => 16,
            _ => s.parse().map_err(|_| RdataError::Number(s.to_string()))?,
        };
        out.push(v);
        Ok(())
    }
    fn u16(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        out.extend_from_slice(&self.num::<u16>()?.to_be_bytes());
        Ok(())
    }
    fn u32(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        out.extend_from_slice(&self.num::<u32>()?.to_be_bytes());
        Ok(())
    }
    fn name(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let t = self.next()?;
        name::from_text(t, self.origin, false, out).map_err(|e| RdataError::Name {
            name: lossy(t),
            reason: e.to_string(),
        })
    }
    fn char_string(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let t = self.next()?;
        let at = out.len();
        out.push(0);
        unescape_into(t, out)?;
        let len = out.len() - at - 1;
        if len > 255 {
            return Err(RdataError::Field("character string longer than 255 bytes"));
        }
        out[at] = len as u8;
        Ok(())
    }
    fn time(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let s = self.str()?;
        let v: u32 = if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
            let f = |a: usize, b: usize| s[a..b].parse::<u32>().unwrap_or(0);
            let date = time::Date::from_calendar_date(
                f(0, 4) as i32,
                time::Month::try_from(f(4, 6) as u8).map_err(|_| RdataError::Field("bad month"))?,
                f(6, 8) as u8,
            )
            .map_err(|_| RdataError::Field("bad date"))?;
            let t = time::Time::from_hms(f(8, 10) as u8, f(10, 12) as u8, f(12, 14) as u8)
                .map_err(|_| RdataError::Field("bad time"))?;
            time::PrimitiveDateTime::new(date, t)
                .assume_utc()
                .unix_timestamp() as u32
        } else {
            s.parse().map_err(|_| RdataError::Time(s.to_string()))?
        };
        out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }
    fn rest(&mut self) -> Vec<u8> {
        let mut joined = Vec::new();
        while self.i < self.args.len() {
            joined.extend_from_slice(self.args[self.i]);
            self.i += 1;
        }
        joined
    }
    fn hex_rest(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let r = self.rest();
        out.extend(
            HEXUPPER_PERMISSIVE
                .decode(&r)
                .map_err(|_| RdataError::Field("bad hex"))?,
        );
        Ok(())
    }
    fn base64_rest(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let r = self.rest();
        out.extend(
            BASE64
                .decode(&r)
                .map_err(|_| RdataError::Field("bad base64"))?,
        );
        Ok(())
    }
    fn salt(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let t = self.next()?;
        if t == b"-" {
            out.push(0);
        } else {
            let s = HEXUPPER_PERMISSIVE
                .decode(t)
                .map_err(|_| RdataError::Field("bad salt"))?;
            out.push(s.len() as u8);
            out.extend(s);
        }
        Ok(())
    }
    fn bitmap(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let mut types = Vec::new();
        while self.i < self.args.len() {
            let t = self.next()?;
            types.push(parse_type(t).ok_or_else(|| RdataError::UnknownType(lossy(t)))?);
        }
        write_type_bitmap(&mut types, out);
        Ok(())
    }
    fn generic(&mut self, out: &mut Vec<u8>) -> Result<(), RdataError> {
        self.next()?;
        let len: usize = self.num()?;
        let r = self.rest();
        let bytes = HEXUPPER_PERMISSIVE
            .decode(&r)
            .map_err(|_| RdataError::Field("bad hex in \\# RDATA"))?;
        if bytes.len() != len {
            return Err(RdataError::GenericLength {
                len,
                got: bytes.len(),
            });
        }
        out.extend(bytes);
        Ok(())
    }
}

/// RFC 4034 §4.1.2 type bitmap.
pub fn write_type_bitmap(types: &mut [u16], out: &mut Vec<u8>) {
    types.sort_unstable();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut max = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            max = max.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(max as u8);
        out.extend_from_slice(&bits[..max]);
    }
}

/// A TTL: seconds, or BIND units (`1w2d3h4m5s`).
pub fn parse_ttl(s: &[u8]) -> Option<u32> {
    if s.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(s).ok()?.parse::<u32>().ok();
    }
    let mut total: u64 = 0;
    let mut num: u64 = 0;
    let mut have = false;
    for &c in s {
        if c.is_ascii_digit() {
            num = num.checked_mul(10)? + (c - b'0') as u64;
            have = true;
        } else {
            let mul = match c.to_ascii_lowercase() {
                b'w' => 604800,
                b'd' => 86400,
                b'h' => 3600,
                b'm' => 60,
                b's' => 1,
                _ => return None,
            };
            if !have {
                return None;
            }
            total += num * mul;
            num = 0;
            have = false;
        }
    }
    if have {
        return None;
    }
    u32::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_mnemonics_in_any_case() {
        assert_eq!(parse_type(b"ns"), Some(NS));
        assert_eq!(parse_type(b"Ds"), Some(DS));
        assert_eq!(parse_type(b"nsec3param"), Some(51));
        assert_eq!(parse_type(b"TYPE65534"), Some(65534));
        assert_eq!(parse_type(b"NSE"), None);
        assert_eq!(parse_type(b"IN"), None);
    }

    fn rd(t: u16, s: &str) -> Result<Vec<u8>, String> {
        let args: Vec<&[u8]> = s.split_whitespace().map(str::as_bytes).collect();
        let mut out = Vec::new();
        from_text(t, &args, &[4, b's', b'h', b'o', b'p', 0], &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn soa_fields() {
        let r = rd(SOA, "a.nic hostmaster.nic 2026112601 1800 900 1w 900").unwrap();
        assert_eq!(soa_serial(&r), Some(2026112601));
        assert_eq!(soa_minimum(&r), Some(900));
    }

    #[test]
    fn ds_and_generic() {
        let r = rd(DS, "12345 13 2 ABCD ef01").unwrap();
        assert_eq!(r, vec![0x30, 0x39, 13, 2, 0xab, 0xcd, 0xef, 0x01]);
        assert_eq!(rd(A, "\\# 4 C0000201").unwrap(), vec![192, 0, 2, 1]);
        assert!(rd(A, "\\# 3 C0000201").is_err());
    }

    #[test]
    fn bitmap() {
        let mut out = Vec::new();
        write_type_bitmap(&mut [NS, DS, RRSIG], &mut out);
        assert_eq!(out, vec![0, 6, 0x20, 0, 0, 0, 0, 0x12]);
    }
}
