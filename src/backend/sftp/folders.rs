//! Reading one folder over SFTP (`OPENDIR`, `READDIR` until the end, `CLOSE`), with the
//! requests of one folder sent without waiting where the protocol allows; the target lists
//! many folders at once on one channel with it (`SftpTarget::list_dirs`). What the names
//! mean is [`super::listing`]'s job.

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::Result;
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::StatusCode;

use super::errors::{self, failed, is_denied, is_missing};
use super::listing;
use super::transfer::{Pending, send};
use crate::backend::Unreadable;
use crate::model::listing::Listing;

/// Lists the folder `abs`; `None` if it does not exist (`server`: the target as people know
/// it, for errors).
pub async fn list_one(s: Arc<RawSftpSession>, abs: String, server: String) -> Result<Option<Listing>> {
    let h = match s.opendir(abs.clone()).await {
        Ok(h) => h.handle,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) if is_denied(&e) => {
            return Err(Unreadable { folder: abs, server, why: "permission denied".into(), again: false }.into());
        }
        Err(e) => return Err(failed(e, &format!("cannot list {abs}"))),
    };
    // Three `READDIR`s in flight: a folder that fits in two answers costs two round trips
    // (the open, then its names and the end; OpenSSH answers at most 100 names at a time, and
    // a root of 100 folders plus its metadata needs two), and the `CLOSE` is not waited for
    // (the server handles it before any later request). The server answers in order, so what
    // follows the end is only more ends (or an error about reading past it): not looked at.
    let next = || {
        let (s, h) = (s.clone(), h.clone());
        send(async move { s.readdir(h).await })
    };
    let mut ahead: VecDeque<Pending<_>> = VecDeque::from([next(), next(), next()]);
    let mut files = Vec::new();
    let result = loop {
        let Some(first) = ahead.pop_front() else { break Ok(()) };
        match first.await {
            Ok(name) => {
                files.extend(name.files);
                // Two ahead from here on: more than two answers is a large folder.
                if ahead.len() < 2 {
                    ahead.push_back(next());
                }
            }
            Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::Eof => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    drop(ahead);
    drop(send(async move { s.close(h).await }));
    match result {
        Err(e) if errors::is_lost(&e) => Err(failed(e, &format!("cannot list {abs}"))),
        Err(e) => Err(Unreadable { folder: abs, server, why: format!("reading it failed: {e}"), again: true }.into()),
        Ok(()) => Ok(Some(listing::listing_of(files))),
    }
}
