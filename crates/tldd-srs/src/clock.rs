//! Time in the SRS: UTC seconds since the epoch (`Ts`), RFC 3339 formatting
//! for EPP, calendar-year arithmetic, and the SRS clock.
//!
//! The clock is the wall clock plus a persistent, never-decreasing offset.
//! The offset is zero in production; `tldd srs lifecycle --at` may move it
//! forward only when `[srs] clock_control = true`, so tests and drills can
//! run through months of the domain lifecycle in seconds. Every EPP command
//! and every lifecycle transition takes its "now" from this clock, so the two
//! never disagree about which grace periods are running.
use std::sync::atomic::{AtomicI64, Ordering};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// UTC seconds since 1970.
pub type Ts = i64;

pub const DAY: i64 = 86_400;

/// The SRS clock.
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    pub fn new(offset: i64) -> Clock {
        Clock {
            offset: AtomicI64::new(offset),
        }
    }
    pub fn now(&self) -> Ts {
        wall() + self.offset.load(Ordering::SeqCst)
    }
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }
    /// Moves the clock so that `now() >= at`; returns the new offset.
    pub fn advance_to(&self, at: Ts) -> i64 {
        let want = at - wall();
        self.offset.fetch_max(want, Ordering::SeqCst);
        self.offset()
    }
}

pub fn wall() -> Ts {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// EPP dateTime: `2024-05-01T12:00:00.0Z`.
pub fn fmt(ts: Ts) -> String {
    match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.0Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "9999-12-31T23:59:59.0Z".into(),
    }
}

/// The date part, `2024-05-01`.
pub fn fmt_date(ts: Ts) -> String {
    fmt(ts)[..10].to_string()
}

/// Parses RFC 3339 (`2024-05-01T00:00:00Z`).
pub fn parse(s: &str) -> Result<Ts, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

/// Parses an EPP date (`2024-05-01`).
pub fn parse_date(s: &str) -> Option<Date> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &fmt).ok()
}

pub fn date_of(ts: Ts) -> Option<Date> {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .map(|t| t.date())
}

/// Adds calendar years (29 February becomes 28 February in common years).
pub fn add_years(ts: Ts, years: i32) -> Ts {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(ts) else {
        return ts;
    };
    let y = t.year() + years;
    let d = t.date();
    let date = Date::from_calendar_date(y, d.month(), d.day())
        .or_else(|_| Date::from_calendar_date(y, d.month(), d.day() - 1))
        .unwrap_or(d);
    t.replace_date(date).unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = parse("2024-02-29T10:20:30Z").unwrap();
        assert_eq!(fmt(t), "2024-02-29T10:20:30.0Z");
        assert_eq!(fmt(add_years(t, 1)), "2025-02-28T10:20:30.0Z");
        assert_eq!(fmt(add_years(t, -1)), "2023-02-28T10:20:30.0Z");
        assert_eq!(fmt_date(t), "2024-02-29");
        assert!(parse("yesterday").is_err());
    }

    #[test]
    fn clock_only_moves_forward() {
        let c = Clock::new(0);
        let now = c.now();
        c.advance_to(now + 10 * DAY);
        assert!(c.now() >= now + 10 * DAY);
        c.advance_to(now);
        assert!(c.now() >= now + 10 * DAY);
    }
}
