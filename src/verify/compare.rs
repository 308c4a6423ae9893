//! Comparing what is there with what should be: presence, kind, size and time from the
//! listing; content by SHA-2 digests ([`super::digests`]), each file's method named.

use std::collections::{BTreeMap, BTreeSet};

use super::digests::{Digest, digests};
use super::expect::Expected;
use super::walk::whole_tree;
use super::{FileResult, State, Status};
use crate::backend::Target;
use crate::model::digest::HashAlg;
use crate::model::relpath::RelPath;
use crate::model::{Entry, Kind};
use crate::planner::classify::EPS;
use crate::planner::filter::Filter;

/// How to verify.
pub struct Options<'a> {
    /// Also report files that are there but not expected (the report does not know them).
    pub strict: bool,
    /// Download and hash files whose server cannot hash them.
    pub download: bool,
    pub workers: usize,
    pub filter: &'a Filter,
}

/// The method of files compared by their listing only.
const LISTING: &str = "listing";

fn found_state(e: &Entry) -> State {
    match e.kind {
        Kind::Dir => State { kind: Kind::Dir, size: None, mtime: None, sha256: None },
        Kind::File => State { kind: Kind::File, size: Some(e.size), mtime: Some(e.mtime), sha256: None },
    }
}

fn result(path: &RelPath, status: Status, detail: Option<String>) -> FileResult {
    FileResult {
        path: path.to_string(),
        status,
        method: LISTING.into(),
        content_proven: false,
        detail,
        expected: None,
        found: None,
    }
}

/// What differs between an expected and a found entry by their listing, if anything.
fn listing_difference(want: &State, found: &Entry) -> Option<String> {
    if want.kind != found.kind {
        return Some(format!("a {:?} where a {:?} should be", found.kind, want.kind).to_lowercase());
    }
    if let Some(size) = want.size.filter(|s| *s != found.size) {
        return Some(format!("size {} bytes, expected {size}", found.size));
    }
    if let Some(t) = want.mtime.filter(|t| (t - found.mtime).abs() > EPS) {
        return Some(format!("modified {}, expected {}", timefmt(found.mtime), timefmt(t)));
    }
    None
}

fn timefmt(t: f64) -> String {
    crate::meta::timefmt::iso_utc(t)
}

/// Checks `target` against what a report or plan expects there.
pub fn against_expected(
    target: &mut dyn Target,
    expected: &Expected,
    opts: &Options<'_>,
) -> anyhow::Result<Vec<FileResult>> {
    let tree = whole_tree(target, opts.filter, opts.workers)?;
    let mut out = Vec::new();
    let mut hash_wanted: Vec<(usize, RelPath, String)> = Vec::new();
    let known: BTreeSet<&RelPath> = expected.entries.iter().map(|(p, _)| p).collect();
    for (path, want) in &expected.entries {
        let found = tree.get(path);
        let r = match (want, found) {
            (None, None) => continue,
            (None, Some(f)) => {
                let mut r = result(path, Status::Extra, Some("should have been deleted".into()));
                r.found = Some(found_state(f));
                r
            }
            (Some(w), None) => {
                let mut r = result(path, Status::Missing, None);
                r.expected = Some(w.clone());
                r
            }
            (Some(w), Some(f)) => {
                let diff = listing_difference(w, f);
                let status = if diff.is_some() { Status::Differs } else { Status::Match };
                let mut r = result(path, status, diff);
                r.expected = Some(w.clone());
                r.found = Some(found_state(f));
                if status == Status::Match && w.kind == Kind::File {
                    match &w.sha256 {
                        Some(sha) => hash_wanted.push((out.len(), path.clone(), sha.clone())),
                        None => r.detail = Some("no sha256 recorded: content not compared".into()),
                    }
                }
                r
            }
        };
        out.push(r);
    }
    if opts.strict {
        for (path, e) in tree.iter().filter(|(p, _)| !known.contains(p)) {
            // A folder the report does not name but that holds files it names is no surprise.
            if e.kind == Kind::Dir && known.iter().any(|k| k.starts_with(path)) {
                continue;
            }
            let mut r = result(path, Status::Extra, Some(format!("not in the {}", expected.against)));
            r.found = Some(found_state(e));
            out.push(r);
        }
    }
    let paths: Vec<RelPath> = hash_wanted.iter().map(|(_, p, _)| p.clone()).collect();
    let got = digests(target, &paths, HashAlg::Sha256, opts.download, opts.workers);
    for ((at, _, want), d) in hash_wanted.into_iter().zip(got) {
        settle(&mut out[at], &want, d);
    }
    Ok(out)
}

/// Puts a digest's verdict into a file's result (its listing matched).
fn settle(r: &mut FileResult, want: &str, d: Digest) {
    match d {
        Digest::Hex { hex, method } => {
            r.method = method;
            r.content_proven = true;
            if hex != want {
                r.status = Status::Differs;
                r.detail = Some(format!("content differs: sha256 {hex}, expected {want}"));
            }
            if let Some(f) = &mut r.found {
                f.sha256 = Some(hex);
            }
        }
        Digest::Unsupported(why) => {
            r.detail = Some(format!("content not compared: {why} (pass --download to compare it)"));
        }
        Digest::Failed(why) => {
            r.status = Status::Error;
            r.detail = Some(why);
        }
    }
}

/// Compares two targets by content (`verify LOCAL REMOTE`): a file on one side only is
/// reported, files of different sizes differ, files of the same size are compared by a SHA-2
/// digest — the second target's own hashing (SHA-256, else SHA-512) where it offers one, else
/// with `--download`; the first side is hashed the same way (a local folder reads its files).
pub fn two_targets(
    left: &mut dyn Target,
    right: &mut dyn Target,
    opts: &Options<'_>,
) -> anyhow::Result<Vec<FileResult>> {
    let a = whole_tree(left, opts.filter, opts.workers)?;
    let b = whole_tree(right, opts.filter, opts.workers)?;
    let mut out = Vec::new();
    let mut same_size: Vec<(usize, RelPath)> = Vec::new();
    let paths: BTreeSet<&RelPath> = a.keys().chain(b.keys()).collect();
    for path in paths {
        let r = match (a.get(path), b.get(path)) {
            (Some(l), None) => FileResult {
                expected: Some(found_state(l)),
                ..result(path, Status::Missing, Some(format!("only on {}", left.info().display)))
            },
            (None, Some(r)) => FileResult {
                found: Some(found_state(r)),
                ..result(path, Status::Extra, Some(format!("only on {}", right.info().display)))
            },
            (Some(l), Some(r)) => {
                let mut want = found_state(l);
                // Content is compared, not times (as `rclone check`).
                want.mtime = None;
                let diff = listing_difference(&want, r);
                let status = if diff.is_some() { Status::Differs } else { Status::Match };
                if status == Status::Match && l.kind == Kind::File {
                    same_size.push((out.len(), path.clone()));
                }
                FileResult { expected: Some(found_state(l)), found: Some(found_state(r)), ..result(path, status, diff) }
            }
            (None, None) => continue,
        };
        out.push(r);
    }
    compare_contents(left, right, &mut out, same_size, opts);
    Ok(out)
}

/// Digests both sides of the files of the same size and compares them.
fn compare_contents(
    left: &mut dyn Target,
    right: &mut dyn Target,
    out: &mut [FileResult],
    todo: Vec<(usize, RelPath)>,
    opts: &Options<'_>,
) {
    let mut by_alg: BTreeMap<usize, (HashAlg, Digest)> = BTreeMap::new();
    // The server's own SHA-256, then SHA-512, then (with --download) a download.
    let mut passes = vec![(HashAlg::Sha256, false), (HashAlg::Sha512, false)];
    if opts.download {
        passes.push((HashAlg::Sha256, true));
    }
    let (left_name, right_name) = (left.info().display.clone(), right.info().display.clone());
    let mut todo: Vec<(usize, RelPath, Option<String>)> = todo.into_iter().map(|(at, p)| (at, p, None)).collect();
    for (alg, download) in passes {
        if todo.is_empty() {
            break;
        }
        let paths: Vec<RelPath> = todo.iter().map(|(_, p, _)| p.clone()).collect();
        let got = digests(right, &paths, alg, download, opts.workers);
        let mut rest = Vec::new();
        for ((at, p, _), d) in todo.into_iter().zip(got) {
            match d {
                Digest::Unsupported(why) => rest.push((at, p, Some(why))),
                d => {
                    by_alg.insert(at, (alg, d));
                }
            }
        }
        todo = rest;
    }
    for alg in [HashAlg::Sha256, HashAlg::Sha512] {
        let items: Vec<(usize, RelPath)> = by_alg
            .iter()
            .filter(|(_, (a, d))| *a == alg && matches!(d, Digest::Hex { .. }))
            .map(|(at, _)| (*at, RelPath::parse(&out[*at].path).expect("a path of the tree")))
            .collect();
        let paths: Vec<RelPath> = items.iter().map(|(_, p)| p.clone()).collect();
        // The first side is read (a local folder computes it itself).
        let mine = digests(left, &paths, alg, true, opts.workers);
        for ((at, _), l) in items.into_iter().zip(mine) {
            let Some((_, Digest::Hex { hex, method })) = by_alg.remove(&at) else { continue };
            let r = &mut out[at];
            match l {
                Digest::Hex { hex: lhex, .. } => {
                    r.method = method;
                    r.content_proven = true;
                    if lhex != hex {
                        r.status = Status::Differs;
                        r.detail = Some(format!(
                            "content differs: {} {lhex} on {left_name}, {hex} on {right_name}",
                            alg.name()
                        ));
                    }
                }
                Digest::Unsupported(why) | Digest::Failed(why) => {
                    r.status = Status::Error;
                    r.detail = Some(why);
                }
            }
        }
    }
    for (at, (_, d)) in by_alg {
        let r = &mut out[at];
        if let Digest::Failed(why) = d {
            r.status = Status::Error;
            r.detail = Some(why);
        }
    }
    for (at, _, why) in todo {
        let why = why.unwrap_or_else(|| "the server offers no SHA-2 hashing".into());
        out[at].detail = Some(format!("content not compared: {why} (pass --download to compare it)"));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::memory::{MemoryFs, MemoryOptions};
    use crate::model::SystemClock;
    use crate::verify::expect::Expected;

    fn tree() -> MemoryFs {
        let fs = MemoryFs::new(Arc::new(SystemClock), MemoryOptions::default());
        fs.put_file("a.txt", b"alpha", 1000.0);
        fs.put_file("sub/b.txt", b"bravo", 2000.0);
        fs
    }

    fn state(size: u64, mtime: f64, content: &[u8]) -> Option<State> {
        let sha256 = Some(crate::model::digest::sha256_hex(content));
        Some(State { kind: Kind::File, size: Some(size), mtime: Some(mtime), sha256 })
    }

    #[test]
    fn same_size_same_time_other_bytes_is_found_by_content() {
        let filter = Filter::new(&[], &[]).unwrap();
        let opts = Options { strict: true, download: false, workers: 2, filter: &filter };
        let fs = tree();
        fs.put_file("a.txt", b"ALPHA", 1000.0);
        fs.put_file("extra.txt", b"?", 1000.0);
        let expected = Expected {
            against: "report",
            remote: crate::plan::document::TargetDesc::from(fs.target("r", false).info()),
            entries: vec![
                (RelPath::parse("a.txt").unwrap(), state(5, 1000.0, b"alpha")),
                (RelPath::parse("sub/b.txt").unwrap(), state(5, 2000.0, b"bravo")),
                (RelPath::parse("gone.txt").unwrap(), None),
            ],
            notes: Vec::new(),
        };
        let got = against_expected(&mut fs.target("r", false), &expected, &opts).unwrap();
        let of = |p: &str| got.iter().find(|r| r.path == p).unwrap_or_else(|| panic!("{p} in {got:#?}"));
        assert_eq!((of("a.txt").status, of("a.txt").method.as_str()), (Status::Differs, "read locally (SHA-256)"));
        assert!(of("sub/b.txt").status == Status::Match && of("sub/b.txt").content_proven);
        assert_eq!(of("extra.txt").status, Status::Extra);
        assert!(got.iter().all(|r| r.path != "gone.txt" && r.path != "sub"), "{got:#?}");
    }

    #[test]
    fn two_targets_by_content() {
        let filter = Filter::new(&[], &[]).unwrap();
        let opts = Options { strict: false, download: false, workers: 1, filter: &filter };
        let (left, right) = (tree(), tree());
        right.put_file("sub/b.txt", b"BRAVO", 5.0);
        right.put_file("c.txt", b"new", 5.0);
        let got = two_targets(&mut left.target("l", false), &mut right.target("r", false), &opts).unwrap();
        let of = |p: &str| got.iter().find(|r| r.path == p).unwrap();
        // Times are not compared, content is.
        assert!(of("a.txt").status == Status::Match && of("a.txt").content_proven);
        assert_eq!(of("sub/b.txt").status, Status::Differs);
        assert_eq!(of("c.txt").status, Status::Extra);
    }
}
