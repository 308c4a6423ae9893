//! Rendering a plan for review: a terminal table, Markdown for a pull-request comment, or
//! JSON.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, ContentArrangement, Table};

use crate::model::Kind;
use crate::plan::document::{Action, EntryState, Plan, PlanEntry};
use crate::plan::effective_actions;

/// What `show` prints: [`table`], [`markdown`], or the plan as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Table,
    Json,
    Markdown,
}

/// Bytes for people: `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

fn state(s: Option<&EntryState>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.kind == Kind::Dir => "folder".into(),
        Some(s) => format!("{} B", s.size),
    }
}

fn label(e: &PlanEntry, action: Action) -> String {
    match (e.action, action) {
        (Action::Conflict, Action::Skip) if e.resolution.chosen().is_none() => "conflict (unresolved)".into(),
        (Action::Conflict, a) => format!("conflict → {}", a.as_str()),
        (_, a) => a.as_str().into(),
    }
}

fn display_path(e: &PlanEntry) -> String {
    if e.kind == Kind::Dir { format!("{}/", e.path) } else { e.path.to_string() }
}

/// Counts per action, with bytes.
pub fn summary_table(plan: &Plan) -> Table {
    let s = &plan.summary;
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["action", "entries", "detail"]);
    for (action, n) in &s.actions {
        let detail = match action {
            Action::Upload => format!("{} files, {}", s.upload_files, human_bytes(s.upload_bytes)),
            Action::Download => format!("{} files, {}", s.download_files, human_bytes(s.download_bytes)),
            _ => String::new(),
        };
        t.add_row(vec![Cell::new(action.as_str()), Cell::new(n), Cell::new(detail)]);
    }
    if s.conflicts > 0 {
        t.add_row(vec![
            Cell::new("conflicts"),
            Cell::new(s.conflicts),
            Cell::new(format!("{} unresolved", s.unresolved)),
        ]);
    }
    t
}

/// The plan as a terminal table: every entry that does something (or is skipped), then the
/// summary.
pub fn table(plan: &Plan, all: bool) -> String {
    let actions = effective_actions(&plan.entries);
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["action", "path", "local", "remote", "reason"]);
    let mut hidden = 0;
    for (e, a) in plan.entries.iter().zip(&actions) {
        if !all && *a == Action::Equal {
            hidden += 1;
            continue;
        }
        t.add_row(vec![
            label(e, *a),
            display_path(e),
            state(e.local.as_ref()),
            state(e.remote.as_ref()),
            e.reason_text.clone(),
        ]);
    }
    let mut out = format!(
        "Plan: {} {} ⇄ {} ({} entries, created {})\n",
        plan.mode.as_str(),
        plan.local.display,
        plan.remote.display,
        plan.entries.len(),
        plan.created
    );
    if t.row_count() > 0 {
        out.push_str(&format!("{t}\n"));
    }
    if hidden > 0 {
        out.push_str(&format!("({hidden} unchanged entries not shown; --all shows them)\n"));
    }
    out.push_str(&summary_table(plan).to_string());
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// The plan as Markdown for a pull-request comment: counts, deletions and conflicts first,
/// the full list folded, and the digest to approve.
pub fn markdown(plan: &Plan, digest: &str) -> String {
    let actions = effective_actions(&plan.entries);
    let s = &plan.summary;
    let mut md = format!(
        "### ftpsync plan: {} `{}` ⇄ `{}`\n\n",
        plan.mode.as_str(),
        md_escape(&plan.local.display),
        md_escape(&plan.remote.display)
    );
    md.push_str("| action | entries | detail |\n|---|---:|---|\n");
    for (action, n) in &s.actions {
        let detail = match action {
            Action::Upload => format!("{} files, {}", s.upload_files, human_bytes(s.upload_bytes)),
            Action::Download => format!("{} files, {}", s.download_files, human_bytes(s.download_bytes)),
            _ => String::new(),
        };
        md.push_str(&format!("| {} | {n} | {detail} |\n", action.as_str()));
    }
    let deletions: Vec<_> = plan
        .entries
        .iter()
        .zip(&actions)
        .filter(|(e, a)| matches!(a, Action::DeleteLocal | Action::DeleteRemote) && e.part_of.is_none())
        .collect();
    md.push_str(&format!("\n#### Deletions ({})\n\n", deletions.len()));
    if deletions.is_empty() {
        md.push_str("None.\n");
    }
    for (e, a) in &deletions {
        let side = if **a == Action::DeleteLocal { "local" } else { "remote" };
        md.push_str(&format!("- `{}` ({side})\n", md_escape(&display_path(e))));
    }
    let conflicts: Vec<_> = plan
        .entries
        .iter()
        .zip(&actions)
        .filter(|(e, _)| e.action == Action::Conflict && e.part_of.is_none())
        .collect();
    md.push_str(&format!("\n#### Conflicts ({})\n\n", conflicts.len()));
    if conflicts.is_empty() {
        md.push_str("None.\n");
    }
    for (e, a) in &conflicts {
        md.push_str(&format!(
            "- `{}`: {} → **{}**\n",
            md_escape(&display_path(e)),
            md_escape(&e.reason_text),
            label(e, **a)
        ));
    }
    let listed: Vec<_> = plan.entries.iter().zip(&actions).filter(|(_, a)| **a != Action::Equal).collect();
    md.push_str(&format!("\n<details><summary>All {} entries that change or are skipped</summary>\n\n", listed.len()));
    md.push_str("| action | path | reason |\n|---|---|---|\n");
    for (e, a) in listed {
        md.push_str(&format!(
            "| {} | `{}` | {} |\n",
            label(e, *a),
            md_escape(&display_path(e)),
            md_escape(&e.reason_text)
        ));
    }
    md.push_str("\n</details>\n\n");
    md.push_str(&format!(
        "Plan digest: `sha256:{digest}` (apply with `ftpsync apply PLAN --expect-sha256 {digest}`)\n"
    ));
    md
}
