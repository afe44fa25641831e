//! The effective settings, resolved once into typed values: the rest of the server reads
//! numbers, durations, switches and URLs, never a setting's text.

use super::table::{MODEL_SETTINGS, SETTINGS, Setting, parse_price};
use crate::net::{Network, parse_networks};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// A consistent snapshot of every effective setting.
#[derive(Clone, Debug)]
pub struct Settings {
    /// As stored, for the Settings page.
    values: HashMap<Setting, String>,
    from_env: HashMap<Setting, bool>,
    /// What is stored beside the model settings: chosen by the operator, or followed.
    choices: HashMap<Setting, ModelChoice>,
    /// Without a trailing slash; `None` when not set.
    pub public_url: Option<String>,
    /// How long the booth waits for its answer.
    pub deadline: Duration,
    pub keep_failed_in_trash: bool,
    /// Each model's image is checked before the booth gets it.
    pub check_results: bool,
    /// 0 keeps every photo.
    pub retention_days: u32,
    pub max_upload_bytes: usize,
    /// The long side of the photo the booth gets back, at most.
    pub max_result_side: u32,
    /// The long side of the photo a model gets, at most.
    pub provider_max_side: u32,
    /// How long demo mode's local effect takes.
    pub demo_delay: Duration,
    /// What the booth sends as `password`.
    pub upload_password: String,
    pub protection: Protection,
    pub turbotext: TurbotextSettings,
    pub nanobanana: Endpoint,
    pub deepseek: DeepseekSettings,
    /// The OpenAI-compatible images endpoint that draws for the DeepSeek tab.
    pub images: Endpoint,
    pub costs: Costs,
    /// What the server writes without a browser (alerts, the CSV) is in.
    pub server_lang: crate::admin::i18n::Lang,
    /// The operator's time zone: alerts, exports and schedules tell time in it.
    pub time_zone: jiff::tz::TimeZone,
    pub alerts: AlertSettings,
}

/// Where alerts go, and what raises them.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// A bot's token and the chat it writes to; `None` unless both are set.
    pub telegram: Option<Telegram>,
    /// Gets each alert as JSON; `None` when not set.
    pub webhook_url: Option<String>,
    /// In a running event, a share of guests with an AI photo below this (percent) is alerted.
    pub min_ai_rate: u32,
    /// A booth of the running event silent this long is alerted; `None`: never.
    pub booth_silent: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct Telegram {
    pub token: String,
    pub chat_id: String,
    /// The Bot API's address, without a trailing slash.
    pub base_url: String,
}

/// Who may upload, and what strangers may cost.
#[derive(Clone, Debug)]
pub struct Protection {
    /// The plain upload path (without the link's token) is answered.
    pub simple_links: bool,
    /// Photos whose password is not checked yet, server-wide.
    pub max_unverified_bytes: u64,
    pub max_unverified_per_address: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<Network>,
    /// Free space below which uploads are refused.
    pub disk_reserve_bytes: u64,
}

/// An API a tab calls: where, with which key, and which model.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `None` when not set.
    pub api_key: Option<String>,
    pub base_url: String,
    pub model: String,
}

#[derive(Clone, Debug)]
pub struct TurbotextSettings {
    pub api_key: Option<String>,
    pub base_url: String,
    /// How often a queued job is asked for its result.
    pub poll: Duration,
}

/// DeepSeek's chat, which writes the instruction the images endpoint draws.
#[derive(Clone, Debug)]
pub struct DeepseekSettings {
    pub writer: Endpoint,
    /// The writer sees the guest's photo.
    pub send_photo: bool,
    /// The writer's share of the deadline, at most.
    pub share: Duration,
}

/// How a model setting got its value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelChoice {
    /// The operator chose the model (on the page, with the one-click switch, or by the
    /// environment): it is never changed silently.
    pub pinned: bool,
    /// The model this one took over from, and when (ms).
    pub switched_from: Option<(String, i64)>,
}

impl ModelChoice {
    /// The stored key of whether the model of `setting` is pinned (`1` or `0`).
    pub fn pin_key(setting: Setting) -> String {
        format!("pinned:{}", setting.def().name)
    }

    /// The stored key of the switch to a successor: `<from model> <ms>`.
    pub fn switch_key(setting: Setting) -> String {
        format!("switched:{}", setting.def().name)
    }

    fn read(setting: Setting, stored: &HashMap<String, String>, from_env: bool) -> ModelChoice {
        let switched_from = stored
            .get(&ModelChoice::switch_key(setting))
            .and_then(|v| v.rsplit_once(' '))
            .and_then(|(from, at)| Some((from.to_owned(), at.parse().ok()?)));
        ModelChoice {
            pinned: from_env
                || stored
                    .get(&ModelChoice::pin_key(setting))
                    .map(String::as_str)
                    == Some("1"),
            switched_from,
        }
    }
}

/// The prices per image the cost figures use.
#[derive(Clone, Debug)]
pub struct Costs {
    pub currency: String,
    pub turbotext: f64,
    pub deepseek: f64,
    pub nanobanana: f64,
    /// Per call of DeepSeek's writer.
    pub deepseek_writer: f64,
}

impl Settings {
    /// Environment first, then the stored value, then the default.
    pub fn resolve(
        overrides: &HashMap<Setting, String>,
        stored: &HashMap<String, String>,
    ) -> Settings {
        let mut values = HashMap::new();
        let mut from_env = HashMap::new();
        for def in SETTINGS {
            let (value, env) = match (overrides.get(&def.key), stored.get(def.name)) {
                (Some(v), _) => (v.clone(), true),
                (None, Some(v)) => (v.clone(), false),
                (None, None) => (def.default.to_owned(), false),
            };
            values.insert(def.key, value);
            from_env.insert(def.key, env);
        }
        let choices = MODEL_SETTINGS
            .into_iter()
            .map(|s| (s, ModelChoice::read(s, stored, from_env[&s])))
            .collect();
        let mut settings = Raw(&values).typed(from_env);
        settings.choices = choices;
        settings
    }

    /// How a model setting got its value.
    pub fn model_choice(&self, setting: Setting) -> ModelChoice {
        self.choices.get(&setting).cloned().unwrap_or_default()
    }

    /// The value as stored (or set by the environment), for the Settings page.
    pub fn get(&self, key: Setting) -> &str {
        self.values.get(&key).map_or("", String::as_str)
    }

    pub fn is_from_env(&self, key: Setting) -> bool {
        self.from_env.get(&key).copied().unwrap_or(false)
    }
}

/// The resolved values as text, read into their types once.
struct Raw<'a>(&'a HashMap<Setting, String>);

impl Raw<'_> {
    fn text(&self, key: Setting) -> String {
        self.0.get(&key).cloned().unwrap_or_default()
    }

    fn optional(&self, key: Setting) -> Option<String> {
        Some(self.text(key)).filter(|v| !v.is_empty())
    }

    /// A stored value that no longer parses (edited by hand) counts as the default.
    fn integer(&self, key: Setting) -> u64 {
        self.text(key)
            .parse::<u64>()
            .or_else(|_| key.def().default.parse())
            .unwrap_or(0)
    }

    fn small(&self, key: Setting) -> u32 {
        u32::try_from(self.integer(key)).unwrap_or(u32::MAX)
    }

    fn mebibytes(&self, key: Setting) -> u64 {
        self.integer(key).saturating_mul(1024 * 1024)
    }

    fn switch(&self, key: Setting) -> bool {
        self.text(key) == "1"
    }

    fn price(&self, key: Setting) -> f64 {
        parse_price(&self.text(key)).unwrap_or(0.0)
    }

    fn endpoint(&self, key: Setting, base_url: Setting, model: Setting) -> Endpoint {
        Endpoint {
            api_key: self.optional(key),
            base_url: self.text(base_url),
            model: self.text(model),
        }
    }

    fn typed(self, from_env: HashMap<Setting, bool>) -> Settings {
        use Setting as S;
        Settings {
            public_url: self.optional(S::PublicUrl),
            deadline: Duration::from_secs(self.integer(S::DeadlineSecs).max(1)),
            keep_failed_in_trash: self.switch(S::KeepFailedInTrash),
            check_results: self.switch(S::CheckResults),
            retention_days: self.small(S::RetentionDays),
            max_upload_bytes: usize::try_from(self.mebibytes(S::MaxUploadMb).max(1 << 20))
                .unwrap_or(usize::MAX),
            max_result_side: self.small(S::MaxResultSide),
            provider_max_side: self.small(S::ProviderMaxSide),
            demo_delay: Duration::from_millis(self.integer(S::DemoDelayMs)),
            upload_password: self.text(S::UploadPassword),
            protection: Protection {
                simple_links: self.switch(S::SimpleLinks),
                max_unverified_bytes: self.mebibytes(S::MaxUnverifiedMb),
                max_unverified_per_address: self.small(S::MaxUnverifiedPerAddress).max(1),
                trusted_proxies: parse_networks(&self.text(S::TrustedProxies)).unwrap_or_default(),
                disk_reserve_bytes: self.mebibytes(S::DiskReserveMb),
            },
            turbotext: TurbotextSettings {
                api_key: self.optional(S::TurbotextApiKey),
                base_url: self.text(S::TurbotextBaseUrl),
                poll: Duration::from_millis(self.integer(S::TurbotextPollMs)),
            },
            nanobanana: self.endpoint(
                S::NanobananaApiKey,
                S::NanobananaBaseUrl,
                S::NanobananaModel,
            ),
            deepseek: DeepseekSettings {
                writer: self.endpoint(S::DeepseekApiKey, S::DeepseekBaseUrl, S::DeepseekModel),
                send_photo: self.switch(S::DeepseekSendPhoto),
                share: Duration::from_secs(self.integer(S::DeepseekShareSecs)),
            },
            images: self.endpoint(S::ImagesApiKey, S::ImagesBaseUrl, S::ImagesModel),
            costs: Costs {
                currency: self.text(S::Currency),
                turbotext: self.price(S::PriceTurbotext),
                deepseek: self.price(S::PriceDeepseek),
                nanobanana: self.price(S::PriceNanobanana),
                deepseek_writer: self.price(S::PriceDeepseekWriter),
            },
            server_lang: match self.text(S::ServerLanguage).as_str() {
                "en" => crate::admin::i18n::Lang::En,
                _ => crate::admin::i18n::Lang::Ru,
            },
            time_zone: jiff::tz::TimeZone::get(&self.text(S::TimeZone))
                .or_else(|_| jiff::tz::TimeZone::get(S::TimeZone.def().default))
                .unwrap_or(jiff::tz::TimeZone::UTC),
            alerts: AlertSettings {
                telegram: self
                    .optional(S::TelegramBotToken)
                    .zip(self.optional(S::TelegramChatId))
                    .map(|(token, chat_id)| Telegram {
                        token,
                        chat_id,
                        base_url: self.text(S::TelegramBaseUrl),
                    }),
                webhook_url: self.optional(S::AlertWebhookUrl),
                min_ai_rate: self.small(S::AlertMinAiRate),
                booth_silent: Some(self.integer(S::AlertBoothSilentMin))
                    .filter(|m| *m > 0)
                    .map(|m| Duration::from_secs(m * 60)),
            },
            values: self.0.clone(),
            from_env,
            choices: HashMap::new(),
        }
    }
}

/// The settings in force, swapped whole when an operator saves; a reader keeps its snapshot to
/// the end of what it does.
#[derive(Clone, Debug)]
pub struct SharedSettings(Arc<RwLock<Arc<Settings>>>);

impl SharedSettings {
    pub fn new(settings: Settings) -> SharedSettings {
        SharedSettings(Arc::new(RwLock::new(Arc::new(settings))))
    }

    pub fn current(&self) -> Arc<Settings> {
        self.0.read().expect("settings lock").clone()
    }

    pub fn replace(&self, settings: Settings) {
        *self.0.write().expect("settings lock") = Arc::new(settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_stored_and_stored_over_default() {
        let overrides = HashMap::from([(Setting::DeadlineSecs, "7".to_owned())]);
        let stored = HashMap::from([
            ("deadline_secs".to_owned(), "30".to_owned()),
            ("retention_days".to_owned(), "3".to_owned()),
            ("max_unverified_mb".to_owned(), "2".to_owned()),
            ("price_nanobanana".to_owned(), "0.039".to_owned()),
        ]);
        let s = Settings::resolve(&overrides, &stored);
        assert_eq!(s.deadline, Duration::from_secs(7));
        assert!(s.is_from_env(Setting::DeadlineSecs));
        assert_eq!(s.retention_days, 3);
        assert!(!s.is_from_env(Setting::RetentionDays));
        assert_eq!(s.max_result_side, 2048);
        assert_eq!(s.nanobanana.model, super::super::DEFAULT_NANOBANANA);
        assert_eq!(s.nanobanana.api_key, None);
        assert_eq!(s.protection.max_unverified_bytes, 2 << 20);
        assert_eq!(s.costs.nanobanana, 0.039);
        assert_eq!(s.turbotext.poll, Duration::from_secs(1));
    }

    #[test]
    fn a_value_edited_into_nonsense_counts_as_its_default() {
        let stored = HashMap::from([("deadline_secs".to_owned(), "soon".to_owned())]);
        let s = Settings::resolve(&HashMap::new(), &stored);
        assert_eq!(s.deadline, Duration::from_secs(50));
        assert_eq!(s.get(Setting::DeadlineSecs), "soon");
    }
}
