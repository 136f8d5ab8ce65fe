//! The ZSK plan of an offline-KSK zone (`offline_ksk = true`), as Knot's
//! `offline-ksk` and BIND's `dnssec-ksr` keep one.
//!
//! # Why a plan
//! With the KSK offline, the DNSKEY RRset and its signatures are made in
//! advance, at a ceremony, for a whole period (a quarter, typically): the
//! online signer asks for them with a Key Signing Request (KSR) listing
//! the ZSK DNSKEYs for each *slot* of the period, and serves the Signed Key
//! Response (SKR) the KSK machine returns (`crate::signer::skr`). So the
//! ZSK rolls of the period must be known when the KSR is written: `tldd
//! keys ksr` generates the successors the period needs (state `created`,
//! each with `plan_publish`) and gives each key it succeeds a
//! `plan_remove`. The times follow the same RFC 7583 timings as an online
//! roll (`zsk_lifetime`, `dnskey_ttl + propagation_delay +
//! publish_safety` before a key signs, `max_zone_ttl + propagation_delay
//! + retire_safety` after it stopped before its DNSKEY goes).
//!
//! # What stays reactive
//! The running signer still moves each key only when the served zone
//! allows it ([`crate::keys::roll`] with [`crate::keys::roll::Offline`]
//! facts): a planned key is published when the current slot carries it,
//! activated its pre-publication wait later, and the key it replaces is
//! removed only once its signatures are gone, the zone's *real* largest
//! TTL has passed, and a slot without it has begun. When the zone's facts
//! lag the plan, the signer keeps serving the slot that matches what it
//! publishes (its signatures outlive the next slot's start by the refresh
//! window), so a late step never breaks validation.
//!
//! # Limits
//! One algorithm; no KSK roll through the SKR (the KSK machine signs with
//! the KSKs its own state has active); no emergency ZSK roll without a
//! ceremony (a new KSR and SKR are needed for a new ZSK).
use super::roll::{rfc3339, unix};
use super::state::{KeyRecord, KeyState, Role};
use crate::config::RollTimings;

/// When `k`'s DNSKEY is in the plan from: as planned (what the KSR
/// said), else as served, else (the zone's first key, active from its
/// creation) when it was made.
pub fn publish_time(k: &KeyRecord) -> Option<u64> {
    unix(&k.plan_publish)
        .or_else(|| unix(&k.published))
        .or_else(|| unix(&k.activated))
        .or_else(|| unix(&Some(k.created.clone())))
}

/// When `k`'s DNSKEY leaves the planned slots (`None`: not planned to).
pub fn remove_time(k: &KeyRecord) -> Option<u64> {
    unix(&k.plan_remove).or_else(|| unix(&k.removed))
}

/// The ZSKs of `keys` the plan has in the DNSKEY RRset at `t`.
pub fn zsks_at(keys: &[KeyRecord], t: u64) -> Vec<&KeyRecord> {
    keys.iter()
        .filter(|k| k.role == Role::Zsk)
        .filter(|k| publish_time(k).is_some_and(|p| p <= t) && remove_time(k).is_none_or(|r| r > t))
        .collect()
}

/// The next successor the plan needs before `to`: (the key it succeeds,
/// when the successor is published, when the predecessor leaves).
pub fn next_successor(keys: &[KeyRecord], t: &RollTimings, to: u64) -> Option<(u16, u64, u64)> {
    if t.zsk_lifetime == 0 {
        return None;
    }
    // The chain's tail: the newest live ZSK nothing is planned to replace.
    let tail = keys
        .iter()
        .filter(|k| {
            k.role == Role::Zsk
                && !matches!(k.state, KeyState::Retiring | KeyState::Retired)
                && remove_time(k).is_none()
        })
        .max_by_key(|k| publish_time(k))?;
    let pub_wait = t.dnskey_ttl + t.propagation_delay + t.publish_safety;
    let active = unix(&tail.activated).or_else(|| publish_time(tail).map(|p| p + pub_wait))?;
    let publish = active + t.zsk_lifetime;
    if publish >= to {
        return None;
    }
    let successor_active = publish + pub_wait;
    let remove = successor_active + t.max_zone_ttl + t.propagation_delay + t.retire_safety;
    Some((tail.key_tag, publish, remove))
}

/// The slot times of a KSR for `from..=to`: `from`, every planned
/// publication and removal between, and `to`.
pub fn slot_times(keys: &[KeyRecord], from: u64, to: u64) -> Vec<u64> {
    let mut out = vec![from];
    for k in keys.iter().filter(|k| k.role == Role::Zsk) {
        for at in [publish_time(k), remove_time(k)].into_iter().flatten() {
            if at > from && at < to {
                out.push(at);
            }
        }
    }
    out.push(to);
    out.sort_unstable();
    out.dedup();
    out
}

/// One line per planned ZSK event, for the operator: `TAG publish AT` /
/// `TAG remove AT`.
pub fn plan_lines(keys: &[KeyRecord]) -> Vec<String> {
    let mut ev: Vec<(u64, String)> = Vec::new();
    for k in keys.iter().filter(|k| k.role == Role::Zsk) {
        if let Some(p) = unix(&k.plan_publish) {
            ev.push((p, format!("{} publish {}", k.key_tag, rfc3339(p))));
        }
        if let Some(r) = unix(&k.plan_remove) {
            ev.push((r, format!("{} remove {}", k.key_tag, rfc3339(r))));
        }
    }
    ev.sort();
    ev.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::state::Keystore;

    const T: RollTimings = RollTimings {
        zsk_lifetime: 100,
        ksk_lifetime: 0,
        dnskey_ttl: 10,
        propagation_delay: 5,
        publish_safety: 5,
        retire_safety: 5,
        parent_ds_ttl: 20,
        max_zone_ttl: 30,
    };

    fn zsk(tag: u16, created: u64) -> KeyRecord {
        let mut k = KeyRecord {
            zone: "shop.".into(),
            key_tag: tag,
            role: Role::Zsk,
            algorithm: 13,
            keystore: Keystore::Soft,
            file: None,
            token: None,
            id: None,
            label: None,
            state: KeyState::Active,
            created: rfc3339(created),
            published: None,
            ready: None,
            activated: Some(rfc3339(created)),
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
        };
        k.published = None;
        k
    }

    /// Plans successors over a period as `tldd keys ksr` does.
    fn plan(keys: &mut Vec<KeyRecord>, to: u64) {
        let mut tag = 100;
        while let Some((after, publish, remove)) = next_successor(keys, &T, to) {
            let mut k = zsk(tag, publish);
            k.state = KeyState::Created;
            k.activated = None;
            k.plan_publish = Some(rfc3339(publish));
            keys.iter_mut()
                .find(|k| k.key_tag == after)
                .unwrap()
                .plan_remove = Some(rfc3339(remove));
            keys.push(k);
            tag += 1;
        }
    }

    #[test]
    fn a_period_gets_overlapping_zsks_and_the_slots_follow_them() {
        let t0 = 1_800_000_000;
        let mut keys = vec![zsk(1, t0)];
        plan(&mut keys, t0 + 350);
        // Successors at 100, 220, 340 (lifetime after each activation).
        let publishes: Vec<u64> = keys.iter().filter_map(|k| unix(&k.plan_publish)).collect();
        assert_eq!(publishes, vec![t0 + 100, t0 + 220, t0 + 340]);
        // Each predecessor leaves 20 + 40 after its successor's publication.
        assert_eq!(remove_time(&keys[0]), Some(t0 + 100 + 20 + 40));
        // Never fewer than one ZSK, two while a roll overlaps.
        for t in (t0..t0 + 350).step_by(5) {
            let n = zsks_at(&keys, t).len();
            assert!((1..=2).contains(&n), "{n} ZSKs at {t}");
        }
        assert_eq!(zsks_at(&keys, t0 + 130).len(), 2);
        assert_eq!(zsks_at(&keys, t0 + 160)[0].key_tag, 100);
        let slots = slot_times(&keys, t0, t0 + 350);
        assert_eq!(slots.first(), Some(&t0));
        assert_eq!(slots.last(), Some(&(t0 + 350)));
        assert!(slots.contains(&(t0 + 100)) && slots.contains(&(t0 + 160)));
        // A second plan for the next period goes on from the same chain.
        let before = keys.len();
        plan(&mut keys, t0 + 350);
        assert_eq!(keys.len(), before);
    }

    #[test]
    fn no_lifetime_no_successors() {
        let keys = vec![zsk(1, 0)];
        let t = RollTimings {
            zsk_lifetime: 0,
            ..T
        };
        assert!(next_successor(&keys, &t, u64::MAX / 2).is_none());
    }
}
