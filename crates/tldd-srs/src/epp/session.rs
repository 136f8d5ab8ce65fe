//! EPP over TLS (RFC 5734): the listener, TLS (rustls, TLS 1.2 and 1.3),
//! framing, and one task per connection.
//!
//! - Client certificates are requested but any certificate is accepted at
//!   the TLS layer (its handshake signature is still verified, so the client
//!   holds the key): registrars are authenticated at `<login>` by the
//!   certificate's SHA-256 fingerprint being on their record, together with
//!   the password. No CA is involved; pinning is the policy.
//! - The greeting is sent as soon as the handshake completes.
//! - A frame is a 4-byte big-endian length (including those 4 bytes) and the
//!   XML. A length below 5 or above `epp_max_frame` cannot be resynchronised
//!   after: the server answers 2500 and closes. Anything inside a frame gets
//!   an answer and the session goes on (see [`super::Epp::handle_frame`]).
//! - Commands run on the blocking pool (they may hash passwords and fsync),
//!   so slow storage never stalls other sessions' I/O.
//! - Over `epp_max_connections` the connection still gets a TLS handshake
//!   and a 2502 answer, then is closed. A session idle for
//!   `epp_idle_timeout` is closed.
use super::response::{render, Response};
use super::{Epp, Session};
use crate::result::err;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Accepts any client certificate whose handshake signature verifies.
#[derive(Debug)]
struct PinnedByLogin {
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedByLogin {
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Loads the server certificate chain and key into a TLS acceptor.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = {
        let f = std::fs::File::open(cert)
            .map_err(|e| anyhow::anyhow!("tls_cert {}: {e}", cert.display()))?;
        rustls_pemfile::certs(&mut std::io::BufReader::new(f))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("tls_cert {}: {e}", cert.display()))?
    };
    if certs.is_empty() {
        anyhow::bail!("tls_cert {}: no PEM certificate found", cert.display());
    }
    let key_der = {
        let f = std::fs::File::open(key)
            .map_err(|e| anyhow::anyhow!("tls_key {}: {e}", key.display()))?;
        rustls_pemfile::private_key(&mut std::io::BufReader::new(f))
            .map_err(|e| anyhow::anyhow!("tls_key {}: {e}", key.display()))?
            .ok_or_else(|| anyhow::anyhow!("tls_key {}: no PEM private key found", key.display()))?
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedByLogin {
        algs: provider.signature_verification_algorithms,
    });
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key_der)
        .map_err(|e| anyhow::anyhow!("TLS certificate/key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Serves EPP on `listener` until the task is dropped.
pub async fn serve(epp: Arc<Epp>, listener: TcpListener, tls: TlsAcceptor) {
    let slots = Arc::new(Semaphore::new(epp.settings.max_connections));
    loop {
        let (tcp, peer) = crate::accept(&listener, "EPP").await;
        let _ = tcp.set_nodelay(true);
        let epp = epp.clone();
        let tls = tls.clone();
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    epp.metrics.epp_sessions.inc();
                    connection(&epp, tcp, peer.ip(), tls).await;
                    epp.metrics.epp_sessions.dec();
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    tracing::warn!(%peer, "EPP connection limit reached");
                    if let Ok(Ok(mut s)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await
                    {
                        let r: Response = err(2502, "the server is at its connection limit").into();
                        let _ = write_frame(&mut s, render(&r, None, "SRS-LIMIT").as_bytes()).await;
                        let _ = s.shutdown().await;
                    }
                });
            }
        }
    }
}

async fn connection(epp: &Arc<Epp>, tcp: TcpStream, peer: std::net::IpAddr, tls: TlsAcceptor) {
    let mut stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let cert_sha256 = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| hex::encode(Sha256::digest(c.as_ref())));
    let mut session = Session {
        peer,
        cert_sha256,
        clid: None,
        failures: 0,
    };
    if write_frame(&mut stream, epp.greeting().as_bytes())
        .await
        .is_err()
    {
        return;
    }
    loop {
        let frame = match read_frame(
            &mut stream,
            epp.settings.max_frame,
            epp.settings.idle_timeout,
        )
        .await
        {
            Ok(f) => f,
            Err(FrameError::Closed) => break,
            Err(FrameError::Idle) => {
                tracing::info!(%peer, registrar = ?session.clid, "EPP session idle, closing");
                break;
            }
            Err(FrameError::Bad(reason)) => {
                let r: Response = err(2500, reason).into();
                epp.metrics.observe("invalid", 2500, 0.0);
                let _ = write_frame(&mut stream, render(&r, None, "SRS-FRAME").as_bytes()).await;
                break;
            }
        };
        let start = Instant::now();
        let epp2 = epp.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let a = epp2.handle_frame(&mut session, &frame);
            (a, session)
        })
        .await;
        let (answer, s) = match joined {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(%peer, error = %e, "EPP command task failed");
                return;
            }
        };
        session = s;
        epp.metrics
            .observe(&answer.command, answer.code, start.elapsed().as_secs_f64());
        if write_frame(&mut stream, answer.xml.as_bytes())
            .await
            .is_err()
        {
            break;
        }
        if answer.close {
            let _ = stream.shutdown().await;
            break;
        }
    }
    epp.end_session(&session);
}

enum FrameError {
    Closed,
    Idle,
    Bad(String),
}

async fn read_frame<S: AsyncRead + Unpin>(
    s: &mut S,
    max: u32,
    idle: Duration,
) -> Result<Vec<u8>, FrameError> {
    let mut hdr = [0u8; 4];
    match tokio::time::timeout(idle, s.read_exact(&mut hdr)).await {
        Err(_) => return Err(FrameError::Idle),
        Ok(Err(_)) => return Err(FrameError::Closed),
        Ok(Ok(_)) => {}
    }
    let len = u32::from_be_bytes(hdr);
    if len < 5 || len > max {
        return Err(FrameError::Bad(format!(
            "frame length {len} is outside 5..{max} (RFC 5734: the length includes its own 4 octets)"
        )));
    }
    let mut body = vec![0u8; len as usize - 4];
    match tokio::time::timeout(idle, s.read_exact(&mut body)).await {
        Err(_) => Err(FrameError::Idle),
        Ok(Err(_)) => Err(FrameError::Closed),
        Ok(Ok(_)) => Ok(body),
    }
}

pub async fn write_frame<S: AsyncWrite + Unpin>(s: &mut S, body: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    buf.extend_from_slice(body);
    s.write_all(&buf).await?;
    s.flush().await
}
