//! The vocabulary every layer shares: a folder entry as a listing reports it, paths relative
//! to a target's root, the clock apply records times with, sha256. No I/O, and nothing here
//! imports any other module of the crate.

pub mod clock;
pub mod digest;
pub mod entry;
pub mod relpath;

pub use clock::{Clock, StepClock, SystemClock};
pub use entry::{Entry, Kind, Skipped};
