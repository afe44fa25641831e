//! What the server knows of each provider, in one entry per provider: its settings sections,
//! slot options and card hints, the model lists its jobs depend on, its prices, its connection
//! checks and the factory of its client. The admin pages, the model lists, the checks, the
//! costs and [`model_for`] go through these entries instead of asking which provider a slot
//! belongs to.
//!
//! A fourth provider is its client file (an [`ImageModel`] and a `build` function), one entry
//! in [`REGISTRY`], its slug in [`Provider`] and its settings section in the settings table.

use super::catalog::Listing;
use super::options::{CardHints, OptionSpec};
use super::{DemoModel, Http, ImageModel, deepseek, images, nanobanana, turbotext};
use crate::config::{Group, Settings};
use crate::domain::{Kind, Provider, Slot};
use crate::imaging::CpuPool;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type CheckFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// An API method a key may call: its name and description.
pub type Method = (String, String);

/// Asks the provider which API methods its key may call.
pub type MethodsCheck = for<'a> fn(&'a Http, &'a Settings) -> CheckFuture<'a, Vec<Method>>;

/// Builds a provider's client under the settings, or says what is missing.
pub type Factory = fn(&Settings, &Http) -> Result<Arc<dyn ImageModel>, String>;

/// A "Test connection" button of a Settings section.
pub struct ConnectionTest {
    /// The section it sits in.
    pub group: Group,
    /// Its path segment under `/admin/settings/test/`.
    pub stage: &'static str,
    /// One small authenticated call; what went wrong, if anything.
    pub run: for<'a> fn(&'a Http, &'a Settings) -> CheckFuture<'a, ()>,
}

/// One provider, everything about it that is not its HTTP client.
pub struct ProviderSpec {
    pub provider: Provider,
    /// The Settings sections that configure it, its own first.
    pub groups: &'static [Group],
    /// The options its slots read.
    pub options: &'static [OptionSpec],
    /// What a slot's card shows of the way this provider will handle it.
    pub card_hints: fn(Kind, &str, &Map<String, Value>) -> CardHints,
    /// The model lists its jobs depend on; the first is its own.
    pub listings: &'static [Listing],
    /// It fetches the photos by link, so the server's public URL must reach it.
    pub fetches_by_link: bool,
    /// Its price per image.
    pub price: fn(&Settings) -> f64,
    /// The price of one call of its prompt writer, when it has one that runs.
    pub writer_price: fn(&Settings) -> Option<f64>,
    pub tests: &'static [ConnectionTest],
    /// The API methods its key may call (name, description), when it can tell.
    pub methods: Option<MethodsCheck>,
    /// Its client under these settings, or what is missing.
    pub build: Factory,
}

/// In the order of the admin tabs.
pub static REGISTRY: [ProviderSpec; 3] = [
    ProviderSpec {
        provider: Provider::Turbotext,
        groups: &[Group::Turbotext],
        options: turbotext::OPTIONS,
        card_hints: turbotext::card_hints,
        listings: &[],
        fetches_by_link: true,
        price: |s| s.costs.turbotext,
        writer_price: |_| None,
        tests: &[],
        methods: Some(|http, settings| Box::pin(turbotext::methods(http, settings))),
        build: turbotext::build,
    },
    ProviderSpec {
        provider: Provider::Deepseek,
        groups: &[Group::Deepseek, Group::Images],
        options: images::OPTIONS,
        card_hints: |_, _, _| CardHints::none(),
        listings: &[Listing::Deepseek, Listing::Images],
        fetches_by_link: false,
        price: |s| s.costs.deepseek,
        // Without its key the writer is not called: the slot's own prompt is used.
        writer_price: |s| {
            s.deepseek
                .writer
                .api_key
                .is_some()
                .then_some(s.costs.deepseek_writer)
        },
        tests: &[
            ConnectionTest {
                group: Group::Deepseek,
                stage: "deepseek",
                run: |http, settings| Box::pin(deepseek::check_writer(http, settings)),
            },
            ConnectionTest {
                group: Group::Images,
                stage: "images",
                run: |http, settings| Box::pin(images::check_renderer(http, settings)),
            },
        ],
        methods: None,
        build: deepseek::build,
    },
    ProviderSpec {
        provider: Provider::Nanobanana,
        groups: &[Group::Nanobanana],
        options: nanobanana::OPTIONS,
        card_hints: nanobanana::card_hints,
        listings: &[Listing::Nanobanana],
        fetches_by_link: false,
        price: |s| s.costs.nanobanana,
        writer_price: |_| None,
        tests: &[ConnectionTest {
            group: Group::Nanobanana,
            stage: "nanobanana",
            run: |http, settings| Box::pin(nanobanana::check_key(http, settings)),
        }],
        methods: None,
        build: nanobanana::build,
    },
];

/// The entry of a provider.
pub fn spec(provider: Provider) -> &'static ProviderSpec {
    REGISTRY
        .iter()
        .find(|spec| spec.provider == provider)
        .expect("every provider has an entry")
}

/// The provider a Settings section configures, if any.
pub fn owner_of(group: Group) -> Option<&'static ProviderSpec> {
    REGISTRY.iter().find(|spec| spec.groups.contains(&group))
}

/// The connection test of a stage, by its path segment.
pub fn test_named(stage: &str) -> Option<&'static ConnectionTest> {
    REGISTRY
        .iter()
        .flat_map(|spec| spec.tests)
        .find(|test| test.stage == stage)
}

/// What the slot's card shows of the way its provider will handle it.
pub fn card_hints(slot: &Slot) -> CardHints {
    (spec(slot.id.provider).card_hints)(slot.kind, &slot.prompt, &slot.options)
}

/// Picks the model for a tab under the current settings, or says why there is none.
pub fn model_for(
    provider: Provider,
    settings: &Settings,
    demo: bool,
    cpu: &CpuPool,
    http: &Http,
) -> Result<Arc<dyn ImageModel>, String> {
    if demo {
        return Ok(Arc::new(DemoModel::new(settings.demo_delay, cpu.clone())));
    }
    let spec = spec(provider);
    if spec.fetches_by_link && settings.public_url.is_none() {
        return Err(format!(
            "{} fetches photos by link: set the server's public URL in Settings",
            provider.display_name()
        ));
    }
    (spec.build)(settings, http)
}

/// An API key that is set, or the error naming what it is for.
pub fn key<'a>(key: &'a Option<String>, what: &str) -> Result<&'a str, String> {
    key.as_deref()
        .ok_or_else(|| format!("no API key is set for {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_one_entry_in_tab_order_and_every_section_one_owner() {
        let order: Vec<Provider> = REGISTRY.iter().map(|s| s.provider).collect();
        assert_eq!(order, Provider::ALL);
        for group in Group::ON_SETTINGS_PAGE {
            let owners = REGISTRY
                .iter()
                .filter(|s| s.groups.contains(&group))
                .count();
            assert!(owners <= 1, "{group:?}");
        }
        assert_eq!(test_named("images").unwrap().group, Group::Images);
        assert!(test_named("turbotext").is_none());
    }
}
