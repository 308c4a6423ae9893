//! Digests of many files of one target, in parallel over `--workers` connections: the target
//! hashes them itself where it can ([`Target::hash_files`], in batches), and what it cannot is
//! downloaded and hashed here when allowed (streamed: memory stays bounded whatever the size).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::backend::Target;
use crate::backend::hash::read_and_hash;
use crate::model::digest::{HashAlg, Hashed};
use crate::model::relpath::RelPath;

/// Files per [`Target::hash_files`] call (one write of commands on FTP).
const BATCH: usize = 32;

/// One file's digest, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Digest {
    /// Lower-case hex, and the method (`HASH SHA-256`, `download (SHA-256)`...).
    Hex { hex: String, method: String },
    /// The target cannot hash with this algorithm, and downloading was not allowed: why.
    Unsupported(String),
    /// This file could not be hashed (the server failed, it vanished): why.
    Failed(String),
}

/// Digests of `paths` on `target` with `alg`: the target's own hashing first; with
/// `download`, what it cannot hash is read and hashed here. In the order of `paths`.
pub fn digests(
    target: &mut dyn Target,
    paths: &[RelPath],
    alg: HashAlg,
    download: bool,
    workers: usize,
) -> Vec<Digest> {
    let mut out = in_parallel(target, paths, workers, BATCH, &|t, batch| own(t, batch, alg));
    if download {
        let todo: Vec<usize> = (0..paths.len()).filter(|&i| matches!(out[i], Digest::Unsupported(_))).collect();
        let wanted: Vec<RelPath> = todo.iter().map(|&i| paths[i].clone()).collect();
        let fetched = in_parallel(target, &wanted, workers, 1, &|t, batch| fetch(t, batch, alg));
        for (i, d) in todo.into_iter().zip(fetched) {
            out[i] = d;
        }
    }
    out
}

/// The target's own hashing of one batch.
fn own(target: &mut dyn Target, batch: &[RelPath], alg: HashAlg) -> Vec<Digest> {
    match target.hash_files(batch, alg) {
        Ok(answers) => answers
            .into_iter()
            .map(|a| match a {
                Ok(Hashed::Digest { hex, method }) => Digest::Hex { hex, method },
                Ok(Hashed::Unsupported(why)) => Digest::Unsupported(why),
                Err(e) => Digest::Failed(format!("{e:#}")),
            })
            .collect(),
        Err(e) => batch.iter().map(|_| Digest::Failed(format!("{e:#}"))).collect(),
    }
}

/// Downloads and hashes each file of one batch.
fn fetch(target: &mut dyn Target, batch: &[RelPath], alg: HashAlg) -> Vec<Digest> {
    batch
        .iter()
        .map(|p| match read_and_hash(target, p, alg) {
            Ok((hex, _)) => Digest::Hex { hex, method: format!("download ({})", alg.name()) },
            Err(e) => Digest::Failed(format!("{e:#}")),
        })
        .collect()
}

type Job<'a> = dyn Fn(&mut dyn Target, &[RelPath]) -> Vec<Digest> + Sync + 'a;

/// Runs `job` over `paths` in batches of `per` on `target` and up to `workers - 1` more
/// connections (a server refusing more: fewer); results in the order of `paths`.
fn in_parallel(target: &mut dyn Target, paths: &[RelPath], workers: usize, per: usize, job: &Job<'_>) -> Vec<Digest> {
    let queue: Mutex<VecDeque<(usize, &[RelPath])>> =
        Mutex::new(paths.chunks(per).enumerate().map(|(i, c)| (i * per, c)).collect());
    let results: Mutex<Vec<Option<Digest>>> = Mutex::new(vec![None; paths.len()]);
    let extra = workers.max(1).min(paths.len().div_ceil(per.max(1))).saturating_sub(1);
    let opener = target.opener();
    let run = |t: &mut dyn Target| {
        // Ctrl-C: no further batch starts (the command then exits as aborted).
        while crate::error::interrupt::check().is_ok() {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
            let Some((at, batch)) = next else { break };
            let done = job(t, batch);
            let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
            for (k, d) in done.into_iter().enumerate() {
                r[at + k] = Some(d);
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 0..extra {
            let (opener, run) = (opener.clone(), &run);
            s.spawn(move || {
                if let Ok(mut conn) = opener() {
                    run(&mut *conn);
                    let _ = conn.close();
                }
            });
        }
        run(target);
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.into_iter().map(|d| d.unwrap_or_else(|| Digest::Failed("not hashed".into()))).collect()
}
