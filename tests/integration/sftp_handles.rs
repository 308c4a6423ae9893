//! More than 128 handles open at once on one SFTP channel, against every SFTP server of the
//! environment. Up to 32 workers share a session (`backend::sftp::sessions`), each with files
//! and folders open, so a channel holds far more handles at once than one worker ever did.
//! OpenSSH's sftp-server names a handle by its index in its table, as 4 bytes big-endian:
//! handle 128 is `00 00 00 80`, not UTF-8. russh-sftp 3.0.1 decoded handles as UTF-8 (lossily)
//! and sent handle 128 back as 6 bytes; the server answered every request on it with a bare
//! `SSH_FX_FAILURE` ("Failure"), no system call failing (vendor/russh-sftp/PATCHED.md). This
//! test opened 300 files and failed at the first write through handle 128 before that fix.
//!
//! Each file is then written through its own handle with its own text, and a folder listed
//! through a handle past 256, so a handle sent back wrong (another file's) shows on disk.

use std::time::Duration;

use ftpsync::backend::secret::Secret;
use ftpsync::backend::sftp::connect::{Settings, connect};
use ftpsync::backend::sftp::hostkeys::Policy;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};

use crate::support::sftp::{Scratch, SftpServer, servers};

/// Handles open at once: past 128 (`00 00 00 80`) and 256 (`00 00 01 00`).
const HANDLES: usize = 300;

#[test]
fn more_than_128_handles_open_at_once_on_one_channel() {
    for s in servers() {
        let scratch = Scratch::new(&s, "sftp-handles");
        std::fs::create_dir(&scratch.dir).unwrap();
        chown_like_root(&s, &scratch.dir);
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(open_write_list(&s, &scratch.name)).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        for i in 0..HANDLES {
            let got = std::fs::read_to_string(scratch.dir.join(format!("f{i}"))).unwrap();
            assert_eq!(got, format!("file {i}"), "{}: f{i} holds another file's text", s.name);
        }
    }
}

async fn open_write_list(s: &SftpServer, folder: &str) -> Result<(), String> {
    let timeout = Duration::from_secs(30);
    let settings = Settings { url: s.url.clone(), policy: Policy::Pinned(vec![s.fingerprint()]), timeout };
    let mut un = connect(&settings).await.map_err(|e| format!("connect: {e:#}"))?;
    let user = s.url.user.clone().unwrap_or_default();
    let login = un.password(&user, &Secret::new(s.password())).await.map_err(|e| format!("login: {e:#}"))?;
    if login.is_none() {
        return Err(format!("the password of {user} was refused"));
    }
    let sftp = un.sftp(timeout).await.map_err(|e| format!("SFTP channel: {e:#}"))?.sftp;
    let base = format!("{}/{folder}", s.url.path.trim_end_matches('/'));
    let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
    let mut handles = Vec::new();
    for i in 0..HANDLES {
        let h = sftp.open(format!("{base}/f{i}"), flags, FileAttributes::empty()).await;
        handles.push(h.map_err(|e| format!("open of file {i}: {e}"))?.handle);
    }
    let bytes = |h: &str| h.chars().map(|c| format!("{:02x}", c as u32)).collect::<String>();
    for (i, h) in handles.iter().enumerate() {
        let written = sftp.write(h.clone(), 0, format!("file {i}").into_bytes()).await;
        written.map_err(|e| format!("write through handle {i} ({}): {e}", bytes(h)))?;
    }
    let dir = sftp.opendir(base).await.map_err(|e| format!("opendir with {HANDLES} handles open: {e}"))?.handle;
    let mut names = 0;
    loop {
        match sftp.readdir(dir.clone()).await {
            Ok(batch) => names += batch.files.iter().filter(|f| f.filename.starts_with('f')).count(),
            Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::Eof => break,
            Err(e) => return Err(format!("readdir through {}: {e}", bytes(&dir))),
        }
    }
    if names != HANDLES {
        return Err(format!("the listing through the last handle has {names} files of {HANDLES}"));
    }
    for (i, h) in handles.into_iter().chain([dir]).enumerate() {
        sftp.close(h).await.map_err(|e| format!("close of handle {i}: {e}"))?;
    }
    Ok(())
}

/// The scratch folder owned like the served root (the tests run as root, the server as its
/// login).
fn chown_like_root(s: &SftpServer, dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&s.root).unwrap();
    let status =
        std::process::Command::new("chown").arg(format!("{}:{}", owner.uid(), owner.gid())).arg(dir).status().unwrap();
    assert!(status.success());
}
