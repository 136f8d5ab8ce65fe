//! Signature refresh: a signed zone's RRSIGs are re-made before they expire.
//!
//! # Design
//! Signatures made at load, by `tldd sign` or by an update carry
//! `signature_validity` (default 14 days). Without a refresh, a zone that
//! runs longer than that turns bogus for every validating resolver. So the
//! writer thread of a signed zone runs a refresh pass on a timer
//! ([`check_interval`]): RRsets with a signature expiring within
//! `signature_refresh` (default a quarter of the validity: 3.5 days of
//! 14, more than any TTL of a TLD and room for days of signer trouble)
//! are re-signed
//! and the new version goes through the normal path — a [`Diff`] (old
//! RRSIGs out, new ones in, the SOA serial moved on and re-signed),
//! journalled, served, sent by IXFR, NOTIFY to secondaries — after the
//! new signatures were verified (bump in the wire).
//!
//! A pass re-signs at most [`MAX_PER_PASS`] RRsets, the ones expiring
//! first; the rest wait for the next tick. A zone signed in one go
//! (hundreds of thousands of RRSIGs with one expiration) is thereby
//! refreshed in slices over a few minutes, which also spreads the next
//! round's expirations instead of re-creating one huge version each time.
//!
//! What is signed is what the signer signs (RFC 4035 §2.2): every apex
//! RRset, the RRsets of other authoritative names, DS, and NSEC3 records.
//! An RRset is due when any of its signatures expires within the window
//! (serial arithmetic on the 32-bit times, RFC 4034 §3.1.5).
//!
//! During a ZSK roll the signatures of the retiring key come first: an
//! RRset signed by a key that is not one of the signing ZSKs is due
//! whatever its expiry ([`due_with`]), so a roll replaces them in the
//! same slices.
//!
//! Limits: a
//! pre-signed zone served without `[zone.dnssec]` and a secondary are
//! never refreshed (they are not ours to sign). The due scan walks the
//! whole zone in the writer thread (tens of ms for 1M delegations, once
//! per tick); signatures are not jittered at first signing, the slicing
//! above spreads them instead.
use crate::config::SerialPolicy;
use crate::signer::{Scratch, SignOptions, Signer, SigningKey};
use tldd_zone::diff::{soa_rec, with_serial};
use tldd_zone::rdata::{CDNSKEY, CDS, DNSKEY, RRSIG, SOA};
use tldd_zone::{Diff, Rec};
use tldd_zone::{RRset, Zone};

/// Most RRsets re-signed by one refresh pass: about 0.3 s of the writer
/// thread with soft ECDSA keys (sign and verify), during which updates
/// wait. At one pass per 5 minutes that is 1.4M RRsets a day.
pub const MAX_PER_PASS: usize = 5_000;

/// How often a zone is checked: a tenth of the window, or a quarter of
/// the time fresh signatures take to become due if that is shorter;
/// between 1 s and 5 minutes.
pub fn check_interval(validity: u32, window: u32) -> std::time::Duration {
    let secs = (window / 10).min(validity.saturating_sub(window) / 4);
    std::time::Duration::from_secs(u64::from(secs).clamp(1, 300))
}

/// RRSIG expiration (RDATA octets 8..12).
fn expiration(sig: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(sig.get(8..12)?.try_into().ok()?))
}

/// Seconds from `now` to the earliest expiration of `set`'s signatures
/// (negative: already expired), `None` if it has none.
pub(crate) fn time_left(set: &RRset, now: u32) -> Option<i64> {
    set.sigs()
        .filter_map(expiration)
        .map(|e| i64::from(e.wrapping_sub(now) as i32))
        .min()
}

/// An RRset and its owner (lower-case wire).
pub type OwnedRRset = (Box<[u8]>, RRset);

/// The signed RRsets of `zone` whose signatures expire within `window`
/// seconds of `now`, earliest first, at most `max`; and how many were due.
pub fn due(zone: &Zone, now: u32, window: u32, max: usize) -> (Vec<OwnedRRset>, usize) {
    due_with(zone, now, window, max, &[], false)
}

/// (algorithm, key tag) of the key that made a signature (RRSIG RDATA).
pub fn signed_by(sig: &[u8]) -> Option<(u8, u16)> {
    Some((
        *sig.get(2)?,
        u16::from_be_bytes(sig.get(16..18)?.try_into().ok()?),
    ))
}

/// The key RRsets, which a key step re-signs itself.
fn is_key_rrset(t: u16) -> bool {
    matches!(t, DNSKEY | CDS | CDNSKEY)
}

/// [`due`], and before anything due by expiry: every signed RRset of zone
/// data with a signature by a key that is not among `zsks` (the signing
/// ZSKs; empty: no such check) or without one of theirs: how a ZSK roll
/// replaces the retiring key's signatures, and an algorithm roll adds the
/// new algorithm's before its keys are published. With `presigned_keys`
/// (an offline-KSK zone) the key RRsets are never due: the next slot of
/// the imported SKR replaces them.
pub fn due_with(
    zone: &Zone,
    now: u32,
    window: u32,
    max: usize,
    zsks: &[(u8, u16)],
    presigned_keys: bool,
) -> (Vec<OwnedRRset>, usize) {
    let mut found: Vec<(i64, Box<[u8]>, RRset)> = Vec::new();
    let mut consider = |owner: &[u8], set: &RRset| {
        if set.rtype == SOA {
            return; // always re-signed with the new serial
        }
        if presigned_keys && is_key_rrset(set.rtype) && owner == &*zone.origin {
            return;
        }
        if !zsks.is_empty()
            && !is_key_rrset(set.rtype)
            && set.sigs().next().is_some()
            && (set
                .sigs()
                .any(|s| signed_by(s).is_none_or(|k| !zsks.contains(&k)))
                || zsks
                    .iter()
                    .any(|z| !set.sigs().any(|s| signed_by(s) == Some(*z))))
        {
            found.push((i64::MIN, owner.into(), set.clone()));
            return;
        }
        if let Some(left) = time_left(set, now) {
            if left < i64::from(window) {
                found.push((left, owner.into(), set.clone()));
            }
        }
    };
    for set in &zone.apex.rrsets {
        consider(&zone.origin, set);
    }
    for (owner, node) in &zone.names {
        for set in &node.rrsets {
            consider(owner, set);
        }
    }
    for d in zone.cuts.iter() {
        if let Some(ds) = &d.ds {
            consider(&d.name, ds);
        }
    }
    if let Some(chain) = &zone.nsec3 {
        let mut o = [0u8; 256];
        for r in chain.iter() {
            let n = tldd_zone::nsec3::owner_name(&r.hash, &zone.origin, &mut o);
            consider(&o[..n], &r.rrset);
        }
    }
    let total = found.len();
    found.sort_by_key(|f| f.0);
    found.truncate(max);
    (found.into_iter().map(|(_, o, s)| (o, s)).collect(), total)
}

/// What signs the zone's data now, as a key step needs to know it.
pub struct KeyUse {
    /// The largest TTL of any RRset.
    pub max_ttl: u32,
    /// (algorithm, key tag) of every key with a signature over zone data
    /// (not DNSKEY, CDS, CDNSKEY).
    pub signing: std::collections::HashSet<(u8, u16)>,
    /// The keys among `signing` with a signature on every signed RRset of
    /// zone data.
    pub complete: std::collections::HashSet<(u8, u16)>,
    /// The earliest RRSIG expiration (unix seconds, RFC 4034 §3.1.5 time
    /// taken as after `now`'s era).
    pub earliest_expiry: Option<u64>,
}

/// Walks `zone` for [`KeyUse`] (a full walk: run it on key steps only).
pub fn key_use(zone: &Zone, now: u64) -> KeyUse {
    let mut u = KeyUse {
        max_ttl: 0,
        signing: Default::default(),
        complete: Default::default(),
        earliest_expiry: None,
    };
    let mut left: Option<i64> = None;
    let mut per_key: std::collections::HashMap<(u8, u16), usize> = Default::default();
    let mut signed = 0usize;
    let mut keys: Vec<(u8, u16)> = Vec::new();
    tldd_zone::records::for_each_rrset(zone, |_, set| {
        u.max_ttl = u.max_ttl.max(set.ttl);
        if let Some(l) = time_left(set, now as u32) {
            left = Some(left.map_or(l, |x| x.min(l)));
        }
        if !is_key_rrset(set.rtype) && set.sigs().next().is_some() {
            signed += 1;
            keys.clear();
            keys.extend(set.sigs().filter_map(signed_by));
            keys.sort_unstable();
            keys.dedup();
            for k in &keys {
                *per_key.entry(*k).or_default() += 1;
            }
        }
    });
    u.signing = per_key.keys().copied().collect();
    u.complete = per_key
        .into_iter()
        .filter(|(_, n)| *n == signed)
        .map(|(k, _)| k)
        .collect();
    u.earliest_expiry = left.map(|l| (now as i64 + l).max(0) as u64);
    u
}

/// One refresh pass's result.
pub struct Refreshed {
    pub diff: Diff,
    /// The re-signed RRsets as they will be served (SOA first).
    pub sets: Vec<OwnedRRset>,
    /// RRsets that were due (some may be left for the next pass).
    pub due: usize,
}

/// Builds the refresh version's diff for `zone` at `now`; `None` when no
/// signature is due. The SOA serial moves on by `policy` and the SOA is
/// re-signed. `presigned_keys`: see [`due_with`].
pub fn refresh<K: SigningKey>(
    zone: &Zone,
    keys: &[K],
    opts: &SignOptions,
    policy: SerialPolicy,
    (window, presigned_keys): (u32, bool),
    now: u64,
) -> Result<Option<Refreshed>, String> {
    let zsks: Vec<(u8, u16)> = keys
        .iter()
        .filter(|k| !k.is_ksk())
        .map(|k| (k.algorithm(), k.key_tag()))
        .collect();
    let (mut sets, total) = due_with(
        zone,
        now as u32,
        window,
        MAX_PER_PASS,
        &zsks,
        presigned_keys,
    );
    if sets.is_empty() {
        return Ok(None);
    }
    let old_soa = soa_rec(zone).ok_or("the zone has no SOA")?;
    let old_soa_set = zone.soa().ok_or("the zone has no SOA")?;
    let from = zone.serial();
    let to = policy.next(from, now);
    let new_soa_rd = with_serial(&old_soa.rdata, to).ok_or("bad SOA RDATA")?;
    let mut soa = RRset::new(SOA, old_soa_set.ttl, &[&new_soa_rd]);

    let mut opts = opts.clone();
    opts.now = now;
    let signer = Signer::new(&zone.origin, keys, &opts).map_err(|e| e.to_string())?;
    let mut removed = vec![old_soa.clone()];
    let mut added = vec![Rec::new_in(&zone.origin, SOA, old_soa.ttl, &new_soa_rd)];
    for sig in old_soa_set.sigs() {
        removed.push(Rec::new_in(&zone.origin, RRSIG, old_soa_set.ttl, sig));
    }
    for (owner, set) in &sets {
        for sig in set.sigs() {
            removed.push(Rec::new_in(owner, RRSIG, set.ttl, sig));
        }
    }
    let origin = zone.origin.clone();
    let mut sc = Scratch::default();
    {
        let mut items: Vec<(&[u8], &mut RRset)> = vec![(&origin, &mut soa)];
        items.extend(sets.iter_mut().map(|(o, s)| (&**o, s)));
        signer
            .sign_rrsets(&mut items, &mut sc)
            .map_err(|e| e.to_string())?;
    }
    for sig in soa.sigs() {
        added.push(Rec::new_in(&origin, RRSIG, soa.ttl, sig));
    }
    for (owner, set) in &sets {
        for sig in set.sigs() {
            added.push(Rec::new_in(owner, RRSIG, set.ttl, sig));
        }
    }
    sets.insert(0, (origin, soa));
    Ok(Some(Refreshed {
        diff: Diff {
            from,
            to,
            removed,
            added,
        },
        sets,
        due: total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::TestKey;

    fn signed_zone(now: u64, validity: u32) -> (Zone, Vec<TestKey>, SignOptions) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("z.zone");
        let mut text = String::from(
            "$ORIGIN shop.\n@ 3600 IN SOA a.nic.shop. h.nic.shop. 7 1800 900 604800 900\n\
             @ 3600 IN NS a.nic.shop.\na.nic 3600 IN A 192.0.2.1\n",
        );
        for i in 0..50 {
            text.push_str(&format!("d{i} 3600 IN NS ns.example.\n"));
            if i % 5 == 0 {
                text.push_str(&format!("d{i} 3600 IN DS {i} 13 2 {:064X}\n", i + 1));
            }
        }
        std::fs::write(&p, text).unwrap();
        let mut zone = tldd_zone::load::load_file(&p, "shop.", &tldd_zone::progress::Quiet)
            .unwrap()
            .zone;
        let keys = vec![
            TestKey::generate(13, true).unwrap(),
            TestKey::generate(13, false).unwrap(),
        ];
        let opts = SignOptions {
            opt_out: true,
            iterations: 0,
            salt: vec![],
            validity,
            inception_offset: 3600,
            dnskey_ttl: 3600,
            now,
        };
        crate::signer::sign_in_place(&mut zone, &opts, &keys, &|_| {}).unwrap();
        (zone, keys, opts)
    }

    #[test]
    fn nothing_due_right_after_signing() {
        let now = 1_800_000_000;
        let (zone, keys, opts) = signed_zone(now, 86400);
        let r = refresh(
            &zone,
            &keys,
            &opts,
            SerialPolicy::Increment,
            (3600, false),
            now,
        )
        .unwrap();
        assert!(r.is_none());
    }

    #[test]
    fn due_signatures_are_replaced_and_verify() {
        let now = 1_800_000_000;
        let (zone, keys, opts) = signed_zone(now, 86400);
        let later = now + 86400 - 600; // ten minutes before expiry
        let r = refresh(
            &zone,
            &keys,
            &opts,
            SerialPolicy::Increment,
            (3600, false),
            later,
        )
        .unwrap()
        .expect("signatures are due");
        // apex DNSKEY/NS/NSEC3PARAM + 10 DS + the NSEC3 records, all of them.
        assert_eq!(r.due, r.sets.len() - 1);
        assert_eq!(r.diff.to, 8);
        let mut state = tldd_zone::ZoneState::new(zone);
        state.apply(&r.diff).unwrap();
        // Every signature now expires a full validity after `later`.
        let (left, _) = due(&state.zone, later as u32, 86400 - 60, usize::MAX);
        assert!(left.is_empty(), "{} RRsets still due", left.len());
        crate::signer::verify_at(&state.zone, later as u32).unwrap();
    }
}
