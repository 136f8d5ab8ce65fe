//! The pre-login guard's settings (`[srs] epp_prelogin_*`, `epp_*_timeout`,
//! `epp_login_*`): plain data here, the guard itself is `crate::epp::guard`.
use std::time::Duration;

/// The `[srs] epp_prelogin_*`, `epp_*_timeout` and `epp_login_*` keys.
#[derive(Debug, Clone)]
pub struct GuardSettings {
    pub prelogin_per_address: usize,
    pub prelogin_max: usize,
    pub handshake_timeout: Duration,
    pub login_timeout: Duration,
    pub failures_before_backoff: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            prelogin_per_address: 8,
            prelogin_max: 64,
            handshake_timeout: Duration::from_secs(5),
            login_timeout: Duration::from_secs(20),
            failures_before_backoff: 10,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
        }
    }
}
