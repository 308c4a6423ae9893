//! The properties the fuzz targets (`fuzz/`) check, as plain functions so that every input a
//! fuzzer ever found wrong is replayed by the normal test suite (`tests/integration/fuzzed.rs`
//! runs each file of `fuzz/regressions/`).
//!
//! Each function takes untrusted bytes, runs one reader on them, and panics if the reader
//! panics or accepts something it must not: a listing entry with a name that could escape the
//! root, an absurd size or time; a plan whose paths are unsafe or that does not survive a
//! JSON ⇄ MessagePack round trip; a metadata document that reads back differently once written.

use crate::backend::ftp::listing::{Format, MAX_SIZE, checked_mtime, parse_listing};
use crate::meta::{DirMeta, WriteStyle};
use crate::model::relpath::{RelPath, check_name};
use crate::plan::io::{FileFormat, decode, encode};

/// A fixed "now" for LIST dates without a year (2024-03-01 UTC).
const NOW: f64 = 1_709_251_200.0;

/// Parses a whole listing payload and checks every entry it accepts.
pub fn check_listing(data: &[u8], format: Format) {
    // A listing refused as a whole (unreadable) accepts nothing.
    let Ok(parsed) = parse_listing(data, format, NOW) else { return };
    let entries = &parsed.listing.entries;
    assert_eq!(parsed.details.len(), entries.len(), "one details record per entry");
    for e in entries {
        assert!(check_name(&e.name).is_ok(), "unsafe name accepted: {:?}", e.name);
        assert!(e.size <= MAX_SIZE, "absurd size accepted: {}", e.size);
        assert!(e.mtime.is_finite() && checked_mtime(e.mtime).is_ok(), "absurd time accepted: {}", e.mtime);
        let details = parsed.details.get(&e.name).expect("details of an entry");
        assert!(!details.raw_name.is_empty(), "an entry without raw name bytes");
    }
    let mut names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "a name listed twice was accepted");
}

/// Reads a plan (JSON or MessagePack) and, if it is accepted, checks its paths and that it
/// reads back with the same digest from both encodings.
pub fn check_plan(data: &[u8]) {
    let Ok(loaded) = decode(data) else { return };
    let plan = &loaded.plan;
    for path in plan.entries.iter().map(|e| &e.path).chain(plan.folders.iter().map(|f| &f.path)) {
        assert!(RelPath::parse(path.as_str()).is_ok(), "unsafe path accepted: {:?}", path.as_str());
    }
    for format in [FileFormat::Json, FileFormat::Msgpack] {
        let again = decode(&encode(plan, format))
            .unwrap_or_else(|e| panic!("a plan read once is refused after writing it as {format:?}: {e}"));
        assert_eq!(again.digest, loaded.digest, "the {format:?} round trip changed the plan");
        assert!(again.plan == *plan, "the {format:?} round trip changed the plan");
    }
}

/// Reads a metadata document and, if it is accepted, checks that writing it and reading it
/// again gives the same records.
pub fn check_meta(data: &[u8]) {
    let Ok(meta) = DirMeta::parse(data) else { return };
    let style = WriteStyle { verbose: data.len().is_multiple_of(2), version: "fuzz".into() };
    let written = meta.to_bytes(NOW, &style);
    let again =
        DirMeta::parse(&written).unwrap_or_else(|e| panic!("a document read once is refused after writing it: {e}"));
    assert_eq!(again.mtimes, meta.mtimes, "mtimes changed by a rewrite");
    assert_eq!(again.peer_sync, meta.peer_sync, "peer_sync changed by a rewrite");
}
