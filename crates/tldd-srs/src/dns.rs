//! The SRS's DNS client side: RFC 2136 UPDATE messages built from
//! [`OwnerSet`]s, signed with TSIG (RFC 8945), sent over TCP; and AXFR with
//! TSIG for `tldd srs reconcile`. Messages, names and RDATA are
//! hickory-proto's; TSIG is `tldd_tsig`, the same code `tldd serve`
//! verifies with (so every `[[tsig]]` algorithm works, hmac-sha1 included).
//!
//! An update replaces, at each owner name, every RRset of the types the SRS
//! manages (NS, DS, A, AAAA): it deletes the four RRsets and adds the wanted
//! records, in one message, so the server applies it atomically and the
//! operation is idempotent (sending it twice leaves the same zone). Other
//! types at those names are never touched.
//!
//! The answer must carry a valid TSIG from the same key (checked with
//! `tldd_tsig::Verifier`, including the time window) and RCODE NOERROR;
//! anything else is an error and the publisher retries. The time window is
//! the answer's fudge capped at [`tldd_tsig::FUDGE`] (300 s, the key's
//! default `max_fudge`), as `tldd serve` caps what it accepts: a server
//! claiming a fudge of 65535 is still held to 300 s. Answers are all the
//! SRS accepts signed, and each is bound to our request by its MAC, so no
//! replay cache is needed on this side.
use crate::model::{DsData, OwnerSet};
use hickory_proto::dnssec::rdata::{DNSSECRData, DS};
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tldd_tsig as tsig;
use tldd_tsig::KeyConfig as TsigKeyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The TSIG key of a `[[tsig]]` entry, for signing what the SRS sends
/// (tldd-tsig, the implementation `tldd serve` verifies with: every
/// algorithm `[[tsig]]` accepts, hmac-sha1 included).
pub fn signer(k: &TsigKeyConfig) -> Result<Arc<tsig::Key>, String> {
    let key = tsig::Key::from_config(k).map_err(|e| e.to_string())?;
    if k.secret.trim().is_empty() {
        return Err("secret is empty".into());
    }
    Ok(Arc::new(key))
}

/// Encodes `msg` and appends its TSIG; returns the bytes and the verifier
/// for the answer(s).
fn sign(key: &Arc<tsig::Key>, msg: &Message) -> Result<(Vec<u8>, tsig::Verifier), String> {
    let mut bytes = msg.to_vec().map_err(|e| format!("encoding: {e}"))?;
    let mut signer = tsig::Signer::request(key.clone());
    signer.sign(&mut bytes, tsig::now());
    Ok((bytes, tsig::Verifier::new(&signer)))
}

fn fqdn(name: &str) -> Result<Name, String> {
    let mut n = Name::from_ascii(name).map_err(|e| format!("{name:?}: {e}"))?;
    n.set_fqdn(true);
    Ok(n)
}

pub fn ds_rdata(d: &DsData) -> Result<RData, String> {
    let digest = hex::decode(&d.digest).map_err(|e| format!("DS digest: {e}"))?;
    Ok(RData::DNSSEC(DNSSECRData::DS(DS::new(
        d.key_tag,
        Algorithm::from_u8(d.alg),
        DigestType::from(d.digest_type),
        digest,
    ))))
}

/// The UPDATE message replacing the managed RRsets at each owner.
pub fn update_message(zone: &str, owners: &[OwnerSet], ttl: u32) -> Result<Message, String> {
    let zone = fqdn(zone)?;
    let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Update);
    let mut z = Query::new();
    z.set_name(zone.clone())
        .set_query_class(DNSClass::IN)
        .set_query_type(RecordType::SOA);
    msg.add_zone(z);
    // With EDNS the server can say why it refuses (RFC 8914 EDE).
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_max_payload(1232);
    msg.set_edns(edns);
    for o in owners {
        let owner = match fqdn(&o.name) {
            Ok(n) if zone.zone_of(&n) && n != zone => n,
            _ => {
                // never queued by the store; skipped so it cannot block the queue
                tracing::error!(name = %o.name, "not below the zone; not published");
                continue;
            }
        };
        for t in [
            RecordType::NS,
            RecordType::DS,
            RecordType::A,
            RecordType::AAAA,
        ] {
            let mut r = Record::update0(owner.clone(), 0, t);
            r.dns_class = DNSClass::ANY;
            msg.add_update(r);
        }
        for ns in &o.ns {
            msg.add_update(Record::from_rdata(
                owner.clone(),
                ttl,
                RData::NS(NS(fqdn(ns)?)),
            ));
        }
        for ds in &o.ds {
            msg.add_update(Record::from_rdata(owner.clone(), ttl, ds_rdata(ds)?));
        }
        for a in &o.addrs {
            let rd = match a {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            msg.add_update(Record::from_rdata(owner.clone(), ttl, rd));
        }
    }
    Ok(msg)
}

async fn write_msg(s: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| std::io::Error::other("DNS message longer than 65535 octets"))?;
    let mut buf = Vec::with_capacity(bytes.len() + 2);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(bytes);
    s.write_all(&buf).await
}

async fn read_msg(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

/// Why an update was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No (trustworthy) answer: connection, timeout, bad TSIG, SERVFAIL.
    /// Worth retrying as is.
    Transient(String),
    /// The server answered, signed with our key, and said no to this
    /// message (REFUSED, FORMERR, NOTZONE, YXDOMAIN, ...): sending the
    /// same message again gets the same answer until someone acts. With
    /// the server's reason when it gave one (an Extended DNS Error).
    Refused(ResponseCode, Option<String>),
}

/// The Extended DNS Errors (RFC 8914) of an answer, as "EDE n: text".
fn ede_text(msg: &Message) -> Option<String> {
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    let edns = msg.edns.as_ref()?;
    let texts: Vec<String> = edns
        .options()
        .get_all(EdnsCode::from(15u16))
        .into_iter()
        .filter_map(|o| match o {
            EdnsOption::Unknown(15, v) if v.len() >= 2 => Some(format!(
                "EDE {}: {}",
                u16::from_be_bytes([v[0], v[1]]),
                String::from_utf8_lossy(&v[2..])
            )),
            _ => None,
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Transient(e) => f.write_str(e),
            SendError::Refused(rc, None) => write!(f, "server answered {rc}"),
            SendError::Refused(rc, Some(why)) => write!(f, "server answered {rc} ({why})"),
        }
    }
}

/// Sends one signed UPDATE over TCP; Ok once the server said NOERROR.
pub async fn send_update(
    server: SocketAddr,
    key: &Arc<tsig::Key>,
    msg: Message,
    timeout: Duration,
) -> Result<(), SendError> {
    let t = SendError::Transient;
    let (bytes, mut verifier) = sign(key, &msg).map_err(|e| t(format!("update: {e}")))?;
    let id = msg.id;
    let work = async {
        let mut s = TcpStream::connect(server)
            .await
            .map_err(|e| format!("connect {server}: {e}"))?;
        write_msg(&mut s, &bytes)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let resp = read_msg(&mut s).await.map_err(|e| format!("read: {e}"))?;
        let plain = Message::from_vec(&resp).map_err(|e| format!("bad answer: {e}"))?;
        if plain.id != id {
            return Err(format!("answer id {} for query id {id}", plain.id));
        }
        if plain.signature().is_none() {
            return Err(format!(
                "unsigned answer, rcode {} (key unknown to the server?)",
                plain.response_code
            ));
        }
        verifier
            .check(&resp, tsig::now())
            .map_err(|e| format!("answer TSIG does not verify: {e}"))?;
        Ok((plain.response_code, ede_text(&plain)))
    };
    let rc = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| t(format!("no answer from {server} within {timeout:?}")))?
        .map_err(t)?;
    match rc {
        (ResponseCode::NoError, _) => Ok(()),
        (ResponseCode::ServFail, why) => Err(t(match why {
            Some(w) => format!("server answered SERVFAIL ({w})"),
            None => "server answered SERVFAIL".into(),
        })),
        (rc, why) => Err(SendError::Refused(rc, why)),
    }
}

/// Transfers the zone (AXFR over TCP, TSIG-signed and verified).
pub async fn axfr(
    server: SocketAddr,
    key: &Arc<tsig::Key>,
    zone: &str,
    timeout: Duration,
) -> Result<Vec<Record>, String> {
    let zone_name = fqdn(zone)?;
    let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    msg.add_query(Query::query(zone_name, RecordType::AXFR));
    let (bytes, mut verifier) = sign(key, &msg).map_err(|e| format!("AXFR query: {e}"))?;
    let work = async {
        let mut s = TcpStream::connect(server)
            .await
            .map_err(|e| format!("connect {server}: {e}"))?;
        write_msg(&mut s, &bytes)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut records = Vec::new();
        let mut soas = 0;
        while soas < 2 {
            let resp = read_msg(&mut s).await.map_err(|e| format!("read: {e}"))?;
            verifier
                .check(&resp, tsig::now())
                .map_err(|e| format!("AXFR message TSIG does not verify: {e}"))?;
            let m = Message::from_vec(&resp).map_err(|e| format!("bad AXFR message: {e}"))?;
            if m.response_code != ResponseCode::NoError {
                return Err(format!("AXFR refused: {}", m.response_code));
            }
            if m.answers.is_empty() {
                return Err("AXFR message without records".into());
            }
            for r in m.answers.iter() {
                if r.record_type() == RecordType::SOA {
                    soas += 1;
                    if soas == 2 {
                        break;
                    }
                }
                records.push(r.clone());
            }
        }
        Ok(records)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("AXFR from {server} did not finish within {timeout:?}"))?
}

/// Groups transferred records into owner sets of the managed types
/// (names below the apex only), for comparison with the SRS.
pub fn owner_sets(zone: &str, records: &[Record]) -> std::collections::BTreeMap<String, OwnerSet> {
    let mut out: std::collections::BTreeMap<String, OwnerSet> = Default::default();
    let apex = crate::names::canonical(zone);
    for r in records {
        let name = crate::names::canonical(&r.name.to_ascii());
        if name == apex {
            continue;
        }
        let e = out.entry(name.clone()).or_insert_with(|| OwnerSet {
            name,
            ..Default::default()
        });
        match &r.data {
            RData::NS(ns) => e.ns.push(crate::names::canonical(&ns.0.to_ascii())),
            RData::A(a) => e.addrs.push(IpAddr::V4(a.0)),
            RData::AAAA(a) => e.addrs.push(IpAddr::V6(a.0)),
            RData::DNSSEC(DNSSECRData::DS(ds)) => e.ds.push(DsData {
                key_tag: ds.key_tag(),
                alg: u8::from(ds.algorithm()),
                digest_type: u8::from(ds.digest_type()),
                digest: hex::encode_upper(ds.digest()),
            }),
            _ => {}
        }
    }
    out.into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(k, s)| (k, s.normalized()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TsigKeyConfig {
        TsigKeyConfig {
            name: "srs-key".into(),
            algorithm: "hmac-sha256".into(),
            secret: "c2VjcmV0c2VjcmV0c2VjcmV0".into(),
        }
    }

    #[test]
    fn signer_rejects_bad_keys() {
        assert!(signer(&key()).is_ok());
        let mut k = key();
        k.algorithm = "hmac-md5".into();
        assert!(signer(&k).err().unwrap().contains("unknown algorithm"));
        let mut k = key();
        k.algorithm = "hmac-sha1".into();
        assert!(
            signer(&k).is_ok(),
            "hmac-sha1 is accepted as [[tsig]] accepts it"
        );
        let mut k = key();
        k.secret = "".into();
        assert!(signer(&k).err().unwrap().contains("empty"));
        let mut k = key();
        k.secret = "***".into();
        assert!(signer(&k).err().unwrap().contains("base64"));
    }

    #[test]
    fn update_replaces_managed_rrsets_and_round_trips() {
        let set = OwnerSet {
            name: "example.shop".into(),
            ns: vec!["ns1.example.shop".into()],
            ds: vec![DsData {
                key_tag: 12345,
                alg: 13,
                digest_type: 2,
                digest: "AB".repeat(32),
            }],
            addrs: vec![],
        };
        let m = update_message("shop", &[set], 3600).unwrap();
        assert_eq!(m.updates().len(), 4 + 2);
        let (bytes, _) = sign(&signer(&key()).unwrap(), &m).unwrap();
        let back = Message::from_vec(&bytes).unwrap();
        assert_eq!(back.op_code, OpCode::Update);
        let sets = owner_sets("shop.", back.updates());
        let s = &sets["example.shop"];
        assert_eq!(s.ns, vec!["ns1.example.shop"]);
        assert_eq!(s.ds[0].key_tag, 12345);
        let skipped = update_message(
            "shop",
            &[OwnerSet {
                name: "x.com".into(),
                ..Default::default()
            }],
            1,
        )
        .unwrap();
        assert!(
            skipped.updates().is_empty(),
            "names outside the zone are skipped"
        );
    }
}
