//! The rolls run to completion on a simulated clock, and what is served
//! at each step keeps every key that still has signatures or a DS.
use super::*;
use crate::keys::state::Keystore;

const T: RollTimings = RollTimings {
    zsk_lifetime: 1000,
    ksk_lifetime: 0,
    dnskey_ttl: 10,
    propagation_delay: 5,
    publish_safety: 2,
    retire_safety: 3,
    parent_ds_ttl: 20,
    max_zone_ttl: 60,
};

fn key(tag: u16, role: Role, state: KeyState, t0: u64) -> KeyRecord {
    KeyRecord {
        zone: "shop.".into(),
        key_tag: tag,
        role,
        algorithm: 13,
        keystore: Keystore::Soft,
        file: Some(format!("K{tag}.pk8")),
        token: None,
        id: None,
        label: None,
        state,
        created: rfc3339(t0),
        published: None,
        ready: None,
        activated: None,
        ds_seen: None,
        retiring: None,
        sigs_gone: None,
        removed: None,
        presigned: None,
        sigs_complete: None,
        withdrawn: None,
        plan_publish: None,
        plan_remove: None,
        algorithm_roll: false,
        emergency: false,
    }
}

fn tags(v: &[&KeyRecord]) -> Vec<u16> {
    let mut t: Vec<u16> = v.iter().map(|k| k.key_tag).collect();
    t.sort_unstable();
    t
}

/// Runs the machine from `now` until nothing is due, one second at a time,
/// with the zone's signatures following the signing keys (as the refresh
/// does); returns the states seen, in order.
fn run(keys: &mut [KeyRecord], mut now: u64, until: u64) -> Vec<(u64, u16, KeyState)> {
    let mut seen = Vec::new();
    let mut signing: HashSet<(u8, u16)> = serving(keys)
        .signing
        .iter()
        .filter(|k| k.role == Role::Zsk)
        .map(|k| (k.algorithm, k.key_tag))
        .collect();
    while now < until {
        let facts = Facts {
            now,
            max_ttl: 7,
            signing: signing.clone(),
            complete: signing.clone(),
            offline: None,
        };
        let (moved, _) = settle(keys, &T, &facts);
        for (tag, st) in moved {
            seen.push((now, tag, st));
        }
        let s = serving(keys);
        // Every key that signs zone data or has signatures is published,
        // or an algorithm roll's key (verified, ignored by resolvers).
        for (_, tag) in &signing {
            assert!(
                s.published.iter().any(|k| k.key_tag == *tag)
                    || keys.iter().any(|k| k.key_tag == *tag
                        && (k.algorithm_roll
                            || k.state == KeyState::Withdrawn
                            || keys.iter().any(|n| n.algorithm_roll))),
                "{now}: key {tag} has signatures but is not published"
            );
        }
        // Every algorithm of the DNSKEY RRset signs the zone (RFC 4035 §2.2).
        for k in &s.published {
            assert!(
                signing.iter().any(|(a, _)| *a == k.algorithm),
                "{now}: algorithm {} published without signatures",
                k.algorithm
            );
        }
        // The refresh replaces old signatures one second after a change.
        signing = s
            .signing
            .iter()
            .filter(|k| k.role == Role::Zsk)
            .map(|k| (k.algorithm, k.key_tag))
            .collect();
        now += 1;
    }
    seen
}

#[test]
fn zsk_pre_publication_roll_at_lifetime() {
    let mut keys = vec![
        key(1, Role::Ksk, KeyState::Active, 0),
        key(2, Role::Zsk, KeyState::Active, 0),
    ];
    let facts = Facts {
        now: 1000,
        ..Facts::default()
    };
    assert_eq!(
        plan(&keys, &T, &facts),
        vec![Action::Generate {
            role: Role::Zsk,
            algorithm: 13
        }]
    );
    let mut new = key(3, Role::Zsk, KeyState::Created, 1000);
    new.created = rfc3339(1000);
    keys.push(new);
    // No second successor while one is rolling in.
    assert!(!plan(&keys, &T, &facts)
        .iter()
        .any(|a| matches!(a, Action::Generate { .. })));
    let seen = run(&mut keys, 1000, 1100);
    assert_eq!(
        seen,
        vec![
            (1000, 3, KeyState::Published),
            (1017, 3, KeyState::Active),
            (1017, 2, KeyState::Retiring),
            // Its signatures were gone at 1018; max TTL 7 + 5 + 3 later.
            (1033, 2, KeyState::Retired),
        ]
    );
    let s = serving(&keys);
    assert_eq!(tags(&s.published), vec![1, 3]);
    assert!(s.cds.is_empty());
}

#[test]
fn a_retiring_zsk_waits_for_its_signatures() {
    let mut keys = vec![
        key(1, Role::Ksk, KeyState::Active, 0),
        key(2, Role::Zsk, KeyState::Retiring, 0),
        key(3, Role::Zsk, KeyState::Active, 0),
    ];
    let facts = Facts {
        now: 5000,
        max_ttl: 7,
        signing: [(13, 2), (13, 3)].into_iter().collect(),
        complete: [(13, 3)].into_iter().collect(),
        offline: None,
    };
    assert!(plan(&keys, &T, &facts).is_empty());
    let n = next(&keys[1], &keys, &T, &facts).unwrap();
    assert_eq!((n.what, n.at), ("replace-signatures", None));
    let facts = Facts {
        signing: [(13, 3)].into_iter().collect(),
        ..facts
    };
    assert_eq!(plan(&keys, &T, &facts), vec![Action::SigsGone { tag: 2 }]);
    apply(&mut keys, &[Action::SigsGone { tag: 2 }], 5000);
    assert_eq!(next(&keys[1], &keys, &T, &facts).unwrap().at, Some(5015));
}

#[test]
fn ksk_double_signature_roll_waits_for_the_ds() {
    let mut keys = vec![
        key(1, Role::Ksk, KeyState::Active, 0),
        key(2, Role::Zsk, KeyState::Active, 0),
        key(3, Role::Ksk, KeyState::Created, 100),
    ];
    let seen = run(&mut keys, 100, 200);
    assert_eq!(
        seen,
        vec![(100, 3, KeyState::Published), (117, 3, KeyState::Ready)]
    );
    let s = serving(&keys);
    assert_eq!(tags(&s.cds), vec![3]);
    assert_eq!(tags(&s.signing), vec![1, 2, 3]);
    // The parent's DS is seen at 300.
    keys[2].ds_seen = Some(rfc3339(300));
    let seen = run(&mut keys, 300, 400);
    assert_eq!(
        seen,
        vec![
            (300, 3, KeyState::Active),
            (300, 1, KeyState::Retiring),
            (328, 1, KeyState::Retired),
        ]
    );
    let s = serving(&keys);
    assert!(s.cds.is_empty());
    assert_eq!(tags(&s.published), vec![2, 3]);
}

#[test]
fn emergency_zsk_signs_at_once() {
    let mut keys = vec![
        key(1, Role::Ksk, KeyState::Active, 0),
        key(2, Role::Zsk, KeyState::Active, 0),
        key(3, Role::Zsk, KeyState::Created, 50),
    ];
    keys[2].emergency = true;
    let seen = run(&mut keys, 50, 100);
    assert_eq!(
        seen,
        vec![
            (50, 3, KeyState::Active),
            (50, 2, KeyState::Retiring),
            (51, 2, KeyState::Retired),
        ]
    );
}

#[test]
fn keys_from_state_version_1_roll_from_their_creation() {
    let keys = vec![
        key(1, Role::Ksk, KeyState::Active, 0),
        key(2, Role::Zsk, KeyState::Active, 0),
    ];
    let facts = Facts {
        now: 10,
        ..Facts::default()
    };
    assert_eq!(next_due(&keys, &T, &facts), Some(1000));
    assert_eq!(unix(&Some(rfc3339(1_800_000_000))), Some(1_800_000_000));
}

#[test]
fn algorithm_roll_signs_first_publishes_then_withdraws() {
    let mut keys = vec![
        key(1, Role::Ksk, KeyState::Active, 0),
        key(2, Role::Zsk, KeyState::Active, 0),
        key(3, Role::Ksk, KeyState::Created, 100),
        key(4, Role::Zsk, KeyState::Created, 100),
    ];
    for k in &mut keys[2..] {
        k.algorithm = 15;
        k.algorithm_roll = true;
    }
    let seen = run(&mut keys, 100, 200);
    assert_eq!(
        seen,
        vec![
            (100, 3, KeyState::Presigned),
            (100, 4, KeyState::Presigned),
            // Signatures complete at 101; max TTL 7 + 5 + 2 later.
            (115, 4, KeyState::Active),
            (115, 3, KeyState::Published),
            (132, 3, KeyState::Ready),
        ]
    );
    let s = serving(&keys);
    assert_eq!(tags(&s.published), vec![1, 2, 3, 4]);
    assert_eq!(tags(&s.cds), vec![3]);
    keys[2].ds_seen = Some(rfc3339(300));
    let seen = run(&mut keys, 300, 400);
    assert_eq!(
        seen,
        vec![
            (300, 3, KeyState::Active),
            // parent_ds_ttl 20 + 5 + 3 after the DS was seen.
            (328, 1, KeyState::Withdrawn),
            (328, 2, KeyState::Withdrawn),
            // dnskey_ttl 10 + 5 + 3 later.
            (346, 1, KeyState::Retired),
            (346, 2, KeyState::Retired),
        ]
    );
    let s = serving(&keys);
    assert_eq!(tags(&s.published), vec![3, 4]);
    assert_eq!(tags(&s.signing), vec![3, 4]);
}
