//! Writing a (signed) zone version as RFC 1035 text: one record per line,
//! absolute owner names, explicit TTL and class, like `dnssec-signzone -D`
//! output that `ldns-verify-zone`, `dnssec-verify`, NSD and Knot read.
//!
//! The types a TLD zone carries are written in their presentation form;
//! any other type in the RFC 3597 generic form (`\# len hex`), which every
//! reader accepts. Delegations are formatted in parallel (rayon), a batch of
//! shards at a time, and written in order.
use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER};
use rayon::prelude::*;
use std::io::Write;
use tldd_zone::nsec3;
use tldd_zone::rdata::{
    self, A, AAAA, CNAME, DNAME, DNSKEY, DS, MX, NS, NSEC3, NSEC3PARAM, PTR, RRSIG, SOA, SRV, TXT,
};
use tldd_zone::{name, Node, RRset, Zone};

/// Appends a wire name in presentation form (absolute, trailing dot).
pub fn push_name(out: &mut Vec<u8>, wire: &[u8]) {
    if wire.first().copied().unwrap_or(0) == 0 {
        out.push(b'.');
        return;
    }
    let mut i = 0;
    while i < wire.len() && wire[i] != 0 {
        let len = wire[i] as usize;
        for &b in &wire[i + 1..(i + 1 + len).min(wire.len())] {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    out.push(b'\\');
                    out.push(b);
                }
                0x21..=0x7e => out.push(b),
                _ => {
                    let _ = write!(out, "\\{b:03}");
                }
            }
        }
        out.push(b'.');
        i += 1 + len;
    }
}

fn push_u(out: &mut Vec<u8>, v: u64) {
    let mut b = itoa_buf(v);
    out.append(&mut b);
}

fn itoa_buf(mut v: u64) -> Vec<u8> {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    tmp[i..].to_vec()
}

fn push_time(out: &mut Vec<u8>, t: u32) {
    match time::OffsetDateTime::from_unix_timestamp(t as i64) {
        Ok(d) => {
            let _ = write!(
                out,
                "{:04}{:02}{:02}{:02}{:02}{:02}",
                d.year(),
                d.month() as u8,
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            );
        }
        Err(_) => push_u(out, t as u64),
    }
}

fn push_char_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            0x20..=0x7e => out.push(b),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push(b'"');
}

fn push_bitmap(out: &mut Vec<u8>, mut bm: &[u8]) {
    while bm.len() >= 2 {
        let (win, len) = (bm[0] as u16, bm[1] as usize);
        let bits = &bm[2..(2 + len).min(bm.len())];
        for (i, &byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    out.push(b' ');
                    let t = win * 256 + (i * 8 + bit) as u16;
                    out.extend_from_slice(rdata::type_name(t).as_bytes());
                }
            }
        }
        bm = &bm[(2 + len).min(bm.len())..];
    }
}

fn generic(out: &mut Vec<u8>, rd: &[u8]) {
    out.extend_from_slice(b"\\# ");
    push_u(out, rd.len() as u64);
    if !rd.is_empty() {
        out.push(b' ');
        out.extend_from_slice(HEXUPPER.encode(rd).as_bytes());
    }
}

fn u16_at(rd: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes(rd.get(i..i + 2)?.try_into().ok()?))
}

/// Appends the presentation form of RDATA; falls back to `\#` for types
/// not listed or malformed RDATA.
pub fn push_rdata(out: &mut Vec<u8>, rtype: u16, rd: &[u8]) {
    let start = out.len();
    if push_rdata_typed(out, rtype, rd).is_none() {
        out.truncate(start);
        generic(out, rd);
    }
}

fn name_at(rd: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let l = name::wire_len(rd.get(at..)?)?;
    Some((&rd[at..at + l], at + l))
}

fn push_rdata_typed(out: &mut Vec<u8>, rtype: u16, rd: &[u8]) -> Option<()> {
    match rtype {
        A if rd.len() == 4 => {
            let _ = write!(out, "{}.{}.{}.{}", rd[0], rd[1], rd[2], rd[3]);
        }
        AAAA if rd.len() == 16 => {
            let a: [u8; 16] = rd.try_into().ok()?;
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(a));
        }
        NS | CNAME | PTR | DNAME => {
            let (n, end) = name_at(rd, 0)?;
            (end == rd.len()).then_some(())?;
            push_name(out, n);
        }
        MX => {
            let pref = u16_at(rd, 0)?;
            let (n, end) = name_at(rd, 2)?;
            (end == rd.len()).then_some(())?;
            push_u(out, pref as u64);
            out.push(b' ');
            push_name(out, n);
        }
        SRV => {
            let (n, end) = name_at(rd, 6)?;
            (end == rd.len()).then_some(())?;
            for i in 0..3 {
                push_u(out, u16_at(rd, 2 * i)? as u64);
                out.push(b' ');
            }
            push_name(out, n);
        }
        SOA => {
            let (m, e1) = name_at(rd, 0)?;
            let (r, e2) = name_at(rd, e1)?;
            (rd.len() == e2 + 20).then_some(())?;
            push_name(out, m);
            out.push(b' ');
            push_name(out, r);
            for i in 0..5 {
                let v = u32::from_be_bytes(rd[e2 + 4 * i..e2 + 4 * i + 4].try_into().ok()?);
                out.push(b' ');
                push_u(out, v as u64);
            }
        }
        TXT | 99 => {
            let mut i = 0;
            (!rd.is_empty()).then_some(())?;
            while i < rd.len() {
                let l = rd[i] as usize;
                let s = rd.get(i + 1..i + 1 + l)?;
                if i > 0 {
                    out.push(b' ');
                }
                push_char_string(out, s);
                i += 1 + l;
            }
        }
        DS | 59 => {
            (rd.len() > 4).then_some(())?;
            let _ = write!(out, "{} {} {} ", u16_at(rd, 0)?, rd[2], rd[3]);
            out.extend_from_slice(HEXUPPER.encode(&rd[4..]).as_bytes());
        }
        DNSKEY | 60 => {
            (rd.len() > 4).then_some(())?;
            let _ = write!(out, "{} {} {} ", u16_at(rd, 0)?, rd[2], rd[3]);
            out.extend_from_slice(BASE64.encode(&rd[4..]).as_bytes());
        }
        RRSIG => {
            let (f, sig) = super::rrsig::RrsigFields::parse(rd)?;
            out.extend_from_slice(rdata::type_name(f.covered).as_bytes());
            let _ = write!(out, " {} {} {} ", f.algorithm, f.labels, f.original_ttl);
            push_time(out, f.expiration);
            out.push(b' ');
            push_time(out, f.inception);
            let _ = write!(out, " {} ", f.key_tag);
            push_name(out, f.signer);
            out.push(b' ');
            out.extend_from_slice(BASE64.encode(sig).as_bytes());
        }
        NSEC3 => {
            let f = nsec3::Nsec3Rdata::parse(rd)?;
            let _ = write!(out, "{} {} {} ", f.algorithm, f.flags, f.iterations);
            if f.salt.is_empty() {
                out.push(b'-');
            } else {
                out.extend_from_slice(HEXUPPER.encode(f.salt).as_bytes());
            }
            out.push(b' ');
            out.extend_from_slice(
                BASE32HEX_NOPAD
                    .encode(f.next)
                    .to_ascii_lowercase()
                    .as_bytes(),
            );
            push_bitmap(out, f.bitmap);
        }
        NSEC3PARAM => {
            let p = nsec3::Nsec3Params::from_param_rdata(rd)?;
            let _ = write!(out, "{} {} {} ", p.algorithm, rd[1], p.iterations);
            if p.salt.is_empty() {
                out.push(b'-');
            } else {
                out.extend_from_slice(HEXUPPER.encode(&p.salt).as_bytes());
            }
        }
        _ => return None,
    }
    Some(())
}

/// Appends one RRset and its RRSIGs.
pub fn push_rrset(out: &mut Vec<u8>, owner: &[u8], set: &RRset) {
    let tname = rdata::type_name(set.rtype);
    for rd in set.rdatas() {
        push_name(out, owner);
        out.push(b' ');
        push_u(out, set.ttl as u64);
        out.extend_from_slice(b" IN ");
        out.extend_from_slice(tname.as_bytes());
        out.push(b' ');
        push_rdata(out, set.rtype, rd);
        out.push(b'\n');
    }
    for sig in set.sigs() {
        push_name(out, owner);
        out.push(b' ');
        push_u(out, set.ttl as u64);
        out.extend_from_slice(b" IN RRSIG ");
        push_rdata(out, RRSIG, sig);
        out.push(b'\n');
    }
}

fn push_node(out: &mut Vec<u8>, owner: &[u8], node: &Node) {
    // SOA first at the apex, as readers expect.
    if let Some(soa) = node.get(SOA) {
        push_rrset(out, owner, soa);
    }
    for set in node.rrsets.iter().filter(|s| s.rtype != SOA) {
        push_rrset(out, owner, set);
    }
}

/// Writes the whole zone; `progress` gets the bytes written so far.
pub fn write_zone(zone: &Zone, w: &mut dyn Write, progress: &dyn Fn(u64)) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut out = Vec::with_capacity(1 << 16);
    push_node(&mut out, &zone.origin, &zone.apex);
    let mut names: Vec<_> = zone.names.iter().filter(|(_, n)| !n.is_empty()).collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    for (n, node) in names {
        push_node(&mut out, n, node);
    }
    w.write_all(&out)?;
    total += out.len() as u64;
    // Delegations, a batch of shards at a time.
    let shards: Vec<_> = zone.cuts.par_shards().collect::<Vec<_>>();
    let mut shards: Vec<Vec<&tldd_zone::Delegation>> =
        shards.into_iter().map(|it| it.collect()).collect();
    for batch in shards.chunks_mut(256) {
        let bufs: Vec<Vec<u8>> = batch
            .par_iter()
            .map(|ds| {
                let mut out = Vec::with_capacity(ds.len() * 200);
                for d in ds {
                    push_rrset(&mut out, &d.name, &d.ns);
                    if let Some(ds) = &d.ds {
                        push_rrset(&mut out, &d.name, ds);
                    }
                    for (g, node) in d.glue.iter() {
                        push_node(&mut out, g, node);
                    }
                }
                out
            })
            .collect();
        for b in bufs {
            w.write_all(&b)?;
            total += b.len() as u64;
        }
        progress(total);
    }
    if let Some(chain) = &zone.nsec3 {
        for batch in chain.shards().chunks(64) {
            let bufs: Vec<Vec<u8>> = batch
                .par_iter()
                .map(|recs| {
                    let mut out = Vec::with_capacity(recs.len() * 300);
                    let mut o = [0u8; 256];
                    for r in recs.iter() {
                        let n = nsec3::owner_name(&r.hash, &zone.origin, &mut o);
                        push_rrset(&mut out, &o[..n], &r.rrset);
                    }
                    out
                })
                .collect();
            for b in bufs {
                w.write_all(&b)?;
                total += b.len() as u64;
            }
            progress(total);
        }
    }
    Ok(total)
}
