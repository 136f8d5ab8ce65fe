//! What one Whois query line gets, whichever path read it ([`super::fast`]
//! or the async one in [`super::server`]): the line is collected with
//! [`LineReader`] (length limit, CR/LF handling), the rate limiter runs,
//! then [`answer`] renders the text (domain answers from the cache while
//! they are current). Metrics and logs are counted here, once per query.
use super::query::{self, Query};
use super::text::{self, Footer};
use super::view::{find_registrar, DomainView, HostView, QName};
use super::Rdds;
use crate::clock::Ts;
use crate::db::SResult;
use axum::body::Bytes;
use std::net::SocketAddr;
use std::time::Instant;

/// Why no query line came.
pub enum ReadError {
    TooLong,
    /// The client closed (or failed) before sending anything.
    Io,
}

/// A query line as it arrives: the line without CR/LF, and whether more
/// bytes came after it.
pub type Line = Result<(Vec<u8>, bool), ReadError>;

/// Collects the query line from the chunks read off the socket.
pub struct LineReader {
    buf: Vec<u8>,
    max: usize,
}

impl LineReader {
    pub fn new(max: usize) -> LineReader {
        LineReader {
            buf: Vec::with_capacity(128),
            max,
        }
    }

    /// Takes the next chunk; the line once it is complete or too long.
    pub fn push(&mut self, chunk: &[u8]) -> Option<Line> {
        if let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            self.buf.extend_from_slice(&chunk[..pos]);
            return Some(self.take(pos + 1 < chunk.len()));
        }
        self.buf.extend_from_slice(chunk);
        (self.buf.len() > self.max + 1).then_some(Err(ReadError::TooLong))
    }

    /// The client closed: what came is the line, if anything came.
    pub fn eof(mut self) -> Line {
        if self.buf.is_empty() {
            return Err(ReadError::Io);
        }
        self.take(false)
    }

    fn take(&mut self, more: bool) -> Line {
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > self.max {
            return Err(ReadError::TooLong);
        }
        Ok((line, more))
    }
}

/// What to send back, and whether to drain the client after it.
pub struct Reply {
    pub text: Bytes,
    /// The client may still be sending: half-close and read until it
    /// closes, so the close does not become a reset (see `finish_with`).
    pub drain: bool,
    /// When an answered (not refused) query started, for the latency
    /// histogram once the answer is written.
    pub answered: Option<Instant>,
}

impl Reply {
    /// A refusal: one line, then the drained close.
    pub fn refusal(text: impl Into<Bytes>) -> Reply {
        Reply {
            text: text.into(),
            drain: true,
            answered: None,
        }
    }

    /// Counts an answered query's latency once its answer is written.
    pub fn written(&self, rdds: &Rdds) {
        if let Some(started) = self.answered {
            rdds.metrics
                .whois_latency
                .observe(started.elapsed().as_secs_f64());
        }
    }
}

/// What `line` (as read) gets: None when the client sent nothing (close).
pub fn respond(rdds: &Rdds, peer: SocketAddr, line: Line) -> Option<Reply> {
    match line {
        Err(ReadError::Io) => None,
        Err(ReadError::TooLong) => {
            rdds.metrics
                .whois_queries
                .with_label_values(&["refused", "too_long"])
                .inc();
            tracing::info!(client = %peer, "whois: query too long");
            let max = rdds.cfg.max_query_length;
            Some(Reply::refusal(format!(
                "Query too long: at most {max} bytes.\r\n"
            )))
        }
        Ok((line, more)) => Some(query_reply(rdds, peer, &line, more)),
    }
}

/// The rate limiter's verdict, then the answer.
fn query_reply(rdds: &Rdds, peer: SocketAddr, line: &[u8], more: bool) -> Reply {
    let started = Instant::now();
    if let super::limit::Verdict::Limited {
        retry_after,
        scope,
        new_block,
    } = rdds.whois_limiter.check(peer.ip(), started)
    {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        rdds.metrics
            .limited
            .with_label_values(&["whois", scope.as_str()])
            .inc();
        rdds.metrics
            .whois_queries
            .with_label_values(&["refused", "limited"])
            .inc();
        if new_block {
            rdds.metrics
                .blocks
                .with_label_values(&["whois", scope.as_str()])
                .inc();
            tracing::warn!(client = %peer, scope = scope.as_str(), block_seconds = secs, "whois: rate limit exceeded, client blocked");
        } else {
            tracing::info!(client = %peer, retry_after = secs, "whois: query refused, client blocked");
        }
        return Reply::refusal(format!(
            "Query rate limit exceeded. Try again in {secs} seconds.\r\n"
        ));
    }
    let (kind, result, text) = answer(rdds, line);
    rdds.metrics
        .whois_queries
        .with_label_values(&[kind, result])
        .inc();
    let query = String::from_utf8_lossy(line);
    tracing::debug!(client = %peer, query = %query.escape_debug(), kind, result, "whois query");
    // a client that sent just its line gets the answer and the close at
    // once; one that sent more is drained first
    Reply {
        text,
        drain: more,
        answered: Some(started),
    }
}

/// A name server answer; a miss says "`missing` not found.".
fn nameserver(
    rdds: &Rdds,
    n: &QName,
    missing: &str,
    now: Ts,
    footer: &Footer,
) -> SResult<(&'static str, &'static str, Bytes)> {
    Ok(match HostView::load(&rdds.store, n)? {
        Some(v) => ("nameserver", "found", text::host(&v, footer).into()),
        None => (
            "nameserver",
            "not_found",
            text::not_found(missing, now, footer).into(),
        ),
    })
}

/// Answers one query line: (type, result, text) for metrics and the client.
pub fn answer(rdds: &Rdds, line: &[u8]) -> (&'static str, &'static str, Bytes) {
    let footer = Footer {
        terms: &rdds.terms,
        email: rdds.contact_point(),
    };
    let now = rdds.store.clock.now();
    let q = match query::parse(line, &rdds.tld) {
        Ok(q) => q,
        Err(e) => return ("invalid", "error", format!("{}\r\n", e.message()).into()),
    };
    let res = match &q {
        Query::Domain(n) => domain(rdds, n, now, &footer),
        Query::Nameserver(n) => nameserver(rdds, n, "Nameserver", now, &footer),
        // a bare name: a name server if registered, else a miss like any
        Query::Name(n) => nameserver(rdds, n, "Domain", now, &footer),
        Query::Registrar(r) => find_registrar(&rdds.store, r).map(|v| match v {
            Some(r) => (
                "registrar",
                "found",
                text::registrar(&r, now, &footer).into(),
            ),
            None => (
                "registrar",
                "not_found",
                text::not_found("Registrar", now, &footer).into(),
            ),
        }),
    };
    res.unwrap_or_else(|e| {
        tracing::error!(error = %e, "whois: store read failed");
        (
            "invalid",
            "error",
            Bytes::from_static(b"Internal error; please try again later.\r\n"),
        )
    })
}

/// A domain answer, from the cache while it is current.
fn domain(
    rdds: &Rdds,
    n: &QName,
    now: Ts,
    footer: &Footer,
) -> SResult<(&'static str, &'static str, Bytes)> {
    if let Some(b) = rdds.whois_cache.get(&rdds.store, &n.ascii, "", now)? {
        return Ok(("domain", "found", b));
    }
    let generation = rdds.store.generation();
    Ok(match DomainView::load_with_deps(&rdds.store, n)? {
        Some((v, deps)) => {
            let b = Bytes::from(text::domain(&v, rdds.cfg.redact, footer));
            rdds.whois_cache.put(
                &n.ascii,
                "",
                b.clone(),
                (v.now, generation),
                v.stable_until(),
                deps,
            );
            ("domain", "found", b)
        }
        None => (
            "domain",
            "not_found",
            text::not_found("Domain", now, footer).into(),
        ),
    })
}
