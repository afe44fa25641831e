//! Wall-clock time, in the unit of every stored time (milliseconds since the Unix epoch). One
//! clock is shared by the state, the store and the background loops, so that everything dated
//! agrees, and a test can move it forward instead of waiting (health windows, schedules,
//! alerts).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use time::{Date, OffsetDateTime};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// How far this clock runs ahead of the system's, in milliseconds.
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        system_ms() + self.ahead_ms.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch, for signed links.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Today, in UTC.
    pub fn today(&self) -> Date {
        OffsetDateTime::from_unix_timestamp(self.now_secs())
            .map_or_else(|_| OffsetDateTime::now_utc().date(), |t| t.date())
    }

    /// Moves this clock (and every copy of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// A stored time (ms) as ISO 8601 in UTC, as the JSON API gives times.
pub fn iso_time(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A stored time (ms) on the operator's clock, in a `strftime` format.
pub fn local_time(ms: i64, zone: &jiff::tz::TimeZone, format: &str) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|at| {
            at.to_zoned_datetime(zone.clone())
                .strftime(format)
                .to_string()
        })
        .unwrap_or_default()
}

/// A time as an operator or a script gives it — RFC 3339 with its offset, or the operator's own
/// clock (`2026-12-05T18:00`, as a browser's date-and-time field sends it) — in ms.
pub fn parse_local(text: &str, zone: &jiff::tz::TimeZone) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at.as_millisecond());
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| jiff::civil::DateTime::strptime(format, text).ok())
        .and_then(|local| local.to_zoned_datetime(zone.clone()).ok())
        .map(|at| at.timestamp().as_millisecond())
}

fn system_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_on_the_operators_clock() {
        let moscow = jiff::tz::TimeZone::get("Europe/Moscow").unwrap();
        // 18:00 in Moscow (UTC+3) is 15:00 UTC.
        let at = parse_local("2026-12-05T18:00", &moscow).unwrap();
        assert_eq!(iso_time(at), "2026-12-05T15:00:00Z");
        assert_eq!(local_time(at, &moscow, "%H:%M"), "18:00");
        let offset = parse_local("2026-12-05T18:00:00+05:00", &moscow).unwrap();
        assert_eq!(iso_time(offset), "2026-12-05T13:00:00Z");
        assert_eq!(parse_local("tomorrow", &moscow), None);
    }

    #[test]
    fn an_advanced_clock_moves_every_copy_and_the_date_with_it() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now_ms();
        let today = clock.today();
        clock.advance(Duration::from_secs(2 * 86_400));
        assert!(copy.now_ms() - before >= 2 * 86_400_000);
        assert_eq!((copy.today() - today).whole_days(), 2);
    }
}
