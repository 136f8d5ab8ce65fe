//! What the integration tests share: typed drivers for the real programs
//! they run, each written once.
//!
//! - [`serve`]: `tldd serve` on port 0, its addresses read from its log;
//!   kdig, raw UDP exchanges, dnspython scripts.
//! - [`ports`]: free loopback ports for peers that cannot bind port 0 and
//!   report it (knotd, nsd, unbound configs), never the same one twice.
//! - [`srs`]: `tldd srs`, knotd as the zone's server, Net::EPP sessions
//!   (`tests/srs/epp_driver.pl`), certificates.
//! - [`to_tldd`]: the SRS publishing to a real `tldd serve`.
//! - [`whois`]: a registry with data for the Whois and RDAP tests.
//! - [`dnssec`]: signed zones from `tldd sign` and the verifying tools.
//! - [`keys`]: `tldd keys` on soft keys and on a SoftHSM2 token.
//! - [`update`]: RFC 2136 updates with dnspython (`tests/update_tool.py`).
//! - [`peers`]: Knot, NSD and Unbound, one typed driver each.
//! - [`parent`]: a signed root zone (ldns, knotd) delegating to a tldd
//!   zone with its DS, re-signed when the test changes the DS.
//! - [`watch`]: a thread validating a set of answers through Unbound
//!   every 150 ms, recording each SERVFAIL or missing AD.
pub mod dnssec;
pub mod keys;
pub mod parent;
pub mod peers;
pub mod ports;
pub mod serve;
pub mod srs;
pub mod to_tldd;
pub mod update;
pub mod watch;
pub mod whois;
