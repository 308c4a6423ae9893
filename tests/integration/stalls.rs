//! Bounded waits after a fault (issue 12, point 5): one connection cut in a run of many files
//! costs at most one `--timeout` per connection, never one per file.
//!
//! An upload of 200 files with 4 connections to a real server (pyftpdlib, from the environment:
//! see `servers.rs`), through `support::cut_proxy`, which resets one data connection in the
//! middle of a file. What follows, as found with `-vvv` traces:
//! - pyftpdlib answers `150` and then waits for ever for a data connection that was reset
//!   before it accepted it: that connection costs the client one timeout (unavoidable);
//! - meanwhile the other workers finish and wait, each with the data connection of its next
//!   transfer announced and opened ahead (`EPSV` behind the previous commands). A connection
//!   idle that long may be gone (a proxy or NAT forgot it, pyftpdlib gives a passive port up
//!   after 30 s with an unsolicited `421`): used afterwards, each cost another timeout, once per
//!   file written after the wait, and the run took several timeouts (226-293 s with the default
//!   30 s). The proxy here forgets idle data connections after 1.5 s, as a NAT would.
//!
//! Now an announcement is used only while fresh and open, so the run must succeed (the cut file
//! is sent again), and the cut may cost at most `--timeout` × (retries + 2) over the same upload
//! without it, run just before.

use std::fs;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ftpsync::backend::url::{FtpUrl, Location, Tls};

use crate::support::cut_proxy::{Cut, CutProxy};
use crate::support::ftpsync_command;
use crate::support::world::{bounded_output, text};

/// The client's network timeout in these runs.
const TIMEOUT: u64 = 3;
const RETRIES: u32 = 3;
const FILES: usize = 200;
/// Size of each file; the cut comes after half of one.
const SIZE: usize = 24 * 1024;
/// A data connection that carries nothing for this long is forgotten by the network.
const FORGET_IDLE: Duration = Duration::from_millis(1500);

/// The plain-FTP pyftpdlib of the environment and the folder it serves, or `None` (a failure
/// when `CI=true`).
fn pyftpdlib() -> Option<(FtpUrl, PathBuf)> {
    let servers = std::env::var("FTPSYNC_TEST_SERVERS").unwrap_or_default();
    let roots = std::env::var("FTPSYNC_TEST_SERVER_ROOTS").unwrap_or_default();
    let url =
        servers.split(';').filter_map(|s| s.trim().strip_prefix("pyftpdlib=")).find_map(|u| match Location::parse(u) {
            Ok(Location::Ftp(url)) if url.tls == Tls::None => Some(url),
            _ => None,
        });
    let root = roots.split(';').find_map(|s| s.trim().strip_prefix("pyftpdlib=")).map(PathBuf::from);
    match (url, root) {
        (Some(url), Some(root)) => Some((url, root)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "pyftpdlib is required when CI=true (FTPSYNC_TEST_SERVERS, see .ci/servers.sh)"
            );
            eprintln!("skipping: no pyftpdlib in FTPSYNC_TEST_SERVERS (.ci/run starts one)");
            None
        }
    }
}

/// Deterministic content of file `i`.
fn content(i: usize) -> Vec<u8> {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..SIZE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn no_temporary_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(ftpsync::model::listing::TEMP_PREFIX))
        .collect()
}

/// One upload of the files in `local` through a new cutting proxy to a fresh folder of
/// `server`, cutting one data connection when `cut` is set; returns how long it took, after
/// checking that it succeeded and that the server holds every file and no temporary file.
fn upload_through_proxy(server: &FtpUrl, served_root: &Path, local: &Path, home: &Path, cut: bool) -> Duration {
    let addr = (server.host.as_str(), server.effective_port()).to_socket_addrs().unwrap().next().unwrap();
    let folder = format!(
        "stalls-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let served = served_root.join(&folder);
    let proxy = CutProxy::start(addr);
    // One data connection is reset after half a file, and, as behind a NAT, a data connection
    // left idle is forgotten (those opened ahead while their worker waits for another).
    if cut {
        proxy.cut(Cut::Data, (SIZE / 2) as u64, 1);
    }
    proxy.forget_idle_data(FORGET_IDLE);
    let user = server.user.clone().unwrap_or_default();
    let url = format!("ftp://{user}@{}/{folder}", proxy.url().trim_start_matches("ftp://").trim_end_matches('/'));
    let (timeout, retries) = (TIMEOUT.to_string(), RETRIES.to_string());
    let args = [
        "upload",
        local.to_str().unwrap(),
        &url,
        "--create-folder",
        "--no-prompt",
        "--no-keyring",
        "--no-netrc",
        "--timeout",
        &timeout,
        "--retries",
        &retries,
        "--workers",
        "4",
        "-vvv",
    ];
    let mut cmd = ftpsync_command(&args);
    cmd.env("FTPSYNC_PASSWORD", server.password.clone().unwrap_or_default())
        .env("HOME", home)
        .env("FTPSYNC_WORKERS", "4");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let out = bounded_output(cmd);
    let took = started.elapsed();
    let log = text(&out);
    let trace = trace_path(cut);
    let _ = fs::write(&trace, &log);
    eprintln!(
        "the upload {} took {took:.1?}; trace in {}",
        if cut { "with one cut" } else { "without a cut" },
        trace.display()
    );
    assert_eq!(proxy.cuts_made(), usize::from(cut), "cuts made:\n{log}");
    assert!(out.status.success(), "the upload failed:\n{log}");
    for i in 0..FILES {
        let name = format!("f{i:03}.bin");
        assert_eq!(fs::read(served.join(&name)).unwrap_or_default(), content(i), "{name} on the server");
    }
    assert_eq!(no_temporary_files(&served), Vec::<String>::new());
    let _ = fs::remove_dir_all(&served);
    took
}

#[test]
fn one_cut_data_connection_costs_one_timeout_not_one_per_file() {
    let Some((server, served_root)) = pyftpdlib() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let local = scratch.path().join("local");
    fs::create_dir(&local).unwrap();
    for i in 0..FILES {
        fs::write(local.join(format!("f{i:03}.bin")), content(i)).unwrap();
    }
    // What the fault costs is measured against the same upload without it, made just before
    // under the same load: pyftpdlib serves the other tests running meanwhile on one Python
    // thread, so the work itself may take anything from one second to several.
    let without = upload_through_proxy(&server, &served_root, &local, scratch.path(), false);
    let with = upload_through_proxy(&server, &served_root, &local, scratch.path(), true);
    // One fault: at most one timeout on each of the connections it touched, and the retries.
    let bound = Duration::from_secs(TIMEOUT * (u64::from(RETRIES) + 2));
    let cost = with.saturating_sub(without);
    assert!(cost < bound, "one cut cost {cost:?} ({with:?} against {without:?} without it; bound {bound:?})");
    // The traces are kept only for a run that failed.
    for cut in [false, true] {
        let _ = fs::remove_file(trace_path(cut));
    }
}

/// Where an upload's `-vvv` trace is written, to be read after a failure.
fn trace_path(cut: bool) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ftpsync-stalls-trace{}.txt", if cut { "" } else { "-no-cut" }))
}
