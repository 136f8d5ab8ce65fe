//! RFC 2136 dynamic updates: editing version N into a diff.
//!
//! # Design
//! A zone is a sequence of immutable versions. Every change, whatever its
//! source, is a [`tldd_zone::Diff`] (records removed, records added, the
//! old and new SOA first: exactly an IXFR journal entry), and version N+1
//! is version N with a diff applied by [`tldd_zone::ZoneState::apply`].
//! UPDATE messages (the handler `server::update`, then [`edit`]), incoming
//! IXFR and journal replay all go through that one function, so what is
//! served, what is journalled and what is sent by IXFR cannot disagree.
//!
//! - [`edit`]: RFC 2136 §3 on an overlay over version N: zone section,
//!   prerequisites, update prescan, the TLD policy, the update itself,
//!   then the overlay becomes a diff.
//!
//! The zone's event loop ([`crate::events`]) group-commits queued updates
//! into one version, has it re-signed ([`crate::signer::resign`]), makes
//! it durable and publishes it.
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
