//! Reading a small file whole (the lock, a metadata file) in two round trips: the open, then
//! two reads at once, which for a file shorter than one read bring its content and the end.

use std::sync::Arc;

use anyhow::{Result, bail};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};

use super::errors::{failed, is_missing};
use super::transfer::{CHUNK, send};

fn is_end(r: &Result<impl Sized, SftpError>) -> bool {
    matches!(r, Err(SftpError::Status(st)) if st.status_code == StatusCode::Eof)
}

/// The content of the file `abs`, `None` if it does not exist; an error if it is larger than
/// `limit` bytes. The `CLOSE` is not waited for (the server handles it before any later
/// request on the channel).
pub async fn read_whole(s: Arc<RawSftpSession>, abs: String, limit: usize) -> Result<Option<Vec<u8>>> {
    let h = match s.open(abs.clone(), OpenFlags::READ, FileAttributes::empty()).await {
        Ok(h) => h.handle,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(failed(e, &format!("cannot read {abs}"))),
    };
    let chunk = CHUNK as u32;
    let (s1, h1, s2, h2) = (s.clone(), h.clone(), s.clone(), h.clone());
    let first = send(async move { s1.read(h1, 0, chunk).await });
    let second = send(async move { s2.read(h2, u64::from(chunk), chunk).await });
    let (first, second) = (first.await, second.await);
    let whole = match (&first, is_end(&second)) {
        (Ok(d), true) if d.data.len() < CHUNK => Some(d.data.clone()),
        (r, true) if is_end(r) => Some(Vec::new()),
        _ => None,
    };
    if let Some(whole) = whole {
        drop(send(async move { s.close(h).await }));
        return Ok(Some(whole));
    }
    // Longer (or answered otherwise): read on, one read at a time.
    let mut out = Vec::new();
    loop {
        match s.read(h.clone(), out.len() as u64, chunk).await {
            Ok(d) if d.data.is_empty() => break,
            Ok(d) => out.extend_from_slice(&d.data),
            Err(SftpError::Status(st)) if st.status_code == StatusCode::Eof => break,
            Err(e) => {
                drop(send(async move { s.close(h).await }));
                return Err(failed(e, &format!("cannot read {abs}")));
            }
        }
        if out.len() > limit {
            drop(send(async move { s.close(h).await }));
            bail!("{abs} is larger than {limit} bytes");
        }
    }
    let _ = s.close(h).await;
    Ok(Some(out))
}
