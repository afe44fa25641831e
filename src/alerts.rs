//! Alerts: the server tells the operator, away from the screen, that something needs them — by
//! a Telegram bot and a webhook, in the server's language. Raising one never waits: it is
//! queued, and at most one per kind and subject goes out in ten minutes. Delivery (with retries)
//! runs in the background ([`deliver`]); the conditions nobody's request meets are checked by a
//! loop ([`watch`]).

pub mod deliver;
pub mod watch;

use crate::admin::i18n::Strings;
use crate::clock::Clock;
use crate::domain::Provider;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use tokio::sync::mpsc;

/// At most one alert per kind and subject in this time.
pub const QUIET_MS: i64 = 10 * 60_000;

/// Wrong upload passwords from one booth within [`QUIET_MS`] that raise an alert.
pub const WRONG_PASSWORDS: usize = 3;

/// Alerts waiting to be delivered; beyond this, new ones are dropped (and logged).
const QUEUE: usize = 256;

/// Booths whose recent wrong passwords are remembered, at most.
const BOOTHS_REMEMBERED: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ProviderDown,
    ProviderRecovered,
    NoCredit,
    ModelRetiring,
    LowAiRate,
    WrongPasswords,
    BoothSilent,
    DiskLow,
    /// The Settings page's "send a test alert".
    Test,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProviderDown => "provider_down",
            Kind::ProviderRecovered => "provider_recovered",
            Kind::NoCredit => "no_credit",
            Kind::ModelRetiring => "model_retiring",
            Kind::LowAiRate => "low_ai_rate",
            Kind::WrongPasswords => "wrong_passwords",
            Kind::BoothSilent => "booth_silent",
            Kind::DiskLow => "disk_low",
            Kind::Test => "test",
        }
    }
}

/// What happened, with the facts its message needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    ProviderDown {
        provider: Provider,
        /// The last failure, in the provider's words.
        error: String,
    },
    ProviderRecovered {
        provider: Provider,
    },
    NoCredit {
        provider: Provider,
    },
    /// The configured model is not in its provider's list (or is retired).
    ModelMissing {
        provider: Provider,
        model: String,
    },
    /// The configured model shuts down on `date` (`YYYY-MM-DD`).
    ModelRetiring {
        provider: Provider,
        model: String,
        date: String,
    },
    /// In the running event, over the last 15 minutes.
    LowAiRate {
        event: String,
        delivered: i64,
        photos: i64,
        threshold: u32,
    },
    WrongPasswords {
        booth: String,
        count: usize,
    },
    BoothSilent {
        booth: String,
        minutes: u64,
    },
    DiskLow {
        free_mb: u64,
        reserve_mb: u64,
    },
    Test,
}

impl Event {
    pub fn kind(&self) -> Kind {
        match self {
            Event::ProviderDown { .. } => Kind::ProviderDown,
            Event::ProviderRecovered { .. } => Kind::ProviderRecovered,
            Event::NoCredit { .. } => Kind::NoCredit,
            Event::ModelMissing { .. } | Event::ModelRetiring { .. } => Kind::ModelRetiring,
            Event::LowAiRate { .. } => Kind::LowAiRate,
            Event::WrongPasswords { .. } => Kind::WrongPasswords,
            Event::BoothSilent { .. } => Kind::BoothSilent,
            Event::DiskLow { .. } => Kind::DiskLow,
            Event::Test => Kind::Test,
        }
    }

    /// What the alert is about: a provider, a model, an event, a booth.
    pub fn subject(&self) -> String {
        match self {
            Event::ProviderDown { provider, .. }
            | Event::ProviderRecovered { provider }
            | Event::NoCredit { provider } => provider.as_str().to_owned(),
            Event::ModelMissing { provider, model }
            | Event::ModelRetiring {
                provider, model, ..
            } => {
                format!("{}/{model}", provider.as_str())
            }
            Event::LowAiRate { event, .. } => event.clone(),
            Event::WrongPasswords { booth, .. } | Event::BoothSilent { booth, .. } => booth.clone(),
            Event::DiskLow { .. } => "disk".into(),
            Event::Test => "test".into(),
        }
    }

    /// The message, in the language of `t`.
    pub fn message(&self, t: &Strings) -> String {
        let provider_name = |p: &Provider| p.display_name().to_owned();
        match self {
            Event::ProviderDown { provider, error } => t
                .alert_provider_down
                .replace("{provider}", &provider_name(provider))
                .replace("{error}", &shortened(error)),
            Event::ProviderRecovered { provider } => t
                .alert_provider_recovered
                .replace("{provider}", &provider_name(provider)),
            Event::NoCredit { provider } => t
                .alert_no_credit
                .replace("{provider}", &provider_name(provider)),
            Event::ModelMissing { provider, model } => t
                .alert_model_missing
                .replace("{provider}", &provider_name(provider))
                .replace("{model}", model),
            Event::ModelRetiring {
                provider,
                model,
                date,
            } => t
                .alert_model_retiring
                .replace("{provider}", &provider_name(provider))
                .replace("{model}", model)
                .replace("{date}", date),
            Event::LowAiRate {
                event,
                delivered,
                photos,
                threshold,
            } => t
                .alert_low_ai_rate
                .replace("{event}", event)
                .replace("{percent}", &percent(*delivered, *photos).to_string())
                .replace("{delivered}", &delivered.to_string())
                .replace("{photos}", &photos.to_string())
                .replace("{threshold}", &threshold.to_string()),
            Event::WrongPasswords { booth, count } => t
                .alert_wrong_passwords
                .replace("{booth}", booth)
                .replace("{count}", &count.to_string()),
            Event::BoothSilent { booth, minutes } => t
                .alert_booth_silent
                .replace("{booth}", booth)
                .replace("{minutes}", &minutes.to_string()),
            Event::DiskLow {
                free_mb,
                reserve_mb,
            } => t
                .alert_disk_low
                .replace("{free}", &free_mb.to_string())
                .replace("{reserve}", &reserve_mb.to_string()),
            Event::Test => t.alert_test.to_owned(),
        }
    }
}

/// The most of a provider's words an alert quotes (a Telegram message holds 4096 characters).
const QUOTED: usize = 300;

fn shortened(words: &str) -> String {
    match words.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &words[..end]),
        None => words.to_owned(),
    }
}

/// A whole percent, rounded down: 89.9 % is below a threshold of 90.
fn percent(part: i64, whole: i64) -> i64 {
    if whole > 0 { part * 100 / whole } else { 0 }
}

/// An event raised, stamped when.
#[derive(Clone, Debug)]
pub struct Raised {
    pub event: Event,
    pub at_ms: i64,
}

/// Where alerts are raised: shared by the request paths and the loops.
pub struct Alerts {
    clock: Clock,
    queue: mpsc::Sender<Raised>,
    /// The receiving end, until the delivery loop takes it.
    inbox: Mutex<Option<mpsc::Receiver<Raised>>>,
    /// When each kind and subject was last raised (ms).
    last_raised: Mutex<HashMap<(Kind, String), i64>>,
    /// The times of each booth's recent wrong passwords (ms).
    wrong_passwords: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Alerts {
    pub fn new(clock: Clock) -> Alerts {
        let (queue, inbox) = mpsc::channel(QUEUE);
        Alerts {
            clock,
            queue,
            inbox: Mutex::new(Some(inbox)),
            last_raised: Mutex::default(),
            wrong_passwords: Mutex::default(),
        }
    }

    /// Queues an alert unless one of its kind and subject went out in the last ten minutes;
    /// never waits. Whether it was queued.
    pub fn raise(&self, event: Event) -> bool {
        let now = self.clock.now_ms();
        let key = (event.kind(), event.subject());
        {
            let mut last = self.last_raised.lock().expect("alerts lock");
            if last.get(&key).is_some_and(|at| now - at < QUIET_MS) {
                return false;
            }
            last.insert(key, now);
        }
        tracing::warn!(
            kind = event.kind().as_str(),
            subject = event.subject(),
            "alert"
        );
        let raised = Raised { event, at_ms: now };
        if self.queue.try_send(raised).is_err() {
            tracing::error!("the alert queue is full: an alert was dropped");
            return false;
        }
        true
    }

    /// A wrong upload password from `booth` (its name, else its address): the third within
    /// ten minutes raises an alert.
    pub fn wrong_password(&self, booth: &str) {
        let now = self.clock.now_ms();
        let count = {
            let mut booths = self.wrong_passwords.lock().expect("alerts lock");
            if booths.len() >= BOOTHS_REMEMBERED && !booths.contains_key(booth) {
                booths.retain(|_, times| times.back().is_some_and(|t| now - t < QUIET_MS));
                if booths.len() >= BOOTHS_REMEMBERED {
                    return;
                }
            }
            let times = booths.entry(booth.to_owned()).or_default();
            times.retain(|t| now - t < QUIET_MS);
            times.push_back(now);
            times.len()
        };
        if count >= WRONG_PASSWORDS {
            self.raise(Event::WrongPasswords {
                booth: booth.to_owned(),
                count,
            });
        }
    }

    /// The receiving end of the queue, for the one delivery loop.
    pub fn take_inbox(&self) -> Option<mpsc::Receiver<Raised>> {
        self.inbox.lock().expect("alerts lock").take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_alert_per_kind_and_subject_in_ten_minutes() {
        let clock = Clock::default();
        let alerts = Alerts::new(clock.clone());
        let mut inbox = alerts.take_inbox().unwrap();
        let down = |p| Event::ProviderRecovered { provider: p };
        assert!(alerts.raise(down(Provider::Nanobanana)));
        assert!(!alerts.raise(down(Provider::Nanobanana)), "repeated");
        assert!(alerts.raise(down(Provider::Deepseek)), "another subject");
        clock.advance(Duration::from_secs(9 * 60));
        assert!(!alerts.raise(down(Provider::Nanobanana)));
        clock.advance(Duration::from_secs(61));
        assert!(
            alerts.raise(down(Provider::Nanobanana)),
            "ten minutes later"
        );
        let mut queued = 0;
        while inbox.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 3);
    }

    #[test]
    fn the_third_wrong_password_in_ten_minutes_raises_one_alert() {
        let clock = Clock::default();
        let alerts = Alerts::new(clock.clone());
        let mut inbox = alerts.take_inbox().unwrap();
        alerts.wrong_password("BOOTH-1");
        alerts.wrong_password("BOOTH-1");
        clock.advance(Duration::from_secs(11 * 60));
        alerts.wrong_password("BOOTH-1");
        alerts.wrong_password("BOOTH-1");
        assert!(inbox.try_recv().is_err(), "two in ten minutes, twice");
        alerts.wrong_password("BOOTH-1");
        let raised = inbox.try_recv().unwrap();
        assert_eq!(
            raised.event,
            Event::WrongPasswords {
                booth: "BOOTH-1".into(),
                count: 3
            }
        );
        alerts.wrong_password("BOOTH-1");
        assert!(inbox.try_recv().is_err(), "quiet for ten minutes");
    }

    #[test]
    fn a_long_provider_error_is_quoted_short() {
        let t = crate::admin::i18n::Lang::En.strings();
        let event = Event::ProviderDown {
            provider: Provider::Nanobanana,
            error: "x".repeat(5000),
        };
        let message = event.message(t);
        assert!(message.chars().count() < 500, "{}", message.len());
        assert!(message.ends_with('…'));
    }

    #[test]
    fn a_rate_just_below_the_threshold_reads_below_it() {
        assert_eq!(percent(899, 1000), 89);
        assert_eq!(percent(0, 0), 0);
    }
}
