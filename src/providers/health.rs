//! Provider health, from the outcomes of the jobs' attempts: `down` after three provider-side
//! failures in a row within two minutes (its slots go straight to their fallbacks for a minute,
//! then one job probes it), `degraded` while any of its last ten attempts failed provider-side,
//! else `ok`. Kept in memory; every provider starts `ok`.

use crate::domain::Provider;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FAILURES_TO_DOWN: usize = 3;
const FAILURE_WINDOW: Duration = Duration::from_secs(120);
/// How long a provider stays down before one job probes it.
pub const DOWN_FOR: Duration = Duration::from_secs(60);
const REMEMBERED: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Degraded,
    Down,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }

    /// The Prometheus gauge's value.
    pub fn level(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Degraded => 1,
            Status::Down => 2,
        }
    }
}

/// Whether a job may call a provider now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Go,
    /// The provider was down and its minute is over: this job finds out whether it is back.
    Probe,
    /// Down: go straight to the next slot.
    Skip,
}

#[derive(Default)]
struct Record {
    /// Outcomes of the last attempts, newest last: `true` for a provider-side failure.
    recent: VecDeque<bool>,
    /// Times of the provider-side failures in a row, since the last success.
    streak: Vec<Instant>,
    down_until: Option<Instant>,
    probing: bool,
    last_error: Option<String>,
}

pub struct Health {
    providers: Mutex<HashMap<Provider, Record>>,
    down_for: Duration,
}

impl Default for Health {
    fn default() -> Health {
        Health::new(DOWN_FOR)
    }
}

impl Health {
    pub fn new(down_for: Duration) -> Health {
        Health {
            providers: Mutex::default(),
            down_for,
        }
    }

    pub fn admit(&self, provider: Provider) -> Admission {
        let now = Instant::now();
        let mut providers = self.providers.lock().expect("health lock");
        let record = providers.entry(provider).or_default();
        match record.down_until {
            Some(until) if until > now => Admission::Skip,
            Some(_) if record.probing => Admission::Skip,
            Some(_) => {
                record.probing = true;
                Admission::Probe
            }
            None => Admission::Go,
        }
    }

    /// An attempt's end: `Err` with its message for a provider-side failure.
    pub fn record(&self, provider: Provider, outcome: Result<(), &str>) {
        let now = Instant::now();
        let mut providers = self.providers.lock().expect("health lock");
        let record = providers.entry(provider).or_default();
        record.probing = false;
        record.recent.push_back(outcome.is_err());
        if record.recent.len() > REMEMBERED {
            record.recent.pop_front();
        }
        match outcome {
            Ok(()) => {
                record.streak.clear();
                record.down_until = None;
            }
            Err(message) => {
                record.last_error = Some(message.to_owned());
                record
                    .streak
                    .retain(|t| now.duration_since(*t) <= FAILURE_WINDOW);
                record.streak.push(now);
                // A failed probe, or the third failure in a row: down for a minute.
                if record.down_until.is_some() || record.streak.len() >= FAILURES_TO_DOWN {
                    record.down_until = Some(now + self.down_for);
                }
            }
        }
    }

    pub fn status(&self, provider: Provider) -> Status {
        let providers = self.providers.lock().expect("health lock");
        let Some(record) = providers.get(&provider) else {
            return Status::Ok;
        };
        if record
            .down_until
            .is_some_and(|until| until > Instant::now())
        {
            Status::Down
        } else if record.recent.iter().any(|failed| *failed) {
            Status::Degraded
        } else {
            Status::Ok
        }
    }

    /// The last provider-side failure's message.
    pub fn last_error(&self, provider: Provider) -> Option<String> {
        let providers = self.providers.lock().expect("health lock");
        providers.get(&provider).and_then(|r| r.last_error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_in_a_row_take_a_provider_down_and_a_success_brings_it_back() {
        let health = Health::default();
        let p = Provider::Nanobanana;
        assert_eq!(health.status(p), Status::Ok);
        health.record(p, Err("overloaded"));
        assert_eq!(health.status(p), Status::Degraded);
        health.record(p, Err("overloaded"));
        assert_eq!(health.admit(p), Admission::Go);
        health.record(p, Err("overloaded"));
        assert_eq!(health.status(p), Status::Down);
        assert_eq!(health.admit(p), Admission::Skip);
        assert_eq!(health.last_error(p).as_deref(), Some("overloaded"));
        assert_eq!(
            health.status(Provider::Deepseek),
            Status::Ok,
            "others unaffected"
        );
    }

    #[test]
    fn after_the_minute_one_job_probes() {
        let health = Health::default();
        let p = Provider::Turbotext;
        health
            .providers
            .lock()
            .unwrap()
            .entry(p)
            .or_default()
            .down_until = Some(Instant::now() - Duration::from_millis(1));
        assert_eq!(health.admit(p), Admission::Probe);
        assert_eq!(health.admit(p), Admission::Skip, "one probe at a time");
        health.record(p, Ok(()));
        assert_eq!(health.admit(p), Admission::Go);
        assert_eq!(health.status(p), Status::Ok);
    }
}
