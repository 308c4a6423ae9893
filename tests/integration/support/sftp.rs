//! The real SFTP servers of the environment (started by `.ci/servers.sh`): their URLs, the
//! folders on disk behind them, their host keys and key-only users. Tests skip when none is
//! listed, unless `CI=true` (then that is a failure).
//!
//! - `FTPSYNC_TEST_SFTP_SERVERS`: `NAME=sftp://USER:PASSWORD@127.0.0.1:PORT/site;...`
//! - `FTPSYNC_TEST_SFTP_ROOTS`: `NAME=DIR;...`, the folder on disk that is the URL's path
//! - `FTPSYNC_TEST_SFTP_KNOWN_HOSTS`: a known_hosts file with every server's key
//! - `FTPSYNC_TEST_SFTP_KEY_USER`: `NAME=USER;...`, the key-only user (same path)
//! - `FTPSYNC_TEST_SFTP_KEY_DIR`: `id_ed25519`, `id_rsa` and `id_ed25519_enc` (passphrase
//!   [`KEY_PASSPHRASE`]), all authorized for the key users

use std::collections::BTreeMap;
use std::path::PathBuf;

use ftpsync::backend::sftp::hostkeys::{fingerprint, host_entry};
use ftpsync::backend::url::{FtpUrl, Location};

/// The passphrase of `id_ed25519_enc`.
pub const KEY_PASSPHRASE: &str = "ftpsync-test-passphrase";

/// One SFTP server of the environment.
#[derive(Clone, Debug)]
pub struct SftpServer {
    pub name: String,
    /// With the password user's name and password.
    pub url: FtpUrl,
    /// The folder on disk that is `url.path`.
    pub root: PathBuf,
    pub key_user: Option<String>,
}

impl SftpServer {
    /// The URL as given (with the password).
    pub fn url_with_password(&self) -> String {
        let u = &self.url;
        let password = u.password.as_deref().map(|p| format!(":{p}")).unwrap_or_default();
        format!("sftp://{}{password}@{}:{}{}", u.user.as_deref().unwrap_or(""), u.host, u.effective_port(), u.path)
    }

    /// The URL of a folder below the root, with the password.
    pub fn url_of(&self, sub: &str) -> String {
        format!("{}/{sub}", self.url_with_password())
    }

    /// The URL for the key-only user (no password), of a folder below the root.
    pub fn key_url_of(&self, sub: &str) -> Option<String> {
        let user = self.key_user.as_ref()?;
        let u = &self.url;
        Some(format!("sftp://{user}@{}:{}{}/{sub}", u.host, u.effective_port(), u.path))
    }

    /// The password of the password user.
    pub fn password(&self) -> String {
        self.url.password.clone().unwrap_or_default()
    }

    /// The `SHA256:` fingerprint of the host key the server presents to ftpsync, from the
    /// known_hosts file. A server with several keys (proftpd here: ed25519 and RSA) presents
    /// the one the client asks for first: ed25519, then ECDSA, then RSA.
    pub fn fingerprint(&self) -> String {
        let entry = host_entry(&self.url.host, self.url.effective_port());
        let text = std::fs::read_to_string(known_hosts()).expect("FTPSYNC_TEST_SFTP_KNOWN_HOSTS is readable");
        let preference = |kind: &str| ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"].iter().position(|k| *k == kind);
        text.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (hosts, kind, key) = (f.next()?, f.next()?, f.next()?);
                let key = hosts.split(',').any(|h| h == entry).then(|| russh::keys::parse_public_key_base64(key).ok());
                Some((preference(kind).unwrap_or(usize::MAX), key.flatten()?))
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, k)| fingerprint(&k))
            .unwrap_or_else(|| panic!("FTPSYNC_TEST_SFTP_KNOWN_HOSTS has no key for {entry}"))
    }
}

/// The known_hosts file with every test server's key.
pub fn known_hosts() -> PathBuf {
    PathBuf::from(std::env::var_os("FTPSYNC_TEST_SFTP_KNOWN_HOSTS").expect("FTPSYNC_TEST_SFTP_KNOWN_HOSTS is set"))
}

/// The folder with the test keys.
pub fn key_dir() -> Option<PathBuf> {
    std::env::var_os("FTPSYNC_TEST_SFTP_KEY_DIR").map(PathBuf::from)
}

fn pairs(var: &str) -> BTreeMap<String, String> {
    std::env::var(var)
        .unwrap_or_default()
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or_else(|| panic!("{var}: {s:?} is not NAME=VALUE"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// The servers of the environment; empty (with a note) when none is listed outside CI.
pub fn servers() -> Vec<SftpServer> {
    let roots = pairs("FTPSYNC_TEST_SFTP_ROOTS");
    let key_users = pairs("FTPSYNC_TEST_SFTP_KEY_USER");
    let found: Vec<SftpServer> = pairs("FTPSYNC_TEST_SFTP_SERVERS")
        .into_iter()
        .map(|(name, url)| {
            let Ok(Location::Sftp(url)) = Location::parse(&url) else {
                panic!("FTPSYNC_TEST_SFTP_SERVERS: {name}: not an sftp:// URL")
            };
            let root = roots.get(&name).unwrap_or_else(|| panic!("FTPSYNC_TEST_SFTP_ROOTS has no folder for {name}"));
            SftpServer { key_user: key_users.get(&name).cloned(), name, url, root: PathBuf::from(root) }
        })
        .collect();
    if found.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but FTPSYNC_TEST_SFTP_SERVERS lists no server: .ci/run starts them with .ci/servers.sh"
        );
        eprintln!("FTPSYNC_TEST_SFTP_SERVERS lists no server: the SFTP tests are skipped (bash .ci/run starts them)");
    }
    found
}

/// A folder name below a server's root for one test (removed by [`Scratch`]'s drop).
pub struct Scratch {
    pub name: String,
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(server: &SftpServer, test: &str) -> Scratch {
        let name = format!("{test}-{}", std::process::id());
        let dir = server.root.join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        Scratch { name, dir }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
