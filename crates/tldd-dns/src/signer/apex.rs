//! The apex key RRsets (DNSKEY, CDS, CDNSKEY) of a key rollover step,
//! and the version that changes them.
//!
//! The key layer ([`crate::keys::roll`]) decides which keys are published,
//! which sign and which the parent should point at; this module puts that
//! into a zone: the DNSKEY RRset (our published keys, any DNSKEY of the
//! zone file that is not ours kept), CDS and CDNSKEY (present only when a
//! KSK is named, RFC 7344), each signed by the KSKs, the apex NSEC3
//! record's type bitmap spliced (CDS and CDNSKEY come and go), and the SOA
//! with a new serial re-signed. [`key_version`] returns that as a [`Diff`]
//! (journalled and sent by IXFR like any version) and the version itself.
use super::chain;
use super::key::SigningKey;
use super::rrsig::Scratch;
use super::sign::{SignError, SignOptions, Signer};
use crate::config::SerialPolicy;
use tldd_zone::diff::with_serial;
use tldd_zone::nsec3::owner_name;
use tldd_zone::rdata::{CDNSKEY, CDS, DNSKEY, RRSIG, SOA};
use tldd_zone::{Diff, RRset, Rec, Zone};

/// What the apex key RRsets should hold.
#[derive(Debug, Clone, Default)]
pub struct ApexKeys {
    /// DNSKEY RDATA of every key of ours to publish.
    pub publish: Vec<Vec<u8>>,
    /// (algorithm, key tag) of our keys that must not be published: any
    /// DNSKEY of theirs in the zone is withdrawn.
    pub withdraw: Vec<(u8, u16)>,
    /// CDS RDATA (empty: no CDS RRset).
    pub cds: Vec<Vec<u8>>,
    /// CDNSKEY RDATA (empty: no CDNSKEY RRset).
    pub cdnskey: Vec<Vec<u8>>,
    /// TTL of the three RRsets (`dnskey_ttl`).
    pub ttl: u32,
    /// (algorithm, key tag) of the KSKs that sign them (empty: not
    /// checked); RRsets signed by others are re-signed.
    pub signers: Vec<(u8, u16)>,
    /// An offline-KSK zone: the three RRsets as the imported SKR's slot
    /// has them, signatures included (the fields above are then unused).
    pub presigned: Option<super::skr::SkrSlot>,
}

/// The apex key RRsets for a zone (lower-case wire `origin`) whose key
/// records are `records` and whose served keys `loaded` holds: our
/// published DNSKEYs, every other key of ours withdrawn, CDS (one per
/// digest type of `digests`) and CDNSKEY for the KSKs the parent should
/// point at.
pub fn apex_keys(
    origin: &[u8],
    records: &[crate::keys::state::KeyRecord],
    loaded: &crate::keys::lifecycle::Loaded,
    ttl: u32,
    digests: &[u8],
) -> ApexKeys {
    let published = &loaded.published;
    let mut out = ApexKeys {
        ttl,
        ..ApexKeys::default()
    };
    for (r, k) in loaded
        .keys
        .iter()
        .filter(|(r, _)| published.contains(&r.key_tag))
    {
        out.publish.push(k.dnskey_rdata().to_vec());
        if loaded.cds.contains(&r.key_tag) {
            out.cdnskey.push(k.dnskey_rdata().to_vec());
            for &d in digests {
                if let Some(ds) = crate::hsm::dnskey::ds_rdata(origin, k.dnskey_rdata(), d) {
                    out.cds.push(ds);
                }
            }
        }
    }
    for r in records {
        if !published.contains(&r.key_tag) {
            out.withdraw.push((r.algorithm, r.key_tag));
        }
    }
    for (r, _) in &loaded.keys {
        if r.role == crate::keys::state::Role::Ksk && loaded.signing.contains(&r.key_tag) {
            out.signers.push((r.algorithm, r.key_tag));
        }
    }
    out
}

/// Whether `set` is signed by exactly the keys `signers` (any, when empty).
fn signed_by_exactly(set: Option<&RRset>, signers: &[(u8, u16)]) -> bool {
    let Some(set) = set else { return true };
    if signers.is_empty() {
        return true;
    }
    let mut have: Vec<(u8, u16)> = set.sigs().filter_map(super::refresh::signed_by).collect();
    let mut want = signers.to_vec();
    have.sort_unstable();
    have.dedup();
    want.sort_unstable();
    want.dedup();
    have == want
}

fn same_set(a: Option<&RRset>, rdatas: &[Vec<u8>], ttl: u32) -> bool {
    match a {
        None => rdatas.is_empty(),
        Some(s) => {
            let mut have: Vec<&[u8]> = s.rdatas().collect();
            let mut want: Vec<&[u8]> = rdatas.iter().map(|v| v.as_slice()).collect();
            have.sort_unstable();
            want.sort_unstable();
            have.dedup();
            want.dedup();
            s.ttl == ttl && have == want
        }
    }
}

/// The DNSKEY RDATAs `zone` should have with `keys`.
fn dnskeys(zone: &Zone, keys: &ApexKeys) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = zone
        .apex
        .get(DNSKEY)
        .map(|s| {
            s.rdatas()
                .filter(|rd| {
                    rd.len() < 4 || !keys.withdraw.contains(&(rd[3], super::key::key_tag(rd)))
                })
                .map(<[u8]>::to_vec)
                .collect()
        })
        .unwrap_or_default();
    for rd in &keys.publish {
        if !out.contains(rd) {
            out.push(rd.clone());
        }
    }
    out
}

/// Whether `zone`'s apex key RRsets already are what `keys` asks for.
pub fn is_current(zone: &Zone, keys: &ApexKeys) -> bool {
    if let Some(slot) = &keys.presigned {
        return zone.apex.get(DNSKEY) == Some(&slot.dnskey)
            && zone.apex.get(CDS) == slot.cds.as_ref()
            && zone.apex.get(CDNSKEY) == slot.cdnskey.as_ref();
    }
    same_set(zone.apex.get(DNSKEY), &dnskeys(zone, keys), keys.ttl)
        && same_set(zone.apex.get(CDS), &keys.cds, keys.ttl)
        && same_set(zone.apex.get(CDNSKEY), &keys.cdnskey, keys.ttl)
        && [DNSKEY, CDS, CDNSKEY]
            .iter()
            .all(|&t| signed_by_exactly(zone.apex.get(t), &keys.signers))
}

/// Puts the key RRsets into `zone`, signed by `signer`'s KSKs, and
/// splices the apex NSEC3 record (if the zone has a chain); returns the
/// NSEC3 hashes it rewrote.
pub fn put_keys<K: SigningKey>(
    zone: &mut Zone,
    keys: &ApexKeys,
    signer: &Signer<'_, K>,
    sc: &mut Scratch,
) -> Result<Vec<tldd_zone::nsec3::Hash>, SignError> {
    let origin = zone.origin.clone();
    if let Some(slot) = &keys.presigned {
        zone.apex.put(slot.dnskey.clone());
        for (rtype, set) in [(CDS, &slot.cds), (CDNSKEY, &slot.cdnskey)] {
            match set {
                Some(set) => zone.apex.put(set.clone()),
                None => {
                    zone.apex.remove(rtype);
                }
            }
        }
        return if zone.nsec3.is_some() {
            chain::update_name(zone, &origin, signer, sc)
        } else {
            Ok(Vec::new())
        };
    }
    let want = dnskeys(zone, keys);
    for (rtype, rdatas) in [(DNSKEY, &want), (CDS, &keys.cds), (CDNSKEY, &keys.cdnskey)] {
        if rdatas.is_empty() {
            zone.apex.remove(rtype);
            continue;
        }
        let refs: Vec<&[u8]> = rdatas.iter().map(|v| v.as_slice()).collect();
        let mut set = RRset::new(rtype, keys.ttl, &refs);
        signer.sign_rrset(&origin, &mut set, sc)?;
        zone.apex.put(set);
    }
    if zone.nsec3.is_some() {
        chain::update_name(zone, &origin, signer, sc)
    } else {
        Ok(Vec::new())
    }
}

/// A key step's version of `zone`: the key RRsets as `keys` says, signed
/// by `signing`, a new SOA serial (by `policy`) re-signed; `None` when the
/// apex already is so. Returns the diff and the new version (unverified:
/// the caller verifies before it commits).
pub fn key_version<K: SigningKey>(
    zone: &Zone,
    keys: &ApexKeys,
    signing: &[K],
    opts: &SignOptions,
    policy: SerialPolicy,
) -> Result<Option<(Diff, Zone)>, String> {
    if is_current(zone, keys) {
        return Ok(None);
    }
    let signer = Signer::new(&zone.origin, signing, opts).map_err(|e| e.to_string())?;
    let mut sc = Scratch::default();
    let mut next = zone.clone();
    let origin = zone.origin.clone();
    let from = zone.serial();
    let to = policy.next(from, opts.now);
    let soa = zone.soa().ok_or("the zone has no SOA")?;
    let soa_rd = soa.rdatas().next().ok_or("the zone has no SOA")?;
    let new_rd = with_serial(soa_rd, to).ok_or("bad SOA RDATA")?;
    let mut new_soa = RRset::new(SOA, soa.ttl, &[&new_rd]);
    signer
        .sign_rrset(&origin, &mut new_soa, &mut sc)
        .map_err(|e| e.to_string())?;
    next.apex.put(new_soa);
    let hashes = put_keys(&mut next, keys, &signer, &mut sc).map_err(|e| e.to_string())?;

    let mut removed = Vec::new();
    let mut added = Vec::new();
    let push = |out: &mut Vec<Rec>, owner: &[u8], set: &RRset| {
        for rd in set.rdatas() {
            out.push(Rec::new_in(owner, set.rtype, set.ttl, rd));
        }
        for s in set.sigs() {
            out.push(Rec::new_in(owner, RRSIG, set.ttl, s));
        }
    };
    for rtype in [SOA, DNSKEY, CDS, CDNSKEY] {
        let (a, b) = (zone.apex.get(rtype), next.apex.get(rtype));
        if a == b {
            continue;
        }
        if let Some(a) = a {
            push(&mut removed, &origin, a);
        }
        if let Some(b) = b {
            push(&mut added, &origin, b);
        }
    }
    let mut o = [0u8; 256];
    for h in hashes {
        let n = owner_name(&h, &origin, &mut o);
        let a = zone
            .nsec3
            .as_ref()
            .and_then(|c| c.get(&h))
            .map(|r| &r.rrset);
        let b = next
            .nsec3
            .as_ref()
            .and_then(|c| c.get(&h))
            .map(|r| &r.rrset);
        if a == b {
            continue;
        }
        if let Some(a) = a {
            push(&mut removed, &o[..n], a);
        }
        if let Some(b) = b {
            push(&mut added, &o[..n], b);
        }
    }
    Ok(Some((
        Diff {
            from,
            to,
            removed,
            added,
        },
        next,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::TestKey;

    #[test]
    fn cds_comes_and_goes_with_the_bitmap_and_the_diff_replays() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("z.zone");
        std::fs::write(
            &p,
            "$ORIGIN shop.\n@ 60 IN SOA a.nic.shop. h.nic.shop. 7 1800 900 604800 60\n\
             @ 60 IN NS a.nic.shop.\na.nic 60 IN A 192.0.2.1\nd 60 IN NS ns.example.\n\
             d 60 IN DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n",
        )
        .unwrap();
        let mut zone = tldd_zone::load::load_file(&p, "shop.", &tldd_zone::progress::Quiet)
            .unwrap()
            .zone;
        let ksk = TestKey::generate(13, true).unwrap();
        let zsk = TestKey::generate(13, false).unwrap();
        let new_ksk = TestKey::generate(13, true).unwrap();
        let now = crate::signer::sign::unix_now();
        let opts = SignOptions {
            opt_out: true,
            iterations: 0,
            salt: vec![],
            validity: 86400,
            inception_offset: 3600,
            dnskey_ttl: 60,
            now,
        };
        let keys = [&ksk, &zsk];
        crate::signer::sign_in_place(&mut zone, &opts, &keys, &|_| {}).unwrap();
        let base = ApexKeys {
            publish: vec![ksk.dnskey_rdata().to_vec(), zsk.dnskey_rdata().to_vec()],
            withdraw: vec![],
            cds: vec![],
            cdnskey: vec![],
            ttl: 60,
            signers: vec![],
            presigned: None,
        };
        assert!(is_current(&zone, &base));
        // The new KSK published with its CDS.
        let roll = ApexKeys {
            publish: vec![
                ksk.dnskey_rdata().to_vec(),
                zsk.dnskey_rdata().to_vec(),
                new_ksk.dnskey_rdata().to_vec(),
            ],
            cds: vec![ds_of(&zone, &new_ksk)],
            cdnskey: vec![new_ksk.dnskey_rdata().to_vec()],
            ..base.clone()
        };
        let signing = [&ksk, &zsk, &new_ksk];
        let (diff, next) = key_version(&zone, &roll, &signing, &opts, SerialPolicy::Increment)
            .unwrap()
            .unwrap();
        crate::signer::verify_at(&next, now as u32).unwrap();
        assert_eq!(next.apex.get(DNSKEY).unwrap().rdatas().count(), 3);
        assert!(next.apex.get(CDS).is_some());
        // The diff gives the same version as the one built.
        let mut st = tldd_zone::ZoneState::new(zone.clone());
        st.apply(&diff).unwrap();
        assert_eq!(
            tldd_zone::records::rrsets_at(&st.zone, &st.zone.origin.clone()),
            tldd_zone::records::rrsets_at(&next, &next.origin)
        );
        crate::signer::verify_at(&st.zone, now as u32).unwrap();
        // The old KSK withdrawn and the CDS gone.
        let done = ApexKeys {
            publish: vec![zsk.dnskey_rdata().to_vec(), new_ksk.dnskey_rdata().to_vec()],
            withdraw: vec![(13, ksk.key_tag())],
            ..base
        };
        let signing = [&zsk, &new_ksk];
        let (_, last) = key_version(&next, &done, &signing, &opts, SerialPolicy::Increment)
            .unwrap()
            .unwrap();
        crate::signer::verify_at(&last, now as u32).unwrap();
        assert!(last.apex.get(CDS).is_none() && last.apex.get(CDNSKEY).is_none());
        assert_eq!(last.apex.get(DNSKEY).unwrap().rdatas().count(), 2);
        assert!(
            key_version(&last, &done, &signing, &opts, SerialPolicy::Increment)
                .unwrap()
                .is_none()
        );
    }

    fn ds_of(zone: &Zone, k: &TestKey) -> Vec<u8> {
        crate::hsm::dnskey::ds_rdata(&zone.origin, k.dnskey_rdata(), 2).unwrap()
    }
}
