//! Delivering an alert: kept first, then sent to Telegram's Bot API (`sendMessage`) and to the
//! webhook at once, each retried on a network error, a 5xx or a 429. Nothing secret is sent:
//! every key and password of the settings is masked out of the text.

use super::{Event, Raised};
use crate::AppState;
use crate::clock::{iso_time, local_time};
use crate::config::{AlertSettings, SETTINGS, Settings, ValueKind};
use serde::Serialize;
use std::time::Duration;

/// Tries per channel, and the waits between them.
const RETRY_WAITS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

/// The longest wait a 429's `retry_after` is honoured for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How an alert's delivery went on one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Sent,
    Failed,
    /// The channel is not set up.
    Off,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::Off => "off",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub telegram: Outcome,
    pub webhook: Outcome,
}

/// What the webhook receives.
#[derive(Serialize)]
struct WebhookBody<'a> {
    kind: &'static str,
    subject: &'a str,
    message: &'a str,
    /// ISO 8601, UTC.
    at: String,
}

/// Delivers every raised alert, each in its own task so that one slow channel delays no other.
pub async fn run_forever(state: AppState) {
    let Some(mut inbox) = state.alerts.take_inbox() else {
        return;
    };
    while let Some(raised) = inbox.recv().await {
        tokio::spawn(deliver(state.clone(), raised));
    }
}

/// A test alert, sent now and awaited (no ten-minute quiet).
pub async fn send_test(state: &AppState) -> Delivery {
    let raised = Raised {
        event: Event::Test,
        at_ms: state.clock.now_ms(),
    };
    deliver(state.clone(), raised).await
}

async fn deliver(state: AppState, raised: Raised) -> Delivery {
    let settings = state.settings();
    let kind = raised.event.kind().as_str();
    let subject = raised.event.subject();
    let message = text(&raised, &settings);
    let kept = state
        .store
        .insert_alert(kind, &subject, &message, raised.at_ms)
        .await;
    let body = WebhookBody {
        kind,
        subject: &subject,
        message: &message,
        at: iso_time(raised.at_ms),
    };
    let client = &state.http.api;
    let (telegram, webhook) = tokio::join!(
        to_telegram(client, &settings.alerts, &message),
        to_webhook(client, &settings.alerts, &body),
    );
    let delivery = Delivery { telegram, webhook };
    let stored = match kept {
        Ok(id) => {
            state
                .store
                .alert_delivered(id, telegram.as_str(), webhook.as_str())
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        tracing::warn!(error = %e, kind, "an alert could not be kept");
    }
    delivery
}

/// The message as sent: the server's name and the operator's local time first, in the server's
/// language, with every secret masked.
fn text(raised: &Raised, settings: &Settings) -> String {
    let t = settings.server_lang.strings();
    let time = local_time(raised.at_ms, &settings.time_zone, "%H:%M");
    let text = format!("Boothgate, {time}: {}", raised.event.message(t));
    mask_secrets(text, settings)
}

fn mask_secrets(mut text: String, settings: &Settings) -> String {
    let secrets = SETTINGS
        .iter()
        .filter(|d| d.kind == ValueKind::Secret)
        .map(|d| settings.get(d.key))
        .filter(|s| s.len() >= 4);
    for secret in secrets {
        text = text.replace(secret, "••••");
    }
    text
}

async fn to_telegram(client: &reqwest::Client, alerts: &AlertSettings, message: &str) -> Outcome {
    let Some(bot) = &alerts.telegram else {
        return Outcome::Off;
    };
    let url = format!("{}/bot{}/sendMessage", bot.base_url, bot.token);
    let body = serde_json::json!({
        "chat_id": bot.chat_id,
        "text": message,
        "link_preview_options": {"is_disabled": true},
    });
    with_retries("telegram", || client.post(&url).json(&body)).await
}

async fn to_webhook(
    client: &reqwest::Client,
    alerts: &AlertSettings,
    body: &WebhookBody<'_>,
) -> Outcome {
    let Some(url) = &alerts.webhook_url else {
        return Outcome::Off;
    };
    with_retries("webhook", || client.post(url).json(body)).await
}

/// Sends until an answer says it was taken (2xx) or refused (any other 4xx), or the tries run
/// out. Errors are logged without their URL: a bot's token is part of it.
async fn with_retries(
    channel: &'static str,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Outcome {
    let mut waits = RETRY_WAITS.iter();
    loop {
        let wait = match request().timeout(REQUEST_TIMEOUT).send().await {
            Ok(answer) if answer.status().is_success() => return Outcome::Sent,
            Ok(answer) => {
                let status = answer.status();
                let said = answer.text().await.unwrap_or_default();
                tracing::warn!(channel, %status, said = %truncate(&said), "an alert was not taken");
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return Outcome::Failed;
                }
                retry_after(&said)
            }
            Err(e) => {
                tracing::warn!(channel, error = %e.without_url(), "an alert could not be sent");
                None
            }
        };
        let Some(default) = waits.next() else {
            return Outcome::Failed;
        };
        tokio::time::sleep(wait.unwrap_or(*default)).await;
    }
}

/// Telegram's `parameters.retry_after` (seconds) of a 429, if it is short enough to wait for.
fn retry_after(answer: &str) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_str(answer).ok()?;
    let secs = value.pointer("/parameters/retry_after")?.as_u64()?;
    Some(Duration::from_secs(secs)).filter(|d| *d <= MAX_RETRY_AFTER)
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Setting;
    use std::collections::HashMap;

    #[test]
    fn keys_and_passwords_are_masked_out_of_a_message() {
        let overrides = HashMap::from([
            (Setting::NanobananaApiKey, "AIzaSy-secret-key".to_owned()),
            (Setting::UploadPassword, "booth-pass".to_owned()),
        ]);
        let settings = Settings::resolve(&overrides, &HashMap::new());
        let masked = mask_secrets(
            "key AIzaSy-secret-key rejected; password booth-pass".into(),
            &settings,
        );
        assert_eq!(masked, "key •••• rejected; password ••••");
    }

    #[test]
    fn the_time_is_the_operators_and_the_language_the_servers() {
        let overrides = HashMap::from([
            (Setting::ServerLanguage, "en".to_owned()),
            (Setting::TimeZone, "Asia/Yekaterinburg".to_owned()),
        ]);
        let settings = Settings::resolve(&overrides, &HashMap::new());
        // 2026-12-01 09:30 UTC is 14:30 in Yekaterinburg (UTC+5).
        let raised = Raised {
            event: Event::Test,
            at_ms: 1_796_117_400_000,
        };
        let message = text(&raised, &settings);
        assert!(message.starts_with("Boothgate, 14:30: "), "{message}");
        assert!(message.contains("test alert"), "{message}");
    }

    #[test]
    fn a_short_retry_after_is_honoured() {
        let answer = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#;
        assert_eq!(retry_after(answer), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(r#"{"parameters":{"retry_after":3600}}"#), None);
    }
}
