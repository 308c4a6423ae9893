//! The remote lock on a server without `APPE` (Twisted's FTP server answers it `502`), played by
//! the scripted server: the lock is written with `STOR` where there is none, and another run's
//! lock is never overwritten (the run stops, naming it).

use std::path::Path;
use std::time::Duration;

use ftpsync::apply::{Applied, ApplyError, apply};
use ftpsync::backend::ftp::lock::LockFile;
use ftpsync::backend::ftp::session::Settings;
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::local::LocalTarget;
use ftpsync::backend::secret::Secret;
use ftpsync::backend::url::{FtpUrl, Tls};
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan_with;

use crate::support::fake_ftp::{Dialect, FakeFtp, Script};
use crate::support::settings;

const LOCK: &str = "/.pyftpsync-lock.json";

fn without_appe() -> Script {
    let mut script = Script::new(Dialect::Mlsd);
    script.unsupported.insert("APPE");
    script
}

fn open(fake: &FakeFtp) -> FtpTarget {
    let port = fake.url().rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    let url = FtpUrl { tls: Tls::None, host: "127.0.0.1".into(), port, user: None, password: None, path: "/".into() };
    let settings = Settings {
        url,
        user: "joe".into(),
        password: Secret::new("pw"),
        trust: None,
        active: false,
        timeout: Duration::from_secs(10),
    };
    FtpTarget::open(settings, Options { retries: 1, create_root: false }).unwrap()
}

fn upload(local: &Path, remote: &mut FtpTarget) -> Result<Applied, ApplyError> {
    let mut l = LocalTarget::open(local).unwrap();
    let plan = make_plan_with(&mut l, remote, PlanOptions::new(Mode::Upload), SystemClock.now(), 1).unwrap().plan;
    apply(&plan, &mut l, remote, &settings())
}

fn local_with_one_file() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"hello\n").unwrap();
    dir
}

#[test]
fn the_lock_is_written_with_stor_where_appe_is_not_implemented() {
    let fake = FakeFtp::start(without_appe());
    let local = local_with_one_file();
    let applied = upload(local.path(), &mut open(&fake)).unwrap_or_else(|e| panic!("upload without APPE: {e:#}"));
    assert_eq!(applied.failures(), 0);
    assert_eq!(fake.file("/a.txt").as_deref(), Some(&b"hello\n"[..]));
    let commands = fake.commands();
    assert!(commands.iter().any(|c| c == &format!("APPE {LOCK}")), "APPE is tried first: {commands:?}");
    assert!(commands.iter().any(|c| c == &format!("STOR {LOCK}")), "then the lock is stored: {commands:?}");
    assert_eq!(fake.file(LOCK), None, "the lock is removed at the end");
}

#[test]
fn another_runs_lock_is_not_overwritten_where_appe_is_not_implemented() {
    let mut script = without_appe();
    let theirs =
        LockFile { lock_time: SystemClock.now(), lock_holder: Some("ftpsync 1@another-host.example #0".into()) }
            .to_bytes();
    script.files.insert(LOCK.into(), theirs.clone());
    let fake = FakeFtp::start(script);
    let local = local_with_one_file();
    let err = match upload(local.path(), &mut open(&fake)) {
        Ok(_) => panic!("the upload went on although another run holds the lock"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("locked by") && err.contains("another-host.example"), "{err}");
    assert_eq!(fake.file(LOCK), Some(theirs), "the other run's lock is untouched");
    assert_eq!(fake.file("/a.txt"), None, "nothing uploaded");
    assert!(!fake.commands().iter().any(|c| c == &format!("STOR {LOCK}")), "no STOR over the other lock");
}
