//! A small explicit-FTPS server (rustls, a fresh rcgen certificate) for the TLS steps of a
//! session, serving one folder `/` with one file (`MLSD`, `RETR`; passive `EPSV` or active
//! `PORT`). Its data connections either
//! never answer the client's TLS handshake ([`DataTls::Silent`]: a stall), or, like npm's
//! ftp-srv, are accepted and secured first, and only then is the transfer's `150` sent
//! ([`DataTls::HandshakeFirst`]; a client that waits for the `150` before its handshake gets
//! `425 No connection established` after [`HANDSHAKE_WAIT`], as from ftp-srv).
//!
//! Every socket has a timeout; every thread ends when the server is dropped or its peer goes
//! away; the port is chosen by the kernel.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::sockets;

/// How long a socket of the server waits for its peer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a [`DataTls::HandshakeFirst`] server waits for a secured data connection.
pub const HANDSHAKE_WAIT: Duration = Duration::from_secs(5);

/// The one file served, as `/a.txt`.
pub const CONTENT: &[u8] = b"served over a data connection secured first\n";

/// What the server's data connections do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataTls {
    /// Accepted, then not a word: the client's TLS handshake waits.
    Silent,
    /// Accepted and secured before the transfer's `150` is sent.
    HandshakeFirst,
}

pub struct FakeFtps {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

fn config() -> Arc<ServerConfig> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .unwrap();
    Arc::new(config)
}

impl FakeFtps {
    pub fn start(mode: DataTls) -> FakeFtps {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, log) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let config = config();
        let (stopping, logging) = (stop.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((socket, _)) => {
                        let (config, log) = (config.clone(), logging.clone());
                        std::thread::spawn(move || {
                            let _ = serve(socket, config, mode, &log);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeFtps { addr, stop, log, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("ftps://{}/", self.addr)
    }

    /// Every command received (after `AUTH TLS`), as `VERB argument`.
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeFtps {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one line from a plain connection byte by byte (nothing beyond it is consumed: the
/// client's TLS handshake follows `AUTH TLS`).
fn plain_line(socket: &mut TcpStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        if socket.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// Waits (bounded) for the client's data connection.
fn accept_within(listener: &TcpListener, wait: Duration) -> std::io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + wait;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                sockets::timeouts(&s, IO_TIMEOUT)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where a data connection comes from: the client connects (passive), or we connect to it
/// (active mode, `PORT`).
enum DataFrom {
    Passive(TcpListener),
    Active(SocketAddr),
}

/// The address of a `PORT h1,h2,h3,h4,p1,p2` argument.
fn port_addr(arg: &str) -> Option<SocketAddr> {
    let n: Vec<u8> = arg.split(',').map(|x| x.trim().parse().ok()).collect::<Option<_>>()?;
    (n.len() == 6).then(|| SocketAddr::from(([n[0], n[1], n[2], n[3]], u16::from(n[4]) << 8 | u16::from(n[5]))))
}

/// Opens the data connection (accepting it, or connecting in active mode) and runs the server
/// side of its TLS handshake, within `wait`.
fn secured_data(
    from: &DataFrom,
    config: Arc<ServerConfig>,
    wait: Duration,
) -> std::io::Result<StreamOwned<ServerConnection, TcpStream>> {
    let deadline = Instant::now() + wait;
    let mut tcp = match from {
        DataFrom::Passive(listener) => accept_within(listener, wait)?,
        DataFrom::Active(addr) => {
            let tcp = TcpStream::connect_timeout(addr, wait)?;
            sockets::timeouts(&tcp, IO_TIMEOUT)?;
            tcp
        }
    };
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    tcp.set_read_timeout(Some(left))?;
    let mut conn = ServerConnection::new(config).map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    sockets::timeouts(&tcp, IO_TIMEOUT)?;
    Ok(StreamOwned::new(conn, tcp))
}

/// Holds a connection open without a word until the client goes away.
fn hold(stream: &mut impl Read) {
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

fn serve(
    mut socket: TcpStream,
    config: Arc<ServerConfig>,
    mode: DataTls,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    sockets::timeouts(&socket, IO_TIMEOUT)?;
    socket.write_all(b"220 fake FTPS server ready\r\n")?;
    loop {
        let line = plain_line(&mut socket)?;
        if line.eq_ignore_ascii_case("AUTH TLS") {
            socket.write_all(b"234 go ahead\r\n")?;
            break;
        }
        socket.write_all(b"530 AUTH TLS first\r\n")?;
    }
    let mut control =
        BufReader::new(StreamOwned::new(ServerConnection::new(config.clone()).map_err(std::io::Error::other)?, socket));
    let mut passive: Option<DataFrom> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if control.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let text = line.trim_end().to_string();
        let (verb, arg) = text
            .split_once(' ')
            .map(|(v, a)| (v.to_ascii_uppercase(), a.to_string()))
            .unwrap_or((text.to_ascii_uppercase(), String::new()));
        log.lock().unwrap().push(if arg.is_empty() { verb.clone() } else { format!("{verb} {arg}") });
        let mut reply = |text: &str| -> std::io::Result<()> {
            let out = control.get_mut();
            out.write_all(format!("{text}\r\n").as_bytes())?;
            out.flush()
        };
        match verb.as_str() {
            "USER" => reply("331 password please")?,
            "PASS" => reply("230 logged in")?,
            "PBSZ" => reply("200 PBSZ=0")?,
            "PROT" | "TYPE" | "OPTS" | "NOOP" => reply("200 ok")?,
            "FEAT" => reply("211-Features:\r\n MLST type*;size*;modify*;\r\n SIZE\r\n EPSV\r\n UTF8\r\n211 End")?,
            "PWD" => reply("257 \"/\" is the current folder")?,
            "CWD" => reply(if arg == "/" { "250 ok" } else { "550 no such folder" })?,
            "EPSV" => {
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let port = listener.local_addr()?.port();
                passive = Some(DataFrom::Passive(listener));
                reply(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?
            }
            "PORT" => match port_addr(&arg) {
                Some(addr) => {
                    passive = Some(DataFrom::Active(addr));
                    reply("200 PORT ok")?
                }
                None => reply("501 bad PORT")?,
            },
            "MLSD" | "RETR" => {
                let payload = match (verb.as_str(), arg.as_str()) {
                    ("MLSD", "/") => {
                        format!("type=file;size={};modify=20230102030405; a.txt\r\n", CONTENT.len()).into_bytes()
                    }
                    ("RETR", "/a.txt") => CONTENT.to_vec(),
                    _ => {
                        reply("550 no such file or folder")?;
                        continue;
                    }
                };
                let Some(from) = passive.take() else {
                    reply("425 use EPSV first")?;
                    continue;
                };
                match mode {
                    DataTls::Silent => {
                        reply("150 here it comes")?;
                        let _data = match &from {
                            DataFrom::Passive(listener) => accept_within(listener, IO_TIMEOUT)?,
                            DataFrom::Active(addr) => TcpStream::connect_timeout(addr, IO_TIMEOUT)?,
                        };
                        hold(&mut control);
                        return Ok(());
                    }
                    DataTls::HandshakeFirst => match secured_data(&from, config.clone(), HANDSHAKE_WAIT) {
                        Ok(mut data) => {
                            reply("150 here it comes")?;
                            data.write_all(&payload)?;
                            data.conn.send_close_notify();
                            data.flush()?;
                            drop(data);
                            reply("226 done")?
                        }
                        Err(_) => reply("425 No connection established")?,
                    },
                }
            }
            "QUIT" => {
                reply("221 bye")?;
                return Ok(());
            }
            _ => reply("502 not implemented")?,
        }
    }
}
