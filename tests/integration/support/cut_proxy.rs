//! A loopback TCP proxy in front of an FTP server that can cut, stall or slow a session.
//!
//! Control connections are relayed line by line; each `229` (EPSV) reply is rewritten to a
//! port of the proxy, so data connections pass through it too. Two kinds of faults:
//!
//! - [`CutProxy::cut`]: the next data connections that carry more than a given number of bytes
//!   (either way) are cut right there: the proxy forwards exactly that many bytes, then resets
//!   either the data connection or its control connection on both sides (RST, as a network
//!   failure does), so neither peer sees a clean end of the transfer.
//! - [`CutProxy::arm`]: one [`Fault`] at a byte offset counted over *all* connections of one
//!   channel (control or data) since arming — the way to spread faults over a whole run: the
//!   connection carrying that byte is reset, its control connection is reset, it goes silent
//!   (a stall: nothing more passes either way, ends are still passed on), or that one chunk is
//!   held back for a while (a slow answer). See `cut_proxy/fault.rs`.
//!
//! [`CutProxy::forget_idle_data`] makes it behave like a NAT or firewall that forgets idle
//! connections: a data connection that carried nothing for a while goes silent for good.
//!
//! [`CutProxy::start_raw`] relays any other TCP protocol (SFTP: one connection per session)
//! as a byte stream both ways, every connection on the control channel: the armed faults work
//! the same, the FTP-only parts (EPSV rewriting, refusals, cuts of data connections) have
//! nothing to act on.
//!
//! Every socket has a timeout; threads end when their connections do.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod fault;
mod refusal;

pub use fault::{Action, Channel, Fault};
use fault::{Armed, Verdict};

use super::sockets;

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
    /// The fault of [`CutProxy::arm`].
    armed: Armed,
    stop: AtomicBool,
    /// See [`CutProxy::forget_idle_data`].
    forget_idle: Mutex<Option<Duration>>,
    /// See [`CutProxy::refuse`].
    refusals: refusal::Refusals,
    /// Not FTP: bytes relayed as they come both ways ([`CutProxy::start_raw`]).
    raw: bool,
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
        CutProxy::start_with(upstream, false)
    }

    /// A proxy for a server of another TCP protocol (no line structure: an SSH server).
    pub fn start_raw(upstream: SocketAddr) -> CutProxy {
        CutProxy::start_with(upstream, true)
    }

    fn start_with(upstream: SocketAddr, raw: bool) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            after: AtomicU64::new(u64::MAX),
            left: AtomicUsize::new(0),
            made: AtomicUsize::new(0),
            what: Mutex::new(Cut::Data),
            armed: Armed::default(),
            stop: AtomicBool::new(false),
            forget_idle: Mutex::new(None),
            refusals: Default::default(),
            raw,
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

    /// The proxy's address (for URLs of other protocols).
    pub fn addr(&self) -> SocketAddr {
        self.addr
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

    /// Arms one fault (or none) and restarts the byte counts of both channels.
    pub fn arm(&self, fault: Option<Fault>) {
        self.shared.armed.arm(fault);
    }

    /// Bytes that passed on the control and the data connections since [`CutProxy::arm`].
    pub fn bytes_since_armed(&self) -> (u64, u64) {
        self.shared.armed.counts()
    }

    /// From now on a data connection that carries nothing for `idle` is forgotten, as by a
    /// NAT or firewall between client and server: from then on nothing passes either way,
    /// not even its end (a connection opened ahead and left waiting dies like this).
    pub fn forget_idle_data(&self, idle: Duration) {
        *self.shared.forget_idle.lock().unwrap() = Some(idle);
    }

    /// Refuses the `nth` (counted from 1, over all sessions) command `verb` with `reply`, as a
    /// server does that cannot do it (`452`, `552`), without the server doing it; `None`
    /// refuses nothing. Restarts the counts of [`CutProxy::commands_seen`].
    pub fn refuse(&self, refusal: Option<(&str, usize, &str)>) {
        self.shared.refusals.arm(refusal);
    }

    /// Commands `verb` the clients sent since [`CutProxy::refuse`].
    pub fn commands_seen(&self, verb: &str) -> usize {
        self.shared.refusals.seen(verb)
    }

    /// How many refusals were given so far.
    pub fn refusals_given(&self) -> usize {
        self.shared.refusals.fired()
    }

    /// How many armed faults fired so far.
    pub fn faults_fired(&self) -> usize {
        self.shared.armed.fired()
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

/// The two sockets of one relayed connection (the proxy's ends), and whether it was cut.
struct Pair {
    sockets: Mutex<Option<(TcpStream, TcpStream)>>,
    cut: AtomicBool,
    /// Silent: data is dropped both ways (ends still pass).
    stalled: AtomicBool,
    /// Forgotten: data and ends are dropped both ways.
    forgotten: AtomicBool,
}

impl Pair {
    fn new(client: TcpStream, server: TcpStream) -> Arc<Pair> {
        // A relay passes each chunk on at once: without this, Nagle's algorithm holds small
        // writes back until the peer's delayed ACK (40 ms), several times per file.
        let _ = client.set_nodelay(true).and(server.set_nodelay(true));
        Arc::new(Pair {
            sockets: Mutex::new(Some((client, server))),
            cut: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            forgotten: AtomicBool::new(false),
        })
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

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::SeqCst) || self.forgotten.load(Ordering::SeqCst)
    }

    fn forget(&self) {
        self.forgotten.store(true, Ordering::SeqCst);
    }

    /// Whether an end may still be passed on.
    fn passes_ends(&self) -> bool {
        !self.is_cut() && !self.forgotten.load(Ordering::SeqCst)
    }
}

/// Passes a chunk of `channel` through the armed fault. `None`: the fault did not fire here
/// (the caller passes the chunk on its own way); `Some(go_on)`: the chunk was dealt with.
fn through_fault(
    shared: &Shared,
    channel: Channel,
    chunk: &[u8],
    write: &mut dyn FnMut(&[u8]) -> bool,
    this: &Pair,
    control: &Pair,
) -> Option<bool> {
    let Verdict::Fire { keep, action } = shared.armed.on_chunk(channel, chunk.len()) else { return None };
    let (head, tail) = chunk.split_at(keep);
    let wrote = write(head);
    Some(match action {
        Action::Reset => {
            this.reset();
            false
        }
        Action::ResetControl => {
            control.reset();
            false
        }
        Action::Stall => {
            this.stall();
            wrote
        }
        Action::Delay(pause) => {
            std::thread::sleep(pause);
            wrote && write(tail)
        }
    })
}

/// Copies `from` to `to` through `gate`, which writes a chunk (or part of it, then cuts) and
/// says whether to go on; passes an end on as FIN unless the pair was cut.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    pair: &Pair,
    mut gate: impl FnMut(&[u8], &mut dyn FnMut(&[u8]) -> bool) -> bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if pair.is_cut() {
            return;
        }
        if pair.is_stalled() {
            continue;
        }
        let mut write = |bytes: &[u8]| to.write_all(bytes).is_ok();
        if !gate(&buf[..n], &mut write) {
            break;
        }
    }
    if pair.passes_ends() {
        let _ = to.shutdown(Shutdown::Write);
    }
}

/// Relays one control connection, rewriting EPSV replies to data relays of its own.
fn control(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect_timeout(&shared.upstream, IO_TIMEOUT) else { return };
    if sockets::timeouts(&client, IO_TIMEOUT).and(sockets::timeouts(&server, IO_TIMEOUT)).is_err() {
        return;
    }
    let pair = Pair::new(client, server);
    let Some((c, s)) = pair.clones() else { return };
    let session = Arc::new(Mutex::new(refusal::Session::default()));
    let upward = {
        let (pair, shared, session) = (pair.clone(), shared.clone(), session.clone());
        std::thread::spawn(move || {
            let gate = |chunk: &[u8], write: &mut dyn FnMut(&[u8]) -> bool| {
                let chunk = if shared.raw { chunk.to_vec() } else { shared.refusals.upward(&session, chunk) };
                through_fault(&shared, Channel::Control, &chunk, write, &pair, &pair).unwrap_or_else(|| write(&chunk))
            };
            pump(c, s, &pair, gate)
        })
    };
    let Some((mut to, from)) = pair.clones() else { return };
    if shared.raw {
        let gate = |chunk: &[u8], write: &mut dyn FnMut(&[u8]) -> bool| {
            through_fault(&shared, Channel::Control, chunk, write, &pair, &pair).unwrap_or_else(|| write(chunk))
        };
        pump(from, to, &pair, gate);
        let _ = upward.join();
        return;
    }
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
        if pair.is_stalled() {
            continue;
        }
        line = shared.refusals.downward(&session, line);
        if let Some(port) = epsv_port(&line) {
            let Ok(listener) = TcpListener::bind("127.0.0.1:0") else { break };
            let Ok(local) = listener.local_addr() else { break };
            let text =
                String::from_utf8_lossy(&line).replace(&format!("(|||{port}|)"), &format!("(|||{}|)", local.port()));
            line = text.into_bytes();
            let (shared, pair) = (shared.clone(), pair.clone());
            let upstream = SocketAddr::new(shared.upstream.ip(), port);
            std::thread::spawn(move || data(listener, upstream, &shared, &pair));
        }
        let mut write = |bytes: &[u8]| to.write_all(bytes).is_ok();
        if !through_fault(&shared, Channel::Control, &line, &mut write, &pair, &pair).unwrap_or_else(|| write(&line)) {
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
    if sockets::timeouts(&client, IO_TIMEOUT).and(sockets::timeouts(&server, IO_TIMEOUT)).is_err() {
        return;
    }
    let pair = Pair::new(client, server);
    // Bytes passed in both directions together (only one carries a transfer).
    let total = Arc::new(AtomicU64::new(0));
    let last_chunk = Arc::new(Mutex::new(Instant::now()));
    let forget_idle = *shared.forget_idle.lock().unwrap();
    if let Some(idle) = forget_idle {
        let (pair, last_chunk) = (pair.clone(), last_chunk.clone());
        std::thread::spawn(move || {
            while pair.clones().is_some() && !pair.is_cut() {
                if last_chunk.lock().unwrap().elapsed() >= idle {
                    pair.forget();
                    return;
                }
                std::thread::sleep(idle / 8);
            }
        });
    }
    let gate = || {
        let (shared, control, pair, total, last_chunk) =
            (shared.clone(), control.clone(), pair.clone(), total.clone(), last_chunk.clone());
        move |chunk: &[u8], write: &mut dyn FnMut(&[u8]) -> bool| -> bool {
            *last_chunk.lock().unwrap() = Instant::now();
            if let Some(go_on) = through_fault(&shared, Channel::Data, chunk, write, &pair, &control) {
                return go_on;
            }
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
