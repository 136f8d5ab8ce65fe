//! RFC 2136 dynamic updates, and the one way a zone version changes.
//!
//! # Design
//! A zone is a sequence of immutable versions. Every change, whatever its
//! source, is a [`Diff`] (records removed, records added, the old and new
//! SOA first: exactly an IXFR journal entry), and version N+1 is version N
//! with a diff applied by [`ZoneState::apply`]. UPDATE messages
//! ([`handler`], [`edit`]), incoming IXFR and journal replay all go through
//! that one function, so what is served, what is journalled and what is sent
//! by IXFR cannot disagree.
//!
//! - [`records`]: a zone version as records (per owner, and the whole zone
//!   in transfer order).
//! - [`diff`]: [`Diff`], its journal encoding, and [`ZoneState::apply`]
//!   (delegations appear and disappear, glue moves with its cut, empty
//!   non-terminals are created and removed).
//! - [`edit`]: RFC 2136 §3 on an overlay over version N: zone section,
//!   prerequisites, update prescan, the TLD policy, the update itself,
//!   then the overlay becomes a diff.
//! - [`writer`]: one writer thread per zone owns version N, group-commits
//!   queued updates into one version, makes it durable, publishes it.
//! - [`resign`]: for a signed zone, signs what a batch changed (DS, SOA)
//!   and splices the NSEC3 chain, before the version is verified.
//! - [`handler`]: the UPDATE request on UDP or TCP: TSIG, zone, permission,
//!   decode, hand to the writer, signed answer.
//!
//! # Limits
//! - Only IN class zones. Prerequisites on RRSIG are not supported (there
//!   is no RRSIG RRset at a name in the store, signatures ride with their
//!   RRset); they evaluate as "RRset does not exist".
//! - RDATA is compared byte for byte except that names in NS/CNAME/PTR/
//!   DNAME/MX RDATA compare case-insensitively (RFC 2136 §1.1 / RFC 4343).
pub mod edit;

pub use tldd_zone::diff::{Diff, ZoneState};
pub use tldd_zone::rec::{
    decode, rdata_eq, rec_from, wire_name, Rec, CLASS_ANY, CLASS_IN, CLASS_NONE,
};
