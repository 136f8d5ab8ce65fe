//! The query fast path: parse ([`query`]), answer ([`answer`]), encode
//! ([`writer`]) — straight from the packet buffer to the response buffer;
//! DNS cookies ([`cookie`]) on the way.
pub mod answer;
pub mod cookie;
pub mod dnssec;
pub mod ede;
pub mod query;
pub mod slip;
pub mod writer;

pub use answer::{respond, respond_from, Client, Outcome, Params, Transport, ZoneSet};
pub use query::Query;

#[cfg(test)]
mod tests;
