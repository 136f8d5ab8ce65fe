//! NSEC3 chain membership and type bitmaps.
//!
//! In the chain (RFC 5155 §7.1): the apex, every other authoritative name
//! including empty non-terminals, every delegation with DS, and — only
//! without opt-out — every delegation without DS. Bitmaps: the types at the
//! name plus RRSIG when it has any signed data; a cut has NS (plus DS RRSIG
//! when it has DS); an empty non-terminal has none.
use tldd_zone::rdata::{write_type_bitmap, DS, NS, RRSIG};
use tldd_zone::{Node, Zone};

/// A type bitmap from a list of types.
pub fn bitmap_of_types(types: &mut [u16]) -> Vec<u8> {
    let mut v = Vec::new();
    write_type_bitmap(types, &mut v);
    v
}

/// The bitmap of an authoritative node (apex included).
pub fn node_bitmap(node: &Node) -> Vec<u8> {
    let mut types: Vec<u16> = node.rrsets.iter().map(|r| r.rtype).collect();
    if !types.is_empty() {
        types.push(RRSIG);
    }
    bitmap_of_types(&mut types)
}

/// The bitmap of a delegation.
pub fn delegation_bitmap(has_ds: bool) -> Vec<u8> {
    if has_ds {
        bitmap_of_types(&mut [NS, DS, RRSIG])
    } else {
        bitmap_of_types(&mut [NS])
    }
}

/// The bitmap `name` (lower-case wire) should have in the chain of `zone`,
/// or `None` when it has no place in the chain.
pub fn expected_bitmap(zone: &Zone, name: &[u8], opt_out: bool) -> Option<Vec<u8>> {
    if name == &*zone.origin {
        return Some(node_bitmap(&zone.apex));
    }
    if let Some(d) = zone.cuts.get(name) {
        return match (&d.ds, opt_out) {
            (Some(_), _) => Some(delegation_bitmap(true)),
            (None, false) => Some(delegation_bitmap(false)),
            (None, true) => None,
        };
    }
    zone.names.get(name).map(node_bitmap)
}
