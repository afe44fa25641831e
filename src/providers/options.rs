//! The options a provider reads from a slot, described once: the JSON key, the card's field and
//! its label, and the rule a value must follow. The admin builds the card's fields, reads its
//! form and checks the JSON API's values from these descriptions alone.

use serde_json::{Map, Value};

/// How an option is typed on the card, and the rule its value follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionInput {
    /// A single word: latin letters, digits and `_`, at most this long.
    Name { max_len: usize },
    /// `key=value` lines.
    KeyValueLines,
    /// A whole number in a range.
    Number { min: i64, max: i64 },
    /// On or off.
    Switch,
    /// One of these words; blank leaves the provider's own default.
    Choice(&'static [&'static str]),
}

/// The card's label of an option; the admin's i18n table says it in each language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionLabel {
    TurbotextMethod,
    TurbotextExtraFields,
    TurbotextStrength,
    TurbotextFaceRestore,
    RawPrompt,
    ImagesQuality,
    ThinkingLevel,
}

/// One option of a provider's slots.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The key in the slot's `options` object, and the card form's field name.
    pub key: &'static str,
    pub label: OptionLabel,
    pub input: OptionInput,
}

/// Why an option's value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionError {
    pub key: &'static str,
    pub input: OptionInput,
}

impl OptionInput {
    /// Whether a JSON value follows this input's rule; `null` means "not set".
    fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (OptionInput::Name { max_len }, Value::String(s)) => {
                s.len() <= max_len && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            (OptionInput::KeyValueLines, Value::String(s)) => {
                s.lines().all(|l| l.trim().is_empty() || l.contains('='))
            }
            (OptionInput::Number { min, max }, v) => {
                v.as_i64().is_some_and(|n| (min..=max).contains(&n))
            }
            (OptionInput::Switch, v) => v.is_boolean(),
            (OptionInput::Choice(words), Value::String(s)) => words.contains(&s.as_str()),
            _ => false,
        }
    }

    /// The JSON value of what was typed in the card's field (`None` for a checkbox left off);
    /// a blank text removes the option.
    pub fn from_form(self, typed: Option<&str>) -> Option<Value> {
        match self {
            OptionInput::Switch => Some(Value::Bool(typed.is_some())),
            _ => {
                let text = typed.map(str::trim).filter(|t| !t.is_empty())?;
                match self {
                    // A number stays a number; anything else is kept as text for the rule to refuse.
                    OptionInput::Number { .. } => Some(
                        text.parse::<i64>()
                            .map_or_else(|_| Value::from(text), Value::from),
                    ),
                    _ => Some(Value::from(text)),
                }
            }
        }
    }

    /// The value as the card's field shows it.
    pub fn display(self, value: Option<&Value>) -> String {
        match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// Every option of `specs` whose value breaks its rule.
pub fn check(specs: &[OptionSpec], options: &Map<String, Value>) -> Vec<OptionError> {
    specs
        .iter()
        .filter(|spec| {
            options
                .get(spec.key)
                .is_some_and(|v| !spec.input.accepts(v))
        })
        .map(|spec| OptionError {
            key: spec.key,
            input: spec.input,
        })
        .collect()
}

/// A text option, trimmed; `None` when unset or blank.
pub fn text<'a>(options: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    options
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A switch option; off when unset.
pub fn switch(options: &Map<String, Value>, key: &str) -> bool {
    options.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// What the card shows of a provider's handling of a kind, beside its option fields.
pub struct CardHints {
    /// The instruction the model will get, for providers that wrap the prompt in a template.
    pub instruction: Option<String>,
    /// The placeholder of an option field when it is left empty (Turbotext's default method).
    pub defaults: Vec<(&'static str, String)>,
}

impl CardHints {
    pub fn none() -> CardHints {
        CardHints {
            instruction: None,
            defaults: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: [OptionSpec; 3] = [
        OptionSpec {
            key: "method",
            label: OptionLabel::TurbotextMethod,
            input: OptionInput::Name { max_len: 64 },
        },
        OptionSpec {
            key: "strength",
            label: OptionLabel::TurbotextStrength,
            input: OptionInput::Number { min: 0, max: 80 },
        },
        OptionSpec {
            key: "raw",
            label: OptionLabel::RawPrompt,
            input: OptionInput::Switch,
        },
    ];

    #[test]
    fn each_rule_refuses_what_breaks_it() {
        let good = json!({"method": "replace_object", "strength": 40, "raw": true, "other": 1});
        assert!(check(&SPECS, good.as_object().unwrap()).is_empty());
        let bad = json!({"method": "../x", "strength": 81, "raw": "yes"});
        let keys: Vec<_> = check(&SPECS, bad.as_object().unwrap())
            .iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, ["method", "strength", "raw"]);
    }

    #[test]
    fn form_values_become_json() {
        let number = OptionInput::Number { min: 0, max: 80 };
        assert_eq!(number.from_form(Some(" 40 ")), Some(json!(40)));
        assert_eq!(number.from_form(Some("lots")), Some(json!("lots")));
        assert_eq!(number.from_form(Some("  ")), None);
        assert_eq!(OptionInput::Switch.from_form(None), Some(json!(false)));
        assert_eq!(OptionInput::Switch.from_form(Some("on")), Some(json!(true)));
    }
}
