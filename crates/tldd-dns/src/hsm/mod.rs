//! Signing keys behind one narrow interface: [`KeyPair`].
//!
//! # What the signer uses
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! # let cfg = tldd_dns::config::Config::load(std::path::Path::new("tldd.toml"))?;
//! # let (rrsig_input, a, b) = (vec![0u8], vec![1u8], vec![2u8]);
//! use tldd_dns::hsm::{KeyPair, SignError};
//! use tldd_dns::keys::state::Role;
//! let keys: Vec<(Role, KeyPair)> = tldd_dns::keys::active_keys(&cfg, "shop.")?;
//! for (role, key) in &keys {
//!     let _alg: u8 = key.algorithm(); // 8, 13 or 15: RRSIG algorithm field
//!     let _tag: u16 = key.key_tag(); // RFC 4034 App. B: RRSIG key tag field
//!     let _flags: u16 = key.flags(); // 256 ZSK / 257 KSK (= role.flags())
//!     let _rdata: &[u8] = key.dnskey_rdata(); // DNSKEY RDATA (wire) for the apex RRset
//!     let _sig: Vec<u8> = key.sign(&rrsig_input)?; // RRSIG signature field
//!     let _sigs: Vec<Result<Vec<u8>, SignError>> = key.sign_many(&[&a[..], &b[..]]); // in order
//!     let _ = role;
//! }
//! # Ok(()) }
//! ```
//!
//! `data` given to `sign` is the complete RFC 4034 §3.1.8.1 input (RRSIG
//! RDATA without the signature, then the canonical RRset); the key hashes it
//! itself. The output is already in DNSSEC form: ECDSA `r || s` (64
//! octets, RFC 6605), Ed25519 (64 octets, RFC 8080), RSA PKCS#1 v1.5
//! SHA-256 (modulus length, RFC 5702).
//!
//! # Design
//!
//! An enum, not a trait object: two backends, known at compile time, matched
//! once per call ([`KeyPair::Soft`] via ring, [`KeyPair::Pkcs11`] via
//! cryptoki). Both are `Clone + Send + Sync` and cheap to clone (`Arc`
//! inside), so a parallel signer clones the key into each worker or shares
//! `&KeyPair` across rayon/scoped threads. The public parts (algorithm,
//! flags, public key, RDATA, key tag) are computed once at load time
//! ([`dnskey`]) and never touch the token again.
//!
//! Concurrency per backend:
//! * soft: every call signs on the calling thread; parallelism is the
//!   caller's (rayon). `sign_many` is a sequential loop.
//! * PKCS#11: each call takes a session from the token's pool (blocking
//!   while all are busy); `sign_many` fans a batch out over the pool's
//!   sessions on scoped threads. All calls block: never call them on an async
//!   runtime thread. See [`pkcs11`].
//!
//! # Limits
//!
//! Algorithms 8 (RSA 2048 in HSMs; soft RSA keys can be loaded but not
//! generated, ring has no RSA key generation), 13 and 15 (if the token has
//! `CKM_EDDSA`). No key export or import; no revocation bit handling here
//! (the flags are whatever the key state says).
pub mod dnskey;
pub mod pkcs11;
pub mod selfcheck;
pub mod soft;

pub use pkcs11::{KeyProtection, Pkcs11Key, Token};
pub use soft::SoftKey;

/// Errors loading or creating a key. Messages never contain PINs or key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Algorithm or operation this keystore cannot do.
    #[error("{0}")]
    Unsupported(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A key file or token object that is not what the key state says.
    #[error("{0}")]
    BadKey(String),
    #[error("{0}")]
    Crypto(String),
    /// The PKCS#11 module or token failed or is unreachable.
    #[error("HSM: {0}")]
    Hsm(String),
    /// Missing, rejected or locked PIN.
    #[error("HSM PIN: {0}")]
    Pin(String),
}

/// A signature could not be made. The signer should stop signing (not
/// serving) and retry later; nothing here is fatal to the process.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SignError {
    /// The token did not answer or refused (removed, restarted, logged out).
    #[error("HSM: {0}")]
    Hsm(String),
    #[error("signing: {0}")]
    Crypto(String),
}

/// The public half of a key, computed once.
#[derive(Debug)]
pub(crate) struct PublicInfo {
    algorithm: u8,
    flags: u16,
    public_key: Vec<u8>,
    rdata: Vec<u8>,
    key_tag: u16,
}

impl PublicInfo {
    pub(crate) fn new(algorithm: u8, flags: u16, public_key: Vec<u8>) -> PublicInfo {
        let rdata = dnskey::rdata(flags, algorithm, &public_key);
        let key_tag = dnskey::key_tag(&rdata);
        PublicInfo {
            algorithm,
            flags,
            public_key,
            rdata,
            key_tag,
        }
    }
}

/// A DNSSEC signing key in one of the keystores.
#[derive(Debug, Clone)]
pub enum KeyPair {
    /// PKCS#8 file, ring.
    Soft(SoftKey),
    /// Key inside a PKCS#11 token.
    Pkcs11(Pkcs11Key),
}

impl KeyPair {
    fn info(&self) -> &PublicInfo {
        match self {
            KeyPair::Soft(k) => &k.info,
            KeyPair::Pkcs11(k) => &k.info,
        }
    }

    /// DNSSEC algorithm number (8, 13, 15).
    pub fn algorithm(&self) -> u8 {
        self.info().algorithm
    }

    /// DNSKEY flags: 256 (ZSK) or 257 (KSK, SEP bit).
    pub fn flags(&self) -> u16 {
        self.info().flags
    }

    /// DNSKEY public key field (RFC 3110 / 6605 / 8080 form).
    pub fn public_key(&self) -> &[u8] {
        &self.info().public_key
    }

    /// DNSKEY RDATA, wire form.
    pub fn dnskey_rdata(&self) -> &[u8] {
        &self.info().rdata
    }

    /// RFC 4034 Appendix B key tag.
    pub fn key_tag(&self) -> u16 {
        self.info().key_tag
    }

    /// `"soft"` or `"hsm"`.
    pub fn keystore(&self) -> &'static str {
        match self {
            KeyPair::Soft(_) => "soft",
            KeyPair::Pkcs11(_) => "hsm",
        }
    }

    /// Signs `data` (the full RRSIG input); see the module docs for the format.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        match self {
            KeyPair::Soft(k) => k.sign(data),
            KeyPair::Pkcs11(k) => k.sign(data),
        }
    }

    /// Signs each item; results in input order. PKCS#11 keys spread the
    /// batch over the token's session pool; soft keys sign sequentially.
    pub fn sign_many(&self, items: &[&[u8]]) -> Vec<Result<Vec<u8>, SignError>> {
        match self {
            KeyPair::Soft(k) => items.iter().map(|d| k.sign(d)).collect(),
            KeyPair::Pkcs11(k) => k.sign_many(items),
        }
    }

    /// Verifies `sig` over `data` with this key's public key (ring). Used by
    /// tests and by the signer's self-check; independent of the keystore.
    pub fn verify(&self, data: &[u8], sig: &[u8]) -> bool {
        verify(self.algorithm(), self.public_key(), data, sig)
    }
}

/// Verifies a DNSSEC signature with a DNSKEY public key field (ring).
pub fn verify(algorithm: u8, public_key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    use ring::signature as sg;
    match algorithm {
        dnskey::ECDSAP256SHA256 => {
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(public_key);
            sg::UnparsedPublicKey::new(&sg::ECDSA_P256_SHA256_FIXED, point)
                .verify(data, sig)
                .is_ok()
        }
        dnskey::ED25519 => sg::UnparsedPublicKey::new(&sg::ED25519, public_key)
            .verify(data, sig)
            .is_ok(),
        dnskey::RSASHA256 => match dnskey::rsa_split(public_key) {
            Some((e, n)) => sg::RsaPublicKeyComponents { n, e }
                .verify(&sg::RSA_PKCS1_2048_8192_SHA256, data, sig)
                .is_ok(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn keypair_is_shareable() {
        assert_send_sync_clone::<KeyPair>();
    }

    #[test]
    fn soft_keys_sign_and_verify() {
        for alg in [dnskey::ECDSAP256SHA256, dnskey::ED25519] {
            let pk8 = soft::generate_pkcs8(alg).unwrap();
            let k = KeyPair::Soft(SoftKey::from_pkcs8(alg, dnskey::FLAGS_ZSK, &pk8).unwrap());
            let expect_len = if alg == dnskey::ED25519 { 32 } else { 64 };
            assert_eq!(k.public_key().len(), expect_len);
            assert_eq!(k.dnskey_rdata().len(), 4 + expect_len);
            assert_eq!(k.key_tag(), dnskey::key_tag(k.dnskey_rdata()));
            let sigs = k.sign_many(&[b"one", b"two"]);
            assert_eq!(sigs.len(), 2);
            let s1 = sigs[0].as_ref().unwrap();
            assert_eq!(s1.len(), 64);
            assert!(k.verify(b"one", s1));
            assert!(!k.verify(b"two", s1));
        }
    }

    #[test]
    fn soft_rsa_generation_is_refused_and_garbage_is_rejected() {
        assert!(matches!(
            soft::generate_pkcs8(dnskey::RSASHA256),
            Err(KeyError::Unsupported(_))
        ));
        assert!(matches!(
            SoftKey::from_pkcs8(13, 256, b"not a key"),
            Err(KeyError::BadKey(_))
        ));
        // An Ed25519 key is not a P-256 key.
        let ed = soft::generate_pkcs8(dnskey::ED25519).unwrap();
        assert!(SoftKey::from_pkcs8(13, 256, &ed).is_err());
        assert!(SoftKey::from_pkcs8(7, 256, &ed).is_err());
    }

    #[test]
    fn verify_rejects_malformed_keys() {
        assert!(!verify(13, &[1, 2, 3], b"x", &[0; 64]));
        assert!(!verify(8, &[], b"x", &[0; 256]));
        assert!(!verify(15, &[0; 31], b"x", &[0; 64]));
        assert!(!verify(5, &[0; 31], b"x", &[0; 64]));
    }
}
