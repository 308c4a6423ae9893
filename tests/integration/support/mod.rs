//! Shared helpers of the integration tests.

pub mod cut_proxy;
pub mod fake_ftp;
pub mod fake_ftps;
pub mod fixture;
pub mod ftp;
pub mod iis_ftp;
#[cfg(unix)]
pub mod pty;
pub mod refusing_ftp;
pub mod scenarios;
pub mod sftp;
pub mod sockets;
pub mod truth;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ftpsync::apply::{Applied, ApplySettings, apply};
use ftpsync::backend::local::LocalTarget;
use ftpsync::meta::WriteStyle;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::document::Plan;
use ftpsync::plan::options::PlanOptions;
use ftpsync::scan::engine::make_plan;

/// The repository root (for `golden/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when golden files are to be rewritten.
pub fn update_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Connections per side for tests: `FTPSYNC_TEST_WORKERS` (so the whole suite can run with
/// 1 and with 8), else 4.
pub fn workers() -> usize {
    std::env::var("FTPSYNC_TEST_WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(4)
}

pub fn settings() -> ApplySettings {
    ApplySettings {
        clock: Arc::new(SystemClock),
        meta_style: WriteStyle { verbose: false, version: "ftpsync-test".into() },
        break_lock: false,
        workers: workers(),
        stage: true,
    }
}

/// Plans local→local with the library.
pub fn plan_fs(local: &Path, remote: &Path, options: PlanOptions) -> Plan {
    let mut l = LocalTarget::open(local).unwrap();
    let mut r = LocalTarget::open(remote).unwrap();
    let planned = make_plan(&mut l, &mut r, options, SystemClock.now()).unwrap();
    planned.plan
}

/// Plans and applies local→local with the library.
pub fn sync_fs(local: &Path, remote: &Path, options: PlanOptions) -> (Plan, Applied) {
    let plan = plan_fs(local, remote, options);
    let mut l = LocalTarget::open(local).unwrap();
    let mut r = LocalTarget::open(remote).unwrap();
    let applied = apply(&plan, &mut l, &mut r, &settings()).unwrap_or_else(|e| panic!("apply failed: {e:#}"));
    (plan, applied)
}

/// Path of the ftpsync binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ftpsync"))
}

/// Validates a document against a checked-in schema (`plan` or `report`), panicking with
/// every error.
pub fn assert_schema_valid(schema: &str, doc: &serde_json::Value) {
    let path = repo().join(format!("schemas/{schema}.schema.json"));
    let schema_doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema_doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "document does not match {}:\n{}", path.display(), errors.join("\n"));
}

/// The binary with colour off and no verbose-metadata switch, ready for more settings.
pub fn ftpsync_command(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args).env("NO_COLOR", "1").env_remove("PYFTPSYNC_VERBOSE_META").env_remove("FTPSYNC_PASSWORD");
    cmd.env("FTPSYNC_WORKERS", workers().to_string());
    cmd
}

/// Runs the binary with colour off.
pub fn ftpsync(args: &[&str]) -> std::process::Output {
    ftpsync_command(args).output().expect("run ftpsync")
}

/// The real pyftpsync 4.1 (installed by `.ci/run`; its path in `PYFTPSYNC`, else `pyftpsync`
/// on PATH), or `None` when it is missing (a failure when `CI=true`).
pub fn pyftpsync() -> Option<PathBuf> {
    let candidate = std::env::var_os("PYFTPSYNC").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("pyftpsync"));
    let ok = std::process::Command::new(&candidate).arg("--version").output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "pyftpsync is required when CI=true (set PYFTPSYNC or install it: pip install pyftpsync==4.1.0)"
    );
    eprintln!("skipping the comparison with pyftpsync: not found (set PYFTPSYNC; .ci/run installs it)");
    None
}

/// Every file and folder below `root` with its bytes and modification time, for "nothing
/// changed" checks (metadata files included).
pub fn tree_state(root: &Path) -> std::collections::BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(e.path());
                out.insert(format!("{rel}/"), (Vec::new(), meta.modified().unwrap()));
            } else {
                out.insert(rel, (std::fs::read(e.path()).unwrap(), meta.modified().unwrap()));
            }
        }
    }
    out
}

/// Runs `f` on a thread and fails the test if it does not finish within `deadline` (a hang
/// becomes a failure instead of a stuck test run); a panic in `f` is re-raised.
pub fn bounded<T: Send + 'static>(deadline: std::time::Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(deadline) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {deadline:?}"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(worker.join().unwrap_err()),
    }
}
