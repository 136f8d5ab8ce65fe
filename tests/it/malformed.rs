//! Malformed, truncated and random packets never crash tldd or stop it
//! answering; malformed queries with a readable header get FORMERR.
use crate::support::serve as common;
use common::*;
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[test]
fn garbage_then_a_normal_query_is_answered() {
    let s = Server::with_zone("shop.", &repo("zones/shop.zone"), "");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let good = query_packet(7, "shop.", 6);
    for i in 0..5000 {
        let pkt: Vec<u8> = match i % 4 {
            // Random bytes of random length.
            0 => (0..rng.random_range(0..600))
                .map(|_| rng.random())
                .collect(),
            // A good query cut short.
            1 => good[..rng.random_range(0..good.len())].to_vec(),
            // A good query with bytes flipped.
            2 => {
                let mut p = good.clone();
                for _ in 0..rng.random_range(1..4) {
                    let k = rng.random_range(0..p.len());
                    p[k] = rng.random();
                }
                p
            }
            // A good query with junk appended (OPT-looking or not).
            _ => {
                let mut p = good.clone();
                p[11] = 1;
                p.extend((0..rng.random_range(0..40)).map(|_| rng.random::<u8>()));
                p
            }
        };
        sock.send_to(&pkt, s.addr).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let r = udp_exchange(s.addr, &good, Duration::from_secs(3)).expect("still answering");
    assert_eq!(&r[..2], &[0, 7]);
    assert_eq!(r[3] & 0xf, 0, "NOERROR");
    // Garbage over TCP too.
    {
        use std::io::Write;
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        let _ = c.write_all(&[0, 5, 1, 2, 3, 4, 5, 0xff, 0xff]);
    }
    assert!(udp_exchange(s.addr, &good, Duration::from_secs(3)).is_some());
    assert!(s.stop(), "clean exit after the storm");
}

#[test]
fn formerr_for_bad_questions_and_silence_for_headers() {
    let s = Server::with_zone("shop.", &repo("zones/shop.zone"), "");
    // Header only, claiming one question: FORMERR without question.
    let r = udp_exchange(
        s.addr,
        &[0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        Duration::from_secs(3),
    )
    .expect("FORMERR");
    assert_eq!(r[3] & 0xf, 1);
    assert_eq!(&r[4..6], &[0, 0]);
    // Two OPT records: FORMERR with the question echoed.
    let mut p = query_packet(10, "shop.", 6);
    p[11] = 2;
    for _ in 0..2 {
        p.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    }
    let r = udp_exchange(s.addr, &p, Duration::from_secs(3)).expect("FORMERR");
    assert_eq!(r[3] & 0xf, 1);
    assert_eq!(&r[4..6], &[0, 1]);
    // Compression pointer in the question: FORMERR.
    let mut p = vec![0, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1];
    let r = udp_exchange(s.addr, &p, Duration::from_secs(3)).expect("FORMERR");
    assert_eq!(r[3] & 0xf, 1);
    // Shorter than a header, or a response (QR=1): no answer at all.
    assert!(udp_exchange(s.addr, &[1, 2, 3], Duration::from_millis(500)).is_none());
    p = query_packet(12, "shop.", 6);
    p[2] |= 0x80;
    assert!(udp_exchange(s.addr, &p, Duration::from_millis(500)).is_none());
}
