//! DNSKEY and DS encodings: the bytes a key publishes, independent of where
//! the private half lives.
//!
//! # Design
//!
//! Every backend reduces its public key to the DNSKEY *public key field* of its
//! algorithm, once, when the key is loaded; everything else (RDATA, key tag,
//! DS digest, presentation format) is computed here from that field, so the
//! soft and PKCS#11 backends cannot disagree on what a key looks like.
//!
//! | algorithm | public key field | signature |
//! |---|---|---|
//! | 8 RSA/SHA-256 (RFC 5702) | RFC 3110: exponent length (1 octet, or 0 + 2 octets), exponent, modulus | PKCS#1 v1.5, modulus length |
//! | 13 ECDSA P-256/SHA-256 (RFC 6605) | 64 octets `x \|\| y` (no 0x04 prefix) | 64 octets `r \|\| s` |
//! | 15 Ed25519 (RFC 8080) | 32 octets (RFC 8032 encoding) | 64 octets |
//!
//! The key tag is RFC 4034 Appendix B (the one's-complement-ish sum over the
//! RDATA; algorithm 1 is not supported so its special case is absent). The DS
//! digest is SHA-256 (digest type 2, RFC 4509) over the canonical (lower-case,
//! uncompressed) owner name followed by the DNSKEY RDATA (RFC 4034 §5.1.4).
//!
//! # Limits
//!
//! Only the three algorithms above. Parsers here accept what PKCS#11 tokens
//! return for `CKA_EC_POINT` (DER OCTET STRING, or the raw point some tokens
//! return) and reject anything else with an error, never a panic.
use ring::digest;

/// RSA/SHA-256 (RFC 5702).
pub const RSASHA256: u8 = 8;
/// ECDSA P-256 with SHA-256 (RFC 6605).
pub const ECDSAP256SHA256: u8 = 13;
/// Ed25519 (RFC 8080).
pub const ED25519: u8 = 15;

/// DNSKEY flags of a zone-signing key (Zone Key bit).
pub const FLAGS_ZSK: u16 = 256;
/// DNSKEY flags of a key-signing key (Zone Key + Secure Entry Point).
pub const FLAGS_KSK: u16 = 257;

/// DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
pub const PROTOCOL: u8 = 3;

/// The mnemonic of a supported algorithm, for messages and listings.
pub fn algorithm_name(alg: u8) -> &'static str {
    match alg {
        RSASHA256 => "RSASHA256",
        ECDSAP256SHA256 => "ECDSAP256SHA256",
        ED25519 => "ED25519",
        _ => "unsupported",
    }
}

/// True for the algorithms tldd can generate and sign with.
pub fn is_supported(alg: u8) -> bool {
    matches!(alg, RSASHA256 | ECDSAP256SHA256 | ED25519)
}

/// DNSKEY RDATA in wire form: flags, protocol 3, algorithm, public key.
pub fn rdata(flags: u16, algorithm: u8, public_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + public_key.len());
    out.extend_from_slice(&flags.to_be_bytes());
    out.push(PROTOCOL);
    out.push(algorithm);
    out.extend_from_slice(public_key);
    out
}

/// RFC 4034 Appendix B key tag over DNSKEY RDATA (any algorithm but 1).
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            u32::from(*b)
        } else {
            u32::from(*b) << 8
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// RFC 3110 public key field from big-endian exponent and modulus (leading
/// zero octets are stripped). `None` if either is empty or the exponent is
/// longer than 65535 octets.
pub fn rsa_public_key(exponent: &[u8], modulus: &[u8]) -> Option<Vec<u8>> {
    let e = strip_leading_zeros(exponent);
    let n = strip_leading_zeros(modulus);
    if e.is_empty() || n.is_empty() || e.len() > 0xffff {
        return None;
    }
    let mut out = Vec::with_capacity(3 + e.len() + n.len());
    if e.len() <= 255 {
        out.push(e.len() as u8);
    } else {
        out.push(0);
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(e);
    out.extend_from_slice(n);
    Some(out)
}

/// Splits an RFC 3110 public key field into (exponent, modulus).
pub fn rsa_split(public_key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = public_key.split_first()?;
    let (elen, rest) = if first == 0 {
        if rest.len() < 2 {
            return None;
        }
        (
            usize::from(u16::from_be_bytes([rest[0], rest[1]])),
            &rest[2..],
        )
    } else {
        (usize::from(first), rest)
    };
    if elen == 0 || rest.len() <= elen {
        return None;
    }
    Some(rest.split_at(elen))
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// The RFC 6605 field (x || y, 64 octets) from an uncompressed SEC1 point
/// (0x04 || x || y), either raw or wrapped in a DER OCTET STRING as
/// PKCS#11 `CKA_EC_POINT` holds it.
pub fn p256_from_ec_point(point: &[u8]) -> Option<Vec<u8>> {
    // Raw first: a raw point (04 || X || Y) whose X starts with 0x3f would
    // also parse as a 63-octet DER OCTET STRING.
    let is_point = |p: &[u8]| p.len() == 65 && p[0] == 0x04;
    let raw = if is_point(point) {
        point
    } else {
        unwrap_der_octet_string(point)?
    };
    is_point(raw).then(|| raw[1..].to_vec())
}

/// The RFC 8080 field (32 octets) from PKCS#11 `CKA_EC_POINT` of an
/// Edwards key (DER OCTET STRING, or the raw 32 octets).
pub fn ed25519_from_ec_point(point: &[u8]) -> Option<Vec<u8>> {
    // Raw first, for the same reason as in `p256_from_ec_point`.
    let raw = if point.len() == 32 {
        point
    } else {
        unwrap_der_octet_string(point)?
    };
    (raw.len() == 32).then(|| raw.to_vec())
}

/// The contents of a DER OCTET STRING (short or long length form), if
/// `der` is exactly one.
fn unwrap_der_octet_string(der: &[u8]) -> Option<&[u8]> {
    if der.len() < 2 || der[0] != 0x04 {
        return None;
    }
    let (len, hdr) = match der[1] {
        l @ 0..=0x7f => (usize::from(l), 2),
        0x81 if der.len() >= 3 => (usize::from(der[2]), 3),
        0x82 if der.len() >= 4 => (usize::from(u16::from_be_bytes([der[2], der[3]])), 4),
        _ => return None,
    };
    (der.len() == hdr + len).then(|| &der[hdr..])
}

/// Canonical wire form of a domain name (lower case, uncompressed).
pub fn name_wire(name: &str) -> Result<Vec<u8>, String> {
    use hickory_proto::serialize::binary::BinEncodable;
    let mut n = hickory_proto::rr::Name::from_ascii(name)
        .map_err(|e| format!("{name:?} is not a domain name: {e}"))?;
    n.set_fqdn(true);
    n.to_lowercase()
        .to_bytes()
        .map_err(|e| format!("{name:?} cannot be encoded: {e}"))
}

/// DS digest type 2 (SHA-256) over owner name and DNSKEY RDATA.
pub fn ds_sha256(owner: &str, dnskey_rdata: &[u8]) -> Result<Vec<u8>, String> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&name_wire(owner)?);
    ctx.update(dnskey_rdata);
    Ok(ctx.finish().as_ref().to_vec())
}

/// DS (or CDS) RDATA for a DNSKEY of the zone whose lower-case wire
/// origin is `origin`: digest type 1 (SHA-1), 2 (SHA-256) or 4 (SHA-384);
/// `None` for another type.
pub fn ds_rdata(origin: &[u8], dnskey_rdata: &[u8], digest_type: u8) -> Option<Vec<u8>> {
    let alg = match digest_type {
        1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        2 => &digest::SHA256,
        4 => &digest::SHA384,
        _ => return None,
    };
    let mut ctx = digest::Context::new(alg);
    ctx.update(origin);
    ctx.update(dnskey_rdata);
    let mut rd = key_tag(dnskey_rdata).to_be_bytes().to_vec();
    rd.push(*dnskey_rdata.get(3)?);
    rd.push(digest_type);
    rd.extend_from_slice(ctx.finish().as_ref());
    Some(rd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    /// RFC 6605 §6.1 example: DNSKEY 257 3 13, key tag 55648, and its DS.
    #[test]
    fn rfc6605_p256_example_tag_and_ds() {
        let pk = b64("GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==");
        assert_eq!(pk.len(), 64);
        let rd = rdata(FLAGS_KSK, ECDSAP256SHA256, &pk);
        assert_eq!(key_tag(&rd), 55648);
        assert_eq!(
            hex::encode(ds_sha256("example.net.", &rd).unwrap()),
            "b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17"
        );
        // The owner is canonicalised: case and the trailing dot do not matter.
        assert_eq!(
            ds_sha256("EXAMPLE.NET", &rd).unwrap(),
            ds_sha256("example.net.", &rd).unwrap()
        );
    }

    /// RFC 8080 §6.1 example: Ed25519 DNSKEY, key tag 3613 and its DS (SHA-256).
    #[test]
    fn rfc8080_ed25519_example_tag_and_ds() {
        let pk = b64("l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=");
        let rd = rdata(FLAGS_KSK, ED25519, &pk);
        assert_eq!(key_tag(&rd), 3613);
        assert_eq!(
            hex::encode_upper(ds_sha256("example.com.", &rd).unwrap()),
            "3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B"
        );
    }

    #[test]
    fn key_tag_matches_hickory() {
        use hickory_proto::dnssec::rdata::DNSKEY;
        for len in [0usize, 1, 31, 32, 64, 65, 259] {
            let pk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let rd = rdata(FLAGS_ZSK, ED25519, &pk);
            assert_eq!(
                key_tag(&rd),
                DNSKEY::calculate_key_tag_internal(&rd),
                "len {len}"
            );
        }
    }

    #[test]
    fn rsa_field_round_trip_and_long_exponent() {
        let pk = rsa_public_key(&[0, 1, 0, 1], &[0, 0, 0xc3, 0x55]).unwrap();
        assert_eq!(pk, vec![3, 1, 0, 1, 0xc3, 0x55]);
        assert_eq!(
            rsa_split(&pk),
            Some((&[1u8, 0, 1][..], &[0xc3u8, 0x55][..]))
        );
        let e = vec![7u8; 300];
        let pk = rsa_public_key(&e, &[9, 9]).unwrap();
        assert_eq!(&pk[..3], &[0, 1, 44]);
        let (e2, n2) = rsa_split(&pk).unwrap();
        assert_eq!((e2.len(), n2), (300, &[9u8, 9][..]));
        assert_eq!(rsa_public_key(&[], &[1]), None);
        assert_eq!(rsa_split(&[5, 1, 2]), None);
        assert_eq!(rsa_split(&[]), None);
    }

    #[test]
    fn ec_point_parsing() {
        let mut point = vec![0x04];
        point.extend((0..64).map(|i| i as u8));
        let mut der = vec![0x04, 65];
        der.extend_from_slice(&point);
        assert_eq!(p256_from_ec_point(&der).unwrap(), point[1..].to_vec());
        assert_eq!(p256_from_ec_point(&point).unwrap(), point[1..].to_vec());
        assert_eq!(p256_from_ec_point(&der[..40]), None);
        let ed: Vec<u8> = (0..32).collect();
        let mut der = vec![0x04, 32];
        der.extend_from_slice(&ed);
        assert_eq!(ed25519_from_ec_point(&der).unwrap(), ed);
        assert_eq!(ed25519_from_ec_point(&ed).unwrap(), ed);
        assert_eq!(ed25519_from_ec_point(&[0x04, 0x81]), None);
        assert_eq!(ed25519_from_ec_point(&[]), None);
    }

    #[test]
    fn raw_points_that_look_like_der_stay_raw() {
        // X starting with 0x3f: 04 3f ... is also a well-formed 63-octet
        // OCTET STRING; 1 key in 256 looks like this.
        let mut point = vec![0x04, 0x3f];
        point.extend(std::iter::repeat_n(7u8, 63));
        assert_eq!(p256_from_ec_point(&point).unwrap(), point[1..].to_vec());
        let mut ed = vec![0x04, 30];
        ed.extend(std::iter::repeat_n(9u8, 30));
        assert_eq!(ed25519_from_ec_point(&ed).unwrap(), ed);
    }

    #[test]
    fn bad_owner_is_an_error() {
        assert!(ds_sha256("a..b", &[]).is_err());
    }
}
