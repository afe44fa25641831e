//! The one retry loop of every provider: try, and after a failure worth another try wait (the
//! provider's own delay, else exponential backoff) while time is left before the deadline.

use super::ProviderError;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Below this much time left another attempt cannot finish.
const MIN_ATTEMPT: Duration = Duration::from_secs(2);

/// Why an attempt failed, and whether another may help.
#[derive(Debug)]
pub enum Failure {
    /// Retrying will not help (or the time is up).
    Stop(ProviderError),
    /// Worth another try, after the provider's own delay if it named one.
    Retry {
        after: Option<Duration>,
        error: ProviderError,
    },
}

impl Failure {
    pub fn retry(error: ProviderError) -> Failure {
        Failure::Retry { after: None, error }
    }

    /// An answer that broke off or overflowed is worth another try while time is left.
    pub fn broken_answer(error: ProviderError) -> Failure {
        match error {
            ProviderError::OutOfTime => Failure::Stop(error),
            other => Failure::retry(other),
        }
    }
}

impl From<ProviderError> for Failure {
    /// Out of time stops; a transient error is worth another try; anything else is final.
    fn from(error: ProviderError) -> Failure {
        match error {
            ProviderError::Transient(_) => Failure::retry(error),
            other => Failure::Stop(other),
        }
    }
}

/// Runs `attempt` (given its number, from 1) until it succeeds, stops, or no further attempt
/// fits before `deadline` (or, unless `may_retry`, after the first); then the last error is
/// the answer. A slot with a fallback does not retry: it hands over to the next slot at once.
pub async fn with_retries<T, F, Fut>(
    what: &str,
    deadline: Instant,
    may_retry: bool,
    mut attempt: F,
) -> Result<T, ProviderError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut number = 0u32;
    loop {
        number += 1;
        let (after, error) = match attempt(number).await {
            Ok(value) => return Ok(value),
            Err(Failure::Stop(error)) => return Err(error),
            Err(Failure::Retry { error, .. }) if !may_retry => return Err(error),
            Err(Failure::Retry { after, error }) => (after, error),
        };
        let delay = after.unwrap_or_else(|| backoff(number));
        if Instant::now() + delay + MIN_ATTEMPT > deadline {
            return Err(error);
        }
        tracing::info!(attempt = number, delay_ms = delay.as_millis() as u64, %error, "retrying {what}");
        tokio::time::sleep(delay).await;
    }
}

/// Exponential backoff with jitter: about 1 s, 2 s, 4 s, at most 8 s.
fn backoff(attempt: u32) -> Duration {
    let base = 1000u64 << attempt.saturating_sub(1).min(3);
    let jitter = rand::random_range(0..=base / 5);
    Duration::from_millis(base - base / 10 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_until_done_and_stops_at_once_on_a_final_error() {
        let calls = AtomicU32::new(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        let result = with_retries("test", deadline, true, |n| {
            calls.fetch_add(1, Ordering::Relaxed);
            async move {
                if n < 3 {
                    Err(Failure::Retry {
                        after: Some(Duration::from_millis(1)),
                        error: ProviderError::Transient("busy".into()),
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result, Ok(3));
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        let stopped: Result<(), _> = with_retries("test", deadline, true, |_| async {
            Err(Failure::Stop(ProviderError::Refused("no".into())))
        })
        .await;
        assert_eq!(stopped, Err(ProviderError::Refused("no".into())));
    }

    #[tokio::test]
    async fn gives_up_when_the_next_try_would_not_fit() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries("test", deadline, true, |_| {
            calls.fetch_add(1, Ordering::Relaxed);
            async {
                Err(Failure::Retry {
                    after: Some(Duration::from_secs(4)),
                    error: ProviderError::Transient("rate limit".into()),
                })
            }
        })
        .await;
        assert_eq!(result, Err(ProviderError::Transient("rate limit".into())));
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "4 s + 2 s does not fit in 5 s"
        );
    }

    #[test]
    fn backoff_doubles_up_to_eight_seconds() {
        assert!((900..=1100).contains(&backoff(1).as_millis()));
        assert!((1800..=2200).contains(&backoff(2).as_millis()));
        assert!((7200..=8800).contains(&backoff(9).as_millis()));
    }
}
