//! Provider health, from the outcomes of the jobs' attempts: `down` after three provider-side
//! failures in a row within two minutes (its slots go straight to their fallbacks for a minute,
//! then one job probes it), `degraded` while any of its last ten attempts failed provider-side,
//! else `ok`. Kept in memory; every provider starts `ok`.

use crate::config::DEFAULT_PROVIDER_COOLDOWN;
use crate::domain::Provider;
use crate::error::ProviderError;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FAILURES_TO_DOWN: usize = 3;
const FAILURE_WINDOW: Duration = Duration::from_secs(120);
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

/// What an attempt's end changed: worth telling the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    WentDown,
    Recovered,
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
    last_error: Option<LastFailure>,
}

/// The last failure a provider's calls met, whether it cost its health or only a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastFailure {
    /// [`ProviderError::kind`].
    pub kind: &'static str,
    pub message: String,
    /// A key, model, credit or address the operator has to fix.
    pub for_operator: bool,
}

impl LastFailure {
    fn of(error: &ProviderError) -> LastFailure {
        let for_operator = error.for_operator();
        LastFailure {
            kind: error.kind(),
            message: for_operator.clone().unwrap_or_else(|| error.to_string()),
            for_operator: for_operator.is_some(),
        }
    }
}

pub struct Health {
    providers: Mutex<HashMap<Provider, Record>>,
    down_for: Duration,
}

impl Default for Health {
    fn default() -> Health {
        Health::new(DEFAULT_PROVIDER_COOLDOWN)
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

    /// An attempt's end: `Err` for a provider-side failure.
    pub fn record(
        &self,
        provider: Provider,
        outcome: Result<(), &ProviderError>,
    ) -> Option<Change> {
        let now = Instant::now();
        let mut providers = self.providers.lock().expect("health lock");
        let record = providers.entry(provider).or_default();
        record.probing = false;
        record.recent.push_back(outcome.is_err());
        if record.recent.len() > REMEMBERED {
            record.recent.pop_front();
        }
        let was_down = record.down_until.is_some();
        match outcome {
            Ok(()) => {
                record.streak.clear();
                record.down_until = None;
                was_down.then_some(Change::Recovered)
            }
            Err(error) => {
                record.last_error = Some(LastFailure::of(error));
                record
                    .streak
                    .retain(|t| now.duration_since(*t) <= FAILURE_WINDOW);
                record.streak.push(now);
                // A failed probe, or the third failure in a row: down for a minute.
                if was_down || record.streak.len() >= FAILURES_TO_DOWN {
                    record.down_until = Some(now + self.down_for);
                }
                (!was_down && record.down_until.is_some()).then_some(Change::WentDown)
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

    /// A problem met without failing the attempt (DeepSeek's writer falling back to the
    /// slot's prompt): remembered, the health unchanged.
    pub fn note(&self, provider: Provider, error: &ProviderError) {
        let mut providers = self.providers.lock().expect("health lock");
        providers.entry(provider).or_default().last_error = Some(LastFailure::of(error));
    }

    /// The last failure the provider's calls met.
    pub fn last_error(&self, provider: Provider) -> Option<LastFailure> {
        let providers = self.providers.lock().expect("health lock");
        providers.get(&provider).and_then(|r| r.last_error.clone())
    }

    /// The last failure, if it is the operator's to fix (for Settings).
    pub fn operator_error(&self, provider: Provider) -> Option<String> {
        self.last_error(provider)
            .filter(|f| f.for_operator)
            .map(|f| f.message)
    }

    /// New keys or models deserve a fresh start: what the operator had to fix is forgotten.
    pub fn forget_operator_errors(&self) {
        let mut providers = self.providers.lock().expect("health lock");
        for record in providers.values_mut() {
            if record.last_error.as_ref().is_some_and(|f| f.for_operator) {
                record.last_error = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_problem_is_the_operators_until_the_settings_change() {
        let health = Health::default();
        let p = Provider::Deepseek;
        health.note(p, &ProviderError::NoCredit("quota".into()));
        assert_eq!(health.status(p), Status::Ok, "a warning costs no health");
        assert_eq!(health.last_error(p).unwrap().kind, "no_credit");
        assert!(health.operator_error(p).unwrap().contains("no credit"));
        health.forget_operator_errors();
        assert_eq!(health.last_error(p), None);
    }

    #[test]
    fn three_failures_in_a_row_take_a_provider_down_and_a_success_brings_it_back() {
        let health = Health::default();
        let p = Provider::Nanobanana;
        assert_eq!(health.status(p), Status::Ok);
        let overloaded = ProviderError::Transient("overloaded".into());
        assert_eq!(health.record(p, Err(&overloaded)), None);
        assert_eq!(health.status(p), Status::Degraded);
        assert_eq!(health.record(p, Err(&overloaded)), None);
        assert_eq!(health.admit(p), Admission::Go);
        assert_eq!(health.record(p, Err(&overloaded)), Some(Change::WentDown));
        assert_eq!(health.status(p), Status::Down);
        assert_eq!(
            health.record(p, Err(&overloaded)),
            None,
            "still down: no second change"
        );
        assert_eq!(health.admit(p), Admission::Skip);
        let failure = health.last_error(p).unwrap();
        assert_eq!(failure.kind, "transient");
        assert!(failure.message.contains("overloaded"));
        assert_eq!(health.operator_error(p), None, "not the operator's to fix");
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
        assert_eq!(health.record(p, Ok(())), Some(Change::Recovered));
        assert_eq!(health.record(p, Ok(())), None);
        assert_eq!(health.admit(p), Admission::Go);
        assert_eq!(health.status(p), Status::Ok);
    }
}
