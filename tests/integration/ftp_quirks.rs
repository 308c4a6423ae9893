//! The FTP target against behaviours of real servers that the in-process server does not have,
//! played by the scripted server as a vsftpd look-alike (`support::fake_ftp`, LIST only), so
//! they are checked on every machine; the real servers themselves are exercised in
//! `servers.rs`.

use std::time::Duration;

use ftpsync::backend::Target;
use ftpsync::backend::ftp::session::Settings;
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::secret::Secret;
use ftpsync::backend::url::{FtpUrl, Tls};
use ftpsync::model::relpath::RelPath;
use ftpsync::model::{Clock, SystemClock};

use crate::support::fake_ftp::{Dialect, FakeFtp, Script};

fn open(fake: &FakeFtp, folder: &str, create_root: bool) -> anyhow::Result<FtpTarget> {
    let port = fake.url().rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    let url =
        FtpUrl { tls: Tls::None, host: "127.0.0.1".into(), port, user: None, password: None, path: folder.into() };
    let settings = Settings {
        url,
        user: "joe".into(),
        password: Secret::new("pw"),
        trust: None,
        active: false,
        timeout: Duration::from_secs(10),
    };
    FtpTarget::open(settings, Options { retries: 1, create_root })
}

/// A whole minute of yesterday (LIST shows only the minutes of recent files).
fn yesterday() -> i64 {
    let t = SystemClock.now() as i64 - 86_400;
    t - t % 60
}

#[test]
fn a_missing_folder_is_not_an_empty_one_on_list_only_servers() {
    // vsftpd answers LIST of a missing folder with an empty listing and 226.
    let mut script = Script::new(Dialect::ListOnly);
    script.dirs.insert("/empty".into());
    let fake = FakeFtp::start(script);
    let err = open(&fake, "/missing", false).err().expect("a missing folder must not open");
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
    let mut empty = open(&fake, "/empty", false).unwrap();
    assert!(empty.list_dir(&RelPath::root()).unwrap().unwrap().entries.is_empty());
    assert_eq!(empty.list_dir(&RelPath::parse("sub").unwrap()).unwrap().map(|l| l.entries.len()), None);
    // With --create-folder, the missing folder is planned as empty.
    let mut created = open(&fake, "/missing", true).unwrap();
    assert!(created.list_dir(&RelPath::root()).unwrap().unwrap().entries.is_empty());
}

#[test]
fn stat_asks_the_exact_time_of_one_file_only() {
    // Without MLST, a stat lists the parent folder; only the one file needs an MDTM (apply
    // stats every entry it changes: one MDTM per file of the folder made uploads quadratic).
    let base = yesterday();
    let mut script = Script::new(Dialect::ListOnly);
    script.dirs.insert("/dir".into());
    for i in 0..50 {
        let path = format!("/dir/file {i}.txt");
        script.files.insert(path.clone(), vec![b'x'; 100 + i]);
        script.times.insert(path, base + i as i64);
    }
    let fake = FakeFtp::start(script);
    let mut target = open(&fake, "/dir", false).unwrap();
    let before = fake.count("MDTM");
    let found = target.stat(&RelPath::parse("file 7.txt").unwrap()).unwrap().expect("file 7.txt exists");
    assert_eq!((found.size, found.mtime), (107, (base + 7) as f64), "the exact time, from MDTM");
    assert_eq!(fake.count("MDTM") - before, 1, "one MDTM for one stat");
    assert!(target.stat(&RelPath::parse("nothing.txt").unwrap()).unwrap().is_none());
    // A listing still gives every file its exact time.
    let listing = target.list_dir(&RelPath::root()).unwrap().unwrap();
    assert!(listing.entries.iter().all(|e| e.mtime == (base + e.size as i64 - 100) as f64), "exact times in listings");
}
