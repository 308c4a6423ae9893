//! SFTP host keys and logins against the real servers of the environment (issue 14,
//! acceptance point 4): an unknown key is refused with its fingerprint and the command that
//! adds it, a known one accepted, a changed one refused loudly, `--host-key` pins, a plan made
//! with one key is not applied to a server presenting another (exit 4); password, ed25519,
//! RSA and encrypted keys, the ssh-agent (started here), a wrong password (exit 1, a clear
//! message), and no secret in any output or file, also at `-vvv`.
//!
//! Every run gets its own HOME (known_hosts, default keys) and no SSH_AUTH_SOCK unless the
//! test starts an agent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::sftp::{KEY_PASSPHRASE, Scratch, key_dir, known_hosts, servers};
use crate::support::{assert_schema_valid, ftpsync_command};

/// A HOME for one run: `.ssh/known_hosts` as given (nothing: no file).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(known: Option<&str>) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".ssh")).unwrap();
        if let Some(text) = known {
            std::fs::write(dir.path().join(".ssh/known_hosts"), text).unwrap();
        }
        Home { dir }
    }

    /// With the test servers' known_hosts.
    fn knowing() -> Home {
        Home::new(Some(&std::fs::read_to_string(known_hosts()).unwrap()))
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn run(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = ftpsync_command(args);
    cmd.env("HOME", home.path()).env_remove("SSH_AUTH_SOCK").env_remove("FTPSYNC_SSH_KEY_PASSPHRASE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::null());
    cmd.output().expect("run ftpsync")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn assert_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}: exit {:?}\n{}", o.status.code(), text(o));
}

fn scan(home: &Home, url: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["scan", url, "--no-prompt", "--timeout", "20"];
    args.extend_from_slice(extra);
    run(home, &args, env)
}

#[test]
fn host_keys_unknown_known_changed_and_pinned() {
    for s in servers() {
        let url = s.url_with_password();
        let fp = s.fingerprint();
        let port = s.url.effective_port().to_string();

        // Unknown: refused, the fingerprint and the command that adds it.
        let o = scan(&Home::new(None), &url, &[], &[]);
        assert_exit(&o, 1, &format!("{}: unknown host key", s.name));
        let out = text(&o);
        assert!(out.contains(&fp), "{}: fingerprint not printed:\n{out}", s.name);
        let add = format!("ssh-keyscan -p {port} 127.0.0.1 >> ~/.ssh/known_hosts");
        assert!(out.contains(&add), "{}: no `{add}` in:\n{out}", s.name);

        // Known: accepted.
        assert_exit(&scan(&Home::knowing(), &url, &[], &[]), 0, &format!("{}: known host key", s.name));

        // Changed: the same host with another key of the same type.
        let other = std::fs::read_to_string(known_hosts())
            .unwrap()
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(&format!("[127.0.0.1]:{port}")))
            .map(|l| {
                let mut f: Vec<String> = l.split_whitespace().map(String::from).collect();
                f[2] = foreign_key(&f[1]);
                f[..3].join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let o = scan(&Home::new(Some(&format!("{other}\n"))), &url, &[], &[]);
        assert_exit(&o, 1, &format!("{}: changed host key", s.name));
        assert!(text(&o).contains("HAS CHANGED"), "{}: not loud:\n{}", s.name, text(&o));
        // A revoked key is refused even where another line accepts it.
        let known = std::fs::read_to_string(known_hosts()).unwrap();
        let revoked: String = known
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(&format!("[127.0.0.1]:{port}")))
            .map(|l| format!("@revoked {l}\n"))
            .collect();
        let o = scan(&Home::new(Some(&format!("{known}{revoked}"))), &url, &[], &[]);
        assert_exit(&o, 1, &format!("{}: revoked host key", s.name));
        assert!(text(&o).contains("@revoked"), "{}:\n{}", s.name, text(&o));

        // Pinned: accepted without known_hosts; another pin refused even with known_hosts.
        assert_exit(&scan(&Home::new(None), &url, &["--host-key", &fp], &[]), 0, "pinned");
        let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let o = scan(&Home::knowing(), &url, &["--host-key", wrong], &[]);
        assert_exit(&o, 1, "wrong pin");
        assert!(text(&o).contains(&fp) && text(&o).contains(wrong), "{}:\n{}", s.name, text(&o));

        // Not verified: works, and says so.
        let o = scan(&Home::new(None), &url, &["--no-verify-host-keys"], &[]);
        assert_exit(&o, 0, "--no-verify-host-keys");
        assert!(text(&o).contains("NOT verified"), "{}: not loud:\n{}", s.name, text(&o));
    }
}

/// A valid public key of the given type that no server has (generated once per run).
fn foreign_key(kind: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let t = match kind {
        "ssh-rsa" => "rsa",
        k if k.starts_with("ecdsa") => "ecdsa",
        _ => "ed25519",
    };
    let key = dir.path().join("k");
    let ok = Command::new("ssh-keygen").args(["-q", "-t", t, "-N", "", "-f"]).arg(&key).status().unwrap();
    assert!(ok.success());
    std::fs::read_to_string(key.with_extension("pub")).unwrap().split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn a_plan_is_not_applied_to_a_server_presenting_another_host_key() {
    for s in servers() {
        let scratch = Scratch::new(&s, "sftp-hostkey-plan");
        let local = tempfile::tempdir().unwrap();
        std::fs::write(local.path().join("a.txt"), "a").unwrap();
        let home = Home::knowing();
        let plan = local.path().join("plan.json");
        let url = s.url_of(&scratch.name);
        let local_dir = local.path().join("site");
        std::fs::create_dir(&local_dir).unwrap();
        std::fs::write(local_dir.join("a.txt"), "a").unwrap();
        let args =
            ["plan", "upload", local_dir.to_str().unwrap(), &url, "--create-folder", "-o", plan.to_str().unwrap()];
        assert_exit(&run(&home, &args, &[]), 0, "plan");
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
        assert_eq!(doc["remote"]["host_key"], s.fingerprint(), "{}: the plan records the host key", s.name);

        // The server now presents another key (as far as the plan can tell): rejected, even
        // with a pin on the command line that matches the real key; nothing changed.
        let other = plan.with_file_name("other.json");
        let edited = std::fs::read_to_string(&plan)
            .unwrap()
            .replace(&s.fingerprint(), "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        std::fs::write(&other, edited).unwrap();
        let pw = s.password();
        let env = [("FTPSYNC_PASSWORD", pw.as_str())];
        let o = run(&home, &["apply", other.to_str().unwrap(), "--host-key", &s.fingerprint()], &env);
        assert_exit(&o, 4, &format!("{}: apply with another host key", s.name));
        assert!(text(&o).contains("host key"), "{}:\n{}", s.name, text(&o));
        assert!(!scratch.dir.exists(), "{}: the rejected apply changed the server", s.name);

        // The plan as made applies.
        assert_exit(&run(&home, &["apply", plan.to_str().unwrap()], &env), 0, "apply");
        assert_eq!(std::fs::read(scratch.dir.join("a.txt")).unwrap(), b"a");
    }
}

#[test]
fn logins_with_password_keys_and_agent() {
    for s in servers() {
        let Some(keys) = key_dir() else {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but FTPSYNC_TEST_SFTP_KEY_DIR is not set");
            continue;
        };
        let Some(key_url) = s.key_url_of("") else { continue };
        let key_url = key_url.trim_end_matches('/').to_string();
        let key = |n: &str| keys.join(n).to_string_lossy().into_owned();

        // Password (in the URL).
        assert_exit(&scan(&Home::knowing(), &s.url_with_password(), &[], &[]), 0, "password");

        // Wrong password: exit 1, the methods named, the password nowhere.
        let wrong = format!(
            "sftp://{}:wrong-{}@127.0.0.1:{}{}",
            s.url.user.as_deref().unwrap(),
            std::process::id(),
            s.url.effective_port(),
            s.url.path
        );
        let o = scan(&Home::knowing(), &wrong, &["-vvv"], &[]);
        assert_exit(&o, 1, "wrong password");
        let out = text(&o);
        assert!(out.contains("failed") && out.contains("password"), "{}: unclear:\n{out}", s.name);
        assert!(!out.contains(&format!("wrong-{}", std::process::id())), "{}: the password shows:\n{out}", s.name);

        // Key files.
        for k in ["id_ed25519", "id_rsa"] {
            let o = scan(&Home::knowing(), &key_url, &["--ssh-key", &key(k)], &[]);
            assert_exit(&o, 0, &format!("{}: {k}", s.name));
        }
        // The key user has no password: without a key the login fails and says what was tried.
        let o = scan(&Home::knowing(), &key_url, &[], &[]);
        assert_exit(&o, 1, "no key");
        assert!(text(&o).contains("tried"), "{}:\n{}", s.name, text(&o));

        // Encrypted: the passphrase from the environment; without one, a clear usage error.
        let env = [("FTPSYNC_SSH_KEY_PASSPHRASE", KEY_PASSPHRASE)];
        let o = scan(&Home::knowing(), &key_url, &["--ssh-key", &key("id_ed25519_enc"), "-vvv"], &env);
        assert_exit(&o, 0, "encrypted key");
        assert!(!text(&o).contains(KEY_PASSPHRASE), "{}: the passphrase shows", s.name);
        let o = scan(&Home::knowing(), &key_url, &["--ssh-key", &key("id_ed25519_enc")], &[]);
        assert_exit(&o, 2, "encrypted key without passphrase");
        assert!(text(&o).contains("FTPSYNC_SSH_KEY_PASSPHRASE"), "{}:\n{}", s.name, text(&o));

        // A default key in ~/.ssh.
        let home = Home::knowing();
        std::fs::copy(keys.join("id_ed25519"), home.path().join(".ssh/id_ed25519")).unwrap();
        assert_exit(&scan(&home, &key_url, &[], &[]), 0, "default key");

        // The ssh-agent, started here with the RSA key.
        let agent = Agent::start(&keys.join("id_rsa"));
        let sock = agent.sock.to_string_lossy().into_owned();
        let o = scan(&Home::knowing(), &key_url, &["-vv"], &[("SSH_AUTH_SOCK", &sock)]);
        assert_exit(&o, 0, "ssh-agent");
    }
}

#[test]
fn no_secret_in_any_output_or_file_at_any_verbosity() {
    for s in servers() {
        let scratch = Scratch::new(&s, "sftp-secrets");
        let pw = s.password();
        assert!(pw.len() >= 4, "{}: the test password is too short to search for", s.name);
        let work = tempfile::tempdir().unwrap();
        let local = work.path().join("site");
        std::fs::create_dir(&local).unwrap();
        std::fs::write(local.join("index.html"), "<p>hi</p>").unwrap();
        let home = Home::knowing();
        let url = s.url_of(&scratch.name);
        let plan = work.path().join("plan.json");
        let report = work.path().join("report.json");
        let runs = [
            run(
                &home,
                &[
                    "-vvv",
                    "plan",
                    "upload",
                    local.to_str().unwrap(),
                    &url,
                    "--create-folder",
                    "-o",
                    plan.to_str().unwrap(),
                ],
                &[],
            ),
            run(
                &home,
                &["-vvv", "apply", plan.to_str().unwrap(), "--report", report.to_str().unwrap()],
                &[("FTPSYNC_PASSWORD", &pw)],
            ),
            run(&home, &["-vvv", "sync", local.to_str().unwrap(), &url, "--resolve", "local"], &[]),
            run(&home, &["-vvv", "scan", &url, "-r", "--list"], &[]),
        ];
        for (i, o) in runs.iter().enumerate() {
            assert!(o.status.success(), "{}: run {i} failed:\n{}", s.name, text(o));
            assert!(!text(o).contains(&pw), "{}: the password shows in the output of run {i}", s.name);
        }
        // The plan and the report of an SFTP target follow their schemas (kind, host key).
        for (schema, file) in [("plan", &plan), ("report", &report)] {
            let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
            assert_schema_valid(schema, &doc);
        }
        for dir in [work.path(), scratch.dir.as_path()] {
            for f in walk(dir) {
                let bytes = std::fs::read(&f).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(&pw),
                    "{}: the password is in {}",
                    s.name,
                    f.display()
                );
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// An ssh-agent of this test (`ssh-agent -D`), holding one key; stopped on drop.
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start(key: &Path) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client) is installed");
        let agent = Agent { child, sock, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent.sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not create its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        let added = Command::new("ssh-add").arg(key).env("SSH_AUTH_SOCK", &agent.sock).output().unwrap();
        assert!(added.status.success(), "ssh-add: {}", String::from_utf8_lossy(&added.stderr));
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
