//! Soft keys: private keys as PKCS#8 files, used through ring.
//!
//! # Design
//!
//! A soft key is one PKCS#8 v1/v2 DER file (exactly what ring generates and
//! reads) under `data_dir/keys/`, created with `O_EXCL` and mode 0600 inside
//! a directory of mode 0700. The file is read once when the key is loaded;
//! the parsed ring key pair is kept behind an `Arc`, so a [`SoftKey`] is
//! cheap to clone and can be used from many threads at once (ring key pairs
//! are `Send + Sync`).
//!
//! | algorithm | generate | load and sign |
//! |---|---|---|
//! | 13 ECDSA P-256 | yes (`EcdsaKeyPair::generate_pkcs8`) | yes, fixed-size `r \|\| s` |
//! | 15 Ed25519 | yes (`Ed25519KeyPair::generate_pkcs8`) | yes |
//! | 8 RSA/SHA-256 | **no**: ring cannot generate RSA keys | yes, from an RSA PKCS#8 file (2048 to 4096 bits) |
//!
//! # Limits
//!
//! The files are as secret as the file system makes them: anyone who can read
//! `data_dir/keys` as the tldd user has the private keys. Use the HSM
//! keystore for production zones; soft keys are for development, tests and
//! small zones. Keys are never written anywhere but their own file.
use super::dnskey::{self, ECDSAP256SHA256, ED25519, RSASHA256};
use super::{KeyError, PublicInfo, SignError};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

enum Inner {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A private key held in memory by ring. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct SoftKey {
    inner: Arc<Inner>,
    rng: SystemRandom,
    pub(super) info: Arc<PublicInfo>,
}

impl std::fmt::Debug for SoftKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftKey")
            .field("algorithm", &self.info.algorithm)
            .field("key_tag", &self.info.key_tag)
            .finish_non_exhaustive()
    }
}

/// Generates a new PKCS#8 private key for `algorithm` (13 or 15).
pub fn generate_pkcs8(algorithm: u8) -> Result<Vec<u8>, KeyError> {
    let rng = SystemRandom::new();
    let doc = match algorithm {
        ECDSAP256SHA256 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        }
        ED25519 => Ed25519KeyPair::generate_pkcs8(&rng),
        RSASHA256 => {
            return Err(KeyError::Unsupported(
                "the soft keystore cannot generate RSA keys (ring has no RSA key generation); \
                 use algorithm 13 or 15, or keystore = \"hsm\""
                    .into(),
            ))
        }
        other => return Err(unsupported(other)),
    }
    .map_err(|_| KeyError::Crypto("key generation failed".into()))?;
    Ok(doc.as_ref().to_vec())
}

fn unsupported(alg: u8) -> KeyError {
    KeyError::Unsupported(format!(
        "algorithm {alg} is not supported (8 RSASHA256, 13 ECDSAP256SHA256, 15 ED25519)"
    ))
}

impl SoftKey {
    /// Parses a PKCS#8 key of `algorithm` and gives it DNSKEY `flags`.
    pub fn from_pkcs8(algorithm: u8, flags: u16, pkcs8: &[u8]) -> Result<SoftKey, KeyError> {
        let rng = SystemRandom::new();
        let bad = |e: ring::error::KeyRejected| {
            KeyError::BadKey(format!(
                "not a PKCS#8 {} key: {e}",
                dnskey::algorithm_name(algorithm)
            ))
        };
        let (inner, public_key) = match algorithm {
            ECDSAP256SHA256 => {
                let k = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    pkcs8,
                    &rng,
                )
                .map_err(bad)?;
                let pk = dnskey::p256_from_ec_point(k.public_key().as_ref())
                    .ok_or_else(|| KeyError::BadKey("unexpected P-256 public key".into()))?;
                // Lets the verifier check this key's signatures the fast way.
                super::selfcheck::register(pkcs8, &pk);
                (Inner::Ecdsa(k), pk)
            }
            ED25519 => {
                let k = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(bad)?;
                let pk = k.public_key().as_ref().to_vec();
                (Inner::Ed25519(k), pk)
            }
            RSASHA256 => {
                let k = RsaKeyPair::from_pkcs8(pkcs8).map_err(bad)?;
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                let pk = dnskey::rsa_public_key(&c.e, &c.n)
                    .ok_or_else(|| KeyError::BadKey("unexpected RSA public key".into()))?;
                (Inner::Rsa(k), pk)
            }
            other => return Err(unsupported(other)),
        };
        Ok(SoftKey {
            inner: Arc::new(inner),
            rng,
            info: Arc::new(PublicInfo::new(algorithm, flags, public_key)),
        })
    }

    /// Reads a PKCS#8 file (see [`SoftKey::from_pkcs8`]). Refuses a file
    /// that group or others can read.
    pub fn load(path: &Path, algorithm: u8, flags: u16) -> Result<SoftKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(KeyError::BadKey(format!(
                "{}: private key file is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        SoftKey::from_pkcs8(algorithm, flags, &bytes).map_err(|e| match e {
            KeyError::BadKey(m) => KeyError::BadKey(format!("{}: {m}", path.display())),
            e => e,
        })
    }

    /// Signs `data` in the DNSSEC signature format of the algorithm.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        match &*self.inner {
            Inner::Ecdsa(k) => k
                .sign(&self.rng, data)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError::Crypto("ECDSA signing failed".into())),
            Inner::Ed25519(k) => Ok(k.sign(data).as_ref().to_vec()),
            Inner::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, data, &mut sig)
                    .map_err(|_| SignError::Crypto("RSA signing failed".into()))?;
                Ok(sig)
            }
        }
    }
}

/// Creates `dir` (mode 0700) if needed and writes `bytes` to the new file
/// `dir/name` with mode 0600; fails if the file exists.
pub fn write_private_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), KeyError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| KeyError::Io { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let path = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    f.write_all(bytes).map_err(io(&path))?;
    f.sync_all().map_err(io(&path))?;
    Ok(())
}
