//! Fire drills: for a while a provider's calls fail at once as "overloaded", without being sent,
//! so the operator sees the fallback slots take over before it matters. A drilled call costs the
//! provider no health; the jobs it touched are marked.

use crate::domain::Provider;
use std::collections::HashMap;
use std::sync::Mutex;

/// The longest drill.
pub const MAX_MINUTES: u32 = 120;

#[derive(Default)]
pub struct Drills {
    /// Each drilled provider, and when its drill ends (ms).
    until: Mutex<HashMap<Provider, i64>>,
}

impl Drills {
    /// Drills `provider` until `until_ms`, replacing a drill it had.
    pub fn start(&self, provider: Provider, until_ms: i64) {
        self.until
            .lock()
            .expect("drill lock")
            .insert(provider, until_ms);
    }

    /// Ends the drill of `provider`, or every drill.
    pub fn end(&self, provider: Option<Provider>) {
        let mut until = self.until.lock().expect("drill lock");
        match provider {
            Some(provider) => {
                until.remove(&provider);
            }
            None => until.clear(),
        }
    }

    /// Whether `provider` is drilled at `now_ms`.
    pub fn is_on(&self, provider: Provider, now_ms: i64) -> bool {
        self.until
            .lock()
            .expect("drill lock")
            .get(&provider)
            .is_some_and(|until| *until > now_ms)
    }

    /// The drills on at `now_ms`, in tab order, with their ends.
    pub fn on(&self, now_ms: i64) -> Vec<(Provider, i64)> {
        let until = self.until.lock().expect("drill lock");
        Provider::ALL
            .into_iter()
            .filter_map(|p| until.get(&p).filter(|u| **u > now_ms).map(|u| (p, *u)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drill_ends_on_time_or_when_ended() {
        let drills = Drills::default();
        drills.start(Provider::Nanobanana, 1_000);
        drills.start(Provider::Turbotext, 5_000);
        assert!(drills.is_on(Provider::Nanobanana, 999));
        assert!(!drills.is_on(Provider::Nanobanana, 1_000), "over");
        assert!(!drills.is_on(Provider::Deepseek, 0));
        assert_eq!(
            drills.on(0),
            [(Provider::Turbotext, 5_000), (Provider::Nanobanana, 1_000)]
        );
        drills.end(Some(Provider::Turbotext));
        assert_eq!(drills.on(0), [(Provider::Nanobanana, 1_000)]);
        drills.end(None);
        assert!(drills.on(0).is_empty());
    }
}
