//! Configuration: command-line flags, environment variables and the settings stored in the
//! database, folded into one view. An environment variable wins over a stored value.

use clap::{Args, Parser, Subcommand};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "boothgate",
    version,
    about = "AI image models behind a photo booth"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BOOTHGATE_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Folder for the database and the photos.
    #[arg(long, env = "BOOTHGATE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Public base URL of this server, e.g. https://booth.example.com.
    #[arg(long, env = "BOOTHGATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Replace every provider by a built-in local effect.
    #[arg(long, env = "BOOTHGATE_DEMO", value_parser = clap::builder::FalseyValueParser::new())]
    pub demo: bool,
    /// PEM certificate chain, to serve HTTPS directly (with --tls-key).
    #[arg(long, env = "BOOTHGATE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "BOOTHGATE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Connections open at once; more are refused as they arrive.
    #[arg(long, env = "BOOTHGATE_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
}

/// Far more than any number of booths needs, well below a usual file descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// What the server needs to start; built by `main` from the process, by tests directly.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub demo: bool,
    /// Settings fixed by the environment (or a flag); they win over stored values.
    pub overrides: HashMap<Setting, String>,
    pub admin_user: String,
    /// A fixed admin password from the environment; otherwise one is generated and stored hashed.
    pub admin_password: Option<String>,
    /// Certificate chain and key (PEM files) to serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long a client may take to send a request's headers (slow-loris guard).
    pub header_timeout: std::time::Duration,
    /// How long a client may leave an answer unread before its connection is dropped.
    pub write_timeout: std::time::Duration,
    /// Connections open at once; more are refused as they arrive.
    pub max_connections: usize,
    /// How long a failing provider stays down before one job probes it again.
    pub provider_cooldown: std::time::Duration,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            demo: false,
            overrides: HashMap::new(),
            admin_user: "admin".into(),
            admin_password: None,
            tls: None,
            header_timeout: std::time::Duration::from_secs(15),
            write_timeout: std::time::Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            provider_cooldown: crate::providers::health::DOWN_FOR,
        }
    }

    /// Reads the environment variables of every setting and of the admin account.
    pub fn from_process(args: &ServeArgs) -> Result<Config, String> {
        let mut config = Config::new(&args.data_dir);
        config.demo = args.demo;
        config.tls = args.tls_cert.clone().zip(args.tls_key.clone());
        config.max_connections = args.max_connections;
        for def in SETTINGS {
            if let Ok(value) = std::env::var(def.env) {
                let value = def
                    .kind
                    .normalize(&value)
                    .map_err(|e| format!("{}: {}", def.env, e.english()))?;
                config.overrides.insert(def.key, value);
            }
        }
        if let Some(url) = &args.public_url {
            let url = ValueKind::Url
                .normalize(url)
                .map_err(|e| format!("--public-url: {}", e.english()))?;
            config.overrides.insert(Setting::PublicUrl, url);
        }
        if let Ok(user) = std::env::var("BOOTHGATE_ADMIN_USER") {
            config.admin_user = user;
        }
        config.admin_password = std::env::var("BOOTHGATE_ADMIN_PASSWORD").ok();
        Ok(config)
    }
}

/// Every value an operator can set. The stored name is [`SettingDef::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setting {
    PublicUrl,
    DeadlineSecs,
    KeepFailedInTrash,
    RetentionDays,
    MaxUploadMb,
    MaxResultSide,
    ProviderMaxSide,
    DemoDelayMs,
    UploadPassword,
    TurbotextApiKey,
    TurbotextBaseUrl,
    TurbotextPollMs,
    GeminiApiKey,
    GeminiBaseUrl,
    GeminiModel,
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
}

/// The sections of the Settings page; `Booth` values are shown under Statistics instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    General,
    /// Who may upload, and what strangers may cost.
    Protection,
    Booth,
    Turbotext,
    Gemini,
    Deepseek,
    Images,
    Costs,
}

impl Group {
    pub const ON_SETTINGS_PAGE: [Group; 7] = [
        Group::General,
        Group::Protection,
        Group::Turbotext,
        Group::Gemini,
        Group::Deepseek,
        Group::Images,
        Group::Costs,
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
            ValueKind::Switch => Ok(if matches!(value, "1" | "true" | "on" | "yes") {
                "1".into()
            } else {
                "0".into()
            }),
        }
    }
}

/// An amount as an operator types it ("0.039" or "0,039"), rounded to four decimals.
fn parse_price(value: &str) -> Option<f64> {
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

use Group as G;
use Setting as S;
use ValueKind as K;

/// The one list of settings: the Settings page, the environment and the store all follow it.
#[rustfmt::skip]
pub const SETTINGS: &[SettingDef] = &[
    def(S::PublicUrl, "public_url", "BOOTHGATE_PUBLIC_URL", "", K::Url, G::General),
    def(S::DeadlineSecs, "deadline_secs", "BOOTHGATE_DEADLINE_SECS", "50", K::Integer { min: 1, max: 600 }, G::General),
    def(S::KeepFailedInTrash, "keep_failed_in_trash", "BOOTHGATE_KEEP_FAILED_IN_TRASH", "1", K::Switch, G::General),
    def(S::RetentionDays, "retention_days", "BOOTHGATE_RETENTION_DAYS", "30", K::Integer { min: 0, max: 3650 }, G::General),
    def(S::MaxUploadMb, "max_upload_mb", "BOOTHGATE_MAX_UPLOAD_MB", "40", K::Integer { min: 1, max: 200 }, G::General),
    def(S::MaxResultSide, "max_result_side", "BOOTHGATE_MAX_RESULT_SIDE", "2048", K::Integer { min: 256, max: 8192 }, G::General),
    def(S::ProviderMaxSide, "provider_max_side", "BOOTHGATE_PROVIDER_MAX_SIDE", "2048", K::Integer { min: 256, max: 4096 }, G::General),
    def(S::DemoDelayMs, "demo_delay_ms", "BOOTHGATE_DEMO_DELAY_MS", "1500", K::Integer { min: 0, max: 600_000 }, G::General),
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
    def(S::GeminiApiKey, "gemini_api_key", "BOOTHGATE_GEMINI_API_KEY", "", K::Secret, G::Gemini),
    def(S::GeminiBaseUrl, "gemini_base_url", "BOOTHGATE_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com/v1beta", K::Url, G::Gemini),
    def(S::GeminiModel, "gemini_model", "BOOTHGATE_GEMINI_MODEL", "gemini-3.1-flash-image", K::Text, G::Gemini),
    def(S::DeepseekApiKey, "deepseek_api_key", "BOOTHGATE_DEEPSEEK_API_KEY", "", K::Secret, G::Deepseek),
    def(S::DeepseekBaseUrl, "deepseek_base_url", "BOOTHGATE_DEEPSEEK_BASE_URL", "https://api.deepseek.com", K::Url, G::Deepseek),
    def(S::DeepseekModel, "deepseek_model", "BOOTHGATE_DEEPSEEK_MODEL", "deepseek-flash", K::Text, G::Deepseek),
    def(S::DeepseekSendPhoto, "deepseek_send_photo", "BOOTHGATE_DEEPSEEK_SEND_PHOTO", "1", K::Switch, G::Deepseek),
    def(S::DeepseekShareSecs, "deepseek_share_secs", "BOOTHGATE_DEEPSEEK_SHARE_SECS", "10", K::Integer { min: 1, max: 120 }, G::Deepseek),
    def(S::ImagesApiKey, "images_api_key", "BOOTHGATE_IMAGES_API_KEY", "", K::Secret, G::Images),
    def(S::ImagesBaseUrl, "images_base_url", "BOOTHGATE_IMAGES_BASE_URL", "https://api.openai.com/v1", K::Url, G::Images),
    def(S::ImagesModel, "images_model", "BOOTHGATE_IMAGES_MODEL", "gpt-image-2", K::Text, G::Images),
    def(S::Currency, "currency", "BOOTHGATE_CURRENCY", "USD", K::Text, G::Costs),
    def(S::PriceTurbotext, "price_turbotext", "BOOTHGATE_PRICE_TURBOTEXT", "0", K::Price, G::Costs),
    def(S::PriceDeepseek, "price_deepseek", "BOOTHGATE_PRICE_DEEPSEEK", "0", K::Price, G::Costs),
    def(S::PriceNanobanana, "price_nanobanana", "BOOTHGATE_PRICE_NANOBANANA", "0", K::Price, G::Costs),
    def(S::PriceDeepseekWriter, "price_deepseek_writer", "BOOTHGATE_PRICE_DEEPSEEK_WRITER", "0", K::Price, G::Costs),
];

/// What differs between the models of one family, known by how their IDs begin. With the
/// defaults above, the one place that names model IDs: everything else asks the providers' own
/// model lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelFamily {
    pub prefix: &'static str,
    /// Gemini: takes `imageConfig.imageSize` (1K, 2K, 4K).
    pub image_size: bool,
    /// Images endpoint: any size whose sides are multiples of 16, up to 3840×2160; otherwise
    /// only 1024×1024, 1536×1024 and 1024×1536.
    pub free_size: bool,
    /// Images endpoint: takes `input_fidelity`, which keeps faces on edits.
    pub input_fidelity: bool,
}

/// Checked in order; the first family whose prefix a model ID starts with applies.
#[rustfmt::skip]
pub const MODEL_FAMILIES: &[ModelFamily] = &[
    ModelFamily { prefix: "gemini-2.", image_size: false, free_size: false, input_fidelity: false },
    ModelFamily { prefix: "gpt-image-2", image_size: false, free_size: true, input_fidelity: false },
    ModelFamily { prefix: "gpt-image-1-mini", image_size: false, free_size: false, input_fidelity: false },
    ModelFamily { prefix: "gpt-image-1", image_size: false, free_size: false, input_fidelity: true },
];

/// A model not of a known family: Gemini's current models take an image size; an unknown
/// images model gets the three sizes every GPT-image model takes, and nothing more.
const OTHER_MODELS: ModelFamily = ModelFamily {
    prefix: "",
    image_size: true,
    free_size: false,
    input_fidelity: false,
};

pub fn model_family(model: &str) -> ModelFamily {
    MODEL_FAMILIES
        .iter()
        .copied()
        .find(|f| model.starts_with(f.prefix))
        .unwrap_or(OTHER_MODELS)
}

impl Setting {
    pub fn def(self) -> &'static SettingDef {
        SETTINGS
            .iter()
            .find(|d| d.key == self)
            .expect("every setting has a definition")
    }
}

/// A consistent snapshot of every effective setting.
#[derive(Clone, Debug)]
pub struct Settings {
    values: HashMap<Setting, String>,
    from_env: HashMap<Setting, bool>,
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
        Settings { values, from_env }
    }

    pub fn get(&self, key: Setting) -> &str {
        self.values.get(&key).map_or("", String::as_str)
    }

    pub fn is_from_env(&self, key: Setting) -> bool {
        self.from_env.get(&key).copied().unwrap_or(false)
    }

    pub fn integer(&self, key: Setting) -> i64 {
        self.get(key)
            .parse()
            .or_else(|_| key.def().default.parse())
            .unwrap_or(0)
    }

    pub fn price(&self, key: Setting) -> f64 {
        parse_price(self.get(key)).unwrap_or(0.0)
    }

    pub fn switch(&self, key: Setting) -> bool {
        self.get(key) == "1"
    }

    pub fn deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.integer(Setting::DeadlineSecs).max(1) as u64)
    }

    pub fn max_upload_bytes(&self) -> usize {
        self.integer(Setting::MaxUploadMb).max(1) as usize * 1024 * 1024
    }

    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub fn trusted_proxies(&self) -> Vec<crate::net::Network> {
        crate::net::parse_networks(self.get(Setting::TrustedProxies)).unwrap_or_default()
    }

    pub fn mebibytes(&self, key: Setting) -> u64 {
        self.integer(key).max(0) as u64 * 1024 * 1024
    }

    /// The configured public URL, if any, without a trailing slash.
    pub fn public_url(&self) -> Option<&str> {
        Some(self.get(Setting::PublicUrl)).filter(|u| !u.is_empty())
    }
}

/// Shows the last four characters of a secret, so an operator can tell keys apart.
pub fn mask_secret(secret: &str) -> String {
    if secret.is_empty() {
        return String::new();
    }
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = if chars.len() > 8 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_take_a_point_or_a_comma_and_four_decimals_at_most() {
        assert_eq!(ValueKind::Price.normalize("0,039"), Ok("0.039".into()));
        assert_eq!(ValueKind::Price.normalize(" 2 "), Ok("2".into()));
        for bad in ["-1", "abc", "0.12345", "1e9", "NaN", ""] {
            assert_eq!(
                ValueKind::Price.normalize(bad),
                Err(ValueError::NotPrice),
                "{bad}"
            );
        }
    }

    #[test]
    fn env_wins_over_stored_and_stored_over_default() {
        let overrides = HashMap::from([(Setting::DeadlineSecs, "7".to_owned())]);
        let stored = HashMap::from([
            ("deadline_secs".to_owned(), "30".to_owned()),
            ("retention_days".to_owned(), "3".to_owned()),
        ]);
        let s = Settings::resolve(&overrides, &stored);
        assert_eq!(s.integer(Setting::DeadlineSecs), 7);
        assert!(s.is_from_env(Setting::DeadlineSecs));
        assert_eq!(s.integer(Setting::RetentionDays), 3);
        assert!(!s.is_from_env(Setting::RetentionDays));
        assert_eq!(s.integer(Setting::MaxResultSide), 2048);
        assert_eq!(s.get(Setting::GeminiModel), "gemini-3.1-flash-image");
    }

    #[test]
    fn model_families_by_prefix() {
        assert!(!model_family("gemini-2.5-flash-image").image_size);
        assert!(model_family("gemini-3-pro-image").image_size);
        assert!(model_family("gpt-image-2").free_size);
        assert!(model_family("gpt-image-1.5").input_fidelity);
        assert!(!model_family("gpt-image-1-mini").input_fidelity);
        assert!(!model_family("flux-kontext").input_fidelity);
    }

    #[test]
    fn values_are_checked() {
        let int = ValueKind::Integer { min: 1, max: 600 };
        assert_eq!(int.normalize(" 50 "), Ok("50".into()));
        assert!(int.normalize("0").is_err());
        assert!(int.normalize("fifty").is_err());
        assert_eq!(
            ValueKind::Url.normalize("https://x.test/"),
            Ok("https://x.test".into())
        );
        assert_eq!(ValueKind::Url.normalize("ftp://x"), Err(ValueError::NotUrl));
        assert_eq!(ValueKind::Switch.normalize("on"), Ok("1".into()));
        assert_eq!(ValueKind::Switch.normalize(""), Ok("0".into()));
    }

    #[test]
    fn masking_keeps_only_a_short_tail() {
        assert_eq!(mask_secret("sk-1234567890abcd"), "••••abcd");
        assert_eq!(mask_secret("short"), "••••");
        assert_eq!(mask_secret(""), "");
    }

    #[test]
    fn every_setting_has_one_definition() {
        for def in SETTINGS {
            assert_eq!(def.key.def().name, def.name);
            assert!(def.env.starts_with("BOOTHGATE_"));
        }
    }
}
