//! Socket plumbing shared by the tests' fake servers and the cutting proxy: every wait on a
//! peer is bounded, so a test whose client misbehaves fails instead of hanging.

use std::io;
use std::net::{TcpListener, TcpStream};
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(e),
        }
    }
}
