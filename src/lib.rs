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
//! Module map, in the order the layers point (each uses only those after it):
//! - [`cli`], [`settings`], [`commands`]: the command line, plain settings, one file per command;
//! - [`taskfile`]: `pyftpsync.yaml`, the tasks of `ftpsync run`;
//! - [`credentials`]: FTP user name and password (URL, keyring, `.netrc`, prompt);
//! - [`output`]: everything printed for people;
//! - [`scan`]: the I/O half of planning: lists both sides into a snapshot, makes the plan;
//! - [`ask`]: `--resolve ask`, the interactive conflict prompt (a layer after planning);
//! - [`verify`]: `ftpsync verify`, what a target holds against a report, a plan or another
//!   target (read-only: listings and digests);
//! - [`apply`]: the only code that changes anything, and its report;
//! - [`planner`]: classification and decisions, without I/O;
//! - [`plan`]: the plan document, the options it records, its file formats and digest;
//! - [`backend`]: the [`backend::Target`] trait and its implementations (local, memory, FTP);
//! - [`meta`]: pyftpsync's `.pyftpsync-meta.json`, byte-compatible;
//! - [`model`]: the vocabulary all of them share (an entry, a relative path, the clock);
//! - [`server`]: an embedded FTP/FTPS server (`ftpsync serve`, tests);
//! - [`error`]: exit codes, and Ctrl-C;
//! - [`fuzzing`]: the properties the fuzz targets check (replayed by the tests).

pub mod apply;
pub mod ask;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod error;
pub mod fuzzing;
pub mod meta;
pub mod model;
pub mod output;
pub mod plan;
pub mod planner;
pub mod scan;
pub mod server;
pub mod settings;
pub mod taskfile;
pub mod verify;
