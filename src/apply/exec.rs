//! The individual changes apply makes: verified transfers, folder creation, deletions, each
//! preceded by a last look at the entry it is about to change.

use std::io::{self, Read};

use anyhow::{Result, bail};

use super::check::{describe_state, matches};
use super::sidehash::CopyHasher;
use crate::backend::{StagedFile, Target, Written, with_write_attempts};
use crate::model::Entry;
use crate::model::relpath::RelPath;
use crate::plan::document::EntryState;

/// Fails unless the entry at `path` is still as planned.
pub fn recheck(target: &mut dyn Target, path: &RelPath, planned: Option<&EntryState>) -> Result<()> {
    let found = target.stat(path)?;
    still_planned(&target.info().display, path, planned, found.as_ref())
}

/// Fails unless `found` (the entry at `path` on `side`) is still as planned.
fn still_planned(side: &str, path: &RelPath, planned: Option<&EntryState>, found: Option<&Entry>) -> Result<()> {
    if !matches(planned, found) {
        let now = found.map(|e| EntryState {
            kind: e.kind,
            size: e.size,
            mtime: e.mtime,
            listed_mtime: None,
            unique: e.unique.clone(),
        });
        bail!(
            "{path} changed on {side} since the plan was checked (planned: {}; found: {})",
            describe_state(planned),
            describe_state(now.as_ref())
        );
    }
    Ok(())
}

/// Passes bytes through, and turns end-of-file into an error when the stream is not exactly
/// the planned content (size, and sha256 when pinned) — so the destination's temporary file is
/// never renamed into place. The sha256 of what passed is kept for the report (computed on the
/// way, on a second thread for large files: the file is read once, and hashing overlaps with
/// the writes — see [`super::sidehash`]).
struct Verified<'a> {
    inner: &'a mut dyn Read,
    expected: u64,
    count: u64,
    hasher: Option<CopyHasher>,
    pinned: Option<&'a str>,
    /// The sha256 of the whole stream, once its end was read.
    digest: Option<String>,
}

impl<'a> Verified<'a> {
    /// `inner`, to be checked for `expected` bytes (and the sha256 `pinned`, when given).
    fn new(inner: &'a mut dyn Read, expected: u64, pinned: Option<&'a str>) -> Verified<'a> {
        let hasher = Some(CopyHasher::for_size(expected));
        Verified { inner, expected, count: 0, hasher, pinned, digest: None }
    }
}

impl Read for Verified<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.count != self.expected {
                return Err(io::Error::other(format!(
                    "the source changed during the transfer: {} bytes read, {} planned",
                    self.count, self.expected
                )));
            }
            if let Some(hasher) = self.hasher.take() {
                let got = hasher.finish()?;
                if let Some(want) = self.pinned.filter(|want| *want != got) {
                    return Err(io::Error::other(format!("the source content changed: sha256 {got}, planned {want}")));
                }
                self.digest = Some(got);
            }
            return Ok(0);
        }
        self.count += n as u64;
        if self.count > self.expected {
            return Err(io::Error::other(format!(
                "the source grew during the transfer (more than {} bytes)",
                self.expected
            )));
        }
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n])?;
        }
        Ok(n)
    }
}

/// One copy: the planned source state, and what the destination must still hold (`None`:
/// nothing) when it is replaced.
pub struct Copy<'a> {
    pub src_path: &'a RelPath,
    pub dst_path: &'a RelPath,
    pub state: &'a EntryState,
    pub replaces: Option<&'a EntryState>,
    pub sha256: Option<&'a str>,
}

/// A file written: what the destination stored, and the sha256 of the bytes sent (`None` when
/// the destination stopped reading before the end, which the size check then refuses).
pub struct Copied {
    pub written: Written,
    pub sha256: Option<String>,
}

/// Copies one file between targets, stamping it with the planned modification time. The
/// destination only changes if the whole planned content arrived and what it replaces is
/// still as planned. A write that fails transiently is tried again from the start, as often
/// as the destination allows.
pub fn transfer(src: &mut dyn Target, dst: &mut dyn Target, copy: &Copy<'_>) -> Result<Copied> {
    with_write_attempts(dst.write_attempts(), || transfer_once(src, dst, copy))
}

fn transfer_once(src: &mut dyn Target, dst: &mut dyn Target, copy: &Copy<'_>) -> Result<Copied> {
    let side = dst.info().display.clone();
    let guard = |found: Option<&Entry>| still_planned(&side, copy.dst_path, copy.replaces, found);
    copy_verified(src, copy, &mut |data| dst.replace_file(copy.dst_path, data, Some(copy.state.mtime), &guard))
}

/// Streams the planned source of `copy` through the check that it is exactly the planned
/// content into `store`, and checks the size stored.
fn copy_verified(
    src: &mut dyn Target,
    copy: &Copy<'_>,
    store: &mut dyn FnMut(&mut dyn Read) -> Result<Written>,
) -> Result<Copied> {
    let Copy { src_path, dst_path, state, sha256, .. } = *copy;
    let mut copied = None;
    src.read_file(src_path, &mut |reader| {
        let mut verified = Verified::new(reader, state.size, sha256);
        let written = store(&mut verified)?;
        copied = Some(Copied { written, sha256: verified.digest.take() });
        Ok(())
    })?;
    let Some(c) = copied else { bail!("{src_path}: nothing was read") };
    if c.written.bytes != state.size {
        bail!("{dst_path}: {} bytes stored, {} planned", c.written.bytes, state.size);
    }
    Ok(c)
}

/// Reads the planned source of `copy` whole into memory, through the same checks as a
/// transfer (exactly the planned size, and the sha256 when pinned); with the sha256 of what was
/// read. For small files that a destination takes several at once
/// ([`Target::write_staged_all`]).
pub fn read_verified(src: &mut dyn Target, copy: &Copy<'_>) -> Result<(Vec<u8>, String)> {
    let Copy { src_path, state, sha256, .. } = *copy;
    let mut bytes = Vec::with_capacity(state.size as usize);
    let mut digest = None;
    src.read_file(src_path, &mut |reader| {
        // A source that retries a cut read starts over.
        bytes.clear();
        let mut verified = Verified::new(reader, state.size, sha256);
        io::copy(&mut verified, &mut bytes)?;
        digest = verified.digest.take();
        Ok(())
    })?;
    let Some(digest) = digest else { bail!("{src_path}: nothing was read") };
    Ok((bytes, digest))
}

/// Copies small files to their staged names together: each read whole through the
/// checks of [`read_verified`], then all handed to the destination at once
/// ([`Target::write_staged_all`]) and each checked for size. Each file's result in order;
/// `None` for one that did not get there: what it left is removed (best effort, as by
/// [`transfer_staged`]), and the caller copies it again the usual way, which reports its own
/// failure.
pub fn transfer_staged_all(
    src: &mut dyn Target,
    dst: &mut dyn Target,
    copies: &[(Copy<'_>, &RelPath)],
) -> Vec<Option<Copied>> {
    let read: Vec<Option<(Vec<u8>, String)>> = copies.iter().map(|(c, _)| read_verified(src, c).ok()).collect();
    let files: Vec<StagedFile<'_>> = copies
        .iter()
        .zip(&read)
        .filter_map(|((c, at), r)| {
            r.as_ref().map(|(data, _)| StagedFile { path: at, data, mtime: Some(c.state.mtime) })
        })
        .collect();
    let mut written = dst.write_staged_all(&files).into_iter();
    drop(files);
    copies
        .iter()
        .zip(read)
        .map(|((c, at), r)| {
            let (_, sha256) = r?;
            match written.next()? {
                Ok(written) if written.bytes == c.state.size => Some(Copied { written, sha256: Some(sha256) }),
                _ => {
                    let _ = dst.remove_tree(at);
                    None
                }
            }
        })
        .collect()
}

/// Copies one file to `write_at` on the destination, a name nothing visible uses (a staged
/// apply, see [`super::stage`]): the planned source content, stamped with the planned time,
/// checked for size. The file it will replace at commit was re-checked by the caller. A write
/// that fails transiently is tried again from the start; a failed attempt's file is removed.
pub fn transfer_staged(
    src: &mut dyn Target,
    dst: &mut dyn Target,
    copy: &Copy<'_>,
    write_at: &RelPath,
) -> Result<Copied> {
    with_write_attempts(dst.write_attempts(), || {
        let result = transfer_staged_once(src, dst, copy, write_at);
        if result.is_err() {
            // Best effort: what is left has a temporary name, which is no content, and the
            // rollback (or a later run) removes it.
            let _ = dst.remove_tree(write_at);
        }
        result
    })
}

fn transfer_staged_once(
    src: &mut dyn Target,
    dst: &mut dyn Target,
    copy: &Copy<'_>,
    write_at: &RelPath,
) -> Result<Copied> {
    let mut again = false;
    copy_verified(src, copy, &mut |data| {
        // A source that retries a cut read calls this again: the staged name starts over.
        if std::mem::replace(&mut again, true) {
            dst.remove_tree(write_at)?;
        }
        dst.write_staged(write_at, data, Some(copy.state.mtime))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::sidehash::SIDE_FROM;
    use crate::model::digest::sha256_hex;

    /// Both ways of hashing (in place, and on the side for large files) keep the same checks.
    #[test]
    fn large_and_small_streams_are_hashed_and_checked_alike() {
        for len in [1000, SIDE_FROM as usize * 3 + 17] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let sha = sha256_hex(&bytes);
            let mut out = Vec::new();
            let mut src = &bytes[..];
            let mut v = Verified::new(&mut src, len as u64, Some(&sha));
            crate::backend::copy::copy(&mut v, &mut out).unwrap();
            assert_eq!((out == bytes, v.digest.as_deref()), (true, Some(sha.as_str())), "{len} bytes");

            let other = sha256_hex(b"other");
            let mut src = &bytes[..];
            let mut v = Verified::new(&mut src, len as u64, Some(&other));
            let err = crate::backend::copy::copy(&mut v, &mut Vec::new()).unwrap_err().to_string();
            assert!(err.starts_with("the source content changed: sha256 "), "{len} bytes: {err}");

            let mut src = &bytes[..];
            let mut v = Verified::new(&mut src, len as u64 + 1, None);
            let err = crate::backend::copy::copy(&mut v, &mut Vec::new()).unwrap_err().to_string();
            assert!(err.starts_with("the source changed during the transfer"), "{len} bytes: {err}");
            assert!(v.digest.is_none());
        }
    }
}
