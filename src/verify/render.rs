//! `ftpsync verify` for people: a table on a terminal, Markdown for a CI summary or an issue
//! (the JSON document is the [`Verdict`] itself).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::model::Kind;
use crate::verify::{FileResult, Status, Verdict};

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Match => "match",
        Status::Differs => "DIFFERS",
        Status::Missing => "MISSING",
        Status::Extra => "EXTRA",
        Status::Error => "ERROR",
    }
}

/// How far a file's match goes, for the method column.
fn method(f: &FileResult) -> String {
    if f.content_proven { format!("{} (content proven)", f.method) } else { f.method.clone() }
}

/// The rows shown: every difference and error, and the files whose content was not proven;
/// every entry with `all`.
fn shown(v: &Verdict, all: bool) -> impl Iterator<Item = &FileResult> {
    let unproven_file = |f: &FileResult| !f.content_proven && f.expected.as_ref().is_some_and(|e| e.kind == Kind::File);
    v.files.iter().filter(move |f| all || f.status != Status::Match || unproven_file(f))
}

/// One line saying what was found.
pub fn headline(v: &Verdict) -> String {
    let c = &v.counts;
    format!(
        "verify {} {} against {}: {} — {} checked, {} match ({} by content), {} differ, {} missing, {} extra, {} error(s)",
        v.against,
        v.source,
        v.target,
        v.result,
        c.checked,
        c.matched,
        c.content_proven,
        c.differs,
        c.missing,
        c.extra,
        c.errors
    )
}

/// A table of the differences, errors and files not proven by content (`all`: every file).
pub fn table(v: &Verdict, all: bool) -> String {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(vec!["status", "path", "method", "detail"]);
    for f in shown(v, all) {
        t.add_row(vec![
            status_word(f.status).to_string(),
            f.path.clone(),
            method(f),
            f.detail.clone().unwrap_or_default(),
        ]);
    }
    let mut out = headline(v);
    out.push('\n');
    if t.row_count() > 0 {
        out.push_str(&format!("{t}\n"));
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// Markdown: the counts, then every file (differences first), each with its method.
pub fn markdown(v: &Verdict) -> String {
    let c = &v.counts;
    let mut md = format!(
        "### ftpsync verify: `{}` against the {} `{}`\n\n**Result: {}**\n\n",
        md_escape(&v.target),
        v.against,
        md_escape(&v.source),
        v.result
    );
    md.push_str("| files | count |\n|---|---:|\n");
    for (name, n) in [
        ("checked", c.checked),
        ("match", c.matched),
        ("match, content proven by SHA-2", c.content_proven),
        ("differ", c.differs),
        ("missing", c.missing),
        ("extra", c.extra),
        ("errors", c.errors),
    ] {
        md.push_str(&format!("| {name} | {n} |\n"));
    }
    let mut files: Vec<&FileResult> = v.files.iter().collect();
    files.sort_by_key(|f| (f.status == Status::Match, f.path.clone()));
    if !files.is_empty() {
        md.push_str("\n| status | path | method | detail |\n|---|---|---|---|\n");
        for f in files {
            md.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                status_word(f.status),
                md_escape(&f.path),
                md_escape(&method(f)),
                md_escape(f.detail.as_deref().unwrap_or(""))
            ));
        }
    }
    md
}
