//! The models each provider offers, from its own model list: fetched at start, when a key,
//! address or model setting changes, and every hour — never on the booth's path. A configured
//! model missing from its list, or shutting down within 30 days, is a warning for the operator.

use super::{Http, ProviderError, nanobanana, read_answer};
use crate::clock::Clock;
use crate::config::{Endpoint, Setting, Settings, SharedSettings};
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

/// What the list says of the configured model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCheck {
    pub model: String,
    /// `None` while unknown (no key, or the list could not be fetched).
    pub listed: Option<bool>,
    pub shutdown_date: Option<Date>,
}

impl ModelCheck {
    /// Missing from its list: jobs will fail until another model is chosen.
    pub fn missing(&self) -> bool {
        self.listed == Some(false)
    }

    /// Listed, but shutting down within 30 days of `today`.
    pub fn shutting_down(&self, today: Date) -> Option<Date> {
        self.shutdown_date
            .filter(|date| (*date - today).whole_days() <= WARN_DAYS)
    }
}

#[derive(Default)]
pub struct Catalog {
    lists: RwLock<HashMap<Listing, ModelList>>,
    /// Woken when a setting the lists depend on changes.
    changed: Notify,
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
        ModelCheck {
            listed: known.then_some(entry.is_some()),
            shutdown_date: entry.and_then(|m| m.shutdown_date),
            model,
        }
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
        assert!(!check.missing());
    }
}
