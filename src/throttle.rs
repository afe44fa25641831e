//! Slows down password guessing: an address that fails too often is refused for a while,
//! without slowing anyone else.

use crate::error::AppError;
use axum::extract::{ConnectInfo, Request};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address within the window before it is blocked.
const ALLOWED_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(300);
const BLOCK: Duration = Duration::from_secs(60);
/// Addresses remembered at most; the oldest are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

struct Failures {
    count: u32,
    since: Instant,
    blocked_until: Option<Instant>,
}

/// The address a request came from (set by the connection loop).
pub fn peer_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The answer to a blocked address.
pub fn too_many(wait: Duration) -> AppError {
    AppError::TooManyAttempts {
        retry_after: wait.as_secs().max(1),
    }
}

#[derive(Default)]
pub struct Throttle {
    addresses: Mutex<HashMap<IpAddr, Failures>>,
}

impl Throttle {
    /// `Err(wait)` while the address is blocked.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let addresses = self.addresses.lock().expect("throttle lock");
        match addresses.get(&ip).and_then(|f| f.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut addresses = self.addresses.lock().expect("throttle lock");
        if addresses.len() >= MAX_ADDRESSES {
            addresses.retain(|_, f| {
                now.duration_since(f.since) < WINDOW || f.blocked_until.is_some_and(|u| u > now)
            });
        }
        let entry = addresses.entry(ip).or_insert(Failures {
            count: 0,
            since: now,
            blocked_until: None,
        });
        if now.duration_since(entry.since) > WINDOW {
            *entry = Failures {
                count: 0,
                since: now,
                blocked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= ALLOWED_FAILURES {
            entry.blocked_until = Some(now + BLOCK);
        }
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.addresses.lock().expect("throttle lock").remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_one_address_after_repeated_failures() {
        let throttle = Throttle::default();
        let (guesser, other) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..ALLOWED_FAILURES - 1 {
            throttle.failed(guesser);
            assert!(throttle.check(guesser).is_ok());
        }
        throttle.failed(guesser);
        let wait = throttle.check(guesser).unwrap_err();
        assert!(wait > Duration::from_secs(50) && wait <= BLOCK);
        assert!(throttle.check(other).is_ok(), "others are not slowed");
    }
}
