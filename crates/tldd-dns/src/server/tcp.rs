//! DNS over TCP (RFC 7766): two-byte length framing, several queries per
//! connection (answered in order), an idle timeout, and a cap on concurrent
//! connections (excess connections are closed at accept and counted).
//! DNS cookies are answered as on UDP; rate limiting never applies here.
use super::dispatch::{self, Reply, Services};
use crate::metrics::LocalCounts;
use crate::wire::{self, Query, Transport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Binds one `server.listen` address: the UDP sockets (one per worker,
/// see [`super::udp::bind`]) and the TCP listener on the same port. With
/// port 0 the kernel picks the UDP port, which may be taken for TCP (an
/// outgoing connection's local port, say), so a few picks are tried.
pub fn bind_with_udp(
    addr: SocketAddr,
    workers: usize,
) -> anyhow::Result<(Vec<socket2::Socket>, SocketAddr, std::net::TcpListener)> {
    use anyhow::Context;
    let attempts = if addr.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let first = super::udp::bind(addr).with_context(|| format!("server.listen: udp {addr}"))?;
        let actual = first
            .local_addr()?
            .as_socket()
            .context("udp socket address")?;
        match tcp_listener(actual) {
            Ok(tcp) => {
                let mut socks = vec![first];
                for _ in 1..workers {
                    socks.push(
                        super::udp::bind(actual)
                            .with_context(|| format!("server.listen: udp {actual}"))?,
                    );
                }
                return Ok((socks, actual, tcp));
            }
            Err(e) => last = Some((actual, e)),
        }
    }
    let (actual, e) = last.expect("at least one attempt");
    Err(e).with_context(|| format!("server.listen: tcp {actual}"))
}

/// A non-blocking TCP listener (SO_REUSEADDR, backlog 1024, as tokio's
/// own `bind` makes it).
fn tcp_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Accepts connections on `listener` forever.
pub async fn serve(listener: TcpListener, svc: Arc<Services>, max: usize, idle: Duration) {
    let limit = Arc::new(Semaphore::new(max));
    let label = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let m = svc.metrics.clone();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("tcp accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            m.tcp_refused.with_label_values(&[&label]).inc();
            drop(stream);
            continue;
        };
        let svc = svc.clone();
        let gauge = m.tcp_connections.with_label_values(&[&label]);
        gauge.inc();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, svc, idle).await {
                tracing::debug!(%peer, "tcp: {e}");
            }
            gauge.dec();
            drop(permit);
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    svc: Arc<Services>,
    idle: Duration,
) -> std::io::Result<()> {
    let (zones, params) = (svc.zones.clone(), svc.params.clone());
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let mut wr = BufWriter::new(wr);
    let mut q = Box::<Query>::default();
    let mut inbuf = vec![0u8; 65535];
    let mut out = vec![0u8; 65535 + 2];
    let mut counts = LocalCounts::new("tcp", svc.metrics.clone());
    loop {
        let len = match tokio::time::timeout(idle, rd.read_u16()).await {
            Err(_) => break, // idle
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Ok(r) => r? as usize,
        };
        tokio::time::timeout(idle, rd.read_exact(&mut inbuf[..len]))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow query"))??;
        let snapshot = zones.load();
        let secrets = svc.cookies.load();
        let client = wire::Client {
            ip: peer.ip(),
            now: dispatch::now_secs(),
            cookies: &secrets,
        };
        let pkt = &inbuf[..len];
        let (rlen, oc) = wire::respond_from(
            &snapshot,
            &params,
            pkt,
            &mut q,
            &mut out[2..],
            Transport::Tcp,
            Some(&client),
        );
        drop(secrets);
        drop(snapshot);
        counts.record(&oc);
        if oc.handoff {
            match dispatch::dispatch(&svc, pkt, peer, Transport::Tcp).await {
                Reply::None => break,
                Reply::One(r) => write_msg(&mut wr, &r).await?,
                Reply::Stream(mut rx) => {
                    while let Some(r) = rx.recv().await {
                        write_msg(&mut wr, &r).await?;
                    }
                }
            }
            wr.flush().await?;
            continue;
        }
        if rlen == 0 {
            break;
        }
        out[..2].copy_from_slice(&(rlen as u16).to_be_bytes());
        wr.write_all(&out[..rlen + 2]).await?;
        // Flush when no further query is already waiting (pipelining batches writes).
        wr.flush().await?;
    }
    counts.flush();
    Ok(())
}

async fn write_msg<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, msg: &[u8]) -> std::io::Result<()> {
    if msg.len() > 65535 {
        return Err(std::io::Error::other("message too large"));
    }
    w.write_all(&(msg.len() as u16).to_be_bytes()).await?;
    w.write_all(msg).await
}
