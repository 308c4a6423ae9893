//! Output whose reader has gone (`ftpsync upload ... | head`): the run goes on to its end and
//! its true exit code; only the printing stops.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bin;
use crate::support::fixture::{T13, write};

/// A pipe whose reading end is already closed: the first write to it fails (`EPIPE`).
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn an_upload_whose_output_nobody_reads_still_uploads_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    let names: Vec<String> = (0..40).map(|i| format!("d{}/f{i}.txt", i % 4)).collect();
    for name in &names {
        write(&local, name, &format!("content of {name}"), T13);
    }
    std::fs::create_dir(&remote).unwrap();
    let mut child = Command::new(bin())
        .args(["upload", local.to_str().unwrap(), remote.to_str().unwrap(), "-vv"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the upload did not end within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit {status}");
    for name in &names {
        let got = std::fs::read_to_string(remote.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, format!("content of {name}"));
    }
}
