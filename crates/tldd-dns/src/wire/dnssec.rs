//! NSEC3 denial proofs for DO=1 answers (RFC 5155 §7.2, RFC 4035 §3.1.3).
//!
//! All proofs go into the authority section after the SOA (or the NS/DS of
//! a referral), each NSEC3 with its RRSIGs, never the same record twice:
//! - NXDOMAIN (§7.2.2): the NSEC3 matching the closest encloser, the one
//!   covering the next closer name, the one covering `*.<closest encloser>`.
//! - NODATA (§7.2.3, §7.2.4): the NSEC3 matching the query name; for a DS
//!   query at a delegation without DS that opt-out left out of the chain,
//!   the closest provable encloser proof (its next-closer NSEC3 has the
//!   opt-out bit).
//! - Referral to a delegation without DS (§7.2.7): the NSEC3 matching the
//!   cut if it is in the chain, otherwise the closest provable encloser proof.
//!
//! Cost: the query name's next-closer name is hashed once (one SHA-1 with
//! RFC 9276 parameters); the apex's and `*.<apex>`'s hashes come with the
//! chain. Nothing is allocated: owner names are built on the stack.
use super::writer::{Full, Section, Writer};
use tldd_zone::nsec3::{self, Hash, Nsec3Chain, Nsec3Rec};
use tldd_zone::rdata::{NSEC3, RRSIG};
use tldd_zone::{name, Zone};

const CLASS_IN: u16 = 1;

/// What a negative answer has to prove.
#[derive(Clone, Copy, Debug)]
pub enum Denial<'a> {
    /// `qname` does not exist; its closest encloser is its suffix of
    /// `encloser_len` octets (an authoritative name or the apex).
    NxDomain {
        qname: &'a [u8],
        encloser_len: usize,
    },
    /// `name` exists (or is a cut) but has no data of the query type.
    NoData { name: &'a [u8] },
}

/// NSEC3 records already written in this response.
struct Written {
    hashes: [Hash; 4],
    n: usize,
}

impl Written {
    fn new() -> Written {
        Written {
            hashes: [[0; nsec3::HASH_LEN]; 4],
            n: 0,
        }
    }
}

fn put(zone: &Zone, rec: &Nsec3Rec, w: &mut Writer<'_>, done: &mut Written) -> Result<(), Full> {
    if done.hashes[..done.n].contains(&rec.hash) {
        return Ok(());
    }
    if done.n < done.hashes.len() {
        done.hashes[done.n] = rec.hash;
        done.n += 1;
    }
    let mut owner = [0u8; 256];
    let len = nsec3::owner_name(&rec.hash, &zone.origin, &mut owner);
    let o = &owner[..len];
    let set = &rec.rrset;
    for rd in set.rdatas() {
        w.rr(Section::Authority, o, NSEC3, CLASS_IN, set.ttl, rd)?;
    }
    for sig in set.sigs() {
        w.rr(Section::Authority, o, RRSIG, CLASS_IN, set.ttl, sig)?;
    }
    Ok(())
}

#[inline]
fn hash_of(zone: &Zone, chain: &Nsec3Chain, name: &[u8]) -> Hash {
    if name.len() == zone.origin.len() {
        chain.apex_hash
    } else {
        chain.params.hash(name)
    }
}

/// The closest provable encloser proof for `name` (RFC 5155 §7.2.1),
/// starting the search at its ancestor `start` (a suffix of `name`): the
/// NSEC3 matching the closest provable encloser and the one covering the
/// next closer name. Returns the encloser's wire length.
fn closest_provable_encloser(
    zone: &Zone,
    chain: &Nsec3Chain,
    name: &[u8],
    start: usize,
    w: &mut Writer<'_>,
    done: &mut Written,
) -> Result<Option<usize>, Full> {
    let origin_len = zone.origin.len();
    let mut ce = start;
    loop {
        let suffix = &name[name.len() - ce..];
        if let Some(rec) = chain.get(&hash_of(zone, chain, suffix)) {
            put(zone, rec, w, done)?;
            // The next closer: one label more than the encloser.
            let mut nc = 0;
            let mut i = 0;
            while i < name.len() - ce {
                nc = i;
                i += 1 + name[i] as usize;
            }
            if ce < name.len() {
                let next_closer = &name[nc..];
                if let Some(rec) = chain.covering(&chain.params.hash(next_closer)) {
                    put(zone, rec, w, done)?;
                }
            }
            return Ok(Some(ce));
        }
        if ce <= origin_len {
            return Ok(None);
        }
        ce -= 1 + suffix[0] as usize;
    }
}

/// Writes the NSEC3 proof of `denial`.
pub fn prove(zone: &Zone, denial: Denial<'_>, w: &mut Writer<'_>) -> Result<(), Full> {
    let Some(chain) = &zone.nsec3 else {
        return Ok(());
    };
    let mut done = Written::new();
    match denial {
        Denial::NxDomain {
            qname,
            encloser_len,
        } => {
            let Some(ce) =
                closest_provable_encloser(zone, chain, qname, encloser_len, w, &mut done)?
            else {
                return Ok(());
            };
            let encloser = &qname[qname.len() - ce..];
            let wildcard = if ce == zone.origin.len() {
                chain.wildcard_hash
            } else {
                let mut wc = [0u8; 257];
                wc[..2].copy_from_slice(b"\x01*");
                wc[2..2 + encloser.len()].copy_from_slice(encloser);
                chain.params.hash(&wc[..2 + encloser.len()])
            };
            if let Some(rec) = chain.covering(&wildcard) {
                put(zone, rec, w, &mut done)?;
            }
        }
        Denial::NoData { name } => match chain.get(&hash_of(zone, chain, name)) {
            Some(rec) => put(zone, rec, w, &mut done)?,
            None => {
                // Not in the chain: a delegation opt-out left out.
                if let Some(parent) = name::parent(name) {
                    closest_provable_encloser(zone, chain, name, parent.len(), w, &mut done)?;
                }
            }
        },
    }
    Ok(())
}

/// The proof that the delegation `cut` (lower-case wire) has no DS.
pub fn insecure_delegation(zone: &Zone, cut: &[u8], w: &mut Writer<'_>) -> Result<(), Full> {
    prove(zone, Denial::NoData { name: cut }, w)
}
