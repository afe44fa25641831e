//! Statistics: counts over the jobs table and the per-day chart.

use crate::domain::Provider;
use crate::error::InternalError;
use crate::media::day_of;
use crate::store::{DayCount, SlotCount, StatusCounts, Store, now_ms};
use std::collections::HashMap;
use std::fmt::Write;

pub const CHART_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

pub struct Statistics {
    pub booth: HashMap<Provider, StatusCounts>,
    pub tests: HashMap<Provider, StatusCounts>,
    pub slots: Vec<SlotCount>,
    pub days: Vec<DayCount>,
}

pub async fn gather(store: &Store) -> Result<Statistics, InternalError> {
    Ok(Statistics {
        booth: store.provider_counts(false).await?,
        tests: store.provider_counts(true).await?,
        slots: store.slot_counts().await?,
        days: store.daily_counts(chart_start(now_ms())).await?,
    })
}

/// Midnight (UTC) of the first day the chart shows.
fn chart_start(now: i64) -> i64 {
    (now / DAY_MS - (CHART_DAYS - 1)) * DAY_MS
}

/// A stacked bar per day of the last 30: processed, failed, timed out.
pub fn chart_svg(days: &[DayCount], now: i64) -> String {
    const W: i64 = 720;
    const H: i64 = 160;
    const BASE: i64 = 140;
    let by_day: HashMap<&str, StatusCounts> =
        days.iter().map(|d| (d.day.as_str(), d.counts)).collect();
    let series: Vec<(String, StatusCounts)> = (0..CHART_DAYS)
        .map(|i| {
            let day = day_of(chart_start(now) + i * DAY_MS);
            let counts = by_day.get(day.as_str()).copied().unwrap_or_default();
            (day, counts)
        })
        .collect();
    let peak = series
        .iter()
        .map(|(_, c)| c.processed + c.failed + c.timed_out)
        .max()
        .unwrap_or(0)
        .max(1);
    let slot_w = W / CHART_DAYS;
    let mut svg = format!(
        r#"<svg class="day-chart" viewBox="0 0 {W} {H}" role="img" xmlns="http://www.w3.org/2000/svg"><text x="2" y="10" class="axis">{peak}</text><line x1="0" y1="{BASE}" x2="{W}" y2="{BASE}" class="base"/>"#
    );
    for (i, (day, c)) in series.iter().enumerate() {
        let x = i as i64 * slot_w + 2;
        let mut top = BASE;
        let _ = write!(
            svg,
            "<g><title>{day}: {} / {} / {}</title>",
            c.processed, c.failed, c.timed_out
        );
        for (value, class) in [
            (c.processed, "ok"),
            (c.failed, "bad"),
            (c.timed_out, "late"),
        ] {
            let h = value * (BASE - 14) / peak;
            if h > 0 {
                top -= h;
                let _ = write!(
                    svg,
                    r#"<rect x="{x}" y="{top}" width="{}" height="{h}" class="{class}"/>"#,
                    slot_w - 4
                );
            }
        }
        svg.push_str("</g>");
        if i % 5 == 0 || i as i64 == CHART_DAYS - 1 {
            let _ = write!(
                svg,
                r#"<text x="{x}" y="{}" class="axis">{}</text>"#,
                H - 4,
                &day[5..]
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_draws_thirty_days_with_bars_for_days_with_jobs() {
        let now = 1_764_201_600_000; // 2025-11-27
        let days = vec![DayCount {
            day: "2025-11-27".into(),
            counts: StatusCounts {
                processed: 4,
                failed: 1,
                timed_out: 0,
            },
        }];
        let svg = chart_svg(&days, now);
        assert_eq!(svg.matches("<g>").count(), 30);
        assert!(svg.contains("<title>2025-11-27: 4 / 1 / 0</title>"));
        assert_eq!(svg.matches("class=\"ok\"").count(), 1);
        assert_eq!(svg.matches("class=\"bad\"").count(), 1);
        assert!(svg.contains("<title>2025-10-29: 0 / 0 / 0</title>"));
    }
}
