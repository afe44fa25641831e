//! Warnings about the configured models, where the operator looks: a model its provider no
//! longer lists, or one shutting down soon, with the listed models to choose from instead.

use super::i18n::Strings;
use crate::AppState;
use crate::config::Settings;
use crate::providers::catalog::Listing;

/// One warning about one configured model.
pub struct ModelBanner {
    /// `missing` (jobs fail now), `retiring` (they will soon) or `switched` (a built-in default
    /// followed its successor).
    pub severity: &'static str,
    pub text: String,
    /// The setting's form name, for the choice of another model.
    pub setting: &'static str,
    pub choices: Vec<String>,
    /// Set by the environment: the page cannot change it.
    pub from_env: bool,
}

fn listing_name(t: &Strings, listing: Listing) -> &'static str {
    match listing {
        Listing::Nanobanana => "Gemini",
        Listing::Deepseek => "DeepSeek",
        Listing::Images => t.images_endpoint,
    }
}

/// The warnings about the models of these lists, in the page's language.
pub fn banners(
    state: &AppState,
    settings: &Settings,
    t: &Strings,
    listings: &[Listing],
) -> Vec<ModelBanner> {
    let today = state.clock.today();
    listings
        .iter()
        .filter_map(|&listing| {
            let check = state.catalog.check(listing, settings);
            let setting = listing.model_setting();
            let switched = settings.model_choice(setting).switched_from;
            let (severity, template) = if check.listed == Some(false) {
                ("missing", t.model_missing.to_owned())
            } else if check.gone(today) {
                ("missing", t.model_retired.to_owned())
            } else if let Some(date) = check.shutting_down(today) {
                (
                    "retiring",
                    t.model_retiring.replace("{date}", &date.to_string()),
                )
            } else {
                let (from, at) = switched?;
                let date = crate::clock::iso_time(at);
                let day = date.get(..10).unwrap_or(&date).to_owned();
                let text = t.model_switched.replace("{from}", &from);
                return Some(ModelBanner {
                    severity: "switched",
                    text: text
                        .replace("{date}", &day)
                        .replace("{model}", &check.model)
                        .replace("{provider}", listing_name(t, listing)),
                    setting: setting.def().name,
                    choices: Vec::new(),
                    from_env: settings.is_from_env(setting),
                });
            };
            Some(ModelBanner {
                severity,
                text: template
                    .replace("{model}", &check.model)
                    .replace("{provider}", listing_name(t, listing)),
                setting: setting.def().name,
                choices: state
                    .catalog
                    .list(listing)
                    .models
                    .into_iter()
                    .map(|m| m.id)
                    .filter(|id| *id != check.model)
                    .collect(),
                from_env: settings.is_from_env(setting),
            })
        })
        .collect()
}
