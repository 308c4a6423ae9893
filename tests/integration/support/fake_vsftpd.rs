//! A scripted FTP server that behaves like vsftpd where vsftpd differs from the in-process
//! server: no `MLSD`/`MLST`, only `LIST -a` (in `ls -l` format, times to the minute) plus
//! `MDTM`, and `LIST` of a folder that does not exist answers `226` with an empty listing, just
//! as for an empty folder. It counts the commands it gets, so tests can check what a target
//! asks for. Read-only: enough to open targets, list and stat.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Folders (absolute, without a trailing `/` except the root) and their files (name, size,
/// mtime in seconds).
pub type Tree = BTreeMap<String, Vec<(String, u64, i64)>>;

pub struct FakeFtp {
    pub port: u16,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl FakeFtp {
    /// Serves `tree` on an ephemeral port of 127.0.0.1 until the test process ends.
    pub fn start(tree: Tree) -> FakeFtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let (tree, shared) = (Arc::new(tree), counts.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (tree, counts) = (tree.clone(), shared.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &tree, &counts);
                });
            }
        });
        FakeFtp { port, counts }
    }

    /// How many commands with this verb were received.
    pub fn count(&self, verb: &str) -> usize {
        self.counts.lock().unwrap().get(verb).copied().unwrap_or(0)
    }
}

fn stamp(t: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t, 0).unwrap()
}

/// Accepts the data connection, giving up after `limit`.
fn accept_within(l: &TcpListener, limit: Duration) -> std::io::Result<TcpStream> {
    l.set_nonblocking(true)?;
    let until = Instant::now() + limit;
    loop {
        match l.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)?;
                return Ok(conn);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e),
        }
    }
}

fn serve(conn: TcpStream, tree: &Tree, counts: &Mutex<HashMap<String, usize>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut out = conn.try_clone()?;
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 (fake vsFTPd 3.0.3)")?;
    let mut passive: Option<TcpListener> = None;
    for line in BufReader::new(conn).lines() {
        let line = line?;
        let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
        let verb = verb.to_ascii_uppercase();
        *counts.lock().unwrap().entry(verb.clone()).or_default() += 1;
        let file = |path: &str| {
            let (dir, name) = path.rsplit_once('/')?;
            let dir = if dir.is_empty() { "/" } else { dir };
            tree.get(dir)?.iter().find(|f| f.0 == name).cloned()
        };
        match verb.as_str() {
            "USER" => reply("331 Please specify the password.")?,
            "PASS" => reply("230 Login successful.")?,
            "TYPE" => reply("200 Switching to Binary mode.")?,
            "FEAT" => reply("211-Features:\r\n EPSV\r\n MDTM\r\n PASV\r\n SIZE\r\n211 End")?,
            "NOOP" => reply("200 NOOP ok.")?,
            "QUIT" => return reply("221 Goodbye."),
            "CWD" if tree.contains_key(arg) => reply("250 Directory successfully changed.")?,
            "CWD" => reply("550 Failed to change directory.")?,
            "MDTM" => match file(arg) {
                Some((_, _, t)) => reply(&format!("213 {}", stamp(t).format("%Y%m%d%H%M%S")))?,
                None => reply("550 Could not get file modification time.")?,
            },
            "EPSV" => {
                let l = TcpListener::bind("127.0.0.1:0")?;
                reply(&format!("229 Entering Extended Passive Mode (|||{}|)", l.local_addr()?.port()))?;
                passive = Some(l);
            }
            "LIST" => {
                let Some(l) = passive.take() else { reply("425 Use PORT or PASV first.")?; continue };
                let path = arg.strip_prefix("-a").map(str::trim_start).unwrap_or(arg);
                reply("150 Here comes the directory listing.")?;
                let mut data = accept_within(&l, Duration::from_secs(10))?;
                // vsftpd: a missing folder lists as empty, with the same 226.
                for (name, size, t) in tree.get(path).into_iter().flatten() {
                    let line = format!("-rw-r--r--    1 1001     1001     {size:8} {} {name}\r\n", stamp(*t).format("%b %d %H:%M"));
                    data.write_all(line.as_bytes())?;
                }
                drop(data);
                reply("226 Directory send OK.")?;
            }
            _ => reply("500 Unknown command.")?,
        }
    }
    Ok(())
}
