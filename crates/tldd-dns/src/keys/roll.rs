//! The key rollover state machine: which keys a zone publishes and signs
//! with, and when each moves on. Pure: no I/O, no clock; the zone's event
//! loop (`crate::events`) feeds it the key records, the policy timings and
//! what the served zone holds, applies what it says, and persists it.
//!
//! # Rolls
//! - **ZSK, pre-publication** (RFC 6781 §4.1.1.1, RFC 7583 §3.2):
//!   `created` -> `published` (DNSKEY in, not signing) -> after
//!   `dnskey_ttl + propagation_delay + publish_safety` -> `active`; the
//!   ZSK it replaces (same algorithm) becomes `retiring`: it signs no more,
//!   the signature refresh replaces its signatures first (before any due
//!   by expiry), and once the zone holds none of them (`sigs_gone`) it is
//!   withdrawn after `max zone TTL + propagation_delay + retire_safety`
//!   (`retired`).
//! - **KSK, double signature with CDS/CDNSKEY** (RFC 6781 §4.1.2, RFC
//!   7344, RFC 8078): `created` -> `published` (DNSKEY in; it signs the
//!   DNSKEY RRset beside the old KSK) -> after `dnskey_ttl +
//!   propagation_delay + publish_safety` -> `ready` (CDS and CDNSKEY for it
//!   at the apex, signed by the KSKs) -> when the parent's DS for it is
//!   seen (`ds_seen`, set by `tldd keys ds-seen` or the parent poll) ->
//!   `active`, CDS/CDNSKEY withdrawn; the old KSK becomes `retiring` (it
//!   still signs the DNSKEY RRset for resolvers holding the old DS) and is
//!   withdrawn after `parent_ds_ttl + propagation_delay + retire_safety`.
//! - **Automatic**: an active key older than `zsk_lifetime` /
//!   `ksk_lifetime` (0: never) gets a successor, unless a roll of that
//!   role and algorithm is already under way.
//! - **Emergency** (`tldd keys roll --now`): the successor skips the
//!   waits for caches (a ZSK signs at once, a KSK is `ready` at once) and
//!   the retiring ZSK is withdrawn as soon as its signatures are gone.
//!   Resolvers holding the old DNSKEY RRset may fail until its TTL passes:
//!   that is the price of a compromised key.
//!
//! # What is served ([`serving`])
//! DNSKEY: every key `published`, `ready`, `active` or `retiring`. Zone
//! data is signed by the `presigned`, `active` and `withdrawn` ZSKs;
//! DNSKEY, CDS and CDNSKEY by every KSK but a `created` or `retired` one.
//! CDS/CDNSKEY exist only while a KSK is `ready`.
//!
//! - **Algorithm** (RFC 6781 §4.1.4, the conservative order): a KSK and a
//!   ZSK of the new algorithm are `presigned`: they sign (the ZSK every
//!   RRset, the KSK the DNSKEY RRset) without being published, and the
//!   refresh adds the new algorithm's signature to every RRset first. Once
//!   all carry it (`sigs_complete`) and the largest TTL, propagation_delay
//!   and publish_safety passed, both are published (the ZSK `active`, the KSK
//!   `published`), and the KSK goes on as in a KSK roll (`ready`, CDS for
//!   it only, `ds_seen`, `active`). The old algorithm's keys stay `active`
//!   until `parent_ds_ttl + propagation_delay + retire_safety` after that,
//!   are then `withdrawn` (out of the DNSKEY RRset, still signing, for
//!   resolvers holding the old DNSKEY RRset) and `retired` a DNSKEY TTL +
//!   propagation_delay + retire_safety later, when the refresh removes
//!   their signatures.
//!
//! # Limits
//! No CSK (a key signing both) and no rolls while an algorithm roll runs.
use super::state::{KeyRecord, KeyState, Role};
use crate::config::RollTimings;
use std::collections::HashSet;

/// What the served zone holds, as the machine needs it.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Unix seconds.
    pub now: u64,
    /// The largest TTL of any RRset in the zone (signatures of a retired
    /// ZSK may be cached that long).
    pub max_ttl: u64,
    /// (algorithm, key tag) of every key with a signature over zone data
    /// (anything but DNSKEY, CDS and CDNSKEY).
    pub signing: HashSet<(u8, u16)>,
    /// The keys among `signing` whose signature is on every signed RRset
    /// of zone data.
    pub complete: HashSet<(u8, u16)>,
    /// An offline-KSK zone's Signed Key Response, as far as it gates the
    /// ZSKs (`None`: the KSK is online).
    pub offline: Option<Offline>,
}

/// What an offline-KSK zone's imported SKR says now
/// ([`crate::keys::offline`]): a ZSK is published only once the current
/// slot carries its DNSKEY, and removed only once it does not; its
/// successors are planned by `tldd keys ksr`, not made at its lifetime.
#[derive(Debug, Clone, Default)]
pub struct Offline {
    /// Key tags of the ZSK DNSKEYs of the slot current at `now`.
    pub slot_zsks: HashSet<u16>,
    /// When the next slot starts.
    pub next_slot: Option<u64>,
}

/// One change the machine asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Key `tag` moves to `to` (its time is recorded once the version
    /// is durable).
    Move { tag: u16, to: KeyState },
    /// A retiring ZSK has no signature left in the zone.
    SigsGone { tag: u16 },
    /// An algorithm roll's presigned ZSK signs every RRset.
    SigsComplete { tag: u16 },
    /// Generate a successor (automatic roll at the key's lifetime).
    Generate { role: Role, algorithm: u8 },
}

/// The next thing that will happen to a key, and when (unix seconds;
/// `None`: it waits for something that has no time, e.g. the parent's DS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub what: &'static str,
    pub at: Option<u64>,
}

/// Unix seconds of an RFC 3339 time.
pub fn unix(t: &Option<String>) -> Option<u64> {
    let t = t.as_deref()?;
    let d = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    u64::try_from(d.unix_timestamp()).ok()
}

/// RFC 3339 (UTC, seconds) of unix seconds.
pub fn rfc3339(t: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

fn pub_wait(k: &KeyRecord, t: &RollTimings) -> u64 {
    if k.emergency {
        0
    } else {
        t.dnskey_ttl + t.propagation_delay + t.publish_safety
    }
}

/// When the key started signing (keys from before state version 2 have
/// only `created`).
fn active_since(k: &KeyRecord) -> Option<u64> {
    unix(&k.activated).or_else(|| unix(&Some(k.created.clone())))
}

/// The new algorithm of an algorithm roll under way.
pub fn algorithm_roll(keys: &[KeyRecord]) -> Option<u8> {
    keys.iter()
        .find(|k| k.algorithm_roll && k.state != KeyState::Retired)
        .map(|k| k.algorithm)
}

/// A roll of this role and algorithm is under way (or any algorithm roll).
fn rolling(keys: &[KeyRecord], role: Role, alg: u8) -> bool {
    algorithm_roll(keys).is_some()
        || keys.iter().any(|k| {
            k.role == role
                && k.algorithm == alg
                && matches!(
                    k.state,
                    KeyState::Created | KeyState::Published | KeyState::Ready | KeyState::Retiring
                )
        })
}

/// An algorithm roll's new key of `role`.
fn new_key(keys: &[KeyRecord], role: Role) -> Option<&KeyRecord> {
    keys.iter()
        .find(|k| k.algorithm_roll && k.role == role && k.state != KeyState::Retired)
}

/// The next event of key `k` among `keys` (the zone's records).
pub fn next(k: &KeyRecord, keys: &[KeyRecord], t: &RollTimings, facts: &Facts) -> Option<Next> {
    let at = |what, at| Some(Next { what, at });
    let t_alg = algorithm_roll(keys);
    // An algorithm roll's old keys: withdrawn once the parent's DS for the
    // new KSK has had its TTL, then removed once the DNSKEY TTL passed.
    if t_alg.is_some_and(|a| a != k.algorithm) && k.state == KeyState::Active {
        let ds = new_key(keys, Role::Ksk)
            .filter(|n| n.state == KeyState::Active)
            .and_then(|n| unix(&n.activated));
        return match ds {
            Some(a) => at(
                "withdraw",
                Some(a + t.parent_ds_ttl + t.propagation_delay + t.retire_safety),
            ),
            None => at("wait-new-ksk", None),
        };
    }
    match (k.role, k.state) {
        (_, KeyState::Created) if k.algorithm_roll => at("presign", Some(facts.now)),
        (_, KeyState::Created) => match &facts.offline {
            Some(o) if !o.slot_zsks.contains(&k.key_tag) => at("wait-skr-slot", o.next_slot),
            _ => at("publish", Some(facts.now)),
        },
        (Role::Zsk, KeyState::Presigned) => match unix(&k.sigs_complete) {
            Some(c) => at(
                "publish",
                Some(c + facts.max_ttl + t.propagation_delay + t.publish_safety),
            ),
            None if facts.complete.contains(&(k.algorithm, k.key_tag)) => {
                at("signatures-complete", Some(facts.now))
            }
            None => at("complete-signatures", None),
        },
        // Published with the new ZSK.
        (Role::Ksk, KeyState::Presigned) => match new_key(keys, Role::Zsk) {
            Some(z) if z.state == KeyState::Presigned => at("publish-with-zsk", None),
            _ => at("publish", Some(facts.now)),
        },
        (_, KeyState::Withdrawn) => at(
            "remove",
            unix(&k.withdrawn).map(|w| w + t.dnskey_ttl + t.propagation_delay + t.retire_safety),
        ),
        (Role::Zsk, KeyState::Published) => {
            at("activate", unix(&k.published).map(|p| p + pub_wait(k, t)))
        }
        (Role::Ksk, KeyState::Published) => {
            at("cds", unix(&k.published).map(|p| p + pub_wait(k, t)))
        }
        (Role::Ksk, KeyState::Ready) => match unix(&k.ds_seen) {
            Some(s) => at("activate", Some(s)),
            None => at("wait-ds", None),
        },
        (role, KeyState::Active) => {
            let life = match role {
                Role::Zsk => t.zsk_lifetime,
                Role::Ksk => t.ksk_lifetime,
            };
            if life == 0 || rolling(keys, role, k.algorithm) || facts.offline.is_some() {
                return None;
            }
            at("roll", active_since(k).map(|a| a + life))
        }
        (Role::Zsk, KeyState::Retiring) => {
            let emergency = keys.iter().any(|s| {
                s.role == Role::Zsk
                    && s.algorithm == k.algorithm
                    && s.emergency
                    && s.state == KeyState::Active
            });
            // Offline KSK: the DNSKEY RRset without it must have begun.
            let gate = |at: u64| match &facts.offline {
                Some(o) if o.slot_zsks.contains(&k.key_tag) => Next {
                    what: "remove-with-skr-slot",
                    at: o.next_slot.map(|n| n.max(at)),
                },
                _ => Next {
                    what: "remove",
                    at: Some(at),
                },
            };
            match unix(&k.sigs_gone) {
                Some(g) if emergency => Some(gate(g)),
                Some(g) => Some(gate(
                    g + facts.max_ttl + t.propagation_delay + t.retire_safety,
                )),
                None if facts.signing.contains(&(k.algorithm, k.key_tag)) => {
                    at("replace-signatures", None)
                }
                None => at("signatures-gone", Some(facts.now)),
            }
        }
        (Role::Ksk, KeyState::Retiring) => at(
            "remove",
            unix(&k.retiring).map(|r| r + t.parent_ds_ttl + t.propagation_delay + t.retire_safety),
        ),
        // A ZSK is never `ready` (only a KSK waits for the parent).
        (_, KeyState::Retired) | (Role::Zsk, KeyState::Ready) => None,
    }
}

/// What is due at `facts.now`, in an order that is safe to apply at once.
pub fn plan(keys: &[KeyRecord], t: &RollTimings, facts: &Facts) -> Vec<Action> {
    let mut out = Vec::new();
    for k in keys {
        let Some(n) = next(k, keys, t, facts) else {
            continue;
        };
        if n.at.is_none_or(|at| at > facts.now) {
            continue;
        }
        let tag = k.key_tag;
        match (k.role, k.state, n.what) {
            (_, KeyState::Created, "presign") => out.push(Action::Move {
                tag,
                to: KeyState::Presigned,
            }),
            (Role::Zsk, KeyState::Presigned, "signatures-complete") => {
                out.push(Action::SigsComplete { tag })
            }
            (Role::Zsk, KeyState::Presigned, "publish") => out.push(Action::Move {
                tag,
                to: KeyState::Active,
            }),
            (Role::Ksk, KeyState::Presigned, "publish") => out.push(Action::Move {
                tag,
                to: KeyState::Published,
            }),
            (_, KeyState::Active, "withdraw") => out.push(Action::Move {
                tag,
                to: KeyState::Withdrawn,
            }),
            (_, KeyState::Withdrawn, "remove") => out.push(Action::Move {
                tag,
                to: KeyState::Retired,
            }),
            (Role::Zsk, KeyState::Created, _) if k.emergency => out.push(Action::Move {
                tag,
                to: KeyState::Active,
            }),
            (Role::Ksk, KeyState::Created, _) if k.emergency => out.push(Action::Move {
                tag,
                to: KeyState::Ready,
            }),
            (_, KeyState::Created, "publish") => out.push(Action::Move {
                tag,
                to: KeyState::Published,
            }),
            (Role::Zsk, KeyState::Published, _) => out.push(Action::Move {
                tag,
                to: KeyState::Active,
            }),
            (Role::Ksk, KeyState::Published, _) => out.push(Action::Move {
                tag,
                to: KeyState::Ready,
            }),
            (Role::Ksk, KeyState::Ready, _) => out.push(Action::Move {
                tag,
                to: KeyState::Active,
            }),
            (role, KeyState::Active, "roll") => out.push(Action::Generate {
                role,
                algorithm: k.algorithm,
            }),
            (Role::Zsk, KeyState::Retiring, "signatures-gone") => {
                out.push(Action::SigsGone { tag })
            }
            (_, KeyState::Retiring, "remove") => out.push(Action::Move {
                tag,
                to: KeyState::Retired,
            }),
            _ => {}
        }
    }
    // A key that becomes active retires the active keys of its role and
    // algorithm it replaces.
    let mut retire = Vec::new();
    for a in &out {
        if let Action::Move {
            tag,
            to: KeyState::Active,
        } = a
        {
            let Some(new) = keys.iter().find(|k| k.key_tag == *tag) else {
                continue;
            };
            for old in keys.iter().filter(|o| {
                o.key_tag != *tag
                    && o.role == new.role
                    && o.algorithm == new.algorithm
                    && o.state == KeyState::Active
            }) {
                retire.push(Action::Move {
                    tag: old.key_tag,
                    to: KeyState::Retiring,
                });
            }
        }
    }
    out.extend(retire);
    out.dedup();
    out
}

/// Applies `actions` (but `Generate`) to `keys` at `now`: states and the
/// times beside them.
pub fn apply(keys: &mut [KeyRecord], actions: &[Action], now: u64) -> Vec<(u16, KeyState)> {
    let stamp = Some(rfc3339(now));
    let mut moved = Vec::new();
    for a in actions {
        match a {
            Action::Move { tag, to } => {
                let Some(k) = keys
                    .iter_mut()
                    .find(|k| k.key_tag == *tag && k.state != KeyState::Retired)
                else {
                    continue;
                };
                if k.state == KeyState::Created && *to != KeyState::Presigned {
                    k.published = stamp.clone();
                }
                if k.state == KeyState::Presigned {
                    k.published = stamp.clone();
                }
                match to {
                    KeyState::Presigned => k.presigned = stamp.clone(),
                    KeyState::Withdrawn => k.withdrawn = stamp.clone(),
                    KeyState::Published => k.published = stamp.clone(),
                    KeyState::Ready => k.ready = stamp.clone(),
                    KeyState::Active => k.activated = stamp.clone(),
                    KeyState::Retiring => k.retiring = stamp.clone(),
                    KeyState::Retired => k.removed = stamp.clone(),
                    KeyState::Created => {}
                }
                k.state = *to;
                moved.push((*tag, *to));
            }
            Action::SigsGone { tag } => {
                if let Some(k) = keys.iter_mut().find(|k| k.key_tag == *tag) {
                    k.sigs_gone = stamp.clone();
                }
            }
            Action::SigsComplete { tag } => {
                if let Some(k) = keys.iter_mut().find(|k| k.key_tag == *tag) {
                    k.sigs_complete = stamp.clone();
                }
            }
            Action::Generate { .. } => {}
        }
    }
    moved
}

/// What [`settle`] did: the moves (tag, new state), and the successors
/// to generate (role, algorithm).
pub type Settled = (Vec<(u16, KeyState)>, Vec<(Role, u8)>);

/// Plans and applies until nothing more is due at `facts.now` (a
/// retiring ZSK whose signatures just went may be removable at once):
/// the moves made, and the successors to generate.
pub fn settle(keys: &mut [KeyRecord], t: &RollTimings, facts: &Facts) -> Settled {
    let mut moved = Vec::new();
    let mut generate = Vec::new();
    // Each round moves a key forward; four rounds reach every fixpoint.
    for _ in 0..4 {
        let actions = plan(keys, t, facts);
        for a in &actions {
            if let Action::Generate { role, algorithm } = a {
                if !generate.contains(&(*role, *algorithm)) {
                    generate.push((*role, *algorithm));
                }
            }
        }
        let marked = actions.iter().any(|a| matches!(a, Action::SigsGone { .. }));
        let m = apply(keys, &actions, facts.now);
        if m.is_empty() && !marked {
            break;
        }
        moved.extend(m);
    }
    (moved, generate)
}

/// What a zone serves with `keys` (already moved by [`apply`]).
pub struct Serving<'a> {
    /// In the DNSKEY RRset.
    pub published: Vec<&'a KeyRecord>,
    /// Signing: ZSKs `presigned`, `active` or `withdrawn` sign zone data;
    /// KSKs in any state but `created` and `retired` sign DNSKEY, CDS and
    /// CDNSKEY.
    pub signing: Vec<&'a KeyRecord>,
    /// Named by CDS/CDNSKEY.
    pub cds: Vec<&'a KeyRecord>,
}

/// Whether a key in `state` signs (see [`Serving::signing`]).
pub fn signs(role: Role, state: KeyState) -> bool {
    match role {
        Role::Zsk => matches!(
            state,
            KeyState::Presigned | KeyState::Active | KeyState::Withdrawn
        ),
        Role::Ksk => !matches!(state, KeyState::Created | KeyState::Retired),
    }
}

/// The served key sets of `keys` (one zone's records).
pub fn serving(keys: &[KeyRecord]) -> Serving<'_> {
    Serving {
        published: keys.iter().filter(|k| k.state.is_published()).collect(),
        signing: keys.iter().filter(|k| signs(k.role, k.state)).collect(),
        cds: keys
            .iter()
            .filter(|k| k.role == Role::Ksk && k.state == KeyState::Ready)
            .collect(),
    }
}

/// The earliest time any key of `keys` moves on (for the loop's timer).
pub fn next_due(keys: &[KeyRecord], t: &RollTimings, facts: &Facts) -> Option<u64> {
    keys.iter()
        .filter_map(|k| next(k, keys, t, facts)?.at)
        .min()
}

#[cfg(test)]
mod tests;
