//! A trivial server with the same connection pattern as tldd's (tokio,
//! task per connection, TCP_CORK, close after the answer) and fixed answers
//! of the same sizes: what is left of the latency without the SRS.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn run(whois: &str, rdap: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = TcpListener::bind(format!("127.0.0.1:{whois}"))
            .await
            .unwrap();
        let r = TcpListener::bind(format!("127.0.0.1:{rdap}"))
            .await
            .unwrap();
        tokio::spawn(serve(w, false));
        serve(r, true).await
    })
}

/// One current-thread runtime per core, each with its own
/// SO_REUSEPORT listeners: no work stealing, no cross-thread wake-ups.
pub fn run_per_core(whois: &str, rdap: &str) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (w, r) = (listener(whois), listener(rdap));
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let w = TcpListener::from_std(w).unwrap();
                    let r = TcpListener::from_std(r).unwrap();
                    tokio::spawn(serve(w, false));
                    serve(r, true).await
                })
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

fn listener(port: &str) -> std::net::TcpListener {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    s.set_nonblocking(true).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    s.bind(&addr.into()).unwrap();
    s.listen(1024).unwrap();
    s.into()
}

async fn serve(l: TcpListener, http: bool) {
    loop {
        let Ok((s, _)) = l.accept().await else {
            continue;
        };
        tokio::spawn(if http { rdap(s) } else { whois(s) });
    }
}

fn pad(head: &str, n: usize) -> Vec<u8> {
    let mut v = head.as_bytes().to_vec();
    v.resize(n, b'x');
    v
}

fn whois(mut s: TcpStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut buf = [0u8; 512];
        if !matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
            return;
        }
        let _ = socket2::SockRef::from(&s).set_tcp_cork(true);
        let _ = s.write_all(&pad("Domain Name: d", 3543)).await;
    })
}

fn rdap(mut s: TcpStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.set_nodelay(true);
        let body = pad("{", 7098);
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let Ok(n) = s.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            req.extend_from_slice(&buf[..n]);
            if !req.ends_with(b"\r\n\r\n") {
                continue;
            }
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            let close = req.windows(17).any(|w| w == b"Connection: close");
            req.clear();
            if s.write_all(&[head.as_bytes(), &body].concat())
                .await
                .is_err()
                || close
            {
                let _ = s.shutdown().await;
                return;
            }
        }
    })
}
