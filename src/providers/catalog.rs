//! The models each provider offers, from its own model list: fetched at start, when a key,
//! address or model setting changes, and every hour — never on the booth's path; and what the
//! providers' answers say of a model's life (stage, retirement). A configured model missing
//! from its list, retired, or shutting down within 30 days, is a warning for the operator.

use super::{Http, ProviderError, nanobanana, read_answer};
use crate::clock::Clock;
use crate::config::{Endpoint, Setting, Settings, SharedSettings};
use crate::domain::ModelStatus;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::time::Duration;
use time::Date;
use tokio::sync::Notify;
use tokio::time::Instant;

const EVERY: Duration = Duration::from_secs(3600);
const LIST_TIMEOUT: Duration = Duration::from_secs(15);
/// A shutdown this close is worth a warning.
const WARN_DAYS: i64 = 30;

/// The model lists the server keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Listing {
    /// NanoBanana's image models.
    Nanobanana,
    /// The DeepSeek tab's prompt writer.
    Deepseek,
    /// The OpenAI-compatible images endpoint that draws for the DeepSeek tab.
    Images,
}

impl Listing {
    pub const ALL: [Listing; 3] = [Listing::Nanobanana, Listing::Deepseek, Listing::Images];

    /// The setting that names the model this list is checked against.
    pub fn model_setting(self) -> Setting {
        match self {
            Listing::Nanobanana => Setting::NanobananaModel,
            Listing::Deepseek => Setting::DeepseekModel,
            Listing::Images => Setting::ImagesModel,
        }
    }

    /// The API the list comes from, and the model checked against it.
    fn endpoint(self, settings: &Settings) -> &Endpoint {
        match self {
            Listing::Nanobanana => &settings.nanobanana,
            Listing::Deepseek => &settings.deepseek.writer,
            Listing::Images => &settings.images,
        }
    }

    /// How the providers JSON prefixes this list's fields when it is not the tab's own.
    pub fn json_prefix(self) -> &'static str {
        match self {
            Listing::Nanobanana => "nanobanana_",
            Listing::Deepseek => "deepseek_",
            Listing::Images => "images_",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedModel {
    pub id: String,
    pub shutdown_date: Option<Date>,
}

/// One provider's list as last fetched.
#[derive(Clone, Debug, Default)]
pub struct ModelList {
    pub models: Vec<ListedModel>,
    /// Why the last fetch failed, if it did.
    pub error: Option<String>,
    /// When it was last fetched (ms); `None` before the first fetch or without a key.
    pub checked_at: Option<i64>,
}

/// What the list and the answers say of the configured model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCheck {
    pub model: String,
    /// `None` while unknown (no key, or the list could not be fetched).
    pub listed: Option<bool>,
    /// The list's shutdown date, or the day an answer said it retires.
    pub shutdown_date: Option<Date>,
    /// What the last answer said of the model's life.
    pub status: Option<ModelStatus>,
}

impl ModelCheck {
    /// Jobs fail (or will at once): missing from its list, retired, or past its shutdown date.
    pub fn gone(&self, today: Date) -> bool {
        self.listed == Some(false)
            || self
                .status
                .as_ref()
                .is_some_and(|s| s.stage == ModelStatus::RETIRED)
            || self.shutdown_date.is_some_and(|date| date <= today)
    }

    /// Not gone, but shutting down within 30 days of `today`.
    pub fn shutting_down(&self, today: Date) -> Option<Date> {
        self.shutdown_date
            .filter(|date| (*date - today).whole_days() <= WARN_DAYS)
    }
}

#[derive(Default)]
pub struct Catalog {
    lists: RwLock<HashMap<Listing, ModelList>>,
    /// The answers' word on each model's life, by model ID.
    statuses: RwLock<HashMap<String, ModelStatus>>,
    /// Woken when a setting the lists depend on changes.
    changed: Notify,
    /// Woken when fresh lists are in.
    refreshed: Notify,
}

impl Catalog {
    pub fn list(&self, listing: Listing) -> ModelList {
        self.lists
            .read()
            .expect("catalog lock")
            .get(&listing)
            .cloned()
            .unwrap_or_default()
    }

    pub fn check(&self, listing: Listing, settings: &Settings) -> ModelCheck {
        let model = listing.endpoint(settings).model.clone();
        let list = self.list(listing);
        let known = list.checked_at.is_some() && list.error.is_none();
        let entry = list.models.iter().find(|m| m.id == model);
        let status = self.status(&model);
        let retires = status
            .as_ref()
            .and_then(|s| s.retirement_ms)
            .and_then(|ms| time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok())
            .map(|t| t.date());
        ModelCheck {
            listed: known.then_some(entry.is_some()),
            shutdown_date: entry.and_then(|m| m.shutdown_date).or(retires),
            status,
            model,
        }
    }

    /// Whether the list, once fetched, names this model.
    pub fn lists(&self, listing: Listing, model: &str) -> bool {
        let list = self.list(listing);
        list.error.is_none() && list.models.iter().any(|m| m.id == model)
    }

    /// What the last answer said of a model's life.
    pub fn status(&self, model: &str) -> Option<ModelStatus> {
        self.statuses
            .read()
            .expect("catalog lock")
            .get(model)
            .cloned()
    }

    /// Keeps an answer's word on a model's life.
    pub fn observe(&self, status: ModelStatus) {
        let mut statuses = self.statuses.write().expect("catalog lock");
        statuses.insert(status.model.clone(), status);
    }

    /// Waits for the next fresh lists.
    pub async fn refreshed(&self) {
        self.refreshed.notified().await;
    }

    /// Asks for fresh lists soon (a key, address or model changed).
    pub fn refresh_soon(&self) {
        self.changed.notify_one();
    }

    async fn refresh(&self, http: &Http, settings: &Settings, clock: &Clock) {
        for listing in Listing::ALL {
            let fetched = fetch(listing, http, settings).await;
            let list = match fetched {
                None => ModelList::default(),
                Some(Ok(models)) => ModelList {
                    models,
                    error: None,
                    checked_at: Some(clock.now_ms()),
                },
                Some(Err(e)) => {
                    tracing::warn!(?listing, error = %e, "model list unavailable");
                    ModelList {
                        error: Some(e.to_string()),
                        checked_at: Some(clock.now_ms()),
                        ..self.list(listing)
                    }
                }
            };
            self.lists
                .write()
                .expect("catalog lock")
                .insert(listing, list);
        }
        self.refreshed.notify_one();
    }
}

/// Keeps the lists fresh: now, hourly, and whenever the settings change.
pub async fn run_forever(
    catalog: Arc<Catalog>,
    http: Http,
    settings: SharedSettings,
    clock: Clock,
) {
    loop {
        catalog.refresh(&http, &settings.current(), &clock).await;
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = catalog.changed.notified() => {}
        }
    }
}

/// A provider's list, or `None` without a key to ask with.
async fn fetch(
    listing: Listing,
    http: &Http,
    settings: &Settings,
) -> Option<Result<Vec<ListedModel>, ProviderError>> {
    let endpoint = listing.endpoint(settings);
    let key = endpoint.api_key.as_deref()?;
    let base = &endpoint.base_url;
    Some(match listing {
        Listing::Nanobanana => nanobanana::list_image_models(&http.api, base, key)
            .await
            .map(|ids| {
                ids.into_iter()
                    .map(|id| ListedModel {
                        id,
                        shutdown_date: None,
                    })
                    .collect()
            }),
        Listing::Deepseek | Listing::Images => openai_models(http, base, key).await,
    })
}

/// `GET {base}/models` of an OpenAI-style API: `{"data": [{"id": …, "shutdown_date": …}]}`.
async fn openai_models(
    http: &Http,
    base: &str,
    key: &str,
) -> Result<Vec<ListedModel>, ProviderError> {
    let deadline = Instant::now() + LIST_TIMEOUT;
    let response = http
        .api
        .get(format!("{}/models", base.trim_end_matches('/')))
        .bearer_auth(key)
        .timeout(LIST_TIMEOUT)
        .send()
        .await
        .map_err(|e| super::request_failed(e, deadline))?;
    let status = response.status();
    let body = read_answer(response, deadline).await?;
    let json: Value = serde_json::from_slice(&body).map_err(|_| {
        ProviderError::Protocol(format!("the model list (HTTP {status}) is not JSON"))
    })?;
    if !status.is_success() {
        let message = json["error"]["message"].as_str().unwrap_or("no message");
        return Err(ProviderError::BadConfig(format!(
            "HTTP {status}: {message}"
        )));
    }
    let entries = json["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(entries
        .iter()
        .filter_map(|m| {
            Some(ListedModel {
                id: m["id"].as_str()?.to_owned(),
                shutdown_date: shutdown_date(&m["shutdown_date"]),
            })
        })
        .collect())
}

/// A shutdown date as a list gives it: `"2026-12-01"`, or Unix seconds.
fn shutdown_date(value: &Value) -> Option<Date> {
    match value {
        Value::String(s) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            Date::parse(s.get(..10)?, format).ok()
        }
        Value::Number(n) => time::OffsetDateTime::from_unix_timestamp(n.as_i64()?)
            .ok()
            .map(|t| t.date()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shutdown_dates_are_read_as_text_or_seconds() {
        let date = time::macros::date!(2026 - 12 - 01);
        assert_eq!(shutdown_date(&json!("2026-12-01")), Some(date));
        assert_eq!(shutdown_date(&json!("2026-12-01T00:00:00Z")), Some(date));
        assert_eq!(shutdown_date(&json!(1_796_083_200)), Some(date));
        assert_eq!(shutdown_date(&json!(null)), None);
    }

    #[test]
    fn a_shutdown_within_thirty_days_is_a_warning() {
        let check = ModelCheck {
            model: "m".into(),
            listed: Some(true),
            shutdown_date: Some(time::macros::date!(2026 - 12 - 20)),
            status: None,
        };
        assert!(
            check
                .shutting_down(time::macros::date!(2026 - 11 - 28))
                .is_some()
        );
        assert!(
            check
                .shutting_down(time::macros::date!(2026 - 10 - 01))
                .is_none()
        );
        assert!(!check.gone(time::macros::date!(2026 - 11 - 28)));
        assert!(
            check.gone(time::macros::date!(2026 - 12 - 20)),
            "on the day"
        );
        let retired = ModelCheck {
            shutdown_date: None,
            status: Some(ModelStatus {
                model: "m".into(),
                stage: ModelStatus::RETIRED.into(),
                retirement_ms: None,
                message: None,
            }),
            ..check
        };
        assert!(retired.gone(time::macros::date!(2026 - 11 - 28)));
    }
}
