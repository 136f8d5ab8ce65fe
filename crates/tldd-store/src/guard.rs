//! Turning a library's panic into an error, quietly.
//!
//! sled 0.34 panics on some damaged files instead of returning an error
//! (a store truncated to half its size panics in
//! `pagecache/segment.rs` while it is being opened). A server must say
//! which file is damaged and what to do, not print a backtrace, so both
//! stores (the zone journal in `tldd-dns`, the SRS store in `tldd-srs`)
//! open and first read their database through [`catch_quietly`]. It lives
//! here because this is the lowest crate both depend on; it does no I/O.
//!
//! The panic hook is process-wide: while `f` runs, a hook that records
//! panics of the calling thread (and passes every other thread's panic
//! to the previous hook) is installed, then the previous hook is put
//! back. Meant for start-up and for the offline checker, not for a hot
//! path.
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync + 'static>;

/// Runs `f`; a panic inside it becomes `Err(message)` (with the place it
/// was raised), and nothing is printed for it.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let me = std::thread::current().id();
    let seen: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let prev: Hook = Arc::from(panic::take_hook());
    {
        let (prev, seen) = (prev.clone(), seen.clone());
        panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() == me {
                let place = info
                    .location()
                    .map(|l| format!(" (at {}:{})", l.file(), l.line()))
                    .unwrap_or_default();
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                if let Ok(mut s) = seen.lock() {
                    *s = Some(format!("{msg}{place}"));
                }
            } else {
                prev(info)
            }
        }));
    }
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    let _ours = panic::take_hook();
    panic::set_hook(Box::new(move |info| prev(info)));
    result.map_err(|_| {
        seen.lock()
            .ok()
            .and_then(|mut s| s.take())
            .unwrap_or_else(|| "panic".into())
    })
}

#[cfg(test)]
mod tests {
    use super::catch_quietly;

    #[test]
    fn a_panic_becomes_an_error_and_a_value_passes() {
        assert_eq!(catch_quietly(|| 7), Ok(7));
        let e = catch_quietly(|| -> u8 { panic!("segment {} is torn", 3) }).unwrap_err();
        assert!(e.starts_with("segment 3 is torn (at "), "{e}");
        // The hook is back: a later catch still works.
        assert!(catch_quietly(|| -> () { panic!("again") }).is_err());
    }
}
