//! The DNSSEC signer: NSEC3 chain (RFC 5155, RFC 9276 defaults), RRSIGs
//! (RFC 4034/4035), verify-before-serve, and `tldd sign`.
//!
//! - [`key`]: the signer's narrow key interface ([`SigningKey`]) and a ring
//!   test key.
//! - [`rrsig`]: canonical form and RRSIG wire form.
//! - [`sign`]: full signing of a zone version, in parallel ([`sign_zone`],
//!   [`sign_in_place`]); [`Signer::sign_rrset`] for one RRset.
//! - [`bitmap`]: chain membership and type bitmaps.
//! - [`chain`]: [`chain::update_name`] splices
//!   one name in or out and re-signs the records it touches.
//! - [`verify()`]: checks a signed version before it is served.
//! - [`zonefile`]: the signed zone as RFC 1035 text.
//! - [`resign`]: what an update batch changed, signed, and the NSEC3 chain
//!   spliced, before the version is verified.
//! - [`refresh`]: re-signing what nears expiry, in slices.
//!
//! `tldd sign` itself (arguments, progress, the summary line) is the
//! binary's `cli::sign`, built on these.
pub mod apex;
pub mod bitmap;
pub mod chain;
pub mod key;
pub mod refresh;
pub mod resign;
pub mod rrsig;
pub mod sign;
pub mod skr;
pub mod verify;
pub mod zonefile;

pub use key::{SigningKey, TestKey};
pub use rrsig::Scratch;
pub use sign::{sign_in_place, sign_zone, SignError, SignOptions, SignStats, Signer};
pub use verify::{
    verify, verify_at, verify_changed, verify_changed_with, verify_names, verify_rrsets,
    verify_rrsets_with, verify_sampled, verify_sampled_with, Unchanged, VerifyError, VerifyStats,
};

use crate::config::Config;

/// Test hook: with this variable set, `tldd sign` corrupts one signature
/// after signing, so tests can show the verifier stops the output.
#[doc(hidden)]
pub const CORRUPT_ENV: &str = "TLDD_TEST_CORRUPT_SIGNATURE";

/// Test hook: flips one bit of one signature (a DS RRSIG if there is one,
/// else an NSEC3 RRSIG, else the SOA's). Returns whether one was found.
#[doc(hidden)]
pub fn corrupt_one_signature(zone: &mut tldd_zone::Zone) -> bool {
    fn flip(set: &mut tldd_zone::RRset) -> bool {
        let mut sigs: Vec<Vec<u8>> = set.sigs().map(<[u8]>::to_vec).collect();
        let Some(s) = sigs.first_mut() else {
            return false;
        };
        let last = s.len() - 1;
        s[last] ^= 1;
        let refs: Vec<&[u8]> = sigs.iter().map(|v| v.as_slice()).collect();
        set.set_sigs(&refs);
        true
    }
    let target = zone
        .cuts
        .iter()
        .find(|d| d.ds.is_some())
        .map(|d| d.name.clone());
    if let Some(name) = target {
        if let Some(mut d) = zone.cuts.get(&name).cloned() {
            if let Some(ds) = d.ds.as_mut() {
                flip(ds);
            }
            zone.cuts.insert(d);
            return true;
        }
    }
    if let Some(chain) = zone.nsec3.as_mut() {
        let first = chain.iter().next().cloned();
        if let Some(mut r) = first {
            flip(&mut r.rrset);
            chain.insert(r);
            return true;
        }
    }
    zone.apex.rrsets.first_mut().is_some_and(flip)
}

/// The key records of `origin` and the keys it serves (there must be
/// signing keys: a zone without keys cannot be signed).
pub fn serving_keys(
    cfg: &Config,
    origin: &str,
) -> anyhow::Result<(
    Vec<crate::keys::state::KeyRecord>,
    crate::keys::lifecycle::Loaded,
)> {
    let records = crate::keys::lifecycle::zone_records(cfg, origin)?;
    let loaded = crate::keys::lifecycle::load_serving(cfg, &records)?;
    if loaded.signing.is_empty() {
        anyhow::bail!(
            "zone {origin} has no active keys: run `tldd keys -c CONFIG generate --zone {origin} --role ksk` and `--role zsk`"
        );
    }
    Ok((records, loaded))
}

/// Full signing as the key state says (`tldd serve` on a zone file,
/// `tldd sign`): the signing keys sign, every published key is in the
/// DNSKEY RRset (a pre-published ZSK too), and a KSK waiting for the
/// parent has its CDS and CDNSKEY ([`apex`]). Returns the DNSKEY RDATA of
/// the keys that signed without being published (verify with them:
/// [`verify_sampled_with`]).
pub fn sign_as_keys_say(
    cfg: &Config,
    origin: &str,
    zone: &mut tldd_zone::Zone,
    dnssec: &crate::config::DnssecConfig,
    opts: &SignOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(SignStats, Vec<Vec<u8>>)> {
    let (records, loaded) = serving_keys(cfg, origin)?;
    let keys = loaded.signing_keys();
    let stats = sign_in_place(zone, opts, &keys, progress)
        .map_err(|e| anyhow::anyhow!("zone {origin}: signing: {e}"))?;
    let mut keyset = apex::apex_keys(
        &zone.origin,
        &records,
        &loaded,
        dnssec.dnskey_ttl(),
        &dnssec.cds_digest_types,
    );
    if dnssec.offline_ksk {
        keyset.presigned = Some(skr::presigned_for(cfg, origin, &records, opts.now)?);
    }
    let origin_wire = zone.origin.clone();
    let signer = Signer::new(&origin_wire, &keys, opts)
        .map_err(|e| anyhow::anyhow!("zone {origin}: signing: {e}"))?;
    apex::put_keys(zone, &keyset, &signer, &mut Scratch::default())
        .map_err(|e| anyhow::anyhow!("zone {origin}: signing: {e}"))?;
    Ok((stats, loaded.unpublished_signers()))
}
