//! What the conflict prompt shows: pyftpsync's description of both versions of a conflicting
//! file, and its byte-by-byte comparison of them (`b`).

use std::io::Read;

use anyhow::Result;

use crate::meta::timefmt::local_stamp;
use crate::model::Kind;
use crate::output::listing::thousands;
use crate::plan::document::{EntryState, PlanEntry};

/// pyftpsync's `Local:`/`Remote:` value: time and size, and for the remote side how it
/// compares with the local one.
fn side(state: Option<&EntryState>, other: Option<&EntryState>) -> String {
    let Some(s) = state else { return "n.a.".into() };
    if s.kind == Kind::Dir {
        return "folder".into();
    }
    let mut text = format!("{}, {:>8} bytes", local_stamp(s.mtime), thousands(s.size));
    if let Some(o) = other {
        let mut comp = Vec::new();
        if s.mtime < o.mtime {
            comp.push("older");
        } else if s.mtime > o.mtime {
            comp.push("newer");
        }
        if s.size < o.size {
            comp.push("smaller");
        } else if s.size > o.size {
            comp.push("larger");
        }
        if !comp.is_empty() {
            text.push_str(&format!(" ({})", comp.join(", ")));
        }
    }
    text
}

/// The description printed before the prompt (pyftpsync's `_print_pair_diff`), plus the
/// plan's reason where it says more than "modified on both".
pub fn conflict(e: &PlanEntry) -> Vec<String> {
    let since = e.record.as_ref().map_or("n.a.".to_string(), |r| local_stamp(r.u));
    let shown = if e.kind == Kind::Dir { format!("{}/", e.path) } else { e.path.to_string() };
    let mut lines = vec![format!("CONFLICT: '{shown}' was modified on both targets since last sync ({since}).")];
    match e.record.as_ref().and_then(|r| Some((r.m?, r.s?))) {
        Some((m, s)) => {
            lines.push(format!("    Original modification time: {}, size: {} bytes.", local_stamp(m), thousands(s)))
        }
        None => lines.push("    (No meta data available.)".into()),
    }
    lines.push(format!("    Local:  {}", side(e.local.as_ref(), None)));
    lines.push(format!("    Remote: {}", side(e.remote.as_ref(), e.local.as_ref())));
    if e.local.is_none() || e.remote.is_none() || e.kind == Kind::Dir {
        lines.push(format!("    ({})", e.reason_text));
    }
    lines
}

/// The first offset where two streams differ, or `None` when they are equal.
pub fn first_difference(a: &mut dyn Read, b: &mut dyn Read) -> std::io::Result<Option<u64>> {
    const BUF: usize = 16 * 1024;
    let (mut x, mut y) = (vec![0u8; BUF], vec![0u8; BUF]);
    let mut offset = 0u64;
    loop {
        let n = read_full(a, &mut x)?;
        let m = read_full(b, &mut y)?;
        if let Some(i) = x[..n.min(m)].iter().zip(&y[..n.min(m)]).position(|(p, q)| p != q) {
            return Ok(Some(offset + i as u64));
        }
        if n != m {
            return Ok(Some(offset + n.min(m) as u64));
        }
        if n == 0 {
            return Ok(None);
        }
        offset += n as u64;
    }
}

/// Reads until `buf` is full or the stream ends.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The line pyftpsync prints for a byte compare, given the sizes and a way to compare.
pub fn compare_line(e: &PlanEntry, compare: impl FnOnce() -> Result<Option<u64>>) -> Result<String> {
    match (&e.local, &e.remote) {
        (Some(l), Some(r)) if l.kind == Kind::File && r.kind == Kind::File => {
            if l.size != r.size {
                return Ok(format!("    Files are different (size {} != {}).", thousands(l.size), thousands(r.size)));
            }
            Ok(match compare()? {
                Some(at) => format!("    Files are different at offset {}.", thousands(at)),
                None => "    Files are equal.".into(),
            })
        }
        _ => Ok("    Files cannot be compared (there is no file on both sides).".into()),
    }
}
