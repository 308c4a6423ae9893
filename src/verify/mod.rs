//! `ftpsync verify`: proves what a target holds, after an apply and at any time later.
//!
//! What should be there comes from a report (the files apply wrote, with their sha256) or a
//! plan (every entry's state after the apply) ([`expect`]), or from another target (`verify
//! LOCAL REMOTE`). The target is listed in full ([`walk`]); presence, kind, size and time are
//! compared from the listing, content by digests ([`digests`]): the server's own hashing where
//! it offers a SHA-2 one, else (with `--download`) by streaming and hashing each file. Each
//! file's result names the method, and whether it proves the content ([`compare`]).

pub mod compare;
pub mod digests;
pub mod expect;
pub mod render;
pub mod walk;

use serde::{Deserialize, Serialize};

use crate::model::Kind;

/// The verify document's format name and version (`schemas/verify.schema.json`).
pub const VERIFY_FORMAT: &str = "ftpsync-verify";
pub const VERIFY_VERSION: &str = "1.0";

/// What a file (or folder) is expected or found to be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Seconds since 1970 (the time pyftpsync's metadata gives where the server's differs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// How one file compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// As expected (see the method for how far that is proven).
    Match,
    /// There, but not as expected (kind, size, time or content).
    Differs,
    /// Expected, not there.
    Missing,
    /// There, not expected: should have been deleted, or (`--strict`, two targets) unknown.
    Extra,
    /// Could not be checked (the server failed to hash or send it).
    Error,
}

/// One file's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileResult {
    pub path: String,
    pub status: Status,
    /// How it was checked: `listing` (presence, size, time), `HASH SHA-256`, `XSHA256`,
    /// `download (SHA-256)`, `read locally (SHA-256)`, ...
    pub method: String,
    /// Whether the content was compared by a SHA-2 digest (not only size and time).
    pub content_proven: bool,
    /// What differs, or why the content was not proven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<State>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<State>,
}

/// Counts over all files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub checked: u64,
    pub matched: u64,
    pub differs: u64,
    pub missing: u64,
    pub extra: u64,
    pub errors: u64,
    /// Files whose content was proven by a SHA-2 digest.
    pub content_proven: u64,
}

/// What `verify` compared, and how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub format: String,
    pub format_version: String,
    pub tool: crate::plan::document::Tool,
    /// `report`, `plan` or `targets`.
    pub against: String,
    /// The report or plan file, or the first target.
    pub source: String,
    /// The target checked (as shown to people, without password).
    pub target: String,
    pub strict: bool,
    pub download: bool,
    /// `match` (exit 0), `differs` (exit 4) or `error` (exit 1: some files could not be checked).
    pub result: String,
    pub counts: Counts,
    /// Every file checked, by path.
    pub files: Vec<FileResult>,
}

impl Verdict {
    /// A verdict over `files` (sorted here) with its counts and result.
    pub fn new(
        against: &str,
        source: String,
        target: String,
        strict: bool,
        download: bool,
        mut files: Vec<FileResult>,
    ) -> Verdict {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut c = Counts { checked: files.len() as u64, ..Counts::default() };
        for f in &files {
            match f.status {
                Status::Match => c.matched += 1,
                Status::Differs => c.differs += 1,
                Status::Missing => c.missing += 1,
                Status::Extra => c.extra += 1,
                Status::Error => c.errors += 1,
            }
            c.content_proven += u64::from(f.content_proven && f.status == Status::Match);
        }
        let result = if c.differs + c.missing + c.extra > 0 {
            "differs"
        } else if c.errors > 0 {
            "error"
        } else {
            "match"
        };
        Verdict {
            format: VERIFY_FORMAT.into(),
            format_version: VERIFY_VERSION.into(),
            tool: crate::plan::tool(),
            against: against.into(),
            source,
            target,
            strict,
            download,
            result: result.into(),
            counts: c,
            files,
        }
    }
}
