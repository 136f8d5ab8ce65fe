//! Fast self-check of soft ECDSA P-256 signatures, using the private key.
//!
//! # Why
//!
//! Every signature tldd publishes is verified first (bump-in-the-wire). A
//! standard P-256 verification computes `u1·G + u2·Q` and costs about 86 µs
//! here (ring and OpenSSL alike), 3.5 times the 24 µs it took to sign: on a
//! 1M-delegation TLD (300k signatures) it was half of `tldd sign`'s time.
//!
//! When the signer holds the private key `d` (soft keystore), `Q = d·G`, so
//! the same equation is `(u1 + u2·d)·G`: one multiplication of the fixed
//! generator, which OpenSSL does from a precomputed table in ~15 µs.
//! Mathematically this *is* ECDSA verification, provided `Q` really is
//! `d·G`; [`register`] proves that once per key, against the public key
//! that is published in the DNSKEY RRset, and a signature is only checked
//! this way when the DNSKEY it names carries exactly that public key.
//! Anything else (HSM keys, other algorithms, keys from elsewhere) is
//! verified by ring with the public key as before.
//!
//! The check is independent of the signing code: ring signs, the scalar
//! arithmetic here is the `p256` crate's, the point multiplication is
//! OpenSSL's.
//!
//! # Secrets
//!
//! `u1 + u2·d` equals the signature's nonce `k`, as secret as `d`. The
//! scalar arithmetic on it is constant time (`p256` crate), the generator
//! multiplication is OpenSSL's constant-time nistz256 table walk, and the
//! buffers holding `k` are overwritten after use. Only the public `s` is
//! inverted in variable time. HSM keys never reach this module.
//!
//! # Deliberately not done
//!
//! Hand-written curve arithmetic: the fixed-base multiplication is
//! OpenSSL's. Ed25519 and RSA keep the ring verification.
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcPoint};
use openssl::nid::Nid;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::PrimeField;
use p256::{FieldBytes, Scalar};
use std::cell::RefCell;
use std::sync::{Arc, RwLock};

/// A soft P-256 key whose private scalar matches its public key.
pub struct PrivateCheck {
    d: Scalar,
    /// DNSKEY public key field: X || Y, 64 octets.
    public: Vec<u8>,
}

impl std::fmt::Debug for PrivateCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateCheck").finish_non_exhaustive()
    }
}

/// Keys registered by the soft keystore as they are loaded.
static REGISTRY: RwLock<Vec<Arc<PrivateCheck>>> = RwLock::new(Vec::new());

/// Per-thread OpenSSL objects, reused across checks.
struct Curve {
    group: EcGroup,
    ctx: BigNumContext,
    point: EcPoint,
    k: BigNum,
    x: BigNum,
    y: BigNum,
}

impl Curve {
    fn new() -> Option<Curve> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()?;
        let point = EcPoint::new(&group).ok()?;
        let mut k = BigNum::new().ok()?;
        k.set_const_time();
        Some(Curve {
            group,
            ctx: BigNumContext::new().ok()?,
            point,
            k,
            x: BigNum::new().ok()?,
            y: BigNum::new().ok()?,
        })
    }

    /// `k·G` as (X, Y), 32 octets each, or None for the point at infinity.
    fn mul_generator(&mut self, k: &[u8; 32]) -> Option<([u8; 32], [u8; 32])> {
        self.k.copy_from_slice(k).ok()?;
        self.point
            .mul_generator2(&self.group, &self.k, &mut self.ctx)
            .ok()?;
        // Overwrite the secret scalar now that it has been used.
        self.k.copy_from_slice(&[0u8; 32]).ok()?;
        self.point
            .affine_coordinates(&self.group, &mut self.x, &mut self.y, &mut self.ctx)
            .ok()?;
        let x = self.x.to_vec_padded(32).ok()?;
        let y = self.y.to_vec_padded(32).ok()?;
        Some((x.try_into().ok()?, y.try_into().ok()?))
    }
}

thread_local! {
    static CURVE: RefCell<Option<Curve>> = RefCell::new(Curve::new());
}

fn mul_generator(k: &[u8; 32]) -> Option<([u8; 32], [u8; 32])> {
    CURVE.with(|c| c.borrow_mut().as_mut()?.mul_generator(k))
}

/// Registers a soft P-256 key (PKCS#8 DER) whose public key, as published in
/// its DNSKEY, is `public` (X || Y). Nothing is registered when the private
/// key cannot be read or `d·G` is not `public`; such a key is then verified
/// with ring like any other.
pub fn register(pkcs8: &[u8], public: &[u8]) -> bool {
    let Some(check) = PrivateCheck::new(pkcs8, public) else {
        return false;
    };
    let mut reg = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if !reg.iter().any(|c| c.public == public) {
        reg.push(Arc::new(check));
    }
    true
}

/// The registered check for a DNSKEY public key field, if any.
pub fn lookup(public: &[u8]) -> Option<Arc<PrivateCheck>> {
    let reg = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    reg.iter().find(|c| c.public == public).cloned()
}

impl PrivateCheck {
    /// Reads `d` from PKCS#8 and proves `d·G == public`.
    pub fn new(pkcs8: &[u8], public: &[u8]) -> Option<PrivateCheck> {
        let key = openssl::pkey::PKey::private_key_from_pkcs8(pkcs8).ok()?;
        let ec = key.ec_key().ok()?;
        if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
            return None;
        }
        let mut bytes: [u8; 32] = ec.private_key().to_vec_padded(32).ok()?.try_into().ok()?;
        let d = Option::<Scalar>::from(Scalar::from_repr(FieldBytes::from(bytes)));
        let point = mul_generator(&bytes);
        bytes.fill(0);
        let (x, y) = point?;
        if public.len() != 64 || public[..32] != x || public[32..] != y {
            return None;
        }
        Some(PrivateCheck {
            d: d?,
            public: public.to_vec(),
        })
    }

    /// Verifies an ECDSAP256SHA256 signature (`r || s`, RFC 6605) over
    /// `data`. Same verdict as a standard ECDSA verification with the
    /// public key.
    pub fn verify(&self, data: &[u8], sig: &[u8]) -> bool {
        self.prepare(data, sig)
            .is_some_and(|p| verify_batch(&[(self, p)])[0])
    }

    /// The public part of a check: None when the signature is malformed
    /// (wrong length, `r` or `s` not in [1, n-1]), which is a failed check.
    pub fn prepare(&self, data: &[u8], sig: &[u8]) -> Option<Prepared> {
        if sig.len() != 64 {
            return None;
        }
        let scalar = |b: &[u8]| {
            let bytes = FieldBytes::try_from(b).ok()?;
            Option::<Scalar>::from(Scalar::from_repr(bytes)).filter(|s| *s != Scalar::ZERO)
        };
        let r = scalar(&sig[..32])?;
        let s = scalar(&sig[32..])?;
        let digest = ring::digest::digest(&ring::digest::SHA256, data);
        let hash = FieldBytes::try_from(digest.as_ref()).ok()?;
        let e = <Scalar as Reduce<FieldBytes>>::reduce(&hash);
        Some(Prepared { e, r, s })
    }

    fn finish(&self, p: &Prepared, w: &Scalar) -> bool {
        // k = w·e + w·r·d: constant-time scalar arithmetic on the secret.
        let k = *w * p.e + *w * p.r * self.d;
        let mut k_bytes: [u8; 32] = k.to_repr().into();
        let point = mul_generator(&k_bytes);
        k_bytes.fill(0);
        let Some((x, _)) = point else {
            return false; // k = 0: the point at infinity, never valid
        };
        // r must equal the x coordinate reduced modulo n.
        <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(x)) == p.r
    }
}

/// A parsed signature and message hash, ready for [`verify_batch`].
#[derive(Clone, Copy)]
pub struct Prepared {
    e: Scalar,
    r: Scalar,
    s: Scalar,
}

/// Checks many signatures (of any registered keys) at once; one verdict
/// per item, in order. The public
/// `s` values are inverted together (Montgomery's trick: one inversion and
/// three multiplications each instead of one 5 µs inversion each).
pub fn verify_batch(items: &[(&PrivateCheck, Prepared)]) -> Vec<bool> {
    // prefix[i] = s_0 · … · s_i
    let mut prefix = Vec::with_capacity(items.len());
    let mut acc = Scalar::ONE;
    for (_, p) in items.iter() {
        acc *= p.s;
        prefix.push(acc);
    }
    let Some(mut inv) = Option::<Scalar>::from(acc.invert_vartime()) else {
        return vec![false; items.len()]; // unreachable: every s is non-zero
    };
    let mut ok = vec![false; items.len()];
    for i in (0..items.len()).rev() {
        // inv = (s_0 · … · s_i)^-1, so w_i = inv · prefix[i-1].
        let w = if i == 0 { inv } else { inv * prefix[i - 1] };
        inv *= items[i].1.s;
        ok[i] = items[i].0.finish(&items[i].1, &w);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

    fn key() -> (Vec<u8>, EcdsaKeyPair, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap();
        let public = kp.public_key().as_ref()[1..].to_vec();
        (pkcs8, kp, public)
    }

    #[test]
    fn agrees_with_ring_on_good_and_bad_signatures() {
        let rng = SystemRandom::new();
        let (pkcs8, kp, public) = key();
        let check = PrivateCheck::new(&pkcs8, &public).expect("matching key");
        for i in 0..200u32 {
            let data = format!("rrset {i}").into_bytes();
            let sig = kp.sign(&rng, &data).unwrap().as_ref().to_vec();
            assert!(check.verify(&data, &sig), "good signature {i}");
            assert!(crate::hsm::verify(13, &public, &data, &sig));
            let mut other = data.clone();
            other.push(b'x');
            assert!(!check.verify(&other, &sig), "other data {i}");
            let mut bad = sig.clone();
            bad[(i as usize) % 64] ^= 1 << (i % 8);
            assert_eq!(
                check.verify(&data, &bad),
                crate::hsm::verify(13, &public, &data, &bad),
                "flipped bit {i}"
            );
            assert!(!check.verify(&data, &bad));
        }
    }

    #[test]
    fn a_batch_gives_each_signature_its_own_verdict() {
        let rng = SystemRandom::new();
        let (pkcs8, kp, public) = key();
        let check = PrivateCheck::new(&pkcs8, &public).unwrap();
        let (pkcs8b, kpb, publicb) = key();
        let checkb = PrivateCheck::new(&pkcs8b, &publicb).unwrap();
        let mut items = Vec::new();
        let mut expected = Vec::new();
        for i in 0..50u32 {
            let data = format!("set {i}").into_bytes();
            let (c, k) = if i % 3 == 0 {
                (&checkb, &kpb)
            } else {
                (&check, &kp)
            };
            let mut sig = k.sign(&rng, &data).unwrap().as_ref().to_vec();
            let good = i % 7 != 0;
            if !good {
                sig[40] ^= 0x10;
            }
            items.push((c, c.prepare(&data, &sig).unwrap()));
            expected.push(good);
        }
        assert_eq!(verify_batch(&items), expected);
        assert!(verify_batch(&[]).is_empty());
    }

    #[test]
    fn refuses_out_of_range_and_short_signatures() {
        let (pkcs8, _, public) = key();
        let check = PrivateCheck::new(&pkcs8, &public).unwrap();
        assert!(!check.verify(b"x", &[0u8; 64]));
        assert!(!check.verify(b"x", &[0xffu8; 64]));
        assert!(!check.verify(b"x", &[1u8; 63]));
    }

    #[test]
    fn a_key_that_is_not_the_published_one_is_not_registered() {
        let (pkcs8, _, _) = key();
        let (_, _, other_public) = key();
        assert!(PrivateCheck::new(&pkcs8, &other_public).is_none());
        assert!(!register(&pkcs8, &other_public));
        assert!(lookup(&other_public).is_none());
        assert!(PrivateCheck::new(b"not pkcs8", &other_public).is_none());
    }

    #[test]
    fn registered_keys_are_found_by_public_key() {
        let (pkcs8, _, public) = key();
        assert!(register(&pkcs8, &public));
        assert!(lookup(&public).is_some());
    }
}
