//! `ftpsync run`: pyftpsync's sample `pyftpsync.yaml` against the in-process FTP server,
//! discovery, `--here`/`--root`, command-line overrides, `--plan-out`, and a one-line usage
//! error (exit 2) for each kind of bad file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::{ftp, ftpsync_command};

/// pyftpsync's `docs/sample_pyftpsync.yaml`, with REMOTE in place of its sftp:// URL.
const SAMPLE: &str = r#"# Sample configuration file for `pyftpsync run`
# Default task to run if no task name is passed:
default_task: deploy

# Options that are used by all tasks (unless they are overridden):
common_config:
    remote: REMOTE
    # Don't write anything unless `--execute` is passed:
    dry_run: true
    # Use the location of this file as root (even if called from a sub-folder):
    root: true
    progress: true
    # Exit code 10 on skipped conflicts or copy errors:
    report_problems: true
    # local: sync_root
    # verbose: 4

tasks:
    # Print remote folder structure:
    show:
        command: tree
        dry_run: false
        sort: true
        files: false

    # Synchronize the whole project:
    sync_all:
        command: sync

    # Deploy the project:
    deploy:
        command: upload
        delete: false
        delete_unmatched: false
        exclude: "build,node_modules,.*,_*"

    # Deploy the project and remove everything else on the server:
    deploy_force:
        command: upload
        delete: true
        delete_unmatched: true
        exclude: "build,node_modules,.*,_*"
        force: true
        resolve: local
"#;

/// No prompting, keyring or `.netrc` for the anonymous in-process server.
const ANONYMOUS: [&str; 3] = ["--no-prompt", "--no-keyring", "--no-netrc"];

fn run_in(dir: &Path, home: &Path, args: &[&str]) -> Output {
    ftpsync_command(&[&["run"], args].concat()).current_dir(dir).env("HOME", home).output().expect("run ftpsync")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "exit {:?}:\n{}", o.status.code(), text(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Every file below `root`, relative, without metadata and lock files.
fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if !name.starts_with(".pyftpsync-") {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

struct Project {
    _dir: tempfile::TempDir,
    home: PathBuf,
    project: PathBuf,
    yaml: PathBuf,
}

/// A project folder holding `yaml` as `pyftpsync.yaml` and a few files.
fn project(yaml: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let (home, project) = (dir.path().join("home"), dir.path().join("project"));
    fs::create_dir_all(&home).unwrap();
    for (rel, content) in [
        ("index.html", "<h1>hi</h1>"),
        ("css/site.css", "body {}"),
        ("sub/page.html", "<p>page</p>"),
        ("build/out.js", "built"),
        ("node_modules/x/y.js", "dep"),
        (".env", "SECRET=1"),
        ("_draft.md", "draft"),
    ] {
        write(&project, rel, content);
    }
    let yaml_path = project.join("pyftpsync.yaml");
    fs::write(&yaml_path, yaml).unwrap();
    Project { home, project, yaml: yaml_path, _dir: dir }
}

#[test]
fn the_sample_configuration_runs_its_tasks_against_an_ftp_server() {
    let served = tempfile::tempdir().unwrap();
    let server = ftp::serve(served.path());
    let p = project(&SAMPLE.replace("REMOTE", &server.url(None)));
    let run = |dir: &Path, args: &[&str]| run_in(dir, &p.home, &[args, &ANONYMOUS].concat());

    // The default task is a dry run.
    let out = ok(run(&p.project, &[]));
    assert!(out.starts_with(&format!("Running task 'deploy' from {}\n", p.yaml.display())), "{out}");
    assert!(out.contains("--no-dry-run") && out.contains("(DRY-RUN) COPY EXISTING     >  index.html"), "{out}");
    assert!(files(served.path()).is_empty(), "a dry run wrote: {:?}", files(served.path()));

    // --execute uploads all but the excluded names (and never the task file).
    ok(run(&p.project, &["--execute"]));
    assert_eq!(files(served.path()), ["css/site.css", "index.html", "sub/page.html"]);

    // `show` (a tree task) works from a sub-folder: `root: true`.
    let tree = ok(run(&p.project.join("sub"), &["show"]));
    assert!(tree.contains("Running task 'show'"), "{tree}");
    assert!(tree.contains("\n[/]\n +- [css]\n `- [sub]\nScanning 0 files in 3 directories took "), "{tree}");

    // deploy_force removes what is only on the server.
    write(served.path(), "stale.txt", "old");
    ok(run(&p.project, &["deploy_force", "--execute"]));
    assert_eq!(files(served.path()), ["css/site.css", "index.html", "sub/page.html"]);

    // sync_all brings a file the server got meanwhile (the task sets no exclude list).
    write(served.path(), "news.html", "news");
    ok(run(&p.project, &["sync_all", "--execute"]));
    assert_eq!(fs::read_to_string(p.project.join("news.html")).unwrap(), "news");

    // --plan-out writes the task's plan; apply executes it.
    fs::write(p.project.join("index.html"), "<h1>changed, and longer</h1>").unwrap();
    let plan = p.home.join("plan.json");
    let out = ok(run(&p.project, &["--plan-out", plan.to_str().unwrap()]));
    assert!(out.contains("Plan written to "), "{out}");
    assert_eq!(
        fs::read_to_string(served.path().join("index.html")).unwrap(),
        "<h1>hi</h1>",
        "planning changed the server"
    );
    ok(ftpsync_command(&[&["apply", plan.to_str().unwrap()][..], &ANONYMOUS].concat())
        .env("HOME", &p.home)
        .output()
        .unwrap());
    assert_eq!(fs::read_to_string(served.path().join("index.html")).unwrap(), "<h1>changed, and longer</h1>");

    let tree_plan = run(&p.project, &["show", "--plan-out", plan.to_str().unwrap()]);
    assert_eq!(tree_plan.status.code(), Some(2), "{}", text(&tree_plan));
    server.shutdown();
}

/// A task file with an upload task `up` to a local folder, in `project`.
fn upload_project(extra: &str) -> (Project, PathBuf) {
    let p = project("");
    let remote = p.project.parent().unwrap().join("remote");
    fs::create_dir_all(remote.join("sub")).unwrap();
    fs::write(
        &p.yaml,
        format!("default_task: up\ntasks:\n  up:\n    command: upload\n    remote: {}\n{extra}", remote.display()),
    )
    .unwrap();
    (p, remote)
}

#[test]
fn a_file_in_a_parent_folder_needs_root_or_here() {
    let (p, remote) = upload_project("");
    let sub = p.project.join("sub");
    let refused = run_in(&sub, &p.home, &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("--root") && text(&refused).contains("--here"), "{}", text(&refused));

    let out = ok(run_in(&sub, &p.home, &["--here"]));
    assert!(out.contains(&format!("Using sub-branch sub of {}", p.project.display())), "{out}");
    assert_eq!(files(&remote), ["sub/page.html"]);

    ok(run_in(&sub, &p.home, &["--root"]));
    assert!(files(&remote).contains(&"index.html".to_string()));
}

#[test]
fn command_line_flags_override_the_task_as_in_pyftpsync() {
    let (p, remote) = upload_project("    dry_run: false\n    exclude: build,node_modules,.*,_*,sub\n    local: css\n");
    // -n overrides `dry_run: false`.
    ok(run_in(&p.project, &p.home, &["-n"]));
    assert!(files(&remote).is_empty());
    // `local` is relative to the file; `exclude` comes from the task only.
    let out = ok(run_in(&p.project, &p.home, &["-v"]));
    assert!(out.contains("tasks.up.verbose (unset) overridden by -v/-q: 4"), "{out}");
    assert_eq!(files(&remote), ["site.css"]);

    // `.pyftpsync.yaml` is found too, and `dry_run: true` yields to --execute.
    fs::remove_file(&p.yaml).unwrap();
    fs::write(
        p.project.join(".pyftpsync.yaml"),
        format!("tasks:\n  t: {{command: upload, remote: {}, dry_run: true}}\n", remote.display()),
    )
    .unwrap();
    fs::remove_dir_all(&remote).unwrap();
    fs::create_dir(&remote).unwrap();
    ok(run_in(&p.project, &p.home, &["t"]));
    assert!(files(&remote).is_empty());
    ok(run_in(&p.project, &p.home, &["t", "--execute"]));
    assert!(files(&remote).contains(&"index.html".to_string()), "{:?}", files(&remote));
}

#[test]
fn each_bad_configuration_is_a_one_line_usage_error() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("tasks:\n  a: {command: sync\n", &[], "is not valid YAML: did not find expected ',' or '}' at line 3"),
        ("default_task: a\n", &[], "missing entry `tasks` in "),
        ("tasks:\n  a: {command: sync, remote: r, colour: red}\n", &["a"], "Invalid entries: tasks.a.colour in "),
        (
            "common_config: {remote: r, colour: red}\ntasks:\n  a: {command: sync}\n",
            &["a"],
            "Invalid entries: tasks.a.colour in ",
        ),
        ("tasks:\n  a: {command: sync}\n", &["a"], "missing mandatory entries in "),
        ("tasks:\n  a: {remote: r}\n", &["a"], ": tasks.a.command (in the task or in common_config)"),
        (
            "tasks:\n  a: {command: sync, remote: r}\n  b: {command: sync, remote: r}\n",
            &["c"],
            "unknown task 'c': choose from [a, b]",
        ),
        ("tasks:\n  a: {command: sync, remote: r}\n", &[], "no TASK given and no `default_task`"),
        ("tasks:\n  a: {command: sync, remote: r, no_dry_run: true}\n", &["a"], "tasks.a.no_dry_run in "),
        ("tasks:\n  a: {command: scan, remote: r}\n", &["a"], "\"scan\" cannot be run as a task"),
        ("tasks:\n  a: {command: sync, remote: r, dry_run: perhaps}\n", &["a"], "tasks.a.dry_run in "),
    ];
    for (yaml, args, expected) in cases {
        let p = project(yaml);
        let out = run_in(&p.project, &p.home, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{yaml:?}: {}", text(&out));
        assert!(out.stdout.is_empty(), "{yaml:?}: {}", text(&out));
        assert_eq!(stderr.lines().count(), 1, "{yaml:?}: not one line:\n{stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(expected),
            "{yaml:?}: expected {expected:?} in:\n{stderr}"
        );
    }
    let empty = tempfile::tempdir().unwrap();
    let out = run_in(empty.path(), empty.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr.starts_with("error: cannot find pyftpsync.yaml (or .pyftpsync.yaml) in ") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
