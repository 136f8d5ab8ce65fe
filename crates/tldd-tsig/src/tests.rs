//! Unit tests of signing, verification and the replay cache.
use super::*;

fn key(alg: Alg) -> Arc<Key> {
    Arc::new(Key::new("k1.", alg, b"0123456789abcdef").unwrap())
}

fn ring_of(k: &Arc<Key>) -> KeyRing {
    KeyRing {
        keys: vec![k.clone()],
    }
}

fn request() -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    p.extend_from_slice(b"\x04shop\x00\x00\x06\x00\x01");
    p
}

#[test]
fn request_round_trip_all_algorithms() {
    for alg in [Alg::Sha1, Alg::Sha256, Alg::Sha384, Alg::Sha512] {
        let k = key(alg);
        let mut p = request();
        let len = p.len();
        Signer::request(k.clone()).sign(&mut p, 1000);
        let v = ring_of(&k).verify(&p, len, 1000).unwrap();
        assert_eq!(v.time, 1000);
        // Tampering breaks it.
        let mut bad = p.clone();
        bad[13] ^= 1;
        assert!(matches!(
            ring_of(&k).verify(&bad, len, 1000),
            Err(Failure::Unsigned(Unsigned { error: BADSIG, .. }))
        ));
        // Time outside the fudge.
        assert!(matches!(
            ring_of(&k).verify(&p, len, 1000 + 301),
            Err(Failure::BadTime(_))
        ));
    }
}

#[test]
fn unknown_key_is_badkey() {
    let k = key(Alg::Sha256);
    let other = Arc::new(Key::new("k2.", Alg::Sha256, b"x").unwrap());
    let mut p = request();
    let len = p.len();
    Signer::request(k).sign(&mut p, 5);
    assert!(matches!(
        ring_of(&other).verify(&p, len, 5),
        Err(Failure::Unsigned(Unsigned { error: BADKEY, .. }))
    ));
}

#[test]
fn multi_message_stream_verifies() {
    let k = key(Alg::Sha256);
    let mut req = request();
    let mut client = Signer::request(k.clone());
    client.sign(&mut req, 77);
    let v = ring_of(&k).verify(&req, request().len(), 77).unwrap();
    let mut server = v.signer();
    let mut check = Verifier::new(&client);
    for i in 0..3u8 {
        let mut m = request();
        m[2] |= 0x80;
        m[1] = i;
        server.sign(&mut m, 78);
        assert_eq!(find_tsig(&m), Some(request().len()));
        check.check(&m, 78).unwrap();
    }
    assert!(check.settled());
}

#[test]
fn the_fudge_a_message_claims_is_capped() {
    let k = key(Alg::Sha256);
    let mut p = request();
    let len = p.len();
    Signer::request(k.clone())
        .with_fudge(65535)
        .sign(&mut p, 1000);
    // Default cap (300 s): inside, the request is held to 300 s ...
    let v = ring_of(&k).verify(&p, len, 1300).unwrap();
    assert_eq!((v.fudge, v.window_end()), (300, 1300));
    // ... and one second past it is BADTIME, although it says 65535.
    assert!(matches!(
        ring_of(&k).verify(&p, len, 1301),
        Err(Failure::BadTime(_))
    ));
    assert!(matches!(
        ring_of(&k).verify(&p, len, 699),
        Err(Failure::BadTime(_))
    ));
    // A configured cap.
    let capped = ring_of(&k).with_max_fudge(2);
    assert_eq!(capped.verify(&p, len, 1002).unwrap().window_end(), 1002);
    assert!(matches!(
        capped.verify(&p, len, 1003),
        Err(Failure::BadTime(_))
    ));
    // A smaller fudge in the message is kept.
    let mut p = request();
    Signer::request(k.clone()).with_fudge(1).sign(&mut p, 1000);
    assert_eq!(ring_of(&k).verify(&p, len, 1001).unwrap().fudge, 1);
    assert!(ring_of(&k).verify(&p, len, 1002).is_err());
}

#[test]
fn a_response_stream_is_held_to_the_cap_too() {
    let k = key(Alg::Sha256);
    let mut req = request();
    let mut client = Signer::request(k.clone());
    client.sign(&mut req, 5000);
    let v = ring_of(&k).verify(&req, request().len(), 5000).unwrap();
    let answer = |at: u64| {
        let mut m = request();
        m[2] |= 0x80;
        v.signer().with_fudge(65535).sign(&mut m, at);
        m
    };
    assert!(Verifier::new(&client).check(&answer(5000), 5300).is_ok());
    assert!(Verifier::new(&client).check(&answer(5000), 5301).is_err());
    let capped = Signer::request(Arc::new((*k).clone().with_max_fudge(3)));
    let mut req = request();
    let mut client = capped;
    client.sign(&mut req, 5000);
    let v = ring_of(&k).verify(&req, request().len(), 5000).unwrap();
    let mut m = request();
    m[2] |= 0x80;
    v.signer().with_fudge(65535).sign(&mut m, 5000);
    assert!(Verifier::new(&client).check(&m, 5003).is_ok());
    assert!(Verifier::new(&client).check(&m, 5004).is_err());
}

/// A request signed at `time` whose window closes `fudge` s later.
fn verified(mac: &[u8], time: u64, fudge: u16) -> Verified {
    Verified {
        key: key(Alg::Sha256),
        mac: mac.to_vec(),
        time,
        fudge,
        orig_id: 0,
        tsig_at: 0,
    }
}

#[test]
fn replay_cache_keeps_a_mac_until_its_window_closes() {
    let c = ReplayCache::new(100);
    // Signed at 1000 with the cap at 300: open through 1300.
    let m1 = verified(b"mac1", 1000, 300);
    assert_eq!(c.admit(&m1, 1000), Admit::New);
    assert_eq!(c.admit(&m1, 1000), Admit::Pending, "in flight");
    c.answered(b"mac1", b"answer1");
    // Signed ahead of our clock (by 300 s, as far as the cap allows):
    // open through 1900, 600 s after it arrived.
    let early = verified(b"mac2", 1600, 300);
    assert_eq!(c.admit(&early, 1300), Admit::New);
    c.answered(b"mac2", b"answer2");
    // mac1 through the last second of its window, gone after it.
    assert_eq!(c.admit(&m1, 1300), Admit::Answered(b"answer1".to_vec()));
    assert_eq!(c.len(), 2);
    let other = verified(b"mac3", 1301, 300);
    assert_eq!(c.admit(&other, 1301), Admit::New);
    assert_eq!(c.len(), 2, "mac1 let go of at 1301");
    // If the clock now stepped back into mac1's window, the forgotten
    // MAC is refused, not admitted as new.
    assert_eq!(c.admit(&m1, 1200), Admit::Refused(Refusal::WindowClosed));
    // Abandoned (certainly not applied): handled as new next time.
    c.abandon(b"mac3");
    assert_eq!(c.admit(&other, 1302), Admit::New);
    // An answered entry is not abandoned, and is kept to its end.
    c.abandon(b"mac2");
    assert_eq!(c.admit(&early, 1900), Admit::Answered(b"answer2".to_vec()));
    assert_eq!(c.len(), 1, "mac3 (open through 1601) let go of");
    assert_eq!(c.admit(&early, 1901), Admit::Refused(Refusal::WindowClosed));
    assert!(c.is_empty());
}

#[test]
fn replay_cache_refuses_what_was_signed_before_the_start() {
    let c = ReplayCache::new(1000);
    assert_eq!(c.not_before(), 1001);
    assert_eq!(
        c.admit(&verified(b"a", 999, 300), 1001),
        Admit::Refused(Refusal::SignedBeforeStart)
    );
    // In the second of the start: it may predate the start.
    assert_eq!(
        c.admit(&verified(b"b", 1000, 300), 1001),
        Admit::Refused(Refusal::SignedBeforeStart)
    );
    assert_eq!(c.admit(&verified(b"c", 1001, 300), 1001), Admit::New);
    // A new store: nothing before the start to be replayed.
    let c = ReplayCache::for_new_store();
    assert_eq!(c.admit(&verified(b"a", 999, 300), 1001), Admit::New);
}

#[test]
fn a_full_replay_cache_refuses_rather_than_forgets() {
    let c = ReplayCache::with_capacity(0, 2);
    assert_eq!(c.admit(&verified(b"a", 1000, 5), 1000), Admit::New);
    assert_eq!(c.admit(&verified(b"b", 1000, 10), 1000), Admit::New);
    c.answered(b"a", b"A");
    let third = verified(b"c", 1001, 5);
    assert_eq!(c.admit(&third, 1001), Admit::Refused(Refusal::Full));
    assert_eq!(c.admit(&third, 1005), Admit::Refused(Refusal::Full));
    // Both are still known: nothing was dropped to make room.
    assert_eq!(
        c.admit(&verified(b"a", 1000, 5), 1005),
        Admit::Answered(b"A".to_vec())
    );
    assert_eq!(c.admit(&verified(b"b", 1000, 10), 1005), Admit::Pending);
    // Once a's window has closed there is room.
    assert_eq!(c.admit(&third, 1006), Admit::New);
    assert_eq!(
        c.admit(&verified(b"d", 1006, 5), 1006),
        Admit::Refused(Refusal::Full)
    );
}

#[test]
fn until_counts_down_to_a_second() {
    let now = now();
    assert_eq!(until(now), None);
    let d = until(now + 3).unwrap();
    assert!(d > std::time::Duration::from_secs(2) && d <= std::time::Duration::from_secs(3));
}

#[test]
fn read_name_handles_pointers_and_loops() {
    let mut p = vec![0u8; 12];
    p.extend_from_slice(b"\x04Shop\x00\x03abc\xc0\x0c");
    assert_eq!(
        read_name(&p, 18).unwrap(),
        (b"\x03abc\x04shop\x00".to_vec(), 24)
    );
    let l = b"\xc0\x00".to_vec();
    assert!(read_name(&l, 0).is_none());
}
