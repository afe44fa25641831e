//! The life of the configured models. What the providers' answers say of a model (its stage and
//! retirement) is kept across restarts; a model the operator chose is *pinned* and never changed
//! silently; a built-in default that its provider retires follows its successor from the model
//! table by itself — when the provider's list no longer has it, an answer says it is retired, or
//! a call answers "model not found" — provided the successor is in the provider's list. The
//! switch is recorded and shown.

use crate::AppState;
use crate::config::{MODEL_SETTINGS, ModelChoice, OLD_DEFAULTS, Setting, model_facts};
use crate::domain::{ModelStatus, Provider};
use crate::error::InternalError;
use crate::providers::catalog::{Catalog, Listing};
use crate::providers::registry;
use crate::store::Store;
use std::collections::HashMap;

/// What says a model is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Its provider's list was fetched again.
    ListFetched,
    /// An answer said it is retired.
    Retired,
    /// A call answered that there is no such model.
    NotFound,
}

/// At start: the answers' statuses kept from before, and for an install that never recorded
/// whether its models were chosen, the decision — a stored model other than a built-in default
/// (today's or an earlier one) was chosen by the operator.
pub async fn load(store: &Store, catalog: &Catalog) -> Result<(), InternalError> {
    for status in store.model_statuses().await? {
        catalog.observe(status);
    }
    let stored = store.stored_settings().await?;
    let undecided = MODEL_SETTINGS
        .into_iter()
        .filter(|s| !stored.contains_key(&ModelChoice::pin_key(*s)));
    let decisions: Vec<(String, String)> = undecided
        .map(|setting| {
            let def = setting.def();
            let chosen = stored
                .get(def.name)
                .is_some_and(|m| m != def.default && !OLD_DEFAULTS.contains(&m.as_str()));
            (ModelChoice::pin_key(setting), u8::from(chosen).to_string())
        })
        .collect();
    save(store, &decisions).await
}

/// Writes owned key/value pairs in one transaction.
pub async fn save(store: &Store, values: &[(String, String)]) -> Result<(), InternalError> {
    let borrowed: Vec<(&str, String)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    store.save_settings(&borrowed).await
}

/// The stored values that pin a model (or unpin it, back to the built-in default) and clear a
/// recorded switch: the operator has spoken.
pub fn chosen(setting: Setting, pinned: bool) -> [(String, String); 2] {
    [
        (ModelChoice::pin_key(setting), u8::from(pinned).to_string()),
        (ModelChoice::switch_key(setting), String::new()),
    ]
}

/// An answer's word on a model's life: kept, and acted on when it says the model is retired.
pub async fn observe(state: AppState, provider: Provider, status: ModelStatus) {
    if state.catalog.status(&status.model).as_ref() == Some(&status) {
        return;
    }
    tracing::info!(model = status.model, stage = status.stage, "model status");
    // Stored first: what the admin shows has been kept.
    if let Err(e) = state.store.save_model_status(&status).await {
        tracing::warn!(error = %e, "the model status could not be stored");
    }
    let retired = status.is_retired(state.clock.now_ms());
    state.catalog.observe(status);
    if retired {
        follow(&state, registry::spec(provider).listings, Sign::Retired).await;
    }
}

/// Follows the successor of each listing's model that is gone, unless the operator chose it.
pub async fn follow(state: &AppState, listings: &[Listing], sign: Sign) {
    let settings = state.settings();
    let mut switches = HashMap::new();
    for &listing in listings {
        let setting = listing.model_setting();
        if settings.model_choice(setting).pinned {
            continue;
        }
        let check = state.catalog.check(listing, &settings);
        let gone = match sign {
            Sign::ListFetched => check.listed == Some(false),
            Sign::Retired | Sign::NotFound => true,
        };
        let Some(next) = model_facts(&check.model).successor else {
            continue;
        };
        if gone && state.catalog.lists(listing, next) {
            switches.insert(setting, (check.model, next));
        }
    }
    for (setting, (from, to)) in switches {
        if let Err(e) = switch(state, setting, &from, to).await {
            tracing::error!(error = %e, from, to, "the model could not follow its successor");
        }
    }
}

async fn switch(
    state: &AppState,
    setting: Setting,
    from: &str,
    to: &str,
) -> Result<(), InternalError> {
    let at = state.clock.now_ms();
    save(
        &state.store,
        &[
            (setting.def().name.to_owned(), to.to_owned()),
            (ModelChoice::switch_key(setting), format!("{from} {at}")),
        ],
    )
    .await?;
    tracing::warn!(from, to, "a retired default model followed its successor");
    state.reload_settings().await
}

/// After each fetch of the lists: the defaults whose lists lost them follow their successors.
pub async fn run_forever(state: AppState) {
    loop {
        state.catalog.refreshed().await;
        follow(&state, &Listing::ALL, Sign::ListFetched).await;
    }
}
