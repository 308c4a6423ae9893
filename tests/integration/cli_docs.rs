//! Shell completions, manual pages and `--version -v`, all generated from the clap definitions.

use crate::support::ftpsync;

fn stdout(args: &[&str]) -> String {
    let out = ftpsync(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const COMMANDS: [&str; 9] = ["upload", "download", "sync", "plan", "show", "apply", "run", "scan", "tree"];

#[test]
fn completions_for_every_shell_know_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout(&["completions", shell]);
        for word in COMMANDS.iter().chain(&["expect-sha256", "resolve", "dry-run"]) {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let bash = stdout(&["completions", "bash"]);
    assert!(bash.contains("complete -F _ftpsync"), "bash registers the function");
    let out = ftpsync(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn man_pages_for_ftpsync_and_each_command() {
    let page = stdout(&["man"]);
    assert!(page.contains(".TH ftpsync 1"), "{}", &page[..page.len().min(300)]);
    for command in COMMANDS {
        assert!(page.contains(command), "the page lists {command}");
    }
    let upload = stdout(&["man", "upload"]);
    assert!(upload.contains(".TH ftpsync-upload 1") && upload.contains("delete\\-unmatched"), "{upload}");
    let apply = stdout(&["man", "apply"]);
    assert!(apply.contains("expect\\-sha256"));
    let out = ftpsync(&["man", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("upload"), "{err}");
}

#[test]
fn version_bare_and_detailed() {
    assert_eq!(stdout(&["--version"]).trim(), env!("CARGO_PKG_VERSION"));
    assert_eq!(stdout(&["-V"]).trim(), env!("CARGO_PKG_VERSION"));
    for args in [&["--version", "-v"][..], &["-v", "--version"], &["-V", "-vv"]] {
        let text = stdout(args);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with(&format!("ftpsync/{} rustc/", env!("CARGO_PKG_VERSION"))), "{text}");
        assert!(first.contains(std::env::consts::ARCH), "the target triple: {first}");
        let platform = text.lines().find(|l| l.trim_start().starts_with("platform:")).expect("a platform line");
        assert!(platform.contains(std::env::consts::OS) && platform.contains(std::env::consts::ARCH), "{platform}");
        let built = text.lines().find(|l| l.trim_start().starts_with("built:")).expect("a build line");
        let profile = if cfg!(debug_assertions) { "debug profile" } else { "release profile" };
        assert!(built.contains(profile) && built.contains("rustc 1."), "{built}");
        assert!(text.lines().any(|l| l.trim_start().starts_with("commit:")), "{text}");
    }
}
