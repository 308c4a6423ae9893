//! Interoperability with real FTP servers: proftpd, vsftpd, pure-ftpd, pyftpdlib, GNU inetutils
//! ftpd, netkit ftpd, Twisted and aioftp (and SFTP servers: `servers/sftp.rs`), started on loopback by `.ci/servers.sh` (through
//! `.ci/run`), and ftpsync's own built-in server (`ftpsync serve`, started here in-process),
//! each in plain FTP and, where the server offers it, explicit FTPS with the certificate
//! verified against the run's test CA.
//!
//! For every server and mode, with a fixture of more than 300 files in nested folders (names
//! with spaces, `#`, `%`, `'`, `(`, non-ASCII letters, `日本`, emoji, glob characters, a leading
//! dash, 200 characters; dotfiles, empty folders, empty and binary files with CR/LF bytes, one
//! of 1.5 MB):
//! 0. `names`: a second client (suppaftp) stores one name of each kind on the server and lists
//!    it back; a kind of name the server cannot store is left out of that server's fixture,
//!    and the matrix says so with the proof. Nothing else is ever left out;
//!    `missing`: a remote folder that does not exist is reported as missing, not as empty;
//!    `untrusted` (TLS only): trusting another CA than the test CA, the connection is refused;
//! 1. `upload` into an empty remote folder: the served folder on disk then holds the same bytes
//!    (and modification times, where the server can set them) as the local one, and nothing
//!    else (no temporary files);
//! 2. `replan`: a second plan has nothing to do; `active`: the same, and a download, in active
//!    mode (the server connects back for each transfer);
//! 3. `edits`: files with the hardest names changed locally are uploaded over their old
//!    copies;
//! 4. `sync`: after edits on the served folder and locally (changed, new and deleted files, new
//!    and deleted folders), both sides end up with the expected tree and a further plan is
//!    empty;
//! 5. `nochange`: a sync with nothing changed plans nothing but `equal`, and changes nothing
//!    on either side (both trees byte for byte and time for time as before);
//! 6. `drift`: a file changed on the server after the plan was made makes apply refuse the
//!    whole plan, naming that file, and nothing changes on either side;
//! 7. `download` into an empty local folder gives the served tree.
//!
//! The servers come from the environment (format in `.ci/servers.sh`): `FTPSYNC_TEST_SERVERS`,
//! `FTPSYNC_TEST_SERVER_ROOTS`, `FTPSYNC_TEST_SERVER_VERSIONS`, `FTPSYNC_TEST_CA`. Without
//! them only the built-in server is tested and the test says why, unless `CI=true`, where it
//! fails (as it does when a listed server does not answer). Each result is written as a JSON
//! line to `FTPSYNC_MATRIX_OUT` when set; `.ci/matrix.py` turns them into the README's table.

use std::collections::BTreeMap;
use std::fs;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ftpsync::apply::{ApplyError, apply};
use ftpsync::backend::Target;
use ftpsync::backend::ftp::mtime::{self, Method};
use ftpsync::backend::ftp::ops::{self, ByStat};
use ftpsync::backend::ftp::session::{Session, Settings};
use ftpsync::backend::ftp::tls::{Trust, Verify};
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::local::LocalTarget;
use ftpsync::backend::secret::Secret;
use ftpsync::backend::url::{FtpUrl, Location, Tls};
use ftpsync::model::relpath::RelPath;
use ftpsync::model::{Clock, Kind, SystemClock};
use ftpsync::plan::document::{Action, Plan};
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan_with;
use ftpsync::server::{ServerConfig, ServerHandle};
use serde_json::json;
use suppaftp::FtpStream;
use suppaftp::types::FileType;

use crate::support::{settings, workers};

pub(crate) mod sftp;
mod staged;
mod stat_forms;

/// Bound on every socket operation of the FTP client.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Files of the fixture.
const FILES: usize = 320;

/// 2021-03-04 05:06:07 UTC: fixture times start here, in whole seconds.
const T0: i64 = 1614834367;
/// 2023-01-01 00:00:00 UTC: times of the edits.
const T_EDIT: i64 = 1672531200;

const META_FILE: &str = ".pyftpsync-meta.json";
const LOCK_FILE: &str = ".pyftpsync-lock.json";

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

// ---------------------------------------------------------------------------------------------
// The servers of the environment

/// One server as listed in the environment.
struct Server {
    name: String,
    version: String,
    /// The folder on disk that is the server's `/` for the test login.
    root: PathBuf,
    /// The plain and the TLS URL (at least one).
    urls: Vec<FtpUrl>,
    /// The CA its TLS certificate chains to (`FTPSYNC_TEST_CA` for the servers of the
    /// environment).
    ca: Option<PathBuf>,
}

/// Servers that set modification times (MFMT, SITE UTIME or MDTM with a time): on them the
/// served files must carry the local files' times. The others keep the upload time on disk
/// and ftpsync keeps the real times in its metadata (pyftpsync's way), so there only the
/// local side is compared time for time.
const SETS_MTIMES: [&str; 5] = ["proftpd", "vsftpd", "pure-ftpd", "pyftpdlib", BUILTIN];

/// The name of the built-in server's rows.
const BUILTIN: &str = "ftpsync-serve";

/// The servers `.ci/servers.sh` starts: with `CI=true`, each must be listed.
const CI_SERVERS: [&str; 8] =
    ["proftpd", "vsftpd", "pure-ftpd", "pyftpdlib", "inetutils-ftpd", "netkit-ftpd", "twisted", "aioftp"];

/// `NAME=VALUE;...` pairs, in order.
fn pairs(var: &str) -> Vec<(String, String)> {
    let raw = std::env::var(var).unwrap_or_default();
    raw.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or_else(|| panic!("{var}: {s:?} is not NAME=VALUE"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn servers_from_env() -> Vec<Server> {
    let ca = std::env::var_os("FTPSYNC_TEST_CA").map(PathBuf::from);
    let roots: BTreeMap<_, _> = pairs("FTPSYNC_TEST_SERVER_ROOTS").into_iter().collect();
    let versions: BTreeMap<_, _> = pairs("FTPSYNC_TEST_SERVER_VERSIONS").into_iter().collect();
    let mut out: Vec<Server> = Vec::new();
    for (name, url) in pairs("FTPSYNC_TEST_SERVERS") {
        let url = match Location::parse(&url) {
            Ok(Location::Ftp(u)) => u,
            _ => panic!("FTPSYNC_TEST_SERVERS: {name}: not an ftp:// or ftps:// URL"),
        };
        if let Some(s) = out.iter_mut().find(|s| s.name == name) {
            s.urls.push(url);
            continue;
        }
        let root = roots.get(&name).unwrap_or_else(|| panic!("FTPSYNC_TEST_SERVER_ROOTS has no folder for {name}"));
        out.push(Server {
            version: versions.get(&name).cloned().unwrap_or_else(|| "unknown".into()),
            root: PathBuf::from(root),
            urls: vec![url],
            ca: ca.clone(),
            name,
        });
    }
    out
}

fn mode_name(url: &FtpUrl) -> &'static str {
    if url.tls == Tls::None { "plain" } else { "tls" }
}

/// Whether something accepts connections at the URL's address (bounded).
fn answers(url: &FtpUrl) -> Result<(), String> {
    let addr = (url.host.as_str(), url.effective_port())
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map(drop).map_err(|e| format!("{addr}: {e}"))
}

/// ftpsync's own server (`ftpsync serve`), in-process: one login, plain FTP and explicit FTPS
/// with a self-signed rcgen certificate, which the client trusts as its CA.
fn builtin_server(dir: &Path) -> (Server, ServerHandle) {
    let root = dir.join("served");
    fs::create_dir_all(&root).unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    fs::write(&cert, key.cert.pem()).unwrap();
    fs::write(&key_pem, key.signing_key.serialize_pem()).unwrap();
    let (user, password) = ("matrix", "matrix-pw");
    let config = ServerConfig {
        login: Some((user.into(), password.into())),
        tls: Some((cert.clone(), key_pem)),
        ..ServerConfig::new(&root)
    };
    let handle = ftpsync::server::start(config).expect("the built-in server does not start");
    let port = handle.addr().port();
    let urls =
        [format!("ftp://{user}:{password}@127.0.0.1:{port}/"), format!("ftps://{user}:{password}@localhost:{port}/")]
            .iter()
            .map(|u| match Location::parse(u) {
                Ok(Location::Ftp(u)) => u,
                _ => panic!("{u}: not an FTP URL"),
            })
            .collect();
    let version = format!("ftpsync {} (libunftp)", env!("CARGO_PKG_VERSION"));
    (Server { name: BUILTIN.into(), version, root, urls, ca: Some(cert) }, handle)
}

// ---------------------------------------------------------------------------------------------
// Names a server can store, proven by a second client

/// A kind of name in the fixture, with one name of that kind to try on the server.
struct NameKind {
    label: &'static str,
    probe: &'static str,
    /// Whether a path component is of this kind.
    applies: fn(&str) -> bool,
}

/// 200 characters.
const LONG_NAME: &str = concat!(
    "long-",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.txt"
);

const _: () = assert!(LONG_NAME.len() == 200);

const NAME_KINDS: [NameKind; 12] = [
    NameKind { label: "a space", probe: "a b.txt", applies: |n| n.contains(' ') },
    NameKind { label: "#", probe: "hash#1.txt", applies: |n| n.contains('#') },
    NameKind { label: "%", probe: "pct100%41.txt", applies: |n| n.contains('%') },
    NameKind { label: "'", probe: "it's.txt", applies: |n| n.contains('\'') },
    NameKind { label: "( or )", probe: "paren(1).txt", applies: |n| n.contains(['(', ')']) },
    NameKind {
        label: "é (non-ASCII, in Latin-1)",
        probe: "café.txt",
        applies: |n| n.chars().any(|c| ('\u{80}'..='\u{ff}').contains(&c)),
    },
    NameKind {
        label: "日本 (beyond Latin-1)",
        probe: "日本.txt",
        applies: |n| n.chars().any(|c| ('\u{100}'..='\u{ffff}').contains(&c)),
    },
    NameKind { label: "🎉 (beyond the BMP)", probe: "emoji🎉.md", applies: |n| n.chars().any(|c| c > '\u{ffff}') },
    NameKind { label: "a leading dash", probe: "-la", applies: |n| n.starts_with('-') },
    NameKind { label: "200 characters", probe: LONG_NAME, applies: |n| n.chars().count() >= 200 },
    NameKind {
        label: "glob characters *?[]{}",
        probe: "glob*?[1]{a,b}.txt",
        applies: |n| n.contains(['*', '?', '[', ']', '{', '}']),
    },
    NameKind { label: "; or &", probe: "semi;colon&amp.txt", applies: |n| n.contains([';', '&']) },
];

/// The kinds of name a server cannot store, each with its proof.
#[derive(Default)]
struct Unstorable(Vec<(&'static NameKind, String)>);

impl Unstorable {
    /// Whether every component of a relative path (a folder ends with `/`) can be stored.
    fn storable(&self, path: &str) -> bool {
        path.trim_end_matches('/').split('/').all(|part| self.0.iter().all(|(kind, _)| !(kind.applies)(part)))
    }

    fn detail(&self) -> String {
        if self.0.is_empty() {
            return format!("all {} kinds of name stored and listed back (checked with suppaftp)", NAME_KINDS.len());
        }
        self.0
            .iter()
            .map(|(kind, proof)| format!("server cannot store names with {} (proven by suppaftp: {proof})", kind.label))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The name at the end of a `ls -l` line (after eight fields), or the whole line.
fn name_in_list_line(line: &str) -> &str {
    let mut rest = line;
    for _ in 0..8 {
        rest = rest.trim_start();
        match rest.find(char::is_whitespace) {
            Some(end) => rest = &rest[end..],
            None => return line,
        }
    }
    rest.strip_prefix(' ').unwrap_or(rest).trim_start()
}

/// Stores one name of each kind into `folder` (on disk: `on_disk`, made here and removed
/// after) with suppaftp, lists the folder and finds each name at the end of a line; a name
/// refused or listed as something else is a kind the server cannot store.
fn probe_names(url: &FtpUrl, folder: &str, on_disk: &Path, owner: (u32, u32)) -> Result<Unstorable, String> {
    fs::create_dir(on_disk).map_err(|e| format!("{}: {e}", on_disk.display()))?;
    std::os::unix::fs::chown(on_disk, Some(owner.0), Some(owner.1)).unwrap();
    let result = (|| {
        let addr = (url.host.as_str(), url.effective_port())
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .next()
            .ok_or("no address")?;
        let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
        let mut ftp = FtpStream::connect_with_stream(tcp).map_err(|e| format!("greeting: {e}"))?;
        ftp.login(url.user.as_deref().unwrap_or("anonymous"), url.password.as_deref().unwrap_or_default())
            .map_err(|e| format!("login: {e}"))?;
        ftp.transfer_type(FileType::Binary).map_err(|e| format!("TYPE I: {e}"))?;
        let dir = format!("{}/{folder}", url.path.trim_end_matches('/'));
        ftp.cwd(&dir).map_err(|e| format!("CWD {dir}: {e}"))?;
        let refused: Vec<Option<String>> = NAME_KINDS
            .iter()
            .map(|kind| {
                ftp.put_file(kind.probe, &mut std::io::Cursor::new(b"probe".to_vec()))
                    .err()
                    .map(|e| format!("STOR {:?}: {e}", kind.probe))
            })
            .collect();
        let lines = ftp.list(None).map_err(|e| format!("LIST: {e}"))?;
        let _ = ftp.quit();
        let listed = |name: &str| lines.iter().any(|l| l.ends_with(&format!(" {name}")));
        let others: Vec<&str> = lines
            .iter()
            .filter(|l| !NAME_KINDS.iter().any(|k| l.ends_with(&format!(" {}", k.probe))))
            .map(|l| name_in_list_line(l))
            .collect();
        let mut out = Unstorable::default();
        for (kind, refused) in NAME_KINDS.iter().zip(refused) {
            match refused {
                Some(why) => out.0.push((kind, why)),
                None if !listed(kind.probe) => out.0.push((
                    kind,
                    format!("STOR {:?} succeeded, LIST does not show it; it shows instead {others:?}", kind.probe),
                )),
                None => {}
            }
        }
        Ok(out)
    })();
    let _ = fs::remove_dir_all(on_disk);
    result
}

// ---------------------------------------------------------------------------------------------
// The fixture

/// A small deterministic generator (xorshift64*), so the fixture is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const FOLDERS: [&str; 13] = [
    "",
    "docs",
    "docs/2021",
    "docs/2021/März Berichte",
    "data with spaces",
    "data with spaces/nested level two",
    "ünïcødé",
    "ünïcødé/日本語のフォルダ",
    "emoji 🎉 party",
    "deep/a/b/c/d",
    "deep/a/b/c/d/e f",
    "Ελληνικά",
    "brackets [v2] (final) #1 & 'quoted' 100%",
];

/// Name patterns; `#` is the file number.
const NAMES: [&str; 12] = [
    "file #.txt",
    "Größe #.bin",
    "naïve café #.dat",
    "日本語 #.txt",
    "noextension#",
    "many.dots.#.tar.gz",
    "UPPER CASE #.TXT",
    "emoji 🎉 #.md",
    "semi;colon #.csv",
    "ñandú-#.log",
    ".dotfile #",
    "glob *?[#] {a,b}.txt",
];

/// Files with the hardest names, beside the generated ones: folders with spaces (nested too),
/// `#`, `%` (also `%41`, which a client that decodes URLs would turn into `A`), `'`, `(`,
/// non-ASCII, a leading dash (`-la` is also an option of `ls`), 200 characters.
fn special_files() -> Vec<String> {
    let mut out: Vec<String> = [
        "a b/x.txt",
        "p/q r/y.txt",
        "é ü/z.txt",
        "hash # folder/#1 hash#.txt",
        "100% sure/pct %41 %20 100%.txt",
        "it's/l'été 'quoted'.txt",
        "(paren)/(1) copy (2).txt",
        "日本/日本語 ファイル.txt",
        "-dash folder/-leading dash.txt",
        "-la/-rf",
        "-la/x y/-l",
    ]
    .map(String::from)
    .into();
    out.push(LONG_NAME.to_string());
    out.push(format!("a b/{LONG_NAME}"));
    out
}

/// Relative path → (content, mtime) of files; folders end with `/` (no content, time 0).
type Tree = BTreeMap<String, (Vec<u8>, i64)>;

/// Folders of the fixture that stay empty.
const EMPTY_FOLDERS: [&str; 2] = ["empty folder/", "docs/leer ünï/"];

fn fixture() -> Tree {
    let mut rng = Rng(0x5eed_f00d_dead_beef);
    let mut tree = Tree::new();
    for i in 0..FILES {
        let folder = FOLDERS[i % FOLDERS.len()];
        let name = NAMES[(i / FOLDERS.len()) % NAMES.len()].replace('#', &format!("{i:03}"));
        let path = if folder.is_empty() { name } else { format!("{folder}/{name}") };
        let size = match i {
            113 => 1_500_000,
            _ if i % 37 == 0 => 0,
            _ if i % 25 == 0 => 10_000 + rng.below(90_000) as usize,
            _ => 1 + rng.below(2_000) as usize,
        };
        let content = if path.ends_with(".txt") || path.ends_with(".TXT") {
            // Text with LF and CRLF line ends: an ASCII-mode transfer would change it.
            (0..size)
                .map(|k| {
                    if k % 40 == 39 {
                        b'\n'
                    } else if k % 97 == 96 {
                        b'\r'
                    } else {
                        b'a' + (k % 26) as u8
                    }
                })
                .collect()
        } else {
            rng.bytes(size)
        };
        tree.insert(path, (content, T0 + i as i64 * 3607));
    }
    for (k, path) in special_files().into_iter().enumerate() {
        let size = 1 + rng.below(3_000) as usize;
        let content = rng.bytes(size);
        tree.insert(path, (content, T0 - 86_400 - k as i64 * 61));
    }
    for dir in EMPTY_FOLDERS {
        tree.insert(dir.into(), (Vec::new(), 0));
    }
    tree
}

/// The fixture without the names the server cannot store.
fn fixture_for(names: &Unstorable) -> Tree {
    fixture().into_iter().filter(|(p, _)| names.storable(p)).collect()
}

/// Writes a tree under `root`; files and folders get `owner` when given (the served side).
fn write_tree(root: &Path, tree: &Tree, owner: Option<(u32, u32)>) {
    for (path, (content, mtime)) in tree {
        match path.strip_suffix('/') {
            Some(dir) => make_dirs(root, &root.join(dir), owner),
            None => write_file(root, path, content, *mtime, owner),
        }
    }
}

/// Creates `dir` and its missing parents up to `root`, owned by `owner` when given.
fn make_dirs(root: &Path, dir: &Path, owner: Option<(u32, u32)>) {
    if dir.exists() {
        return;
    }
    if dir != root {
        make_dirs(root, dir.parent().unwrap(), owner);
    }
    fs::create_dir(dir).unwrap();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
    }
}

fn write_file(root: &Path, rel: &str, content: &[u8], mtime: i64, owner: Option<(u32, u32)>) {
    let path = root.join(rel);
    make_dirs(root, path.parent().unwrap(), owner);
    fs::write(&path, content).unwrap();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
    }
    let t = filetime::FileTime::from_unix_time(mtime, 0);
    filetime::set_file_times(&path, t, t).unwrap();
}

/// Every file and folder below `root` (metadata and lock excluded; anything else, temporary
/// files included, counts).
fn read_tree(root: &Path) -> Tree {
    walk_tree(root, &|rel| !(rel.ends_with(META_FILE) || rel == LOCK_FILE))
}

/// The files below `root` that `keep` takes (by path relative to it; files: bytes and mtime),
/// and every folder (`/`).
fn walk_tree(root: &Path, keep: &dyn Fn(&str) -> bool) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if meta.is_dir() {
                stack.push(e.path());
                out.insert(format!("{rel}/"), (Vec::new(), 0));
            } else if keep(&rel) {
                out.insert(rel, (fs::read(e.path()).unwrap(), meta.mtime()));
            }
        }
    }
    out
}

/// A tree with the folders its paths imply.
fn with_folders(tree: &Tree) -> Tree {
    let mut out = tree.clone();
    for path in tree.keys() {
        let mut rest = path.trim_end_matches('/');
        while let Some((parent, _)) = rest.rsplit_once('/') {
            out.insert(format!("{parent}/"), (Vec::new(), 0));
            rest = parent;
        }
    }
    out
}

/// Compares trees (files: bytes, and mtime when `times`; folders: existence); the error names
/// the first differences.
fn same_tree(what: &str, got: &Tree, want: &Tree, times: bool) -> Result<(), String> {
    let (got, want) = (&with_folders(got), &with_folders(want));
    let mut diffs = Vec::new();
    for (path, (content, mtime)) in want {
        match got.get(path) {
            None => diffs.push(format!("{path:?} missing")),
            Some((c, _)) if c != content => {
                diffs.push(format!("{path:?} has other bytes ({} instead of {} bytes)", c.len(), content.len()))
            }
            Some((_, m)) if times && m != mtime => diffs.push(format!("{path:?} has mtime {m} instead of {mtime}")),
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        diffs.push(format!("{path:?} should not exist"));
    }
    if diffs.is_empty() {
        return Ok(());
    }
    let n = diffs.len();
    diffs.truncate(5);
    Err(format!("{what}: {n} difference(s): {}", diffs.join("; ")))
}

// ---------------------------------------------------------------------------------------------
// One server, one mode

/// One line of the matrix.
struct Row {
    operation: &'static str,
    ok: bool,
    /// Not run because of a known problem of the server (`detail` says which).
    skipped: bool,
    seconds: f64,
    detail: String,
    /// Listing and time-setting commands used (on the `upload` line).
    protocol: Option<String>,
}

fn connect(url: &FtpUrl, folder: &str, ca: Option<&Path>) -> anyhow::Result<FtpTarget> {
    let verify = match url.tls {
        Tls::None => Verify::Nothing,
        _ => Verify::CaFile(ca.expect("FTPSYNC_TEST_CA is needed for TLS").to_path_buf()),
    };
    connect_verifying(url, folder, &verify)
}

fn connect_verifying(url: &FtpUrl, folder: &str, verify: &Verify) -> anyhow::Result<FtpTarget> {
    FtpTarget::open(session_settings(url, folder, verify)?, Options { retries: 3, create_root: false })
}

/// [`connect`] in active mode (the server connects to us for each transfer).
fn connect_active(url: &FtpUrl, folder: &str, ca: Option<&Path>) -> anyhow::Result<FtpTarget> {
    let verify = ca.map_or(Verify::Nothing, |ca| Verify::CaFile(ca.to_path_buf()));
    let settings = Settings { active: true, ..session_settings(url, folder, &verify)? };
    FtpTarget::open(settings, Options { retries: 3, create_root: false })
}

fn session_settings(url: &FtpUrl, folder: &str, verify: &Verify) -> anyhow::Result<Settings> {
    let mut url = url.clone();
    url.path = format!("{}/{folder}", url.path.trim_end_matches('/'));
    let trust = match url.tls {
        Tls::None => None,
        _ => Some(Trust::new(verify)?),
    };
    Ok(Settings {
        user: url.user.clone().unwrap_or_else(|| "anonymous".into()),
        password: Secret::new(url.password.clone().unwrap_or_default()),
        url,
        trust,
        active: false,
        timeout: TIMEOUT,
    })
}

/// How the target talks to this server: its listing command and the command that sets
/// modification times (found as the target finds it, on an uploaded file).
fn protocol(url: &FtpUrl, folder: &str, ca: Option<&Path>, file: &str, mtime: i64) -> Result<String, String> {
    let verify = ca.map_or(Verify::Nothing, |ca| Verify::CaFile(ca.to_path_buf()));
    let settings = session_settings(url, folder, &verify).map_err(|e| format!("{e:#}"))?;
    let mut session = Session::open(&settings).map_err(|e| format!("{e:#}"))?;
    let mut listing = if session.features.mlsd { "MLSD" } else { "LIST -a + MDTM" };
    // Folders listed in batches over the control connection, where the server does: what it
    // gives must be exactly what the listing above gives (folder times are not compared by
    // either: `LIST` shows them to the minute).
    let top = settings.url.path.clone();
    if let ByStat::Listed(by_stat) = ops::list_by_stat(&mut session, std::slice::from_ref(&top))
        .map_err(|e| format!("STAT listing: {e:#}"))?
        .remove(0)
    {
        let plain = ops::list(&mut session, &top, None, &ftpsync::backend::ftp::list_method::ListMethod::default())
            .map_err(|e| format!("{listing}: {e:#}"))?
            .ok_or("the top folder is missing")?;
        let facts = |l: &ftpsync::model::listing::Listing| {
            let mut v: Vec<_> = l
                .entries
                .iter()
                .map(|e| (e.name.clone(), e.kind, if e.kind == Kind::File { (e.size, e.mtime as i64) } else { (0, 0) }))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let (a, b) = (facts(&by_stat), facts(&plain));
        if a != b {
            return Err(format!("STAT -la lists other entries than {listing}: {a:?} vs {b:?}"));
        }
        listing = if session.features.mlsd {
            "STAT -la + MDTM in batches (MLSD alone)"
        } else {
            "STAT -la + MDTM in batches (LIST -a alone)"
        };
    }
    let shared = mtime::Shared::default();
    let path = format!("{}/{file}", settings.url.path);
    // A day off the time it was uploaded with: only a command that works changes it (a file
    // that has the time already cannot tell which did).
    mtime::discover(&mut session, &shared, &path, (mtime - 86_400) as f64)
        .map_err(|e| format!("setting a modification time: {e:#}"))?;
    let method = match *shared.lock().unwrap() {
        Some(Method::Mfmt) => "MFMT",
        Some(Method::SiteUtimeLong) => "SITE UTIME (5 arguments)",
        Some(Method::SiteUtimeShort) => "SITE UTIME",
        Some(Method::MdtmSet) => "MDTM YYYYMMDDHHMMSS path",
        Some(Method::Unsupported) | None => "none",
    };
    session.quit();
    Ok(format!("{listing}; times set with {method}"))
}

/// Plans and applies; returns the plan.
fn run(local: &Path, remote: &mut FtpTarget, mode: Mode) -> Result<Plan, String> {
    let mut l = LocalTarget::open(local).map_err(|e| format!("{e:#}"))?;
    let plan = make_plan_with(&mut l, remote, PlanOptions::new(mode), SystemClock.now(), workers())
        .map_err(|e| format!("plan: {e:#}"))?
        .plan;
    check_nothing_skipped(&plan)?;
    let applied = apply(&plan, &mut l, remote, &settings()).map_err(|e| format!("apply: {e:#}"))?;
    if let Some(cause) = &applied.rolled_back {
        return Err(format!("apply rolled back: {cause:#}"));
    }
    let errors: Vec<String> = applied
        .outcomes
        .iter()
        .zip(&plan.entries)
        .filter_map(|(o, e)| o.error.as_ref().map(|err| format!("{}: {err}", e.path)))
        .collect();
    if applied.failures() > 0 || !errors.is_empty() {
        let n = errors.len();
        return Err(format!(
            "apply: {} failure(s): {}",
            n.max(applied.failures()),
            errors.into_iter().take(3).collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(plan)
}

/// No name was refused by the listing parser or the scan.
fn check_nothing_skipped(plan: &Plan) -> Result<(), String> {
    let skipped: Vec<String> = plan
        .folders
        .iter()
        .flat_map(|f| {
            [&f.local, &f.remote]
                .into_iter()
                .flatten()
                .flat_map(|s| s.skipped.iter())
                .map(move |s| format!("{}/{} ({})", f.path, s.name, s.reason))
        })
        .collect();
    if skipped.is_empty() { Ok(()) } else { Err(format!("entries skipped by the scan: {}", skipped.join("; "))) }
}

/// A plan that must do nothing.
fn plan_is_empty(local: &Path, remote: &mut FtpTarget) -> Result<(), String> {
    let mut l = LocalTarget::open(local).map_err(|e| format!("{e:#}"))?;
    let plan = make_plan_with(&mut l, remote, PlanOptions::new(Mode::Sync), SystemClock.now(), workers())
        .map_err(|e| format!("plan: {e:#}"))?
        .plan;
    check_nothing_skipped(&plan)?;
    let busy: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.effective_action() != Action::Equal)
        .map(|e| format!("{} {}", e.effective_action().as_str(), e.path))
        .collect();
    if busy.is_empty() {
        return Ok(());
    }
    let n = busy.len();
    Err(format!("{n} entr(ies) not equal: {}", busy.into_iter().take(5).collect::<Vec<_>>().join("; ")))
}

/// The first of `candidates` that is a folder of `tree`.
fn first_folder<'a>(tree: &Tree, candidates: &[&'a str]) -> Option<&'a str> {
    candidates.iter().copied().find(|c| tree.keys().any(|k| k.starts_with(c)))
}

/// Edits on both sides before the sync, and the tree expected afterwards on both (names the
/// server cannot store are left out, as in the fixture).
fn edit_both(local: &Path, served: &Path, owner: (u32, u32), expected: &mut Tree, names: &Unstorable) {
    // Whole folders deleted on one side each (untouched on the other: deleted on both after).
    let gone_locally = first_folder(expected, &["Ελληνικά/", "data with spaces/nested level two/"])
        .expect("no folder to delete locally");
    let gone_on_server =
        first_folder(expected, &["deep/a/b/c/d/e f/", "docs/2021/"]).expect("no folder to delete on the server");
    fs::remove_dir_all(local.join(gone_locally)).unwrap();
    fs::remove_dir_all(served.join(gone_on_server)).unwrap();
    expected.retain(|p, _| !p.starts_with(gone_locally) && !p.starts_with(gone_on_server));
    let files: Vec<String> = expected.keys().filter(|p| !p.ends_with('/')).cloned().collect();
    let nth = |i: usize| files[i % files.len()].clone();
    let mut change = |root: &Path, owner: Option<(u32, u32)>, rel: &str, content: Vec<u8>, mtime: i64| {
        if names.storable(rel) {
            write_file(root, rel, &content, mtime, owner);
            expected.insert(rel.to_string(), (content, mtime));
        }
    };
    // Changed on the server (new sizes, newer times), new there, one in a new folder.
    for (k, i) in [3, 50, 101].into_iter().enumerate() {
        change(served, Some(owner), &nth(i), format!("changed on the server {k}\r\n").into_bytes(), T_EDIT + k as i64);
    }
    change(served, Some(owner), "server new/neu ñ.txt", b"new on the server\n".to_vec(), T_EDIT + 10);
    change(served, Some(owner), "server new/plain.txt", b"new on the server, ASCII name\n".to_vec(), T_EDIT + 12);
    change(served, Some(owner), "docs/von Server.txt", b"also new on the server\n".to_vec(), T_EDIT + 11);
    // Changed locally, new locally, one in a new folder.
    for (k, i) in [7, 77, 150].into_iter().enumerate() {
        change(local, None, &nth(i), format!("changed locally {k}\n").into_bytes(), T_EDIT + 20 + k as i64);
    }
    change(local, None, "local new ü.txt", b"new locally\n".to_vec(), T_EDIT + 30);
    change(local, None, "neuer Ordner/Datei 1.bin", vec![0, 13, 10, 255], T_EDIT + 31);
    change(local, None, "new folder/-new (1) #2 100%.txt", b"new locally, hard name\n".to_vec(), T_EDIT + 32);
    // Files deleted on one side each (not one changed above).
    for (root, i) in [(served, 200), (local, 250)] {
        let victim =
            (0..files.len()).map(|k| nth(i + k)).find(|f| expected.get(f).is_some_and(|(_, m)| *m < T_EDIT)).unwrap();
        fs::remove_file(root.join(&victim)).unwrap();
        expected.remove(&victim);
    }
}

/// Local edits of the files with the hardest names (other sizes, newer times), for `edits`.
fn edit_hard_names(local: &Path, expected: &mut Tree) -> usize {
    let hard: Vec<String> = special_files().into_iter().filter(|p| expected.contains_key(p)).collect();
    for (k, rel) in hard.iter().enumerate() {
        let content = format!("edited locally {k}: {rel}\n").into_bytes();
        write_file(local, rel, &content, T_EDIT + 40 + k as i64, None);
        expected.insert(rel.clone(), (content, T_EDIT + 40 + k as i64));
    }
    hard.len()
}

/// Operations left out for a server because of a problem on its side, and why.
fn known_problem(server: &str, operation: &str) -> Option<&'static str> {
    match (server, operation) {
        ("pyftpdlib", "active") => Some(
            "pyftpdlib 2.2 stalls here for its 30 s timeout on some active-mode data connections when several sessions \
             are open (Python's ftplib client too): the connection is established but its event loop never reports it",
        ),
        ("aioftp", "active") => {
            Some("aioftp 0.28 has no active mode: it answers PORT and EPRT with 502 (passive mode only)")
        }
        _ => None,
    }
}

/// One operation of the scenario: it gets a fresh connection, and returns its detail.
type Step<'a> = Box<dyn FnMut(&mut FtpTarget) -> Result<String, String> + 'a>;

/// names → missing → upload → replan → active → edits → sync → nochange → drift → download for
/// one server and mode; stops at the first failure.
fn scenario(server: &Server, url: &FtpUrl, names: &Unstorable, scratch: &Path) -> Vec<Row> {
    let mode = mode_name(url);
    let ca = server.ca.as_deref();
    let times = SETS_MTIMES.contains(&server.name.as_str());
    // A space and a non-ASCII letter in the root folder's name too, where the server can
    // store them.
    let stamp = format!("{}-{}", std::process::id(), SystemClock.now() as u64);
    let folder = if names.storable("plain ü") { format!("{mode} ü-{stamp}") } else { format!("{mode}-u-{stamp}") };
    let served = server.root.join(&folder);
    let root_meta = fs::metadata(&server.root)
        .unwrap_or_else(|e| panic!("{}: served folder {}: {e}", server.name, server.root.display()));
    let owner = (root_meta.uid(), root_meta.gid());
    fs::create_dir(&served).unwrap();
    std::os::unix::fs::chown(&served, Some(owner.0), Some(owner.1)).unwrap();
    let local = scratch.join(format!("{}-{mode}-local", server.name));
    let base = fixture_for(names);
    let mut expected = base.clone();
    write_tree(&local, &expected, None);

    let fresh = scratch.join(format!("{}-{mode}-download", server.name));
    let mut steps: Vec<(&'static str, Step)> = Vec::new();
    let (served_ref, local_ref, fresh_ref, base_ref, folder_ref) = (&served, &local, &fresh, &base, &folder);
    let files = base.keys().filter(|p| !p.ends_with('/')).count();
    steps.push((
        "missing",
        Box::new(move |_| match connect(url, &format!("{folder_ref}/not here"), ca) {
            Ok(_) => Err("a folder that does not exist was opened as if it existed".into()),
            Err(e) if format!("{e:#}").contains("does not exist") => Ok("reported as missing".into()),
            Err(e) => Err(format!("unexpected error: {e:#}")),
        }),
    ));
    if url.tls != Tls::None {
        // The certificate is really checked: trusting another CA, the connection fails.
        let other_ca = scratch.join(format!("{}-other-ca.pem", server.name));
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        fs::write(&other_ca, ck.cert.pem()).unwrap();
        steps.push((
            "untrusted",
            Box::new(move |_| match connect_verifying(url, folder_ref, &Verify::CaFile(other_ca.clone())) {
                Ok(_) => Err("connected although the certificate is not from a trusted CA".into()),
                Err(e) if format!("{e:#}").contains("invalid peer certificate") => Ok("unknown CA refused".into()),
                Err(e) => Err(format!("unexpected error: {e:#}")),
            }),
        ));
    }
    steps.push((
        "upload",
        Box::new(move |remote| {
            let plan = run(local_ref, remote, Mode::Upload)?;
            same_tree("served folder", &read_tree(served_ref), base_ref, times)?;
            let kept = if times { "mtimes kept" } else { "mtimes in the metadata (the server cannot set them)" };
            Ok(format!("{files} files, {} bytes; {kept}", plan.summary.upload_bytes))
        }),
    ));
    steps.push(("replan", Box::new(|remote| plan_is_empty(local_ref, remote).map(|()| "nothing to do".to_string()))));
    steps.push((
        "active",
        Box::new(move |_| {
            let mut active = connect_active(url, folder_ref, ca).map_err(|e| format!("connect: {e:#}"))?;
            plan_is_empty(local_ref, &mut active)?;
            let mut copy = Vec::new();
            let first = base_ref.iter().find(|(p, (c, _))| !p.ends_with('/') && c.len() > 1000).unwrap();
            active
                .read_file(&RelPath::parse(first.0).unwrap(), &mut |r| Ok(r.read_to_end(&mut copy).map(drop)?))
                .map_err(|e| format!("download: {e:#}"))?;
            active.close().map_err(|e| format!("close: {e:#}"))?;
            if copy != first.1.0 {
                return Err(format!("{}: other bytes in active mode", first.0));
            }
            Ok("scan and download in active mode".into())
        }),
    ));
    // The steps below change `expected` in turn; each borrows it while it runs.
    let expected_cell = std::cell::RefCell::new(&mut expected);
    let expected_ref = &expected_cell;
    steps.push((
        "edits",
        Box::new(move |remote| {
            let mut expected = expected_ref.borrow_mut();
            let n = edit_hard_names(local_ref, &mut expected);
            let plan = run(local_ref, remote, Mode::Upload)?;
            same_tree("served folder", &read_tree(served_ref), &expected, times)?;
            same_tree("local folder", &read_tree(local_ref), &expected, true)?;
            if plan.summary.upload_files as usize != n {
                return Err(format!("{} files uploaded, {n} edited", plan.summary.upload_files));
            }
            Ok(format!("{n} files with hard names replaced"))
        }),
    ));
    steps.push((
        "sync",
        Box::new(move |remote| {
            let mut expected = expected_ref.borrow_mut();
            edit_both(local_ref, served_ref, owner, &mut expected, names);
            let plan = run(local_ref, remote, Mode::Sync)?;
            same_tree("local folder", &read_tree(local_ref), &expected, true)?;
            same_tree("served folder", &read_tree(served_ref), &expected, times)?;
            plan_is_empty(local_ref, remote)?;
            let s = &plan.summary;
            Ok(format!(
                "{} up, {} down, {} deleted",
                s.upload_files,
                s.download_files,
                s.delete_local + s.delete_remote
            ))
        }),
    ));
    steps.push((
        "nochange",
        Box::new(move |remote| {
            let (local_before, served_before) = (read_tree(local_ref), read_tree(served_ref));
            let plan = run(local_ref, remote, Mode::Sync)?;
            let busy: Vec<String> = plan
                .entries
                .iter()
                .filter(|e| e.effective_action() != Action::Equal)
                .map(|e| format!("{} {}", e.effective_action().as_str(), e.path))
                .collect();
            if !busy.is_empty() {
                return Err(format!(
                    "a sync with nothing changed planned {} action(s): {}",
                    busy.len(),
                    busy.into_iter().take(5).collect::<Vec<_>>().join("; ")
                ));
            }
            same_tree("local folder after the sync", &read_tree(local_ref), &local_before, true)?;
            same_tree("served folder after the sync", &read_tree(served_ref), &served_before, true)?;
            Ok(format!("{} entries equal, nothing copied or deleted", plan.entries.len()))
        }),
    ));
    steps.push((
        "drift",
        Box::new(move |remote| {
            let mut expected = expected_ref.borrow_mut();
            // A local edit planned for upload; then, before apply, the same file changes on
            // the server: applying the plan would overwrite that change.
            let file = ["a b/x.txt", "p/q r/y.txt"]
                .into_iter()
                .find(|f| expected.contains_key(*f))
                .unwrap_or_else(|| expected.keys().find(|p| !p.ends_with('/')).unwrap())
                .to_string();
            write_file(local_ref, &file, b"local edit, planned\n", T_EDIT + 100, None);
            let mut l = LocalTarget::open(local_ref).map_err(|e| format!("{e:#}"))?;
            let plan = make_plan_with(&mut l, remote, PlanOptions::new(Mode::Upload), SystemClock.now(), workers())
                .map_err(|e| format!("plan: {e:#}"))?
                .plan;
            let planned: Vec<String> = plan
                .entries
                .iter()
                .filter(|e| e.effective_action() != Action::Equal)
                .map(|e| e.path.to_string())
                .collect();
            if planned != [file.clone()] {
                return Err(format!("the plan should upload {file:?} only, it has {planned:?}"));
            }
            let server_edit = b"changed on the server after the plan\r\n".to_vec();
            write_file(served_ref, &file, &server_edit, T_EDIT + 101, Some(owner));
            expected.insert(file.clone(), (server_edit, T_EDIT + 101));
            let (local_before, served_before) = (read_tree(local_ref), read_tree(served_ref));
            let outcome = apply(&plan, &mut l, remote, &settings());
            same_tree("local folder after the refused apply", &read_tree(local_ref), &local_before, true)?;
            same_tree("served folder after the refused apply", &read_tree(served_ref), &served_before, true)?;
            match outcome {
                Err(ApplyError::Drift(d)) if d.iter().any(|d| d.path == file) => {
                    Ok(format!("refused: {} difference(s), {file:?} named", d.len()))
                }
                Err(ApplyError::Drift(d)) => Err(format!("drift reported, but not for {file:?}: {d:?}")),
                Err(e) => Err(format!("apply failed, but not with drift: {e:#}")),
                Ok(_) => Err(format!("apply overwrote {file:?}, changed on the server after the plan")),
            }
        }),
    ));
    steps.push((
        "download",
        Box::new(move |remote| {
            let expected = expected_ref.borrow();
            fs::create_dir_all(fresh_ref).unwrap();
            let plan = run(fresh_ref, remote, Mode::Download)?;
            same_tree("downloaded folder", &read_tree(fresh_ref), &read_tree(served_ref), times)?;
            same_tree("downloaded folder", &read_tree(fresh_ref), &expected, true)?;
            Ok(format!("{} files, {} bytes", plan.summary.download_files, plan.summary.download_bytes))
        }),
    ));

    let mut rows = vec![Row {
        operation: "names",
        ok: true,
        skipped: !names.0.is_empty(),
        seconds: 0.0,
        detail: names.detail(),
        protocol: None,
    }];
    // Each operation needs the previous ones, except the checks `missing`, `untrusted` and
    // `active`, which change nothing.
    let mut failed: Option<&'static str> = None;
    for (operation, mut step) in steps {
        if let Some(first) = failed {
            rows.push(Row {
                operation,
                ok: false,
                skipped: false,
                seconds: 0.0,
                detail: format!("not run ({first} failed)"),
                protocol: None,
            });
            continue;
        }
        if let Some(why) = known_problem(&server.name, operation) {
            rows.push(Row { operation, ok: true, skipped: true, seconds: 0.0, detail: why.into(), protocol: None });
            continue;
        }
        let started = Instant::now();
        // A fresh connection per operation, as separate runs of the tool would have.
        let result = connect(url, &folder, ca).map_err(|e| format!("connect: {e:#}")).and_then(|mut remote| {
            let r = step(&mut remote);
            let closed = remote.close().map_err(|e| format!("close: {e:#}"));
            r.and_then(|detail| closed.map(|()| detail))
        });
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(detail) => rows.push(Row { operation, ok: true, skipped: false, seconds, detail, protocol: None }),
            Err(detail) => {
                if !matches!(operation, "missing" | "untrusted" | "active") {
                    failed = failed.or(Some(operation));
                }
                rows.push(Row { operation, ok: false, skipped: false, seconds, detail, protocol: None });
            }
        }
    }
    if let Some(upload) = rows.iter_mut().find(|r| r.operation == "upload" && r.ok) {
        let (file, (_, mtime)) = base.iter().find(|(p, _)| !p.ends_with('/')).unwrap();
        match protocol(url, &folder, ca, file, *mtime) {
            Ok(p) => upload.protocol = Some(p),
            Err(e) => {
                upload.ok = false;
                upload.detail = e;
            }
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// The test

/// netkit's ftpd connects back in active mode from the port below its control port; inside the
/// kernel's ephemeral range any client socket holding that port stalls its active mode for up
/// to 55 s (its bind loop), which made the matrix's active cell fail now and then.
/// `.ci/servers.sh` gives it a control port below the range.
#[test]
fn netkit_s_active_mode_source_port_is_outside_the_ephemeral_range() {
    let Some(server) = servers_from_env().into_iter().find(|s| s.name == "netkit-ftpd") else {
        assert!(!in_ci(), "CI=true but FTPSYNC_TEST_SERVERS does not list netkit-ftpd: .ci/servers.sh starts it");
        return;
    };
    let range = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let ephemeral_low: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let source = server.urls[0].effective_port() - 1;
    assert!(
        source < ephemeral_low,
        "netkit-ftpd's active-mode source port {source} is in the ephemeral range (from {ephemeral_low})"
    );
}

#[test]
fn real_servers_upload_sync_download() {
    let scratch = tempfile::tempdir().unwrap();
    let mut servers = servers_from_env();
    if servers.is_empty() {
        assert!(!in_ci(), "CI=true but FTPSYNC_TEST_SERVERS lists no server: .ci/run starts them with .ci/servers.sh");
        eprintln!(
            "FTPSYNC_TEST_SERVERS lists no server: only the built-in server is tested (bash .ci/run starts the others)"
        );
    }
    let absent: Vec<&str> = CI_SERVERS.into_iter().filter(|name| !servers.iter().any(|s| s.name == *name)).collect();
    if !servers.is_empty() && !absent.is_empty() {
        assert!(!in_ci(), "CI=true but FTPSYNC_TEST_SERVERS does not list {absent:?}: .ci/servers.sh starts them");
        eprintln!("not tested (FTPSYNC_TEST_SERVERS does not list them): {absent:?}");
    }
    let sftp_servers = crate::support::sftp::servers();
    let absent: Vec<&str> =
        sftp::CI_SFTP_SERVERS.into_iter().filter(|name| !sftp_servers.iter().any(|s| s.name == *name)).collect();
    if !absent.is_empty() {
        assert!(!in_ci(), "CI=true but FTPSYNC_TEST_SFTP_SERVERS does not list {absent:?}: .ci/servers.sh starts them");
        eprintln!("not tested (FTPSYNC_TEST_SFTP_SERVERS does not list them): {absent:?}");
    }
    let builtin_dir = scratch.path().join("builtin");
    fs::create_dir(&builtin_dir).unwrap();
    let (builtin, _running) = builtin_server(&builtin_dir);
    servers.push(builtin);
    let scratch = scratch.path();
    // Servers in parallel; the modes of one server one after the other.
    let results: Vec<(String, String, &'static str, Vec<Row>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|server| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    let mut names = None;
                    for url in &server.urls {
                        let mode = mode_name(url);
                        if let Err(e) = answers(url) {
                            let row = Row {
                                operation: "connect",
                                ok: false,
                                skipped: false,
                                seconds: 0.0,
                                detail: format!("does not answer: {e}"),
                                protocol: None,
                            };
                            out.push((server.name.clone(), server.version.clone(), mode, vec![row]));
                            continue;
                        }
                        // Which names the server stores, found once per server (plain FTP first).
                        let names = names.get_or_insert_with(|| {
                            let probe = format!("names-probe-{}", std::process::id());
                            let owner = fs::metadata(&server.root).map(|m| (m.uid(), m.gid())).unwrap_or((0, 0));
                            probe_names(url, &probe, &server.root.join(&probe), owner)
                        });
                        let mut rows = match names {
                            Ok(names) => scenario(server, url, names, scratch),
                            Err(e) => {
                                let mut rows = scenario(server, url, &Unstorable::default(), scratch);
                                rows[0] = Row {
                                    operation: "names",
                                    ok: false,
                                    skipped: false,
                                    seconds: 0.0,
                                    detail: format!("suppaftp could not try the names: {e}"),
                                    protocol: None,
                                };
                                rows
                            }
                        };
                        rows.extend(staged::rows(staged::Remote::Ftp(server, url), scratch));
                        out.push((server.name.clone(), server.version.clone(), mode, rows));
                    }
                    out
                })
            })
            .collect();
        let sftp_handles: Vec<_> = sftp_servers
            .iter()
            .map(|server| {
                scope.spawn(move || (server.name.clone(), sftp::version(server), "sftp", sftp::rows(server, scratch)))
            })
            .collect();
        let mut all: Vec<_> = handles.into_iter().flat_map(|h| h.join().expect("a server's thread panicked")).collect();
        all.extend(sftp_handles.into_iter().map(|h| h.join().expect("an SFTP server's thread panicked")));
        all
    });

    let mut lines = String::new();
    let mut failures = Vec::new();
    let mut unreachable = Vec::new();
    for (server, version, mode, rows) in &results {
        for row in rows {
            let line = json!({
                "server": server, "version": version, "mode": mode, "operation": row.operation,
                "ok": row.ok, "skipped": row.skipped, "seconds": (row.seconds * 100.0).round() / 100.0, "detail": row.detail,
                "protocol": row.protocol,
            });
            lines.push_str(&format!("{line}\n"));
            let verdict = if row.skipped {
                "skip"
            } else if row.ok {
                "ok  "
            } else {
                "FAIL"
            };
            eprintln!("{server:10} {mode:5} {:9} {verdict} {:6.2}s  {}", row.operation, row.seconds, row.detail);
            if row.operation == "connect" {
                unreachable.push(format!("{server} ({mode}): {}", row.detail));
            } else if !row.ok {
                failures.push(format!("{server} ({mode}) {}: {}", row.operation, row.detail));
            }
        }
    }
    if let Some(out) = std::env::var_os("FTPSYNC_MATRIX_OUT") {
        fs::write(&out, lines)
            .unwrap_or_else(|e| panic!("cannot write FTPSYNC_MATRIX_OUT {}: {e}", PathBuf::from(&out).display()));
    }
    if !unreachable.is_empty() {
        assert!(!in_ci(), "CI=true and servers do not answer:\n{}", unreachable.join("\n"));
        eprintln!("skipping servers that do not answer:\n{}", unreachable.join("\n"));
    }
    assert!(failures.is_empty(), "real servers:\n{}", failures.join("\n"));
}
