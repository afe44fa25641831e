//! The tablet's link: the Live page and its event stream without the admin password, under
//! `/live/{token}`. The token is random, stored only as its SHA-256, and making a new one
//! revokes the old. It opens nothing else — no admin page, no API, no originals: the page has
//! no links into the admin, its pictures are the result thumbnails of booth jobs, and its CSS
//! and script come from the public `/assets/`.

use super::i18n::Strings;
use super::live::{self, Board, Place};
use super::{Ctx, render};
use crate::AppState;
use crate::error::{AppError, AppResult, InternalError};
use crate::media::Thumb;
use crate::store::Store;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Where the SHA-256 of the current tablet token is stored.
const TOKEN_HASH_KEY: &str = "live_link_hash";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/live/{token}", get(tablet_page))
        .route("/live/{token}/events", get(tablet_events))
        .route("/live/{token}/photos/{job}/after", get(tablet_photo))
        .route("/assets/{file}", get(super::assets::static_file))
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new tablet link's token; the old one stops working at once.
pub async fn renew(store: &Store) -> Result<String, InternalError> {
    let token = crate::store::new_link_token();
    store
        .save_settings(&[(TOKEN_HASH_KEY, hash(&token))])
        .await?;
    tracing::warn!("a new tablet link was made; the old one is revoked");
    Ok(token)
}

/// The link's address, as the tablet opens it.
pub fn url(base_url: &str, token: &str) -> String {
    format!("{base_url}/live/{token}")
}

/// The token is the current one; anything else is a plain 404, as for a page that is not.
async fn check(store: &Store, token: &str) -> AppResult<()> {
    let stored = store.stored_setting(TOKEN_HASH_KEY).await?;
    let genuine =
        stored.is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(hash(token).as_bytes())));
    genuine.then_some(()).ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "tablet.html")]
struct TabletPage {
    lang: &'static str,
    t: &'static Strings,
    board: Board,
}

async fn tablet_page(
    ctx: Ctx,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    check(&state.store, &token).await?;
    let base = format!("/live/{token}");
    let place = Place {
        photos_base: format!("{base}/photos"),
        events_url: format!("{base}/events"),
        job_link: None,
    };
    let board = Board::load(&state, ctx.t, place).await?;
    Ok(render(&TabletPage {
        lang: ctx.lang.code(),
        t: ctx.t,
        board,
    }))
}

async fn tablet_events(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    check(&state.store, &token).await?;
    Ok(axum::response::IntoResponse::into_response(live::stream(
        state,
    )))
}

/// The result thumbnail of a booth job, the only picture the tablet sees.
async fn tablet_photo(
    State(state): State<AppState>,
    Path((token, job)): Path<(String, String)>,
) -> AppResult<Response> {
    check(&state.store, &token).await?;
    let record = state.store.job(&job).await?.ok_or(AppError::NotFound)?;
    if record.is_test || record.result_path.is_none() {
        return Err(AppError::NotFound);
    }
    super::assets::image_file(state.media.thumb_path(&record.id, Thumb::After)).await
}
