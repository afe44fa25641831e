//! The Live page for a tablet beside the booth: the last photos, the jobs in flight, provider
//! health and the running event's counts, kept current by server-sent events.

use super::i18n::Strings;
use super::layout::{Layout, Page};
use super::{Ctx, render};
use crate::AppState;
use crate::domain::{JobStatus, Provider};
use crate::error::{AppResult, InternalError};
use crate::live::LiveEvent;
use crate::store::{JobFilter, JobRecord, ProviderCounts, Scope};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use serde::Serialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

/// How many of the last photos the page shows.
pub const LAST_PHOTOS: u32 = 12;
/// How many of the last failures the page shows.
pub const LAST_FAILURES: u32 = 5;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/live", get(live_page))
        .route("/live/events", get(live_events))
}

/// The counts the page shows: of the running event, or of all time when none runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub event: Option<String>,
    pub succeeded: i64,
    pub failed: i64,
    pub timed_out: i64,
    pub rescued: i64,
    /// Guests with an AI photo, "97.5 %", or a dash before any photo.
    pub ai_result_rate: String,
    pub health: BTreeMap<Provider, &'static str>,
}

impl Counts {
    async fn now(state: &AppState) -> Result<Counts, InternalError> {
        let event = state.store.running_event().await?;
        let scope = event.as_ref().map_or(Scope::BOOTH, |e| Scope::event(e.id));
        let providers = state.store.provider_counts(scope).await?;
        let total = ProviderCounts::sum(providers.values());
        let delivery = state.store.delivery(scope).await?;
        Ok(Counts {
            ai_result_rate: crate::report::percent_label(delivery.ai_result_rate()),
            event: event.map(|e| e.name),
            succeeded: total.processed,
            failed: total.failed,
            timed_out: total.timed_out,
            rescued: total.rescued,
            health: Provider::ALL
                .into_iter()
                .map(|p| (p, state.health.status(p).as_str()))
                .collect(),
        })
    }
}

pub struct Photo {
    pub id: String,
    pub slot: String,
}

pub struct InFlight {
    pub id: String,
    pub slot: String,
    pub started_at: i64,
}

/// A guest who got no AI photo, and why.
pub struct Failure {
    pub id: String,
    pub slot: String,
    pub reason: &'static str,
}

/// What the Live page shows, for the admin and for the tablet's link alike.
pub struct Board {
    pub counts: Counts,
    pub photos: Vec<Photo>,
    pub in_flight: Vec<InFlight>,
    pub failures: Vec<Failure>,
    /// Where the page finds a photo's picture (`{photos}/{job}/after`).
    pub photos_base: String,
    /// Where a failure links to (History showing that job): only on the admin's own page.
    pub job_link: Option<&'static str>,
    /// The page's event stream.
    pub events_url: String,
    /// Booths sending wrong upload passwords.
    pub booth_warnings: Vec<String>,
    /// Every reason's words, for failures arriving on the stream.
    pub reasons: String,
}

/// Where the Live board is shown: its photos, its stream and whether failures link to History.
pub struct Place {
    pub photos_base: String,
    pub events_url: String,
    pub job_link: Option<&'static str>,
}

impl Board {
    pub async fn load(state: &AppState, t: &'static Strings, place: Place) -> AppResult<Board> {
        let store = &state.store;
        let titles = Titles::load(state).await?;
        // While an event runs, its photos; otherwise the latest of all.
        let event = store.running_event().await?.map(|e| e.id);
        let booth_jobs = |filter: JobFilter| async move {
            let jobs = store.jobs(&JobFilter { event, ..filter }).await?;
            AppResult::Ok(jobs.into_iter().filter(|j| !j.is_test))
        };
        let photos = booth_jobs(JobFilter {
            status: Some(JobStatus::Succeeded),
            limit: LAST_PHOTOS * 2,
            ..JobFilter::default()
        })
        .await?
        .take(LAST_PHOTOS as usize)
        .map(|j| Photo {
            slot: titles.of(j.answered_by.as_deref().unwrap_or(&job_slot(&j))),
            id: j.id,
        })
        .collect();
        let in_flight = booth_jobs(JobFilter {
            status: Some(JobStatus::Processing),
            limit: 100,
            ..JobFilter::default()
        })
        .await?
        .map(|j| InFlight {
            slot: titles.of(&job_slot(&j)),
            id: j.id,
            started_at: j.created_at,
        })
        .collect();
        let failures = booth_jobs(JobFilter {
            failures: true,
            limit: LAST_FAILURES * 2,
            ..JobFilter::default()
        })
        .await?
        .take(LAST_FAILURES as usize)
        .map(|j| Failure {
            slot: titles.of(&job_slot(&j)),
            reason: t.miss(j.reason.as_deref().unwrap_or_default()),
            id: j.id,
        })
        .collect();
        Ok(Board {
            counts: Counts::now(state).await?,
            photos,
            in_flight,
            failures,
            photos_base: place.photos_base,
            job_link: place.job_link,
            events_url: place.events_url,
            booth_warnings: super::booths::warnings(t, &super::booths::all(state).await?),
            reasons: t.miss_texts(),
        })
    }
}

/// The booth's own slot of a job, as `provider/number`.
fn job_slot(job: &JobRecord) -> String {
    format!("{}/{}", job.provider, job.slot)
}

/// Every slot's title by its id (`nanobanana/1` → "NanoBanana 1 «Wedding»").
struct Titles(BTreeMap<String, String>);

impl Titles {
    async fn load(state: &AppState) -> Result<Titles, InternalError> {
        let slots = state.store.all_slots().await?;
        Ok(Titles(
            slots
                .iter()
                .map(|s| (s.id.to_string(), s.title()))
                .collect(),
        ))
    }

    fn of(&self, id: &str) -> String {
        self.0.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }
}

#[derive(Template)]
#[template(path = "live.html")]
struct LivePage {
    layout: Layout,
    t: &'static Strings,
    board: Board,
}

async fn live_page(ctx: Ctx, State(state): State<AppState>) -> AppResult<Response> {
    let place = Place {
        photos_base: "/admin/jobs".into(),
        events_url: "/admin/live/events".into(),
        job_link: Some("/admin/jobs?job="),
    };
    let board = Board::load(&state, ctx.t, place).await?;
    Ok(render(&LivePage {
        layout: Layout::new(&ctx, Page::Live, "/admin/live".into()),
        t: ctx.t,
        board,
    }))
}

/// What one message of the stream carries: the job that started or ended, the titles of the
/// slots it names, and the counts and health as they are now.
#[derive(Serialize)]
struct Message {
    job: LiveEvent,
    titles: BTreeMap<String, String>,
    counts: Counts,
}

/// `text/event-stream`: one `job` event per booth job starting or ending. A page that falls
/// behind skips what it missed (the next message carries the counts anyway).
async fn live_events(
    State(state): State<AppState>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    stream(state)
}

/// Every job that starts or ends, with the counts as they are then.
pub fn stream(state: AppState) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.live.subscribe();
    let stopped = state.live.stopped();
    let stream = futures_util::stream::unfold((state, receiver), |(state, mut receiver)| async {
        loop {
            let job = match receiver.recv().await {
                Ok(job) => job,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            };
            let counts = Counts::now(&state).await.unwrap_or_default();
            let titles = Titles::load(&state)
                .await
                .map(|all| all.0)
                .unwrap_or_default()
                .into_iter()
                .filter(|(id, _)| job.names(id))
                .collect();
            let event = Event::default()
                .event("job")
                .json_data(Message {
                    job,
                    titles,
                    counts,
                })
                .unwrap_or_default();
            return Some((Ok(event), (state, receiver)));
        }
    });
    // A named heartbeat the page can see: silence for longer than a few of them means the
    // connection is gone, even when no error reaches the browser.
    let heartbeat = KeepAlive::new()
        .interval(HEARTBEAT)
        .event(Event::default().event("heartbeat"));
    Sse::new(futures_util::StreamExt::take_until(stream, stopped)).keep_alive(heartbeat)
}

/// How often an open stream says it is alive; the page says "no connection" after 5 s without.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);
