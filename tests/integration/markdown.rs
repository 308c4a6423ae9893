//! `show --format markdown` (issue 6, acceptance 3): the Markdown is parsed with a Markdown
//! library, as a pull-request page renders it, and checked against the plan it shows — the
//! counts table, deletions and conflicts listed before the folded full list, the digest to
//! approve — and against the golden files in `golden/markdown/` (`UPDATE_GOLDEN=1` rewrites
//! them; review the diff).

use std::path::Path;

use ftpsync::plan::document::Action;
use ftpsync::plan::effective_actions;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::support::fixture;
use crate::support::{ftpsync, repo, sync_fs, update_golden};
use ftpsync::plan::options::{Mode, PlanOptions};

/// What a renderer sees, block by block.
#[derive(Debug, PartialEq)]
enum Block {
    Heading(u8, String),
    /// Rows of cells, the header first.
    Table(Vec<Vec<String>>),
    Item(String),
    Html(String),
    Paragraph(String),
}

fn parse(md: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let (mut text, mut rows, mut row): (String, Vec<Vec<String>>, Vec<String>) = Default::default();
    let mut level = 0;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { level: l, .. }) => {
                level = l as u8;
                text.clear();
            }
            Event::End(TagEnd::Heading(_)) => blocks.push(Block::Heading(level, std::mem::take(&mut text))),
            Event::Start(Tag::Paragraph | Tag::Item | Tag::TableCell) => text.clear(),
            Event::End(TagEnd::Paragraph) if !text.is_empty() => {
                blocks.push(Block::Paragraph(std::mem::take(&mut text)))
            }
            Event::End(TagEnd::Item) => blocks.push(Block::Item(std::mem::take(&mut text))),
            Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut text)),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => rows.push(std::mem::take(&mut row)),
            Event::End(TagEnd::Table) => blocks.push(Block::Table(std::mem::take(&mut rows))),
            Event::Html(h) | Event::InlineHtml(h) => blocks.push(Block::Html(h.trim().to_string())),
            Event::Text(t) => text.push_str(&t),
            Event::Code(c) => text.push_str(&format!("`{c}`")),
            _ => {}
        }
    }
    blocks
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Plans with `args`, renders the plan as Markdown, checks it block by block against the plan,
/// and compares it (paths and digest replaced) with `golden/markdown/NAME.md`.
fn check(dir: &Path, name: &str, args: &[&str]) -> Vec<Block> {
    let plan_file = dir.join(format!("{name}.json"));
    let (local, remote) = (dir.join("local"), dir.join("remote"));
    let mut cmd = vec!["plan"];
    cmd.extend_from_slice(args);
    cmd.extend([s(&local), s(&remote), "-o", s(&plan_file)]);
    let out = ftpsync(&cmd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = ftpsync(&["show", s(&plan_file), "--format", "markdown"]);
    assert!(shown.status.success());
    let md = String::from_utf8(shown.stdout).unwrap();
    let digest = String::from_utf8(ftpsync(&["show", s(&plan_file), "--sha256"]).stdout).unwrap().trim().to_string();
    let loaded = ftpsync::plan::load(&plan_file).unwrap();
    let plan = &loaded.plan;
    let actions = effective_actions(&plan.entries);
    let blocks = parse(&md);

    // The title, then the counts: one row per action, as in the plan's summary.
    assert!(
        matches!(&blocks[0], Block::Heading(3, t) if t.contains(plan.mode.as_str()) && t.contains(s(&local))),
        "{:?}",
        blocks[0]
    );
    let Block::Table(counts) = &blocks[1] else { panic!("no counts table: {:?}", blocks[1]) };
    assert_eq!(counts[0], ["action", "entries", "detail"]);
    let expected: Vec<(String, String)> =
        plan.summary.actions.iter().map(|(a, n)| (a.as_str().to_string(), n.to_string())).collect();
    let shown_counts: Vec<(String, String)> = counts[1..].iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    assert_eq!(shown_counts, expected);
    if plan.summary.upload_files > 0 {
        let row = counts.iter().find(|r| r[0] == "upload").unwrap();
        assert!(row[2].starts_with(&format!("{} files, ", plan.summary.upload_files)), "{row:?}");
    }

    // Deletions, then conflicts, each headed by its count and listing every path.
    let heading = |prefix: &str| {
        blocks
            .iter()
            .position(|b| matches!(b, Block::Heading(4, t) if t.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no {prefix} heading"))
    };
    let items_after = |at: usize| {
        blocks[at + 1..]
            .iter()
            .map_while(|b| if let Block::Item(t) = b { Some(t.clone()) } else { None })
            .collect::<Vec<_>>()
    };
    let deleted: Vec<String> = plan
        .entries
        .iter()
        .zip(&actions)
        .filter(|(e, a)| matches!(a, Action::DeleteLocal | Action::DeleteRemote) && e.part_of.is_none())
        .map(|(e, a)| {
            format!(
                "`{}{}` ({})",
                e.path,
                if e.kind == ftpsync::model::Kind::Dir { "/" } else { "" },
                if *a == Action::DeleteLocal { "local" } else { "remote" }
            )
        })
        .collect();
    let (del, con) = (heading("Deletions"), heading("Conflicts"));
    assert!(matches!(&blocks[del], Block::Heading(_, t) if *t == format!("Deletions ({})", deleted.len())));
    assert_eq!(items_after(del), deleted);
    let conflicts: Vec<_> =
        plan.entries.iter().filter(|e| e.action == Action::Conflict && e.part_of.is_none()).collect();
    assert!(matches!(&blocks[con], Block::Heading(_, t) if *t == format!("Conflicts ({})", conflicts.len())));
    let listed = items_after(con);
    assert_eq!(listed.len(), conflicts.len());
    for (item, e) in listed.iter().zip(&conflicts) {
        assert!(item.starts_with(&format!("`{}", e.path)) && item.contains("→"), "{item}");
    }
    if deleted.is_empty() {
        assert_eq!(blocks[del + 1], Block::Paragraph("None.".into()));
    }

    // The full list, folded, after them: every entry that is not equal, in plan order.
    let open = blocks
        .iter()
        .position(|b| matches!(b, Block::Html(h) if h.starts_with("<details><summary>")))
        .expect("a <details> block");
    let close = blocks.iter().position(|b| matches!(b, Block::Html(h) if h == "</details>")).expect("a </details>");
    assert!(del < open && con < open && open < close, "deletions and conflicts come before the folded list");
    let Block::Table(all) = &blocks[open + 1] else { panic!("no table inside <details>: {:?}", blocks[open + 1]) };
    assert_eq!(all[0], ["action", "path", "reason"]);
    let changing: Vec<String> = plan
        .entries
        .iter()
        .zip(&actions)
        .filter(|(_, a)| **a != Action::Equal)
        .map(|(e, _)| e.path.to_string())
        .collect();
    let rows: Vec<String> = all[1..].iter().map(|r| r[1].trim_matches('`').trim_end_matches('/').to_string()).collect();
    assert_eq!(rows, changing);
    assert_eq!(close, open + 2);

    // The digest to approve, the same as `show --sha256`, in the command to run.
    let Some(Block::Paragraph(last)) = blocks.last() else { panic!("no closing paragraph") };
    assert!(last.starts_with("Plan digest: ") && last.contains(&format!("`sha256:{digest}`")), "{last}");
    assert!(last.contains(&format!("--expect-sha256 {digest}")), "{last}");

    // The golden file: paths and digest vary between runs.
    let root = std::fs::canonicalize(dir).unwrap();
    let normal = md.replace(s(&root), "<ROOT>").replace(s(dir), "<ROOT>").replace(&digest, "<DIGEST>");
    let golden = repo().join(format!("golden/markdown/{name}.md"));
    if update_golden() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &normal).unwrap();
    } else {
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        assert!(
            want == normal,
            "{} differs (UPDATE_GOLDEN=1 rewrites it; review the diff):\n{normal}",
            golden.display()
        );
    }
    blocks
}

#[test]
fn sync_plan_with_open_conflicts() {
    let dir = fixture::synced_then_modified();
    let blocks = check(dir.path(), "sync", &["sync"]);
    // Nobody could be asked (no terminal): every conflict shows as unresolved.
    assert!(blocks.iter().any(|b| matches!(b, Block::Item(t) if t.contains("conflict (unresolved)"))));
}

#[test]
fn upload_plan_with_deletions_and_resolved_conflicts() {
    let dir = fixture::synced_then_modified();
    let blocks = check(dir.path(), "upload-delete", &["upload", "--delete", "--resolve", "local"]);
    assert!(blocks.iter().any(|b| matches!(b, Block::Item(t) if t.ends_with("(remote)"))));
    assert!(!blocks.iter().any(|b| matches!(b, Block::Item(t) if t.contains("unresolved"))));
}

#[test]
fn plan_without_changes() {
    let dir = tempfile::tempdir().unwrap();
    fixture::initial_local(dir.path());
    sync_fs(&dir.path().join("local"), &dir.path().join("remote"), PlanOptions::new(Mode::Sync));
    let blocks = check(dir.path(), "no-changes", &["sync"]);
    assert!(blocks.iter().any(|b| *b == Block::Heading(4, "Deletions (0)".into())));
    assert!(blocks.iter().any(|b| *b == Block::Heading(4, "Conflicts (0)".into())));
}
