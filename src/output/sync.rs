//! The output of a synchronisation run, in pyftpsync's shape: a header, one line per pair
//! (sorted by path), and the summary line.

use super::Printer;
use super::lines::action_line;
use crate::apply::stats::Counters;
use crate::plan::document::{Action, Plan};
use crate::plan::options::Mode;

/// `Synchronize /abs/local` / `                with ftp://host/dir` (no dry-run prefix, as in
/// pyftpsync).
pub fn header(p: &Printer, plan: &Plan) {
    let (verb, word) = match plan.mode {
        Mode::Sync => ("Synchronize", "with"),
        Mode::Upload => ("Upload", "to"),
        Mode::Download => ("Download to", "from"),
    };
    p.out(3, &format!("{verb} {}\n{word:>20} {}", plan.local.display, plan.remote.display));
    p.out(3, "Encoding local: utf-8, remote: utf-8");
}

/// The action lines, sorted by path (the plan's order).
pub fn action_lines(p: &Printer, plan: &Plan, actions: &[Action], dry_run: bool) {
    for (e, action) in plan.entries.iter().zip(actions) {
        if let Some(line) = action_line(e, *action, plan.mode) {
            p.out(line.min_level, &line.render(dry_run, p.color));
        }
    }
}

/// `Wrote 6/15 files in 5 directories, skipped: 7, errors: 0. Elap: 0.01 sec.`; at verbosity 5
/// and above the whole counter set.
pub fn summary(p: &Printer, c: &Counters, elapsed: f64, dry_run: bool, commit_window: Option<std::time::Duration>) {
    let prefix = if dry_run { "(DRY-RUN) " } else { "" };
    if p.verbosity >= 5 {
        let json = serde_json::to_string_pretty(c).unwrap_or_default();
        p.out(5, &format!("{prefix}{json}"));
        return;
    }
    p.out(
        1,
        &format!(
            "{prefix}Wrote {}/{} files in {} directories, skipped: {}, errors: {}. Elap: {elapsed:.2} sec.{}",
            c.files_written,
            c.local_files,
            c.local_dirs,
            c.conflict_files_skipped,
            c.errors,
            commit_window.map_or(String::new(), |w| format!(" Commit window: {:.0} ms.", w.as_secs_f64() * 1e3))
        ),
    );
}
