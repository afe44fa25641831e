//! Slows down password guessing: an address that fails too often is refused for a while,
//! without slowing anyone else.
//!
//! An attempt is counted *before* its password is checked (reserve, then settle), so however
//! many requests arrive at once, at most [`ALLOWED_FAILURES`] wrong guesses per address reach
//! the check inside the window; the others are refused without any work.

use crate::error::AppError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures (counting the checks still running) allowed per address within the window.
pub const ALLOWED_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(300);
const BLOCK: Duration = Duration::from_secs(60);
/// Addresses remembered at most; the oldest are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

struct Attempts {
    failures: u32,
    /// Checks under way whose outcome is not known yet.
    pending: u32,
    since: Instant,
    blocked_until: Option<Instant>,
}

impl Attempts {
    fn new(now: Instant) -> Attempts {
        Attempts {
            failures: 0,
            pending: 0,
            since: now,
            blocked_until: None,
        }
    }

    fn block(&mut self, now: Instant) {
        self.blocked_until = Some(now + BLOCK);
    }
}

/// The answer to a blocked address.
pub fn too_many(wait: Duration) -> AppError {
    AppError::TooManyAttempts {
        retry_after: wait.as_secs().max(1),
    }
}

#[derive(Default)]
pub struct Throttle {
    addresses: Mutex<HashMap<IpAddr, Attempts>>,
}

/// A password check that has been counted; settle it with its outcome. Dropped unsettled (the
/// request went away mid-check), it counts as a failure.
#[must_use = "settle the attempt with its outcome"]
pub struct Reservation {
    throttle: Arc<Throttle>,
    ip: IpAddr,
    settled: bool,
}

impl Reservation {
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.settle(self.ip, true);
    }

    pub fn failed(mut self) {
        self.settled = true;
        self.throttle.settle(self.ip, false);
    }

    /// The check never ran (the server was busy): neither a success nor a failure.
    pub fn withdrawn(mut self) {
        self.settled = true;
        self.throttle.withdraw(self.ip);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.settle(self.ip, false);
        }
    }
}

impl Throttle {
    /// `Err(wait)` while the address is blocked; a cheap look before any work is done.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let addresses = self.addresses.lock().expect("throttle lock");
        match addresses.get(&ip).and_then(|a| a.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a password check about to run, or refuses it when the address has used up its
    /// guesses (those still running included).
    pub fn reserve(self: &Arc<Self>, ip: IpAddr) -> Result<Reservation, Duration> {
        let now = Instant::now();
        let mut addresses = self.addresses.lock().expect("throttle lock");
        if addresses.len() >= MAX_ADDRESSES {
            addresses.retain(|_, a| {
                a.pending > 0
                    || now.duration_since(a.since) < WINDOW
                    || a.blocked_until.is_some_and(|u| u > now)
            });
        }
        let entry = addresses.entry(ip).or_insert_with(|| Attempts::new(now));
        if let Some(until) = entry.blocked_until.filter(|u| *u > now) {
            return Err(until - now);
        }
        if now.duration_since(entry.since) > WINDOW {
            *entry = Attempts {
                pending: entry.pending,
                ..Attempts::new(now)
            };
        }
        if entry.failures + entry.pending >= ALLOWED_FAILURES {
            entry.block(now);
            return Err(BLOCK);
        }
        entry.pending += 1;
        Ok(Reservation {
            throttle: Arc::clone(self),
            ip,
            settled: false,
        })
    }

    fn withdraw(&self, ip: IpAddr) {
        let mut addresses = self.addresses.lock().expect("throttle lock");
        if let Some(entry) = addresses.get_mut(&ip) {
            entry.pending = entry.pending.saturating_sub(1);
        }
    }

    fn settle(&self, ip: IpAddr, ok: bool) {
        let now = Instant::now();
        let mut addresses = self.addresses.lock().expect("throttle lock");
        let Some(entry) = addresses.get_mut(&ip) else {
            return;
        };
        entry.pending = entry.pending.saturating_sub(1);
        if ok {
            // The address knows the password: its earlier slips are forgiven.
            entry.failures = 0;
            entry.blocked_until = None;
            if entry.pending == 0 {
                addresses.remove(&ip);
            }
            return;
        }
        entry.failures += 1;
        if entry.failures >= ALLOWED_FAILURES {
            entry.block(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_one_address_after_repeated_failures() {
        let throttle = Arc::new(Throttle::default());
        let (guesser, other) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..ALLOWED_FAILURES {
            assert!(throttle.check(guesser).is_ok());
            throttle.reserve(guesser).unwrap().failed();
        }
        let wait = throttle.check(guesser).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= BLOCK);
        assert!(throttle.reserve(guesser).is_err());
        assert!(throttle.check(other).is_ok(), "others are not slowed");
    }

    #[test]
    fn checks_under_way_count_so_a_burst_cannot_pass_the_limit() {
        let throttle = Arc::new(Throttle::default());
        let ip = "10.0.0.3".parse().unwrap();
        let running: Vec<_> = (0..500).filter_map(|_| throttle.reserve(ip).ok()).collect();
        assert_eq!(running.len(), ALLOWED_FAILURES as usize);
        drop(running);
        assert!(
            throttle.check(ip).is_err(),
            "unsettled checks count as failures"
        );
    }

    #[test]
    fn a_success_forgives_earlier_slips() {
        let throttle = Arc::new(Throttle::default());
        let ip = "10.0.0.4".parse().unwrap();
        for _ in 0..ALLOWED_FAILURES - 1 {
            throttle.reserve(ip).unwrap().failed();
        }
        throttle.reserve(ip).unwrap().succeeded();
        for _ in 0..ALLOWED_FAILURES - 1 {
            throttle.reserve(ip).unwrap().failed();
        }
        assert!(throttle.check(ip).is_ok());
    }
}
