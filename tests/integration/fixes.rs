//! The deliberate fixes of pyftpsync bugs (contract §5) that the fixture scenarios do not
//! exercise, each on the in-memory target.

use std::sync::Arc;
use std::time::Duration;

use ftpsync::apply::{ApplySettings, apply};
use ftpsync::backend::memory::{MemoryFs, MemoryOptions};
use ftpsync::meta::WriteStyle;
use ftpsync::model::{Clock, StepClock};
use ftpsync::plan::document::{Action, Plan, Reason, Resolution, ResolutionChoice};
use ftpsync::plan::options::{Mode, PlanOptions, Resolve};
use ftpsync::scan::engine::make_plan;

use crate::support::bounded;

struct Pair {
    clock: Arc<StepClock>,
    local: MemoryFs,
    remote: MemoryFs,
}

impl Pair {
    fn new() -> Pair {
        let clock = Arc::new(StepClock::new(1_700_000_000.0));
        Pair {
            local: MemoryFs::new(clock.clone(), MemoryOptions::default()),
            remote: MemoryFs::new(clock.clone(), MemoryOptions::default()),
            clock,
        }
    }

    fn plan(&self, options: PlanOptions) -> Plan {
        let (mut l, mut r) = (self.local.target("l", false), self.remote.target("r", false));
        make_plan(&mut l, &mut r, options, self.clock.now()).unwrap().plan
    }

    fn run(&self, options: PlanOptions) -> Plan {
        let plan = self.plan(options);
        let (mut l, mut r) = (self.local.target("l", false), self.remote.target("r", false));
        let settings = ApplySettings {
            clock: self.clock.clone(),
            meta_style: WriteStyle { verbose: false, version: "t".into() },
            break_lock: false,
            workers: 4,
            stage: true,
        };
        let applied = apply(&plan, &mut l, &mut r, &settings).unwrap();
        assert_eq!(applied.failures(), 0, "{:?}", applied.outcomes);
        plan
    }
}

fn sync(resolve: Resolve) -> PlanOptions {
    let mut o = PlanOptions::new(Mode::Sync);
    o.resolve = resolve;
    o
}

fn entry<'a>(plan: &'a Plan, path: &str) -> &'a ftpsync::plan::document::PlanEntry {
    plan.entries.iter().find(|e| e.path.as_str() == path).unwrap_or_else(|| panic!("no entry {path}"))
}

#[test]
fn a_file_against_a_folder_is_a_conflict_not_a_crash() {
    let p = Pair::new();
    p.local.put_file("x", b"file", 1e9);
    p.remote.put_file("x/inner.txt", b"folder", 1e9);
    let plan = p.run(sync(Resolve::Local));
    let e = entry(&plan, "x");
    assert_eq!(
        (e.action, e.reason, e.resolution),
        (Action::Conflict, Reason::KindClash, ResolutionChoice::Chosen(Resolution::Skip))
    );
    assert_eq!(p.local.read("x").as_deref(), Some(&b"file"[..]));
    assert_eq!(p.remote.read("x/inner.txt").as_deref(), Some(&b"folder"[..]));
}

#[test]
fn resolve_new_on_delete_versus_modify_skips_with_a_message() {
    let p = Pair::new();
    p.local.put_file("a.txt", b"one", 1e9);
    p.run(sync(Resolve::Skip));
    p.clock.advance(10.0);
    p.local.remove("a.txt");
    p.remote.put_file("a.txt", b"edited", p.clock.now() + 5.0);
    let plan = p.run(sync(Resolve::New));
    let e = entry(&plan, "a.txt");
    assert_eq!(e.resolution, ResolutionChoice::Chosen(Resolution::Skip));
    assert!(e.reason_text.contains("cannot resolve using 'new'"), "{}", e.reason_text);
    assert_eq!(p.remote.read("a.txt").as_deref(), Some(&b"edited"[..]));
}

#[test]
fn excluded_folders_are_not_entered() {
    let p = Pair::new();
    p.local.put_file(".git/HEAD", b"local head", 1e9);
    p.remote.put_file(".git/HEAD", b"remote head", 2e9);
    p.local.put_file("index.html", b"hi", 1e9);
    let mut o = sync(Resolve::Skip);
    o.exclude = vec![".git".into()];
    let plan = p.run(o);
    assert!(plan.entries.iter().all(|e| !e.path.as_str().starts_with(".git/")), "entered .git");
    assert_eq!(entry(&plan, ".git").reason, Reason::Unmatched);
    assert_eq!(p.local.read(".git/HEAD").as_deref(), Some(&b"local head"[..]));
    assert_eq!(p.remote.read(".git/HEAD").as_deref(), Some(&b"remote head"[..]));
}

#[test]
fn filters_apply_inside_folders_copied_whole() {
    let p = Pair::new();
    p.local.put_file("site/index.html", b"hi", 1e9);
    p.local.put_file("site/notes.txt", b"private", 1e9);
    p.local.put_file("site/.DS_Store", b"junk", 1e9);
    p.local.put_file("site/.git/HEAD", b"ref", 1e9);
    p.local.put_file("site/pyftpsync.yaml", b"tasks: {}", 1e9);
    let mut o = PlanOptions::new(Mode::Upload);
    o.matches = vec!["*.html".into()];
    o.exclude = vec![".DS_Store".into(), ".git".into()];
    p.run(o);
    assert!(p.remote.read("site/index.html").is_some());
    for skipped in ["site/notes.txt", "site/.DS_Store", "site/.git/HEAD", "site/pyftpsync.yaml"] {
        assert!(p.remote.read(skipped).is_none(), "{skipped} was uploaded");
    }
}

#[test]
fn an_equal_pair_is_recorded_so_a_later_deletion_propagates() {
    let p = Pair::new();
    // Both sides already hold the same file, and there is no metadata.
    p.local.put_file("same.txt", b"same", 1e9);
    p.remote.put_file("same.txt", b"same", 1e9);
    let first = p.run(sync(Resolve::Skip));
    assert_eq!(entry(&first, "same.txt").action, Action::Record);
    p.clock.advance(10.0);
    p.local.remove("same.txt");
    let second = p.run(sync(Resolve::Skip));
    assert_eq!(entry(&second, "same.txt").action, Action::DeleteRemote, "pyftpsync would copy it back");
    assert!(p.remote.read("same.txt").is_none());
}

#[test]
fn records_of_names_gone_on_both_sides_are_removed() {
    let p = Pair::new();
    p.local.put_file("gone.txt", b"x", 1e9);
    p.run(sync(Resolve::Skip));
    p.local.remove("gone.txt");
    p.remote.remove("gone.txt");
    let plan = p.run(sync(Resolve::Skip));
    assert_eq!(entry(&plan, "gone.txt").action, Action::Forget);
    let again = p.plan(sync(Resolve::Skip));
    assert!(again.entries.iter().all(|e| e.path.as_str() != "gone.txt"), "the record is still there");
}

#[test]
fn a_folder_that_cannot_be_listed_is_an_error_never_empty() {
    let p = Pair::new();
    p.local.put_file("d/a.txt", b"a", 1e9);
    p.run(sync(Resolve::Skip));
    p.clock.advance(10.0);
    // The local folder cannot be read now: planning must fail, not delete the remote copy.
    p.local.fail_listing("d");
    let (mut l, mut r) = (p.local.target("l", false), p.remote.target("r", false));
    let err = make_plan(&mut l, &mut r, sync(Resolve::Skip), p.clock.now()).err().expect("planning must fail");
    assert!(format!("{err:#}").contains("permission denied"), "{err:#}");
    assert!(p.remote.read("d/a.txt").is_some());
}

#[test]
fn a_scan_worker_that_panics_fails_the_plan_instead_of_hanging_it() {
    let p = Pair::new();
    for i in 0..12 {
        p.local.put_file(&format!("d{i}/a.txt"), b"a", 1e9);
    }
    p.run(sync(Resolve::Skip));
    p.remote.panic_listing("d7");
    let (local, remote, now) = (p.local.clone(), p.remote.clone(), p.clock.now());
    // A hang (the other workers waiting for the one that panicked) fails at the bound.
    let err = bounded(Duration::from_secs(30), move || {
        let (mut l, mut r) = (local.target("l", false), remote.target("r", false));
        let planned = ftpsync::scan::engine::make_plan_with(&mut l, &mut r, sync(Resolve::Skip), now, 4);
        planned.err().map(|e| format!("{e:#}"))
    });
    let err = err.expect("planning must fail");
    assert!(err.contains("internal error") && err.contains("listing panicked"), "{err}");
}

#[test]
fn max_delete_refuses_plans_that_delete_more() {
    let p = Pair::new();
    for i in 0..5 {
        p.local.put_file(&format!("f{i}"), b"x", 1e9);
    }
    p.run(sync(Resolve::Skip));
    p.clock.advance(10.0);
    for i in 0..5 {
        p.local.remove(&format!("f{i}"));
    }
    let mut o = sync(Resolve::Skip);
    o.max_delete = Some(4);
    let (mut l, mut r) = (p.local.target("l", false), p.remote.target("r", false));
    let err = make_plan(&mut l, &mut r, o.clone(), p.clock.now()).err().expect("over the limit");
    assert!(format!("{err}").contains("more than --max-delete 4"), "{err}");
    assert!(p.remote.read("f0").is_some());
    o.max_delete = Some(5);
    p.run(o);
    assert!(p.remote.read("f0").is_none());
}

#[test]
fn a_name_listed_in_an_unusable_form_is_left_alone_not_taken_for_deleted() {
    use crate::support::{plan_fs, sync_fs};
    let dir = tempfile::tempdir().unwrap();
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    crate::support::fixture::write(&local, "a.txt", "synced", 1e9);
    crate::support::fixture::write(&local, "keep.txt", "x", 1e9);
    std::fs::create_dir_all(&remote).unwrap();
    sync_fs(&local, &remote, sync(Resolve::Skip));
    // The remote copy becomes a symbolic link (not followed, so not listed as a file), and the
    // remote gains a file whose local namesake is a symbolic link.
    std::fs::remove_file(remote.join("a.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", remote.join("a.txt")).unwrap();
    crate::support::fixture::write(&remote, "b", "remote b", 1e9);
    std::os::unix::fs::symlink("/etc/hostname", local.join("b")).unwrap();
    let plan = plan_fs(&local, &remote, sync(Resolve::Skip));
    for name in ["a.txt", "b"] {
        let e = entry(&plan, name);
        assert_eq!((e.action, e.reason), (Action::Skip, Reason::Unusable), "{name}");
    }
    sync_fs(&local, &remote, sync(Resolve::Skip));
    assert_eq!(std::fs::read_to_string(local.join("a.txt")).unwrap(), "synced");
    assert!(std::fs::symlink_metadata(local.join("b")).unwrap().file_type().is_symlink());
}
