//! The versioned in-memory zone.
pub mod check;
