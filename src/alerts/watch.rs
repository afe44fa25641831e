//! What no request meets, checked every so often: the configured models' lives, and in a
//! running event the share of guests with an AI photo and the booths gone silent.

use super::{Event, percent};
use crate::AppState;
use crate::error::InternalError;
use crate::providers::catalog::Listing;
use crate::providers::registry::REGISTRY;
use crate::store::{EventRecord, Scope};
use std::collections::HashMap;
use std::time::Duration;

/// How often the loop looks, unless told otherwise.
pub const EVERY: Duration = Duration::from_secs(30);

/// The window of the share of guests with an AI photo.
const RATE_WINDOW_MS: i64 = 15 * 60_000;

/// Fewer photos than this in the window say nothing about the share.
const RATE_MIN_PHOTOS: i64 = 5;

/// A retirement is alerted when first seen this close, and again at [`RETIRING_SOON`].
const RETIRING_SOON: i64 = 7;

pub async fn run_forever(state: AppState, every: Duration) {
    let mut watch = Watch::default();
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = watch.check(&state).await {
            tracing::warn!(error = %e, "the alert checks could not run");
        }
    }
}

#[derive(Default)]
struct Watch {
    /// Each silent booth's last photo, once alerted: the same silence is told once.
    silences_told: HashMap<String, i64>,
}

impl Watch {
    async fn check(&mut self, state: &AppState) -> Result<(), InternalError> {
        models(state).await?;
        let Some(event) = state.store.running_event().await? else {
            return Ok(());
        };
        ai_rate(state, &event).await?;
        self.silent_booths(state, &event).await
    }

    async fn silent_booths(
        &mut self,
        state: &AppState,
        event: &EventRecord,
    ) -> Result<(), InternalError> {
        let Some(silent) = state.settings().alerts.booth_silent else {
            return Ok(());
        };
        let now = state.clock.now_ms();
        for booth in state.store.booths(Some(event.id)).await? {
            let quiet_ms = now - booth.last_seen;
            let Some(name) = booth.name.or(booth.address) else {
                continue;
            };
            let told = self.silences_told.get(&name) == Some(&booth.last_seen);
            if booth.event_photos == 0 || quiet_ms < silent.as_millis() as i64 || told {
                continue;
            }
            self.silences_told.insert(name.clone(), booth.last_seen);
            state.alerts.raise(Event::BoothSilent {
                booth: name,
                minutes: (quiet_ms / 60_000) as u64,
            });
        }
        Ok(())
    }
}

/// The share of the running event's guests with an AI photo over the last 15 minutes, against
/// the threshold.
async fn ai_rate(state: &AppState, event: &EventRecord) -> Result<(), InternalError> {
    let threshold = state.settings().alerts.min_ai_rate;
    if threshold == 0 {
        return Ok(());
    }
    let since = state.clock.now_ms() - RATE_WINDOW_MS;
    let delivery = state
        .store
        .delivery(Scope::event(event.id).since(since))
        .await?;
    let below = percent(delivery.delivered, delivery.photos) < i64::from(threshold);
    if delivery.photos >= RATE_MIN_PHOTOS && below {
        state.alerts.raise(Event::LowAiRate {
            event: event.name.clone(),
            delivered: delivery.delivered,
            photos: delivery.photos,
            threshold,
        });
    }
    Ok(())
}

/// How close a configured model is to its end, strongest last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Within30Days,
    Within7Days,
    Gone,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Within30Days => "30",
            Stage::Within7Days => "7",
            Stage::Gone => "gone",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        [Stage::Within30Days, Stage::Within7Days, Stage::Gone]
            .into_iter()
            .find(|stage| stage.as_str() == s)
    }
}

/// A configured model missing from its list or retired, or shutting down within 30 days:
/// alerted once per stage (30 days, 7 days, gone), remembered across restarts.
async fn models(state: &AppState) -> Result<(), InternalError> {
    let settings = state.settings();
    let today = state.clock.today();
    let stored = state.store.stored_settings().await?;
    for listing in Listing::ALL {
        let Some(provider) = REGISTRY
            .iter()
            .find(|spec| spec.listings.contains(&listing))
            .map(|spec| spec.provider)
        else {
            continue;
        };
        let check = state.catalog.check(listing, &settings);
        let (stage, event) = if check.gone(today) {
            let event = Event::ModelMissing {
                provider,
                model: check.model.clone(),
            };
            (Stage::Gone, event)
        } else if let Some(date) = check.shutting_down(today) {
            let stage = if (date - today).whole_days() <= RETIRING_SOON {
                Stage::Within7Days
            } else {
                Stage::Within30Days
            };
            let event = Event::ModelRetiring {
                provider,
                model: check.model.clone(),
                date: date.to_string(),
            };
            (stage, event)
        } else {
            continue;
        };
        let key = format!("alerted:{}", listing.model_setting().def().name);
        let told = stored
            .get(&key)
            .and_then(|v| v.rsplit_once(' '))
            .filter(|(model, _)| *model == check.model)
            .and_then(|(_, stage)| Stage::parse(stage));
        if told.is_some_and(|told| told >= stage) {
            continue;
        }
        // One held back by the ten-minute quiet is tried again on a later round.
        if !state.alerts.raise(event) {
            continue;
        }
        let value = format!("{} {}", check.model, stage.as_str());
        state.store.save_settings(&[(key.as_str(), value)]).await?;
    }
    Ok(())
}
