//! A loopback TCP proxy in front of an FTP server that can cut a transfer midway.
//!
//! Control connections are relayed line by line; each `229` (EPSV) reply is rewritten to a
//! port of the proxy, so data connections pass through it too. Once armed ([`CutProxy::cut`]),
//! the next data connections that carry more than a given number of bytes (either way) are
//! cut right there: the proxy forwards exactly that many bytes, then resets either the data
//! connection or its control connection on both sides (RST, as a network failure does), so
//! neither peer sees a clean end of the transfer.
//!
//! Every socket has a timeout; threads end when their connections do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Which connection a cut resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// The data connection of the transfer.
    Data,
    /// The control connection the transfer belongs to (the data connection is left alone).
    Control,
}

struct Shared {
    upstream: SocketAddr,
    /// Bytes after which an armed cut happens (`u64::MAX`: never).
    after: AtomicU64,
    /// Cuts still to make.
    left: AtomicUsize,
    /// Cuts made.
    made: AtomicUsize,
    what: Mutex<Cut>,
    stop: AtomicBool,
}

impl Shared {
    /// Takes one armed cut, if any is left.
    fn take_cut(&self) -> bool {
        self.left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}

/// A running proxy; stops accepting when dropped.
pub struct CutProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl CutProxy {
    /// A proxy for the FTP server at `upstream`, passing everything through.
    pub fn start(upstream: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            after: AtomicU64::new(u64::MAX),
            left: AtomicUsize::new(0),
            made: AtomicUsize::new(0),
            what: Mutex::new(Cut::Data),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        let thread = std::thread::spawn(move || {
            while !accepting.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let session = accepting.clone();
                        std::thread::spawn(move || control(client, session));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CutProxy { addr, shared, thread: Some(thread) }
    }

    /// `ftp://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("ftp://{}/", self.addr)
    }

    /// Cuts the next `times` transfers that pass `after` bytes (resetting `what`).
    pub fn cut(&self, what: Cut, after: u64, times: usize) {
        *self.shared.what.lock().unwrap() = what;
        self.shared.after.store(after, Ordering::SeqCst);
        self.shared.left.store(times, Ordering::SeqCst);
    }

    /// No more cuts.
    pub fn disarm(&self) {
        self.shared.left.store(0, Ordering::SeqCst);
    }

    /// How many cuts were made so far.
    pub fn cuts_made(&self) -> usize {
        self.shared.made.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn timeouts(s: &TcpStream) -> std::io::Result<()> {
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)
}

/// The two sockets of one relayed connection (the proxy's ends), and whether it was cut.
struct Pair {
    sockets: Mutex<Option<(TcpStream, TcpStream)>>,
    cut: AtomicBool,
}

impl Pair {
    fn new(client: TcpStream, server: TcpStream) -> Arc<Pair> {
        Arc::new(Pair { sockets: Mutex::new(Some((client, server))), cut: AtomicBool::new(false) })
    }

    /// Handles of (client, server) for a pump.
    fn clones(&self) -> Option<(TcpStream, TcpStream)> {
        let guard = self.sockets.lock().unwrap();
        let (c, s) = guard.as_ref()?;
        Some((c.try_clone().ok()?, s.try_clone().ok()?))
    }

    /// Resets both sides as a network failure would: no FIN, RST once the last handle is
    /// closed. Shutting down the reading side sends nothing but ends the pumps' blocked reads;
    /// they see `cut`, pass no end on, and drop their handles.
    fn reset(&self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Some((c, s)) = self.sockets.lock().unwrap().take() {
            for socket in [&c, &s] {
                let _ = socket2::SockRef::from(socket).set_linger(Some(Duration::ZERO));
                let _ = socket.shutdown(Shutdown::Read);
            }
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` through `gate`, which writes a chunk (or part of it, then cuts) and
/// says whether to go on; passes an end on as FIN unless the pair was cut.
fn pump(mut from: TcpStream, mut to: TcpStream, pair: &Pair, mut gate: impl FnMut(&[u8], &mut dyn FnMut(&[u8]) -> bool) -> bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if pair.is_cut() {
            return;
        }
        let mut write = |bytes: &[u8]| to.write_all(bytes).is_ok();
        if !gate(&buf[..n], &mut write) {
            break;
        }
    }
    if !pair.is_cut() {
        let _ = to.shutdown(Shutdown::Write);
    }
}

/// A gate that lets everything through.
fn open_gate(chunk: &[u8], write: &mut dyn FnMut(&[u8]) -> bool) -> bool {
    write(chunk)
}

/// Relays one control connection, rewriting EPSV replies to data relays of its own.
fn control(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect_timeout(&shared.upstream, IO_TIMEOUT) else { return };
    if timeouts(&client).and(timeouts(&server)).is_err() {
        return;
    }
    let pair = Pair::new(client, server);
    let Some((c, s)) = pair.clones() else { return };
    let upward = {
        let pair = pair.clone();
        std::thread::spawn(move || pump(c, s, &pair, open_gate))
    };
    let Some((mut to, from)) = pair.clones() else { return };
    let mut from = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if pair.is_cut() {
            break;
        }
        if let Some(port) = epsv_port(&line) {
            let Ok(listener) = TcpListener::bind("127.0.0.1:0") else { break };
            let Ok(local) = listener.local_addr() else { break };
            let text = String::from_utf8_lossy(&line).replace(&format!("(|||{port}|)"), &format!("(|||{}|)", local.port()));
            line = text.into_bytes();
            let (shared, pair) = (shared.clone(), pair.clone());
            let upstream = SocketAddr::new(shared.upstream.ip(), port);
            std::thread::spawn(move || data(listener, upstream, &shared, &pair));
        }
        if to.write_all(&line).is_err() {
            break;
        }
    }
    if !pair.is_cut() {
        let _ = to.shutdown(Shutdown::Write);
    }
    drop((to, from));
    let _ = upward.join();
}

/// The port of a `229 Entering Extended Passive Mode (|||PORT|)` reply.
fn epsv_port(line: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(line).ok()?;
    if !text.starts_with("229 ") {
        return None;
    }
    let start = text.find("(|||")? + 4;
    let end = start + text[start..].find("|)")?;
    text[start..end].parse().ok()
}

/// Relays one data connection, cutting it (or its control connection) when armed.
fn data(listener: TcpListener, upstream: SocketAddr, shared: &Arc<Shared>, control: &Arc<Pair>) {
    let Some(client) = accept(&listener) else { return };
    let Ok(server) = TcpStream::connect_timeout(&upstream, IO_TIMEOUT) else { return };
    if timeouts(&client).and(timeouts(&server)).is_err() {
        return;
    }
    let pair = Pair::new(client, server);
    // Bytes passed in both directions together (only one carries a transfer).
    let total = Arc::new(AtomicU64::new(0));
    let gate = || {
        let (shared, control, pair, total) = (shared.clone(), control.clone(), pair.clone(), total.clone());
        move |chunk: &[u8], write: &mut dyn FnMut(&[u8]) -> bool| -> bool {
            let before = total.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            let after = shared.after.load(Ordering::SeqCst);
            if before + chunk.len() as u64 <= after || !shared.take_cut() {
                return write(chunk);
            }
            // Exactly `after` bytes pass, then the cut.
            let keep = after.saturating_sub(before) as usize;
            write(&chunk[..keep]);
            shared.made.fetch_add(1, Ordering::SeqCst);
            match *shared.what.lock().unwrap() {
                Cut::Data => pair.reset(),
                Cut::Control => control.reset(),
            }
            false
        }
    };
    let Some((c, s)) = pair.clones() else { return };
    let down = {
        let (gate, pair) = (gate(), pair.clone());
        std::thread::spawn(move || pump(s, c, &pair, gate))
    };
    if let Some((c, s)) = pair.clones() {
        pump(c, s, &pair, gate());
    }
    let _ = down.join();
}

fn accept(listener: &TcpListener) -> Option<TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                return Some(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(_) => return None,
        }
    }
}
