//! What the Settings page asks of the providers, off the booth's path: connection tests and the
//! API methods Turbotext allows.

use super::{Http, deepseek, turbotext};
use crate::config::{Setting, Settings};
use std::time::Duration;
use tokio::time::Instant;

/// The stages of the DeepSeek tab that have a "Test connection" button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// DeepSeek's chat, which writes the instruction.
    Writer,
    /// The OpenAI-compatible images endpoint, which draws it.
    Images,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "deepseek" => Some(Stage::Writer),
            "images" => Some(Stage::Images),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Writer => "deepseek",
            Stage::Images => "images",
        }
    }
}

fn key(settings: &Settings, setting: Setting) -> Result<&str, String> {
    Some(settings.get(setting))
        .filter(|k| !k.is_empty())
        .ok_or_else(|| "no API key is set".to_owned())
}

/// One small authenticated call to the stage's endpoint.
pub async fn test_connection(stage: Stage, http: &Http, settings: &Settings) -> Result<(), String> {
    match stage {
        Stage::Writer => {
            deepseek::check_writer(
                &http.api,
                settings.get(Setting::DeepseekBaseUrl),
                key(settings, Setting::DeepseekApiKey)?,
                settings.get(Setting::DeepseekModel),
            )
            .await
        }
        Stage::Images => {
            deepseek::check_renderer(
                &http.api,
                settings.get(Setting::ImagesBaseUrl),
                key(settings, Setting::ImagesApiKey)?,
            )
            .await
        }
    }
}

/// The Turbotext API methods the key may call: name and description.
pub async fn turbotext_methods(
    http: &Http,
    settings: &Settings,
) -> Result<Vec<(String, String)>, String> {
    let client = turbotext::Turbotext::new(
        http.clone(),
        settings.get(Setting::TurbotextBaseUrl),
        key(settings, Setting::TurbotextApiKey)
            .map_err(|_| "no API key is set for Turbotext".to_owned())?,
        Duration::from_millis(settings.integer(Setting::TurbotextPollMs) as u64),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    turbotext::available_methods(&client, deadline)
        .await
        .map_err(|e| e.to_string())
}
