//! Any bytes as one EPP frame (the XML inside the RFC 5734 length prefix):
//! the decoder must never panic, and what it accepts must hold what it
//! promises (a clTRID of 3 to 64 characters; an error code from the EPP
//! error range). Decoding needs no store, so this runs the whole syntax
//! side of the EPP server.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tldd_srs::epp::command::{decode, Frame, Request};

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Err(e) => assert_eq!(e.code, 2001, "{e}"),
        Ok(Frame::Hello) => {}
        Ok(Frame::Command(env)) => {
            if let Some(c) = &env.cl_trid {
                assert!((3..=64).contains(&c.len()));
            }
            let code = match &env.request {
                Request::Refused { error, .. } => Some(error.code),
                Request::Login(r) => r.as_ref().err().map(|e| e.code),
                Request::Logout => None,
                Request::Command(v) => v.command.as_ref().err().map(|e| e.code),
            };
            if let Some(code) = code {
                assert!((2000..2400).contains(&code), "{code}");
            }
        }
    }
});
