//! Turbotext: face swap, mix photo and image-to-image through its queue API. Its inputs are
//! public URLs only. Wire format: https://www.turbotext.ru/photo_ai/docs/info

use super::options::{self, CardHints, OptionInput, OptionLabel, OptionSpec};
use super::registry::key;
use super::{
    Http, ImageModel, ModelFuture, ModelRequest, ProviderError, read_answer, request_failed,
};
use crate::config::Settings;
use crate::domain::{ImageFormat, Kind};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub struct Turbotext {
    http: Http,
    base_url: String,
    api_key: String,
    poll: Duration,
}

/// The Turbotext tab's client under these settings.
pub fn build(settings: &Settings, http: &Http) -> Result<Arc<dyn ImageModel>, String> {
    Ok(Arc::new(client(settings, http)?))
}

fn client(settings: &Settings, http: &Http) -> Result<Turbotext, String> {
    let config = &settings.turbotext;
    Ok(Turbotext::new(
        http.clone(),
        &config.base_url,
        key(&config.api_key, "Turbotext")?,
        config.poll,
    ))
}

/// The API methods the key may call: name and description.
pub async fn methods(http: &Http, settings: &Settings) -> Result<Vec<(String, String)>, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    available_methods(&client(settings, http)?, deadline)
        .await
        .map_err(|e| e.to_string())
}

/// Where a queued job stands.
enum Poll {
    Pending,
    Done(Value),
}

impl Turbotext {
    pub fn new(http: Http, base_url: &str, api_key: &str, poll: Duration) -> Turbotext {
        Turbotext {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            poll,
        }
    }

    /// One form POST to `{base}/{method}`; the answer is JSON whatever its Content-Type says.
    async fn post(
        &self,
        method: &str,
        form: &[(String, String)],
        deadline: Instant,
    ) -> Result<Value, ProviderError> {
        let time_left = deadline.saturating_duration_since(Instant::now());
        let response = self
            .http
            .api
            .post(format!("{}/{method}", self.base_url))
            .bearer_auth(&self.api_key)
            .timeout(time_left)
            .form(form)
            .send()
            .await
            .map_err(|e| request_failed(e, deadline))?;
        let status = response.status();
        let body = read_answer(response, deadline).await?;
        match status.as_u16() {
            401 | 403 => {
                return Err(ProviderError::BadConfig(format!(
                    "Turbotext refused the API key (HTTP {status})"
                )));
            }
            404 => {
                return Err(ProviderError::BadConfig(format!(
                    "Turbotext has no method '{method}' (HTTP 404)"
                )));
            }
            429 | 500..=599 => {
                return Err(ProviderError::Transient(format!("Turbotext HTTP {status}")));
            }
            _ => {}
        }
        serde_json::from_slice(&body)
            .ok()
            .or_else(|| salvage(&String::from_utf8_lossy(&body)))
            .ok_or_else(|| {
                let snippet: String = String::from_utf8_lossy(&body).chars().take(120).collect();
                ProviderError::Protocol(format!(
                    "Turbotext answered HTTP {status} with no JSON: {snippet}"
                ))
            })
    }

    /// `create_queue`, then `get_result` every poll interval until done, failed or the deadline.
    /// The creation is never repeated: each one is billed.
    pub async fn run_queue(
        &self,
        method: &str,
        fields: &[(String, String)],
        deadline: Instant,
    ) -> Result<Value, ProviderError> {
        let mut form = vec![("do".to_owned(), "create_queue".to_owned())];
        form.extend_from_slice(fields);
        let created = self.post(method, &form, deadline).await?;
        let queue = queue_id(&created).ok_or_else(|| failure(&created))?;
        let poll_form = vec![
            ("do".to_owned(), "get_result".to_owned()),
            ("queueid".to_owned(), queue),
        ];
        loop {
            if Instant::now() + self.poll >= deadline {
                return Err(ProviderError::OutOfTime);
            }
            tokio::time::sleep(self.poll).await;
            match self.post(method, &poll_form, deadline).await {
                Ok(answer) => match classify(&answer)? {
                    Poll::Pending => continue,
                    Poll::Done(answer) => return Ok(answer),
                },
                // A lost poll costs nothing: ask again.
                Err(ProviderError::Transient(e)) => {
                    tracing::info!(error = %e, "Turbotext poll failed; polling again")
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Resolves a result link: absolute, or relative to Turbotext's own host.
    fn result_url(&self, answer: &Value) -> Option<String> {
        let link = [
            &answer["uploaded_image"],
            &answer["data"]["uploaded_image"],
            &answer["data"]["image"][0],
        ]
        .into_iter()
        .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))?;
        if link.starts_with("http://") || link.starts_with("https://") {
            return Some(link.to_owned());
        }
        Some(format!(
            "{}/{}",
            self.origin(),
            link.trim_start_matches('/')
        ))
    }

    /// `scheme://host[:port]` of the base URL.
    fn origin(&self) -> &str {
        let after_scheme = self.base_url.find("://").map_or(0, |i| i + 3);
        let end = self.base_url[after_scheme..]
            .find('/')
            .map_or(self.base_url.len(), |i| after_scheme + i);
        &self.base_url[..end]
    }

    async fn download(&self, url: &str, deadline: Instant) -> Result<Vec<u8>, ProviderError> {
        // The key goes only to Turbotext itself, never to a host a result link names.
        let request = if url.starts_with(&format!("{}/", self.origin())) {
            self.http.api.get(url).bearer_auth(&self.api_key)
        } else {
            self.http.files.get(url)
        };
        let request = request.timeout(deadline.saturating_duration_since(Instant::now()));
        let response = request
            .send()
            .await
            .map_err(|e| request_failed(e, deadline))?;
        if !response.status().is_success() {
            return Err(ProviderError::Transient(format!(
                "the result download answered HTTP {}",
                response.status()
            )));
        }
        let bytes = read_answer(response, deadline).await?;
        ImageFormat::sniff(&bytes)
            .map(|_| bytes)
            .ok_or_else(|| ProviderError::Protocol("Turbotext's result is not an image".into()))
    }
}

/// The fields this client reads, picked out of an answer that is not valid JSON (Turbotext's
/// documented answers carry typos such as a stray `]`).
fn salvage(text: &str) -> Option<Value> {
    let mut found = serde_json::Map::new();
    for key in [
        "success",
        "action",
        "queueid",
        "asyncid",
        "error",
        "uploaded_image",
    ] {
        let Some(at) = text.find(&format!("\"{key}\"")) else {
            continue;
        };
        let rest = text[at + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            Value::String(quoted.split('"').next()?.replace("\\/", "/"))
        } else {
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            serde_json::from_str(&token).ok()?
        };
        found.insert(key.to_owned(), value);
    }
    if text.contains("available_api") {
        found.insert("available_api".into(), Value::Array(listed_methods(text)));
    }
    (!found.is_empty()).then_some(Value::Object(found))
}

/// The `{name, description}` entries of a method list written with Python's quotes, as the
/// documented answer is (`[{'name': 'clickbait', 'description': "…"}]`).
fn listed_methods(text: &str) -> Vec<Value> {
    let value_after = |rest: &str, key: &str| -> Option<String> {
        let at = rest
            .find(&format!("'{key}'"))
            .or_else(|| rest.find(&format!("\"{key}\"")))?;
        let rest = rest[at + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        Some(rest[1..].split(quote).next()?.to_owned())
    };
    text.split('{')
        .filter_map(|entry| {
            let name = value_after(entry, "name")?;
            let description = value_after(entry, "description").unwrap_or_default();
            Some(serde_json::json!({"name": name, "description": description}))
        })
        .collect()
}

fn queue_id(answer: &Value) -> Option<String> {
    if answer["success"].as_bool() != Some(true) {
        return None;
    }
    [&answer["queueid"], &answer["asyncid"]]
        .into_iter()
        .find_map(|id| match id {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
}

/// Pending before success: a not-ready answer may also say `success: false`.
fn classify(answer: &Value) -> Result<Poll, ProviderError> {
    if answer["action"].as_str() == Some("reconnect") {
        return Ok(Poll::Pending);
    }
    // The method list comes without a `success` field.
    if answer["available_api"].is_array() {
        return Ok(Poll::Done(answer.clone()));
    }
    if answer["success"].as_bool() == Some(true) {
        if answer["data"]["forbidden_content"].as_bool() == Some(true) {
            return Err(ProviderError::Refused(
                "Turbotext flagged forbidden content".into(),
            ));
        }
        return Ok(Poll::Done(answer.clone()));
    }
    Err(failure(answer))
}

fn failure(answer: &Value) -> ProviderError {
    match answer["error"].as_str().filter(|e| !e.is_empty()) {
        Some(error) => error_value(error),
        None => {
            let snippet: String = answer.to_string().chars().take(160).collect();
            ProviderError::Protocol(format!("unexpected Turbotext answer: {snippet}"))
        }
    }
}

/// Words of Turbotext's answers (English codes and Russian messages) that say the account has
/// no balance or its limit is spent.
const NO_CREDIT: [&str; 7] = [
    "balance",
    "баланс",
    "недостаточно",
    "средств",
    "пополните",
    "лимит",
    "limit",
];

/// Turbotext's codes for a photo it cannot work with.
const PHOTO_PROBLEMS: [&str; 4] = ["face_not_detected", "quality_limit", "forbidden", "nsfw"];

/// What Turbotext's `error` value means for the booth and the operator; a value it does not
/// know keeps Turbotext's own words.
fn error_value(error: &str) -> ProviderError {
    let lower = error.to_lowercase();
    if PHOTO_PROBLEMS.iter().any(|p| lower.contains(p)) {
        ProviderError::Refused(format!("Turbotext: {error}"))
    } else if NO_CREDIT.iter().any(|w| lower.contains(w)) {
        ProviderError::NoCredit(format!("Turbotext: {error}"))
    } else if lower.contains("url") {
        ProviderError::BadConfig(format!(
            "Turbotext could not fetch the photo from this server ({error}): check that the \
             public URL in Settings is reachable from the internet"
        ))
    } else if lower.contains("param") {
        ProviderError::BadConfig(format!(
            "Turbotext refused the request's fields ({error}): check the slot's method and \
             extra fields"
        ))
    } else if lower.contains("busy") {
        ProviderError::Transient(format!("Turbotext: {error}"))
    } else {
        ProviderError::Unrecognised(format!("Turbotext: {error}"))
    }
}

/// The options a Turbotext slot reads.
pub const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        key: "method",
        label: OptionLabel::TurbotextMethod,
        input: OptionInput::Name { max_len: 64 },
    },
    OptionSpec {
        key: "extra_fields",
        label: OptionLabel::TurbotextExtraFields,
        input: OptionInput::KeyValueLines,
    },
    OptionSpec {
        key: "strength",
        label: OptionLabel::TurbotextStrength,
        input: OptionInput::Number { min: 0, max: 80 },
    },
    OptionSpec {
        key: "face_restore",
        label: OptionLabel::TurbotextFaceRestore,
        input: OptionInput::Switch,
    },
];

/// A Turbotext slot's options, read from its `options` object.
struct SlotOptions {
    /// Another API method than the kind's (object replacement, or any method added later).
    method: Option<String>,
    extra_fields: Vec<(String, String)>,
    strength: Option<i64>,
    face_restore: bool,
}

impl SlotOptions {
    fn read(options: &serde_json::Map<String, Value>) -> SlotOptions {
        SlotOptions {
            method: options::text(options, "method").map(str::to_owned),
            extra_fields: options::text(options, "extra_fields")
                .map(key_value_lines)
                .unwrap_or_default(),
            strength: options.get("strength").and_then(Value::as_i64),
            face_restore: options::switch(options, "face_restore"),
        }
    }

    /// The method the slot calls for its kind.
    fn method(&self, kind: Kind) -> String {
        self.method
            .clone()
            .unwrap_or_else(|| default_method(kind).to_owned())
    }
}

fn default_method(kind: Kind) -> &'static str {
    match kind {
        Kind::FaceSwap => "deepfake_photo",
        Kind::Background => "mix_images",
        Kind::Prompt => "generate_image2image",
    }
}

/// The card shows the method a kind uses when the slot names none.
pub fn card_hints(
    kind: Kind,
    _prompt: &str,
    _options: &serde_json::Map<String, Value>,
) -> CardHints {
    CardHints {
        defaults: vec![("method", default_method(kind).to_owned())],
        ..CardHints::none()
    }
}

/// `key=value` lines of a slot's extra form fields.
fn key_value_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// The form fields of a job. Mind the role trap: `url_image_target` is the guest in
/// `mix_images` but the face donor (also the guest) in `deepfake_photo`, where `url` is the
/// template whose face is replaced.
fn fields_for(
    request: &ModelRequest,
    options: SlotOptions,
) -> Result<Vec<(String, String)>, ProviderError> {
    let link = |url: &Option<String>| {
        url.clone()
            .ok_or_else(|| ProviderError::BadConfig("no public link to the photo".into()))
    };
    let guest = link(&request.photo.url)?;
    let reference = match &request.reference {
        Some(r) => Some(link(&r.url)?),
        None => None,
    };
    let prompt = request.prompt.trim().to_owned();
    let mut fields: Vec<(String, String)> = match (request.kind, reference) {
        (Kind::FaceSwap, Some(template)) => {
            let restore = options.face_restore;
            vec![
                ("url".into(), template),
                ("url_image_target".into(), guest),
                (
                    "face_restore".into(),
                    if restore { "True" } else { "False" }.into(),
                ),
            ]
        }
        (Kind::Background, Some(style)) => {
            vec![("url_image_target".into(), guest), ("url".into(), style)]
        }
        _ => {
            let mut fields = vec![("url".into(), guest)];
            if let Some(strength) = options.strength {
                fields.push(("strength".into(), strength.to_string()));
            }
            fields
        }
    };
    if !prompt.is_empty() && request.kind != Kind::FaceSwap {
        fields.push(("content".into(), prompt));
    }
    for (key, value) in options.extra_fields {
        fields.retain(|(k, _)| *k != key);
        fields.push((key, value));
    }
    Ok(fields)
}

impl ImageModel for Turbotext {
    fn needs_public_links(&self) -> bool {
        true
    }

    fn generate(&self, request: ModelRequest) -> ModelFuture<'_> {
        Box::pin(async move {
            let options = SlotOptions::read(&request.options);
            let method = options.method(request.kind);
            let fields = fields_for(&request, options)?;
            let answer = self.run_queue(&method, &fields, request.deadline).await?;
            let url = self.result_url(&answer).ok_or_else(|| {
                ProviderError::Protocol("Turbotext's answer names no result image".into())
            })?;
            self.download(&url, request.deadline).await.map(Into::into)
        })
    }
}

/// Asks Turbotext which methods the key may call (`available_api`): name and description.
async fn available_methods(
    turbotext: &Turbotext,
    deadline: Instant,
) -> Result<Vec<(String, String)>, ProviderError> {
    let answer = turbotext.run_queue("available_api", &[], deadline).await?;
    let list = [&answer["available_api"], &answer["data"]["available_api"]]
        .into_iter()
        .find_map(Value::as_array)
        .ok_or_else(|| ProviderError::Protocol("no method list in Turbotext's answer".into()))?;
    Ok(list
        .iter()
        .filter_map(|m| {
            Some((
                m["name"].as_str()?.to_owned(),
                m["description"].as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queue_ids_may_be_numbers_or_strings() {
        assert_eq!(
            queue_id(&json!({"success": true, "queueid": 123456})),
            Some("123456".into())
        );
        assert_eq!(
            queue_id(&json!({"success": true, "queueid": "77"})),
            Some("77".into())
        );
        assert_eq!(
            queue_id(&json!({"success": true, "asyncid": 9_147_962_925u64})),
            Some("9147962925".into())
        );
        assert_eq!(queue_id(&json!({"success": false, "error": "LIMIT"})), None);
    }

    #[test]
    fn reconnect_wins_over_success_false() {
        assert!(matches!(
            classify(&json!({"success": false, "action": "reconnect"})),
            Ok(Poll::Pending)
        ));
        assert!(matches!(
            classify(&json!({"success": false, "error": "face_not_detected"})),
            Err(ProviderError::Refused(_))
        ));
        assert!(matches!(
            classify(&json!({"success": true, "data": {"forbidden_content": true}})),
            Err(ProviderError::Refused(_))
        ));
    }

    #[test]
    fn result_links_resolve_in_the_documented_order() {
        let t = Turbotext::new(
            Http::new(),
            "https://www.turbotext.ru/api_ai",
            "k",
            Duration::from_secs(1),
        );
        let top = json!({"success": true, "uploaded_image": "https://www.turbotext.ru/download.php?f=a.png", "data": {"image": ["x"]}});
        assert_eq!(
            t.result_url(&top).unwrap(),
            "https://www.turbotext.ru/download.php?f=a.png"
        );
        let relative = json!({"success": true, "data": {"image": ["image/generate_image2image_id12_0.png"], "seed": 5_443_937_701u64}});
        assert_eq!(
            t.result_url(&relative).unwrap(),
            "https://www.turbotext.ru/image/generate_image2image_id12_0.png"
        );
        let nested =
            json!({"success": true, "data": {"uploaded_image": "https://cdn.example/b.png"}});
        assert_eq!(t.result_url(&nested).unwrap(), "https://cdn.example/b.png");
    }

    #[test]
    fn the_documented_mix_answer_with_its_stray_bracket_is_read() {
        let printed = r#"{"success":true,"error":"","data":{"prompt":"В стиле дисней"],"width":768,"height":576,"seed":9147962925,"strength":50,"pattern_prompt":false},"uploaded_image":"https://www.turbotext.ru/download.php?f=abc.png"}"#;
        assert!(
            serde_json::from_str::<Value>(printed).is_err(),
            "really not JSON"
        );
        let answer = salvage(printed).unwrap();
        assert!(matches!(classify(&answer), Ok(Poll::Done(_))));
        let t = Turbotext::new(
            Http::new(),
            "https://www.turbotext.ru/api_ai",
            "k",
            Duration::from_secs(1),
        );
        assert_eq!(
            t.result_url(&answer).unwrap(),
            "https://www.turbotext.ru/download.php?f=abc.png"
        );
        assert_eq!(
            salvage(r#"{"success":true,"queueid":123456"#).unwrap()["queueid"],
            123456
        );
        assert!(salvage("<html>502 Bad Gateway</html>").is_none());
    }

    #[test]
    fn error_values_say_who_must_act() {
        assert!(matches!(error_value("LIMIT"), ProviderError::NoCredit(_)));
        assert!(
            matches!(error_value("url_error"), ProviderError::BadConfig(m) if m.contains("public URL"))
        );
        assert!(matches!(
            error_value("params_error"),
            ProviderError::BadConfig(_)
        ));
        assert!(matches!(
            error_value("provider_busy"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            error_value("face_not_detected"),
            ProviderError::Refused(_)
        ));
        assert!(matches!(
            error_value("quality_limit"),
            ProviderError::Refused(_)
        ));
        for russian in [
            "Недостаточно средств на балансе",
            "Пополните баланс",
            "Исчерпан лимит генераций",
        ] {
            assert!(
                matches!(error_value(russian), ProviderError::NoCredit(_)),
                "{russian}"
            );
        }
        assert_eq!(
            error_value("Метод временно отключен"),
            ProviderError::Unrecognised("Turbotext: Метод временно отключен".into())
        );
    }

    #[test]
    fn the_documented_method_list_is_read_without_a_success_field() {
        let printed = r#"{"available_api": [{'name': 'clickbait', 'description': "Заголовки"}, {'name': 'replace_object', 'description': 'Замена объекта'}]}"#;
        let answer = salvage(printed).unwrap();
        let Ok(Poll::Done(done)) = classify(&answer) else {
            panic!("a method list is a finished answer");
        };
        assert_eq!(done["available_api"][1]["name"], "replace_object");
        assert_eq!(done["available_api"][0]["description"], "Заголовки");
    }

    #[test]
    fn extra_fields_are_key_value_lines() {
        let options = json!({"extra_fields": "mask = auto\n\nbroken line\nstrength=70"});
        let fields = SlotOptions::read(options.as_object().unwrap()).extra_fields;
        assert_eq!(
            fields,
            vec![
                ("mask".into(), "auto".into()),
                ("strength".into(), "70".into())
            ]
        );
    }
}
