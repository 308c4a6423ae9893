//! A world for fault tests: a local folder, a folder served by the in-process FTP server, the
//! cutting proxy in front of it, and the `ftpsync` binary run against the proxy. Or
//! ([`World::new_sftp`]) a folder of a real SFTP server of `.ci/servers.sh`, behind the proxy in
//! its raw mode, reached as `sftp://` with the host key checked.
//!
//! Every file written through [`World::put`] is a known *version* of its path (deterministic
//! bytes, a distinct modification time per version), so a check can tell a whole file from a
//! truncated or mixed one ([`super::truth`]). A world's state can be saved as a template and
//! restored before each faulty run, so many runs start from exactly the same trees.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftpsync::server::ServerHandle;

use super::cut_proxy::CutProxy;
use super::fixture::copy_tree;
use super::{bin, ftp};

/// Which folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Local,
    Served,
}

/// The modification time of version `v` of any file (whole seconds, distinct per version).
pub fn version_mtime(v: u32) -> i64 {
    1_600_000_000 + i64::from(v) * 86_400
}

/// Deterministic content of version `v` of `path`.
pub fn content(path: &str, v: u32, len: usize) -> Vec<u8> {
    let mut x = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    x = (x ^ u64::from(v).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Every version of every path ever written: path → (mtime → bytes).
pub type Versions = BTreeMap<String, BTreeMap<i64, Arc<Vec<u8>>>>;

/// Served folders of SFTP worlds made by this process so far (each gets its own).
static FOLDERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How a run is bounded (each must end within this, or the test fails).
pub const RUN_DEADLINE: Duration = Duration::from_secs(90);

pub struct World {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub local: PathBuf,
    pub served: PathBuf,
    home: PathBuf,
    pub versions: Versions,
    pub proxy: CutProxy,
    /// The in-process FTP server (none for SFTP: the server is `.ci/servers.sh`'s).
    _server: Option<ServerHandle>,
    /// The remote URL the binary is given (through the proxy; no password in it).
    pub url: String,
    /// For SFTP: the login's password (given as `FTPSYNC_PASSWORD`) and the owner the served
    /// files must have (the login's), and the served folder to remove at the end.
    sftp: Option<SftpSide>,
}

struct SftpSide {
    password: String,
    owner: (u32, u32),
}

impl Drop for World {
    fn drop(&mut self) {
        if self.sftp.is_some() {
            let _ = fs::remove_dir_all(&self.served);
        }
    }
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let (local, served, home) = (root.join("local"), root.join("served"), root.join("home"));
        for d in [&local, &served, &home] {
            fs::create_dir_all(d).unwrap();
        }
        let server = ftp::serve(&served);
        let proxy = CutProxy::start(server.addr());
        let url = proxy.url();
        World {
            _dir: dir,
            root,
            local,
            served,
            home,
            versions: Versions::new(),
            proxy,
            _server: Some(server),
            url,
            sftp: None,
        }
    }

    /// A world whose served folder is a fresh folder of the SFTP server `name` of the
    /// environment (`FTPSYNC_TEST_SFTP_*`, see `.ci/servers.sh`), or `None` when it is not
    /// listed (a failure with `CI=true`).
    pub fn new_sftp(name: &str) -> Option<World> {
        use std::os::unix::fs::MetadataExt;
        let Some(server) = super::sftp::servers().into_iter().find(|s| s.name == name) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but FTPSYNC_TEST_SFTP_SERVERS has no {name}: .ci/run starts it with .ci/servers.sh"
            );
            eprintln!("skipping: FTPSYNC_TEST_SFTP_SERVERS has no {name} (bash .ci/run starts it)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let (local, home) = (root.join("local"), root.join("home"));
        let folder =
            format!("faults-{}-{}", std::process::id(), FOLDERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let served = server.root.join(&folder);
        for d in [&local, &served, &home] {
            fs::create_dir_all(d).unwrap();
        }
        let meta = fs::metadata(&server.root).unwrap();
        let owner = (meta.uid(), meta.gid());
        std::os::unix::fs::chown(&served, Some(owner.0), Some(owner.1)).unwrap();
        let address = crate::servers::sftp::address(&server);
        let upstream: std::net::SocketAddr = address.parse().expect("an SFTP server's address");
        let proxy = CutProxy::start_raw(upstream);
        // The server's host keys, under the proxy's address (which the binary connects to).
        let (host, port) = address.rsplit_once(':').unwrap();
        let known = fs::read_to_string(std::env::var_os("FTPSYNC_TEST_SFTP_KNOWN_HOSTS").unwrap()).unwrap();
        let ours: String = known
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("[{host}]:{port} ")))
            .map(|key| format!("[127.0.0.1]:{} {key}\n", proxy.addr().port()))
            .collect();
        fs::create_dir_all(home.join(".ssh")).unwrap();
        fs::write(home.join(".ssh/known_hosts"), ours).unwrap();
        let user = crate::servers::sftp::user(&server);
        let url = format!("sftp://{user}@{}{}/{folder}", proxy.addr(), server.url.path.trim_end_matches('/'));
        let sftp = Some(SftpSide { password: server.password(), owner });
        Some(World { _dir: dir, root, local, served, home, versions: Versions::new(), proxy, _server: None, url, sftp })
    }

    /// Gives a served path to the SFTP login (a no-op for the in-process FTP server).
    fn own(&self, path: &Path) {
        if let Some(s) = &self.sftp {
            let mut at = path.to_path_buf();
            while at.starts_with(&self.served) {
                std::os::unix::fs::lchown(&at, Some(s.owner.0), Some(s.owner.1)).unwrap();
                if !at.pop() {
                    break;
                }
            }
        }
    }

    /// Gives the whole served tree to the SFTP login.
    fn own_all(&self) {
        if self.sftp.is_some() {
            let mut stack = vec![self.served.clone()];
            while let Some(p) = stack.pop() {
                self.own(&p);
                if p.is_dir() {
                    stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                }
            }
        }
    }

    pub fn dir(&self, side: Side) -> &Path {
        match side {
            Side::Local => &self.local,
            Side::Served => &self.served,
        }
    }

    /// Writes version `v` (of `len` bytes) of `path` on one side.
    pub fn put(&mut self, side: Side, path: &str, v: u32, len: usize) {
        let bytes = self
            .versions
            .entry(path.to_string())
            .or_default()
            .entry(version_mtime(v))
            .or_insert_with(|| Arc::new(content(path, v, len)))
            .clone();
        let file = self.dir(side).join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(&file, &*bytes).unwrap();
        let t = filetime::FileTime::from_unix_time(version_mtime(v), 0);
        filetime::set_file_times(&file, t, t).unwrap();
        if side == Side::Served {
            self.own(&file);
        }
    }

    /// Writes the same version on both sides.
    pub fn put_both(&mut self, path: &str, v: u32, len: usize) {
        self.put(Side::Local, path, v, len);
        self.put(Side::Served, path, v, len);
    }

    pub fn remove(&self, side: Side, path: &str) {
        let p = self.dir(side).join(path);
        if p.is_dir() { fs::remove_dir_all(p) } else { fs::remove_file(p) }.unwrap();
    }

    /// The binary, with a private HOME and no way to prompt or find stored passwords.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env("HOME", &self.home)
            .env_remove("FTPSYNC_PASSWORD")
            .env_remove("PYFTPSYNC_VERBOSE_META")
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = &self.sftp {
            cmd.env("FTPSYNC_PASSWORD", &s.password);
        }
        cmd
    }

    /// Runs the binary to its end (bounded by [`RUN_DEADLINE`]).
    pub fn run(&self, args: &[&str]) -> Output {
        bounded_output(self.command(args))
    }

    /// `ftpsync plan MODE LOCAL URL FLAGS -o PLAN` without faults; returns the plan's path.
    pub fn plan(&self, mode: &[&str]) -> PathBuf {
        self.plan_saying(mode).0
    }

    /// [`World::plan`], and what it said.
    pub fn plan_saying(&self, mode: &[&str]) -> (PathBuf, String) {
        self.proxy.arm(None);
        let plan = self.root.join("plan.json");
        let (local, url) = (self.local.to_str().unwrap().to_string(), self.url.clone());
        let mut args = vec!["plan", mode[0], &local, &url, "-o", plan.to_str().unwrap()];
        args.extend(&mode[1..]);
        args.extend(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "20"]);
        let out = self.run(&args);
        assert!(out.status.success(), "plan failed:\n{}", text(&out));
        (plan, text(&out))
    }

    /// `ftpsync apply PLAN` with a network timeout and a number of attempts.
    pub fn apply_args(plan: &Path, timeout: u64, retries: u32) -> Vec<String> {
        let plan = plan.to_str().unwrap().to_string();
        [
            "apply",
            &plan,
            "--no-prompt",
            "--no-keyring",
            "--no-netrc",
            "--timeout",
            &timeout.to_string(),
            "--retries",
            &retries.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// `ftpsync recover REMOTE LOCAL` without faults: completes or undoes a commit that was cut
    /// short (a plan or an apply does the same first); fails the test unless it succeeds.
    pub fn recover(&self) -> String {
        let (local, url) = (self.local.to_str().unwrap().to_string(), self.url.clone());
        let out = self.run(&["recover", &url, &local, "--no-prompt", "--no-keyring", "--no-netrc"]);
        assert!(out.status.success(), "recover failed:\n{}", text(&out));
        text(&out)
    }

    /// Plans and applies `mode` without faults (the supported way to finish an interrupted
    /// apply: plan again); fails the test unless both succeed.
    pub fn converge(&self, mode: &[&str]) {
        let plan = self.plan(mode);
        let args = World::apply_args(&plan, 20, 3);
        let out = self.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "the run without faults failed:\n{}", text(&out));
    }

    fn template(&self, side: Side) -> PathBuf {
        self.root.join(match side {
            Side::Local => "template-local",
            Side::Served => "template-served",
        })
    }

    /// Remembers both trees as they are now.
    pub fn save_template(&self) {
        for side in [Side::Local, Side::Served] {
            let t = self.template(side);
            let _ = fs::remove_dir_all(&t);
            copy_tree(self.dir(side), &t);
        }
    }

    /// Puts both trees back as saved (the served folder itself stays: the server serves it).
    pub fn restore_template(&self) {
        for side in [Side::Local, Side::Served] {
            let dir = self.dir(side);
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) }.unwrap();
            }
            copy_tree(&self.template(side), dir);
        }
        self.own_all();
    }
}

/// Everything a run printed.
pub fn text(o: &Output) -> String {
    format!("exit {:?}\n{}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs a command to its end, killing it and failing the test after [`RUN_DEADLINE`].
pub fn bounded_output(mut cmd: Command) -> Output {
    let mut child = cmd.spawn().expect("start ftpsync");
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).ok();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).ok();
        v
    });
    let deadline = Instant::now() + RUN_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("ftpsync did not finish within {RUN_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output { status, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}
