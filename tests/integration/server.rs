//! The embedded FTP/FTPS server (`ftpsync::server`) driven by the suppaftp client: login,
//! binary transfers, MLSD facts, SITE UTIME, renames and deletes, FTPS with an rcgen
//! certificate, confinement to the root, concurrent servers, shutdown, and `ftpsync serve`.
//! Every network call has a timeout and every test runs under a deadline; no fixed ports.

use std::io::{BufRead, BufReader, Cursor};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ftpsync::server::{self, ServerConfig, ServerHandle};
use rustls::pki_types::CertificateDer;
use suppaftp::list::ListParser;
use suppaftp::types::FileType;
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream, Status};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const TEST_DEADLINE: Duration = Duration::from_secs(60);
const USER: &str = "probe";
const PASSWORD: &str = "probepw";
/// Replies servers give to SITE UTIME.
const UTIME_OK: [Status; 3] = [Status::CommandOk, Status::File, Status::RequestedFileActionOk];

/// Runs `f` on a thread and fails the test if it does not finish within [`TEST_DEADLINE`].
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    crate::support::bounded(TEST_DEADLINE, f)
}

fn tcp(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// A client connection (not logged in) whose control and data sockets all time out.
fn connect(addr: SocketAddr) -> RustlsFtpStream {
    RustlsFtpStream::connect_with_stream(tcp(addr).unwrap())
        .unwrap()
        .passive_stream_builder(|data| tcp(data).map_err(FtpError::ConnectionError))
}

fn login(addr: SocketAddr) -> RustlsFtpStream {
    let mut ftp = connect(addr);
    ftp.login(USER, PASSWORD).unwrap();
    ftp.transfer_type(FileType::Binary).unwrap();
    ftp
}

/// A server with the test login on `root`; optionally FTPS with a fresh rcgen certificate
/// (returned so the client can trust it).
fn serve(root: &Path, tls_dir: Option<&Path>) -> (ServerHandle, Option<CertificateDer<'static>>) {
    let mut config = ServerConfig::new(root);
    config.login = Some((USER.into(), PASSWORD.into()));
    let mut trusted = None;
    if let Some(dir) = tls_dir {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_pem, key.cert.pem()).unwrap();
        std::fs::write(&key_pem, key.signing_key.serialize_pem()).unwrap();
        config.tls = Some((cert_pem, key_pem));
        trusted = Some(key.cert.der().clone());
    }
    (server::start(config).unwrap(), trusted)
}

fn upload(ftp: &mut RustlsFtpStream, path: &str, data: &[u8]) {
    ftp.put_file(path, &mut Cursor::new(data.to_vec())).unwrap();
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Bytes that ASCII mode would change.
const AWKWARD: &[u8] = b"line\nwindows\r\nlone cr\r\0\xff\xfe end\n";

#[test]
fn plain_ftp_does_what_sync_needs() {
    bounded(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let (server, _) = serve(&root, None);
        let addr = server.addr();

        let mut wrong = connect(addr);
        match wrong.login(USER, "nope") {
            Err(FtpError::UnexpectedResponse(r)) => assert_eq!(r.status, Status::NotLoggedIn),
            other => panic!("wrong password accepted: {other:?}"),
        }
        assert!(connect(addr).login("someone", PASSWORD).is_err(), "unknown user accepted");
        assert!(connect(addr).login("anonymous", "a@b").is_err(), "anonymous accepted with a login configured");

        let mut ftp = login(addr);
        // Binary upload and download: bytes round-trip exactly (on disk too).
        upload(&mut ftp, "/data.bin", AWKWARD);
        assert_eq!(std::fs::read(root.join("data.bin")).unwrap(), AWKWARD);
        assert_eq!(ftp.size("/data.bin").unwrap(), AWKWARD.len());
        assert_eq!(ftp.retr_as_buffer("/data.bin").unwrap().into_inner(), AWKWARD);

        // MKD and MLSD facts.
        ftp.mkdir("/sub").unwrap();
        assert!(root.join("sub").is_dir());
        upload(&mut ftp, "/sub/x.txt", b"12345");
        let listing: Vec<_> = ftp.mlsd(Some("/")).unwrap().iter().map(|l| ListParser::parse_mlsd(l).unwrap()).collect();
        let data = listing.iter().find(|f| f.name() == "data.bin").expect("data.bin listed");
        assert_eq!(data.size(), AWKWARD.len());
        let disk = mtime(&root.join("data.bin")).duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(data.modified(), at(disk), "MLSD modify is the file's mtime (whole seconds)");
        assert!(listing.iter().any(|f| f.name() == "sub" && f.is_directory()));
        let raw = ftp.mlsd(Some("/sub")).unwrap().join("\n");
        assert!(raw.contains("size=5") && raw.contains("modify="), "{raw}");

        // SITE UTIME, both forms, changes the file on disk; MDTM agrees.
        ftp.custom_command("SITE UTIME 20200102030405 /data.bin", &UTIME_OK).unwrap();
        assert_eq!(mtime(&root.join("data.bin")), at(1_577_934_245));
        assert_eq!(ftp.mdtm("/data.bin").unwrap().and_utc().timestamp(), 1_577_934_245);
        ftp.custom_command("SITE UTIME /sub/x.txt 20210101000000 20210203040506 20210101000000 UTC", &UTIME_OK)
            .unwrap();
        assert_eq!(mtime(&root.join("sub/x.txt")), at(1_612_325_106));
        let missing = ftp.custom_command("SITE UTIME 20200102030405 /nope.txt", &UTIME_OK);
        assert!(
            matches!(missing, Err(FtpError::UnexpectedResponse(ref r)) if r.status == Status::FileUnavailable),
            "{missing:?}"
        );

        // RNFR/RNTO keeps content and mtime.
        ftp.rename("/data.bin", "/sub/moved.bin").unwrap();
        assert!(!root.join("data.bin").exists());
        assert_eq!(std::fs::read(root.join("sub/moved.bin")).unwrap(), AWKWARD);
        assert_eq!(mtime(&root.join("sub/moved.bin")), at(1_577_934_245));

        // DELE and RMD.
        assert!(ftp.rmdir("/sub").is_err(), "RMD of a non-empty folder must fail");
        ftp.rm("/sub/moved.bin").unwrap();
        ftp.rm("/sub/x.txt").unwrap();
        ftp.rmdir("/sub").unwrap();
        assert!(!root.join("sub").exists());
        assert!(ftp.retr_as_buffer("/sub/x.txt").is_err());
        ftp.quit().unwrap();
    });
}

#[test]
fn explicit_ftps_with_a_trusted_rcgen_certificate() {
    bounded(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let (server, cert) = serve(&root, Some(dir.path()));
        assert!(server.url(Some(USER)).starts_with(&format!("ftps://{USER}@127.0.0.1:")));

        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut ftp = connect(server.addr()).into_secure(RustlsConnector::from(Arc::new(config)), "localhost").unwrap();
        ftp.login(USER, PASSWORD).unwrap();
        ftp.transfer_type(FileType::Binary).unwrap();
        upload(&mut ftp, "/secure.bin", AWKWARD);
        assert_eq!(ftp.retr_as_buffer("/secure.bin").unwrap().into_inner(), AWKWARD);
        let listing = ftp.mlsd(Some("/")).unwrap();
        assert!(
            listing.iter().any(|l| l.ends_with(" secure.bin") && l.contains(&format!("size={}", AWKWARD.len()))),
            "{listing:?}"
        );
        ftp.custom_command("SITE UTIME 20200102030405 /secure.bin", &UTIME_OK).unwrap();
        assert_eq!(mtime(&root.join("secure.bin")), at(1_577_934_245));
        ftp.quit().unwrap();

        // A client that does not trust the certificate is refused.
        let untrusted = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        // Refused for the certificate, not for anything else going wrong in the handshake.
        let refused = connect(server.addr()).into_secure(RustlsConnector::from(Arc::new(untrusted)), "localhost").err();
        let refused = format!("{:?}", refused.expect("an untrusted certificate was accepted"));
        assert!(refused.contains("InvalidCertificate(UnknownIssuer)"), "{refused}");
    });
}

#[test]
fn dot_dot_cannot_leave_the_root() {
    bounded(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "secret").unwrap();
        filetime::set_file_mtime(&secret, filetime::FileTime::from_unix_time(1_000_000_000, 0)).unwrap();
        let (server, _) = serve(&root, None);
        let mut ftp = login(server.addr());

        for path in ["../secret.txt", "/../secret.txt", "sub/../../secret.txt", "/./../secret.txt"] {
            assert!(ftp.retr_as_buffer(path).is_err(), "RETR {path} read outside the root");
            assert!(
                ftp.custom_command(format!("SITE UTIME 20200102030405 {path}"), &UTIME_OK).is_err(),
                "SITE UTIME {path}"
            );
            assert!(
                ftp.custom_command(format!("SITE UTIME {path} 1 20200102030405 1 UTC"), &UTIME_OK).is_err(),
                "SITE UTIME (long) {path}"
            );
            let _ = ftp.rm(path);
            let _ = ftp.rename(path, "/stolen.txt");
        }
        let _ = ftp.put_file("../evil.txt", &mut Cursor::new(b"x".to_vec()));
        let _ = ftp.mkdir("../evil-dir");
        // CWD .. at the top stays at the top.
        let _ = ftp.cwd("..");
        upload(&mut ftp, "top.txt", b"x");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&secret, root.join("link.txt")).unwrap();
            std::os::unix::fs::symlink(dir.path(), root.join("link-dir")).unwrap();
            assert!(ftp.retr_as_buffer("/link.txt").is_err(), "RETR through a symlink left the root");
            assert!(ftp.retr_as_buffer("/link-dir/secret.txt").is_err(), "RETR through a folder symlink left the root");
            assert!(ftp.custom_command("SITE UTIME 20200102030405 /link.txt", &UTIME_OK).is_err());
            assert!(ftp.custom_command("SITE UTIME 20200102030405 /link-dir/secret.txt", &UTIME_OK).is_err());
        }

        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "secret");
        assert_eq!(mtime(&secret), at(1_000_000_000));
        assert!(!dir.path().join("evil.txt").exists() && !dir.path().join("evil-dir").exists());
        assert!(root.join("top.txt").exists() && !root.join("stolen.txt").exists());
    });
}

#[test]
fn without_a_login_only_anonymous_users_get_in() {
    bounded(|| {
        let dir = tempfile::tempdir().unwrap();
        let server = server::start(ServerConfig::new(dir.path())).unwrap();
        assert!(server.url(None).starts_with("ftp://127.0.0.1:"));
        assert!(connect(server.addr()).login(USER, PASSWORD).is_err());
        let mut ftp = connect(server.addr());
        ftp.login("anonymous", "guest@example.com").unwrap();
        ftp.transfer_type(FileType::Binary).unwrap();
        upload(&mut ftp, "/a.txt", b"anon");
        assert_eq!(std::fs::read(dir.path().join("a.txt")).unwrap(), b"anon");
    });
}

/// `len` consecutive loopback ports, all free right now, below the kernel's ephemeral port range,
/// and not overlapping any other window handed out in this process.
///
/// Inside the ephemeral range, ports are not "free" in any lasting way. The kernel gives them to
/// every outgoing connection of every process on the machine, and to `bind(0)`. A connection
/// closed from the client side then leaves a TIME_WAIT socket on its port for a minute, and no
/// listener can bind that port in the meantime, even with SO_REUSEADDR. On a busy machine a few
/// ports of a small window inside that range are always blocked like this. Below the range, only
/// explicit binds take ports, as with `.ci/servers.sh`'s passive ranges.
fn free_port_window(len: u16) -> std::ops::RangeInclusive<u16> {
    use std::hash::{BuildHasher, Hasher};
    static HANDED_OUT: std::sync::Mutex<Vec<std::ops::RangeInclusive<u16>>> = std::sync::Mutex::new(Vec::new());
    // Linux; elsewhere the ephemeral range starts at 32768 (Linux's default) or higher (49152).
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let lowest: u16 = if ephemeral_start >= 12_000 { 10_000 } else { 1024 };
    assert!(ephemeral_start > lowest + len, "no room below the ephemeral port range ({ephemeral_start})");
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..1000 {
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let base = lowest + (random % u64::from(ephemeral_start - lowest - len)) as u16;
        let window = base..=base + len - 1;
        if handed_out.iter().any(|w| w.start() <= window.end() && window.start() <= w.end()) {
            continue;
        }
        // All free right now (listening, as a passive port would be); dropped again at once.
        let probes: Vec<_> = window.clone().map_while(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok()).collect();
        if probes.len() == usize::from(len) {
            handed_out.push(window.clone());
            return window;
        }
    }
    panic!("no {len} free ports in a row below the ephemeral port range ({ephemeral_start})");
}

/// Smoke test: concurrent sessions of several servers on one small range all get data ports.
#[test]
fn servers_sharing_a_small_passive_range_do_not_collide() {
    bounded(|| {
        let range = free_port_window(6);
        let servers: Vec<(tempfile::TempDir, ServerHandle)> = (0..4)
            .map(|_| {
                let dir = tempfile::tempdir().unwrap();
                let mut config = ServerConfig::new(dir.path());
                config.login = Some((USER.into(), PASSWORD.into()));
                config.passive_ports = range.clone();
                let server = server::start(config).unwrap();
                (dir, server)
            })
            .collect();
        let workers: Vec<_> = servers
            .iter()
            .enumerate()
            .map(|(i, (dir, server))| {
                let (addr, root) = (server.addr(), dir.path().to_path_buf());
                std::thread::spawn(move || {
                    let mut ftp = login(addr);
                    for n in 0..15 {
                        let body = format!("server {i} file {n}");
                        upload(&mut ftp, &format!("/f{n}.txt"), body.as_bytes());
                        assert_eq!(ftp.mlsd(Some("/")).unwrap().len(), n + 1);
                        assert_eq!(std::fs::read_to_string(root.join(format!("f{n}.txt"))).unwrap(), body);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a client failed");
        }
    });
}

/// libunftp alone tries 9 random ports of the range and gives up (`425`); ours walks the range.
#[test]
fn a_mostly_busy_passive_range_still_works() {
    bounded(|| {
        const LEN: u16 = 24;
        let range = free_port_window(LEN);
        let free = *range.start() + LEN / 2;
        // Occupy every other port of the range (those we cannot bind are busy already).
        let _held: Vec<_> = range
            .clone()
            .filter(|&p| p != free)
            .filter_map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();

        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path());
        config.login = Some((USER.into(), PASSWORD.into()));
        config.passive_ports = range;
        let server = server::start(config).unwrap();
        let mut ftp = login(server.addr());
        for n in 0..20 {
            upload(&mut ftp, &format!("/f{n}.txt"), b"x");
        }
        assert_eq!(ftp.mlsd(Some("/")).unwrap().len(), 20);
    });
}

#[test]
fn shutdown_is_prompt_with_sessions_open() {
    bounded(|| {
        let dir = tempfile::tempdir().unwrap();
        let (server, _) = serve(dir.path(), None);
        let addr = server.addr();
        let mut idle = login(addr);
        let started = std::time::Instant::now();
        server.shutdown();
        assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
        assert!(idle.noop().is_err(), "session survived shutdown");
        assert!(TcpStream::connect_timeout(&addr, IO_TIMEOUT).is_err(), "still accepting after shutdown");
    });
}

fn ftpsync() -> std::process::Command {
    std::process::Command::new(crate::support::bin())
}

#[test]
fn serve_refuses_a_missing_folder_with_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("nope");
    let out = ftpsync().arg("serve").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("does not exist") && stderr.contains("folder"), "{stderr}");
    std::fs::write(&missing, "a file").unwrap();
    let out = ftpsync().arg("serve").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a folder"));
}

/// A child process that is killed if the test fails before it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[cfg(unix)]
#[test]
fn serve_prints_its_url_serves_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hi").unwrap();
    let mut child = Child(
        ftpsync()
            .args(["serve", "--port", "0", "--passive-ports", "0"])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (line, body) = bounded(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line.split(" at ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap_or_default();
        let addr: SocketAddr = url
            .trim_start_matches("ftp://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("no URL in {line:?}"));
        let mut ftp = connect(addr);
        ftp.login("anonymous", "x").unwrap();
        ftp.transfer_type(FileType::Binary).unwrap();
        let body = ftp.retr_as_buffer("/hello.txt").unwrap().into_inner();
        (line, body)
    });
    assert!(line.starts_with("Serving ") && line.contains("(user anonymous); press Ctrl-C to stop."), "{line}");
    assert_eq!(body, b"hi");

    let interrupted = std::process::Command::new("kill").args(["-INT", &child.0.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}
