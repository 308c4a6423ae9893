//! Moving file content over one SFTP channel with many requests in flight: a file is written
//! as a train of `WRITE`s sent without waiting (at most [`IN_FLIGHT`] unanswered), followed in
//! the same train by the `FSETSTAT` of its time, the `FSTAT` of its size and the `CLOSE`; a
//! small file costs two round trips (open, then everything else). A download keeps up to
//! [`IN_FLIGHT`] `READ`s outstanding (russh-sftp's own file reader waits for each, which is
//! slow on a link with latency: its issue #70), starting with two and doubling with each
//! answer that brings data: a small file (a metadata file) costs the open and one round trip
//! of two reads, not 64 requests the server answers with the end of the file.
//!
//! A request's packet is sent when its future is first polled, and the server answers in
//! order: [`send`] polls each once, right away, so that the order on the wire is the order of
//! the calls (the time set after the last write, the size read after both).

use std::collections::VecDeque;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Result;
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::runtime::Handle;

use super::errors::failed;

/// Bytes per `WRITE` and `READ` (OpenSSH's limit for a read is 256 KiB; 32 KiB is what every
/// server takes).
pub const CHUNK: usize = 32 * 1024;
/// Requests of one transfer in flight at once: 2 MiB, enough for loopback and a long link.
pub const IN_FLIGHT: usize = 64;

/// A request in flight.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, SftpError>> + Send>>;

/// Starts a request: polls it once, which sends its packet, and returns it to be awaited.
pub fn send<T: Send + 'static>(fut: impl Future<Output = Result<T, SftpError>> + Send + 'static) -> Pending<T> {
    let mut fut: Pending<T> = Box::pin(fut);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
        return Box::pin(async move { r });
    }
    fut
}

/// Attributes that set a modification (and access) time.
pub fn times(mtime: f64) -> FileAttributes {
    let t = mtime.floor().clamp(0.0, u32::MAX as f64) as u32;
    FileAttributes { atime: Some(t), mtime: Some(t), ..FileAttributes::empty() }
}

/// What an upload stored.
pub struct Stored {
    pub bytes: u64,
    pub mtime_set: bool,
}

/// Writes `data` to `abs` (created or truncated), sets its time, and reads back its size.
/// Runs on the caller's thread (`rt.block_on`); `data` is read there. `size`: how many bytes
/// `data` holds, if known (a small file then needs no buffer of [`CHUNK`] bytes).
pub async fn upload(
    sftp: &Arc<RawSftpSession>,
    abs: &str,
    data: &mut dyn Read,
    size: Option<usize>,
    mtime: Option<f64>,
) -> Result<Stored> {
    let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
    let handle = sftp
        .open(abs, flags, FileAttributes::empty())
        .await
        .map_err(|e| failed(e, &format!("cannot create {abs}")))?
        .handle;
    let mut closed = false;
    let result = write_all(sftp, &handle, abs, data, size, mtime, &mut closed).await;
    if result.is_err() && !closed {
        // The handle is released even when the writes failed (the caller removes the file);
        // once only: a server reuses a closed handle's name at once (OpenSSH's is its slot in
        // a table), and a second CLOSE would close a file another worker on this channel has
        // just opened.
        let close = sftp.clone();
        let h = handle.clone();
        drop(send(async move { close.close(h).await }));
    }
    result
}

/// Sends the writes, the time, the size check and the close; `closed` tells whether the
/// close went out (then the handle is not the caller's to close, even after an error).
async fn write_all(
    sftp: &Arc<RawSftpSession>,
    handle: &str,
    abs: &str,
    data: &mut dyn Read,
    size: Option<usize>,
    mtime: Option<f64>,
    closed: &mut bool,
) -> Result<Stored> {
    let mut inflight: VecDeque<Pending<()>> = VecDeque::new();
    let mut offset = 0u64;
    // One byte more than a known size: the read that fills it short is the end.
    let mut buf = vec![0u8; size.map_or(CHUNK, |s| (s + 1).min(CHUNK))];
    loop {
        let n = read_full(data, &mut buf)?;
        if n == 0 {
            break;
        }
        if inflight.len() >= IN_FLIGHT
            && let Some(first) = inflight.pop_front()
        {
            first.await.map_err(|e| failed(e, &format!("cannot write {abs}")))?;
        }
        let (s, h, chunk) = (sftp.clone(), handle.to_string(), buf[..n].to_vec());
        inflight.push_back(send(async move { s.write(h, offset, chunk).await.map(drop) }));
        offset += n as u64;
        if n < buf.len() {
            break;
        }
    }
    let (s, h) = (sftp.clone(), handle.to_string());
    let setstat = mtime.map(|t| send(async move { s.fsetstat(h, times(t)).await.map(drop) }));
    let (s, h) = (sftp.clone(), handle.to_string());
    let fstat = send(async move { s.fstat(h).await });
    let (s, h) = (sftp.clone(), handle.to_string());
    let close = send(async move { s.close(h).await.map(drop) });
    *closed = true;
    for w in inflight {
        w.await.map_err(|e| failed(e, &format!("cannot write {abs}")))?;
    }
    let mtime_set = match setstat {
        Some(f) => f.await.is_ok(),
        None => false,
    };
    let attrs = fstat.await.map_err(|e| failed(e, &format!("cannot check the size of {abs}")))?.attrs;
    close.await.map_err(|e| failed(e, &format!("cannot close {abs} (the data may not be stored)")))?;
    let bytes = attrs.size.unwrap_or(offset);
    if bytes != offset {
        anyhow::bail!("{abs}: the server stored {bytes} bytes of {offset} (a full disk or a quota?)");
    }
    Ok(Stored { bytes, mtime_set })
}

/// Fills `buf` as far as the source allows (0: the end).
fn read_full(data: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match data.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow::Error::new(e).context("reading the source")),
        }
    }
    Ok(n)
}

/// A remote file as a blocking reader, with [`IN_FLIGHT`] reads ahead.
pub struct Download {
    rt: Handle,
    sftp: Arc<RawSftpSession>,
    handle: String,
    abs: String,
    /// Offset of the next read to send, and of the next byte to hand out.
    next: u64,
    delivered: u64,
    ahead: VecDeque<(u64, u32, Pending<Vec<u8>>)>,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// The size the server gave just before the open: a short read that ends there is the
    /// end of the file (the reads sent after it say so), not a reason to ask for the rest.
    size: Option<u64>,
    /// Reads kept in flight now (up to [`IN_FLIGHT`]).
    window: usize,
    /// The connection failed while reading (worth another attempt on a new one).
    pub lost: bool,
}

impl Download {
    /// `size`: the file's size just before it was opened, if known.
    pub fn new(rt: Handle, sftp: Arc<RawSftpSession>, handle: String, abs: String, size: Option<u64>) -> Download {
        let mut d = Download {
            rt,
            sftp,
            handle,
            abs,
            size,
            next: 0,
            delivered: 0,
            ahead: VecDeque::new(),
            buf: Vec::new(),
            pos: 0,
            eof: false,
            window: 2,
            lost: false,
        };
        let rt = d.rt.clone();
        let _guard = rt.enter();
        d.fill();
        d
    }

    fn request(&mut self, offset: u64, len: u32) {
        let (s, h) = (self.sftp.clone(), self.handle.clone());
        let fut = send(async move {
            match s.read(h, offset, len).await {
                Ok(d) => Ok(d.data),
                Err(SftpError::Status(st)) if st.status_code == StatusCode::Eof => Ok(Vec::new()),
                Err(e) => Err(e),
            }
        });
        self.ahead.push_back((offset, len, fut));
    }

    fn fill(&mut self) {
        while !self.eof && self.ahead.len() < self.window {
            self.request(self.next, CHUNK as u32);
            self.next += CHUNK as u64;
        }
    }

    /// Closes the handle (sent, not awaited).
    pub fn close(self) {
        let (s, h) = (self.sftp.clone(), self.handle.clone());
        let _guard = self.rt.enter();
        drop(send(async move { s.close(h).await }));
    }
}

impl Read for Download {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            let Some((offset, len, fut)) = self.ahead.pop_front() else { return Ok(0) };
            let data = match self.rt.block_on(fut) {
                Ok(d) => d,
                Err(e) => {
                    self.lost = super::errors::is_lost(&e);
                    let e = failed(e, &format!("download of {} interrupted", self.abs));
                    return Err(std::io::Error::other(format!("{e:#}")));
                }
            };
            if data.is_empty() {
                // The end: the reads sent past it are answered the same way.
                self.eof = true;
                self.ahead.clear();
                return Ok(0);
            }
            if offset != self.delivered {
                // Data past a short read taken for the end (the file grew meanwhile): read on
                // from where the delivered bytes end, never leaving a gap.
                self.ahead.clear();
                self.next = self.delivered;
                let _guard = self.rt.enter();
                self.fill();
                continue;
            }
            if data.len() < len as usize && self.size != Some(offset + data.len() as u64) {
                // A short read before the end: ask for the rest first, in order.
                let rest = offset + data.len() as u64;
                let (s, h) = (self.sftp.clone(), self.handle.clone());
                let left = len - data.len() as u32;
                let _guard = self.rt.enter();
                let fut = send(async move {
                    match s.read(h, rest, left).await {
                        Ok(d) => Ok(d.data),
                        Err(SftpError::Status(st)) if st.status_code == StatusCode::Eof => Ok(Vec::new()),
                        Err(e) => Err(e),
                    }
                });
                self.ahead.push_front((rest, left, fut));
            }
            self.delivered += data.len() as u64;
            self.window = (self.window * 2).min(IN_FLIGHT);
            self.buf = data;
            self.pos = 0;
            let _guard = self.rt.enter();
            self.fill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
