//! NOTIFY (RFC 1996) sent. (Received NOTIFY is a request handler:
//! `server::notify`.)
//!
//! # Sending
//! [`send`] is one exchange: a NOTIFY (SOA question, AA, the new SOA in the
//! answer section, TSIG-signed with the zone's `transfer_key` if one is
//! set) over UDP, and the answer with the same ID. The zone's event loop
//! decides when: on every new version, and after no answer again after 1,
//! 2, 4, 8 s (5 tries), then not until the next version; a newer version
//! arriving meanwhile replaces the one being notified (only the latest
//! matters, RFC 1996 §4.7).
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tldd_tsig::{self as tsig, Signer, Verifier};
use tokio::net::UdpSocket;

/// Builds a NOTIFY for `origin` at `serial`.
fn message(id: u16, origin: &[u8], soa: Option<(u32, &[u8])>) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0x24, 0x00, 0, 1, 0, soa.is_some() as u8, 0, 0, 0, 0]);
    p.extend_from_slice(origin);
    p.extend_from_slice(&[0, 6, 0, 1]);
    if let Some((ttl, rd)) = soa {
        p.extend_from_slice(&[0xc0, 0x0c, 0, 6, 0, 1]);
        p.extend_from_slice(&ttl.to_be_bytes());
        p.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        p.extend_from_slice(rd);
    }
    p
}

/// One NOTIFY exchange: sends a NOTIFY for `origin` (with the served SOA
/// in the answer section when given, RFC 1996 §3.7) to `target`, signed
/// with `key` if set, and waits up to 2 s for the matching answer. Retries
/// are the zone loop's decision (`events::notify`).
pub async fn send(
    target: SocketAddr,
    origin: &[u8],
    soa: Option<(u32, Vec<u8>)>,
    key: Option<Arc<tsig::Key>>,
) -> Result<(), String> {
    let id: u16 = rand::random();
    let mut pkt = message(id, origin, soa.as_ref().map(|(t, rd)| (*t, &rd[..])));
    let mut signer = key.map(Signer::request);
    if let Some(sg) = signer.as_mut() {
        sg.sign(&mut pkt, tsig::now());
    }
    send_once(&pkt, id, target, signer.as_ref()).await
}

async fn send_once(
    pkt: &[u8],
    id: u16,
    target: SocketAddr,
    signer: Option<&Signer>,
) -> Result<(), String> {
    let bind: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse().expect("static")
    } else {
        "0.0.0.0:0".parse().expect("static")
    };
    let sock = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.send_to(pkt, target).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (n, from) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf))
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())?;
        let r = &buf[..n];
        if from != target || n < 12 || u16::from_be_bytes([r[0], r[1]]) != id || r[2] & 0x80 == 0 {
            continue;
        }
        if let Some(s) = signer {
            Verifier::new(s).check(r, tsig::now())?;
        }
        let rc = r[3] & 0x0f;
        return if rc == 0 {
            Ok(())
        } else {
            Err(format!("answered with RCODE {rc}"))
        };
    }
}
