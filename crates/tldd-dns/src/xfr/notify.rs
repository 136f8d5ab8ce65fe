//! NOTIFY (RFC 1996) sent. (Received NOTIFY is a request handler:
//! `server::notify`.)
//!
//! # Sending
//! One task per `notify` target follows the zone's serial (a `watch`
//! channel the writer feeds). For each new serial it sends a NOTIFY (SOA
//! question, AA, the new SOA in the answer section, TSIG-signed with the
//! zone's `transfer_key` if one is set) over UDP and waits for the answer
//! with the same ID; no answer: retries after 1, 2, 4, 8 s (5 tries), then
//! gives up until the next version. A newer version arriving meanwhile
//! replaces the one being notified (only the latest matters, RFC 1996 §4.7).
use crate::runtime::Services;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tldd_tsig::{self as tsig, Signer, Verifier};
use tldd_zone::name;
use tokio::net::UdpSocket;
use tokio::sync::watch;

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

/// Sends NOTIFY to `target` for every new serial of the zone.
pub async fn sender(
    svc: Arc<Services>,
    origin: Box<[u8]>,
    target: SocketAddr,
    key: Option<Arc<tsig::Key>>,
    mut serial: watch::Receiver<u32>,
) {
    let m = &svc.metrics;
    let zone_text = name::to_text(&origin);
    loop {
        if serial.changed().await.is_err() {
            return;
        }
        let mut attempt = 0u32;
        loop {
            let s = *serial.borrow_and_update();
            let soa = svc.served(&origin).and_then(|z| {
                z.soa()
                    .and_then(|set| set.rdatas().next().map(|rd| (set.ttl, rd.to_vec())))
            });
            let id: u16 = rand::random();
            let mut pkt = message(id, &origin, soa.as_ref().map(|(t, rd)| (*t, &rd[..])));
            let mut signer = key.clone().map(Signer::request);
            if let Some(sg) = signer.as_mut() {
                sg.sign(&mut pkt, tsig::now());
            }
            m.notify.with_label_values(&[&zone_text, "sent"]).inc();
            match send_once(&pkt, id, target, signer.as_ref()).await {
                Ok(()) => {
                    m.notify.with_label_values(&[&zone_text, "acked"]).inc();
                    tracing::debug!(%target, zone = %zone_text, serial = s, "NOTIFY acknowledged");
                    break;
                }
                Err(e) => {
                    attempt += 1;
                    if attempt >= 5 {
                        m.notify.with_label_values(&[&zone_text, "failed"]).inc();
                        tracing::warn!(%target, zone = %zone_text, serial = s, "NOTIFY failed after 5 tries: {e}");
                        break;
                    }
                    let wait = Duration::from_secs(1 << (attempt - 1));
                    // A newer version restarts the cycle with its serial.
                    if let Ok(Ok(())) = tokio::time::timeout(wait, serial.changed()).await {
                        attempt = 0;
                    }
                }
            }
        }
    }
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
