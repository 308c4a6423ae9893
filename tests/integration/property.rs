//! Property test on every pairing of targets: a local folder against another local folder,
//! against the in-memory target (setting modification times like a folder, or stamping them
//! like an FTP server) and against the built-in FTP server. Random trees, random edits on both
//! sides, then `sync` with each `--resolve` option. Afterwards a second plan has nothing left to
//! do (skipped conflicts aside) and the result is exactly what an oracle of the sync rules says:
//! every edit since the last sync propagated, and where both sides changed, both versions kept
//! (`skip`, `ask`) or the chosen side's version everywhere (`local`, `remote`, `new`, `old`).
//! In particular no edit is lost in a folder the other side deleted, whichever side keeps the
//! records that prove the rest unchanged.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ftpsync::apply::{ApplySettings, apply};
use ftpsync::backend::Target;
use ftpsync::backend::local::LocalTarget;
use ftpsync::backend::memory::{MemoryFs, MemoryOptions, Node};
use ftpsync::meta::{WriteStyle, is_reserved_name};
use ftpsync::model::listing::is_temp_name;
use ftpsync::model::{Clock, StepClock};
use ftpsync::plan::options::{Mode, PlanOptions, Resolve};
use ftpsync::planner::classify::EPS;
use ftpsync::scan::engine::make_plan;
use ftpsync::server::ServerHandle;
use proptest::prelude::*;

use crate::support::ftp;

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
    (
        proptest::collection::vec(file_edit(tag), universe().len()),
        proptest::collection::vec(prop::bool::weighted(0.2), DIRS.len()),
    )
        .prop_map(|(files, delete_dirs)| SideEdits { files, delete_dirs })
}

fn resolve() -> impl Strategy<Value = Resolve> {
    prop_oneof![
        Just(Resolve::Skip),
        Just(Resolve::Local),
        Just(Resolve::Remote),
        Just(Resolve::New),
        Just(Resolve::Old),
        Just(Resolve::Ask)
    ]
}

/// Files of a tree: path → (content, mtime).
type Files = BTreeMap<String, (String, f64)>;

/// One side's tree, as a user edits it.
enum Store {
    Memory(MemoryFs),
    /// A folder on disk (also the folder the FTP server publishes).
    Dir(PathBuf),
}

/// Files and folders of a folder on disk, by relative path (metadata, lock and temporary
/// files left out).
fn walk_dir(root: &Path, dir: &Path, files: &mut Files, dirs: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if is_reserved_name(&name) || is_temp_name(&name) {
            continue;
        }
        let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            dirs.insert(rel);
            walk_dir(root, &e.path(), files, dirs);
        } else {
            let mtime = filetime::FileTime::from_last_modification_time(&e.metadata().unwrap());
            let secs = mtime.unix_seconds() as f64 + f64::from(mtime.nanoseconds()) * 1e-9;
            files.insert(rel, (std::fs::read_to_string(e.path()).unwrap(), secs));
        }
    }
}

impl Store {
    fn put_file(&self, path: &str, data: &str, mtime: f64) {
        match self {
            Store::Memory(fs) => fs.put_file(path, data.as_bytes(), mtime),
            Store::Dir(root) => {
                let file = root.join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, data).unwrap();
                let t = filetime::FileTime::from_unix_time(mtime as i64, 0);
                filetime::set_file_mtime(&file, t).unwrap();
            }
        }
    }

    fn remove(&self, path: &str) {
        match self {
            Store::Memory(fs) => fs.remove(path),
            Store::Dir(root) => {
                let p = root.join(path);
                if p.is_dir() {
                    std::fs::remove_dir_all(p).unwrap();
                } else if p.exists() {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
    }

    fn exists(&self, path: &str) -> bool {
        match self {
            Store::Memory(fs) => fs.read(path).is_some(),
            Store::Dir(root) => root.join(path).is_file(),
        }
    }

    fn files(&self) -> Files {
        match self {
            Store::Memory(fs) => fs
                .snapshot()
                .into_iter()
                .filter_map(|(p, n)| match n {
                    Node::File { data, mtime, .. } if !is_reserved_name(p.name()) => {
                        Some((p.to_string(), (String::from_utf8(data).unwrap(), mtime)))
                    }
                    _ => None,
                })
                .collect(),
            Store::Dir(root) => {
                let (mut files, mut dirs) = (Files::new(), BTreeSet::new());
                walk_dir(root, root, &mut files, &mut dirs);
                files
            }
        }
    }

    fn dirs(&self) -> BTreeSet<String> {
        match self {
            Store::Memory(fs) => fs
                .snapshot()
                .into_iter()
                .filter(|(_, n)| matches!(n, Node::Dir { .. }))
                .map(|(p, _)| p.to_string())
                .collect(),
            Store::Dir(root) => {
                let (mut files, mut dirs) = (Files::new(), BTreeSet::new());
                walk_dir(root, root, &mut files, &mut dirs);
                dirs
            }
        }
    }
}

/// The remote side of a pairing.
#[derive(Clone, Copy, Debug)]
enum RemoteKind {
    /// Another local folder.
    Folder,
    /// The in-memory target; `ftp_like`: it stamps stored files with the clock and keeps the
    /// real times in `mtimes`, as pyftpsync uses an FTP server.
    Memory { ftp_like: bool },
    /// The built-in FTP server, publishing a folder.
    Ftp,
}

/// A local folder and a remote of one kind, with a clock for the plans and records.
struct World {
    _dir: tempfile::TempDir,
    local: Store,
    remote: Store,
    kind: RemoteKind,
    server: Option<ServerHandle>,
    clock: Arc<StepClock>,
}

impl World {
    fn new(kind: RemoteKind) -> World {
        let dir = tempfile::tempdir().unwrap();
        let (local, served) = (dir.path().join("local"), dir.path().join("remote"));
        std::fs::create_dir_all(&local).unwrap();
        std::fs::create_dir_all(&served).unwrap();
        // Whole seconds of the real time: a server stamps and reports real times.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as f64;
        let clock = Arc::new(StepClock::new(now));
        let (remote, server) = match kind {
            RemoteKind::Folder => (Store::Dir(served), None),
            RemoteKind::Memory { ftp_like } => {
                (Store::Memory(MemoryFs::new(clock.clone(), MemoryOptions { sets_mtime: !ftp_like })), None)
            }
            RemoteKind::Ftp => {
                let server = ftp::serve(&served);
                (Store::Dir(served), Some(server))
            }
        };
        World { _dir: dir, local: Store::Dir(local), remote, kind, server, clock }
    }

    fn remote_target(&self) -> Box<dyn Target> {
        match (&self.remote, self.kind) {
            (Store::Memory(fs), RemoteKind::Memory { ftp_like }) => Box::new(fs.target("remote", ftp_like)),
            (_, RemoteKind::Ftp) => Box::new(ftp::target(self.server.as_ref().unwrap())),
            (Store::Dir(root), _) => Box::new(LocalTarget::open(root).unwrap()),
            (Store::Memory(_), _) => unreachable!("a memory store is only used by a memory remote"),
        }
    }

    fn sync(&self, resolve: Resolve) -> ftpsync::plan::document::Plan {
        let Store::Dir(local) = &self.local else { unreachable!("the local side is a folder") };
        let mut l = LocalTarget::open(local).unwrap();
        let mut r = self.remote_target();
        let mut options = PlanOptions::new(Mode::Sync);
        options.resolve = resolve;
        let plan = make_plan(&mut l, r.as_mut(), options, self.clock.now()).unwrap().plan;
        let settings = ApplySettings {
            clock: self.clock.clone(),
            meta_style: WriteStyle { verbose: false, version: "t".into() },
            break_lock: false,
            workers: 4,
            stage: true,
        };
        let applied = apply(&plan, &mut l, r.as_mut(), &settings).unwrap_or_else(|e| panic!("apply failed: {e:#}"));
        assert_eq!(applied.failures(), 0, "{:?}", applied.outcomes);
        plan
    }
}

fn apply_side(store: &Store, edits: &SideEdits, now: f64) {
    for (d, del) in DIRS.iter().zip(&edits.delete_dirs) {
        if *del {
            store.remove(d);
        }
    }
    for (path, edit) in universe().iter().zip(&edits.files) {
        match edit {
            FileEdit::Keep => {}
            FileEdit::Write { content, delay } => store.put_file(path, content, now + f64::from(*delay)),
            FileEdit::Delete => {
                if store.exists(path) {
                    store.remove(path);
                }
            }
        }
    }
}

/// Two versions of a file that are both new to the sync: equal, copied, or a conflict.
/// Both files exist with the same size and times within EPS: the sync cannot tell them apart.
fn look_equal(l: Option<&(String, f64)>, r: Option<&(String, f64)>) -> bool {
    matches!((l, r), (Some((lc, ml)), Some((rc, mr))) if lc.len() == rc.len() && (ml - mr).abs() <= EPS)
}

fn resolve_both_new(
    p: &str,
    l: Option<&(String, f64)>,
    r: Option<&(String, f64)>,
    resolve: Resolve,
    put: &mut impl FnMut(&str, Option<String>, Option<String>),
) {
    match (l, r) {
        (Some((lc, _)), Some((rc, _))) if look_equal(l, r) => put(p, Some(lc.clone()), Some(rc.clone())),
        (Some((lc, ml)), Some((rc, mr))) if lc != rc => {
            let winner = match resolve {
                Resolve::Local => Some(lc),
                Resolve::Remote => Some(rc),
                Resolve::New | Resolve::Old if (ml - mr).abs() > EPS => {
                    Some(if (ml > mr) == (resolve == Resolve::New) { lc } else { rc })
                }
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
        let changed_in = |f: &Files| {
            f.iter().any(|(p, (c, _))| p.starts_with(&format!("{d}/")) && content(base, p).as_ref() != Some(c))
        };
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

/// One case: a first sync from the local side, edits on both sides, a sync with `resolve`
/// checked against the oracle, and a last plan that must have nothing left to do.
fn one_case(
    kind: RemoteKind,
    initial: &[Option<u32>],
    local_edits: &SideEdits,
    remote_edits: &SideEdits,
    resolve: Resolve,
) -> Result<(), TestCaseError> {
    let w = World::new(kind);
    for (path, v) in universe().iter().zip(initial) {
        if let Some(n) = v {
            w.local.put_file(path, &format!("base{n}"), 1_600_000_000.0);
        }
    }
    w.sync(Resolve::Skip);
    let base = w.local.files();
    prop_assert_eq!(contents(&base), contents(&w.remote.files()));
    w.clock.advance(10.0);
    let now = w.clock.now().floor();
    apply_side(&w.local, local_edits, now);
    apply_side(&w.remote, remote_edits, now);
    let (l, r) = (w.local.files(), w.remote.files());
    let (l_dirs, r_dirs) = (w.local.dirs(), w.remote.dirs());
    w.clock.advance(100.0);
    w.sync(resolve);
    let recreated: Vec<(&str, bool)> = DIRS
        .iter()
        .enumerate()
        // The records live in the local folder's metadata: only a local re-creation loses them.
        .map(|(i, d)| (*d, local_edits.delete_dirs[i] && l_dirs.contains(*d)))
        .collect();
    let (want_l, want_r) = oracle(&base, (&l, &l_dirs), (&r, &r_dirs), &recreated, resolve);
    prop_assert_eq!(contents(&w.local.files()), want_l, "local side");
    prop_assert_eq!(contents(&w.remote.files()), want_r, "remote side");
    w.clock.advance(10.0);
    let again = w.sync(resolve);
    let left: Vec<_> =
        again.entries.iter().filter(|e| e.is_change()).map(|e| (e.path.to_string(), e.action, e.reason)).collect();
    prop_assert!(left.is_empty(), "second plan still has work: {:?}", left);
    Ok(())
}

fn initial() -> impl Strategy<Value = Vec<Option<u32>>> {
    proptest::collection::vec(proptest::option::weighted(0.7, 0u32..1000), universe().len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn local_and_memory_converge_and_lose_no_edit(
        initial in initial(),
        local_edits in side_edits("L"),
        remote_edits in side_edits("R"),
        resolve in resolve(),
        ftp_like in any::<bool>(),
    ) {
        one_case(RemoteKind::Memory { ftp_like }, &initial, &local_edits, &remote_edits, resolve)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn local_and_local_converge_and_lose_no_edit(
        initial in initial(),
        local_edits in side_edits("L"),
        remote_edits in side_edits("R"),
        resolve in resolve(),
    ) {
        one_case(RemoteKind::Folder, &initial, &local_edits, &remote_edits, resolve)?;
    }
}

proptest! {
    // Each case starts a server and logs in a few times: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn local_and_ftp_converge_and_lose_no_edit(
        initial in initial(),
        local_edits in side_edits("L"),
        remote_edits in side_edits("R"),
        resolve in resolve(),
    ) {
        one_case(RemoteKind::Ftp, &initial, &local_edits, &remote_edits, resolve)?;
    }
}
