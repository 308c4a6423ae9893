//! ftpsync: plan-then-apply synchronisation of a local folder with an FTP/FTPS server (or
//! another folder), compatible with pyftpsync's command line and metadata.
//!
//! Data flow:
//! ```text
//!  targets ──scan──▶ Snapshot ──planner (pure)──▶ Plan ──file──▶ review ──▶ apply ──▶ targets
//!  (local, ftp,      (listings +      classify,      JSON /               checks, then
//!   memory)           metadata)       decide         MessagePack          changes + metadata
//! ```
//!
//! Module map:
//! - [`target`]: the [`target::Target`] trait and its implementations;
//! - [`meta`]: pyftpsync's `.pyftpsync-meta.json`, byte-compatible;
//! - [`scan`]: lists both sides into a [`planner::snapshot::Snapshot`];
//! - [`browse`]: reads one target's folders for `scan` and `tree`;
//! - [`planner`]: classification and decisions, without I/O;
//! - [`plan`]: the plan document, its file formats and digest;
//! - [`ask`]: `--resolve ask`, the interactive conflict prompt (a layer after planning);
//! - [`apply`]: the only code that changes anything;
//! - [`output`]: everything printed for people;
//! - [`fuzzing`]: the properties the fuzz targets check (replayed by the tests);
//! - [`server`]: an embedded FTP/FTPS server (`ftpsync serve`, tests);
//! - [`credentials`]: FTP user name and password (URL, keyring, `.netrc`, prompt);
//! - [`taskfile`]: `pyftpsync.yaml`, the tasks of `ftpsync run`;
//! - [`cli`], [`commands`]: the command line, one file per command.

pub mod apply;
pub mod ask;
pub mod browse;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod digest;
pub mod engine;
pub mod error;
pub mod filter;
pub mod fuzzing;
pub mod interrupt;
pub mod meta;
pub mod model;
pub mod options;
pub mod output;
pub mod plan;
pub mod planner;
pub mod relpath;
pub mod report;
pub mod scan;
pub mod server;
pub mod settings;
pub mod stats;
pub mod target;
pub mod taskfile;
