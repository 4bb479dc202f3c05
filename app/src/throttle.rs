//! Sign-in throttling: attempts are limited per account and per client address, so
//! that guessing passwords is slow whichever of the two an attacker varies.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// 5 attempts per account at once, then one more every 3 minutes.
const PER_ACCOUNT: (u32, Duration) = (5, Duration::from_secs(180));
/// 20 attempts per address at once, then one more every 15 seconds.
const PER_ADDRESS: (u32, Duration) = (20, Duration::from_secs(15));

pub struct LoginThrottle {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota((burst, every): (u32, Duration)) -> Quota {
    Quota::with_period(every)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"))
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            accounts: RateLimiter::keyed(quota(PER_ACCOUNT)),
            addresses: RateLimiter::keyed(quota(PER_ADDRESS)),
        }
    }
}

impl LoginThrottle {
    /// Counts one attempt; `Err(seconds)` says how long to wait when over the limit.
    pub fn attempt(&self, username: &str, address: IpAddr) -> Result<(), u64> {
        let clock = DefaultClock::default();
        let wait = |not_until: governor::NotUntil<_>| {
            not_until.wait_time_from(clock.now()).as_secs().max(1)
        };
        self.addresses.check_key(&address).map_err(wait)?;
        self.accounts
            .check_key(&username.to_lowercase())
            .map_err(wait)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixth_attempt_on_one_account_waits() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            assert!(t.attempt("alice", ip).is_ok());
        }
        let wait = t.attempt("alice", ip).unwrap_err();
        assert!((1..=180).contains(&wait), "{wait}");
        assert!(
            t.attempt("bob", ip).is_ok(),
            "other accounts are not affected"
        );
    }
}
