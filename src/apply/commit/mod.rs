//! The commit of a staged apply: the journal of its renames, and how a commit cut short is
//! completed or undone.
//!
//! Staging puts every new version next to the old one under a temporary name, so that the
//! commit is only renames: first the entries that go away move aside, then the staged ones
//! take their names. The journal lists them before the first one runs.

pub mod burst;
pub mod journal;
pub mod recover;
pub mod resolve;
