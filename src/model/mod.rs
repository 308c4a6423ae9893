//! The vocabulary every layer shares: a folder entry and a folder listing as a target reports
//! them, a target's identity, the two sides, paths relative to a target's root, the clock
//! apply records times with, sha256. No I/O, and nothing here imports any other module of the
//! crate.

pub mod clock;
pub mod digest;
pub mod entry;
pub mod listing;
pub mod relpath;
pub mod side;
pub mod target;

pub use clock::{Clock, StepClock, SystemClock};
pub use entry::{Entry, Kind, Skipped};
