//! The sha256 of a copy, computed while the copy goes on: a large file's bytes are handed to a
//! second thread in chunks, so that hashing overlaps with the socket and disk writes instead
//! of adding to them (bench/RESULTS.md, "W4 again, after issue 15": hashing on the copying
//! thread made a 256 MiB upload take twice as long).
//!
//! Memory stays bounded: a few chunks circulate between the two threads, and the copy waits
//! for the hasher when all of them are in its hands. Small files are hashed in place: starting
//! and joining a thread takes about 30 µs here, as long as hashing 50 KiB (SHA-NI, 1.7 GB/s),
//! and a file of one chunk has nothing to overlap with.

use std::io;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::{self, JoinHandle};

use crate::model::digest::Hasher;

/// Bytes handed to the hasher at a time: few enough hand-offs (1,024 for 256 MiB), small
/// enough to be still in cache when the hasher reads them.
const CHUNK: usize = 256 * 1024;

/// Chunks in circulation: the copy can run this far ahead of the hasher (1 MiB per copy).
const CHUNKS: usize = 4;

/// Files smaller than this are hashed on the copying thread (see the module doc): from four
/// chunks on, the thread costs less than 5% of the hashing it can take off the copy.
pub const SIDE_FROM: u64 = 4 * CHUNK as u64;

/// A streaming sha256, on this thread or on a second one.
pub enum CopyHasher {
    Inline(Hasher),
    Side(SideHasher),
}

impl CopyHasher {
    /// The hasher for a stream of `size` bytes. When no thread can be started (a process
    /// limit), the copy is not refused for it: it hashes in place, only slower.
    pub fn for_size(size: u64) -> CopyHasher {
        match size {
            ..SIDE_FROM => CopyHasher::Inline(Hasher::default()),
            _ => SideHasher::start().map_or_else(|_| CopyHasher::Inline(Hasher::default()), CopyHasher::Side),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            CopyHasher::Inline(h) => {
                h.update(bytes);
                Ok(())
            }
            CopyHasher::Side(h) => h.update(bytes),
        }
    }

    /// The lower-case hex sha256 of everything passed to `update`.
    pub fn finish(self) -> io::Result<String> {
        match self {
            CopyHasher::Inline(h) => Ok(h.finish()),
            CopyHasher::Side(h) => h.finish(),
        }
    }
}

/// A sha256 computed on a thread of its own. Dropped unfinished (the copy failed), it stops
/// the thread and waits for it: no thread outlives its copy.
pub struct SideHasher {
    /// Full chunks to the hasher; `None` once closed.
    to_hash: Option<SyncSender<Vec<u8>>>,
    /// Chunks the hasher is done with, to be filled again.
    hashed: Receiver<Vec<u8>>,
    /// The chunk being filled.
    filling: Vec<u8>,
    /// Chunks made so far (at most `CHUNKS`).
    made: usize,
    worker: Option<JoinHandle<String>>,
}

impl SideHasher {
    pub fn start() -> io::Result<SideHasher> {
        let (to_hash, chunks) = sync_channel::<Vec<u8>>(CHUNKS);
        let (give_back, hashed) = sync_channel::<Vec<u8>>(CHUNKS);
        let worker = thread::Builder::new().name("sha256".into()).spawn(move || {
            let mut hasher = Hasher::default();
            for chunk in chunks {
                hasher.update(&chunk);
                // The copy may have stopped taking chunks back (it failed): nothing to do.
                let _ = give_back.send(chunk);
            }
            hasher.finish()
        })?;
        Ok(SideHasher {
            to_hash: Some(to_hash),
            hashed,
            filling: Vec::with_capacity(CHUNK),
            made: 1,
            worker: Some(worker),
        })
    }

    pub fn update(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let take = bytes.len().min(CHUNK - self.filling.len());
            self.filling.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.filling.len() == CHUNK {
                let full = std::mem::take(&mut self.filling);
                self.send(full)?;
                self.filling = self.empty_chunk()?;
            }
        }
        Ok(())
    }

    /// A chunk to fill: a new one while fewer than `CHUNKS` exist, else the next one the
    /// hasher is done with (waiting for it: the copy is ahead by `CHUNKS` chunks).
    fn empty_chunk(&mut self) -> io::Result<Vec<u8>> {
        let mut chunk = match self.hashed.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Empty) if self.made < CHUNKS => {
                self.made += 1;
                Vec::with_capacity(CHUNK)
            }
            Err(_) => self.hashed.recv().map_err(|_| self.failed())?,
        };
        chunk.clear();
        Ok(chunk)
    }

    fn send(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        let to_hash = self.to_hash.as_ref().expect("sending before finish");
        to_hash.send(chunk).map_err(|_| self.failed())
    }

    /// The hasher thread is gone (it can only have panicked): the reason, when it can be had.
    fn failed(&mut self) -> io::Error {
        self.to_hash = None;
        let why = match self.worker.take().map(JoinHandle::join) {
            Some(Err(panic)) => panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into()),
            _ => "it stopped".into(),
        };
        io::Error::other(format!("the thread computing the sha256 of the copy failed: {why}"))
    }

    /// Hands over the last bytes and waits for the digest.
    pub fn finish(mut self) -> io::Result<String> {
        if !self.filling.is_empty() {
            let last = std::mem::take(&mut self.filling);
            self.send(last)?;
        }
        match self.stop() {
            Some(Ok(digest)) => Ok(digest),
            _ => Err(io::Error::other("the thread computing the sha256 of the copy failed")),
        }
    }
}

impl SideHasher {
    /// Ends the thread without the bytes still being filled; what it hashed, if it ran.
    /// Closing the channel ends the hasher's loop after at most `CHUNKS` chunks, and handing a
    /// chunk back never waits (there is room for all of them): this cannot hang.
    fn stop(&mut self) -> Option<thread::Result<String>> {
        self.to_hash = None;
        self.worker.take().map(JoinHandle::join)
    }
}

impl Drop for SideHasher {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::sha256_hex;

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 % 251) as u8).collect()
    }

    #[test]
    fn the_side_hash_is_the_sha256_of_the_bytes_in_uneven_pieces() {
        // Pieces that straddle chunk boundaries, chunks enough to wait for the hasher, and a
        // partial last chunk.
        let bytes = data(CHUNKS * CHUNK * 3 + 12_345);
        let mut h = CopyHasher::for_size(bytes.len() as u64);
        assert!(matches!(h, CopyHasher::Side(_)));
        for piece in bytes.chunks(32 * 1024 + 7) {
            h.update(piece).unwrap();
        }
        assert_eq!(h.finish().unwrap(), sha256_hex(&bytes));
    }

    #[test]
    fn whole_chunks_and_nothing_hash_right_too() {
        for len in [0, CHUNK, 2 * CHUNK] {
            let bytes = data(len);
            let mut h = SideHasher::start().unwrap();
            h.update(&bytes).unwrap();
            assert_eq!(h.finish().unwrap(), sha256_hex(&bytes), "{len} bytes");
        }
    }

    #[test]
    fn small_files_are_hashed_in_place() {
        let bytes = data(1000);
        let mut h = CopyHasher::for_size(SIDE_FROM - 1);
        assert!(matches!(h, CopyHasher::Inline(_)));
        h.update(&bytes).unwrap();
        assert_eq!(h.finish().unwrap(), sha256_hex(&bytes));
    }

    #[test]
    fn an_abandoned_hash_ends_its_thread() {
        // As a failed copy leaves it: the copy far ahead (every chunk handed over or waiting to
        // be handed back), and a chunk half filled. Stopping joins the thread, which hashed
        // exactly the chunks it was given.
        let bytes = data(CHUNKS * CHUNK * 2 + 100);
        let mut h = SideHasher::start().unwrap();
        h.update(&bytes).unwrap();
        let hashed = h.stop().expect("running").expect("no panic");
        assert_eq!(hashed, sha256_hex(&bytes[..CHUNKS * CHUNK * 2]));
        assert!(h.worker.is_none());
    }
}
