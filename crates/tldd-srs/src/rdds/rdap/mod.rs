//! RDAP over HTTP (RFC 7480, queries RFC 9082, responses RFC 9083) with
//! the ICANN gTLD profile, served by the SRS on `[srs] rdap_listen`.
//!
//! Paths: `/domain/{name}` (A-label or U-label, percent-encoded UTF-8),
//! `/nameserver/{name}`, `/entity/{handle}` (a registrar by IANA ID or SRS
//! registrar ID), `/help`. Every answer is `application/rdap+json` with
//! `Access-Control-Allow-Origin: *`; HEAD answers like GET without a body;
//! an unknown object is 404 and a malformed name 400, each with an RDAP
//! error body; searches and IP/ASN queries are 501; other methods than
//! GET and HEAD are 405, also with an RDAP error body. With
//! `[srs.whois] limit_rdap` (default) the Whois limiter's rules apply: an
//! over-limit client gets 429 with `Retry-After`.
//!
//! TLS: with `[srs] rdap_tls_cert` and `rdap_tls_key` the listener speaks
//! HTTPS (rustls, TLS 1.2/1.3, HTTP/1.1); handshakes run in their own tasks
//! with a 10 s timeout so a slow client cannot stall the accept loop.
//! Without them it is plain HTTP, meant for a TLS-terminating reverse proxy
//! (the ICANN TIG requires HTTPS to the public). Links use
//! `[srs.whois] rdap_base_url` (the public URL), else the listener address.
//!
//! Limits: HTTP/1.1 only; no search (`/domains?name=`); no contact entities.
pub mod fast;
pub mod json;
mod parts;

use crate::db::SResult;
use crate::rdds::limit::Verdict;
use crate::rdds::view::{find_registrar, normalize_name, DomainView, HostView, QName};
use crate::rdds::workers;
use crate::rdds::Rdds;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Per-service settings.
pub struct RdapState {
    pub rdds: Arc<Rdds>,
    /// Public base URL ending in '/'.
    pub base: String,
    /// Whois host name for `port43`.
    pub port43: Option<String>,
}

/// The client's address, for the limiter (a request extension, wrapped in
/// axum's `ConnectInfo` so handlers extract it as usual).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// Loads the RDAP TLS certificate chain and key.
pub fn tls_acceptor(cert: &FsPath, key: &FsPath) -> anyhow::Result<TlsAcceptor> {
    let f = std::fs::File::open(cert)
        .map_err(|e| anyhow::anyhow!("rdap_tls_cert {}: {e}", cert.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::io::BufReader::new(f))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("rdap_tls_cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("rdap_tls_cert {}: no PEM certificate found", cert.display());
    }
    let f = std::fs::File::open(key)
        .map_err(|e| anyhow::anyhow!("rdap_tls_key {}: {e}", key.display()))?;
    let key_der = rustls_pemfile::private_key(&mut std::io::BufReader::new(f))
        .map_err(|e| anyhow::anyhow!("rdap_tls_key {}: {e}", key.display()))?
        .ok_or_else(|| {
            anyhow::anyhow!("rdap_tls_key {}: no PEM private key found", key.display())
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| anyhow::anyhow!("RDAP TLS certificate/key: {e}"))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// The router (also used directly by tests).
pub fn router(state: Arc<RdapState>) -> Router {
    Router::new()
        .route("/domain/{name}", get(domain))
        .route("/nameserver/{name}", get(nameserver))
        .route("/entity/{handle}", get(entity))
        .route("/help", get(help))
        .fallback(fallback)
        .method_not_allowed_fallback(not_allowed)
        .layer(axum::middleware::map_response(cors))
        .with_state(state)
}

/// Serves RDAP on `listener` until the task is dropped: HTTP/1.1 through
/// hyper's connection builder (what `axum::serve` wraps, without its
/// HTTP/2 sniffing read) with the router as the service, except that a
/// plain-HTTP request asking to close its connection is answered in the
/// accept loop ([`fast`]). Sockets hyper serves get `TCP_NODELAY` (without
/// it a response written in two segments waits for the client's delayed
/// ACK: ~40 ms per request on a kept-alive connection). TLS handshakes run
/// in the connection's own task with a 10 s timeout, so a slow client
/// cannot stall the accept loop. A client gets hyper's default 30 s to send
/// a request's header.
pub async fn serve(
    state: Arc<RdapState>,
    listener: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
) {
    let app = router(state);
    match tls {
        None => serve_plain(app, listener).await,
        Some(acc) => serve_tls(app, listener, acc).await,
    }
}

async fn serve_plain(app: Router, listener: std::net::TcpListener) {
    let listener = match workers::listener(listener) {
        Ok(l) => l,
        Err(e) => return tracing::error!(error = %e, "rdap listener"),
    };
    loop {
        let (sock, peer) = crate::accept_with(|| workers::accept(&listener), "rdap").await;
        let Some(sock) = fast::serve(&app, sock.into(), peer).await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        match tokio::net::TcpStream::from_std(sock) {
            Ok(sock) => drop(tokio::spawn(serve_connection(sock, peer, app.clone()))),
            Err(e) => tracing::warn!(error = %e, "rdap: cannot register a connection"),
        }
    }
}

async fn serve_tls(app: Router, listener: std::net::TcpListener, tls: TlsAcceptor) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => return tracing::error!(error = %e, "rdap listener"),
    };
    loop {
        let (sock, peer) = crate::accept(&listener, "rdap").await;
        let _ = sock.set_nodelay(true);
        let (app, acc) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(10), acc.accept(sock)).await {
                Ok(Ok(s)) => serve_connection(s, peer, app).await,
                Ok(Err(e)) => {
                    tracing::debug!(client = %peer, error = %e, "rdap TLS handshake failed")
                }
                Err(_) => tracing::debug!(client = %peer, "rdap TLS handshake timed out"),
            }
        });
    }
}

/// Requests on one connection until either side closes it.
async fn serve_connection<I>(io: I, peer: SocketAddr, app: Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
        app.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    if let Err(e) = conn.await {
        tracing::debug!(client = %peer, error = %e, "rdap connection ended with an error");
    }
}

async fn cors(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

fn rdap(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let body: Bytes = body.into();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/rdap+json"),
        )],
        body,
    )
        .into_response()
}

impl RdapState {
    fn ctx(&self, uri: &Uri) -> json::Ctx<'_> {
        json::Ctx {
            base: &self.base,
            request_url: format!("{}{}", self.base, uri.path().trim_start_matches('/')),
            terms: &self.rdds.terms,
            terms_url: &self.rdds.terms_url,
            redact: self.rdds.cfg.redact,
            port43: self.port43.as_deref(),
            email: self.rdds.contact_point(),
        }
    }

    /// Counts the request; `Some(429)` when the client is over its limit.
    fn limit(&self, ip: std::net::IpAddr, c: &json::Ctx) -> Option<Response> {
        if !self.rdds.cfg.limit_rdap {
            return None;
        }
        let Verdict::Limited {
            retry_after,
            scope,
            new_block,
        } = self.rdds.rdap_limiter.check(ip, Instant::now())
        else {
            return None;
        };
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let m = &self.rdds.metrics;
        m.limited.with_label_values(&["rdap", scope.as_str()]).inc();
        if new_block {
            m.blocks.with_label_values(&["rdap", scope.as_str()]).inc();
            tracing::warn!(client = %ip, scope = scope.as_str(), block_seconds = secs, "rdap: rate limit exceeded, client blocked");
        }
        let mut r = rdap(
            StatusCode::TOO_MANY_REQUESTS,
            json::error(
                429,
                "Too Many Requests",
                &format!("Query rate limit exceeded. Try again in {secs} seconds."),
                c,
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        Some(r)
    }

    /// A domain answer, from the cache while it is current.
    fn domain(&self, n: &QName, c: &json::Ctx) -> SResult<Option<Bytes>> {
        let (store, cache) = (&self.rdds.store, &self.rdds.rdap_cache);
        let now = store.clock.now();
        if let Some(b) = cache.get(store, &n.ascii, &c.request_url, now)? {
            return Ok(Some(b));
        }
        let generation = store.generation();
        let Some((v, deps)) = DomainView::load_with_deps(store, n)? else {
            return Ok(None);
        };
        let b = Bytes::from(json::domain(&v, c));
        cache.put(
            &n.ascii,
            &c.request_url,
            b.clone(),
            (v.now, generation),
            v.stable_until(),
            deps,
        );
        Ok(Some(b))
    }

    fn done(&self, kind: &str, started: Instant, r: Response) -> Response {
        let m = &self.rdds.metrics;
        m.rdap_requests
            .with_label_values(&[kind, r.status().as_str()])
            .inc();
        m.rdap_latency.observe(started.elapsed().as_secs_f64());
        r
    }
}

fn not_found(what: &str, c: &json::Ctx) -> Response {
    rdap(
        StatusCode::NOT_FOUND,
        json::error(404, "Not Found", &format!("{what} not found."), c),
    )
}

fn bad_request(why: &str, c: &json::Ctx) -> Response {
    rdap(
        StatusCode::BAD_REQUEST,
        json::error(400, "Bad Request", why, c),
    )
}

fn internal(e: impl std::fmt::Display, c: &json::Ctx) -> Response {
    tracing::error!(error = %e, "rdap: store read failed");
    rdap(
        StatusCode::INTERNAL_SERVER_ERROR,
        json::error(500, "Internal Server Error", "Please try again later.", c),
    )
}

type NameArg = Result<Path<String>, axum::extract::rejection::PathRejection>;

async fn domain(
    State(st): State<Arc<RdapState>>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    uri: Uri,
    name: NameArg,
) -> Response {
    let t = Instant::now();
    let c = st.ctx(&uri);
    if let Some(r) = st.limit(peer.ip(), &c) {
        return st.done("domain", t, r);
    }
    let r = match name
        .map_err(|e| e.body_text())
        .and_then(|Path(n)| normalize_name(&n))
    {
        Err(why) => bad_request(&why, &c),
        Ok(n) => match st.domain(&n, &c) {
            Ok(Some(b)) => rdap(StatusCode::OK, b),
            Ok(None) => not_found("Domain", &c),
            Err(e) => internal(e, &c),
        },
    };
    tracing::debug!(client = %peer, path = %uri.path(), status = r.status().as_u16(), "rdap request");
    st.done("domain", t, r)
}

async fn nameserver(
    State(st): State<Arc<RdapState>>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    uri: Uri,
    name: NameArg,
) -> Response {
    let t = Instant::now();
    let c = st.ctx(&uri);
    if let Some(r) = st.limit(peer.ip(), &c) {
        return st.done("nameserver", t, r);
    }
    let r = match name
        .map_err(|e| e.body_text())
        .and_then(|Path(n)| normalize_name(&n))
    {
        Err(why) => bad_request(&why, &c),
        Ok(n) => match HostView::load(&st.rdds.store, &n) {
            Ok(Some(v)) => rdap(StatusCode::OK, json::nameserver(&v, &c)),
            Ok(None) => not_found("Nameserver", &c),
            Err(e) => internal(e, &c),
        },
    };
    tracing::debug!(client = %peer, path = %uri.path(), status = r.status().as_u16(), "rdap request");
    st.done("nameserver", t, r)
}

async fn entity(
    State(st): State<Arc<RdapState>>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    uri: Uri,
    handle: NameArg,
) -> Response {
    let t = Instant::now();
    let c = st.ctx(&uri);
    if let Some(r) = st.limit(peer.ip(), &c) {
        return st.done("entity", t, r);
    }
    let r = match handle {
        Err(e) => bad_request(&e.body_text(), &c),
        Ok(Path(h)) if h.is_empty() || h.len() > 255 || h.chars().any(char::is_control) => {
            bad_request("invalid entity handle", &c)
        }
        Ok(Path(h)) => match find_registrar(&st.rdds.store, &h) {
            Ok(Some(r)) => rdap(
                StatusCode::OK,
                json::entity(&r, &c, st.rdds.store.clock.now()),
            ),
            Ok(None) => not_found("Entity", &c),
            Err(e) => internal(e, &c),
        },
    };
    tracing::debug!(client = %peer, path = %uri.path(), status = r.status().as_u16(), "rdap request");
    st.done("entity", t, r)
}

async fn help(State(st): State<Arc<RdapState>>, uri: Uri) -> Response {
    let t = Instant::now();
    let c = st.ctx(&uri);
    st.done(
        "help",
        t,
        rdap(StatusCode::OK, json::help(&c, &st.rdds.tld)),
    )
}

async fn fallback(State(st): State<Arc<RdapState>>, uri: Uri) -> Response {
    let t = Instant::now();
    let c = st.ctx(&uri);
    let first = uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let r = match first {
        "domains" | "nameservers" | "entities" | "ip" | "autnum" => rdap(
            StatusCode::NOT_IMPLEMENTED,
            json::error(
                501,
                "Not Implemented",
                "This server answers domain, nameserver, entity and help queries only.",
                &c,
            ),
        ),
        _ => not_found("Object", &c),
    };
    st.done("other", t, r)
}

/// Any method but GET and HEAD on a known path: 405 with an RDAP error
/// body (axum adds the `Allow` header).
async fn not_allowed(State(st): State<Arc<RdapState>>, uri: Uri) -> Response {
    let t = Instant::now();
    let c = st.ctx(&uri);
    let r = rdap(
        StatusCode::METHOD_NOT_ALLOWED,
        json::error(
            405,
            "Method Not Allowed",
            "RDAP queries use GET or HEAD.",
            &c,
        ),
    );
    st.done("other", t, r)
}
