//! What protects the login form beyond the per-account lockout: a per-address limit on
//! password attempts (spraying one password over many usernames is not slowed by any
//! account's lockout) and a bound on concurrent argon2id hashes (each costs about 19 MiB
//! and tens of milliseconds, so a flood of posts cannot exhaust the machine).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::ConsoleSettings;

/// Concurrent password checks at most.
const HASHING: usize = 4;
/// Addresses remembered before the forgotten ones are swept.
const SWEEP_AT: usize = 10_000;

/// The login form's limits.
#[derive(Debug)]
pub struct LoginGuard {
    per_address: DefaultKeyedRateLimiter<String>,
    hashing: Semaphore,
}

impl LoginGuard {
    /// Built from `console.login_attempts_per_minute`.
    pub fn new(settings: &ConsoleSettings) -> Self {
        let per_minute =
            NonZeroU32::new(settings.login_attempts_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        LoginGuard {
            per_address: RateLimiter::keyed(Quota::per_minute(per_minute)),
            hashing: Semaphore::new(HASHING),
        }
    }

    /// Whether `address` may try a password now (counts the attempt).
    pub fn admit(&self, address: &str) -> bool {
        if self.per_address.len() > SWEEP_AT {
            self.per_address.retain_recent();
        }
        self.per_address.check_key(&address.to_owned()).is_ok()
    }

    /// A turn to hash a password: waits while four checks run.
    pub async fn hashing(&self) -> Option<SemaphorePermit<'_>> {
        self.hashing.acquire().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_allowance() {
        let settings = ConsoleSettings {
            login_attempts_per_minute: 3,
            ..ConsoleSettings::default()
        };
        let guard = LoginGuard::new(&settings);
        for _ in 0..3 {
            assert!(guard.admit("10.0.0.1"));
        }
        assert!(!guard.admit("10.0.0.1"), "the fourth in a minute");
        assert!(guard.admit("10.0.0.2"), "another address");
    }
}
