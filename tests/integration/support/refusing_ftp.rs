//! A scripted FTP server with every optional command ftpsync can use (`FEAT`, `MLSD`, `MLST`,
//! `STAT -la` listings, `NOOP`, `EPSV`, `SIZE`, `MDTM`, `MFMT`, `SITE UTIME` in both forms,
//! `MDTM` with a time, `OPTS UTF8 ON`, `HASH` with `OPTS HASH`, `XSHA256`/`XSHA512`) that refuses a chosen set of them with a chosen code,
//! for the fallback tests. `FEAT` announces every feature whatever is refused (a server whose
//! FEAT lies), unless told to leave some out. It can also hang up after a chosen command, and answer like aioftp: a command
//! it refuses at once, before the replies to the commands that came before it in the same
//! write; and abort an upload whose command came with its `EPSV`/`PASV`/`PORT`, like Twisted.
//! Active mode (`PORT`, `EPRT`) works too: it connects to the client when the transfer starts.
//!
//! Every command is logged with its connection's number and a global sequence number, so a
//! test can tell whether a refused command was sent again after its refusal, and with whether
//! it came in the same write as the command before it (what costs a round trip). Sockets have
//! timeouts, ports are chosen by the kernel, threads end with their connection.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::Digest;

use super::sockets;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One logged command.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Global order of arrival.
    pub seq: usize,
    /// The connection (in order of acceptance, from 0).
    pub conn: usize,
    /// `VERB argument` as received (the verb upper-cased).
    pub text: String,
    /// The reply code it got.
    pub code: u16,
    /// It came in the same write as the command before it on its connection (it was waiting
    /// when that one was read): no round trip of its own.
    pub with_previous: bool,
}

impl Logged {
    /// Whether this is `cmd`: a verb, or a verb and the start of its argument (`SITE UTIME`),
    /// or a prefix ending in `*` (`MDTM 2*`).
    pub fn is(&self, cmd: &str) -> bool {
        matches_command(&self.text.to_ascii_uppercase(), cmd)
    }
}

fn matches_command(upper: &str, cmd: &str) -> bool {
    match cmd.strip_suffix('*') {
        Some(prefix) => upper.starts_with(prefix),
        None => upper == cmd || upper.starts_with(&format!("{cmd} ")),
    }
}

/// What the server refuses and how it misbehaves.
#[derive(Clone, Debug, Default)]
pub struct Refusals {
    /// Command (`SIZE`, `SITE UTIME`, `OPTS UTF8`, `TYPE I`, `MDTM 2*`...) → reply code.
    pub refuse: BTreeMap<String, u16>,
    /// Features `FEAT` leaves out (`MFMT`, as vsftpd's does).
    pub unannounced: Vec<String>,
    /// Commands (as in `refuse`) answered `200` that do nothing: a way of setting a time that
    /// only says it did.
    pub ignores: Vec<String>,
    /// Closes the connection instead of answering this command (`OPTS UTF8`).
    pub hang_up_on: Option<String>,
    /// Answers refused commands at once, before the replies to earlier commands of the same
    /// write (as aioftp does).
    pub out_of_order: bool,
    /// Stores every upload one byte short (a server that loses data).
    pub short_stores: bool,
    /// Aborts an upload (`STOR`, `APPE`) whose command came in the same write as its `EPSV`
    /// or `PASV`, as Twisted does: the file is created empty, the data read and dropped, and
    /// the answer is `426`.
    pub aborts_uploads_sent_ahead: bool,
    /// Answers `STAT` as pyftpdlib does: `STAT -la PATH` with `550` (it takes `-la PATH` as
    /// one name), plain `STAT PATH` with the folder's lines but its own `.` entry.
    pub plain_stat: Option<PlainStat>,
}

/// What plain `STAT PATH` lists of a folder ([`Refusals::plain_stat`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainStat {
    /// Every entry, as `MLSD` does (pyftpdlib).
    Complete,
    /// All but hidden ones, as a server whose `STAT` runs a plain `ls`.
    HidesHidden,
}

impl Refusals {
    pub fn refusing(cmds: &[(&str, u16)]) -> Self {
        Refusals { refuse: cmds.iter().map(|(c, code)| (c.to_string(), *code)).collect(), ..Default::default() }
    }

    /// The code this server refuses `text` (a command line) with, if it does. A key ending in
    /// `*` is a prefix (`MDTM 2*`: only the form of MDTM that sets a time).
    fn code_for(&self, text: &str) -> Option<u16> {
        let upper = text.to_ascii_uppercase();
        self.refuse.iter().find(|(c, _)| matches_command(&upper, c)).map(|(_, &code)| code)
    }
}

struct Tree {
    files: BTreeMap<String, (Vec<u8>, i64)>,
    dirs: BTreeSet<String>,
}

struct Shared {
    refusals: Refusals,
    tree: Mutex<Tree>,
    log: Mutex<Vec<Logged>>,
    seq: AtomicUsize,
    conns: AtomicUsize,
}

/// A running server; stops accepting when dropped.
pub struct RefusingFtp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Stops accepting when the server is dropped.
    _acceptor: sockets::Acceptor,
}

impl RefusingFtp {
    /// Serves an empty tree with the folder `/site`.
    pub fn start(refusals: Refusals) -> RefusingFtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let dirs = ["/".to_string(), "/site".to_string()].into_iter().collect();
        let shared = Arc::new(Shared {
            refusals,
            tree: Mutex::new(Tree { files: BTreeMap::new(), dirs }),
            log: Mutex::new(Vec::new()),
            seq: AtomicUsize::new(0),
            conns: AtomicUsize::new(0),
        });
        let accepting = shared.clone();
        let acceptor = sockets::Acceptor::start(listener, move |socket| {
            let session = accepting.clone();
            let conn = session.conns.fetch_add(1, Ordering::Relaxed);
            std::thread::spawn(move || {
                let _ = serve(socket, &session, conn);
            });
        });
        RefusingFtp { addr, shared, _acceptor: acceptor }
    }

    /// `ftp://joe:pw@127.0.0.1:PORT/site`
    pub fn url(&self) -> String {
        format!("ftp://joe:pw@{}/site", self.addr)
    }

    /// Every command so far.
    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Forgets the commands so far (between two runs).
    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Files on the server: path → (content, modification time).
    pub fn files(&self) -> BTreeMap<String, (Vec<u8>, i64)> {
        self.shared.tree.lock().unwrap().files.clone()
    }
}

fn stamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap().format("%Y%m%d%H%M%S").to_string()
}

fn parse_stamp(ts: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(ts.get(..14)?, "%Y%m%d%H%M%S").ok().map(|t| t.and_utc().timestamp())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn normalise(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() { "/".into() } else { p.into() }
}

fn split(path: &str) -> (String, String) {
    let path = normalise(path);
    match path.rfind('/') {
        Some(0) => ("/".into(), path[1..].into()),
        Some(i) => (path[..i].into(), path[i + 1..].into()),
        None => ("/".into(), path),
    }
}

fn ls_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).unwrap().format("%b %d  %Y").to_string()
}

impl Tree {
    fn mlsd(&self, dir: &str) -> String {
        let mut out = String::new();
        for d in self.dirs.iter().filter(|d| *d != "/" && split(d).0 == dir) {
            out += &format!("type=dir;modify=20230102030405; {}\r\n", split(d).1);
        }
        for (p, (c, t)) in self.files.iter().filter(|(p, _)| split(p).0 == dir) {
            out += &format!("type=file;size={};modify={}; {}\r\n", c.len(), stamp(*t), split(p).1);
        }
        out
    }

    /// `ls -la` lines, with the folder's own `.` entry (as proftpd's `STAT -la`).
    fn ls(&self, dir: &str) -> Vec<String> {
        let mut out = vec![format!("drwxr-xr-x   2 ftp      ftp          4096 {} .", ls_date(1_672_628_645))];
        out.extend(self.ls_entries(dir, true));
        out
    }

    /// `ls -l` lines of the folder's entries (hidden ones too, or not).
    fn ls_entries(&self, dir: &str, hidden: bool) -> Vec<String> {
        let shown = |name: &str| hidden || !name.starts_with('.');
        let mut out = Vec::new();
        for d in self.dirs.iter().filter(|d| *d != "/" && split(d).0 == dir && shown(&split(d).1)) {
            out.push(format!("drwxr-xr-x   2 ftp      ftp          4096 {} {}", ls_date(1_672_628_645), split(d).1));
        }
        for (p, (c, t)) in self.files.iter().filter(|(p, _)| split(p).0 == dir && shown(&split(p).1)) {
            out.push(format!("-rw-r--r--   1 ftp      ftp      {:>8} {} {}", c.len(), ls_date(*t), split(p).1));
        }
        out
    }

    fn set_time(&mut self, path: &str, t: i64) -> bool {
        self.files.get_mut(path).map(|f| f.1 = t).is_some()
    }
}

/// One control connection.
fn serve(socket: TcpStream, shared: &Shared, conn: usize) -> std::io::Result<()> {
    sockets::timeouts(&socket, IO_TIMEOUT)?;
    let mut out = socket.try_clone()?;
    let mut input = BufReader::new(socket);
    out.write_all(b"220 refusing fake FTP server ready\r\n")?;
    let mut passive: Option<TcpListener> = None;
    // Where to connect for the next transfer in active mode (`PORT`, `EPRT`).
    let mut active: Option<SocketAddr> = None;
    // The last EPSV/PASV came with more commands in the same write.
    let mut announced_with_more = false;
    // The folder CWD entered: listings without a path list it.
    let mut cwd = String::from("/");
    let mut rename_from: Option<String> = None;
    // Replies held back behind a refusal (out-of-order mode).
    let mut held: Vec<String> = Vec::new();
    let mut line = Vec::new();
    // The `HASH` algorithm selected on this connection (`OPTS HASH`); SHA-1 is the default
    // this server announces, which it does not compute.
    let mut hash_alg = "SHA-1".to_string();
    loop {
        if input.buffer().is_empty() && !held.is_empty() {
            for r in held.drain(..) {
                out.write_all(format!("{r}\r\n").as_bytes())?;
            }
        }
        line.clear();
        let with_previous = !input.buffer().is_empty();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.to_string()),
            None => (text.to_ascii_uppercase(), String::new()),
        };
        let logged = if arg.is_empty() { verb.clone() } else { format!("{verb} {arg}") };
        let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
        let log = |code: u16| {
            shared.log.lock().unwrap().push(Logged { seq, conn, text: logged.clone(), code, with_previous })
        };
        if shared.refusals.hang_up_on.as_deref().is_some_and(|h| logged.to_ascii_uppercase().starts_with(h)) {
            log(0);
            return Ok(());
        }
        if shared.refusals.ignores.iter().any(|c| matches_command(&logged.to_ascii_uppercase(), c)) {
            log(200);
            out.write_all(b"200 done (not really)\r\n")?;
            continue;
        }
        if let Some(code) = shared.refusals.code_for(&logged) {
            log(code);
            let reply = format!("{code} {verb} not implemented here\r\n");
            out.write_all(reply.as_bytes())?;
            continue;
        }
        // A transfer runs in order: what was held back goes first.
        let transfer = matches!(verb.as_str(), "MLSD" | "LIST" | "RETR" | "STOR" | "APPE");
        if transfer || !shared.refusals.out_of_order {
            for r in held.drain(..) {
                out.write_all(format!("{r}\r\n").as_bytes())?;
            }
        }
        let mut replies: Vec<String> = Vec::new();
        let mut reply = |r: String| replies.push(r);
        let mut tree = shared.tree.lock().unwrap();
        match verb.as_str() {
            "USER" => reply("331 password please".into()),
            "PASS" => reply("230 logged in".into()),
            "TYPE" | "NOOP" => reply("200 ok".into()),
            // draft-bryan-ftpext-hash: the algorithm is selected per connection.
            "OPTS" if arg.to_ascii_uppercase().starts_with("HASH ") => {
                match arg[5..].trim().to_ascii_uppercase().as_str() {
                    a @ ("SHA-256" | "SHA-512") => {
                        hash_alg = a.to_string();
                        reply(format!("200 {a}"))
                    }
                    _ => reply("504 algorithm not supported".into()),
                }
            }
            "OPTS" => reply("200 UTF8 on".into()),
            // The draft's reply without the byte range; XSHA256's as some servers give it.
            "HASH" | "XSHA256" | "XSHA512" => match tree.files.get(&arg) {
                Some(_) if verb == "HASH" && hash_alg == "SHA-1" => reply("504 SHA-1 is not computed here".into()),
                Some((c, _)) => {
                    let alg = match verb.as_str() {
                        "HASH" => hash_alg.as_str(),
                        "XSHA512" => "SHA-512",
                        _ => "SHA-256",
                    };
                    let hex = match alg {
                        "SHA-512" => ftpsync::model::digest::hex(&sha2::Sha512::digest(c)),
                        _ => ftpsync::model::digest::sha256_hex(c),
                    };
                    reply(if verb == "HASH" { format!("213 {alg} {hex} {arg}") } else { format!("213 {hex}") })
                }
                None => reply("550 no such file".into()),
            },
            "SYST" => reply("215 UNIX Type: L8".into()),
            "FEAT" => {
                let all = [
                    "MLST type*;size*;modify*;",
                    "MLSD",
                    "SIZE",
                    "MDTM",
                    "MFMT",
                    "UTF8",
                    "EPSV",
                    "HASH SHA-1*;SHA-256;SHA-512;MD5",
                    "XSHA256",
                    "XSHA512",
                    "XMD5",
                ];
                let unannounced = &shared.refusals.unannounced;
                let shown: String = all
                    .iter()
                    .filter(|f| !unannounced.iter().any(|u| f.split(' ').next() == Some(u.as_str())))
                    .map(|f| format!(" {f}\r\n"))
                    .collect();
                reply(format!("211-Features:\r\n{shown}211 End"))
            }
            "PWD" => reply("257 \"/\" is the current folder".into()),
            "CWD" if tree.dirs.contains(&normalise(&arg)) => {
                cwd = normalise(&arg);
                reply("250 ok".into())
            }
            "CWD" => reply("550 no such folder".into()),
            "STAT" => {
                let dashed = arg.strip_prefix("-la").map(str::trim_start);
                let path = normalise(dashed.unwrap_or(&arg));
                let lines = match shared.refusals.plain_stat {
                    None => Some(tree.ls(&path)),
                    Some(_) if dashed.is_some() => None,
                    Some(kind) => Some(tree.ls_entries(&path, kind == PlainStat::Complete)),
                };
                match lines.filter(|_| tree.dirs.contains(&path)) {
                    Some(lines) => {
                        let body: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
                        reply(format!("213-Status of {path}:\r\n{body}213 End of status"))
                    }
                    None if shared.refusals.plain_stat.is_some() => reply("550 No such file or directory.".into()),
                    None => reply("450 no such folder".into()),
                }
            }
            "EPSV" | "PASV" => {
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let port = listener.local_addr()?.port();
                passive = Some(listener);
                active = None;
                announced_with_more = !input.buffer().is_empty();
                reply(if verb == "EPSV" {
                    format!("229 Entering Extended Passive Mode (|||{port}|)")
                } else {
                    format!("227 Entering Passive Mode (127,0,0,1,{},{})", port >> 8, port & 0xff)
                });
            }
            "PORT" | "EPRT" => match client_addr(&verb, &arg) {
                Some(addr) => {
                    (passive, active) = (None, Some(addr));
                    announced_with_more = !input.buffer().is_empty();
                    reply("200 ok, will connect".into());
                }
                None => reply("501 bad address".into()),
            },
            "STOR" | "APPE"
                if shared.refusals.aborts_uploads_sent_ahead
                    && announced_with_more
                    && (passive.is_some() || active.is_some()) =>
            {
                // Opened for writing before the transfer fails: STOR leaves the file empty.
                let file = tree.files.entry(arg.clone()).or_insert_with(|| (Vec::new(), now()));
                if verb == "STOR" {
                    file.0.clear();
                }
                drop(tree);
                log(426);
                // Answered at once (a client in active mode waits for it before it accepts),
                // then whatever was sent is read and dropped.
                out.write_all(b"426 Transfer aborted.  Data connection closed.\r\n")?;
                if let Some(Ok(mut data)) = open_data(&mut passive, &mut active) {
                    let _ = data.read_to_end(&mut Vec::new());
                }
                continue;
            }
            "MLSD" | "LIST" | "RETR" | "STOR" | "APPE" => {
                drop(tree);
                log(150);
                transfer_command(&verb, &arg, &cwd, shared, (&mut passive, &mut active), &mut out)?;
                continue;
            }
            "SIZE" => match tree.files.get(&arg) {
                Some((c, _)) => reply(format!("213 {}", c.len())),
                None => reply("550 not a plain file".into()),
            },
            "MDTM" => {
                match arg.split_once(' ').filter(|(ts, _)| ts.len() == 14 && ts.bytes().all(|b| b.is_ascii_digit())) {
                    // vsftpd's form: MDTM YYYYMMDDHHMMSS path sets the time.
                    Some((ts, path)) => {
                        let set = parse_stamp(ts).is_some_and(|t| tree.set_time(path, t));
                        reply(if set { "213 time set" } else { "550 cannot set" }.into());
                    }
                    None => match tree.files.get(&arg) {
                        Some((_, t)) => reply(format!("213 {}", stamp(*t))),
                        None => reply("550 no such file".into()),
                    },
                }
            }
            "MFMT" => {
                let set = arg
                    .split_once(' ')
                    .and_then(|(ts, path)| Some((parse_stamp(ts)?, path)))
                    .is_some_and(|(t, path)| tree.set_time(path, t));
                reply(if set { "213 Modify=set".into() } else { "550 cannot set".into() });
            }
            "SITE" => {
                // SITE UTIME path atime mtime ctime UTC (proftpd) or SITE UTIME time path.
                let words: Vec<&str> = arg.split(' ').collect();
                let set = match words.as_slice() {
                    ["UTIME", path @ .., _, mtime, _, "UTC"] => {
                        parse_stamp(mtime).is_some_and(|t| tree.set_time(&path.join(" "), t))
                    }
                    ["UTIME", ts, path @ ..] => parse_stamp(ts).is_some_and(|t| tree.set_time(&path.join(" "), t)),
                    _ => false,
                };
                reply(if set { "200 time set" } else { "501 bad SITE command" }.into());
            }
            "MLST" => {
                let facts = match tree.files.get(&arg) {
                    Some((c, t)) => Some(format!("type=file;size={};modify={};", c.len(), stamp(*t))),
                    None if tree.dirs.contains(&normalise(&arg)) => Some("type=dir;modify=20230102030405;".into()),
                    None => None,
                };
                reply(match facts {
                    Some(f) => format!("250-Listing {arg}\r\n {f} {arg}\r\n250 End"),
                    None => "550 no such file".into(),
                });
            }
            "DELE" => reply(if tree.files.remove(&arg).is_some() { "250 deleted" } else { "550 no such file" }.into()),
            "RNFR" => {
                let exists = tree.files.contains_key(&arg);
                rename_from = exists.then(|| arg.clone());
                reply(if exists { "350 ready for RNTO" } else { "550 no such file" }.into());
            }
            "RNTO" => match rename_from.take() {
                Some(from) => {
                    let file = tree.files.remove(&from).unwrap();
                    tree.files.insert(arg.clone(), file);
                    reply("250 renamed".into());
                }
                None => reply("503 RNFR first".into()),
            },
            "MKD" => {
                tree.dirs.insert(normalise(&arg));
                reply(format!("257 \"{arg}\" created"));
            }
            "RMD" => {
                reply(if tree.dirs.remove(&normalise(&arg)) { "250 removed" } else { "550 no such folder" }.into())
            }
            "QUIT" => {
                log(221);
                for r in held.drain(..) {
                    out.write_all(format!("{r}\r\n").as_bytes())?;
                }
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => reply("502 unknown command".into()),
        }
        drop(tree);
        let code = replies.first().and_then(|r| r.get(..3)).and_then(|c| c.parse().ok()).unwrap_or(0);
        log(code);
        if shared.refusals.out_of_order {
            held.extend(replies);
        } else {
            for r in replies {
                out.write_all(format!("{r}\r\n").as_bytes())?;
            }
        }
    }
}

/// A command with a data connection: listings, downloads, uploads.
type DataPorts<'a> = (&'a mut Option<TcpListener>, &'a mut Option<SocketAddr>);

/// The data connection of a transfer: accepted on the passive port, or made to the client's
/// (active mode); `None` when none was announced.
fn open_data(passive: &mut Option<TcpListener>, active: &mut Option<SocketAddr>) -> Option<std::io::Result<TcpStream>> {
    match (passive.take(), active.take()) {
        (Some(listener), _) => Some(sockets::accept_data(&listener, IO_TIMEOUT)),
        (None, Some(addr)) => Some(
            TcpStream::connect_timeout(&addr, IO_TIMEOUT).and_then(|s| sockets::timeouts(&s, IO_TIMEOUT).map(|()| s)),
        ),
        (None, None) => None,
    }
}

/// The client's address of a `PORT h1,h2,h3,h4,p1,p2` or `EPRT |1|h|port|`.
fn client_addr(verb: &str, arg: &str) -> Option<SocketAddr> {
    if verb == "PORT" {
        let n: Vec<u8> = arg.split(',').map(|x| x.trim().parse().ok()).collect::<Option<_>>()?;
        let [a, b, c, d, hi, lo] = n[..] else { return None };
        return Some(SocketAddr::from(([a, b, c, d], u16::from(hi) << 8 | u16::from(lo))));
    }
    let parts: Vec<&str> = arg.split('|').collect();
    format!("{}:{}", parts.get(2)?, parts.get(3)?).parse().ok()
}

fn transfer_command(
    verb: &str,
    arg: &str,
    cwd: &str,
    shared: &Shared,
    (passive, active): DataPorts<'_>,
    out: &mut TcpStream,
) -> std::io::Result<()> {
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    if passive.is_none() && active.is_none() {
        return reply("425 use EPSV, PASV or PORT first");
    }
    let payload = {
        let tree = shared.tree.lock().unwrap();
        match verb {
            "MLSD" | "LIST" => {
                let path = arg.strip_prefix("-a").map(str::trim_start).unwrap_or(arg);
                let path = if path.is_empty() { cwd.to_string() } else { normalise(path) };
                if !tree.dirs.contains(&path) {
                    return reply("550 no such folder");
                }
                Some(if verb == "MLSD" {
                    tree.mlsd(&path).into_bytes()
                } else {
                    tree.ls_entries(&path, true).iter().map(|l| format!("{l}\r\n")).collect::<String>().into_bytes()
                })
            }
            "RETR" => match tree.files.get(arg) {
                Some((c, _)) => Some(c.clone()),
                None => return reply("550 no such file"),
            },
            _ => None,
        }
    };
    reply("150 opening data connection")?;
    let mut data = open_data(passive, active).expect("checked")?;
    match payload {
        Some(bytes) => {
            data.write_all(&bytes)?;
            drop(data);
        }
        None => {
            let mut content = Vec::new();
            data.read_to_end(&mut content)?;
            if shared.refusals.short_stores {
                content.pop();
            }
            let mut tree = shared.tree.lock().unwrap();
            let file = tree.files.entry(arg.to_string()).or_insert_with(|| (Vec::new(), now()));
            if verb == "STOR" {
                file.0.clear();
            }
            file.0.extend_from_slice(&content);
            file.1 = now();
        }
    }
    reply("226 done")
}
