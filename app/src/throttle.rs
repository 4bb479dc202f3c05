//! Sign-in throttling: attempts are limited per client address, failures per account,
//! so that guessing passwords is slow whichever of the two an attacker varies, while
//! people who type their password right are never held back by their own sign-ins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// An account is locked at its 5th failure in a row, then allows one more failure
/// every 3 minutes (the quota's burst is one less: the failure that finds it empty
/// is the one that locks).
const FAILURES_BEFORE_LOCK: u32 = 5;
const ACCOUNT_REFILL: Duration = Duration::from_secs(180);
/// 20 attempts per address at once (unless configured otherwise), then one more every
/// 15 seconds.
pub const SIGN_INS_PER_ADDRESS: u32 = 20;
const ADDRESS_REFILL: Duration = Duration::from_secs(15);

pub struct LoginThrottle {
    /// Failed sign-ins per account.
    failures: DefaultKeyedRateLimiter<String>,
    /// Accounts whose failure quota ran out, until when.
    locked: Mutex<HashMap<String, Instant>>,
    /// Attempts per client address.
    addresses: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(burst: u32, every: Duration) -> Quota {
    Quota::with_period(every)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"))
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(SIGN_INS_PER_ADDRESS)
    }
}

fn account_key(username: &str) -> String {
    username.to_lowercase()
}

impl LoginThrottle {
    /// A throttle that lets one address make `per_address` attempts at once (at least
    /// one): more where many people share an address, behind a proxy.
    pub fn new(per_address: u32) -> Self {
        Self {
            failures: RateLimiter::keyed(quota(FAILURES_BEFORE_LOCK - 1, ACCOUNT_REFILL)),
            locked: Mutex::default(),
            addresses: RateLimiter::keyed(quota(per_address.max(1), ADDRESS_REFILL)),
        }
    }

    /// Counts one attempt before the password is checked; `Err(seconds)` says how long
    /// to wait when the address is over its limit or the account is locked.
    pub fn attempt(&self, username: &str, address: IpAddr) -> Result<(), u64> {
        let clock = DefaultClock::default();
        self.addresses
            .check_key(&address)
            .map_err(|n| n.wait_time_from(clock.now()).as_secs().max(1))?;
        let locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        match locked.get(&account_key(username)) {
            Some(until) if *until > Instant::now() => {
                Err((*until - Instant::now()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in of `username`; locks the account when its quota is spent.
    pub fn failed(&self, username: &str) {
        if self.failures.check_key(&account_key(username)).is_err() {
            let now = Instant::now();
            let mut locked = self.locked.lock().unwrap_or_else(|e| e.into_inner());
            locked.retain(|_, until| *until > now);
            locked.insert(account_key(username), now + ACCOUNT_REFILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_account_and_successes_cost_nothing() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..10 {
            assert!(t.attempt("carol", ip).is_ok(), "sign-ins that succeed");
        }
        for _ in 0..5 {
            assert!(t.attempt("Alice", ip).is_ok());
            t.failed("alice");
        }
        let wait = t.attempt("alice", ip).unwrap_err();
        assert!((1..=180).contains(&wait), "{wait}");
        assert!(
            t.attempt("bob", ip).is_ok(),
            "other accounts are not affected"
        );
    }

    #[test]
    fn one_address_is_limited_across_accounts() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for n in 0..20 {
            assert!(t.attempt(&format!("user{n}"), ip).is_ok());
        }
        assert!(t.attempt("user99", ip).is_err());
        assert!(t.attempt("user99", "10.0.0.10".parse().unwrap()).is_ok());
    }

    #[test]
    fn a_shared_address_may_be_given_more_attempts_but_accounts_still_lock() {
        let t = LoginThrottle::new(100);
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        for n in 0..100 {
            assert!(t.attempt(&format!("user{n}"), proxy).is_ok(), "attempt {n}");
        }
        assert!(t.attempt("user100", proxy).is_err());
        let t = LoginThrottle::new(100);
        for _ in 0..5 {
            assert!(t.attempt("mallory", proxy).is_ok());
            t.failed("mallory");
        }
        assert!(
            t.attempt("mallory", proxy).is_err(),
            "the account lock is unchanged"
        );
        assert_eq!(
            LoginThrottle::new(0).attempt("x", proxy),
            Ok(()),
            "0 means 1"
        );
    }
}
