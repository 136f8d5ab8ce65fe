//! Progress reporting for long work (loading a large zone file, signing,
//! writing a signed zone).
//!
//! Library code reports through [`Progress`]; only the binary draws (its
//! implementation is an indicatif bar on a terminal, nothing otherwise), so
//! no library crate depends on the terminal and a server started by a
//! supervisor never writes escape codes into its log.

/// What the counted units are, so a bar can print them well.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of input.
    Bytes,
    /// Records, RRsets, names: plain counts.
    Items,
}

/// Receives progress. Every method has a do-nothing default.
pub trait Progress: Sync {
    /// A new phase begins: `total` units to go (0 = unknown: a spinner).
    fn phase(&self, _message: &str, _total: u64, _unit: Unit) {}
    /// `done` units of the current phase are done.
    fn set(&self, _done: u64) {}
    /// The current phase ended.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {}
