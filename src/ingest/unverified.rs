//! Bounds on uploads whose photo arrives before their password: until the password is checked,
//! anyone could be sending it. Their bytes on disk are capped across the server, and so is
//! how many one address may have at once; an upload whose password passed is bound by neither.

use crate::error::AppError;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// How long a refused sender is told to wait.
const RETRY_AFTER_SECS: u64 = 5;

#[derive(Default)]
pub struct UnverifiedBudget {
    inner: Mutex<Totals>,
}

#[derive(Default)]
struct Totals {
    bytes: u64,
    per_address: HashMap<IpAddr, u32>,
}

/// The limits in force for one upload (settings may change between uploads).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_per_address: u32,
}

impl UnverifiedBudget {
    /// Bytes of unverified photos held now, across the server.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().expect("budget lock").bytes
    }

    /// A claim for one upload; it takes nothing until its photo's first bytes arrive.
    pub fn claim(self: &Arc<Self>, ip: IpAddr, limits: Limits) -> Unverified {
        Unverified {
            budget: Arc::clone(self),
            ip,
            limits,
            bytes: 0,
            counted: false,
        }
    }
}

/// One upload's share of the budget, given back when it is dropped: once its password has
/// been checked, or when the upload ends.
pub struct Unverified {
    budget: Arc<UnverifiedBudget>,
    ip: IpAddr,
    limits: Limits,
    bytes: u64,
    counted: bool,
}

impl Unverified {
    /// Takes a chunk of photo that arrived before the password: `429` when the address already
    /// has its share of such uploads, `503` when the server's budget is spent.
    pub fn take(&mut self, len: usize) -> Result<(), AppError> {
        let mut totals = self.budget.inner.lock().expect("budget lock");
        if !self.counted {
            let uploads = totals.per_address.entry(self.ip).or_default();
            if *uploads >= self.limits.max_per_address {
                return Err(AppError::TooManyUnverified {
                    retry_after: RETRY_AFTER_SECS,
                });
            }
            *uploads += 1;
            self.counted = true;
        }
        let len = len as u64;
        if totals.bytes + len > self.limits.max_bytes {
            return Err(AppError::Busy(
                "too many photos are arriving without their password; try again shortly",
            ));
        }
        totals.bytes += len;
        self.bytes += len;
        Ok(())
    }
}

impl Drop for Unverified {
    fn drop(&mut self) {
        let mut totals = self.budget.inner.lock().expect("budget lock");
        totals.bytes -= self.bytes;
        if !self.counted {
            return;
        }
        if let Some(uploads) = totals.per_address.get_mut(&self.ip) {
            *uploads -= 1;
            if *uploads == 0 {
                totals.per_address.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 1000,
        max_per_address: 2,
    };

    #[test]
    fn an_address_gets_its_share_and_the_server_its_bytes() {
        let budget = Arc::new(UnverifiedBudget::default());
        let ip = "10.0.0.1".parse().unwrap();
        let mut first = budget.claim(ip, LIMITS);
        let mut second = budget.claim(ip, LIMITS);
        let mut third = budget.claim(ip, LIMITS);
        first.take(400).unwrap();
        second.take(400).unwrap();
        assert_eq!(third.take(1).unwrap_err().status(), 429);
        let mut other = budget.claim("10.0.0.2".parse().unwrap(), LIMITS);
        assert_eq!(other.take(300).unwrap_err().status(), 503);
        drop(first);
        assert_eq!(budget.bytes(), 400);
        third.take(1).unwrap();
        other.take(300).unwrap();
        drop((second, third, other));
        assert_eq!(budget.bytes(), 0);
        assert!(budget.inner.lock().unwrap().per_address.is_empty());
    }
}
