//! Build details for `ftpsync --version -v`: the target triple, the compiler and the profile;
//! the git commit in release builds made in a git checkout (or from `FTPSYNC_GIT_COMMIT`).
//! Debug builds do not look at git, so a commit does not rebuild the crate during development.

use std::path::Path;
use std::process::Command;

fn run(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

/// The commit of the checkout, re-read when HEAD or the branch moves.
fn git_commit() -> Option<String> {
    let watch = |path: Option<String>| {
        if let Some(p) = path.filter(|p| Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={p}");
        }
    };
    watch(run("git", &["rev-parse", "--git-path", "HEAD"]));
    if let Some(branch) = run("git", &["symbolic-ref", "-q", "HEAD"]) {
        watch(run("git", &["rev-parse", "--git-path", &branch]));
        watch(run("git", &["rev-parse", "--git-path", "packed-refs"]));
    }
    run("git", &["rev-parse", "--short=12", "HEAD"])
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FTPSYNC_GIT_COMMIT");
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!("cargo:rustc-env=FTPSYNC_BUILD_TARGET={target}");
    println!("cargo:rustc-env=FTPSYNC_BUILD_PROFILE={profile}");
    if let Some(version) = run(&rustc, &["--version"]) {
        println!("cargo:rustc-env=FTPSYNC_BUILD_RUSTC={version}");
    }
    let commit = std::env::var("FTPSYNC_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| if profile == "release" { git_commit() } else { None });
    if let Some(commit) = commit {
        println!("cargo:rustc-env=FTPSYNC_BUILD_COMMIT={}", commit.trim());
    }
}
