//! Free loopback ports for the servers the tests start (one copy for every
//! test harness: `tests/common` and `tests/srs/common.rs` include it).

/// A loopback port free for both TCP and UDP at the time of asking (DNS
/// servers bind both; a TCP-only service simply ignores the UDP side).
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
