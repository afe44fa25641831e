//! Changing a slot, shared by the card form and the JSON API: one set of rules for both.

use super::i18n::{Lang, Strings};
use crate::AppState;
use crate::domain::{ImageFormat, Kind, MAX_FALLBACKS, Slot, SlotId};
use crate::error::AppError;
use crate::imaging;
use crate::providers::options::{self, OptionInput};
use crate::providers::registry;

const MAX_NAME: usize = 80;
const MAX_PROMPT: usize = 4000;
const MAX_OPTIONS_JSON: usize = 16 * 1024;
pub const MAX_REFERENCE_BYTES: usize = 20 * 1024 * 1024;

/// The writable fields of a slot; a field left out keeps its value.
#[derive(Default, Debug)]
pub struct SlotEdit {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub kind: Option<String>,
    pub prompt: Option<String>,
    pub options: Option<serde_json::Value>,
    /// Slot ids `provider/number`.
    pub fallbacks: Option<Vec<String>>,
    pub fallback_after_secs: Option<i64>,
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
}

/// The JSON type a field must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    Text,
    Switch,
    Object,
    List,
    Number,
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
            Problem::WrongType(Expected::Text) => t.err_expected_text.to_owned(),
            Problem::WrongType(Expected::Switch) | Problem::Option(OptionInput::Switch) => {
                t.err_expected_switch.to_owned()
            }
            Problem::WrongType(Expected::Object) => t.err_expected_object.to_owned(),
            Problem::WrongType(Expected::List) => t.err_expected_list.to_owned(),
            Problem::WrongType(Expected::Number) | Problem::OutOfRange(_) => {
                let max = match self.problem {
                    Problem::OutOfRange(max) => max,
                    _ => i64::MAX,
                };
                t.integer_error(0, max)
            }
            Problem::UnknownSlot => t.err_unknown_slot.to_owned(),
            Problem::OwnFallback => t.err_own_fallback.to_owned(),
            Problem::RepeatedFallback => t.err_repeated_fallback.to_owned(),
            Problem::TooManyFallbacks => t.err_too_many_fallbacks.to_owned(),
            Problem::Option(OptionInput::Name { .. }) => t.err_option_name.to_owned(),
            Problem::Option(OptionInput::KeyValueLines) => t.err_option_lines.to_owned(),
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
    /// Reads the writable fields of a slot JSON object; read-only fields are ignored.
    pub fn from_json(value: &serde_json::Value) -> Result<SlotEdit, FieldError> {
        let object = value.as_object().ok_or(FieldError {
            field: "body",
            problem: Problem::WrongType(Expected::Object),
        })?;
        let text = |field: &'static str| -> Result<Option<String>, FieldError> {
            match object.get(field) {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(FieldError {
                    field,
                    problem: Problem::WrongType(Expected::Text),
                }),
            }
        };
        let enabled = match object.get("enabled") {
            None => None,
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(FieldError {
                    field: "enabled",
                    problem: Problem::WrongType(Expected::Switch),
                });
            }
        };
        let fallbacks = match object.get("fallbacks") {
            None => None,
            Some(serde_json::Value::Array(ids)) => Some(
                ids.iter()
                    .map(|id| id.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(FieldError {
                        field: "fallbacks",
                        problem: Problem::WrongType(Expected::List),
                    })?,
            ),
            Some(_) => {
                return Err(FieldError {
                    field: "fallbacks",
                    problem: Problem::WrongType(Expected::List),
                });
            }
        };
        let fallback_after_secs = match object.get("fallback_after_secs") {
            None => None,
            Some(v) => Some(v.as_i64().ok_or(FieldError {
                field: "fallback_after_secs",
                problem: Problem::WrongType(Expected::Number),
            })?),
        };
        Ok(SlotEdit {
            name: text("name")?,
            enabled,
            kind: text("kind")?,
            prompt: text("prompt")?,
            options: object.get("options").cloned(),
            fallbacks,
            fallback_after_secs,
        })
    }

    /// The slot with this edit applied, or every field that is wrong. A fallback may wait at
    /// most the deadline.
    pub fn apply(self, slot: &Slot, deadline_secs: u32) -> Result<Slot, Vec<FieldError>> {
        let mut next = slot.clone();
        let mut errors = Vec::new();
        let mut check_len = |field: &'static str, value: &str, max: usize| {
            if value.chars().count() > max {
                errors.push(FieldError {
                    field,
                    problem: Problem::TooLong(max),
                });
            }
        };
        if let Some(name) = self.name {
            check_len("name", &name, MAX_NAME);
            next.name = name.trim().to_owned();
        }
        if let Some(prompt) = self.prompt {
            check_len("prompt", &prompt, MAX_PROMPT);
            next.prompt = prompt.trim().to_owned();
        }
        if let Some(enabled) = self.enabled {
            next.enabled = enabled;
        }
        if let Some(kind) = self.kind {
            match Kind::parse(&kind) {
                Some(kind) => next.kind = kind,
                None => errors.push(FieldError {
                    field: "kind",
                    problem: Problem::UnknownKind,
                }),
            }
        }
        match self.options {
            None => {}
            Some(serde_json::Value::Object(options))
                if serde_json::to_string(&options).map_or(0, |s| s.len()) <= MAX_OPTIONS_JSON =>
            {
                next.options = options;
            }
            Some(serde_json::Value::Object(_)) => {
                errors.push(FieldError {
                    field: "options",
                    problem: Problem::TooLong(MAX_OPTIONS_JSON),
                });
            }
            Some(_) => errors.push(FieldError {
                field: "options",
                problem: Problem::WrongType(Expected::Object),
            }),
        }
        if let Some(ids) = self.fallbacks {
            match fallback_list(slot.id, &ids) {
                Ok(list) => next.fallbacks = list,
                Err(problem) => errors.push(FieldError {
                    field: "fallbacks",
                    problem,
                }),
            }
        }
        if let Some(secs) = self.fallback_after_secs {
            match u32::try_from(secs).ok().filter(|s| *s <= deadline_secs) {
                Some(secs) => next.fallback_after_secs = secs,
                None => errors.push(FieldError {
                    field: "fallback_after_secs",
                    problem: Problem::OutOfRange(deadline_secs.into()),
                }),
            }
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
        }
    }

    #[test]
    fn left_out_fields_keep_their_values() {
        let edit =
            SlotEdit::from_json(&serde_json::json!({"kind": "face_swap", "has_reference": true}))
                .unwrap();
        let next = edit.apply(&slot(), 50).unwrap();
        assert_eq!(next.kind, Kind::FaceSwap);
        assert_eq!(next.name, "old");
    }

    #[test]
    fn every_bad_field_is_named() {
        let edit = SlotEdit {
            kind: Some("magic".into()),
            prompt: Some("x".repeat(MAX_PROMPT + 1)),
            ..Default::default()
        };
        let fields: Vec<_> = edit
            .apply(&slot(), 50)
            .unwrap_err()
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["prompt", "kind"]);
        let wrong = SlotEdit::from_json(&serde_json::json!({"enabled": "yes"})).unwrap_err();
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
            fallbacks: Some(ids.iter().map(|s| s.to_string()).collect()),
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
            fallback_after_secs: Some(51),
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
            options: Some(options),
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
