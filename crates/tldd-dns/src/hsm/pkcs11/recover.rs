//! Getting a lost token back: when the token (or a key in it) cannot be
//! reached, [`Token::recover`] re-initialises the module (`C_Finalize`,
//! `C_Initialize`), finds the slot again by label and logs in, at most once
//! every [`RECOVER_EVERY`]; see the parent module's design notes.
use super::{ck, KeyError, Token};
use cryptoki::error::{Error as CkError, RvError};

/// Least time between two recoveries of a token.
pub const RECOVER_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a failure says the token (or the key in it) cannot be reached:
/// [`Token::recover`] may help.
pub fn is_lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::CryptokiNotInitialized
                | RvError::GeneralError
                | RvError::SlotIdInvalid,
            _
        )
    )
}

impl Token {
    /// Re-initialises the module after the token went away and (perhaps)
    /// came back (see the module doc); `Ok` when the token is there again.
    pub fn recover(&self) -> Result<(), KeyError> {
        let mut last = self.recovered.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < RECOVER_EVERY) {
            return Err(KeyError::Hsm(format!(
                "token {:?}: still unreachable (recovered less than {}s ago)",
                self.label,
                RECOVER_EVERY.as_secs()
            )));
        }
        *last = Some(std::time::Instant::now());
        {
            // Sessions do not survive C_Finalize: close the idle ones now.
            let mut st = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
            let n = st.idle.len();
            st.idle.clear();
            st.open = st.open.saturating_sub(n);
        }
        // SAFETY: the same module file cryptoki loaded (dlopen returns the
        // loaded library); C_Finalize then C_Initialize with OS locking, as
        // cryptoki's own initialisation does. Sessions still leased by other
        // threads become invalid: their calls fail and they are dropped.
        let rv = unsafe {
            let lib = cryptoki_sys::Pkcs11::new(&self.module).map_err(|e| {
                KeyError::Hsm(format!("PKCS#11 module {}: {e}", self.module.display()))
            })?;
            let _ = lib.C_Finalize(std::ptr::null_mut());
            let mut args = cryptoki_sys::CK_C_INITIALIZE_ARGS {
                CreateMutex: None,
                DestroyMutex: None,
                LockMutex: None,
                UnlockMutex: None,
                flags: cryptoki_sys::CKF_OS_LOCKING_OK,
                pReserved: std::ptr::null_mut(),
            };
            lib.C_Initialize(std::ptr::addr_of_mut!(args).cast())
        };
        if rv != cryptoki_sys::CKR_OK && rv != cryptoki_sys::CKR_CRYPTOKI_ALREADY_INITIALIZED {
            return Err(KeyError::Hsm(format!(
                "token {:?}: C_Initialize after the token was lost: CKR 0x{rv:x}",
                self.label
            )));
        }
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(|e| ck("C_GetSlotList", &self.label, e))?;
        for slot in slots {
            let info = self
                .ctx
                .get_token_info(slot)
                .map_err(|e| ck("C_GetTokenInfo", &self.label, e))?;
            if info.label().trim_end() == self.label {
                *self.slot.write().unwrap_or_else(|e| e.into_inner()) = slot;
                drop(self.lease()?);
                tracing::warn!(token = %self.label, "HSM token recovered (module re-initialised, logged in again)");
                return Ok(());
            }
        }
        Err(KeyError::Hsm(format!(
            "token {:?} is not present (module re-initialised)",
            self.label
        )))
    }
}
