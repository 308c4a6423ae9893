//! The command line against FTP servers (the in-process one): the demo, the remote lock, and
//! passwords that must never show.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ftpsync::backend::Target;
use ftpsync::backend::ftp::lock::{LockFile, me};
use ftpsync::server::{ServerConfig, start};

use crate::support::cut_proxy::{Action, Channel, Fault};
use crate::support::fixture;
use crate::support::world::{Side, World};
use crate::support::{bin, ftp};

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(args).env("NO_COLOR", "1").env("HOME", home.path()).env_remove("FTPSYNC_PASSWORD");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn demo_runs_plan_show_apply_and_a_clean_second_plan() {
    let out = run(&["demo"], &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    for step in ["== 1. plan", "== 2. show", "== 3. apply", "== 4. plan again", "no changes"] {
        assert!(all.contains(step), "missing {step:?} in:\n{all}");
    }
    let served = all
        .split("the server's copy in ")
        .nth(1)
        .and_then(|r| r.split(", the plan").next())
        .expect("the demo says where the files are");
    let served = Path::new(served);
    assert_eq!(
        std::fs::read_to_string(served.join("css/site.css")).unwrap(),
        "body { font-family: sans-serif; max-width: 40em; margin: auto; }\n"
    );
    std::fs::remove_dir_all(served.parent().unwrap()).unwrap();
}

#[test]
fn password_never_appears_anywhere() {
    const PW: &str = "Sup3r-S3cret-pw";
    let dir = tempfile::tempdir().unwrap();
    let (local, served) = (dir.path().join("local"), dir.path().join("served"));
    fixture::initial_local(dir.path());
    std::fs::create_dir(&served).unwrap();
    let server = start(ServerConfig { login: Some(("joe".into(), PW.into())), ..ServerConfig::new(&served) }).unwrap();
    let url = server.url(None).replace("ftp://", &format!("ftp://joe:{PW}@"));
    let plan = dir.path().join("plan.json");
    let report = dir.path().join("report.json");
    let l = local.to_str().unwrap();
    let mut outputs = vec![run(&["plan", "upload", l, &url, "-o", plan.to_str().unwrap(), "-vvv"], &[])];
    // The plan holds no password: apply gets it from the environment (as in CI).
    outputs.push(run(
        &["apply", plan.to_str().unwrap(), "--report", report.to_str().unwrap(), "-vvv"],
        &[("FTPSYNC_PASSWORD", PW)],
    ));
    outputs.push(run(&["upload", l, &url, "-vvv", "--json"], &[]));
    outputs.push(run(&["sync", l, &url.replace(PW, "wrong-password"), "--no-prompt"], &[]));
    let mut seen_trace = false;
    for (i, o) in outputs.iter().enumerate() {
        let all = text(o);
        assert!(!all.contains(PW), "output of run {i} shows the password:\n{all}");
        seen_trace |= all.contains("*cmd* 'PASS ***'");
        if i < 3 {
            assert!(o.status.success(), "run {i} failed:\n{all}");
        }
    }
    assert!(seen_trace, "-vvv printed no protocol trace");
    assert!(!outputs[3].status.success(), "a wrong password must fail");
    assert!(text(&outputs[3]).contains("wrong user name or password"));
    for file in walk(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(PW), "{} contains the password", file.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn a_held_lock_stops_a_second_apply_until_broken() {
    let dir = tempfile::tempdir().unwrap();
    let (local, served) = (dir.path().join("local"), dir.path().join("served"));
    fixture::initial_local(dir.path());
    std::fs::create_dir(&served).unwrap();
    let server = ftp::serve(&served);
    let url = server.url(None);
    let mut holder = ftp::target(&server);
    holder.lock(false).unwrap();
    let out = run(&["upload", local.to_str().unwrap(), &url], &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains(".pyftpsync-lock.json") && all.contains("locked by"), "{all}");
    assert!(!served.join("file1.txt").exists(), "the locked-out run changed the server");
    let out = run(&["upload", local.to_str().unwrap(), &url, "--break-lock"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Breaking the lock"));
    assert!(served.join("file1.txt").exists());
}

#[test]
fn of_two_runs_locking_at_once_exactly_one_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = ftp::serve(dir.path());
    for round in 0..10 {
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<bool> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    let mut t = ftp::target(&server);
                    s.spawn(move || {
                        barrier.wait();
                        let won = t.lock(false).is_ok();
                        // Hold it until both have tried; the loser must not remove it.
                        barrier.wait();
                        if won {
                            t.unlock().unwrap();
                        }
                        won
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|w| **w).count(), 1, "round {round}: {results:?}");
        assert!(!dir.path().join(".pyftpsync-lock.json").exists(), "round {round}: lock left behind");
    }
}

#[test]
fn a_lock_taken_over_during_an_upload_stops_the_run_before_anything_shows() {
    // The lock's second reading waits for the first change others can see (here the rename of
    // the only upload). A rival's lock that replaced ours meanwhile, as a server appending by
    // rewriting lets happen, is found then: the temporary file goes, nothing shows.
    let mut w = World::new();
    w.put(Side::Local, "big.bin", 1, 4 << 20);
    // The upload stops for a while 1 MiB in (the lock's own transfers come before it).
    w.proxy.arm(Some(Fault { channel: Channel::Data, at: 1 << 20, action: Action::Delay(Duration::from_secs(3)) }));
    let (local, url) = (w.local.to_str().unwrap().to_string(), w.proxy.url());
    let child = w.command(&["upload", &local, &url, "--no-prompt", "--no-keyring", "--no-netrc"]).spawn().unwrap();
    // The temporary file exists: the upload runs, so our lock passed its first reading.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !names(&w.served).iter().any(|n| n.starts_with(".ftpsync-tmp-")) {
        assert!(Instant::now() < deadline, "the upload did not start: {:?}", names(&w.served));
        std::thread::sleep(Duration::from_millis(1));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let rival = LockFile { lock_time: now, lock_holder: Some("ftpsync 1@rival-host".into()) }.to_bytes();
    std::fs::write(w.served.join(".pyftpsync-lock.json"), &rival).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(w.proxy.faults_fired(), 1, "the upload was not held up: {all}");
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("locked by ftpsync 1@rival-host at the same moment"), "{all}");
    assert_eq!(names(&w.served), [".pyftpsync-lock.json"], "the run that lost the lock left files behind");
    assert_eq!(std::fs::read(w.served.join(".pyftpsync-lock.json")).unwrap(), rival, "the rival's lock must stay");
    assert_eq!(names(&w.local), ["big.bin"], "the run that lost the lock wrote local metadata");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn stale_locks_do_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let server = ftp::serve(dir.path());
    let lock = dir.path().join(".pyftpsync-lock.json");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    // A run of this host that was killed: its process is gone.
    let dead = me().replace(&format!("ftpsync {}@", std::process::id()), "ftpsync 4294967294@");
    std::fs::write(&lock, LockFile { lock_time: now, lock_holder: Some(dead) }.to_bytes()).unwrap();
    let mut t = ftp::target(&server);
    let notes = t.lock(false).unwrap();
    assert!(notes.iter().any(|n| n.contains("stale") && n.contains("no longer runs")), "{notes:?}");
    t.unlock().unwrap();
    // pyftpsync's lock (no holder) that nobody refreshed for an hour.
    std::fs::write(&lock, format!("{{\"lock_time\": {}, \"lock_holder\": null}}", now - 3600.0)).unwrap();
    let notes = t.lock(false).unwrap();
    assert!(notes.iter().any(|n| n.contains("stale")), "{notes:?}");
    t.unlock().unwrap();
    // A fresh foreign lock is respected.
    std::fs::write(&lock, LockFile { lock_time: now, lock_holder: Some("ftpsync 1@another-host".into()) }.to_bytes())
        .unwrap();
    let err = t.lock(false).unwrap_err();
    assert!(format!("{err}").contains("ftpsync 1@another-host"), "{err}");
}

#[test]
fn ctrl_c_stops_cleanly_with_exit_3_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (local, served) = (dir.path().join("local"), dir.path().join("served"));
    for i in 0..1200 {
        fixture::write(&local, &format!("d{}/f{i}.txt", i % 30), &format!("file {i}"), fixture::T12);
    }
    std::fs::create_dir(&served).unwrap();
    let server = ftp::serve(&served);
    let url = server.url(None);
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(bin())
        .args(["upload", local.to_str().unwrap(), &url, "--workers", "1"])
        .env("NO_COLOR", "1")
        .env("HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(all.contains("Aborted by user."), "{all}");
    assert!(!served.join(".pyftpsync-lock.json").exists(), "the lock was left behind");
    let again = run(&["upload", local.to_str().unwrap(), &url], &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(fixture::read_tree(&local), fixture::read_tree(&served));
}
