//! Output does not depend on how many connections did the work: the same synchronisation run
//! with `--workers 1` and `--workers 8` prints the same lines in the same order (issue 4).

use std::path::Path;

use crate::support::fixture::{self, MODIFY};
use crate::support::{ftp, ftpsync_command};

/// The output of a command, with what differs between two runs by nature (the folder, the
/// server's port, timings) replaced.
fn normalized(out: &std::process::Output, root: &Path, port: u16) -> String {
    let text =
        format!("{}\n--- stderr ---\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = text.replace(root.to_str().unwrap(), "ROOT").replace(&format!(":{port}"), ":PORT");
    text.lines()
        // The plan's digest covers its creation time and the folder; the report's times vary.
        .filter(|l| {
            !["\"plan_sha256\"", "\"started\"", "\"finished\"", "\"elapsed", " sec", "Elapsed", "\"commit_window_ms\""]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn output_is_the_same_with_one_and_with_eight_workers() {
    let base = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    for workers in ["1", "8"] {
        let root = base.path().join(workers);
        fixture::initial_local(&root);
        let server = ftp::serve(&root.join("remote"));
        let url = server.url(None);
        let first = ftpsync_command(&["sync", root.join("local").to_str().unwrap(), &url, "--workers", workers])
            .output()
            .unwrap();
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        servers.push((root, server));
    }
    // The edits must be later than the first sync by more than the time tolerance.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mut outputs = Vec::new();
    for ((root, server), workers) in servers.iter().zip(["1", "8"]) {
        fixture::apply_edits(root, MODIFY);
        let url = server.url(None);
        let local = root.join("local");
        let mut texts = Vec::new();
        for args in [
            vec!["sync", local.to_str().unwrap(), &url, "--resolve", "skip", "--workers", workers, "-v"],
            vec![
                "upload",
                local.to_str().unwrap(),
                &url,
                "--force",
                "--delete",
                "--workers",
                workers,
                "-v",
                "--dry-run",
            ],
            vec!["sync", local.to_str().unwrap(), &url, "--resolve", "local", "--workers", workers, "--json"],
        ] {
            let out = ftpsync_command(&args).output().unwrap();
            texts.push(normalized(&out, root, server.addr().port()));
        }
        outputs.push(texts.join("\n===\n"));
    }
    assert!(outputs[0].lines().count() > 40, "too little output to compare:\n{}", outputs[0]);
    assert_eq!(outputs[0], outputs[1], "the output differs between --workers 1 and --workers 8");
}
