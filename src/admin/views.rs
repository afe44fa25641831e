//! What the admin pages show, shaped for the templates in `templates/`.

use super::Ctx;
use super::i18n::Strings;
use crate::domain::{Kind, Provider, Slot, SlotUnavailable};
use crate::providers::{gemini, turbotext};
use crate::store::StatusCounts;
use askama::Template;

/// The frame around every page: top bar, tabs, language switch, demo banner.
pub struct Layout {
    pub t: &'static Strings,
    pub csrf: String,
    pub demo: bool,
    /// The tab or page to highlight.
    pub active: &'static str,
    /// Where the language switch comes back to.
    pub here: String,
    pub other_lang: &'static str,
}

pub struct Tab {
    pub id: &'static str,
    pub name: &'static str,
}

impl Layout {
    pub fn new(ctx: &Ctx, active: &'static str, here: String) -> Layout {
        Layout {
            t: ctx.t,
            csrf: ctx.csrf.clone(),
            demo: ctx.demo,
            active,
            here,
            other_lang: ctx.lang.other().code(),
        }
    }

    pub fn tabs(&self) -> Vec<Tab> {
        Provider::ALL
            .into_iter()
            .map(|p| Tab {
                id: p.as_str(),
                name: p.display_name(),
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "provider.html")]
pub struct ProviderPage {
    pub layout: Layout,
    pub provider_name: &'static str,
    /// What the operator should know about how this tab works.
    pub intro: Option<&'static str>,
    pub cards: Vec<CardView>,
}

/// One card alone, for the page's script to swap in after a save.
#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPartial {
    pub layout: Layout,
    pub card: CardView,
}

pub struct CardView {
    pub provider: &'static str,
    pub number: u8,
    pub name: String,
    pub enabled: bool,
    /// The processing-type dropdown.
    pub kinds: Vec<Choice>,
    pub prompt: String,
    /// The instruction the model will get, for providers that wrap the prompt in a template.
    pub template: Option<String>,
    pub raw_prompt: bool,
    pub turbotext: Option<TurbotextOptions>,
    pub reference_url: Option<String>,
    pub upload_url: String,
    /// Why the slot would refuse a photo now, if it would.
    pub not_ready: Option<&'static str>,
    pub errors: Vec<(&'static str, String)>,
    pub saved: bool,
}

impl CardView {
    pub fn new(slot: &Slot, t: &Strings, base_url: &str) -> CardView {
        let id = slot.id;
        CardView {
            provider: id.provider.as_str(),
            number: id.number,
            name: slot.name.clone(),
            enabled: slot.enabled,
            kinds: Kind::ALL
                .into_iter()
                .map(|k| Choice {
                    value: k.as_str().into(),
                    label: t.kind(k).into(),
                    selected: k == slot.kind,
                })
                .collect(),
            prompt: slot.prompt.clone(),
            template: (id.provider == Provider::Nanobanana).then(|| {
                gemini::instruction(slot.kind, &slot.prompt, gemini::raw_prompt(&slot.options))
            }),
            raw_prompt: gemini::raw_prompt(&slot.options),
            turbotext: (id.provider == Provider::Turbotext).then(|| TurbotextOptions::new(slot)),
            reference_url: slot
                .reference
                .as_ref()
                .map(|name| format!("/admin/references/{}/{}?v={name}", id.provider, id.number)),
            upload_url: format!("{base_url}{}", id.upload_path()),
            not_ready: slot.check_ready().err().map(|reason| match reason {
                SlotUnavailable::Disabled => t.not_ready_disabled,
                SlotUnavailable::MissingReference => t.not_ready_reference,
                SlotUnavailable::MissingPrompt => t.not_ready_prompt,
            }),
            errors: Vec::new(),
            saved: false,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// A Turbotext slot's advanced fields, as the card shows them.
pub struct TurbotextOptions {
    pub method: String,
    /// The method the slot's kind uses when none is named.
    pub default_method: String,
    pub extra_fields: String,
    pub face_restore: bool,
    pub strength: String,
}

impl TurbotextOptions {
    fn new(slot: &Slot) -> TurbotextOptions {
        let text = |key: &str| match slot.options.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        TurbotextOptions {
            method: text("method"),
            default_method: turbotext::method_for(slot.kind, &Default::default()),
            extra_fields: text("extra_fields"),
            face_restore: slot
                .options
                .get("face_restore")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            strength: text("strength"),
        }
    }
}

pub struct ProviderCounts {
    pub name: &'static str,
    pub counts: StatusCounts,
}

pub struct SlotStatsRow {
    pub provider: &'static str,
    pub number: i64,
    pub counts: StatusCounts,
}

#[derive(Template)]
#[template(path = "stats.html")]
pub struct StatsPage {
    pub layout: Layout,
    pub upload_password: String,
    pub password_from_env: bool,
    pub deadline_secs: i64,
    pub booth: Vec<ProviderCounts>,
    pub tests: Vec<ProviderCounts>,
    pub slots: Vec<SlotStatsRow>,
    /// Server-rendered SVG, built from numbers only.
    pub chart: String,
}

pub struct SettingsSection {
    pub title: &'static str,
    pub fields: Vec<SettingField>,
    /// The last configuration error its provider met.
    pub last_error: Option<String>,
    /// Something about the settings that will make the provider fail.
    pub warning: Option<&'static str>,
    /// Turbotext's method discovery: offered in its section, filled once asked.
    pub discovery: Option<Vec<(String, String)>>,
    /// A fact worth knowing about this section's settings (what retention will delete).
    pub note: Option<String>,
    /// The connection test this section offers (`deepseek`, `images`).
    pub test: Option<&'static str>,
    /// The outcome of that test, once run: whether it worked, and what was said.
    pub test_result: Option<(bool, String)>,
}

pub struct SettingField {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `url`, `password`, `number` or `checkbox`.
    pub input: &'static str,
    pub value: String,
    pub placeholder: String,
    pub from_env: bool,
    pub error: Option<String>,
    /// Suggestions offered with the free text (the models a key can use).
    pub suggestions: Vec<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub sections: Vec<SettingsSection>,
    pub saved: bool,
}

pub struct JobRow {
    pub id: String,
    /// UTC, for when the page's script does not run; the script shows the browser's local time.
    pub time: String,
    pub created_ms: i64,
    pub provider: &'static str,
    pub slot: i64,
    pub status: &'static str,
    pub status_label: &'static str,
    pub is_test: bool,
    pub latency: String,
    pub reason: String,
    pub message: String,
    pub booth: String,
    pub prompt: String,
    pub prompt_used: String,
    pub has_original: bool,
    pub has_before_thumb: bool,
    pub has_result: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "jobs.html")]
pub struct JobsPage {
    pub layout: Layout,
    pub rows: Vec<JobRow>,
    pub providers: Vec<Choice>,
    pub slots: Vec<Choice>,
    pub statuses: Vec<Choice>,
    pub older: Option<String>,
}
