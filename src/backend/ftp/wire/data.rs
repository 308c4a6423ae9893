//! Data connections and the transfers that use them.
//!
//! A transfer is announced (`EPSV`, `PASV`, or `EPRT`/`PORT` in active mode) and its command
//! sent in the same write; the data connection opens as soon as the server says where. A
//! download or listing then waits for the server's `150` (it comes as the data starts), an
//! upload over plain passive FTP does not: its first 64 KiB go out at once, so a small file
//! costs no extra round trip, and only a larger one waits for the `150` before sending more.
//! TLS data connections resume the control connection's session (same client
//! configuration); their handshake starts as soon as they are open, without waiting for the
//! `150` (some servers send it only once the handshake is done). Replies are returned, not
//! judged: the session decides what they mean.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use super::control::Control;
use super::reply::Reply;
use super::stream::{self, Stream};

/// Bytes an upload sends before it waits for the server's `150`.
const EARLY_BYTES: u64 = 64 * 1024;

/// How data connections are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `EPSV` (RFC 2428).
    Extended,
    /// `PASV`, for servers without `EPSV`.
    Passive,
    /// `EPRT`/`PORT`: the server connects to us (`--ftp-active`).
    Active,
}

/// Which way the data flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Download,
    Upload,
}

/// What every data connection of a session needs.
#[derive(Clone)]
pub struct DataSettings {
    /// The control connection's TLS configuration and server name (`PROT P`).
    pub tls: Option<(Arc<ClientConfig>, String)>,
    pub timeout: Duration,
}

/// Why a transfer did not happen.
#[derive(Debug)]
pub enum Failure {
    /// The connection failed: the session is no longer usable.
    Io(io::Error),
    /// The server refused the data connection's announcement (`EPSV` not understood...).
    Announce(Reply),
    /// The server refused the transfer command, or ended the transfer with an error.
    Refused(Reply),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Where the server waits for our data connection: the port of an `EPSV` reply, or the
/// address of a `PASV` reply with the IP replaced by the control connection's (servers behind
/// NAT announce an address nobody can reach).
pub fn passive_addr(reply: &Reply, extended: bool, peer: IpAddr) -> Option<SocketAddr> {
    let text = reply.message();
    let inner = &text[text.find('(')? + 1..text.rfind(')')?];
    let port = if extended {
        let d = inner.chars().next()?;
        inner.split(d).nth(3)?.parse().ok()?
    } else {
        let nums: Vec<u16> = inner.split(',').map(|n| n.trim().parse().ok()).collect::<Option<_>>()?;
        if nums.len() != 6 || nums.iter().any(|&n| n > 255) {
            return None;
        }
        (nums[4] << 8) | nums[5]
    };
    (port != 0).then_some(SocketAddr::new(peer, port))
}

fn port_command(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => {
            let o = a.ip().octets();
            format!("PORT {},{},{},{},{},{}", o[0], o[1], o[2], o[3], a.port() >> 8, a.port() & 0xff)
        }
        SocketAddr::V6(a) => format!("EPRT |2|{}|{}|", a.ip(), a.port()),
    }
}

/// Waits (bounded) for the server's data connection in active mode, unless `cancel` is set.
fn accept_within(listener: &TcpListener, timeout: Duration, cancel: &AtomicBool) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        if cancel.load(Ordering::SeqCst) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "the data connection was given up"));
        }
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false)?;
                stream::configure(&tcp, timeout)?;
                return Ok(tcp);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "the server did not open the data connection"));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A data connection on its way to being usable.
enum Opening {
    Plain(Stream),
    Securing(Securing),
}

impl Opening {
    fn finish(self) -> io::Result<Stream> {
        match self {
            Opening::Plain(stream) => Ok(stream),
            Opening::Securing(securing) => securing.finish(),
        }
    }

    /// Gives the connection up (the transfer was refused or the control connection failed).
    fn abandon(self) {
        if let Opening::Securing(securing) = self {
            securing.cancel.store(true, Ordering::SeqCst);
            if let Some(socket) = securing.socket.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
            let _ = securing.finish();
        }
    }
}

/// A data connection's TLS handshake, running on a thread of its own while the control
/// connection waits for the server's reply (bounded by the socket's timeout); in active mode
/// the thread first accepts the server's connection.
struct Securing {
    /// Set to end it: an accept still waiting gives up.
    cancel: Arc<AtomicBool>,
    /// The same socket, once there, to end a handshake the server will never answer.
    socket: Arc<Mutex<Option<TcpStream>>>,
    handshake: JoinHandle<io::Result<Stream>>,
}

impl Securing {
    /// Secures a connection made to the server (passive modes).
    fn start(tcp: TcpStream, config: Arc<ClientConfig>, host: String) -> io::Result<Securing> {
        let socket = Arc::new(Mutex::new(Some(tcp.try_clone()?)));
        let cancel = Arc::new(AtomicBool::new(false));
        let handshake = std::thread::Builder::new()
            .name("ftp-data-tls".into())
            .spawn(move || Stream::Plain(tcp).secure(config, &host))?;
        Ok(Securing { cancel, socket, handshake })
    }

    /// Accepts the server's connection and secures it (active mode): a server may connect
    /// before its `150` and wait for the handshake before sending it.
    fn accept(
        listener: TcpListener,
        timeout: Duration,
        config: Arc<ClientConfig>,
        host: String,
    ) -> io::Result<Securing> {
        let (cancel, socket) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(None)));
        let (cancelled, accepted) = (cancel.clone(), socket.clone());
        let handshake = std::thread::Builder::new().name("ftp-data-tls".into()).spawn(move || {
            let tcp = accept_within(&listener, timeout, &cancelled)?;
            *accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(tcp.try_clone()?);
            // Given up while the socket was being stored: `abandon` may not have seen it.
            if cancelled.load(Ordering::SeqCst) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "the data connection was given up"));
            }
            Stream::Plain(tcp).secure(config, &host)
        })?;
        Ok(Securing { cancel, socket, handshake })
    }

    fn finish(self) -> io::Result<Stream> {
        self.handshake
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the data connection's TLS handshake failed unexpectedly")))
    }
}

/// A transfer in progress: read from it (downloads, listings) or write to it (uploads), then
/// [`Transfer::finish`].
pub struct Transfer<'c> {
    ctl: &'c mut Control,
    data: Stream,
    /// The `150` (or `125`) was read.
    started: bool,
    /// The final reply, when it came early: a refusal read while writing, or a server that
    /// skipped the `150` of a transfer it had already completed.
    last: Option<Reply>,
    written: u64,
    /// A TLS data connection the server closed without `close_notify` ends there (many
    /// servers do that); the final reply tells whether the transfer was complete.
    lenient_eof: bool,
    /// A read found the end of the data: the server has sent all of it.
    ended: bool,
    /// The socket's timeout: a write that sends only part of its bytes in that long means
    /// the server stopped reading (the socket's own timeout fails a write only when not a
    /// byte went out, so a nearly stopped upload could last a timeout per write).
    write_limit: Option<Duration>,
}

/// An open data connection, before it is tied to its control connection as a [`Transfer`].
pub struct Opened {
    data: Stream,
    started: bool,
    last: Option<Reply>,
}

/// A data connection opened ahead of its transfer command (see [`Transfer::open_announced`]).
pub enum Early {
    /// Connected (or failed to).
    Open(io::Result<std::net::TcpStream>),
    /// Still connecting on a thread of its own.
    Opening(std::thread::JoinHandle<io::Result<std::net::TcpStream>>),
}

impl Early {
    /// The connection, waiting for it if it is still being opened; `None` where its thread
    /// died (the transfer then connects by itself).
    fn resolve(self) -> Option<io::Result<std::net::TcpStream>> {
        match self {
            Early::Open(r) => Some(r),
            Early::Opening(h) => h.join().ok(),
        }
    }
}

impl<'c> Transfer<'c> {
    pub fn new(ctl: &'c mut Control, opened: Opened) -> Transfer<'c> {
        let lenient_eof = opened.data.is_tls();
        let write_limit = opened.data.tcp().write_timeout().ok().flatten();
        Transfer {
            ctl,
            data: opened.data,
            started: opened.started,
            last: opened.last,
            written: 0,
            lenient_eof,
            ended: false,
            write_limit,
        }
    }

    /// Queues the command that announces a data connection in `mode` (`EPSV`, `PASV`, or
    /// `PORT`/`EPRT` with the listener the server is to connect to, returned).
    fn announce(ctl: &mut Control, mode: Mode) -> Result<Option<TcpListener>, Failure> {
        match mode {
            Mode::Extended => ctl.send("EPSV"),
            Mode::Passive => ctl.send("PASV"),
            Mode::Active => {
                let local = ctl.stream().tcp().local_addr()?;
                let listener = TcpListener::bind(SocketAddr::new(local.ip(), 0))?;
                ctl.send(&port_command(listener.local_addr()?));
                return Ok(Some(listener));
            }
        }
        Ok(None)
    }

    /// Announces a data connection, sends `cmd` and opens the connection.
    pub fn open(
        ctl: &mut Control,
        cmd: &str,
        dir: Direction,
        mode: Mode,
        settings: &DataSettings,
    ) -> Result<Opened, Failure> {
        let listener = Self::announce(ctl, mode)?;
        if !ctl.pipelining() {
            ctl.flush()?;
            let announced = ctl.reply()?;
            if !announced.is_ok() {
                return Err(Failure::Announce(announced));
            }
            ctl.send(cmd);
            ctl.flush()?;
            return Self::connect(ctl, announced, dir, mode, listener, None, settings);
        }
        ctl.send(cmd);
        let announced = ctl.reply()?;
        Self::connect(ctl, announced, dir, mode, listener, None, settings)
    }

    /// Sends `cmd` for a passive data connection announced earlier (see
    /// `Session::announce_next`) and opens it: the announcement's round trip is saved.
    /// `early` is the data connection, when it was opened (or is being opened) while other
    /// commands ran; one still being opened is waited for only once `cmd` is on its way, so
    /// that the connection's handshake and the command travel at the same time.
    pub fn open_announced(
        ctl: &mut Control,
        cmd: &str,
        dir: Direction,
        announced: Reply,
        early: Option<Early>,
        settings: &DataSettings,
    ) -> Result<Opened, Failure> {
        ctl.send(cmd);
        Self::open_sent(ctl, dir, announced, early, settings)
    }

    /// Opens the data connection of a command sent already, behind a batch of others in the
    /// same write (`Session::read_behind`), over the connection `announced` before it.
    pub fn open_sent(
        ctl: &mut Control,
        dir: Direction,
        announced: Reply,
        early: Option<Early>,
        settings: &DataSettings,
    ) -> Result<Opened, Failure> {
        ctl.flush()?;
        let early = early.and_then(Early::resolve);
        Self::connect(ctl, announced, dir, Mode::Extended, None, early, settings)
    }

    /// [`Transfer::open`] one step at a time: announces the data connection, waits for the
    /// answer, opens the connection (passive modes), and only then sends `cmd`. For servers
    /// that fail a transfer whose command came in the same write as its announcement
    /// (Twisted answers such an upload `426`: the command is taken while the data connection
    /// is still being set up).
    pub fn open_unpipelined(
        ctl: &mut Control,
        cmd: &str,
        dir: Direction,
        mode: Mode,
        settings: &DataSettings,
    ) -> Result<Opened, Failure> {
        let listener = Self::announce(ctl, mode)?;
        ctl.flush()?;
        let announced = ctl.reply()?;
        if !announced.is_ok() {
            return Err(Failure::Announce(announced));
        }
        let early = match mode {
            Mode::Active => None,
            _ => {
                let peer = ctl.stream().tcp().peer_addr()?.ip();
                let Some(addr) = passive_addr(&announced, mode == Mode::Extended, peer) else {
                    return Err(Failure::Announce(announced));
                };
                Some(Ok(stream::connect(addr, settings.timeout)?))
            }
        };
        ctl.send(cmd);
        ctl.flush()?;
        Self::connect(ctl, announced, dir, mode, listener, early, settings)
    }

    /// Opens the data connection announced by `announced`; the transfer command is sent.
    fn connect(
        ctl: &mut Control,
        announced: Reply,
        dir: Direction,
        mode: Mode,
        listener: Option<TcpListener>,
        early: Option<io::Result<std::net::TcpStream>>,
        settings: &DataSettings,
    ) -> Result<Opened, Failure> {
        let timeout = settings.timeout;
        let peer = ctl.stream().tcp().peer_addr()?.ip();
        let addr = match mode {
            Mode::Active => None,
            _ => passive_addr(&announced, mode == Mode::Extended, peer),
        };
        if !announced.is_ok() || (mode != Mode::Active && addr.is_none()) {
            // The transfer command is answered too (425 "use PORT or PASV first"...).
            ctl.final_reply()?;
            return Err(Failure::Announce(announced));
        }
        let mut started = false;
        // A connection (`Ok`), or in active mode with TLS, its accepting already under way.
        let tcp: Result<TcpStream, Securing> = match (addr, listener) {
            (Some(addr), _) => match early.unwrap_or_else(|| stream::connect(addr, timeout)) {
                Ok(tcp) => Ok(tcp),
                Err(e) => {
                    // A server that refused the command may have closed its port already:
                    // its reply says why.
                    let reply = ctl.reply()?;
                    return Err(if reply.is_preliminary() { Failure::Io(e) } else { Failure::Refused(reply) });
                }
            },
            (None, Some(listener)) if settings.tls.is_some() => {
                // Accepted and secured while the reply is awaited (see below).
                let (config, host) = settings.tls.clone().expect("checked");
                Err(Securing::accept(listener, timeout, config, host)?)
            }
            (None, Some(listener)) => {
                // The server connects once it accepts the command: learn which first.
                let reply = ctl.reply()?;
                if !reply.is_preliminary() {
                    return Err(Failure::Refused(reply));
                }
                started = true;
                Ok(accept_within(&listener, timeout, &AtomicBool::new(false))?)
            }
            (None, None) => unreachable!("a passive mode without an address was refused above"),
        };
        // The TLS handshake starts at once, while the reply is awaited: some servers (npm's
        // ftp-srv) send the `150` only once the handshake is done, others only start it after
        // their `150` (the client's first message waits in the socket meanwhile).
        let opening = match (tcp, &settings.tls) {
            (Ok(tcp), Some((config, host))) => Opening::Securing(Securing::start(tcp, config.clone(), host.clone())?),
            (Ok(tcp), None) => Opening::Plain(Stream::Plain(tcp)),
            (Err(accepting), _) => Opening::Securing(accepting),
        };
        let mut last = None;
        if !started && (dir == Direction::Download || settings.tls.is_some()) {
            let reply = match ctl.reply() {
                Ok(reply) => reply,
                Err(e) => {
                    opening.abandon();
                    return Err(Failure::Io(e));
                }
            };
            match reply {
                r if r.is_preliminary() => started = true,
                // Some servers skip the 150 of an empty transfer they completed at once.
                r if r.is_ok() && dir == Direction::Download && settings.tls.is_none() => last = Some(r),
                r => {
                    // Refused: the server will not answer the handshake either.
                    opening.abandon();
                    return Err(Failure::Refused(r));
                }
            }
        }
        let data = opening.finish()?;
        Ok(Opened { data, started, last })
    }

    /// Reads the `150` if it has not come yet; a final reply instead is kept in `last`.
    fn await_start(&mut self) -> io::Result<()> {
        if !self.started && self.last.is_none() {
            let reply = self.ctl.reply()?;
            if reply.is_preliminary() {
                self.started = true;
            } else {
                self.last = Some(reply);
            }
        }
        Ok(())
    }

    /// Ends the transfer: closes the data connection, then sends `then` and reads every
    /// reply. `then` is pipelined behind the transfer (sent before its final reply is read)
    /// when `pipelined` and the server has sent all its data (a download read to its end: the
    /// server is done with the transfer, and reads the commands after it); otherwise it is
    /// sent once the final reply has come, if that is positive. Returns the transfer's final
    /// reply (whatever its code) and the replies to `then`.
    pub fn finish(mut self, then: &[String], pipelined: bool) -> Result<(Reply, Vec<Reply>), Failure> {
        let pipelined = pipelined && self.ctl.pipelining() && (then.is_empty() || self.ended);
        self.data.close()?;
        if pipelined {
            for cmd in then {
                self.ctl.send(cmd);
            }
        }
        self.await_start()?;
        let last = match self.last.take() {
            Some(reply) => reply,
            None => self.ctl.final_reply()?,
        };
        let replies = if pipelined {
            then.iter().map(|_| self.ctl.final_reply()).collect::<io::Result<Vec<_>>>()?
        } else if last.is_ok() {
            self.ctl.batch(then)?
        } else {
            Vec::new()
        };
        Ok((last, replies))
    }
}

impl Read for Transfer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match self.data.read(buf) {
            Err(e) if self.lenient_eof && e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        };
        if matches!(read, Ok(0)) && !buf.is_empty() {
            self.ended = true;
        }
        read
    }
}

impl Write for Transfer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.started && self.written + buf.len() as u64 > EARLY_BYTES {
            self.await_start()?;
        }
        if let Some(r) = &self.last {
            // Refused (or ended) before we were done: `finish` reports the reply.
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, format!("the server answered {}", r.text())));
        }
        let started = Instant::now();
        let n = self.data.write(buf)?;
        self.written += n as u64;
        if n < buf.len() && self.write_limit.is_some_and(|limit| started.elapsed() >= limit) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the server stopped reading the data"));
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.data.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Reply {
        Reply { code: text[..3].parse().unwrap(), lines: vec![text.as_bytes().to_vec()] }
    }

    #[test]
    fn passive_replies() {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let epsv = reply("229 Entering Extended Passive Mode (|||50123|)");
        assert_eq!(passive_addr(&epsv, true, peer), Some("10.0.0.1:50123".parse().unwrap()));
        let pasv = reply("227 Entering Passive Mode (192,168,1,2,195,80).");
        assert_eq!(passive_addr(&pasv, false, peer), Some("10.0.0.1:50000".parse().unwrap()));
        assert_eq!(passive_addr(&reply("227 (1,2,3)"), false, peer), None);
        assert_eq!(passive_addr(&reply("227 (1,2,3,4,999,1)"), false, peer), None);
        assert_eq!(passive_addr(&reply("229 no parenthesis"), true, peer), None);
        assert_eq!(port_command("127.0.0.1:258".parse().unwrap()), "PORT 127,0,0,1,1,2");
    }
}
