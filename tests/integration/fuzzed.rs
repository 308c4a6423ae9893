//! Replays what the fuzz targets (`fuzz/`) found, and their seeds, through the same checks
//! (`ftpsync::fuzzing`): every input that once crashed a reader, or made it accept something it
//! must not, stays fixed. Crash inputs go to `fuzz/regressions/TARGET/` (see `fuzz/run.sh`).

use std::path::PathBuf;

use ftpsync::backend::ftp::listing::Format;
use ftpsync::fuzzing::{check_listing, check_meta, check_plan};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = crate::support::repo().join("fuzz");
    let mut out = Vec::new();
    for dir in [fuzz.join("regressions").join(target), fuzz.join("corpus").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            let seed = path.file_name().unwrap().to_string_lossy().starts_with("seed-");
            if dir.ends_with(target) && (seed || dir.parent().unwrap().ends_with("regressions")) {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    assert!(!out.is_empty(), "no seeds or regressions for {target}");
    out
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in inputs(target) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(result.is_ok(), "{} fails the {target} check again", path.display());
    }
}

#[test]
fn fuzzed_mlsd_inputs_stay_fixed() {
    replay("mlsd", |b| check_listing(b, Format::Mlsd));
}

#[test]
fn fuzzed_list_inputs_stay_fixed() {
    replay("list", |b| check_listing(b, Format::List));
}

#[test]
fn fuzzed_plans_stay_fixed() {
    replay("plan_json", check_plan);
    replay("plan_msgpack", check_plan);
}

#[test]
fn fuzzed_metadata_stays_fixed() {
    replay("meta", check_meta);
}

/// The seeds are real documents: the plan and metadata readers accept them (so the round-trip
/// checks above ran on them, not only the refusal path).
#[test]
fn the_seeds_are_accepted_documents() {
    for target in ["plan_json", "plan_msgpack"] {
        for (path, bytes) in inputs(target).into_iter().filter(|(p, _)| p.to_string_lossy().contains("/corpus/")) {
            assert!(ftpsync::plan::io::decode(&bytes).is_ok(), "{} is refused", path.display());
        }
    }
    for (path, bytes) in inputs("meta").into_iter().filter(|(p, _)| p.to_string_lossy().contains("/corpus/")) {
        assert!(ftpsync::meta::DirMeta::parse(&bytes).is_ok(), "{} is refused", path.display());
    }
}
