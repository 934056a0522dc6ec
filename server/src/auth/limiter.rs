//! Login throttling: after too many failures for one user name from one
//! client address, further attempts are refused for a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many tracked keys, expired entries are dropped on insert.
const MAX_TRACKED: usize = 10_000;

/// Per-node failure counts; a std mutex because it is held for a map lookup
/// only, never across an await.
#[derive(Debug)]
pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<(IpAddr, String), (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while the key is locked out.
    pub fn check(&self, ip: IpAddr, username: &str) -> Result<(), Duration> {
        let map = self.failures.lock().expect("limiter lock");
        match map.get(&(ip, username.to_lowercase())) {
            Some(&(count, since)) if count >= self.max_failures => {
                let elapsed = since.elapsed();
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr, username: &str) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() >= MAX_TRACKED {
            let window = self.window;
            map.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = map
            .entry((ip, username.to_lowercase()))
            .or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, ip: IpAddr, username: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(&(ip, username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn locks_out_after_max_failures() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(limiter.check(IP, "admin").is_ok());
            limiter.failed(IP, "admin");
        }
        assert!(limiter.check(IP, "Admin").is_err());
        assert!(limiter.check(IP, "other").is_ok());
    }

    #[test]
    fn success_clears_failures() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        limiter.failed(IP, "admin");
        limiter.succeeded(IP, "admin");
        limiter.failed(IP, "admin");
        assert!(limiter.check(IP, "admin").is_ok());
    }

    #[test]
    fn lockout_ends_after_the_window() {
        let limiter = LoginLimiter::new(1, Duration::from_millis(1));
        limiter.failed(IP, "admin");
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.check(IP, "admin").is_ok());
    }
}
