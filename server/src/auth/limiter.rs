//! Login throttling, in two parts:
//!
//! - **per account, across the cluster**: failures are counted in the shared
//!   database; past a few, each further attempt on that account must wait a
//!   delay that doubles with every failure (see [`account_delay`]). A browser
//!   that signed in to the account before carries a device cookie and is not
//!   held by that delay, so an attacker who guesses at an account cannot lock
//!   its owner out everywhere;
//! - **per client address, on this node** ([`AddressLimiter`]): too many
//!   failures from one address refuse it for a while, whatever the account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many tracked addresses, expired entries are dropped on insert.
const MAX_TRACKED: usize = 10_000;

/// How long an account must wait after its `failures`-th failure in a row:
/// nothing for the first `free` failures, then 1 s, 2 s, 4 s … up to `cap`.
pub fn account_delay(failures: u32, free: u32, cap: Duration) -> Duration {
    if failures < free {
        return Duration::ZERO;
    }
    let doublings = (failures - free).min(30);
    Duration::from_secs(1u64 << doublings).min(cap)
}

/// Per-node failure counts by client address; a std mutex because it is
/// held for a map lookup only, never across an await.
#[derive(Debug)]
pub struct AddressLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl AddressLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while the address is refused.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let map = self.failures.lock().expect("limiter lock");
        match map.get(&ip) {
            Some(&(count, since)) if count >= self.max_failures => {
                let elapsed = now.saturating_duration_since(since);
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr) {
        self.failed_at(ip, Instant::now());
    }

    fn failed_at(&self, ip: IpAddr, now: Instant) {
        let mut map = self.failures.lock().expect("limiter lock");
        let window = self.window;
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, since)| now.saturating_duration_since(*since) < window);
        }
        let entry = map.entry(ip).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.failures.lock().expect("limiter lock").remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn an_address_is_refused_after_max_failures_and_only_then() {
        let limiter = AddressLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check(IP).is_ok());
            limiter.failed(IP);
        }
        let wait = limiter.check(IP).unwrap_err();
        assert!(wait > Duration::from_secs(55), "{wait:?}");
        assert!(limiter.check(OTHER).is_ok());
    }

    #[test]
    fn success_clears_failures() {
        let limiter = AddressLimiter::new(2, Duration::from_secs(60));
        limiter.failed(IP);
        limiter.failed(IP);
        assert!(limiter.check(IP).is_err(), "refused first");
        limiter.succeeded(IP);
        limiter.failed(IP);
        assert!(limiter.check(IP).is_ok());
    }

    #[test]
    fn refusal_ends_after_the_window() {
        let window = Duration::from_secs(60);
        let limiter = AddressLimiter::new(1, window);
        let start = Instant::now();
        limiter.failed_at(IP, start);
        let later = start + Duration::from_secs(59);
        assert_eq!(limiter.check_at(IP, later), Err(Duration::from_secs(1)));
        assert!(limiter.check_at(IP, start + window).is_ok());
        // The next failure after the window starts a new count.
        limiter.failed_at(IP, start + window);
        assert!(limiter.check_at(IP, start + window).is_err());
    }

    #[test]
    fn account_delays_double_after_the_free_attempts_up_to_the_cap() {
        let cap = Duration::from_secs(60);
        assert_eq!(account_delay(4, 5, cap), Duration::ZERO);
        assert_eq!(account_delay(5, 5, cap), Duration::from_secs(1));
        assert_eq!(account_delay(6, 5, cap), Duration::from_secs(2));
        assert_eq!(account_delay(9, 5, cap), Duration::from_secs(16));
        assert_eq!(account_delay(40, 5, cap), cap);
    }
}
