//! Retry policy: capped exponential back-off with jitter, bounded by a count and by time.

use std::time::{Duration, Instant};

use crate::model::Config;

/// The retry rules of one engine (from [`Config`]).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub limit: u32,
    pub base: Duration,
    pub max: Duration,
    pub budget: Duration,
}

impl RetryPolicy {
    pub fn from_config(c: &Config) -> Self {
        RetryPolicy {
            limit: c.retry_limit,
            base: c.retry_base_interval,
            max: c.retry_max_interval,
            budget: c.retry_time_budget,
        }
    }

    /// The delay before retry number `attempt` (1-based): `base * 2^(attempt-1)`, capped at
    /// `max`, then scaled by a random factor in [0.5, 1.0] so that parts failing together do
    /// not retry in lock-step ("equal jitter").
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.max);
        raw.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// One streak of failures (of a part, or of a file-level request).
#[derive(Debug, Clone)]
pub struct Streak {
    attempts: u32,
    started: Instant,
}

impl Streak {
    pub fn new() -> Self {
        Streak {
            attempts: 0,
            started: Instant::now(),
        }
    }

    /// Records a failure. Returns the delay before the next attempt, or `None` when the count
    /// or the time budget is used up.
    pub fn next_delay(&mut self, policy: &RetryPolicy) -> Option<Duration> {
        self.next_delay_after(policy, false)
    }

    /// [`next_delay`](Self::next_delay), retrying at once when the streak's first failure is a
    /// dropped connection: on a lossy mobile path a reset is usually that one connection, and
    /// waiting would leave its lane of parallel parts idle. A second failure backs off as usual.
    pub fn next_delay_after(&mut self, policy: &RetryPolicy, reset: bool) -> Option<Duration> {
        self.attempts += 1;
        if self.attempts > policy.limit || self.started.elapsed() >= policy.budget {
            return None;
        }
        if reset && self.attempts == 1 {
            return Some(Duration::ZERO);
        }
        Some(policy.delay(self.attempts, fastrand::f64()))
    }
}

impl Default for Streak {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(limit: u32) -> RetryPolicy {
        RetryPolicy {
            limit,
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            budget: Duration::from_secs(3600),
        }
    }

    #[test]
    fn delay_doubles_caps_and_jitters() {
        let p = policy(100);
        assert_eq!(p.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(2, 1.0), Duration::from_millis(200));
        assert_eq!(p.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(p.delay(10, 1.0), Duration::from_secs(2));
        assert_eq!(p.delay(1000, 1.0), Duration::from_secs(2), "no overflow");
    }

    #[test]
    fn a_first_reset_is_retried_at_once_and_then_backs_off() {
        let p = policy(3);
        let mut s = Streak::new();
        assert_eq!(s.next_delay_after(&p, true), Some(Duration::ZERO));
        assert!(s.next_delay_after(&p, true).unwrap() >= Duration::from_millis(100));
        assert!(s.next_delay_after(&p, true).is_some());
        assert!(s.next_delay_after(&p, true).is_none(), "still counted");
        assert!(Streak::new().next_delay_after(&p, false).unwrap() > Duration::ZERO);
    }

    #[test]
    fn streak_stops_at_the_limit_and_the_budget() {
        let p = policy(3);
        let mut s = Streak::new();
        assert!(s.next_delay(&p).is_some());
        assert!(s.next_delay(&p).is_some());
        assert!(s.next_delay(&p).is_some());
        assert!(s.next_delay(&p).is_none());
        let no_time = RetryPolicy {
            budget: Duration::ZERO,
            ..policy(100)
        };
        assert!(Streak::new().next_delay(&no_time).is_none());
    }
}
