//! Booths: every booth seen, by the name its form sends (DSLR Remote Pro sends the computer's)
//! or its address; its photos, last outcome, and wrong upload passwords in the last hour.

use super::i18n::Strings;
use super::layout::{Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::clock::iso_time;
use crate::domain::JobStatus;
use crate::error::AppResult;
use crate::store::BoothRecord;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/booths", get(booths_page))
        .route("/api/booths", get(booths_json))
}

/// One booth as the page and the JSON give it.
#[derive(Serialize)]
pub struct Booth {
    #[serde(flatten)]
    record: BoothRecord,
    /// `last_seen` as ISO 8601.
    #[serde(rename = "last_seen")]
    seen: String,
    /// Its address is blocked for wrong passwords now.
    throttled: bool,
}

impl Booth {
    /// Red: it sent wrong upload passwords in the last hour.
    pub fn alarm(&self) -> bool {
        self.record.wrong_passwords_1h > 0
    }

    /// Its last photo's outcome and, for a miss, why, in the page's language.
    pub fn outcome(&self, t: &Strings) -> String {
        let status = self
            .record
            .last_status
            .as_deref()
            .and_then(JobStatus::parse);
        let Some(status) = status else {
            return String::new();
        };
        match self.record.last_reason.as_deref() {
            Some(reason) if status != JobStatus::Succeeded => {
                format!("{} · {}", t.status(status), t.miss(reason))
            }
            _ => t.status(status).to_owned(),
        }
    }

    pub fn label(&self) -> &str {
        self.record
            .name
            .as_deref()
            .or(self.record.address.as_deref())
            .unwrap_or("—")
    }
}

/// Every booth seen, newest first.
pub async fn all(state: &AppState) -> AppResult<Vec<Booth>> {
    let event = state.store.running_event().await?.map(|e| e.id);
    let records = state.store.booths(event).await?;
    Ok(records
        .into_iter()
        .map(|record| {
            let throttled = record
                .address
                .as_deref()
                .and_then(|a| a.parse().ok())
                .is_some_and(|ip| state.upload_throttle.check(ip).is_err());
            Booth {
                seen: iso_time(record.last_seen),
                record,
                throttled,
            }
        })
        .collect())
}

/// "Booth-1: 3 wrong upload passwords in the last hour", for the pages that warn of them.
pub fn warnings(t: &Strings, booths: &[Booth]) -> Vec<String> {
    booths
        .iter()
        .filter(|b| b.alarm())
        .map(|b| {
            t.booth_wrong_passwords
                .replace("{booth}", b.label())
                .replace("{count}", &b.record.wrong_passwords_1h.to_string())
        })
        .collect()
}

#[derive(Serialize)]
struct BoothsJson {
    booths: Vec<Booth>,
}

async fn booths_json(State(state): State<AppState>) -> AppResult<Json<BoothsJson>> {
    Ok(Json(BoothsJson {
        booths: all(&state).await?,
    }))
}

#[derive(Template)]
#[template(path = "booths.html")]
struct BoothsPage {
    layout: Layout,
    t: &'static Strings,
    booths: Vec<Booth>,
}

async fn booths_page(ctx: Ctx, State(state): State<AppState>) -> AppResult<Response> {
    Ok(render(&BoothsPage {
        layout: Layout::new(&ctx, Page::Booths, "/admin/booths".into()),
        t: ctx.t,
        booths: all(&state).await?,
    }))
}
