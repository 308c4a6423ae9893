//! A fake FTP server that behaves like Windows/IIS where it matters for data safety: names
//! are case-insensitive but keep the case they were created with, a rename onto an existing
//! name is refused (`550 Cannot create a file when that file already exists.`), folders are
//! listed in DOS format only (`12-06-26  02:03PM  <DIR>  name`; no MLSD/MLST, no STAT
//! listings), `SIZE` and `MDTM` work, and modification times cannot be set.
//!
//! Files live in memory. Every socket has a timeout, every thread ends when the server is
//! dropped or its peer goes away; the port is chosen by the kernel. The server logs each
//! command it receives.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sockets;

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const EXISTS: &str = "550 Cannot create a file when that file already exists.";
const NOT_FOUND: &str = "550 The system cannot find the file specified.";

/// One entry, under its folded (lower-case) full path.
#[derive(Clone, Debug)]
enum Node {
    Dir { path: String },
    File { path: String, data: Vec<u8>, mtime: i64 },
}

impl Node {
    /// The path as created (its case kept).
    fn path(&self) -> &str {
        match self {
            Node::Dir { path } | Node::File { path, .. } => path,
        }
    }
}

fn fold(path: &str) -> String {
    path.to_lowercase()
}

fn normalise(path: &str) -> String {
    let p = path.trim_end_matches('/');
    if p.is_empty() { "/".into() } else { p.into() }
}

/// `/a/b` → `/a`.
fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".into(),
        Some(i) => path[..i].into(),
    }
}

fn name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

struct Shared {
    tree: Mutex<BTreeMap<String, Node>>,
    log: Mutex<Vec<String>>,
}

/// A running server; stops accepting when dropped.
pub struct IisFtp {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Stops accepting when the server is dropped.
    _acceptor: sockets::Acceptor,
}

impl IisFtp {
    /// Starts a server holding the folder `/site` (and `/`).
    pub fn start() -> IisFtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut tree = BTreeMap::new();
        for p in ["/", "/site"] {
            tree.insert(p.to_string(), Node::Dir { path: p.into() });
        }
        let shared = Arc::new(Shared { tree: Mutex::new(tree), log: Mutex::new(Vec::new()) });
        let accepting = shared.clone();
        let acceptor = sockets::Acceptor::start(listener, move |socket| {
            let session = accepting.clone();
            std::thread::spawn(move || {
                let _ = serve(socket, &session);
            });
        });
        IisFtp { addr, shared, _acceptor: acceptor }
    }

    /// `ftp://joe@127.0.0.1:PORT/site` (any password is accepted).
    pub fn url(&self) -> String {
        format!("ftp://joe@{}/site", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every command received so far, as `VERB argument`.
    pub fn commands(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Every file below `/site` as (path below it, with the case it was created with) →
    /// content.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let tree = self.shared.tree.lock().unwrap();
        tree.values()
            .filter_map(|n| match n {
                Node::File { path, data, .. } => path.strip_prefix("/site/").map(|p| (p.to_string(), data.clone())),
                Node::Dir { .. } => None,
            })
            .collect()
    }

    /// Stores a file (its folders must exist), as another client would.
    pub fn put(&self, path: &str, data: &[u8], mtime: i64) {
        let path = format!("/site/{path}");
        let mut tree = self.shared.tree.lock().unwrap();
        assert!(tree.contains_key(&fold(&parent(&path))), "no folder for {path}");
        let path = tree.get(&fold(&path)).map_or(path, |n| n.path().to_string());
        tree.insert(fold(&path), Node::File { path, data: data.to_vec(), mtime });
    }
}

/// A DOS listing line, as IIS sends them: `MM-DD-YY  hh:mmAM  <DIR>|size name`.
fn dos_line(node: &Node) -> String {
    let (when, size) = match node {
        Node::Dir { .. } => (0, "<DIR>         ".to_string()),
        Node::File { data, mtime, .. } => (*mtime, format!("{:>14}", data.len())),
    };
    let when = chrono::DateTime::from_timestamp(when.max(0), 0).unwrap();
    format!("{}  {}       {size} {}\r\n", when.format("%m-%d-%y"), when.format("%I:%M%p"), name(node.path()))
}

impl Shared {
    fn listing(&self, dir: &str) -> Option<Vec<u8>> {
        let tree = self.tree.lock().unwrap();
        if !matches!(tree.get(&fold(dir)), Some(Node::Dir { .. })) {
            return None;
        }
        let mut out = Vec::new();
        for node in tree.values().filter(|n| n.path() != "/" && fold(&parent(n.path())) == fold(dir)) {
            out.extend_from_slice(dos_line(node).as_bytes());
        }
        Some(out)
    }
}

/// An absolute path from a command argument (relative ones are below `cwd`).
fn absolute(cwd: &str, arg: &str) -> String {
    if arg.starts_with('/') {
        normalise(arg)
    } else if cwd == "/" {
        normalise(&format!("/{arg}"))
    } else {
        normalise(&format!("{cwd}/{arg}"))
    }
}

/// One control connection.
fn serve(socket: TcpStream, shared: &Shared) -> std::io::Result<()> {
    sockets::timeouts(&socket, IO_TIMEOUT)?;
    let mut out = socket.try_clone()?;
    let mut input = BufReader::new(socket);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 Microsoft FTP Service")?;
    let mut passive: Option<TcpListener> = None;
    let mut rename_from: Option<String> = None;
    let mut cwd = "/".to_string();
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
        let path = absolute(&cwd, &arg);
        let key = fold(&path);
        match verb.as_str() {
            "USER" => reply("331 Password required")?,
            "PASS" => reply("230 User logged in.")?,
            "TYPE" => reply("200 Type set to I.")?,
            "OPTS" => reply("200 OPTS UTF8 command successful - UTF8 encoding now ON.")?,
            "NOOP" => reply("200 NOOP command successful.")?,
            "SYST" => reply("215 Windows_NT")?,
            "FEAT" => reply(
                "211-Extended features supported:\r\n LANG EN*\r\n UTF8\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n211 END",
            )?,
            "PWD" => reply(&format!("257 \"{cwd}\" is current directory."))?,
            "CWD" => {
                let found = match shared.tree.lock().unwrap().get(&key) {
                    Some(Node::Dir { path }) => Some(path.clone()),
                    _ => None,
                };
                match found {
                    Some(p) => {
                        cwd = p;
                        reply("250 CWD command successful.")?
                    }
                    None => reply(NOT_FOUND)?,
                }
            }
            "EPSV" | "PASV" => {
                let listener = TcpListener::bind("127.0.0.1:0")?;
                let port = listener.local_addr()?.port();
                passive = Some(listener);
                if verb == "EPSV" {
                    reply(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?
                } else {
                    reply(&format!("227 Entering Passive Mode (127,0,0,1,{},{}).", port >> 8, port & 0xff))?
                }
            }
            "LIST" | "NLST" => {
                // IIS takes `ls`-style options before the path.
                let words: Vec<&str> = arg.split(' ').collect();
                let skip = words.iter().take_while(|w| w.starts_with('-')).count();
                let target = words[skip..].join(" ");
                let dir = if target.is_empty() { cwd.clone() } else { absolute(&cwd, &target) };
                let Some(payload) = shared.listing(&dir) else {
                    reply(NOT_FOUND)?;
                    continue;
                };
                let Some(listener) = passive.take() else {
                    reply("425 Use PORT or PASV first.")?;
                    continue;
                };
                reply("125 Data connection already open; Transfer starting.")?;
                let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
                data.write_all(&payload)?;
                drop(data);
                reply("226 Transfer complete.")?
            }
            "RETR" => {
                let content = match shared.tree.lock().unwrap().get(&key) {
                    Some(Node::File { data, .. }) => Some(data.clone()),
                    _ => None,
                };
                let (Some(content), Some(listener)) = (content, passive.take()) else {
                    reply(NOT_FOUND)?;
                    continue;
                };
                reply("125 Data connection already open; Transfer starting.")?;
                let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
                data.write_all(&content)?;
                drop(data);
                reply("226 Transfer complete.")?
            }
            "STOR" | "APPE" => {
                let parent_ok =
                    matches!(shared.tree.lock().unwrap().get(&fold(&parent(&path))), Some(Node::Dir { .. }));
                let is_dir = matches!(shared.tree.lock().unwrap().get(&key), Some(Node::Dir { .. }));
                if !parent_ok || is_dir {
                    reply("550 Access is denied.")?;
                    continue;
                }
                let Some(listener) = passive.take() else {
                    reply("425 Use PORT or PASV first.")?;
                    continue;
                };
                reply("125 Data connection already open; Transfer starting.")?;
                let mut data = sockets::accept_data(&listener, IO_TIMEOUT)?;
                let mut content = Vec::new();
                data.read_to_end(&mut content)?;
                let mut tree = shared.tree.lock().unwrap();
                // An existing file keeps the case it was created with.
                let (stored_path, mut old) = match tree.get(&key) {
                    Some(Node::File { path, data, .. }) => (path.clone(), data.clone()),
                    _ => (path.clone(), Vec::new()),
                };
                if verb == "STOR" {
                    old.clear();
                }
                old.extend_from_slice(&content);
                tree.insert(key, Node::File { path: stored_path, data: old, mtime: now() });
                drop(tree);
                reply("226 Transfer complete.")?
            }
            "SIZE" => match shared.tree.lock().unwrap().get(&key) {
                Some(Node::File { data, .. }) => reply(&format!("213 {}", data.len()))?,
                _ => reply(NOT_FOUND)?,
            },
            "MDTM" => match shared.tree.lock().unwrap().get(&key) {
                Some(Node::File { mtime, .. }) => {
                    let t = chrono::DateTime::from_timestamp(*mtime, 0).unwrap().format("%Y%m%d%H%M%S");
                    reply(&format!("213 {t}"))?
                }
                // `MDTM time path` is taken for a path, as IIS does.
                _ => reply(NOT_FOUND)?,
            },
            "DELE" => {
                let mut tree = shared.tree.lock().unwrap();
                let gone = matches!(tree.get(&key), Some(Node::File { .. })) && tree.remove(&key).is_some();
                drop(tree);
                reply(if gone { "250 DELE command successful." } else { NOT_FOUND })?
            }
            "RNFR" => {
                let exists = shared.tree.lock().unwrap().contains_key(&key) && path != "/";
                rename_from = exists.then(|| path.clone());
                reply(if exists { "350 Requested file action pending further information." } else { NOT_FOUND })?
            }
            "RNTO" => {
                let Some(from) = rename_from.take() else {
                    reply("503 Bad sequence of commands.")?;
                    continue;
                };
                let mut tree = shared.tree.lock().unwrap();
                let from_key = fold(&from);
                // Onto an existing name: refused, unless it is the same entry spelt anew.
                if tree.contains_key(&key) && key != from_key {
                    drop(tree);
                    reply(EXISTS)?;
                    continue;
                }
                if !matches!(tree.get(&fold(&parent(&path))), Some(Node::Dir { .. })) {
                    drop(tree);
                    reply(NOT_FOUND)?;
                    continue;
                }
                let moved: Vec<String> = tree
                    .keys()
                    .filter(|k| **k == from_key || k.starts_with(&format!("{from_key}/")))
                    .cloned()
                    .collect();
                for k in moved {
                    let node = tree.remove(&k).unwrap();
                    let new_path = format!("{path}{}", &node.path()[from.len()..]);
                    let node = match node {
                        Node::Dir { .. } => Node::Dir { path: new_path.clone() },
                        Node::File { data, mtime, .. } => Node::File { path: new_path.clone(), data, mtime },
                    };
                    tree.insert(fold(&new_path), node);
                }
                drop(tree);
                reply("250 RNTO command successful.")?
            }
            "MKD" => {
                let mut tree = shared.tree.lock().unwrap();
                let answer = if tree.contains_key(&key) {
                    EXISTS.to_string()
                } else if !matches!(tree.get(&fold(&parent(&path))), Some(Node::Dir { .. })) {
                    NOT_FOUND.to_string()
                } else {
                    tree.insert(key, Node::Dir { path: path.clone() });
                    format!("257 \"{path}\" directory created.")
                };
                drop(tree);
                reply(&answer)?
            }
            "RMD" => {
                let mut tree = shared.tree.lock().unwrap();
                let answer = if !matches!(tree.get(&key), Some(Node::Dir { .. })) || path == "/" {
                    NOT_FOUND
                } else if tree.keys().any(|k| k.starts_with(&format!("{key}/"))) {
                    "550 The directory is not empty."
                } else {
                    tree.remove(&key);
                    "250 RMD command successful."
                };
                drop(tree);
                reply(answer)?
            }
            "ABOR" => reply("225 No transfer to ABOR.")?,
            "QUIT" => {
                reply("221 Goodbye.")?;
                return Ok(());
            }
            _ => reply(&format!("500 '{text}': command not understood."))?,
        }
    }
}
