//! The EPP port against anonymous clients (`tldd_srs::epp::guard`), on the
//! real `tldd srs`: idle TCP connections from other loopback addresses
//! (127.0.0.2 and up) hold only the pre-login pool, never a registrar's
//! place; the per-address cap closes the extra ones at once; the handshake
//! and login deadlines close what waits; wrong passwords over several
//! connections meet the backoff. Every wait is for an observable event
//! (a close, a counter); the durations are safety bounds only.
use crate::support::srs::*;
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

const SAFETY: Duration = Duration::from_secs(20);

/// Whether the server has closed `s` (EOF or reset); does not block.
fn closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    match (&*s).read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

fn count_closed(conns: &[TcpStream]) -> usize {
    conns.iter().filter(|s| closed(s)).count()
}

fn wait_metric(srs: &Srs, series: &str, want: f64) {
    wait_for(&format!("{series} = {want}"), SAFETY, || {
        srs.metric(series) == want
    });
}

const WAITING: &str = "tldd_srs_epp_prelogin_connections";
const PER_ADDRESS: &str = "tldd_srs_epp_prelogin_refused_total{reason=\"per_address\"}";
const EVICTED: &str = "tldd_srs_epp_prelogin_refused_total{reason=\"evicted\"}";

#[test]
fn a_flood_of_idle_connections_leaves_room_for_a_registrar() {
    let tmp = tempfile::tempdir().unwrap();
    // a long handshake deadline: nothing here is closed by time
    let mut srs = Srs::new(
        tmp.path(),
        free_port(),
        "epp_prelogin_per_address = 2\nepp_prelogin_max = 4\nepp_handshake_timeout = \"60s\"\n",
    );
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.start();
    wait_metric(&srs, WAITING, 0.0); // the harness's probe connection is gone

    // three from 127.0.0.2: the third is closed at accept
    let two: Vec<TcpStream> = (0..3)
        .map(|_| tcp_from("127.0.0.2", srs.epp_port))
        .collect();
    wait_for("one of 127.0.0.2's to be closed", SAFETY, || {
        count_closed(&two) == 1
    });
    assert_eq!(srs.metric(PER_ADDRESS), 1.0);
    wait_metric(&srs, WAITING, 2.0);
    // two from 127.0.0.3 fill the pool (4)
    let three: Vec<TcpStream> = (0..2)
        .map(|_| tcp_from("127.0.0.3", srs.epp_port))
        .collect();
    wait_metric(&srs, WAITING, 4.0);
    // 127.0.0.4, with nothing waiting, pushes out the oldest of a heaviest source
    let four = tcp_from("127.0.0.4", srs.epp_port);
    wait_metric(&srs, EVICTED, 1.0);
    wait_for("127.0.0.2's oldest to be evicted", SAFETY, || {
        count_closed(&two) == 2
    });
    assert_eq!(srs.metric(WAITING), 4.0);

    // while the flood waits, the registrar connects, logs in and works
    let mut c = RawEpp::connect(srs.epp_port, Some(&cert));
    assert_eq!(c.login("reg-a", "passA-123"), 1000);
    assert!(c
        .req("<?xml version=\"1.0\"?><epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><hello/></epp>")
        .contains("<greeting>"));
    assert_eq!(srs.metric(EVICTED), 2.0, "it took 127.0.0.3's oldest place");
    wait_for("127.0.0.3's oldest to be evicted", SAFETY, || {
        count_closed(&three) == 1
    });
    // logged in, it no longer counts: the pool holds one from each flood address
    wait_metric(&srs, WAITING, 3.0);
    assert!(!closed(&four));
    assert_eq!((count_closed(&two), count_closed(&three)), (2, 1));
}

#[test]
fn idle_connections_are_closed_at_the_handshake_and_login_deadlines() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srs = Srs::new(
        tmp.path(),
        free_port(),
        "epp_handshake_timeout = \"300ms\"\nepp_login_timeout = \"500ms\"\n",
    );
    let cert = srs.add_registrar("reg-a", "passA-123", &[]);
    srs.start();

    // no ClientHello: closed at the handshake deadline
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| tcp_from("127.0.0.5", srs.epp_port))
        .collect();
    wait_for("the idle connections to be closed", SAFETY, || {
        count_closed(&idle) == 3
    });
    wait_metric(
        &srs,
        "tldd_srs_epp_timeouts_total{phase=\"handshake\"}",
        3.0,
    );

    // logged in before the other's deadline: not subject to it
    let mut logged = RawEpp::connect(srs.epp_port, Some(&cert));
    assert_eq!(logged.login("reg-a", "passA-123"), 1000);
    // greeted, no <login>: 2500 "login timeout", then closed
    let mut waiting = RawEpp::connect(srs.epp_port, Some(&cert));
    let last = waiting.recv().expect("an answer at the login deadline");
    assert_eq!(result_code(&last), 2500, "{last}");
    assert!(last.contains("login timeout"), "{last}");
    assert!(waiting.recv().is_none());
    assert_eq!(
        srs.metric("tldd_srs_epp_timeouts_total{phase=\"login\"}"),
        1.0
    );
    assert!(logged
        .req("<?xml version=\"1.0\"?><epp xmlns=\"urn:ietf:params:xml:ns:epp-1.0\"><hello/></epp>")
        .contains("<greeting>"));
}

#[test]
fn failed_logins_back_off_across_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let mut srs = Srs::new(
        tmp.path(),
        free_port(),
        "epp_max_login_failures = 2\nepp_login_failures_before_backoff = 3\n\
         epp_login_backoff_initial = \"1h\"\nepp_login_backoff_max = \"1h\"\n",
    );
    let ca = srs.add_registrar("reg-a", "passA-123", &[]);
    let cb = srs.add_registrar("reg-b", "passB-123", &[]);
    srs.start();
    let login = |source: &str, cert: Option<&Cert>, clid: &str, pws: &[(&str, u16)]| {
        let mut c = RawEpp::connect_from(srs.epp_port, cert, source);
        let mut last = String::new();
        for (pw, code) in pws {
            last = c.req(&login_xml(clid, pw));
            assert_eq!(result_code(&last), *code, "{source} {clid} {pw}: {last}");
        }
        if matches!(result_code(&last), 2501 | 2502) {
            assert!(c.recv().is_none(), "closed after {last}");
        }
        last
    };

    // without a certificate from 127.0.0.7: the address backs off ...
    login(
        "127.0.0.7",
        None,
        "reg-a",
        &[("guess-1", 2200), ("guess-2", 2501)],
    );
    let r = login(
        "127.0.0.7",
        None,
        "reg-a",
        &[("guess-3", 2200), ("passA-123", 2501)],
    );
    assert!(
        r.contains("login backoff") && r.contains("from this address"),
        "{r}"
    );
    // ... even for the right credentials, which are not even checked
    login("127.0.0.7", Some(&ca), "reg-a", &[("passA-123", 2501)]);
    assert_eq!(
        srs.metric("tldd_srs_epp_login_backoff_total{scope=\"address\"}"),
        2.0
    );
    // ... but the registrar is not locked out: those guesses had no certificate
    login("127.0.0.1", Some(&ca), "reg-a", &[("passA-123", 1000)]);

    // with reg-b's own certificate (a stolen key), from two addresses
    login(
        "127.0.0.8",
        Some(&cb),
        "reg-b",
        &[("guess-1", 2200), ("guess-2", 2501)],
    );
    login("127.0.0.9", Some(&cb), "reg-b", &[("guess-3", 2200)]);
    let r = login("127.0.0.10", Some(&cb), "reg-b", &[("passB-123", 2501)]);
    assert!(
        r.contains("login backoff") && r.contains("for this client ID"),
        "{r}"
    );
    assert_eq!(
        srs.metric("tldd_srs_epp_login_backoff_total{scope=\"clid\"}"),
        1.0
    );
    login("127.0.0.10", Some(&ca), "reg-a", &[("passA-123", 1000)]);

    // a success resets the client ID's count: 2 + 2 failures stay under 3
    login(
        "127.0.0.11",
        Some(&ca),
        "reg-a",
        &[("guess-1", 2200), ("guess-2", 2501)],
    );
    login("127.0.0.1", Some(&ca), "reg-a", &[("passA-123", 1000)]);
    login(
        "127.0.0.12",
        Some(&ca),
        "reg-a",
        &[("guess-3", 2200), ("guess-4", 2501)],
    );
    login("127.0.0.13", Some(&ca), "reg-a", &[("passA-123", 1000)]);
}
