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
//! - Before its TLS handshake a connection takes a place in the pre-login
//!   pool ([`super::guard`]: per source and in all); without one it is
//!   closed at once. The handshake has `epp_handshake_timeout`, the time
//!   from greeting to a successful `<login>` `epp_login_timeout`; logged
//!   in, the session leaves the pool.
//! - Over `epp_max_connections` the connection (holding its pre-login
//!   place) still gets a TLS handshake and a 2502 answer, then is closed.
//!   A session idle for `epp_idle_timeout` is closed.
use super::guard::Ticket;
use super::response::{render, Response};
use super::{Epp, Session};
use crate::result::err;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a parting answer (2500, 2502) may take to send.
const PARTING_TIMEOUT: Duration = Duration::from_secs(1);

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
        let admitted = match epp.guard.prelogin.admit(peer.ip()) {
            Ok(a) => a,
            Err(why) => {
                epp.metrics
                    .epp_prelogin_refused
                    .with_label_values(&[why.label()])
                    .inc();
                tracing::debug!(%peer, reason = why.label(), "EPP connection closed before login");
                drop(tcp);
                continue;
            }
        };
        if let Some(source) = admitted.evicted {
            epp.metrics
                .epp_prelogin_refused
                .with_label_values(&["evicted"])
                .inc();
            tracing::debug!(%peer, %source, "EPP pre-login pool full: evicted the oldest of {source}");
        }
        let ticket = admitted.ticket;
        let _ = tcp.set_nodelay(true);
        let epp = epp.clone();
        let tls = tls.clone();
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    epp.metrics.epp_sessions.inc();
                    connection(&epp, tcp, peer.ip(), tls, ticket).await;
                    epp.metrics.epp_sessions.dec();
                    drop(permit);
                });
            }
            Err(_) => {
                epp.metrics
                    .epp_prelogin_refused
                    .with_label_values(&["max_connections"])
                    .inc();
                tokio::spawn(async move {
                    tracing::warn!(%peer, "EPP connection limit reached");
                    if let Some(mut s) = handshake(&epp, tcp, peer.ip(), tls, &ticket).await {
                        let r = err(2502, "the server is at its connection limit");
                        parting(&mut s, r.into(), "SRS-LIMIT").await;
                    }
                });
            }
        }
    }
}

/// The TLS handshake, within `epp_handshake_timeout` and unless the
/// pre-login pool evicts the connection first.
async fn handshake(
    epp: &Epp,
    tcp: TcpStream,
    peer: std::net::IpAddr,
    tls: TlsAcceptor,
    ticket: &Ticket,
) -> Option<TlsStream<TcpStream>> {
    let limit = epp.settings.guard.handshake_timeout;
    tokio::select! {
        r = tokio::time::timeout(limit, tls.accept(tcp)) => match r {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                epp.metrics.epp_timeouts.with_label_values(&["handshake"]).inc();
                tracing::debug!(%peer, "TLS handshake timed out");
                None
            }
        },
        _ = ticket.evicted() => {
            tracing::debug!(%peer, "evicted from the pre-login pool during the TLS handshake");
            None
        }
    }
}

/// Why a connection that has not logged in is being closed.
enum Stop {
    Timeout,
    Evicted,
}

/// Runs `f` under the pre-login rules while `ticket` is held: the login
/// deadline and eviction.
async fn pre<F: Future>(
    ticket: Option<&Ticket>,
    deadline: tokio::time::Instant,
    f: F,
) -> Result<F::Output, Stop> {
    let Some(t) = ticket else {
        return Ok(f.await);
    };
    tokio::select! {
        r = tokio::time::timeout_at(deadline, f) => r.map_err(|_| Stop::Timeout),
        _ = t.evicted() => Err(Stop::Evicted),
    }
}

/// Sends a last answer (if it goes out within [`PARTING_TIMEOUT`]) and closes.
async fn parting<S: AsyncWrite + Unpin>(s: &mut S, r: Response, trid: &str) {
    let xml = render(&r, None, trid);
    let _ = tokio::time::timeout(PARTING_TIMEOUT, async {
        let _ = write_frame(s, xml.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await;
}

async fn stop_prelogin<S: AsyncWrite + Unpin>(
    epp: &Epp,
    s: &mut S,
    peer: std::net::IpAddr,
    why: Stop,
) {
    let r = match why {
        Stop::Timeout => {
            epp.metrics.epp_timeouts.with_label_values(&["login"]).inc();
            tracing::info!(%peer, "EPP login timeout, closing");
            err(
                2500,
                format!(
                    "login timeout: no successful <login> within {:?} of the greeting",
                    epp.settings.guard.login_timeout
                ),
            )
        }
        Stop::Evicted => {
            tracing::debug!(%peer, "evicted from the pre-login pool");
            err(
                2502,
                "too many connections are waiting to log in; this one, the oldest of its \
                 source, was closed to admit another",
            )
        }
    };
    parting(s, r.into(), "SRS-PRELOGIN").await;
}

async fn connection(
    epp: &Arc<Epp>,
    tcp: TcpStream,
    peer: std::net::IpAddr,
    tls: TlsAcceptor,
    ticket: Ticket,
) {
    let Some(mut stream) = handshake(epp, tcp, peer, tls, &ticket).await else {
        return;
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
    // Held until the login succeeds.
    let mut ticket = Some(ticket);
    let deadline = tokio::time::Instant::now() + epp.settings.guard.login_timeout;
    let greeting = epp.greeting();
    match pre(
        ticket.as_ref(),
        deadline,
        write_frame(&mut stream, greeting.as_bytes()),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return,
        Err(why) => return stop_prelogin(epp, &mut stream, peer, why).await,
    }
    loop {
        let read = read_frame(
            &mut stream,
            epp.settings.max_frame,
            epp.settings.idle_timeout,
        );
        let frame = match pre(ticket.as_ref(), deadline, read).await {
            Err(why) => {
                stop_prelogin(epp, &mut stream, peer, why).await;
                break;
            }
            Ok(Ok(f)) => f,
            Ok(Err(FrameError::Closed)) => break,
            Ok(Err(FrameError::Idle)) => {
                tracing::info!(%peer, registrar = ?session.clid, "EPP session idle, closing");
                break;
            }
            Ok(Err(FrameError::Bad(reason))) => {
                epp.metrics.observe("invalid", 2500, 0.0);
                parting(&mut stream, err(2500, reason).into(), "SRS-FRAME").await;
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
        if session.clid.is_some() {
            ticket = None; // logged in: out of the pre-login pool
        }
        epp.metrics
            .observe(&answer.command, answer.code, start.elapsed().as_secs_f64());
        let write = write_frame(&mut stream, answer.xml.as_bytes());
        match pre(ticket.as_ref(), deadline, write).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(why) => {
                stop_prelogin(epp, &mut stream, peer, why).await;
                break;
            }
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
