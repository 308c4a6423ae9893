//! What a target reports about one folder entry, and the clock apply uses.

use serde::{Deserialize, Serialize};

/// Kind of a listed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
}

impl Kind {
    pub fn is_dir(self) -> bool {
        self == Kind::Dir
    }
}

/// One entry of a folder listing, as the target reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time (POSIX seconds) as listed.
    pub mtime: f64,
    /// When the entry last changed by any means (local `ctime`), where the target knows it.
    pub changed: Option<f64>,
    /// Server-provided unique id (MLSD `unique` fact), where available.
    pub unique: Option<String>,
}

impl Entry {
    pub fn file(name: &str, size: u64, mtime: f64) -> Self {
        Entry { name: name.to_string(), kind: Kind::File, size, mtime, changed: None, unique: None }
    }

    pub fn dir(name: &str, mtime: f64) -> Self {
        Entry { name: name.to_string(), kind: Kind::Dir, size: 0, mtime, changed: None, unique: None }
    }
}

/// Something a listing contained that is not synchronised, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

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
