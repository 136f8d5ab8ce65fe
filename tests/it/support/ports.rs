//! Free loopback ports for the servers the tests start (one copy for every
//! test harness: `tests/common` and `tests/srs/common.rs` include it).

use std::collections::HashSet;
use std::sync::Mutex;

/// Ports already handed out in this test process: a port is released as
/// soon as it is chosen, and the kernel may offer it again before the
/// server meant to take it has bound it.
static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port free for both TCP and UDP at the time of asking (DNS
/// servers bind both; a TCP-only service simply ignores the UDP side), and
/// never one this process was given before.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}
