//! Bandwidth limit (shared by all connections) and response latency.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The `POST /_sim/throttle` body. Both fields are set together: an absent `bandwidth` removes
/// the limit, an absent `latency_ms` means no latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleSettings {
    /// Request-body bytes per second across all connections; `None` = unlimited.
    #[serde(default)]
    pub bandwidth: Option<u64>,
    /// Milliseconds added before every non-admin response.
    #[serde(default)]
    pub latency_ms: u64,
}

struct State {
    settings: ThrottleSettings,
    // Virtual clock of the shared link: when the bytes granted so far have "arrived".
    next_free: Instant,
}

pub(crate) struct Throttle {
    state: Mutex<State>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            state: Mutex::new(State {
                settings,
                next_free: Instant::now(),
            }),
        }
    }

    pub fn set(&self, settings: ThrottleSettings) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.settings = settings;
        s.next_free = Instant::now();
    }

    pub fn settings(&self) -> ThrottleSettings {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .settings
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.settings().latency_ms)
    }

    /// Waits until `n` more body bytes fit in the shared bandwidth. Because the caller does not
    /// poll the body meanwhile, the TCP window fills and clients see real backpressure.
    pub async fn acquire(&self, n: usize) {
        let until = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let Some(bw) = s.settings.bandwidth.filter(|bw| *bw > 0) else {
                return;
            };
            let now = Instant::now();
            let start = s.next_free.max(now);
            s.next_free = start + Duration::from_secs_f64(n as f64 / bw as f64);
            s.next_free
        };
        tokio::time::sleep_until(until).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn shares_bandwidth() {
        let t = Throttle::new(ThrottleSettings {
            bandwidth: Some(1000),
            latency_ms: 0,
        });
        let start = Instant::now();
        t.acquire(500).await;
        t.acquire(500).await;
        assert_eq!(start.elapsed().as_millis(), 1000);
        t.set(ThrottleSettings::default());
        let start = Instant::now();
        t.acquire(1_000_000).await;
        assert_eq!(start.elapsed().as_millis(), 0);
    }
}
