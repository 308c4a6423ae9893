//! Names that differ only in case, on a server that ignores case.
//!
//! With `--case strict` a plan may upload `Notes.txt` next to `notes.txt` (or next to a remote
//! `NOTES.TXT` it does not pair with). A server that folds case (Windows/IIS) holds one file
//! for both names: the second upload would replace the first, or be refused. Apply therefore
//! asks the server, once its lock is confirmed and before anything changes, whether it folds
//! case — only when the plan has such names (see `Target::folds_case`) — and stops with both
//! names when it does.

use std::collections::BTreeMap;

use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::document::{Action, Plan};
use crate::plan::layout::side_name;

/// The entries one remote folder would hold under one folded name: (path, remote name,
/// written by apply).
type Spellings<'a> = Vec<(&'a RelPath, &'a str, bool)>;

/// Pairs of paths that the remote side would hold in one folder after apply, whose names
/// differ only in case, where at least one of the two is written by apply.
pub fn collisions(plan: &Plan, actions: &[Action]) -> Vec<(RelPath, RelPath)> {
    let mut groups: BTreeMap<(RelPath, String), Spellings<'_>> = BTreeMap::new();
    for (e, a) in plan.entries.iter().zip(actions) {
        let written = *a == Action::Upload;
        let kept = e.remote.is_some() && *a != Action::DeleteRemote;
        if !(written || kept) {
            continue;
        }
        let name = side_name(e, Side::Remote);
        groups.entry((e.path.parent(), name.to_lowercase())).or_default().push((&e.path, name, written));
    }
    let mut out = Vec::new();
    for members in groups.values() {
        for (i, a) in members.iter().enumerate() {
            for b in &members[i + 1..] {
                if a.1 != b.1 && (a.2 || b.2) {
                    out.push((a.0.clone(), b.0.clone()));
                }
            }
        }
    }
    out
}

/// The message when the server folds case and the plan has `pairs` (not empty).
pub fn refusal(display: &str, pairs: &[(RelPath, RelPath)]) -> String {
    let named: Vec<String> = pairs.iter().take(5).map(|(a, b)| format!("{a:?} and {b:?}")).collect();
    let more = if pairs.len() > 5 { format!(" (and {} more pairs)", pairs.len() - 5) } else { String::new() };
    format!(
        "{display} ignores the case of names: {}{more} differ only in case and cannot both be stored there; nothing was changed. Rename one of each pair, or leave one out (--exclude)",
        named.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory::{MemoryFs, MemoryOptions};
    use crate::model::{Clock, SystemClock};
    use crate::plan::effective_actions;
    use crate::plan::options::{CaseMode, Mode, PlanOptions};
    use crate::scan::engine::make_plan;

    fn plan(local: &[&str], remote: &[&str], mode: Mode) -> Plan {
        let fs = |names: &[&str]| {
            let fs = MemoryFs::new(std::sync::Arc::new(SystemClock), MemoryOptions::default());
            names.iter().for_each(|n| fs.put_file(n, b"x", 1_600_000_000.0));
            fs
        };
        let (mut l, mut r) = (fs(local).target("local", false), fs(remote).target("remote", true));
        let mut options = PlanOptions::new(mode);
        options.case = Some(CaseMode::Strict);
        make_plan(&mut l, &mut r, options, SystemClock.now()).unwrap().plan
    }

    fn found(p: &Plan) -> Vec<(String, String)> {
        collisions(p, &effective_actions(&p.entries)).into_iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn two_local_names_or_a_local_and_a_remote_one() {
        let p = plan(&["Notes.txt", "notes.txt", "other.txt"], &[], Mode::Upload);
        assert_eq!(found(&p), vec![("Notes.txt".into(), "notes.txt".into())]);
        let p = plan(&["A.txt"], &["a.txt"], Mode::Upload);
        assert_eq!(found(&p), vec![("A.txt".into(), "a.txt".into())]);
        // Nothing written next to it: nothing to fear.
        assert!(found(&plan(&[], &["a.txt"], Mode::Upload)).is_empty());
        assert!(found(&plan(&["a.txt", "b.txt"], &["a.txt"], Mode::Upload)).is_empty());
        // Downloads write nothing on the remote.
        assert!(found(&plan(&["A.txt"], &["a.txt"], Mode::Download)).is_empty());
        // Folders too, and their content.
        let p = plan(&["Docs/x.txt", "docs/y.txt"], &[], Mode::Upload);
        assert_eq!(found(&p), vec![("Docs".into(), "docs".into())]);
        assert!(
            refusal("ftp://h/site", &[(RelPath::parse("Notes.txt").unwrap(), RelPath::parse("notes.txt").unwrap())])
                .contains("\"Notes.txt\" and \"notes.txt\"")
        );
    }
}
