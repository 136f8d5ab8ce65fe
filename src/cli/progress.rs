//! Progress bars: the binary's implementation of `tldd_zone::Progress`.
//!
//! Libraries report progress through that trait; only this module draws,
//! and only when standard error is a terminal (a supervised server's log
//! gets no escape codes).
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;
use tldd_zone::progress::{Progress, Unit};

/// Bars on standard error, one phase at a time.
pub struct Bars {
    visible: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars when standard error is a terminal, nothing otherwise.
    pub fn on_stderr() -> Bars {
        Bars {
            visible: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            bar: Mutex::new(None),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Option<ProgressBar>)) {
        if self.visible {
            if let Ok(mut b) = self.bar.lock() {
                f(&mut b);
            }
        }
    }
}

impl Progress for Bars {
    fn phase(&self, message: &str, total: u64, unit: Unit) {
        self.with(|slot| {
            if let Some(old) = slot.take() {
                old.finish_and_clear();
            }
            let b = if total > 0 {
                let template = match unit {
                    Unit::Bytes => "{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})",
                    Unit::Items => "{msg} [{bar:40}] {pos}/{len} ({eta})",
                };
                let b = ProgressBar::new(total);
                b.set_style(
                    ProgressStyle::with_template(template)
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            } else {
                let b = ProgressBar::new_spinner();
                b.enable_steady_tick(std::time::Duration::from_millis(200));
                b
            };
            b.set_message(message.to_string());
            *slot = Some(b);
        });
    }

    fn set(&self, done: u64) {
        self.with(|slot| {
            if let Some(b) = slot {
                b.set_position(done);
            }
        });
    }

    fn finish(&self) {
        self.with(|slot| {
            if let Some(b) = slot.take() {
                b.finish_and_clear();
            }
        });
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.finish();
    }
}
