//! The one list of settings: what each is called, stored as, set by, and how its value is
//! checked.

/// Every value an operator can set. The stored name is [`SettingDef::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    PublicUrl,
    DeadlineSecs,
    KeepFailedInTrash,
    CheckResults,
    RetentionDays,
    MaxUploadMb,
    MaxResultSide,
    ProviderMaxSide,
    DemoDelayMs,
    UploadPassword,
    TurbotextApiKey,
    TurbotextBaseUrl,
    TurbotextPollMs,
    NanobananaApiKey,
    NanobananaBaseUrl,
    NanobananaModel,
    DeepseekApiKey,
    DeepseekBaseUrl,
    DeepseekModel,
    DeepseekSendPhoto,
    DeepseekShareSecs,
    ImagesApiKey,
    ImagesBaseUrl,
    ImagesModel,
    Currency,
    PriceTurbotext,
    PriceDeepseek,
    PriceNanobanana,
    PriceDeepseekWriter,
    SimpleLinks,
    MaxUnverifiedMb,
    MaxUnverifiedPerAddress,
    TrustedProxies,
    DiskReserveMb,
    ServerLanguage,
    TimeZone,
    TelegramBotToken,
    TelegramChatId,
    TelegramBaseUrl,
    AlertWebhookUrl,
    AlertMinAiRate,
    AlertBoothSilentMin,
}

/// The settings that name a model: pinned when the operator chose one, followed to a successor
/// when not.
pub const MODEL_SETTINGS: [Setting; 3] = [
    Setting::NanobananaModel,
    Setting::DeepseekModel,
    Setting::ImagesModel,
];

/// The sections of the Settings page; `Booth` values are shown under Statistics instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    General,
    /// Who may upload, and what strangers may cost.
    Protection,
    Booth,
    Turbotext,
    Nanobanana,
    Deepseek,
    Images,
    Costs,
    /// Where the server tells the operator of trouble, and when.
    Alerts,
}

impl Group {
    pub const ON_SETTINGS_PAGE: [Group; 8] = [
        Group::General,
        Group::Protection,
        Group::Turbotext,
        Group::Nanobanana,
        Group::Deepseek,
        Group::Images,
        Group::Costs,
        Group::Alerts,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Url,
    /// Never sent back to a browser nor logged.
    Secret,
    Integer {
        min: i64,
        max: i64,
    },
    Switch,
    /// A price: a non-negative amount with at most four decimals (a comma is read as a point).
    Price,
    /// IP addresses and networks (`10.0.0.0/8`), separated by commas or spaces.
    Addresses,
    /// One of a few codes.
    Choice(&'static [&'static str]),
    /// An IANA time-zone name (`Europe/Moscow`).
    TimeZone,
}

/// Most a price per image may be, in any currency.
const MAX_PRICE: f64 = 1_000_000.0;

/// Why a value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueError {
    NotInteger { min: i64, max: i64 },
    NotUrl,
    TooLong,
    NotPrice,
    NotAddresses,
    NotChoice(&'static [&'static str]),
    NotTimeZone,
}

impl ValueError {
    pub fn english(self) -> String {
        match self {
            ValueError::NotInteger { min, max } => {
                format!("must be a whole number from {min} to {max}")
            }
            ValueError::NotUrl => "must be an http:// or https:// URL".into(),
            ValueError::TooLong => "is too long".into(),
            ValueError::NotPrice => "must be an amount such as 0.039".into(),
            ValueError::NotAddresses => {
                "must be IP addresses or networks such as 10.0.0.0/8, separated by commas".into()
            }
            ValueError::NotChoice(codes) => format!("must be one of {}", codes.join(", ")),
            ValueError::NotTimeZone => "must be a time zone such as Europe/Moscow".into(),
        }
    }
}

const MAX_VALUE_LEN: usize = 2048;

impl ValueKind {
    /// Checks a value as typed by an operator and gives the form it is stored in.
    pub fn normalize(self, raw: &str) -> Result<String, ValueError> {
        let value = raw.trim();
        if value.len() > MAX_VALUE_LEN {
            return Err(ValueError::TooLong);
        }
        match self {
            ValueKind::Text | ValueKind::Secret => Ok(value.to_owned()),
            ValueKind::Url if value.is_empty() => Ok(String::new()),
            ValueKind::Url => {
                let ok = value.starts_with("http://") || value.starts_with("https://");
                let rest = value.split_once("://").map_or("", |(_, r)| r);
                if ok && !rest.is_empty() && !value.contains(char::is_whitespace) {
                    Ok(value.trim_end_matches('/').to_owned())
                } else {
                    Err(ValueError::NotUrl)
                }
            }
            ValueKind::Integer { min, max } => value
                .parse::<i64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .map(|n| n.to_string())
                .ok_or(ValueError::NotInteger { min, max }),
            ValueKind::Price => parse_price(value)
                .map(|price| price.to_string())
                .ok_or(ValueError::NotPrice),
            ValueKind::Addresses => crate::net::parse_networks(value)
                .map(|networks| {
                    networks
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .ok_or(ValueError::NotAddresses),
            ValueKind::Choice(codes) => codes
                .iter()
                .find(|c| c.eq_ignore_ascii_case(value))
                .map(|c| (*c).to_owned())
                .ok_or(ValueError::NotChoice(codes)),
            ValueKind::TimeZone => jiff::tz::TimeZone::get(value)
                .ok()
                .and_then(|tz| tz.iana_name().map(str::to_owned))
                .ok_or(ValueError::NotTimeZone),
            ValueKind::Switch => Ok(if matches!(value, "1" | "true" | "on" | "yes") {
                "1".into()
            } else {
                "0".into()
            }),
        }
    }
}

/// An amount as an operator types it ("0.039" or "0,039"), rounded to four decimals.
pub(super) fn parse_price(value: &str) -> Option<f64> {
    let price: f64 = value.replace(',', ".").parse().ok()?;
    let decimals_ok = value.split(['.', ',']).nth(1).is_none_or(|d| d.len() <= 4);
    (price.is_finite() && (0.0..=MAX_PRICE).contains(&price) && decimals_ok)
        .then(|| (price * 10_000.0).round() / 10_000.0)
}

pub struct SettingDef {
    pub key: Setting,
    /// Stored name and form field name.
    pub name: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    pub kind: ValueKind,
    pub group: Group,
}

const fn def(
    key: Setting,
    name: &'static str,
    env: &'static str,
    default: &'static str,
    kind: ValueKind,
    group: Group,
) -> SettingDef {
    SettingDef {
        key,
        name,
        env,
        default,
        kind,
        group,
    }
}

use super::models::{DEFAULT_DEEPSEEK, DEFAULT_IMAGES, DEFAULT_NANOBANANA};
use Group as G;
use Setting as S;
use ValueKind as K;

/// The one list of settings: the Settings page, the environment and the store all follow it.
#[rustfmt::skip]
pub const SETTINGS: &[SettingDef] = &[
    def(S::PublicUrl, "public_url", "BOOTHGATE_PUBLIC_URL", "", K::Url, G::General),
    def(S::DeadlineSecs, "deadline_secs", "BOOTHGATE_DEADLINE_SECS", "50", K::Integer { min: 1, max: 600 }, G::General),
    def(S::KeepFailedInTrash, "keep_failed_in_trash", "BOOTHGATE_KEEP_FAILED_IN_TRASH", "1", K::Switch, G::General),
    // Blank, unchanged and people checks on each model's image before the booth gets it.
    def(S::CheckResults, "check_results", "BOOTHGATE_CHECK_RESULTS", "1", K::Switch, G::General),
    def(S::RetentionDays, "retention_days", "BOOTHGATE_RETENTION_DAYS", "30", K::Integer { min: 0, max: 3650 }, G::General),
    def(S::MaxUploadMb, "max_upload_mb", "BOOTHGATE_MAX_UPLOAD_MB", "40", K::Integer { min: 1, max: 200 }, G::General),
    def(S::MaxResultSide, "max_result_side", "BOOTHGATE_MAX_RESULT_SIDE", "2048", K::Integer { min: 256, max: 8192 }, G::General),
    def(S::ProviderMaxSide, "provider_max_side", "BOOTHGATE_PROVIDER_MAX_SIDE", "2048", K::Integer { min: 256, max: 4096 }, G::General),
    def(S::DemoDelayMs, "demo_delay_ms", "BOOTHGATE_DEMO_DELAY_MS", "1500", K::Integer { min: 0, max: 600_000 }, G::General),
    // What the server writes without a browser (alerts, the CSV) is in this language.
    def(S::ServerLanguage, "server_language", "BOOTHGATE_LANGUAGE", "ru", K::Choice(&["ru", "en"]), G::General),
    def(S::TimeZone, "time_zone", "BOOTHGATE_TIME_ZONE", "Europe/Moscow", K::TimeZone, G::General),
    // Off for a new install; an install upgraded from before upload-link tokens has it on
    // (migration 0005), so booths already set up keep working.
    def(S::SimpleLinks, "simple_links", "BOOTHGATE_SIMPLE_LINKS", "0", K::Switch, G::Protection),
    def(S::MaxUnverifiedMb, "max_unverified_mb", "BOOTHGATE_MAX_UNVERIFIED_MB", "512", K::Integer { min: 1, max: 100_000 }, G::Protection),
    def(S::MaxUnverifiedPerAddress, "max_unverified_per_address", "BOOTHGATE_MAX_UNVERIFIED_PER_ADDRESS", "16", K::Integer { min: 1, max: 10_000 }, G::Protection),
    def(S::TrustedProxies, "trusted_proxies", "BOOTHGATE_TRUSTED_PROXIES", "", K::Addresses, G::Protection),
    def(S::DiskReserveMb, "disk_reserve_mb", "BOOTHGATE_DISK_RESERVE_MB", "1024", K::Integer { min: 0, max: 100_000_000 }, G::Protection),
    def(S::UploadPassword, "upload_password", "BOOTHGATE_UPLOAD_PASSWORD", "", K::Secret, G::Booth),
    def(S::TurbotextApiKey, "turbotext_api_key", "BOOTHGATE_TURBOTEXT_API_KEY", "", K::Secret, G::Turbotext),
    def(S::TurbotextBaseUrl, "turbotext_base_url", "BOOTHGATE_TURBOTEXT_BASE_URL", "https://www.turbotext.ru/api_ai", K::Url, G::Turbotext),
    def(S::TurbotextPollMs, "turbotext_poll_ms", "BOOTHGATE_TURBOTEXT_POLL_MS", "1000", K::Integer { min: 200, max: 10_000 }, G::Turbotext),
    def(S::NanobananaApiKey, "gemini_api_key", "BOOTHGATE_GEMINI_API_KEY", "", K::Secret, G::Nanobanana),
    def(S::NanobananaBaseUrl, "gemini_base_url", "BOOTHGATE_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com/v1beta", K::Url, G::Nanobanana),
    def(S::NanobananaModel, "gemini_model", "BOOTHGATE_GEMINI_MODEL", DEFAULT_NANOBANANA, K::Text, G::Nanobanana),
    def(S::DeepseekApiKey, "deepseek_api_key", "BOOTHGATE_DEEPSEEK_API_KEY", "", K::Secret, G::Deepseek),
    def(S::DeepseekBaseUrl, "deepseek_base_url", "BOOTHGATE_DEEPSEEK_BASE_URL", "https://api.deepseek.com", K::Url, G::Deepseek),
    def(S::DeepseekModel, "deepseek_model", "BOOTHGATE_DEEPSEEK_MODEL", DEFAULT_DEEPSEEK, K::Text, G::Deepseek),
    def(S::DeepseekSendPhoto, "deepseek_send_photo", "BOOTHGATE_DEEPSEEK_SEND_PHOTO", "1", K::Switch, G::Deepseek),
    def(S::DeepseekShareSecs, "deepseek_share_secs", "BOOTHGATE_DEEPSEEK_SHARE_SECS", "10", K::Integer { min: 1, max: 120 }, G::Deepseek),
    def(S::ImagesApiKey, "images_api_key", "BOOTHGATE_IMAGES_API_KEY", "", K::Secret, G::Images),
    def(S::ImagesBaseUrl, "images_base_url", "BOOTHGATE_IMAGES_BASE_URL", "https://api.openai.com/v1", K::Url, G::Images),
    def(S::ImagesModel, "images_model", "BOOTHGATE_IMAGES_MODEL", DEFAULT_IMAGES, K::Text, G::Images),
    def(S::Currency, "currency", "BOOTHGATE_CURRENCY", "USD", K::Text, G::Costs),
    def(S::PriceTurbotext, "price_turbotext", "BOOTHGATE_PRICE_TURBOTEXT", "0", K::Price, G::Costs),
    def(S::PriceDeepseek, "price_deepseek", "BOOTHGATE_PRICE_DEEPSEEK", "0", K::Price, G::Costs),
    def(S::PriceNanobanana, "price_nanobanana", "BOOTHGATE_PRICE_NANOBANANA", "0", K::Price, G::Costs),
    def(S::PriceDeepseekWriter, "price_deepseek_writer", "BOOTHGATE_PRICE_DEEPSEEK_WRITER", "0", K::Price, G::Costs),
    def(S::TelegramBotToken, "telegram_bot_token", "BOOTHGATE_TELEGRAM_BOT_TOKEN", "", K::Secret, G::Alerts),
    def(S::TelegramChatId, "telegram_chat_id", "BOOTHGATE_TELEGRAM_CHAT_ID", "", K::Text, G::Alerts),
    def(S::TelegramBaseUrl, "telegram_base_url", "BOOTHGATE_TELEGRAM_BASE_URL", "https://api.telegram.org", K::Url, G::Alerts),
    def(S::AlertWebhookUrl, "alert_webhook_url", "BOOTHGATE_ALERT_WEBHOOK_URL", "", K::Url, G::Alerts),
    def(S::AlertMinAiRate, "alert_min_ai_rate", "BOOTHGATE_ALERT_MIN_AI_RATE", "90", K::Integer { min: 0, max: 100 }, G::Alerts),
    // 0: a silent booth raises nothing.
    def(S::AlertBoothSilentMin, "alert_booth_silent_min", "BOOTHGATE_ALERT_BOOTH_SILENT_MIN", "0", K::Integer { min: 0, max: 1440 }, G::Alerts),
];

impl Setting {
    pub fn def(self) -> &'static SettingDef {
        SETTINGS
            .iter()
            .find(|d| d.key == self)
            .expect("every setting has a definition")
    }
}
