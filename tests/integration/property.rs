//! Property test on the in-memory target: random trees, random edits on both sides, then
//! `sync` with each `--resolve` option. Afterwards a second plan has nothing left to do (skipped
//! conflicts aside) and the result is exactly what an oracle of the sync rules says: every edit
//! since the last sync propagated, and where both sides changed, both versions kept (`skip`,
//! `ask`) or the chosen side's version everywhere (`local`, `remote`, `new`, `old`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ftpsync::apply::{ApplySettings, apply};
use ftpsync::engine::make_plan;
use ftpsync::meta::WriteStyle;
use ftpsync::model::{Clock, StepClock};
use ftpsync::options::{Mode, PlanOptions, Resolve};
use ftpsync::planner::classify::EPS;
use ftpsync::target::memory::{MemoryFs, MemoryOptions, Node};
use proptest::prelude::*;

const ROOT_FILES: [&str; 3] = ["f0", "f1", "f2"];
const DIRS: [&str; 2] = ["d0", "d1"];
const DIR_FILES: [&str; 3] = ["g0", "g1", "g2"];

fn universe() -> Vec<String> {
    let mut v: Vec<String> = ROOT_FILES.iter().map(|s| s.to_string()).collect();
    for d in DIRS {
        for f in DIR_FILES {
            v.push(format!("{d}/{f}"));
        }
    }
    v
}

/// What happens to one path on one side.
#[derive(Clone, Debug)]
enum FileEdit {
    Keep,
    Write { content: String, delay: u32 },
    Delete,
}

#[derive(Clone, Debug)]
struct SideEdits {
    files: Vec<FileEdit>,
    delete_dirs: Vec<bool>,
}

fn file_edit(tag: &'static str) -> impl Strategy<Value = FileEdit> {
    prop_oneof![
        3 => Just(FileEdit::Keep),
        2 => (0u32..1000, 3u32..60).prop_map(move |(n, delay)| FileEdit::Write { content: format!("{tag}{n}"), delay }),
        1 => Just(FileEdit::Delete),
    ]
}

fn side_edits(tag: &'static str) -> impl Strategy<Value = SideEdits> {
    (proptest::collection::vec(file_edit(tag), universe().len()), proptest::collection::vec(prop::bool::weighted(0.2), DIRS.len()))
        .prop_map(|(files, delete_dirs)| SideEdits { files, delete_dirs })
}

fn resolve() -> impl Strategy<Value = Resolve> {
    prop_oneof![Just(Resolve::Skip), Just(Resolve::Local), Just(Resolve::Remote), Just(Resolve::New), Just(Resolve::Old), Just(Resolve::Ask)]
}

/// Files of a tree: path → (content, mtime).
type Files = BTreeMap<String, (String, f64)>;

fn files(fs: &MemoryFs) -> Files {
    fs.snapshot()
        .into_iter()
        .filter_map(|(p, n)| match n {
            Node::File { data, mtime, .. } if p.name() != ".pyftpsync-meta.json" => {
                Some((p.to_string(), (String::from_utf8(data).unwrap(), mtime)))
            }
            _ => None,
        })
        .collect()
}

fn apply_side(fs: &MemoryFs, edits: &SideEdits, now: f64) {
    for (d, del) in DIRS.iter().zip(&edits.delete_dirs) {
        if *del {
            fs.remove(d);
        }
    }
    for (path, edit) in universe().iter().zip(&edits.files) {
        match edit {
            FileEdit::Keep => {}
            FileEdit::Write { content, delay } => fs.put_file(path, content.as_bytes(), now + f64::from(*delay)),
            FileEdit::Delete => {
                if fs.read(path).is_some() {
                    fs.remove(path);
                }
            }
        }
    }
}

fn sync(local: &MemoryFs, remote: &MemoryFs, ftp_like: bool, resolve: Resolve, clock: &Arc<StepClock>) -> ftpsync::plan::model::Plan {
    let mut l = local.target("local", false);
    let mut r = remote.target("remote", ftp_like);
    let mut options = PlanOptions::new(Mode::Sync);
    options.resolve = resolve;
    let plan = make_plan(&mut l, &mut r, options, clock.now()).unwrap().plan;
    let settings = ApplySettings { clock: clock.clone(), meta_style: WriteStyle { verbose: false, version: "t".into() }, break_lock: false, workers: 4 };
    let applied = apply(&plan, &mut l, &mut r, &settings).unwrap_or_else(|e| panic!("apply failed: {e:#}"));
    assert_eq!(applied.failures(), 0, "{:?}", applied.outcomes);
    plan
}

fn dirs(fs: &MemoryFs) -> BTreeSet<String> {
    fs.snapshot().into_iter().filter(|(_, n)| matches!(n, Node::Dir { .. })).map(|(p, _)| p.to_string()).collect()
}

/// Two versions of a file that are both new to the sync: equal, copied, or a conflict.
/// Both files exist with the same size and times within EPS: the sync cannot tell them apart.
fn look_equal(l: Option<&(String, f64)>, r: Option<&(String, f64)>) -> bool {
    matches!((l, r), (Some((lc, ml)), Some((rc, mr))) if lc.len() == rc.len() && (ml - mr).abs() <= EPS)
}

fn resolve_both_new(p: &str, l: Option<&(String, f64)>, r: Option<&(String, f64)>, resolve: Resolve, put: &mut impl FnMut(&str, Option<String>, Option<String>)) {
    match (l, r) {
        (Some((lc, _)), Some((rc, _))) if look_equal(l, r) => put(p, Some(lc.clone()), Some(rc.clone())),
        (Some((lc, ml)), Some((rc, mr))) if lc != rc => {
            let winner = match resolve {
                Resolve::Local => Some(lc),
                Resolve::Remote => Some(rc),
                Resolve::New | Resolve::Old if (ml - mr).abs() > EPS => Some(if (ml > mr) == (resolve == Resolve::New) { lc } else { rc }),
                _ => None,
            };
            match winner {
                Some(w) => put(p, Some(w.clone()), Some(w.clone())),
                None => put(p, Some(lc.clone()), Some(rc.clone())),
            }
        }
        (lv, rv) => {
            let v = lv.or(rv).map(|(c, _)| c.clone());
            put(p, v.clone(), v);
        }
    }
}

/// The expected final trees, given the files before and after the edits, the folders that
/// exist on each side after the edits, and which folders were deleted and created again.
fn oracle(
    base: &Files,
    (l, l_dirs): (&Files, &BTreeSet<String>),
    (r, r_dirs): (&Files, &BTreeSet<String>),
    recreated: &[(&str, bool)],
    resolve: Resolve,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let content = |f: &Files, p: &str| f.get(p).map(|(c, _)| c.clone());
    let mut local = BTreeMap::new();
    let mut remote = BTreeMap::new();
    let mut put = |p: &str, lv: Option<String>, rv: Option<String>| {
        if let Some(v) = lv {
            local.insert(p.to_string(), v);
        }
        if let Some(v) = rv {
            remote.insert(p.to_string(), v);
        }
    };
    let in_base = |d: &str| base.keys().any(|p| p.starts_with(&format!("{d}/")));
    // A folder deleted on one side while something inside changed on the other is one conflict.
    let mut grouped: BTreeSet<String> = BTreeSet::new();
    for d in DIRS {
        if !in_base(d) {
            continue;
        }
        let changed_in = |f: &Files| f.iter().any(|(p, (c, _))| p.starts_with(&format!("{d}/")) && content(base, p).as_ref() != Some(c));
        let (el, er) = (l_dirs.contains(d), r_dirs.contains(d));
        let group = (!el && er && changed_in(r)) || (el && !er && changed_in(l));
        if !group {
            continue;
        }
        grouped.insert(d.to_string());
        let paths: BTreeSet<&String> = l.keys().chain(r.keys()).filter(|p| p.starts_with(&format!("{d}/"))).collect();
        for p in paths {
            let (lv, rv) = (content(l, p), content(r, p));
            match resolve {
                Resolve::Local => put(p, lv.clone(), lv),
                Resolve::Remote => put(p, rv.clone(), rv),
                _ => put(p, lv, rv),
            }
        }
    }
    // A folder deleted and created again on the local side lost its metadata with it:
    // everything in it is unknown to the sync, so nothing inside is deleted and differing
    // files conflict.
    for (d, recreated) in recreated {
        if !recreated || grouped.contains(*d) || !(l_dirs.contains(*d) && r_dirs.contains(*d)) {
            continue;
        }
        grouped.insert(d.to_string());
        let paths: BTreeSet<&String> = l.keys().chain(r.keys()).filter(|p| p.starts_with(&format!("{d}/"))).collect();
        for p in paths {
            resolve_both_new(p, l.get(p), r.get(p), resolve, &mut put);
        }
    }
    let all: BTreeSet<&String> = base.keys().chain(l.keys()).chain(r.keys()).collect();
    if base.is_empty() {
        // Nothing was ever recorded: pyftpsync's rules without metadata (the newer file wins).
        for p in all {
            match (l.get(p), r.get(p)) {
                (Some((lc, ml)), Some((rc, mr))) => {
                    if lc == rc || look_equal(l.get(p), r.get(p)) {
                        put(p, Some(lc.clone()), Some(rc.clone()));
                    } else if (ml - mr).abs() <= EPS {
                        resolve_both_new(p, l.get(p), r.get(p), resolve, &mut put);
                    } else {
                        let w = if ml > mr { lc } else { rc };
                        put(p, Some(w.clone()), Some(w.clone()));
                    }
                }
                (lv, rv) => {
                    let v = lv.or(rv).map(|(c, _)| c.clone());
                    put(p, v.clone(), v);
                }
            }
        }
        return (local, remote);
    }
    for p in all {
        if grouped.iter().any(|d| p.starts_with(&format!("{d}/"))) {
            continue;
        }
        let (b, lv, rv) = (content(base, p), content(l, p), content(r, p));
        let (cl, cr) = (lv != b, rv != b);
        match (cl, cr) {
            (false, false) => put(p, b.clone(), b),
            (true, false) => put(p, lv.clone(), lv),
            (false, true) => put(p, rv.clone(), rv),
            (true, true) if lv == rv || look_equal(l.get(p), r.get(p)) => put(p, lv.clone(), rv),
            (true, true) => {
                let winner = match resolve {
                    Resolve::Local => Some(lv.clone()),
                    Resolve::Remote => Some(rv.clone()),
                    Resolve::New | Resolve::Old => match (l.get(p), r.get(p)) {
                        (Some((_, ml)), Some((_, mr))) if (ml - mr).abs() > EPS => {
                            let local_newer = ml > mr;
                            Some(if local_newer == (resolve == Resolve::New) { lv.clone() } else { rv.clone() })
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match winner {
                    Some(w) => put(p, w.clone(), w),
                    None => put(p, lv, rv),
                }
            }
        }
    }
    (local, remote)
}

fn contents(f: &Files) -> BTreeMap<String, String> {
    f.iter().map(|(p, (c, _))| (p.clone(), c.clone())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn sync_converges_and_loses_no_edit(
        initial in proptest::collection::vec(proptest::option::weighted(0.7, 0u32..1000), universe().len()),
        local_edits in side_edits("L"),
        remote_edits in side_edits("R"),
        resolve in resolve(),
        ftp_like in any::<bool>(),
    ) {
        let clock = Arc::new(StepClock::new(1_700_000_000.0));
        let local = MemoryFs::new(clock.clone(), MemoryOptions::default());
        let remote = MemoryFs::new(clock.clone(), MemoryOptions { sets_mtime: !ftp_like });
        for (path, v) in universe().iter().zip(&initial) {
            if let Some(n) = v {
                local.put_file(path, format!("base{n}").as_bytes(), 1_600_000_000.0);
            }
        }
        sync(&local, &remote, ftp_like, Resolve::Skip, &clock);
        let base = files(&local);
        prop_assert_eq!(contents(&base), contents(&files(&remote)));
        clock.advance(10.0);
        let now = clock.now();
        apply_side(&local, &local_edits, now);
        apply_side(&remote, &remote_edits, now);
        let (l, r) = (files(&local), files(&remote));
        let (l_dirs, r_dirs) = (dirs(&local), dirs(&remote));
        clock.advance(100.0);
        sync(&local, &remote, ftp_like, resolve, &clock);
        let recreated: Vec<(&str, bool)> = DIRS
            .iter()
            .enumerate()
            // The records live in the local folder's metadata: only a local re-creation loses them.
            .map(|(i, d)| (*d, local_edits.delete_dirs[i] && l_dirs.contains(*d)))
            .collect();
        let (want_l, want_r) = oracle(&base, (&l, &l_dirs), (&r, &r_dirs), &recreated, resolve);
        prop_assert_eq!(contents(&files(&local)), want_l, "local side");
        prop_assert_eq!(contents(&files(&remote)), want_r, "remote side");
        clock.advance(10.0);
        let again = sync(&local, &remote, ftp_like, resolve, &clock);
        let left: Vec<_> = again.entries.iter().filter(|e| e.is_change()).map(|e| (e.path.to_string(), e.action, e.reason)).collect();
        prop_assert!(left.is_empty(), "second plan still has work: {:?}", left);
    }
}
