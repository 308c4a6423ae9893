//! The review-and-approve workflow of a CI pipeline, end to end with the real binary and an
//! FTP server (issue 6, acceptance 4): a plan job plans in its checkout and publishes the plan
//! and its digest; a later apply job, in another checkout of the same tree, applies the plan
//! pinned to the approved digest. Unchanged, it succeeds; with one local file changed, apply
//! refuses (exit 4, drift); with the plan edited after approval, the digest check refuses
//! (exit 4). A refusal changes nothing, on the server or in the checkout.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::fixture::{self, T12, T13, copy_tree, read_tree};
use crate::support::{assert_schema_valid, ftp, ftpsync, tree_state};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The site in a checkout: two pages, a stylesheet in a folder.
fn site(root: &Path) -> PathBuf {
    fixture::write(root, "site/index.html", "<h1>Welcome</h1>", T13);
    fixture::write(root, "site/about.html", "<p>About us</p>", T13);
    fixture::write(root, "site/css/site.css", "body { margin: 0 }", T13);
    root.join("site")
}

/// Another checkout of the same tree: the plan's folder copied with its times, as a CI job
/// gets it from an artifact.
fn checkout(from: &Path, to: &Path) -> PathBuf {
    copy_tree(from, to);
    to.to_path_buf()
}

/// Applies `plan` in `local` (another checkout) pinned to `digest`, with a report.
fn apply(plan: &Path, local: &Path, digest: &str, report: &Path) -> Output {
    ftpsync(&["apply", s(plan), "--local", s(local), "--expect-sha256", digest, "--report", s(report)])
}

#[test]
fn plan_approve_and_apply_in_another_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    // What the server has now: an old front page and a page the new site drops.
    fixture::write(&served, "index.html", "<h1>Old</h1>", T12);
    fixture::write(&served, "old.html", "gone soon", T12);
    let server = ftp::serve(&served);
    let url = server.url(None);

    // The plan job, in its checkout.
    let job1 = dir.path().join("job1");
    let local1 = site(&job1);
    let plan1 = job1.join("plan.json");
    let out = ftpsync(&["plan", "upload", s(&local1), &url, "--delete", "-o", s(&plan1), "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(5), "changes are planned: {}", text(&out));
    let digest = String::from_utf8(ftpsync(&["show", s(&plan1), "--sha256"]).stdout).unwrap().trim().to_string();
    assert_eq!(digest.len(), 64);
    let comment = String::from_utf8(ftpsync(&["show", s(&plan1), "--format", "markdown"]).stdout).unwrap();
    assert!(
        comment.contains(&digest) && comment.contains("old.html"),
        "the review comment shows the digest and the deletion:\n{comment}"
    );

    // The plan travels to the apply jobs as an artifact; each has its own checkout.
    let server_before = tree_state(&served);
    let artifact = |job: &Path| {
        std::fs::create_dir_all(job).unwrap();
        std::fs::copy(&plan1, job.join("plan.json")).unwrap();
        job.join("plan.json")
    };

    // One file changed in the checkout since the approval: refused, nothing changed.
    let job2 = dir.path().join("job2");
    let plan2 = artifact(&job2);
    let local2 = checkout(&local1, &job2.join("site"));
    fixture::write(&job2, "site/about.html", "<p>About us, edited after the review</p>", T13 + 60.0);
    let local2_before = tree_state(&local2);
    let report = job2.join("report.json");
    let out = apply(&plan2, &local2, &digest, &report);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("about.html"), "the drift report names the file:\n{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_schema_valid("report", &doc);
    assert_eq!((doc["result"].as_str(), doc["plan_sha256"].as_str()), (Some("rejected"), Some(digest.as_str())));
    assert_eq!(tree_state(&served), server_before, "a refused apply changed the server");
    assert_eq!(tree_state(&local2), local2_before, "a refused apply changed the checkout");

    // The plan edited after the approval (a single word of it suffices): the digest check
    // refuses before anything is opened.
    let job3 = dir.path().join("job3");
    let plan3 = artifact(&job3);
    let local3 = checkout(&local1, &job3.join("site"));
    let mut edited: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan3).unwrap()).unwrap();
    let entries = edited["entries"].as_array_mut().unwrap();
    let deletion = entries.iter_mut().find(|e| e["path"] == "old.html").unwrap();
    assert_eq!(deletion["action"], "delete_remote");
    deletion["reason_text"] = "nothing to see here".into();
    std::fs::write(&plan3, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    let out = apply(&plan3, &local3, &digest, &job3.join("report.json"));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.contains(&digest) && message.contains("changed after approval"), "{message}");
    assert_eq!(tree_state(&served), server_before);

    // Unchanged checkout, approved digest: applied; the server now has exactly the site.
    let job4 = dir.path().join("job4");
    let plan4 = artifact(&job4);
    let local4 = checkout(&local1, &job4.join("site"));
    let report = job4.join("report.json");
    let out = apply(&plan4, &local4, &digest, &report);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_schema_valid("report", &doc);
    assert_eq!(doc["result"], "success");
    assert_eq!(
        doc["local"]["url"].as_str(),
        Some(s(&std::path::absolute(&local4).unwrap())),
        "the report names the checkout used"
    );
    let served_files: Vec<String> = read_tree(&served).into_keys().collect();
    assert_eq!(served_files, ["about.html", "css/site.css", "index.html"]);
    assert_eq!(std::fs::read_to_string(served.join("index.html")).unwrap(), "<h1>Welcome</h1>");
    // Planning wrote nothing in the plan job's checkout; a new plan from the applied checkout
    // has nothing left to do.
    assert_eq!(read_tree(&local1).len(), 3);
    assert!(!local1.join(".pyftpsync-meta.json").exists());
    let out = ftpsync(&[
        "plan",
        "upload",
        s(&local4),
        &url,
        "--delete",
        "-o",
        s(&job4.join("again.json")),
        "--detailed-exitcode",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Applying the same plan again is refused: the server is no longer what was planned.
    let out = apply(&plan4, &local4, &digest, &job4.join("again-report.json"));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
}
