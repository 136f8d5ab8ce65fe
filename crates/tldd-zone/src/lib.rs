//! tldd-zone: everything a TLD zone *is*, and nothing that does I/O on a
//! socket or a database.
//!
//! - [`name`]: wire-format names (lower-cased keys, presentation conversion).
//! - [`rdata`]: type numbers, RDATA from text, SOA fields, TTL text.
//! - [`text`]: the streaming RFC 1035 zone-file reader.
//! - [`rrset`]: one RRset with its signatures, packed.
//! - [`version`]: one immutable zone version (copy-on-write delegation shards).
//! - [`nsec3`]: the NSEC3 chain of a signed version (sorted, COW shards).
//! - [`load`]: records -> zone, with the semantic checks.
//! - [`rec`]: one record as updates and transfers carry it ([`Rec`]).
//! - [`records`]: a zone version as records (per owner, and the whole zone
//!   in transfer order).
//! - [`diff`]: the [`Diff`] (version N to N+1, exactly an IXFR journal entry)
//!   and [`ZoneState::apply`], the one function that makes version N+1.
//! - [`serial`]: RFC 1982 serial arithmetic.
//! - [`progress`]: how long work reports how far it got (the binary draws
//!   the bars; this crate never touches the terminal).
//!
//! Layers only point down: `name` <- `rdata` <- `text` <- `load`;
//! `rrset` <- `nsec3` <- `version` <- `load`, `records` <- `diff`.
pub mod compare;
pub mod diff;
pub mod load;
pub mod name;
pub mod nsec3;
pub mod progress;
pub mod rdata;
pub mod rec;
pub mod records;
pub mod rrset;
pub mod serial;
pub mod text;
pub mod version;

pub use diff::{ApplyError, Diff, ZoneState};
pub use progress::Progress;
pub use rec::Rec;
pub use rrset::RRset;
pub use version::{Delegation, Found, Node, Zone};
