//! Configuration: command-line flags, environment variables and the settings stored in the
//! database, folded into one view. An environment variable wins over a stored value.

use clap::{Args, Parser, Subcommand};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

mod models;
mod snapshot;
mod table;

pub use models::{
    DEFAULT_DEEPSEEK, DEFAULT_IMAGES, DEFAULT_NANOBANANA, FreeSize, MODELS, ModelFacts,
    OLD_DEFAULTS, model_facts,
};
pub use snapshot::{
    AlertSettings, Costs, DeepseekSettings, Endpoint, ModelChoice, Protection, Settings,
    SharedSettings, Telegram, TurbotextSettings,
};
pub use table::{Group, MODEL_SETTINGS, SETTINGS, Setting, SettingDef, ValueError, ValueKind};

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

/// How long a failing provider stays down before one job probes it again.
pub const DEFAULT_PROVIDER_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(60);

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
    /// How often the background loops look at the clock: alert conditions no request meets,
    /// the event schedule.
    pub watch_every: std::time::Duration,
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
            provider_cooldown: DEFAULT_PROVIDER_COOLDOWN,
            watch_every: crate::alerts::watch::EVERY,
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
