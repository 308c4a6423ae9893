//! The three properties every interrupted run must keep (issue 5, acceptance 1 and 2):
//!
//! 1. no file under its final name is truncated or mixed: [`snapshot`] fails unless every file
//!    is, byte for byte, one version that was written of its path;
//! 2. the metadata claims nothing untrue: [`check_claims`] — every record the run added or
//!    changed describes what both sides hold now, and every record it removed is of a name
//!    gone from a side;
//! 3. after a run without faults both trees equal those of a run that never had one:
//!    [`compare`] on two snapshots (metadata compared by its records, without upload times).
//!
//! Temporary files (`.ftpsync-tmp-*`: staged, backups, interrupted writes) and a commit journal
//! left for recovery (`.ftpsync-journal.json`), never listed nor synchronised, are counted, not
//! compared.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use ftpsync::meta::{JOURNAL_FILE, LOCK_FILE, META_FILE};
use ftpsync::model::listing::is_temp_name;
use serde_json::Value;

use super::world::Versions;

/// What one path of a tree is.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Dir,
    /// A file that is whole version `version` (the version's mtime) and carries `mtime`.
    File {
        version: i64,
        mtime: i64,
    },
    /// A metadata file: per record key (`peer NAME` or `mtimes NAME`), its `m` and `s`.
    Meta(BTreeMap<String, (Value, Value)>),
    Lock,
}

/// A tree below a root.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub nodes: BTreeMap<String, Node>,
    pub temp_files: Vec<String>,
}

/// Reads a tree; `Err` names a file that is not one whole version of its path (property 1).
pub fn snapshot(root: &Path, versions: &Versions) -> Result<Tree, String> {
    let mut tree = Tree::default();
    walk(root, root, versions, &mut tree)?;
    Ok(tree)
}

fn walk(root: &Path, dir: &Path, versions: &Versions, tree: &mut Tree) -> Result<(), String> {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let name = e.file_name().to_string_lossy().into_owned();
        if is_temp_name(&name) || name == JOURNAL_FILE {
            tree.temp_files.push(rel);
        } else if e.file_type().unwrap().is_dir() {
            tree.nodes.insert(rel, Node::Dir);
            walk(root, &path, versions, tree)?;
        } else if name == META_FILE {
            tree.nodes.insert(
                rel.clone(),
                Node::Meta(records(&path).map_err(|e| format!("{rel}: unreadable metadata: {e}"))?),
            );
        } else if name == LOCK_FILE {
            tree.nodes.insert(rel, Node::Lock);
        } else {
            let bytes = fs::read(&path).unwrap();
            let known = versions.get(&rel).ok_or_else(|| format!("{rel}: a file that was never written"))?;
            let version = known.iter().find(|(_, v)| ***v == bytes).map(|(m, _)| *m).ok_or_else(|| {
                let sizes: Vec<usize> = known.values().map(|v| v.len()).collect();
                format!(
                    "{rel}: {} bytes that are no version of it (versions have {sizes:?} bytes): truncated or mixed",
                    bytes.len()
                )
            })?;
            let mtime = filetime::FileTime::from_last_modification_time(&e.metadata().unwrap()).unix_seconds();
            tree.nodes.insert(rel, Node::File { version, mtime });
        }
    }
    Ok(())
}

/// The records of a metadata file, without their upload times.
fn records(path: &Path) -> Result<BTreeMap<String, (Value, Value)>, String> {
    let doc: Value = serde_json::from_slice(&fs::read(path).unwrap()).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    let mut add = |key: String, rec: &Value| {
        out.insert(key, (rec["m"].clone(), rec["s"].clone()));
    };
    for (name, rec) in doc["mtimes"].as_object().ok_or("no mtimes")? {
        add(format!("mtimes {name}"), rec);
    }
    for (peer, recs) in doc["peer_sync"].as_object().ok_or("no peer_sync")? {
        for (name, rec) in recs.as_object().ok_or("bad peer_sync")? {
            if !name.starts_with(':') {
                add(format!("peer {peer} {name}"), rec);
            }
        }
    }
    Ok(out)
}

/// The records of every metadata file of a tree: (folder, record key) → (m, s).
fn all_records(tree: &Tree) -> BTreeMap<(String, String), (Value, Value)> {
    let mut out = BTreeMap::new();
    for (path, node) in &tree.nodes {
        if let Node::Meta(recs) = node {
            let folder = path.strip_suffix(META_FILE).unwrap().trim_end_matches('/').to_string();
            for (k, v) in recs {
                out.insert((folder.clone(), k.clone()), v.clone());
            }
        }
    }
    out
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() { name.to_string() } else { format!("{folder}/{name}") }
}

/// Property 2: what the metadata of `local` and `served` claims, compared with the trees
/// before the run (`local0`, `served0`), is true of the trees now.
pub fn check_claims(
    local0: &Tree,
    served0: &Tree,
    local: &Tree,
    served: &Tree,
    versions: &Versions,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for (tree0, tree, side) in [(local0, local, "local"), (served0, served, "served")] {
        let (before, now) = (all_records(tree0), all_records(tree));
        for ((folder, key), (m, s)) in &now {
            if before.get(&(folder.clone(), key.clone())) == Some(&(m.clone(), s.clone())) {
                continue;
            }
            let name = key.rsplit(' ').next().unwrap();
            let path = join(folder, name);
            let whole_m = m.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64);
            let holds = |t: &Tree, with_mtime: bool| match (t.nodes.get(&path), whole_m) {
                (Some(Node::Dir), None) => m.is_null(),
                (Some(Node::File { version, mtime }), Some(m)) => {
                    *version == m
                        && (!with_mtime || *mtime == m)
                        && s.as_u64() == versions[&path].get(&m).map(|v| v.len() as u64)
                }
                _ => false,
            };
            let true_now = if key.starts_with("mtimes ") {
                holds(tree, false)
            } else {
                holds(local, true) && holds(served, false)
            };
            if !true_now {
                problems.push(format!("{side} metadata of {folder:?} claims {key} = (m {m}, s {s}), but local has {:?} and served has {:?}", local.nodes.get(&path), served.nodes.get(&path)));
            }
        }
        for (folder, key) in before.keys().filter(|k| !now.contains_key(*k)) {
            let path = join(folder, key.rsplit(' ').next().unwrap());
            if key.starts_with("peer ") && local.nodes.contains_key(&path) && served.nodes.contains_key(&path) {
                problems.push(format!("{side} metadata of {folder:?} forgot {key}, but it is still on both sides"));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let n = problems.len();
    problems.truncate(8);
    Err(format!("{n} untrue metadata claim(s):\n{}", problems.join("\n")))
}

/// Property 3: the differences between a tree and the one a run without faults left.
pub fn compare(what: &str, got: &Tree, want: &Tree) -> Result<(), String> {
    let mut diffs = Vec::new();
    for (path, node) in &want.nodes {
        match got.nodes.get(path) {
            Some(g) if g == node => {}
            g => diffs.push(format!("{what} {path}: {g:?}, expected {node:?}")),
        }
    }
    for path in got.nodes.keys().filter(|p| !want.nodes.contains_key(*p)) {
        diffs.push(format!("{what} {path}: {:?}, expected nothing", got.nodes[path]));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        let n = diffs.len();
        diffs.truncate(12);
        Err(format!("{n} difference(s) from the run without faults:\n{}", diffs.join("\n")))
    }
}

/// The tree without its redundant `mtimes` records: those of a file that carries the recorded
/// time itself (its real time was set on the server, so neither ftpsync nor pyftpsync needs
/// the record). A run killed before it wrote a folder's metadata leaves these out, and the
/// next plan records the files as equal without writing them.
pub fn without_redundant_mtimes(tree: &Tree) -> Tree {
    let mut out = tree.clone();
    for (path, node) in out.nodes.iter_mut() {
        let Node::Meta(records) = node else { continue };
        let folder = path.strip_suffix(META_FILE).unwrap().trim_end_matches('/');
        records.retain(|key, (m, _)| {
            let Some(name) = key.strip_prefix("mtimes ") else { return true };
            let m = m.as_f64().map(|f| f as i64);
            !matches!(tree.nodes.get(&join(folder, name)), Some(Node::File { version, mtime }) if Some(*version) == m && Some(*mtime) == m)
        });
    }
    out.nodes.retain(|_, n| !matches!(n, Node::Meta(r) if r.is_empty()));
    out
}

/// A tree without the lock file (a run cut short may leave its lock; the next run replaces it).
pub fn without_lock(t: &Tree) -> Tree {
    let mut t = t.clone();
    t.nodes.retain(|_, n| *n != Node::Lock);
    t
}

/// All or nothing (issue 13): both sides are the state before (exactly) or the planned state
/// (as [`compare`] sees it, the server's redundant `mtimes` aside), the same one on both
/// sides; a lock left by a run cut short aside.
pub fn old_or_new(now: (&Tree, &Tree), before: (&Tree, &Tree), reference: (&Tree, &Tree)) -> Result<(), String> {
    let (local, served) = (without_lock(now.0), without_lock(now.1));
    let old = compare("local", &local, before.0).and_then(|()| compare("served", &served, before.1));
    let new = compare("local", &local, reference.0)
        .and_then(|()| compare("served", &without_redundant_mtimes(&served), &without_redundant_mtimes(reference.1)));
    match (old, new) {
        (Ok(()), _) | (_, Ok(())) => Ok(()),
        (Err(o), Err(n)) => Err(format!("a mix of old and new: not the state before ({o}), not the planned one ({n})")),
    }
}
