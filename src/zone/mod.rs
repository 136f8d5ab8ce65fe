//! The zone layer: names, RDATA, the zone-file reader, the versioned store.
//!
//! - [`name`]: wire-format names (lower-cased keys, presentation conversion).
//! - [`rdata`]: type numbers, RDATA from text, SOA fields.
//! - [`text`]: the streaming RFC 1035 zone-file reader.
//! - [`store`]: one immutable zone version (copy-on-write delegation shards).
//! - [`nsec3`]: the NSEC3 chain of a signed version (sorted, COW shards).
//! - [`load`]: records -> zone, with the semantic checks.
//! - [`check`]: `tldd zone check`.
pub mod check;
pub mod load;
pub mod name;
pub mod nsec3;
pub mod rdata;
pub mod store;
pub mod text;

pub use store::{Delegation, Found, Node, RRset, Zone};
