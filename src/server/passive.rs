//! Passive data ports that never collide, even with many servers in one process or machine.
//!
//! What libunftp 0.24 does by itself (legacy listener mode, the one `Server::service` uses):
//! for each PASV/EPSV it draws a random port of the range up to 9 times, `bind`s it with
//! `SO_REUSEADDR` and only later calls `listen`. With `SO_REUSEADDR` two sockets may be bound
//! to the same port as long as neither listens yet, so two sessions (or two servers sharing a
//! range) can both "get" a port and the second `listen` fails; and a busy range gives up after
//! 9 draws with `425`.
//!
//! Here a libunftp [`Binder`](libunftp::options::Binder) does `bind` *and* `listen` in one go
//! (`listen` is the step the kernel makes exclusive), walking the whole range from a rotating
//! start, and hands the listening socket back to libunftp (whose own `listen(1024)` on an
//! already listening socket just updates the backlog). So servers with the same or
//! overlapping ranges just take different ports. The range `0..=0` means "any free port"
//! (kernel-chosen), which is what tests use.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, TcpListener};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::TcpSocket;

/// The passive port range of one server, shared by its sessions.
#[derive(Debug)]
pub struct Ports {
    range: RangeInclusive<u16>,
    next: AtomicU32,
}

impl Ports {
    /// `0..=0` means kernel-chosen ports; otherwise the range must not contain port 0.
    pub fn new(range: RangeInclusive<u16>) -> io::Result<Self> {
        let valid = range == (0..=0) || (*range.start() > 0 && range.start() <= range.end());
        if !valid {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid passive port range {range:?}")));
        }
        // Start at a random offset so that servers sharing a range rarely probe the same ports.
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish() as u32;
        Ok(Ports { range, next: AtomicU32::new(seed) })
    }

    pub fn range(&self) -> RangeInclusive<u16> {
        self.range.clone()
    }

    /// A listening socket on `ip` with a port of the range.
    fn listen(&self, ip: IpAddr) -> io::Result<TcpListener> {
        let (start, end) = (u32::from(*self.range.start()), u32::from(*self.range.end()));
        if start == 0 {
            return TcpListener::bind((ip, 0));
        }
        let len = end - start + 1;
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..len {
            let port = start + first.wrapping_add(i) % len;
            // std sets SO_REUSEADDR on Unix, so ports in TIME_WAIT from earlier transfers stay usable.
            match TcpListener::bind((ip, port as u16)) {
                Ok(listener) => return Ok(listener),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, format!("all passive ports {start}-{end} are in use")))
    }
}

/// Gives libunftp sessions already-listening sockets from [`Ports`].
#[derive(Debug)]
pub struct Binder(pub Arc<Ports>);

#[async_trait::async_trait]
impl libunftp::options::Binder for Binder {
    async fn bind(&mut self, ip: IpAddr, _range: RangeInclusive<u16>) -> io::Result<TcpSocket> {
        let listener = self.0.listen(ip)?;
        listener.set_nonblocking(true)?;
        Ok(into_socket(listener))
    }
}

/// Re-types a listening socket as the `TcpSocket` the `Binder` trait returns (same descriptor).
fn into_socket(listener: TcpListener) -> TcpSocket {
    #[cfg(unix)]
    let stream = std::net::TcpStream::from(std::os::fd::OwnedFd::from(listener));
    #[cfg(windows)]
    let stream = std::net::TcpStream::from(std::os::windows::io::OwnedSocket::from(listener));
    TcpSocket::from_std_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_validated() {
        assert!(Ports::new(0..=0).is_ok());
        assert!(Ports::new(30000..=30000).is_ok());
        assert!(Ports::new(0..=10).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 20..=10;
        assert!(Ports::new(reversed).is_err());
    }

    #[test]
    fn a_range_hands_out_distinct_ports_until_full() {
        // Find a free 3-port window by asking the kernel, then use it.
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = probe.local_addr().unwrap().port();
        drop(probe);
        let Some(end) = base.checked_add(2) else { return };
        let ports = Ports::new(base..=end).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let held: Vec<TcpListener> = (0..3).filter_map(|_| ports.listen(ip).ok()).collect();
        let mut got: Vec<u16> = held.iter().map(|l| l.local_addr().unwrap().port()).collect();
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), held.len(), "a port was handed out twice");
        if held.len() == 3 {
            assert!(ports.listen(ip).is_err(), "a full range must fail");
        }
    }
}
