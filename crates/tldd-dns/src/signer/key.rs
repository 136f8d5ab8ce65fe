//! The signer's narrow view of a key ([`SigningKey`]) and an in-memory ring
//! key for tests ([`TestKey`]).
//!
//! The key layer (`crate::hsm::KeyPair`, soft or PKCS#11) implements the
//! trait; the signer needs nothing else from it.
use ring::rand::SystemRandom;
use ring::signature::{self as sg, KeyPair as _};

/// What the signer needs of a key.
pub trait SigningKey: Send + Sync {
    /// DNSSEC algorithm number (8, 13, 15).
    fn algorithm(&self) -> u8;
    /// DNSKEY flags (256 ZSK, 257 KSK/SEP).
    fn flags(&self) -> u16;
    /// DNSKEY RDATA, wire form.
    fn dnskey_rdata(&self) -> &[u8];
    /// RFC 4034 Appendix B key tag.
    fn key_tag(&self) -> u16;
    /// Signs the full RFC 4034 §3.1.8.1 input; returns the RRSIG signature field.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String>;
    /// Signs a batch, results in order. Backends that can pipeline (an HSM
    /// session pool) override this; the default signs one after another.
    fn sign_many(&self, items: &[&[u8]]) -> Vec<Result<Vec<u8>, String>> {
        items.iter().map(|d| self.sign(d)).collect()
    }
    /// A key-signing key (SEP bit set).
    fn is_ksk(&self) -> bool {
        self.flags() & 1 == 1
    }
}

impl<K: SigningKey + ?Sized> SigningKey for &K {
    fn algorithm(&self) -> u8 {
        (**self).algorithm()
    }
    fn flags(&self) -> u16 {
        (**self).flags()
    }
    fn dnskey_rdata(&self) -> &[u8] {
        (**self).dnskey_rdata()
    }
    fn key_tag(&self) -> u16 {
        (**self).key_tag()
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        (**self).sign(data)
    }
    fn sign_many(&self, items: &[&[u8]]) -> Vec<Result<Vec<u8>, String>> {
        (**self).sign_many(items)
    }
}

/// RFC 4034 Appendix B key tag of DNSKEY RDATA.
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, &b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            b as u32
        } else {
            (b as u32) << 8
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// DNSKEY RDATA from its fields.
pub fn dnskey_rdata(flags: u16, algorithm: u8, public_key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + public_key.len());
    v.extend_from_slice(&flags.to_be_bytes());
    v.push(3);
    v.push(algorithm);
    v.extend_from_slice(public_key);
    v
}

enum Inner {
    Ecdsa(sg::EcdsaKeyPair),
    Ed25519(sg::Ed25519KeyPair),
}

/// An in-memory ring key (ECDSA P-256 or Ed25519), for tests and benches.
pub struct TestKey {
    inner: Inner,
    rng: SystemRandom,
    algorithm: u8,
    flags: u16,
    rdata: Vec<u8>,
    tag: u16,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TestKey(alg {} tag {} flags {})",
            self.algorithm, self.tag, self.flags
        )
    }
}

impl TestKey {
    /// A fresh key: algorithm 13 or 15; `ksk` sets flags 257.
    pub fn generate(algorithm: u8, ksk: bool) -> Result<TestKey, String> {
        let rng = SystemRandom::new();
        let pkcs8 = match algorithm {
            13 => sg::EcdsaKeyPair::generate_pkcs8(&sg::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| e.to_string())?,
            15 => sg::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| e.to_string())?,
            a => return Err(format!("test keys support algorithms 13 and 15, not {a}")),
        };
        TestKey::from_pkcs8(algorithm, ksk, pkcs8.as_ref())
    }

    /// A key from PKCS#8 bytes.
    pub fn from_pkcs8(algorithm: u8, ksk: bool, pkcs8: &[u8]) -> Result<TestKey, String> {
        let rng = SystemRandom::new();
        let (inner, public) = match algorithm {
            13 => {
                let k =
                    sg::EcdsaKeyPair::from_pkcs8(&sg::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
                        .map_err(|e| e.to_string())?;
                let p = k.public_key().as_ref()[1..].to_vec();
                crate::hsm::selfcheck::register(pkcs8, &p);
                (Inner::Ecdsa(k), p)
            }
            15 => {
                let k = sg::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                    .map_err(|e| e.to_string())?;
                let p = k.public_key().as_ref().to_vec();
                (Inner::Ed25519(k), p)
            }
            a => return Err(format!("test keys support algorithms 13 and 15, not {a}")),
        };
        let flags = if ksk { 257 } else { 256 };
        let rdata = dnskey_rdata(flags, algorithm, &public);
        let tag = key_tag(&rdata);
        Ok(TestKey {
            inner,
            rng,
            algorithm,
            flags,
            rdata,
            tag,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// The PKCS#8 private key (tests only).
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

impl SigningKey for TestKey {
    fn algorithm(&self) -> u8 {
        self.algorithm
    }
    fn flags(&self) -> u16 {
        self.flags
    }
    fn dnskey_rdata(&self) -> &[u8] {
        &self.rdata
    }
    fn key_tag(&self) -> u16 {
        self.tag
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        match &self.inner {
            Inner::Ecdsa(k) => k
                .sign(&self.rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| e.to_string()),
            Inner::Ed25519(k) => Ok(k.sign(data).as_ref().to_vec()),
        }
    }
}

/// Verifies a signature with a DNSKEY's algorithm and public key field (ring).
pub fn verify_signature(algorithm: u8, public_key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    match algorithm {
        13 | 14 => {
            let alg = if algorithm == 13 {
                &sg::ECDSA_P256_SHA256_FIXED
            } else {
                &sg::ECDSA_P384_SHA384_FIXED
            };
            let mut point = Vec::with_capacity(1 + public_key.len());
            point.push(4);
            point.extend_from_slice(public_key);
            sg::UnparsedPublicKey::new(alg, point)
                .verify(data, sig)
                .is_ok()
        }
        15 => sg::UnparsedPublicKey::new(&sg::ED25519, public_key)
            .verify(data, sig)
            .is_ok(),
        8 | 10 => {
            // RFC 3110 public key: exponent length (1 or 3 octets), exponent, modulus.
            let Some((&first, rest)) = public_key.split_first() else {
                return false;
            };
            let (elen, rest) = if first == 0 {
                if rest.len() < 2 {
                    return false;
                }
                (u16::from_be_bytes([rest[0], rest[1]]) as usize, &rest[2..])
            } else {
                (first as usize, rest)
            };
            if rest.len() <= elen {
                return false;
            }
            let (e, n) = rest.split_at(elen);
            let params = if algorithm == 8 {
                &sg::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            } else {
                &sg::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
            };
            sg::RsaPublicKeyComponents { n, e }
                .verify(params, data, sig)
                .is_ok()
        }
        _ => false,
    }
}

/// The key layer's keys (soft PKCS#8 via ring, or PKCS#11): `sign_many`
/// hands a whole batch to the backend, which an HSM spreads over its
/// session pool.
impl SigningKey for crate::hsm::KeyPair {
    fn algorithm(&self) -> u8 {
        crate::hsm::KeyPair::algorithm(self)
    }
    fn flags(&self) -> u16 {
        crate::hsm::KeyPair::flags(self)
    }
    fn dnskey_rdata(&self) -> &[u8] {
        crate::hsm::KeyPair::dnskey_rdata(self)
    }
    fn key_tag(&self) -> u16 {
        crate::hsm::KeyPair::key_tag(self)
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        crate::hsm::KeyPair::sign(self, data).map_err(|e| e.to_string())
    }
    fn sign_many(&self, items: &[&[u8]]) -> Vec<Result<Vec<u8>, String>> {
        crate::hsm::KeyPair::sign_many(self, items)
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        for alg in [13, 15] {
            let k = TestKey::generate(alg, false).unwrap();
            let s = k.sign(b"hello").unwrap();
            assert_eq!(s.len(), 64);
            assert!(verify_signature(alg, &k.dnskey_rdata()[4..], b"hello", &s));
            assert!(!verify_signature(alg, &k.dnskey_rdata()[4..], b"hellp", &s));
        }
    }

    #[test]
    fn rfc4034_key_tag() {
        // RFC 4034 §5.4 example DNSKEY for dskey.example.com (tag 60485).
        let key = data_encoding::BASE64
            .decode(
                b"AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let rd = dnskey_rdata(256, 5, &key);
        assert_eq!(key_tag(&rd), 60485);
    }
}
