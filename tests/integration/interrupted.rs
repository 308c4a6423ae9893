//! Transfers cut off midway (contract §5: "a failed transfer leaves the old file intact").
//!
//! A proxy (`support::cut_proxy`) sits between ftpsync and the in-process server and resets
//! the data connection (or the control connection) of a large transfer after 1 MiB. An
//! upload or download cut like that must leave the previous file intact under its name, on the
//! server and locally, leave no temporary file behind, and leave the metadata claiming the old
//! state; a run without the cut converges. With retries, a transfer cut once succeeds.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ftpsync::apply::{Applied, apply};
use ftpsync::backend::Target;
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::local::LocalTarget;
use ftpsync::model::listing::TEMP_PREFIX;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan;
use ftpsync::server::ServerHandle;
use serde_json::Value;

use crate::support::cut_proxy::{Cut, CutProxy};
use crate::support::fixture::write;
use crate::support::{bounded, ftp, settings};

const DEADLINE: Duration = Duration::from_secs(60);
/// The client's network timeout: also how long it waits for a server that never learnt of a cut
/// (a data connection reset before the server accepted it leaves the server waiting).
const TIMEOUT: Duration = Duration::from_secs(3);
/// Size of the old content; the new one is a little larger.
const BIG: usize = 3 << 20;
const CUT_AFTER: u64 = 1 << 20;
const NAME: &str = "big.bin";
/// 2023-01-01 00:00:00 UTC, and an hour later.
const OLD_TIME: f64 = 1_672_531_200.0;
const NEW_TIME: f64 = OLD_TIME + 3600.0;

/// Deterministic bytes that differ per `seed`.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn put(dir: &Path, bytes: &[u8], mtime: f64) {
    let path = dir.join(NAME);
    fs::write(&path, bytes).unwrap();
    let t = filetime::FileTime::from_unix_time(mtime as i64, 0);
    filetime::set_file_times(&path, t, t).unwrap();
}

/// A local folder, a served folder, the in-process server and the proxy in front of it.
struct World {
    _dir: tempfile::TempDir,
    local: PathBuf,
    served: PathBuf,
    proxy: CutProxy,
    _server: ServerHandle,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let (local, served) = (dir.path().join("local"), dir.path().join("remote"));
        fs::create_dir_all(&local).unwrap();
        fs::create_dir_all(&served).unwrap();
        // A small neighbour, so the folder has more to do than the big file.
        write(&local, "small.txt", "small", OLD_TIME);
        let server = ftp::serve(&served);
        let proxy = CutProxy::start(server.addr());
        World { _dir: dir, local, served, proxy, _server: server }
    }

    /// Plans and applies `mode` through the proxy.
    fn run(&self, mode: Mode, retries: u32) -> Applied {
        let (local, url) = (self.local.clone(), self.proxy.url());
        bounded(DEADLINE, move || {
            let options = Options { retries, create_root: false };
            let mut remote = FtpTarget::open(ftp::settings_at(&url, TIMEOUT), options).unwrap();
            let mut l = LocalTarget::open(&local).unwrap();
            let plan = make_plan(&mut l, &mut remote, PlanOptions::new(mode), SystemClock.now()).unwrap().plan;
            let applied =
                apply(&plan, &mut l, &mut remote, &settings()).unwrap_or_else(|e| panic!("apply failed: {e:#}"));
            remote.close().unwrap();
            applied
        })
    }

    /// How many changes a fresh plan finds (0 once converged).
    fn pending(&self, mode: Mode) -> u64 {
        let (local, url) = (self.local.clone(), self.proxy.url());
        bounded(DEADLINE, move || {
            let mut remote =
                FtpTarget::open(ftp::settings_at(&url, TIMEOUT), Options { retries: 1, create_root: false }).unwrap();
            let mut l = LocalTarget::open(&local).unwrap();
            make_plan(&mut l, &mut remote, PlanOptions::new(mode), SystemClock.now()).unwrap().plan.summary.changes
        })
    }

    /// The metadata about the big file: the local `peer_sync` record and the server's `mtimes`
    /// record (null when there is none).
    fn records(&self) -> (Value, Value) {
        let read = |p: PathBuf| -> Value { serde_json::from_slice(&fs::read(p).unwrap()).unwrap() };
        let local = read(self.local.join(".pyftpsync-meta.json"));
        let peers = local["peer_sync"].as_object().unwrap();
        assert_eq!(peers.len(), 1, "{local}");
        let record = peers.values().next().unwrap()[NAME].clone();
        // Downloads write no metadata on the server.
        let remote_meta = self.served.join(".pyftpsync-meta.json");
        let remote = if remote_meta.exists() { read(remote_meta)["mtimes"][NAME].clone() } else { Value::Null };
        (record, remote)
    }
}

/// Fails if a temporary file is left in `dir`.
fn assert_no_temporary_files(dir: &Path) {
    let left: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(TEMP_PREFIX))
        .collect();
    assert!(left.is_empty(), "temporary files left in {}: {left:?}", dir.display());
}

fn only_failure(applied: &Applied) -> String {
    assert_eq!(applied.failures(), 1, "{:?}", applied.outcomes);
    applied.outcomes.iter().find_map(|o| o.error.clone()).unwrap()
}

/// An upload world: both sides hold the old content (synchronised), the local file has
/// changed since.
fn changed_locally() -> (World, Vec<u8>, Vec<u8>) {
    let w = World::new();
    let (old, new) = (content(1, BIG), content(2, BIG + 4096));
    put(&w.local, &old, OLD_TIME);
    assert_eq!(w.run(Mode::Upload, 1).failures(), 0);
    assert_eq!(fs::read(w.served.join(NAME)).unwrap(), old);
    put(&w.local, &new, NEW_TIME);
    (w, old, new)
}

/// A download world: both sides hold the old content (synchronised), the server's file has
/// changed since.
fn changed_on_server() -> (World, Vec<u8>, Vec<u8>) {
    let w = World::new();
    let (old, new) = (content(3, BIG), content(4, BIG + 4096));
    put(&w.served, &old, OLD_TIME);
    write(&w.served, "small.txt", "small", OLD_TIME);
    assert_eq!(w.run(Mode::Download, 1).failures(), 0);
    assert_eq!(fs::read(w.local.join(NAME)).unwrap(), old);
    put(&w.served, &new, NEW_TIME);
    (w, old, new)
}

fn cut_upload_keeps_the_old_file(what: Cut) {
    let (w, old, new) = changed_locally();
    let records = w.records();
    w.proxy.cut(what, CUT_AFTER, usize::MAX);
    let error = only_failure(&w.run(Mode::Upload, 1));
    assert!(w.proxy.cuts_made() >= 1);
    assert!(error.contains(NAME) || error.contains("upload"), "{error}");

    assert_eq!(fs::read(w.served.join(NAME)).unwrap(), old, "the server's file is the old one, whole");
    assert_no_temporary_files(&w.served);
    assert_eq!(fs::read(w.local.join(NAME)).unwrap(), new);
    assert_eq!(w.records(), records, "the metadata does not claim the new file");

    w.proxy.disarm();
    assert_eq!(w.run(Mode::Upload, 1).failures(), 0);
    assert_eq!(fs::read(w.served.join(NAME)).unwrap(), new);
    assert_no_temporary_files(&w.served);
    assert_eq!(w.records().1["s"], new.len());
    assert_eq!(w.pending(Mode::Upload), 0);
}

#[test]
fn an_upload_cut_on_the_data_connection_keeps_the_old_file() {
    cut_upload_keeps_the_old_file(Cut::Data);
}

#[test]
fn an_upload_cut_on_the_control_connection_keeps_the_old_file() {
    cut_upload_keeps_the_old_file(Cut::Control);
}

fn cut_download_keeps_the_old_file(what: Cut) {
    let (w, old, new) = changed_on_server();
    let records = w.records();
    w.proxy.cut(what, CUT_AFTER, usize::MAX);
    let error = only_failure(&w.run(Mode::Download, 1));
    assert!(w.proxy.cuts_made() >= 1);
    assert!(error.contains("interrupted") || error.contains("failed"), "{error}");

    assert_eq!(fs::read(w.local.join(NAME)).unwrap(), old, "the local file is the old one, whole");
    assert_no_temporary_files(&w.local);
    assert_eq!(fs::read(w.served.join(NAME)).unwrap(), new);
    assert_eq!(w.records(), records, "the metadata does not claim the new file");

    w.proxy.disarm();
    assert_eq!(w.run(Mode::Download, 1).failures(), 0);
    assert_eq!(fs::read(w.local.join(NAME)).unwrap(), new);
    assert_no_temporary_files(&w.local);
    assert_eq!(w.records().0["s"], new.len());
    assert_eq!(w.pending(Mode::Download), 0);
}

#[test]
fn a_download_cut_on_the_data_connection_keeps_the_old_file() {
    cut_download_keeps_the_old_file(Cut::Data);
}

#[test]
fn a_download_cut_on_the_control_connection_keeps_the_old_file() {
    cut_download_keeps_the_old_file(Cut::Control);
}

#[test]
fn an_upload_cut_once_succeeds_on_the_next_attempt() {
    let (w, _, new) = changed_locally();
    w.proxy.cut(Cut::Data, CUT_AFTER, 1);
    assert_eq!(w.run(Mode::Upload, 3).failures(), 0);
    assert_eq!(w.proxy.cuts_made(), 1);
    assert_eq!(fs::read(w.served.join(NAME)).unwrap(), new);
    assert_no_temporary_files(&w.served);
    assert_eq!(w.records().0["s"], new.len());
    assert_eq!(w.records().1["s"], new.len());
    assert_eq!(w.pending(Mode::Upload), 0);
}

#[test]
fn a_download_cut_once_succeeds_on_the_next_attempt() {
    let (w, _, new) = changed_on_server();
    w.proxy.cut(Cut::Data, CUT_AFTER, 1);
    assert_eq!(w.run(Mode::Download, 3).failures(), 0);
    assert_eq!(w.proxy.cuts_made(), 1);
    assert_eq!(fs::read(w.local.join(NAME)).unwrap(), new);
    assert_no_temporary_files(&w.local);
    assert_eq!(w.records().0["s"], new.len());
    assert_eq!(w.pending(Mode::Download), 0);
}
