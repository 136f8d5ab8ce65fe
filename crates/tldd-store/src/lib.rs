//! What tldd's two stores share where they meet the disk: the zone
//! journal (`tldd_dns::journal`, sled plus snapshot files) and the
//! registry's store (`tldd_srs::db`, sled).
//!
//! - [`mark`]: the high-water mark a store keeps *outside itself* (two
//!   checksummed slots, `fdatasync`ed after the store's own fsync and
//!   before the acknowledgement), so a store that lost acknowledged writes
//!   (a cut log, an older copy, a deleted directory) refuses to start
//!   instead of serving an older state.
//! - [`guard`]: a library's panic (sled's, on a damaged file) caught at the
//!   boundary and turned into an error that names the file.
//!
//! Why a crate of its own: `tldd-zone` is what a zone *is* and never
//! writes to disk; both stores need these, and `tldd-srs` must not import
//! `tldd-dns`. Imports no other tldd crate.
pub mod guard;
pub mod mark;
