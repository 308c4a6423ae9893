//! The commit journal: every rename a commit makes on one side, written before the first one.
//!
//! A commit makes the staged state visible in two waves: first every entry that is replaced or
//! deleted moves aside to a backup name ([`Step::Aside`]), then every staged entry takes its
//! final name ([`Step::Place`]). Renames are atomic, and each step's names say on their own
//! whether it happened: an entry is at its backup name or at its final name, never both. So
//! after a run died anywhere in the commit, the journal and one look at the names it lists are
//! enough to finish the commit ([`resolve::forward`](super::resolve::forward)) or undo it
//! ([`resolve::back`](super::resolve::back)). The JSON Schema is `schemas/journal.schema.json`.

use serde::{Deserialize, Serialize};

use crate::model::Kind;
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::Tool;

pub use crate::meta::JOURNAL_FILE;
use crate::meta::META_FILE;
pub const JOURNAL_FORMAT: &str = "ftpsync-journal";
pub const JOURNAL_VERSION: &str = "1.0";
/// The first of the two metadata waves ([`Step::wave`]): the old metadata files move aside.
pub const METADATA_WAVE: u8 = 3;
/// The wave in which staged content takes its final names.
pub const PLACE_WAVE: u8 = 2;

/// One side's pending commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format: String,
    pub format_version: String,
    pub tool: Tool,
    /// The run that wrote it (`ftpsync PID@HOST`, as in the lock), and when its commit began.
    pub run: String,
    pub created: String,
    /// Digest of the plan being applied.
    pub plan_sha256: String,
    pub side: Side,
    /// The target this side is (its display location), and the other side's: the two
    /// journals of one commit name each other, so recovery finds the pair.
    pub target: String,
    pub peer: String,
    /// In the order they run ([`Step::wave`]): entries moved aside before others take their
    /// names, content before metadata.
    pub steps: Vec<Step>,
    /// Every step ran: what is left is removing the backups. Recovery writes it before the
    /// first backup it removes; a commit that ran to its end needs no mark (the names show it,
    /// [`resolve::complete`](super::resolve::complete)), and older versions wrote it too.
    #[serde(default)]
    pub committed: bool,
    /// The commit is being undone: whoever finds the journal finishes undoing it, on both
    /// sides. Written on every side before the first undo, so the sides never go different
    /// ways.
    #[serde(default)]
    pub undo: bool,
}

/// One rename of a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// An entry that is replaced or deleted moves to a backup name; removed once the commit is
    /// complete, renamed back when it is undone.
    Aside { path: RelPath, backup: RelPath, kind: Kind },
    /// A staged entry (a verified file, a folder with its content, a metadata file) takes its
    /// final name; moved back to the staged name when the commit is undone.
    Place { staged: RelPath, path: RelPath, kind: Kind },
    /// A new folder created under its final name while staging, on a side that cannot rename
    /// folders (its content was staged inside it); removed when the commit is undone.
    Made { path: RelPath, kind: Kind },
    /// A deleted folder on a side that cannot rename folders: its files moved aside one by
    /// one, and the folder is removed once the commit is complete.
    Drop { path: RelPath, kind: Kind },
}

impl Step {
    /// The order steps run in: asides, then the rest. Content first, metadata last: a record
    /// never describes content that is not in place yet, and a metadata file is missing only
    /// between its own two waves (a missing file forgets what was in step), even while the
    /// commit runs: a run killed in it leaves true claims. Each wave runs after the one before
    /// has ended. (A kill -9 once found a local metadata file missing while the remote's wave
    /// ran: the local side runs both of its metadata waves at once, between two remote rounds,
    /// see `burst::local_renames`; the remote moves its old metadata aside in the content's
    /// round, see `burst::remote_round`.)
    pub fn wave(&self) -> u8 {
        let metadata = |path: &RelPath| path.name() == META_FILE;
        match self {
            Step::Aside { path, .. } if !metadata(path) => 0,
            Step::Made { .. } => 1,
            Step::Place { path, .. } if !metadata(path) => PLACE_WAVE,
            Step::Aside { .. } => METADATA_WAVE,
            Step::Place { .. } => METADATA_WAVE + 1,
            Step::Drop { .. } => METADATA_WAVE + 2,
        }
    }

    /// Every name the step involves.
    pub fn paths(&self) -> Vec<&RelPath> {
        match self {
            Step::Aside { path, backup, .. } => vec![path, backup],
            Step::Place { staged, path, .. } => vec![staged, path],
            Step::Made { path, .. } | Step::Drop { path, .. } => vec![path],
        }
    }
}

impl Journal {
    /// A journal for one side's steps (in any order: they are put in commit order here).
    pub fn new(
        side: Side,
        run: &str,
        created: &str,
        plan_sha256: &str,
        target: &str,
        peer: &str,
        mut steps: Vec<Step>,
    ) -> Journal {
        steps.sort_by_key(Step::wave);
        Journal {
            format: JOURNAL_FORMAT.into(),
            format_version: JOURNAL_VERSION.into(),
            tool: crate::plan::tool(),
            run: run.into(),
            created: created.into(),
            plan_sha256: plan_sha256.into(),
            side,
            target: target.into(),
            peer: peer.into(),
            steps,
            committed: false,
            undo: false,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a journal always serialises");
        out.push(b'\n');
        out
    }

    /// Reads a journal; refuses another format or a newer major version (a newer ftpsync's
    /// journal is left for that version to complete).
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Journal> {
        let journal: Journal = serde_json::from_slice(bytes)
            .map_err(|e| anyhow::anyhow!("the commit journal {JOURNAL_FILE} cannot be read ({e})"))?;
        if journal.format != JOURNAL_FORMAT || journal.format_version.split('.').next() != Some("1") {
            anyhow::bail!(
                "the commit journal {JOURNAL_FILE} is {} {}, which this version cannot complete: finish it with the \
                 ftpsync that wrote it ({} {})",
                journal.format,
                journal.format_version,
                journal.tool.name,
                journal.tool.version
            );
        }
        Ok(journal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    #[test]
    fn steps_run_asides_first_and_survive_a_round_trip() {
        let steps = vec![
            Step::Place { staged: p(".ftpsync-tmp-1-s0"), path: p("a.html"), kind: Kind::File },
            Step::Aside { path: p("a.html"), backup: p(".ftpsync-tmp-1-b0"), kind: Kind::File },
        ];
        let j = Journal::new(Side::Remote, "ftpsync 1@h", "t", "d", "ftp://h/", "/l", steps);
        assert!(matches!(j.steps[0], Step::Aside { .. }) && matches!(j.steps[1], Step::Place { .. }));
        assert_eq!(Journal::parse(&j.to_bytes()).unwrap(), j);
    }

    #[test]
    fn another_major_version_is_refused_with_what_to_do() {
        let mut j = Journal::new(Side::Local, "r", "t", "d", "/l", "ftp://h/", Vec::new());
        j.format_version = "2.0".into();
        let err = Journal::parse(&j.to_bytes()).unwrap_err().to_string();
        assert!(err.contains("finish it with the ftpsync that wrote it"), "{err}");
        assert!(Journal::parse(b"{").unwrap_err().to_string().contains("cannot be read"));
    }
}
