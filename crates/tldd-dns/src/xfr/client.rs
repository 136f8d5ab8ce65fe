//! The client side of transfers (secondary mode): SOA check over UDP,
//! AXFR/IXFR over TCP, TSIG on every exchange when a key is configured.
//!
//! Responses are decoded with hickory-proto (`Message::from_vec`), every
//! record converted to [`Rec`] (RDATA re-encoded uncompressed, so stored
//! signatures stay byte-exact for the canonical form).
//!
//! An IXFR answer is recognised by its shape (RFC 1995 §4): a single SOA
//! (up to date), SOA + SOA(our serial) + … (incremental, parsed into
//! [`Diff`]s), or SOA + anything else (a full zone in AXFR form).
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tldd_tsig::{self as tsig, Signer, Verifier};
use tldd_zone::diff::covered;
use tldd_zone::load::Builder;
use tldd_zone::rdata::{AXFR, IXFR, SOA};
use tldd_zone::rec::{decode, rec_from};
use tldd_zone::Zone;
use tldd_zone::{Diff, Rec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// What a transfer brought.
pub enum Fetched {
    UpToDate,
    Full(Box<Zone>),
    Incremental(Vec<Diff>),
}

/// SOA serial of a SOA RDATA.
pub fn soa_field(rd: &[u8], i: usize) -> Option<u32> {
    let m = tldd_zone::name::wire_len(rd)?;
    let r = tldd_zone::name::wire_len(&rd[m..])?;
    let at = m + r + 4 * i;
    Some(u32::from_be_bytes(rd.get(at..at + 4)?.try_into().ok()?))
}

fn request(id: u16, origin: &[u8], qtype: u16, have: Option<&Rec>) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, have.is_some() as u8, 0, 0]);
    p.extend_from_slice(origin);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    if let Some(soa) = have {
        p.extend_from_slice(&[0xc0, 0x0c]);
        p.extend_from_slice(&SOA.to_be_bytes());
        p.extend_from_slice(&[0, 1]);
        p.extend_from_slice(&soa.ttl.to_be_bytes());
        p.extend_from_slice(&(soa.rdata.len() as u16).to_be_bytes());
        p.extend_from_slice(&soa.rdata);
    }
    p
}

fn sign(p: &mut Vec<u8>, key: &Option<Arc<tsig::Key>>) -> Option<Signer> {
    key.clone().map(|k| {
        let mut s = Signer::request(k);
        s.sign(p, tsig::now());
        s
    })
}

/// One UDP question for `origin`/`qtype` to `server` (TSIG-signed with
/// `key`): the decoded answer, `Err` on a timeout, a bad TSIG or an RCODE
/// other than NOERROR.
async fn udp_query(
    server: SocketAddr,
    origin: &[u8],
    qtype: u16,
    key: &Option<Arc<tsig::Key>>,
) -> Result<hickory_proto::op::Message, String> {
    let id: u16 = rand::random();
    let mut p = request(id, origin, qtype, None);
    let signer = sign(&mut p, key);
    let bind = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let sock = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.send_to(&p, server).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65535];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    let name = tldd_zone::name::to_text(origin);
    let what = tldd_zone::rdata::type_name(qtype);
    loop {
        let (n, from) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .map_err(|_| format!("{name} {what} query to {server} timed out"))?
            .map_err(|e| e.to_string())?;
        let r = &buf[..n];
        if from != server || n < 12 || u16::from_be_bytes([r[0], r[1]]) != id {
            continue;
        }
        if let Some(s) = &signer {
            Verifier::new(s).check(r, tsig::now())?;
        }
        let msg = decode(r)?;
        if msg.metadata.response_code != hickory_proto::op::ResponseCode::NoError {
            return Err(format!(
                "{name} {what} query to {server} answered {}",
                msg.metadata.response_code
            ));
        }
        if msg.metadata.truncation {
            return Err(format!("{name} {what} answer from {server} truncated"));
        }
        return Ok(msg);
    }
}

/// Asks the primary for the zone's SOA serial (UDP).
pub async fn soa_serial(
    primary: SocketAddr,
    origin: &[u8],
    key: &Option<Arc<tsig::Key>>,
) -> Result<u32, String> {
    let msg = udp_query(primary, origin, SOA, key).await?;
    for a in &msg.answers {
        let rec = rec_from(a)?;
        if rec.rtype == SOA && *rec.owner == *origin {
            return soa_field(&rec.rdata, 0).ok_or_else(|| "bad SOA".into());
        }
    }
    Err("no SOA in the answer".into())
}

/// The RDATAs of the `owner`/`qtype` RRset `server` answers (UDP, no
/// TSIG): what a parent serves as `owner`'s DS, say. Empty: no such data.
pub async fn rrset(server: SocketAddr, owner: &[u8], qtype: u16) -> Result<Vec<Vec<u8>>, String> {
    let msg = udp_query(server, owner, qtype, &None).await?;
    let mut out = Vec::new();
    for a in &msg.answers {
        let rec = rec_from(a)?;
        if rec.rtype == qtype && rec.owner.eq_ignore_ascii_case(owner) {
            out.push(rec.rdata.to_vec());
        }
    }
    Ok(out)
}

/// Transfers the zone: IXFR from `have` (our current SOA) or AXFR.
pub async fn fetch(
    primary: SocketAddr,
    origin: &[u8],
    key: &Option<Arc<tsig::Key>>,
    have: Option<Rec>,
) -> Result<Fetched, String> {
    let id: u16 = rand::random();
    let qtype = if have.is_some() { IXFR } else { AXFR };
    let mut p = request(id, origin, qtype, have.as_ref());
    let signer = sign(&mut p, key);
    let mut verifier = signer.as_ref().map(Verifier::new);
    let mut s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(primary))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let mut framed = (p.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&p);
    s.write_all(&framed).await.map_err(|e| e.to_string())?;
    let mut recs: Vec<Rec> = Vec::new();
    let have_serial = have.as_ref().and_then(|h| soa_field(&h.rdata, 0));
    let mut buf = vec![0u8; 65535];
    loop {
        let len = tokio::time::timeout(Duration::from_secs(30), s.read_u16())
            .await
            .map_err(|_| "transfer stalled".to_string())?
            .map_err(|e| format!("transfer: {e}"))? as usize;
        tokio::time::timeout(Duration::from_secs(30), s.read_exact(&mut buf[..len]))
            .await
            .map_err(|_| "transfer stalled".to_string())?
            .map_err(|e| format!("transfer: {e}"))?;
        let r = &buf[..len];
        if len < 12 || u16::from_be_bytes([r[0], r[1]]) != id {
            return Err("answer with a wrong ID".into());
        }
        if let Some(v) = verifier.as_mut() {
            v.check(r, tsig::now())?;
        }
        let msg = decode(r)?;
        if msg.metadata.response_code != hickory_proto::op::ResponseCode::NoError {
            return Err(format!("transfer answered {}", msg.metadata.response_code));
        }
        for a in &msg.answers {
            recs.push(rec_from(a)?);
        }
        if let Some(done) = complete(&recs, have_serial, origin)? {
            if verifier.as_ref().is_some_and(|v| !v.settled()) {
                return Err("transfer ended on an unsigned message".into());
            }
            return Ok(match done {
                Shape::UpToDate => Fetched::UpToDate,
                Shape::Full => {
                    recs.pop();
                    let mut b = Builder::new(origin);
                    for r in &recs {
                        b.add(0, &r.owner, r.rtype, r.class, r.ttl, &r.rdata);
                    }
                    let loaded = b.build().map_err(|e| e.to_string())?;
                    let errors = loaded
                        .problems
                        .iter()
                        .filter(|p| p.severity == tldd_zone::load::Severity::Error)
                        .count();
                    if errors > 0 {
                        tracing::warn!(zone = %tldd_zone::name::to_text(origin), errors, "transferred zone has problems (served as received)");
                    }
                    Fetched::Full(Box::new(loaded.zone))
                }
                Shape::Incremental(d) => Fetched::Incremental(d),
            });
        }
    }
}

enum Shape {
    UpToDate,
    Full,
    Incremental(Vec<Diff>),
}

/// Has the stream ended? Checks the RFC 1995 / 5936 shapes.
fn complete(recs: &[Rec], have: Option<u32>, origin: &[u8]) -> Result<Option<Shape>, String> {
    let serial = |r: &Rec| {
        (r.rtype == SOA && *r.owner == *origin)
            .then(|| soa_field(&r.rdata, 0))
            .flatten()
    };
    let Some(first) = recs.first() else {
        return Ok(None);
    };
    let Some(s) = serial(first) else {
        return Err("transfer does not start with the SOA".into());
    };
    if recs.len() == 1 {
        // A lone SOA: up to date, if it is not newer than ours (IXFR only).
        return Ok(match have {
            Some(h) if !tldd_zone::serial::serial_lt(h, s) => Some(Shape::UpToDate),
            _ => None,
        });
    }
    let incremental = have.is_some() && serial(&recs[1]) == have;
    if !incremental {
        let last = recs.last().and_then(serial);
        return Ok((last == Some(s)).then_some(Shape::Full));
    }
    let mut diffs = Vec::new();
    let mut i = 1;
    loop {
        let Some(r) = recs.get(i) else {
            return Ok(None);
        };
        let Some(from) = serial(r) else {
            return Err("IXFR: expected a SOA".into());
        };
        if from == s && i == recs.len() - 1 {
            return Ok(Some(Shape::Incremental(diffs)));
        }
        let mut removed = vec![r.clone()];
        i += 1;
        while i < recs.len() && recs[i].rtype != SOA {
            removed.push(recs[i].clone());
            i += 1;
        }
        let Some(add_soa) = recs.get(i) else {
            return Ok(None);
        };
        let Some(to) = serial(add_soa) else {
            return Err("IXFR: expected a SOA".into());
        };
        let mut added = vec![add_soa.clone()];
        i += 1;
        while i < recs.len() && recs[i].rtype != SOA {
            added.push(recs[i].clone());
            i += 1;
        }
        if i >= recs.len() {
            return Ok(None);
        }
        debug_assert!(removed
            .iter()
            .chain(&added)
            .all(|r| r.rtype != tldd_zone::rdata::RRSIG || covered(&r.rdata) != 0));
        diffs.push(Diff {
            from,
            to,
            removed,
            added,
        });
    }
}
