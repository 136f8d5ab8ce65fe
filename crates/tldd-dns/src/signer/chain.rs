//! Splicing one name into or out of the NSEC3 chain (incremental
//! re-signing after an update). Membership and bitmaps are [`super::bitmap`].
//!
//! In the chain (RFC 5155 §7.1): the apex, every other authoritative name
//! including empty non-terminals, every delegation with DS, and — only
//! without opt-out — every delegation without DS. Bitmaps: the types at the
//! name plus RRSIG when it has any signed data; a cut has NS (plus DS RRSIG
//! when it has DS); an empty non-terminal has none.
use super::bitmap::expected_bitmap;
use super::key::SigningKey;
use super::rrsig::Scratch;
use super::sign::{SignError, Signer};
use tldd_zone::nsec3::{self, Hash, Nsec3Rec};
use tldd_zone::Zone;

/// Brings the NSEC3 record of `name` in line with `zone` after an update
/// changed the name (added, removed, types or DS changed): inserts, rewrites
/// or removes it, fixes the predecessor's "next hashed owner", and re-signs
/// the records touched. Returns their hashes. Empty non-terminals that
/// appear or vanish with the name are the caller's to pass too.
pub fn update_name<K: SigningKey>(
    zone: &mut Zone,
    name: &[u8],
    signer: &Signer<'_, K>,
    sc: &mut Scratch,
) -> Result<Vec<Hash>, SignError> {
    let Some(mut chain) = zone.nsec3.take() else {
        return Err(SignError::Unsigned);
    };
    let r = splice(zone, &mut chain, name, signer, sc);
    zone.nsec3 = Some(chain);
    r
}

fn splice<K: SigningKey>(
    zone: &Zone,
    chain: &mut nsec3::Nsec3Chain,
    name: &[u8],
    signer: &Signer<'_, K>,
    sc: &mut Scratch,
) -> Result<Vec<Hash>, SignError> {
    let p = chain.params.clone();
    let h = p.hash(name);
    let want = expected_bitmap(zone, name, p.opt_out);
    let mut rd = Vec::with_capacity(64);
    let origin = zone.origin.clone();
    let ttl = chain.ttl;
    let mut resign = |chain: &mut nsec3::Nsec3Chain, hash: Hash, next: &Hash, bitmap: &[u8]| {
        rd.clear();
        nsec3::build_rdata(&p, next, bitmap, &mut rd);
        let mut rec = Nsec3Rec::new(hash, ttl, &rd);
        let mut o = [0u8; 256];
        let n = nsec3::owner_name(&hash, &origin, &mut o);
        signer.sign_rrset(&o[..n], &mut rec.rrset, sc)?;
        chain.insert(rec);
        Ok::<(), SignError>(())
    };
    match (
        chain
            .get(&h)
            .map(|r| r.fields().map(|f| (f.next.to_vec(), f.bitmap.to_vec()))),
        want,
    ) {
        (Some(cur), Some(bm)) => {
            let (next, old_bm) = cur.unwrap_or_default();
            if old_bm == bm {
                return Ok(Vec::new());
            }
            let next: Hash = next.try_into().unwrap_or(h);
            resign(chain, h, &next, &bm)?;
            Ok(vec![h])
        }
        (Some(_), None) => {
            let removed = chain.remove(&h);
            let Some(pred) = chain
                .predecessor(&h)
                .map(|r| (r.hash, r.fields().map(|f| f.bitmap.to_vec())))
            else {
                return Ok(Vec::new());
            };
            let next: Hash = removed
                .and_then(|r| r.fields().and_then(|f| f.next.try_into().ok()))
                .unwrap_or(pred.0);
            resign(chain, pred.0, &next, &pred.1.unwrap_or_default())?;
            Ok(vec![pred.0])
        }
        (None, Some(bm)) => {
            let pred = chain
                .predecessor(&h)
                .map(|r| (r.hash, r.fields().map(|f| f.bitmap.to_vec())));
            let succ = chain.successor(&h).map(|r| r.hash).unwrap_or(h);
            resign(chain, h, &succ, &bm)?;
            match pred {
                Some((ph, pbm)) => {
                    resign(chain, ph, &h, &pbm.unwrap_or_default())?;
                    Ok(vec![h, ph])
                }
                None => Ok(vec![h]),
            }
        }
        (None, None) => Ok(Vec::new()),
    }
}
