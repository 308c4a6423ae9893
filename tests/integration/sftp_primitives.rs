//! The SFTP backend against the real servers of the environment: the staging primitives a
//! staged apply needs (`backend::conformance`), a large file both ways (the pipelined writes
//! and reads, byte for byte, its time set), an unreadable folder reported as such (never as
//! empty), and a replace onto an existing file.

use ftpsync::backend::conformance::check_staging_primitives;
use ftpsync::backend::sftp::SftpTarget;
use ftpsync::backend::url::Location;
use ftpsync::backend::{Target, read_to_vec, unreadable_of};
use ftpsync::commands::sftp_login::open_sftp;
use ftpsync::model::relpath::RelPath;
use ftpsync::output::Printer;
use ftpsync::settings::Connection;

use crate::support::sftp::{Scratch, SftpServer, servers};

fn open(s: &SftpServer, sub: &str) -> SftpTarget {
    let Ok(Location::Sftp(url)) = Location::parse(&s.url_of(sub)) else { panic!("not sftp") };
    let conn = Connection { host_keys: vec![s.fingerprint()], no_prompt: true, ..Connection::for_demo() };
    open_sftp(url, &conn, &Printer::new(0, true), false).unwrap_or_else(|e| panic!("{}: {e:#}", s.name))
}

#[test]
fn staging_primitives_on_every_sftp_server() {
    for s in servers() {
        let scratch = Scratch::new(&s, "sftp-primitives");
        std::fs::create_dir(&scratch.dir).unwrap();
        chown_like_root(&s, &scratch.dir);
        let mut t = open(&s, &scratch.name);
        let dir = RelPath::parse("work").unwrap();
        t.make_dir(&dir).unwrap();
        check_staging_primitives(&mut t, &dir).unwrap_or_else(|e| panic!("{}: {e:#}", s.name));
    }
}

#[test]
fn large_files_both_ways_and_replaced() {
    large_files(false);
}

/// The same where the server offers no atomic replace: the old file is moved aside, the new
/// one renamed into place, the old one removed.
#[test]
fn large_files_replaced_without_posix_rename() {
    large_files(true);
}

fn large_files(fallback: bool) {
    for s in servers() {
        let scratch = Scratch::new(&s, if fallback { "sftp-large-fallback" } else { "sftp-large" });
        std::fs::create_dir(&scratch.dir).unwrap();
        chown_like_root(&s, &scratch.dir);
        let mut t = open(&s, &scratch.name);
        if fallback {
            t = t.without_posix_rename();
        }
        // 5 MiB and a bit: many chunks in flight, and a last partial one.
        let data: Vec<u8> = (0..5 * 1024 * 1024 + 123).map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let path = RelPath::parse("big.bin").unwrap();
        let w = t.write_file(&path, &mut data.as_slice(), Some(1_600_000_000.0)).unwrap();
        assert_eq!(w.bytes, data.len() as u64);
        assert!(w.mtime_set, "{}: the time was not set", s.name);
        let on_disk = std::fs::metadata(scratch.dir.join("big.bin")).unwrap();
        let mtime = on_disk.modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(mtime, 1_600_000_000, "{}: time on disk", s.name);
        assert_eq!(read_to_vec(&mut t, &path).unwrap(), data, "{}: read back", s.name);
        // Replaced in place (posix-rename or the fallback); nothing else left in the folder.
        t.write_file(&path, &mut &b"small now"[..], None).unwrap();
        assert_eq!(std::fs::read(scratch.dir.join("big.bin")).unwrap(), b"small now");
        let names: Vec<_> = std::fs::read_dir(&scratch.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{}: left behind: {names:?}", s.name);
        // A read that stops early leaves the connection usable.
        t.read_file(&path, &mut |r| {
            let mut one = [0u8; 1];
            r.read_exact(&mut one)?;
            Ok(())
        })
        .unwrap();
        assert!(t.stat(&path).unwrap().is_some());
    }
}

#[test]
fn an_unreadable_folder_is_not_empty() {
    for s in servers() {
        let scratch = Scratch::new(&s, "sftp-unreadable");
        std::fs::create_dir_all(scratch.dir.join("closed")).unwrap();
        std::fs::write(scratch.dir.join("closed/secret.txt"), "x").unwrap();
        chown_like_root(&s, &scratch.dir);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(scratch.dir.join("closed"), std::fs::Permissions::from_mode(0o000)).unwrap();
        let mut t = open(&s, &scratch.name);
        let err = t.list_dir(&RelPath::parse("closed").unwrap()).expect_err("an unreadable folder was listed");
        assert!(unreadable_of(&err).is_some(), "{}: {err:#}", s.name);
        assert!(t.list_dir(&RelPath::parse("gone").unwrap()).unwrap().is_none());
    }
}

/// Gives a folder made by the test (as root) to the owner of the server's root, so that the
/// server's user may write in it.
fn chown_like_root(s: &SftpServer, dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&s.root).unwrap();
    let status = std::process::Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", owner.uid(), owner.gid()))
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}
