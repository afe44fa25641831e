//! A slot's card: what it shows of the slot (type, prompt, options, fallbacks, reference,
//! upload link, readiness) and the form it saves with.

use super::Ctx;
use super::i18n::Strings;
use super::layout::{Choice, Layout};
use crate::AppState;
use crate::checks::PeopleRule;
use crate::domain::{Kind, MAX_FALLBACKS, Provider, Slot, SlotId, SlotUnavailable};
use crate::error::AppResult;
use crate::providers::options::OptionInput;
use crate::providers::registry;
use askama::Template;

/// One card alone, for the page's script to swap in after a save.
#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPartial {
    pub layout: Layout,
    pub card: CardView,
}

pub struct CardView {
    pub provider: Provider,
    pub number: u8,
    /// Why the slot's last pre-flight failed, until it passes or the slot is edited.
    pub preflight_failed: Option<String>,
    pub name: String,
    pub enabled: bool,
    /// The processing-type dropdown.
    pub kinds: Vec<Choice>,
    pub prompt: String,
    /// The booth values the prompt names (`{style}`), filled from the upload URL or the form.
    pub placeholders: Vec<String>,
    /// The instruction the model will get, for providers that wrap the prompt in a template.
    pub instruction: Option<String>,
    /// The provider's own options of the slot.
    pub options: Vec<OptionField>,
    /// The two fallback pickers: every other slot, by tab, with its name and readiness.
    pub fallbacks: Vec<Vec<Choice>>,
    pub fallback_after_secs: u32,
    /// How its results are checked for people: the type's default first.
    pub people_checks: Vec<Choice>,
    pub reference_url: Option<String>,
    pub upload_url: String,
    /// "NanoBanana 3": which slot the URL belongs to (its end is a token, not the number).
    pub label: String,
    /// The URL with DSLR Remote Pro's survey tokens for the prompt's placeholders.
    pub survey_url: Option<String>,
    /// Why the slot would refuse a photo now, if it would.
    pub not_ready: Option<&'static str>,
    pub errors: Vec<(&'static str, String)>,
    pub saved: bool,
    /// Shown as one line that opens the form on demand: a slot never set up.
    pub folded: bool,
}

/// How a provider option is typed on the card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldInput {
    Text,
    /// `key=value` lines.
    Lines,
    Number,
    Switch,
    /// A `<select>` of the option's words, blank first.
    Choice,
}

/// One provider option as a field of the card's form.
pub struct OptionField {
    /// The form field's name: `opt_` and the option's key.
    pub name: String,
    pub key: &'static str,
    pub label: &'static str,
    pub input: FieldInput,
    pub value: String,
    pub checked: bool,
    pub placeholder: String,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The words of a choice, blank (the provider's default) first.
    pub choices: Vec<Choice>,
}

/// What every card of a page is built from: the page's language and address, and all slots
/// (for the fallback pickers).
pub struct Cards<'a> {
    t: &'static Strings,
    base_url: &'a str,
    all: Vec<Slot>,
    preflights: std::sync::Arc<crate::preflight::Preflights>,
}

impl<'a> Cards<'a> {
    pub async fn load(state: &AppState, ctx: &'a Ctx) -> AppResult<Cards<'a>> {
        Ok(Cards {
            t: ctx.t,
            base_url: &ctx.base_url,
            all: state.store.all_slots().await?,
            preflights: state.preflights.clone(),
        })
    }

    pub fn card(&self, slot: &Slot) -> CardView {
        CardView::new(slot, self)
    }

    /// The card as its tab lists it: a slot never set up folded, unless it is the one opened.
    pub fn listed(&self, slot: &Slot, opened: Option<u8>) -> CardView {
        CardView {
            folded: slot.is_blank() && opened != Some(slot.id.number),
            ..self.card(slot)
        }
    }

    /// One fallback picker's choices as the page first shows them: none, and the slot chosen.
    /// The rest come from the page's one list of slots ([`Cards::choices`]) when the picker is
    /// first opened, so a tab does not carry forty copies of it.
    fn picker(&self, own: SlotId, chosen: Option<SlotId>) -> Vec<Choice> {
        let none = Choice {
            value: String::new(),
            label: self.t.fallback_none.to_owned(),
            selected: chosen.is_none(),
        };
        let chosen = chosen
            .filter(|id| *id != own)
            .and_then(|id| self.all.iter().find(|s| s.id == id))
            .map(|s| self.choice(s, true));
        std::iter::once(none).chain(chosen).collect()
    }

    /// Every slot as a fallback choice, with its name and readiness; none selected.
    pub fn choices(&self) -> Vec<Choice> {
        self.all.iter().map(|s| self.choice(s, false)).collect()
    }

    fn choice(&self, s: &Slot, selected: bool) -> Choice {
        let ready = if s.check_ready().is_ok() {
            self.t.fallback_ready
        } else {
            self.t.fallback_not_ready
        };
        Choice {
            value: s.id.to_string(),
            label: format!("{} — {ready}", s.title()),
            selected,
        }
    }
}

impl CardView {
    fn new(slot: &Slot, cards: &Cards<'_>) -> CardView {
        let (t, base_url) = (cards.t, cards.base_url);
        let id = slot.id;
        let hints = registry::card_hints(slot);
        let upload_url = format!("{base_url}{}", slot.upload_path());
        let options = registry::spec(id.provider)
            .options
            .iter()
            .map(|spec| {
                let value = slot.options.get(spec.key);
                let placeholder = hints
                    .defaults
                    .iter()
                    .find(|(key, _)| *key == spec.key)
                    .map(|(_, default)| default.clone());
                let (input, min, max) = match spec.input {
                    OptionInput::Name { .. } => (FieldInput::Text, None, None),
                    OptionInput::KeyValueLines => (FieldInput::Lines, None, None),
                    OptionInput::Number { min, max } => (FieldInput::Number, Some(min), Some(max)),
                    OptionInput::Switch => (FieldInput::Switch, None, None),
                    OptionInput::Choice(_) => (FieldInput::Choice, None, None),
                };
                let shown = spec.input.display(value);
                let choices = match spec.input {
                    OptionInput::Choice(words) => Choice::list(
                        std::iter::once((String::new(), t.option_default.to_owned()))
                            .chain(words.iter().map(|w| (w.to_string(), w.to_string()))),
                        &shown,
                    ),
                    _ => Vec::new(),
                };
                OptionField {
                    name: format!("opt_{}", spec.key),
                    key: spec.key,
                    label: t.option_label(spec.label),
                    input,
                    value: shown,
                    checked: value.and_then(|v| v.as_bool()).unwrap_or(false),
                    placeholder: placeholder.unwrap_or_else(|| {
                        if input == FieldInput::Lines {
                            "key=value".into()
                        } else {
                            String::new()
                        }
                    }),
                    min,
                    max,
                    choices,
                }
            })
            .collect();
        CardView {
            provider: id.provider,
            number: id.number,
            preflight_failed: cards.preflights.failure(id),
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
            placeholders: crate::placeholders::names(&slot.prompt),
            instruction: hints.instruction,
            options,
            fallbacks: (0..MAX_FALLBACKS)
                .map(|i| cards.picker(id, slot.fallbacks.get(i).copied()))
                .collect(),
            fallback_after_secs: slot.fallback_after_secs,
            people_checks: people_choices(t, slot),
            reference_url: slot
                .reference
                .as_ref()
                .map(|name| format!("/admin/references/{}/{}?v={name}", id.provider, id.number)),
            survey_url: survey_url(&upload_url, &slot.prompt),
            upload_url,
            label: id.label(),
            not_ready: slot.check_ready().err().map(|reason| match reason {
                SlotUnavailable::Disabled => t.not_ready_disabled,
                SlotUnavailable::MissingReference => t.not_ready_reference,
                SlotUnavailable::MissingPrompt => t.not_ready_prompt,
            }),
            errors: Vec::new(),
            saved: false,
            folded: false,
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Whether any provider option was refused, so its section opens.
    pub fn options_have_errors(&self) -> bool {
        self.options.iter().any(|o| self.error(o.key).is_some())
    }

    pub fn with_errors(mut self, errors: Vec<(&'static str, String)>) -> CardView {
        self.errors = errors;
        self
    }
}

/// `{url}?style=%survey1%&size=%survey2%`: one DSLR Remote Pro survey token per placeholder.
fn survey_url(url: &str, prompt: &str) -> Option<String> {
    let names = crate::placeholders::names(prompt);
    let tokens: Vec<String> = (1..)
        .zip(&names)
        .map(|(i, name)| format!("{name}=%survey{i}%"))
        .collect();
    (!tokens.is_empty()).then(|| format!("{url}?{}", tokens.join("&")))
}

/// The people rule's choices: blank for the type's own (named), then each rule.
fn people_choices(t: &Strings, slot: &Slot) -> Vec<Choice> {
    let default = PeopleRule::default_for(slot.kind);
    let own = Choice {
        value: String::new(),
        label: format!("{} ({})", t.people_default, t.people_rule(default)),
        selected: slot.people_check.is_none(),
    };
    let rules = PeopleRule::ALL.into_iter().map(|rule| Choice {
        value: rule.as_str().into(),
        label: t.people_rule(rule).into(),
        selected: slot.people_check == Some(rule),
    });
    std::iter::once(own).chain(rules).collect()
}
