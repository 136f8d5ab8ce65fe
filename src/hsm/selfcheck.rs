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
        if sig.len() != 64 {
            return false;
        }
        let scalar = |b: &[u8]| {
            let bytes = FieldBytes::try_from(b).ok()?;
            Option::<Scalar>::from(Scalar::from_repr(bytes)).filter(|s| *s != Scalar::ZERO)
        };
        let (Some(r), Some(s)) = (scalar(&sig[..32]), scalar(&sig[32..])) else {
            return false; // r and s must be in [1, n-1]
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, data);
        let Ok(hash) = FieldBytes::try_from(digest.as_ref()) else {
            return false;
        };
        let e = <Scalar as Reduce<FieldBytes>>::reduce(&hash);
        let Some(w) = Option::<Scalar>::from(s.invert_vartime()) else {
            return false;
        };
        // k = w·e + w·r·d: constant-time scalar arithmetic on the secret.
        let k = w * e + w * r * self.d;
        let mut k_bytes: [u8; 32] = k.to_repr().into();
        let point = mul_generator(&k_bytes);
        k_bytes.fill(0);
        let Some((x, _)) = point else {
            return false; // k = 0: the point at infinity, never valid
        };
        // r must equal the x coordinate reduced modulo n.
        <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(x)) == r
    }
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
