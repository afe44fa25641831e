//! Prompt placeholders: `{name}` or `{name|default}` in a slot's prompt, filled from the booth's
//! values (the upload URL's query string first, then the form's text fields). `{{` and `}}`
//! write literal braces. A value is inserted as text: braces in it are never read again.

use std::collections::BTreeSet;

/// What a booth sent that a prompt may name: the upload URL's query string, then the form's
/// text fields (the password is never among them).
#[derive(Clone, Debug, Default)]
pub struct BoothValues {
    query: Vec<(String, String)>,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl BoothValues {
    pub fn new(
        query: Vec<(String, String)>,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> BoothValues {
        BoothValues { query, fields }
    }

    /// The form's text fields, as stored with the job.
    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.fields
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let from_query = self.query.iter().find(|(key, _)| key == name);
        match from_query {
            Some((_, value)) => Some(value.clone()),
            None => self.fields.get(name)?.as_str().map(str::to_owned),
        }
    }

    /// The prompt with this booth's values in its placeholders.
    pub fn fill(&self, template: &str) -> String {
        fill(template, |name| self.get(name))
    }
}

/// Longest value taken from the booth, in characters.
pub const MAX_VALUE_CHARS: usize = 200;
/// Longest placeholder name; anything longer is left as written.
const MAX_NAME_CHARS: usize = 64;

/// One piece of a prompt template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Placeholder {
        name: &'a str,
        default: Option<&'a str>,
    },
}

/// Splits a template into text and placeholders. A `{` that does not open a well-formed
/// placeholder is kept as written.
fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let tail = &rest[at..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            pieces.push(Piece::Brace(tail.as_bytes()[0] as char));
            rest = &tail[2..];
            continue;
        }
        match tail.starts_with('{').then(|| placeholder(tail)).flatten() {
            Some((piece, len)) => {
                pieces.push(piece);
                rest = &tail[len..];
            }
            None => {
                pieces.push(Piece::Text(&tail[..1]));
                rest = &tail[1..];
            }
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

/// A placeholder at the start of `tail` (which starts with `{`), and its length.
fn placeholder(tail: &str) -> Option<(Piece<'_>, usize)> {
    let end = tail.find('}')?;
    let inner = &tail[1..end];
    let (name, default) = match inner.split_once('|') {
        Some((name, default)) => (name.trim(), Some(default)),
        None => (inner.trim(), None),
    };
    let well_formed = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !default.is_some_and(|d| d.contains('{'));
    well_formed.then_some((Piece::Placeholder { name, default }, end + 1))
}

/// The names a prompt's placeholders use, each once, in order of name.
pub fn names(template: &str) -> Vec<String> {
    let names: BTreeSet<&str> = pieces(template)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Placeholder { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    names.into_iter().map(str::to_owned).collect()
}

/// Fills a prompt's placeholders with the booth's values; an unknown name without a default
/// becomes empty.
pub fn fill(template: &str, value_of: impl Fn(&str) -> Option<String>) -> String {
    let mut prompt = String::with_capacity(template.len());
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => prompt.push_str(text),
            Piece::Brace(brace) => prompt.push(brace),
            Piece::Placeholder { name, default } => {
                let value = value_of(name)
                    .map(|v| clean(&v))
                    .filter(|v| !v.is_empty() || default.is_none())
                    .or_else(|| default.map(clean))
                    .unwrap_or_default();
                prompt.push_str(&value);
            }
        }
    }
    prompt
}

/// A booth's value as it may enter a prompt: control and invisible characters removed, at most
/// [`MAX_VALUE_CHARS`] characters, no surrounding spaces.
pub fn clean(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .take(MAX_VALUE_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Characters that change how text around them reads without showing themselves: bidi
/// overrides, embeddings and isolates, directional marks, zero-width spaces and joiners.
/// A booth value carrying them could make a prompt or a History row say something other
/// than it seems to.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// A booth's text field as it is kept with the job: invisible characters removed.
pub fn strip_invisible(value: &str) -> String {
    value.chars().filter(|c| !is_invisible(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> Option<String> {
        match name {
            "style" => Some("superhero".into()),
            "empty" => Some(String::new()),
            "sneaky" => Some("{style} \u{7}bell\nnew line".into()),
            "long" => Some("я".repeat(300)),
            _ => None,
        }
    }

    #[test]
    fn fills_names_and_defaults() {
        assert_eq!(fill("as a {style}", values), "as a superhero");
        assert_eq!(fill("as a { style }", values), "as a superhero");
        assert_eq!(fill("as a {hat|pirate}", values), "as a pirate");
        assert_eq!(fill("as a {empty|pirate}", values), "as a pirate");
        assert_eq!(fill("as a {unknown}!", values), "as a !");
        assert_eq!(fill("{style|x}/{style}", values), "superhero/superhero");
    }

    #[test]
    fn values_cannot_add_placeholders_or_control_characters() {
        assert_eq!(fill("[{sneaky}]", values), "[{style} bellnew line]");
        assert_eq!(fill("{long}", values).chars().count(), MAX_VALUE_CHARS);
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_removed() {
        let values = |_: &str| Some("evil\u{202E}txt.exe\u{200B} ok\u{2066}".to_owned());
        assert_eq!(fill("{x}", values), "eviltxt.exe ok");
        assert_eq!(strip_invisible("a\u{FEFF}b\u{200D}c"), "abc");
        assert_eq!(strip_invisible("Привет, мир"), "Привет, мир");
    }

    #[test]
    fn double_braces_are_literal_and_stray_ones_kept() {
        assert_eq!(fill("{{style}} {style}", values), "{style} superhero");
        assert_eq!(
            fill("a } b { c {not a name!}", values),
            "a } b { c {not a name!}"
        );
        assert_eq!(fill("{", values), "{");
        assert_eq!(fill("json: {\"a\": 1}", values), "json: {\"a\": 1}");
    }

    #[test]
    fn the_query_string_comes_before_the_form() {
        let fields = serde_json::json!({"style": "from the form", "name": "BOOTH-1", "n": 3});
        let values = BoothValues::new(
            vec![("style".into(), "from the URL".into())],
            fields.as_object().unwrap().clone(),
        );
        assert_eq!(
            values.fill("{style} {name} {n|none}"),
            "from the URL BOOTH-1 none"
        );
    }

    #[test]
    fn lists_the_names_used() {
        assert_eq!(
            names("{style} and {hat|cap} and {{literal}} and {style}"),
            vec!["hat".to_owned(), "style".to_owned()]
        );
        assert!(names("no placeholders {{ here }}").is_empty());
    }
}
