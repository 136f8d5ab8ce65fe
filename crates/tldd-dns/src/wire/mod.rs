//! The query fast path: parse ([`query`]), answer ([`answer`]), encode
//! ([`writer`]) — straight from the packet buffer to the response buffer.
pub mod answer;
pub mod dnssec;
pub mod ede;
pub mod query;
pub mod writer;

pub use answer::{respond, Outcome, Params, Transport, ZoneSet};
pub use query::Query;

#[cfg(test)]
mod tests;
