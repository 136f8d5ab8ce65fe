//! One module per subcommand (arguments, output), and the progress bars.
pub mod ctl;
pub mod keys;
pub mod keys_offline;
pub mod progress;
pub mod sign;
pub mod srs;
pub mod store;
pub mod zone;
