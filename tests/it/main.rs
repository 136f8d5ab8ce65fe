//! The integration tests: one test binary for the workspace (each module
//! was a test binary of its own; one binary links once and keeps the
//! build's disk use down). Every test drives the real `tldd` binary over
//! real sockets with tools nobody here wrote; [`support`] has the drivers.
//!
//! Run one group with a filter, e.g. `cargo test --test it srs_epp::` or
//! `cargo test --test it whois_service:: rdap_service::`.
mod support;

mod cookies;
mod crash_kill9;
mod ctl;
mod ctl_reload;
mod ctl_zone_file;
mod differential;
mod dnssec_answers;
mod dnssec_peers;
mod dnssec_refresh;
mod dnssec_resolver;
mod hsm_outage;
mod keys_hsm;
mod keys_hsm_lib;
mod keys_offline;
mod keys_roll;
mod keys_roll_hsm;
mod keys_soft;
mod linters;
mod malformed;
mod old_layout;
mod rdap_profile;
mod rdap_service;
mod rrl;
mod secondary_tldd;
mod serve;
mod serve_paths;
mod serve_signed;
mod sign_hsm;
mod sign_lib;
mod sign_presigned;
mod sign_tools;
mod srs_badinput;
mod srs_epp;
mod srs_lifecycle;
mod srs_prelogin;
mod srs_reconcile;
mod srs_schema;
mod srs_to_tldd;
mod store_faults;
mod update_replay;
mod update_rfc2136;
mod update_signed;
mod whois_service;
mod xfr_peers;
