//! Statistics: counts over the jobs table, the per-day chart, and the upload password the
//! booths must send.

use super::i18n::{Lang, Strings};
use super::layout::{Choice, Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::config::Setting;
use crate::domain::Provider;
use crate::error::{AppError, AppResult, InternalError};
use crate::extract::TokenForm;
use crate::media::day_of;
use crate::report::Cost;
use crate::store::{
    Billable, DayCount, Delivery, EventRecord, ProviderCounts, Scope, SlotCount, StatusCounts,
};
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/stats", get(stats_page))
        .route("/stats/upload-password", post(regenerate_upload_password))
}

/// `?event=ID` narrows the figures to one event.
#[derive(serde::Deserialize)]
pub struct StatsQuery {
    pub event: Option<i64>,
}

pub struct ProviderRow {
    pub name: &'static str,
    pub counts: ProviderCounts,
    /// `ok`, `degraded` or `down`.
    pub health: &'static str,
    pub health_label: &'static str,
}

pub struct SlotStatsRow {
    pub provider: &'static str,
    pub number: i64,
    pub counts: StatusCounts,
    pub cost: String,
}

#[derive(Template)]
#[template(path = "stats.html")]
pub struct StatsPage {
    pub layout: Layout,
    pub upload_password: String,
    pub password_from_env: bool,
    pub deadline_secs: u64,
    pub booth: Vec<ProviderRow>,
    pub tests: Vec<ProviderRow>,
    /// "AI photos delivered", as a percentage with one decimal, when any job reached a model.
    pub ai_result_rate: Option<String>,
    /// The booth photos without an AI image, by reason.
    pub misses: String,
    /// "Rejected by the check: 3 (nanobanana/3 — 2, …); rescued by a second try: 2 (1.5 %)".
    pub checks: Option<String>,
    /// Booths sending wrong upload passwords.
    pub booth_warnings: Vec<String>,
    pub slots: Vec<SlotStatsRow>,
    /// Server-rendered SVG, built from numbers only.
    pub chart: String,
    /// The events to choose from (all time first), the one shown selected.
    pub scopes: Vec<Choice>,
    pub cost: Cost,
    pub tests_cost: Cost,
}

fn per_provider(
    state: &AppState,
    t: &Strings,
    counts: &HashMap<Provider, ProviderCounts>,
) -> Vec<ProviderRow> {
    Provider::ALL
        .into_iter()
        .map(|p| {
            let health = state.health.status(p);
            ProviderRow {
                name: p.display_name(),
                counts: counts.get(&p).copied().unwrap_or_default(),
                health: health.as_str(),
                health_label: t.health(health),
            }
        })
        .collect()
}

async fn stats_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let numbers = gather(&state, q.event).await?;
    let events = state.store.events().await?;
    let settings = state.settings();
    let slots = numbers
        .slots
        .iter()
        .map(|s| SlotStatsRow {
            provider: s.provider.display_name(),
            number: s.slot,
            counts: s.counts,
            cost: numbers
                .slot_costs
                .get(&(s.provider, s.slot))
                .cloned()
                .unwrap_or_default()
                .amount_label(),
        })
        .collect();
    Ok(render(&StatsPage {
        layout: Layout::new(&ctx, Page::Stats, "/admin/stats".into()),
        upload_password: settings.upload_password.as_str().to_owned(),
        password_from_env: settings.is_from_env(Setting::UploadPassword),
        deadline_secs: settings.deadline.as_secs(),
        booth: per_provider(&state, ctx.t, &numbers.booth),
        tests: per_provider(&state, ctx.t, &numbers.tests),
        ai_result_rate: numbers
            .delivery
            .ai_result_rate()
            .map(|r| format!("{:.1}", r * 100.0)),
        misses: ctx.t.misses_text(&numbers.delivery.misses),
        checks: ctx.t.checks_text(&numbers.checks),
        booth_warnings: super::booths::warnings(ctx.t, &super::booths::all(&state).await?),
        slots,
        chart: chart_svg(&numbers.days, state.clock.now_ms(), ctx.lang),
        scopes: scope_choices(ctx.t, &events, q.event),
        cost: numbers.cost,
        tests_cost: numbers.tests_cost,
    }))
}

fn scope_choices(t: &Strings, events: &[EventRecord], selected: Option<i64>) -> Vec<Choice> {
    let all_time = (String::new(), t.all_time.to_owned());
    let events = events.iter().map(|e| (e.id.to_string(), e.name.clone()));
    let selected = selected.map(|id| id.to_string()).unwrap_or_default();
    Choice::list(std::iter::once(all_time).chain(events), &selected)
}

async fn regenerate_upload_password(
    State(state): State<AppState>,
    _form: TokenForm,
) -> AppResult<Response> {
    if state.settings().is_from_env(Setting::UploadPassword) {
        return Err(AppError::Forbidden(
            "the upload password is set by BOOTHGATE_UPLOAD_PASSWORD".into(),
        ));
    }
    let password = crate::generate_password(12);
    state
        .store
        .save_settings(&[(Setting::UploadPassword.def().name, password)])
        .await?;
    state.reload_settings().await?;
    tracing::info!("upload password regenerated");
    Ok(Redirect::to("/admin/stats").into_response())
}

pub const CHART_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

pub struct Statistics {
    pub booth: HashMap<Provider, ProviderCounts>,
    pub tests: HashMap<Provider, ProviderCounts>,
    pub delivery: Delivery,
    pub slots: Vec<SlotCount>,
    pub days: Vec<DayCount>,
    /// What the photos sent to each slot cost, whichever slots drew them.
    pub slot_costs: BTreeMap<(Provider, i64), Cost>,
    /// What the booth's images cost, and apart from them the admin's tests.
    pub cost: Cost,
    pub tests_cost: Cost,
    pub checks: crate::store::CheckCounts,
}

/// All-time figures, or one event's (`event`); tests are always all-time.
pub async fn gather(state: &AppState, event: Option<i64>) -> Result<Statistics, InternalError> {
    let store = &state.store;
    let settings = state.settings();
    let booth = match event {
        Some(id) => Scope::event(id),
        None => Scope::BOOTH,
    };
    let billable = store.billable(booth).await?;
    Ok(Statistics {
        booth: store.provider_counts(booth).await?,
        tests: store.provider_counts(Scope::TESTS).await?,
        delivery: store.delivery(booth).await?,
        slots: store.slot_counts(booth).await?,
        days: store
            .daily_counts(chart_start(state.clock.now_ms()))
            .await?,
        slot_costs: billable
            .iter()
            .map(|(slot, b)| (*slot, Cost::of(b, &settings)))
            .collect(),
        cost: Cost::of(&Billable::sum(billable.values()), &settings),
        tests_cost: Cost::of(
            &Billable::sum(store.billable(Scope::TESTS).await?.values()),
            &settings,
        ),
        checks: store.checks(booth).await?,
    })
}

/// Midnight (UTC) of the first day the chart shows.
fn chart_start(now: i64) -> i64 {
    (now / DAY_MS - (CHART_DAYS - 1)) * DAY_MS
}

/// A stacked bar per day of the last 30: processed, failed, timed out.
pub fn chart_svg(days: &[DayCount], now: i64, lang: Lang) -> String {
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
            // The last label ends at the bar's right edge, so that it is never cut off.
            let (x, anchor) = if i as i64 == CHART_DAYS - 1 {
                (x + slot_w - 4, "end")
            } else {
                (x, "start")
            };
            let _ = write!(
                svg,
                r#"<text x="{x}" y="{}" class="axis" text-anchor="{anchor}">{}</text>"#,
                H - 4,
                day_month(day, lang)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// "2025-11-27" as the page's language writes a day: "27.11" or "11/27".
fn day_month(day: &str, lang: Lang) -> String {
    let (month, day) = (
        day.get(5..7).unwrap_or_default(),
        day.get(8..10).unwrap_or_default(),
    );
    match lang {
        Lang::Ru => format!("{day}.{month}"),
        Lang::En => format!("{month}/{day}"),
    }
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
        let svg = chart_svg(&days, now, Lang::Ru);
        assert_eq!(svg.matches("<g>").count(), 30);
        assert!(svg.contains("<title>2025-11-27: 4 / 1 / 0</title>"));
        assert_eq!(svg.matches("class=\"ok\"").count(), 1);
        assert_eq!(svg.matches("class=\"bad\"").count(), 1);
        assert!(svg.contains("<title>2025-10-29: 0 / 0 / 0</title>"));
        // Days read as Russians write them, the last label anchored inside the chart.
        assert!(svg.contains(">29.10</text>"), "{svg}");
        assert!(svg.contains(r#"text-anchor="end">27.11</text>"#), "{svg}");
        assert!(chart_svg(&days, now, Lang::En).contains(">11/27</text>"));
    }
}
