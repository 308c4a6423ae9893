//! The clock apply records times with: injected, so tests are deterministic.

/// Source of "now" for the times apply records; injected so tests are deterministic.
pub trait Clock: Send + Sync {
    fn now(&self) -> f64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A clock for tests: starts at a fixed time and advances a millisecond per reading.
#[derive(Debug)]
pub struct StepClock(std::sync::Mutex<f64>);

impl StepClock {
    pub fn new(start: f64) -> Self {
        StepClock(std::sync::Mutex::new(start))
    }

    /// Moves the clock forward.
    pub fn advance(&self, secs: f64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += secs;
    }
}

impl Clock for StepClock {
    fn now(&self) -> f64 {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += 0.001;
        *t
    }
}
