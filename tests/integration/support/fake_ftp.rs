//! A small scripted FTP server for tests that need a server misbehaving on purpose: an
//! in-memory file tree served with MLSD (or, like vsftpd, only LIST: a missing folder then lists
//! as empty with `226`), listing lines injected verbatim into a folder's listing (hostile
//! names, broken facts), scripted listings of a folder (a payload or a refusal per reading, see
//! [`ListingReply`]), refused `MLSD` or `LIST` options, and servers that stop answering at a
//! chosen step. It speaks just enough FTP for `FtpTarget`: USER/PASS/TYPE/FEAT/OPTS/SYST/PWD/CWD/
//! EPSV/PASV/MLSD/LIST/MLST/SIZE/MDTM/RETR/STOR/APPE/DELE/RNFR/RNTO/MKD/RMD/NOOP/ABOR/QUIT.
//!
//! Every socket has a timeout and every thread ends when the server is dropped or its peer
//! goes away; ports are chosen by the kernel. The server logs each command it receives.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sockets;

/// How long a socket of the fake server waits for its peer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// `modify` of injected lines and of files without a time of their own: 2023-01-02 03:04:05.
pub const MODIFY: &str = "20230102030405";
pub const MODIFY_SECS: i64 = 1_672_628_645;

/// What the server announces and how it lists folders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `FEAT` announces MLST (so MLSD, MLST); folders are listed with MLSD.
    Mlsd,
    /// No MLST/MLSD: folders are listed with `LIST`, times come from `MDTM`.
    ListOnly,
}

/// Where the server stops answering (the connection stays open, nothing more is sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stall {
    Never,
    /// Accepts the connection and never greets.
    Greeting,
    /// Greets, then never answers `PASS`.
    Login,
    /// Answers a listing command with `150` and accepts its data connection, then sends nothing.
    ListingData,
    /// Sends the first half of a downloaded file (not of the lock file), then nothing.
    RetrData,
    /// Never answers this command (a verb such as `RNTO`), nor anything after it.
    Command(&'static str),
    /// `EPSV`/`PASV` name a port whose accept queue is full: the client's connect never
    /// completes.
    DataConnect,
    /// Active mode: `PORT`/`EPRT` are accepted and a transfer answered `150`, but the server
    /// never connects.
    DataAccept,
    /// A file transfer (`RETR`/`STOR`, not of the lock, metadata or journal file) is answered `150`
    /// and its data connection accepted, then nothing: no data, no end, no reply.
    AfterStart,
    /// An upload (not of the lock, metadata or journal file) is read for 64 KiB, then no more.
    UploadData,
    /// `AUTH TLS` is answered `234`, then nothing (the client's TLS handshake waits).
    AuthTls,
}

/// What one reading of a folder's listing gets ([`Script::listings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListingReply {
    /// The folder's real content (and injected lines).
    Real,
    /// These bytes instead, with `150` and `226`.
    Payload(Vec<u8>),
    /// This reply line instead of a listing (`550 ...`).
    Refuse(String),
}

/// The server's behaviour and content.
pub struct Script {
    pub dialect: Dialect,
    pub stall: Stall,
    /// Raw bytes appended to the listing of a folder (absolute path such as `/` or `/sub`).
    pub injected: BTreeMap<String, Vec<u8>>,
    /// Files (absolute path → content), with [`MODIFY_SECS`] as modification time unless
    /// `times` says otherwise.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Modification times of files (absolute path → POSIX seconds).
    pub times: BTreeMap<String, i64>,
    /// Folders besides `/`.
    pub dirs: BTreeSet<String>,
    /// Replies to `MDTM` of a file (absolute path → whole reply line) instead of its time.
    pub mdtm: BTreeMap<String, String>,
    /// Scripted listings of a folder (absolute path): the n-th reading (`MLSD` or `LIST`) gets
    /// the n-th reply, the last one again after that.
    pub listings: BTreeMap<String, Vec<ListingReply>>,
    /// The reply to every `MLSD` (although `FEAT` announces MLST), such as `502 no`.
    pub mlsd_reply: Option<String>,
    /// The reply to a `LIST` with options (`LIST -a ...`), as Twisted gives for `LIST -a PATH`.
    pub list_options_reply: Option<String>,
    /// Commands answered `502 Command not implemented` (as Twisted answers `APPE`).
    pub unsupported: BTreeSet<&'static str>,
}

impl Script {
    pub fn new(dialect: Dialect) -> Self {
        Script {
            dialect,
            stall: Stall::Never,
            injected: BTreeMap::new(),
            files: BTreeMap::new(),
            times: BTreeMap::new(),
            dirs: BTreeSet::new(),
            mdtm: BTreeMap::new(),
            listings: BTreeMap::new(),
            mlsd_reply: None,
            list_options_reply: None,
            unsupported: BTreeSet::new(),
        }
    }
}

/// The server's in-memory tree.
struct Tree {
    files: BTreeMap<String, (Vec<u8>, i64)>,
    dirs: BTreeSet<String>,
}

struct Shared {
    dialect: Dialect,
    stall: Stall,
    injected: BTreeMap<String, Vec<u8>>,
    mdtm: BTreeMap<String, String>,
    listings: Mutex<BTreeMap<String, Vec<ListingReply>>>,
    /// How many times each scripted folder was read.
    readings: Mutex<BTreeMap<String, usize>>,
    mlsd_reply: Option<String>,
    list_options_reply: Option<String>,
    unsupported: BTreeSet<&'static str>,
    tree: Mutex<Tree>,
    log: Mutex<Vec<String>>,
}

/// A running fake server; stops accepting when dropped.
pub struct FakeFtp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Stops accepting when the server is dropped.
    _acceptor: sockets::Acceptor,
}

impl FakeFtp {
    pub fn start(script: Script) -> FakeFtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut dirs = script.dirs;
        dirs.insert("/".into());
        let times = script.times;
        let files = script
            .files
            .into_iter()
            .map(|(p, c)| (p.clone(), (c, times.get(&p).copied().unwrap_or(MODIFY_SECS))))
            .collect();
        let shared = Arc::new(Shared {
            dialect: script.dialect,
            stall: script.stall,
            injected: script.injected,
            mdtm: script.mdtm,
            listings: Mutex::new(script.listings),
            readings: Mutex::new(BTreeMap::new()),
            mlsd_reply: script.mlsd_reply,
            list_options_reply: script.list_options_reply,
            unsupported: script.unsupported,
            tree: Mutex::new(Tree { files, dirs }),
            log: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        let acceptor = sockets::Acceptor::start(listener, move |socket| {
            let session = accepting.clone();
            std::thread::spawn(move || {
                let _ = serve(socket, &session);
            });
        });
        FakeFtp { addr, shared, _acceptor: acceptor }
    }

    pub fn url(&self) -> String {
        format!("ftp://{}/", self.addr)
    }

    /// Every command received so far, as `VERB argument`.
    pub fn commands(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    /// How many commands with this verb were received so far.
    pub fn count(&self, verb: &str) -> usize {
        self.shared.log.lock().unwrap().iter().filter(|c| c.split(' ').next() == Some(verb)).count()
    }

    /// The content of a file on the server.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.shared.tree.lock().unwrap().files.get(path).map(|(c, _)| c.clone())
    }

    /// Paths of all files on the server.
    pub fn paths(&self) -> Vec<String> {
        self.shared.tree.lock().unwrap().files.keys().cloned().collect()
    }

    /// Scripts the listings of a folder from now on (as [`Script::listings`]), counting its
    /// readings from zero again.
    pub fn set_listings(&self, dir: &str, replies: Vec<ListingReply>) {
        self.shared.listings.lock().unwrap().insert(dir.to_string(), replies);
        self.shared.readings.lock().unwrap().remove(dir);
    }

    /// Puts a file on the server (as another client would), with [`MODIFY_SECS`] as its time.
    pub fn put(&self, path: &str, content: &[u8]) {
        self.shared.tree.lock().unwrap().files.insert(path.to_string(), (content.to_vec(), MODIFY_SECS));
    }

    /// How many times a folder with [`Script::listings`] was listed.
    pub fn readings(&self, dir: &str) -> usize {
        self.shared.readings_of(dir)
    }
}

fn mdtm_text(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap().format("%Y%m%d%H%M%S").to_string()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `/a/b` → (`/a`, `b`).
fn split(path: &str) -> (String, String) {
    let path = path.trim_end_matches('/');
    match path.rfind('/') {
        Some(0) => ("/".into(), path[1..].into()),
        Some(i) => (path[..i].into(), path[i + 1..].into()),
        None => ("/".into(), path.into()),
    }
}

fn normalise(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() { "/".into() } else { p.into() }
}

/// A path argument, absolute or relative to the current folder `cwd`.
fn resolve(cwd: &str, path: &str) -> String {
    if path.starts_with('/') { normalise(path) } else { normalise(&format!("{}/{path}", cwd.trim_end_matches('/'))) }
}

impl Shared {
    /// What this reading of a folder's listing gets.
    fn scripted(&self, dir: &str) -> ListingReply {
        let listings = self.listings.lock().unwrap();
        let Some(replies) = listings.get(dir).filter(|r| !r.is_empty()) else { return ListingReply::Real };
        let mut readings = self.readings.lock().unwrap();
        let n = readings.entry(dir.to_string()).or_default();
        *n += 1;
        replies[(*n - 1).min(replies.len() - 1)].clone()
    }

    /// How many times a scripted folder was read.
    fn readings_of(&self, dir: &str) -> usize {
        self.readings.lock().unwrap().get(dir).copied().unwrap_or(0)
    }

    /// The listing payload of a folder: its real content, then the injected lines. `LIST`
    /// (`unix`) lists in the Unix format whatever the dialect (servers with MLSD have LIST too).
    fn listing(&self, dir: &str, unix: bool) -> Option<Vec<u8>> {
        let tree = self.tree.lock().unwrap();
        if !tree.dirs.contains(dir) {
            // vsftpd lists a missing folder like an empty one.
            return (self.dialect == Dialect::ListOnly).then(Vec::new);
        }
        let dialect = if unix { Dialect::ListOnly } else { self.dialect };
        let mut out = Vec::new();
        for d in tree.dirs.iter().filter(|d| *d != "/" && split(d).0 == dir) {
            let name = split(d).1;
            let line = match dialect {
                Dialect::Mlsd => format!("type=dir;modify={MODIFY}; {name}\r\n"),
                Dialect::ListOnly => format!("drwxr-xr-x   2 ftp      ftp          4096 Jan 02  2023 {name}\r\n"),
            };
            out.extend_from_slice(line.as_bytes());
        }
        for (path, (content, mtime)) in tree.files.iter().filter(|(p, _)| split(p).0 == dir) {
            let name = split(path).1;
            let line = match dialect {
                Dialect::Mlsd => format!("type=file;size={};modify={}; {name}\r\n", content.len(), mdtm_text(*mtime)),
                Dialect::ListOnly => {
                    let date = chrono::DateTime::from_timestamp(*mtime, 0).unwrap().format("%b %d  %Y");
                    format!("-rw-r--r--   1 ftp      ftp      {:>8} {date} {name}\r\n", content.len())
                }
            };
            out.extend_from_slice(line.as_bytes());
        }
        if let Some(extra) = self.injected.get(dir) {
            out.extend_from_slice(extra);
        }
        Some(out)
    }
}

/// Stalled: keeps the connection open without a word until the client gives up (or the
/// socket's own timeout ends it).
fn hold(control: &TcpStream) {
    let mut sink = Vec::new();
    let _ = control.try_clone().map(|mut s| s.read_to_end(&mut sink));
}

/// One control connection.
fn serve(socket: TcpStream, shared: &Shared) -> std::io::Result<()> {
    sockets::timeouts(&socket, IO_TIMEOUT)?;
    let mut out = socket.try_clone()?;
    let mut input = BufReader::new(socket);
    if shared.stall == Stall::Greeting {
        hold(input.get_ref());
        return Ok(());
    }
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 fake FTP server ready")?;
    let mut passive: Option<TcpListener> = None;
    let mut rename_from: Option<String> = None;
    let mut cwd = "/".to_string();
    let mut held = Held::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.to_string()),
            None => (text.to_ascii_uppercase(), String::new()),
        };
        shared.log.lock().unwrap().push(if arg.is_empty() { verb.clone() } else { format!("{verb} {arg}") });
        match stalled_step(shared.stall, &verb, &arg, &mut reply, &mut passive, &mut held)? {
            Step::Serve => {}
            Step::Answered => continue,
            Step::Hold => {
                hold(input.get_ref());
                return Ok(());
            }
        }
        if shared.unsupported.contains(verb.as_str()) {
            reply(&format!("502 Command '{verb}' not implemented"))?;
            continue;
        }
        match verb.as_str() {
            "USER" => reply("331 password please")?,
            "PASS" if shared.stall == Stall::Login => {
                hold(input.get_ref());
                return Ok(());
            }
            "PASS" => reply("230 logged in")?,
            "TYPE" | "OPTS" | "NOOP" => reply("200 ok")?,
            "SYST" => reply("215 UNIX Type: L8")?,
            "FEAT" => {
                let mlst = if shared.dialect == Dialect::Mlsd { " MLST type*;size*;modify*;\r\n" } else { "" };
                reply(&format!("211-Features:\r\n{mlst} SIZE\r\n MDTM\r\n UTF8\r\n EPSV\r\n211 End"))?
            }
            "PWD" => reply("257 \"/\" is the current folder")?,
            "CWD" => {
                let to = resolve(&cwd, &arg);
                let ok = shared.tree.lock().unwrap().dirs.contains(&to);
                if ok {
                    cwd = to;
                }
                reply(if ok { "250 ok" } else { "550 no such folder" })?
            }
            "EPSV" | "PASV" => {
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let port = listener.local_addr()?.port();
                passive = Some(listener);
                if verb == "EPSV" {
                    reply(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?
                } else {
                    reply(&format!("227 Entering Passive Mode (127,0,0,1,{},{})", port >> 8, port & 0xff))?
                }
            }
            "MLSD" | "LIST" => {
                // `LIST -a PATH`, `LIST -a`, `LIST PATH`, `MLSD`: no path is the current folder.
                let (options, path) = match arg.strip_prefix('-') {
                    Some(_) => arg.split_once(' ').unwrap_or((&arg, "")),
                    None => ("", arg.as_str()),
                };
                let path = if path.is_empty() { cwd.clone() } else { resolve(&cwd, path) };
                if verb == "MLSD" && shared.dialect != Dialect::Mlsd {
                    reply("500 MLSD not understood")?;
                    continue;
                }
                let refusal = match verb.as_str() {
                    "MLSD" => shared.mlsd_reply.as_ref(),
                    _ if !options.is_empty() => shared.list_options_reply.as_ref(),
                    _ => None,
                };
                if let Some(refusal) = refusal {
                    reply(refusal)?;
                    continue;
                }
                let payload = match shared.scripted(&path) {
                    ListingReply::Real => shared.listing(&path, verb == "LIST"),
                    ListingReply::Payload(bytes) => Some(bytes),
                    ListingReply::Refuse(line) => {
                        reply(&line)?;
                        continue;
                    }
                };
                let Some(payload) = payload else {
                    reply("550 no such folder")?;
                    continue;
                };
                let Some(listener) = passive.take() else {
                    reply("425 use EPSV first")?;
                    continue;
                };
                reply("150 here comes the listing")?;
                let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
                if shared.stall == Stall::ListingData {
                    hold(input.get_ref());
                    return Ok(());
                }
                data.write_all(&payload)?;
                drop(data);
                reply("226 done")?
            }
            "RETR" => {
                let content = shared.tree.lock().unwrap().files.get(&arg).map(|(c, _)| c.clone());
                let (Some(content), Some(listener)) = (content, passive.take()) else {
                    reply("550 no such file")?;
                    continue;
                };
                reply("150 sending")?;
                let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
                if shared.stall == Stall::RetrData && !arg.ends_with("-lock.json") {
                    data.write_all(&content[..content.len() / 2])?;
                    hold(input.get_ref());
                    return Ok(());
                }
                data.write_all(&content)?;
                drop(data);
                reply("226 done")?
            }
            "STOR" | "APPE" => {
                let Some(listener) = passive.take() else {
                    reply("425 use EPSV first")?;
                    continue;
                };
                reply("150 ready")?;
                let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
                let mut content = Vec::new();
                data.read_to_end(&mut content)?;
                let mut tree = shared.tree.lock().unwrap();
                let file = tree.files.entry(arg.clone()).or_insert_with(|| (Vec::new(), now()));
                if verb == "STOR" {
                    file.0.clear();
                }
                file.0.extend_from_slice(&content);
                file.1 = now();
                drop(tree);
                reply("226 stored")?
            }
            "SIZE" => match shared.tree.lock().unwrap().files.get(&arg) {
                Some((c, _)) => reply(&format!("213 {}", c.len()))?,
                None => reply("550 no such file")?,
            },
            "MDTM" if shared.mdtm.contains_key(&arg) => reply(&shared.mdtm[&arg])?,
            "MDTM" => match shared.tree.lock().unwrap().files.get(&arg) {
                Some((_, t)) => reply(&format!("213 {}", mdtm_text(*t)))?,
                None => reply("550 no such file")?,
            },
            "MLST" if shared.dialect == Dialect::Mlsd => {
                let tree = shared.tree.lock().unwrap();
                let facts = match tree.files.get(&arg) {
                    Some((c, t)) => Some(format!("type=file;size={};modify={};", c.len(), mdtm_text(*t))),
                    None if tree.dirs.contains(&normalise(&arg)) => Some(format!("type=dir;modify={MODIFY};")),
                    None => None,
                };
                drop(tree);
                match facts {
                    Some(f) => reply(&format!("250-Listing {arg}\r\n {f} {arg}\r\n250 End"))?,
                    None => reply("550 no such file")?,
                }
            }
            "DELE" => {
                let gone = shared.tree.lock().unwrap().files.remove(&arg).is_some();
                reply(if gone { "250 deleted" } else { "550 no such file" })?
            }
            "RNFR" => {
                let exists = shared.tree.lock().unwrap().files.contains_key(&arg);
                rename_from = exists.then(|| arg.clone());
                reply(if exists { "350 ready for RNTO" } else { "550 no such file" })?
            }
            "RNTO" => match rename_from.take() {
                Some(from) => {
                    let mut tree = shared.tree.lock().unwrap();
                    let file = tree.files.remove(&from).unwrap();
                    tree.files.insert(arg.clone(), file);
                    drop(tree);
                    reply("250 renamed")?
                }
                None => reply("503 RNFR first")?,
            },
            "MKD" => {
                shared.tree.lock().unwrap().dirs.insert(normalise(&arg));
                reply(&format!("257 \"{arg}\" created"))?
            }
            "RMD" => {
                let gone = shared.tree.lock().unwrap().dirs.remove(&normalise(&arg));
                reply(if gone { "250 removed" } else { "550 no such folder" })?
            }
            "ABOR" => reply("226 nothing to abort")?,
            "QUIT" => {
                reply("221 bye")?;
                return Ok(());
            }
            _ => reply("502 not implemented")?,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The later stalls (`Stall::Command` and after): each stops the session at one step.

/// What [`stalled_step`] did with a command.
enum Step {
    /// Nothing: the command is served as usual.
    Serve,
    /// Answered here; the next command follows.
    Answered,
    /// The session stops answering.
    Hold,
}

/// Sockets a stalled step keeps open (a full accept queue, the client's active-mode address).
#[derive(Default)]
struct Held {
    sockets: Vec<socket2::Socket>,
    streams: Vec<TcpStream>,
    active: bool,
}

/// A file whose transfer the stalls spare (the lock and the metadata).
fn spared(path: &str) -> bool {
    path.ends_with("-lock.json") || path.ends_with("-meta.json") || path.ends_with("-journal.json")
}

/// A listener whose accept queue is full: connecting to it never completes (the kernel drops
/// further handshakes).
fn full_listener(held: &mut Held) -> std::io::Result<u16> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(0)?;
    let addr = socket.local_addr()?.as_socket().expect("an IPv4 address");
    // One connection fills a queue of length 0; a second waits in SYN-SENT, never accepted.
    let filler = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    let spare = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    spare.set_nonblocking(true)?;
    let _ = spare.connect(&addr.into());
    held.streams.push(filler);
    held.sockets.push(spare);
    held.sockets.push(socket);
    Ok(addr.port())
}

fn stalled_step(
    stall: Stall,
    verb: &str,
    arg: &str,
    reply: &mut dyn FnMut(&str) -> std::io::Result<()>,
    passive: &mut Option<TcpListener>,
    held: &mut Held,
) -> std::io::Result<Step> {
    let file_transfer = matches!(verb, "RETR" | "STOR") && !spared(arg);
    match stall {
        Stall::Command(stalled) if stalled == verb => Ok(Step::Hold),
        Stall::DataConnect if matches!(verb, "EPSV" | "PASV") => {
            let port = full_listener(held)?;
            if verb == "EPSV" {
                reply(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?;
            } else {
                reply(&format!("227 Entering Passive Mode (127,0,0,1,{},{})", port >> 8, port & 0xff))?;
            }
            Ok(Step::Answered)
        }
        Stall::DataConnect if matches!(verb, "MLSD" | "LIST" | "RETR" | "STOR" | "APPE") => {
            reply("150 waiting for your connection")?;
            Ok(Step::Hold)
        }
        Stall::DataAccept if matches!(verb, "PORT" | "EPRT") => {
            held.active = true;
            reply("200 ok, I will connect (I will not)")?;
            Ok(Step::Answered)
        }
        Stall::DataAccept if held.active && matches!(verb, "MLSD" | "LIST" | "RETR" | "STOR" | "APPE") => {
            reply("150 connecting to you")?;
            Ok(Step::Hold)
        }
        Stall::AfterStart | Stall::UploadData if file_transfer && (stall == Stall::AfterStart || verb == "STOR") => {
            let Some(listener) = passive.take() else { return Ok(Step::Serve) };
            // A small receive buffer: an upload not read soon blocks its sender.
            socket2::SockRef::from(&listener).set_recv_buffer_size(64 * 1024)?;
            reply("150 here it comes")?;
            let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
            if stall == Stall::UploadData {
                let mut first = vec![0u8; 64 * 1024];
                data.read_exact(&mut first)?;
            }
            held.streams.push(data);
            Ok(Step::Hold)
        }
        Stall::AuthTls if verb == "AUTH" => {
            reply("234 go ahead")?;
            Ok(Step::Hold)
        }
        _ => Ok(Step::Serve),
    }
}
