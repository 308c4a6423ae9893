//! Socket plumbing shared by the tests' fake servers and the cutting proxy: every wait on a
//! peer is bounded, so a test whose client misbehaves fails instead of hanging.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bounds every read and write of `s` by `limit`.
pub fn timeouts(s: &TcpStream, limit: Duration) -> io::Result<()> {
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))
}

/// Waits at most `limit` for the client to open the data connection; the connection then
/// has the same bound on every read and write.
pub fn accept_data(listener: &TcpListener, limit: Duration) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + limit;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                timeouts(&s, limit)?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => return Err(e),
        }
    }
}

/// The accepting loop of a fake server: each connection accepted on a non-blocking listener
/// is handed to `accepted` (which starts a thread for it), until the acceptor is dropped.
pub struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Acceptor {
    pub fn start(listener: TcpListener, mut accepted: impl FnMut(TcpStream) + Send + 'static) -> Acceptor {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((socket, _)) => accepted(socket),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Acceptor { stop, thread: Some(thread) }
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
