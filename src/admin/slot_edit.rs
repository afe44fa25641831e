//! Changing a slot, shared by the card form and the JSON API: one set of rules for both.

use super::i18n::{Lang, Strings};
use crate::AppState;
use crate::checks::PeopleRule;
use crate::domain::{ImageFormat, Kind, MAX_FALLBACKS, Slot, SlotId};
use crate::error::AppError;
use crate::imaging;
use crate::providers::options::{self, OptionInput};
use crate::providers::registry;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::{Map, Value};

const MAX_NAME: usize = 80;
const MAX_PROMPT: usize = 4000;
const MAX_OPTIONS_JSON: usize = 16 * 1024;
pub const MAX_REFERENCE_BYTES: usize = 20 * 1024 * 1024;

/// The writable fields of a slot, as the JSON API and the card's form send them; a field left
/// out keeps its value, read-only fields are ignored.
#[derive(Default, Debug, Deserialize)]
#[serde(default)]
pub struct SlotEdit {
    pub name: Field<String>,
    pub enabled: Field<bool>,
    pub kind: Field<Kind>,
    pub prompt: Field<String>,
    pub options: Field<Map<String, Value>>,
    /// Slot ids `provider/number`, checked with the slot's own.
    pub fallbacks: Field<Vec<String>>,
    pub fallback_after_secs: Field<u32>,
    /// `null` follows the slot's type.
    pub people_check: Field<Option<PeopleRule>>,
}

/// One field of an edit: left out, a value of its type, or a value that is not (named in the
/// answer with the field's own rule, rather than refusing the whole body).
#[derive(Debug, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Set(T),
    Invalid,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Field<T>, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(T::deserialize(value).map_or(Field::Invalid, Field::Set))
    }
}

impl<T> Field<T> {
    /// A value typed on a form: set when it reads, invalid when it does not.
    pub fn parsed(value: Option<T>) -> Field<T> {
        value.map_or(Field::Invalid, Field::Set)
    }

    /// The value, `None` when left out; `problem` noted when it was not of the field's type.
    fn given(
        self,
        field: &'static str,
        problem: Problem,
        errors: &mut Vec<FieldError>,
    ) -> Option<T> {
        match self {
            Field::Absent => None,
            Field::Set(value) => Some(value),
            Field::Invalid => {
                errors.push(FieldError { field, problem });
                None
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    TooLong(usize),
    UnknownKind,
    WrongType(Expected),
    /// A provider option that breaks its rule.
    Option(OptionInput),
    UnknownSlot,
    OwnFallback,
    RepeatedFallback,
    TooManyFallbacks,
    /// A whole number outside `0..=max`.
    OutOfRange(i64),
    UnknownPeopleRule,
}

/// The JSON type a field must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    Text,
    Switch,
    Object,
    List,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub problem: Problem,
}

impl FieldError {
    /// What is wrong, in the page's language.
    pub fn message(&self, t: &Strings) -> String {
        match self.problem {
            Problem::TooLong(max) => format!("{} (≤ {max})", t.err_too_long),
            Problem::UnknownKind => t.err_unknown_kind.to_owned(),
            Problem::UnknownPeopleRule => {
                let words: Vec<&str> = PeopleRule::ALL.iter().map(|r| r.as_str()).collect();
                format!("{}: {}", t.err_option_choice, words.join(", "))
            }
            Problem::WrongType(Expected::Text) => t.err_expected_text.to_owned(),
            Problem::WrongType(Expected::Switch) | Problem::Option(OptionInput::Switch) => {
                t.err_expected_switch.to_owned()
            }
            Problem::WrongType(Expected::Object) => t.err_expected_object.to_owned(),
            Problem::WrongType(Expected::List) => t.err_expected_list.to_owned(),
            Problem::OutOfRange(max) => t.integer_error(0, max),
            Problem::UnknownSlot => t.err_unknown_slot.to_owned(),
            Problem::OwnFallback => t.err_own_fallback.to_owned(),
            Problem::RepeatedFallback => t.err_repeated_fallback.to_owned(),
            Problem::TooManyFallbacks => t.err_too_many_fallbacks.to_owned(),
            Problem::Option(OptionInput::Name { .. }) => t.err_option_name.to_owned(),
            Problem::Option(OptionInput::KeyValueLines) => t.err_option_lines.to_owned(),
            Problem::Option(OptionInput::Choice(words)) => {
                format!("{}: {}", t.err_option_choice, words.join(", "))
            }
            Problem::Option(OptionInput::Number { min, max }) => t.integer_error(min, max),
        }
    }
}

impl From<FieldError> for AppError {
    /// The JSON API speaks English to scripts.
    fn from(e: FieldError) -> AppError {
        AppError::validation(e.field, e.message(Lang::En.strings()))
    }
}

impl SlotEdit {
    /// The slot with this edit applied, or every field that is wrong. A fallback may wait at
    /// most the deadline.
    pub fn apply(self, slot: &Slot, deadline_secs: u32) -> Result<Slot, Vec<FieldError>> {
        let mut next = slot.clone();
        let mut errors = Vec::new();
        let e = &mut errors;
        let wrong = Problem::WrongType;
        let name = self.name.given("name", wrong(Expected::Text), e);
        let prompt = self.prompt.given("prompt", wrong(Expected::Text), e);
        let enabled = self.enabled.given("enabled", wrong(Expected::Switch), e);
        let kind = self.kind.given("kind", Problem::UnknownKind, e);
        let options = self.options.given("options", wrong(Expected::Object), e);
        let fallbacks = self.fallbacks.given("fallbacks", wrong(Expected::List), e);
        let people = self
            .people_check
            .given("people_check", Problem::UnknownPeopleRule, e);
        let late = Problem::OutOfRange(deadline_secs.into());
        let after = self
            .fallback_after_secs
            .given("fallback_after_secs", late, e);
        let mut refuse = |field: &'static str, problem: Problem| {
            errors.push(FieldError { field, problem });
        };
        if let Some(name) = name {
            if name.chars().count() > MAX_NAME {
                refuse("name", Problem::TooLong(MAX_NAME));
            }
            next.name = name.trim().to_owned();
        }
        if let Some(prompt) = prompt {
            if prompt.chars().count() > MAX_PROMPT {
                refuse("prompt", Problem::TooLong(MAX_PROMPT));
            }
            next.prompt = prompt.trim().to_owned();
        }
        next.enabled = enabled.unwrap_or(next.enabled);
        next.kind = kind.unwrap_or(next.kind);
        next.people_check = people.unwrap_or(next.people_check);
        match options {
            Some(options)
                if serde_json::to_string(&options).map_or(0, |s| s.len()) > MAX_OPTIONS_JSON =>
            {
                refuse("options", Problem::TooLong(MAX_OPTIONS_JSON));
            }
            Some(options) => next.options = options,
            None => {}
        }
        if let Some(ids) = fallbacks {
            match fallback_list(slot.id, &ids) {
                Ok(list) => next.fallbacks = list,
                Err(problem) => refuse("fallbacks", problem),
            }
        }
        match after {
            Some(secs) if secs > deadline_secs => refuse("fallback_after_secs", late),
            Some(secs) => next.fallback_after_secs = secs,
            None => {}
        }
        errors.extend(
            options::check(registry::spec(next.id.provider).options, &next.options)
                .into_iter()
                .map(|e| FieldError {
                    field: e.key,
                    problem: Problem::Option(e.input),
                }),
        );
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }
}

/// A slot's fallbacks from their ids: slots that exist, not the slot itself, each once, two
/// at most.
fn fallback_list(own: SlotId, ids: &[String]) -> Result<Vec<SlotId>, Problem> {
    if ids.len() > MAX_FALLBACKS {
        return Err(Problem::TooManyFallbacks);
    }
    let mut list = Vec::new();
    for id in ids.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
        let fallback = SlotId::parse_joined(id).ok_or(Problem::UnknownSlot)?;
        if fallback == own {
            return Err(Problem::OwnFallback);
        }
        if list.contains(&fallback) {
            return Err(Problem::RepeatedFallback);
        }
        list.push(fallback);
    }
    Ok(list)
}

/// Replaces a slot's reference image after checking that it is an image this server reads.
pub async fn store_reference(state: &AppState, id: SlotId, bytes: Vec<u8>) -> Result<(), AppError> {
    if bytes.len() > MAX_REFERENCE_BYTES {
        return Err(AppError::PayloadTooLarge {
            limit_mb: MAX_REFERENCE_BYTES / (1024 * 1024),
        });
    }
    let format = ImageFormat::sniff(&bytes).ok_or(AppError::UnsupportedMediaType)?;
    let probe = bytes.clone();
    state
        .cpu
        .run(imaging::Turn::Start, move || imaging::thumbnail(&probe))
        .await
        .map_err(|e| AppError::UnreadableImage(e.to_string()))?;
    let name = state.media.save_reference(id, format, &bytes).await?;
    let previous = state.store.set_reference(id, Some(&name)).await?;
    remove_file_of(state, previous).await;
    Ok(())
}

pub async fn remove_reference(state: &AppState, id: SlotId) -> Result<(), AppError> {
    let previous = state.store.set_reference(id, None).await?;
    remove_file_of(state, previous).await;
    Ok(())
}

async fn remove_file_of(state: &AppState, previous: Option<String>) {
    if let Some(old) = previous
        && let Err(e) = state.media.remove_reference(&old).await
    {
        tracing::warn!(error = %e, file = old, "could not delete a replaced reference image");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::Provider;

    fn slot() -> Slot {
        Slot {
            id: SlotId::new(Provider::Nanobanana, 3).unwrap(),
            name: "old".into(),
            enabled: true,
            kind: Kind::Prompt,
            prompt: "p".into(),
            reference: None,
            options: Default::default(),
            fallbacks: Vec::new(),
            fallback_after_secs: 25,
            link_token: "t".into(),
            people_check: None,
        }
    }

    #[test]
    fn left_out_fields_keep_their_values() {
        let edit: SlotEdit =
            serde_json::from_value(serde_json::json!({"kind": "face_swap", "has_reference": true}))
                .unwrap();
        let next = edit.apply(&slot(), 50).unwrap();
        assert_eq!(next.kind, Kind::FaceSwap);
        assert_eq!(next.name, "old");
    }

    #[test]
    fn every_bad_field_is_named() {
        let edit: SlotEdit = serde_json::from_value(serde_json::json!({
            "kind": "magic",
            "prompt": "x".repeat(MAX_PROMPT + 1),
        }))
        .unwrap();
        let mut fields: Vec<_> = edit
            .apply(&slot(), 50)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(fields, ["kind", "prompt"]);
        let edit: SlotEdit = serde_json::from_value(serde_json::json!({"enabled": "yes"})).unwrap();
        let wrong = edit.apply(&slot(), 50).unwrap_err()[0];
        assert_eq!(wrong.field, "enabled");
        assert_eq!(wrong.message(Lang::En.strings()), "must be true or false");
        assert_eq!(
            wrong.message(Lang::Ru.strings()),
            "Нужно да или нет (true / false)"
        );
    }

    #[test]
    fn fallbacks_name_other_existing_slots_once_two_at_most() {
        let edit = |ids: &[&str]| SlotEdit {
            fallbacks: Field::Set(ids.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        let next = edit(&["deepseek/3", "turbotext/5"])
            .apply(&slot(), 50)
            .unwrap();
        assert_eq!(next.fallbacks[0].to_string(), "deepseek/3");
        for (ids, problem) in [
            (&["nanobanana/3"][..], Problem::OwnFallback),
            (&["deepseek/3", "deepseek/3"][..], Problem::RepeatedFallback),
            (&["deepseek/21"][..], Problem::UnknownSlot),
            (&["a/1", "b/2", "c/3"][..], Problem::TooManyFallbacks),
        ] {
            let errors = edit(ids).apply(&slot(), 50).unwrap_err();
            assert_eq!(errors[0].problem, problem, "{ids:?}");
            assert_eq!(errors[0].field, "fallbacks");
        }
        let late = SlotEdit {
            fallback_after_secs: Field::Set(51),
            ..Default::default()
        };
        assert_eq!(
            late.apply(&slot(), 50).unwrap_err()[0].field,
            "fallback_after_secs"
        );
    }

    #[test]
    fn turbotext_options_are_checked() {
        let mut turbotext = slot();
        turbotext.id = SlotId::new(Provider::Turbotext, 1).unwrap();
        let edit = |options: serde_json::Value| SlotEdit {
            options: Field::Set(options.as_object().unwrap().clone()),
            ..Default::default()
        };
        let ok = edit(
            serde_json::json!({"method": "replace_object", "extra_fields": "a=1\n", "strength": 40, "face_restore": true}),
        );
        assert!(ok.apply(&turbotext, 50).is_ok());
        let bad =
            edit(serde_json::json!({"method": "../x", "extra_fields": "nokey", "strength": 81}));
        let fields: Vec<_> = bad
            .apply(&turbotext, 50)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["method", "extra_fields", "strength"]);
    }
}
