//! One SSH connection with an SFTP channel: TCP, key exchange, the host key judged
//! ([`hostkeys`]), login, the `sftp` subsystem. Every step is bounded by the timeout.
//!
//! Login tries, in this order, each as far as the server offers it: the keys of the ssh-agent
//! (`SSH_AUTH_SOCK`), the key files given with `--ssh-key`, the default keys in `~/.ssh`
//! (`id_ed25519`, `id_ecdsa`, `id_rsa`), then a password, asked of the caller only when all
//! keys failed (it may come from the URL, the keyring, `.netrc`, `FTPSYNC_PASSWORD` or a
//! prompt). The method that worked is kept ([`Login`]) so that further connections of the
//! same target (workers, reconnections) log in without asking again. No secret is ever part
//! of a message.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use russh::client::{self, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::RawSftpSession;

use super::hostkeys::{self, Policy, Verdict};
use crate::backend::secret::Secret;
use crate::backend::url::FtpUrl;
use crate::backend::{LoginRefused, Transient};

/// The SFTP extension that replaces a file atomically (rename(2)); OpenSSH offers it.
pub const POSIX_RENAME: &str = "posix-rename@openssh.com";

/// Runs one step of connecting or logging in, bounded by the timeout: a server that stops
/// answering is a lost connection ([`Transient`]), never a hang.
pub async fn bounded<T>(timeout: Duration, step: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(timeout, step)
        .await
        .map_err(|_| Transient(format!("the SSH server did not answer in time ({} s, --timeout)", timeout.as_secs())))?
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Settings {
    pub url: FtpUrl,
    pub policy: Policy,
    pub timeout: Duration,
}

/// How a connection logged in, kept for the next connections of the target.
#[derive(Clone)]
pub enum Login {
    /// The server asked for nothing (the `none` method succeeded).
    Nothing,
    Agent(PublicKey),
    Key(Arc<PrivateKey>, String),
    Password(Secret),
}

impl Login {
    /// The method, for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            Login::Nothing => "no authentication (the server asked for none)".into(),
            Login::Agent(k) => format!("ssh-agent key {}", hostkeys::fingerprint(k)),
            Login::Key(_, file) => format!("key {file}"),
            Login::Password(_) => "password".into(),
        }
    }
}

/// The server's key as seen at the key exchange, and what was made of it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub fingerprint: String,
    pub verdict: Verdict,
}

/// Judges the host key during the key exchange and keeps what it saw for the messages.
pub struct Checker {
    settings: Settings,
    known_hosts: String,
    seen: Arc<Mutex<Option<Seen>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => PublicKey::new(c.public_key().clone(), ""),
        };
        let url = &self.settings.url;
        let verdict = hostkeys::judge(&self.settings.policy, &self.known_hosts, &url.host, url.effective_port(), &key);
        let trusted = verdict == Verdict::Trusted;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Seen { fingerprint: hostkeys::fingerprint(&key), verdict });
        Ok(trusted)
    }
}

/// The server presented a host key that is not trusted: nothing was sent to it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostKeyRefused(pub String);

/// A connection, logged in, with its SFTP channel.
pub struct Conn {
    pub ssh: Handle<Checker>,
    pub sftp: Arc<RawSftpSession>,
    /// Whether the server replaces files atomically on request ([`POSIX_RENAME`]).
    pub posix_rename: bool,
    pub host_key: String,
}

/// A connection after the key exchange, not logged in yet.
pub struct Unauthenticated {
    ssh: Handle<Checker>,
    host_key: String,
    user: String,
    tried: Vec<String>,
    offered: Option<Vec<russh::MethodKind>>,
}

fn refusal(s: &Settings, seen: &Seen) -> String {
    let url = &s.url;
    let port = url.effective_port();
    let name = hostkeys::host_entry(&url.host, port);
    let fp = &seen.fingerprint;
    let file = match &s.policy {
        Policy::KnownHosts(p) => p.display().to_string(),
        _ => String::new(),
    };
    let scan =
        if port == 22 { format!("ssh-keyscan {}", url.host) } else { format!("ssh-keyscan -p {port} {}", url.host) };
    match &seen.verdict {
        Verdict::Trusted => format!("{name} presented host key {fp}, which was accepted"),
        Verdict::Unknown => format!(
            "the host key of {name} is not known: {fp} (not in {file}). Check the fingerprint with the server's administrator, then add it with `{scan} >> ~/.ssh/known_hosts`, or pin it with --host-key {fp}"
        ),
        Verdict::Changed(lines) => format!(
            "WARNING: THE HOST KEY OF {name} HAS CHANGED: it presented {fp}, which differs from the key in {file} (line {}). Someone may be intercepting the connection (man in the middle), or the server's key was replaced. Nothing was sent. If the change is known to be legitimate, remove the old key with `ssh-keygen -R '{name}'` and add the new one",
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
        ),
        Verdict::Revoked(line) => {
            format!("the host key {fp} of {name} is marked @revoked in {file} (line {line}); refused")
        }
        Verdict::NotPinned(pins) => {
            format!("the host key of {name} is {fp}, not the pinned {} ; refused (nothing was sent)", pins.join(" or "))
        }
    }
}

/// Connects and exchanges keys; the host key is judged on the way.
pub async fn connect(s: &Settings) -> Result<Unauthenticated> {
    let url = &s.url;
    let port = url.effective_port();
    let known_hosts = match &s.policy {
        Policy::KnownHosts(p) => {
            hostkeys::read_known_hosts(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        _ => String::new(),
    };
    let seen = Arc::new(Mutex::new(None));
    let checker = Checker { settings: s.clone(), known_hosts, seen: seen.clone() };
    let config = Arc::new(client::Config {
        // Large windows keep a transfer going over a link with latency.
        window_size: 16 * 1024 * 1024,
        maximum_packet_size: 64 * 1024,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    });
    let addr = (url.host.clone(), port);
    let tcp = tokio::time::timeout(s.timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| Transient(format!("cannot connect to {}:{port}: no answer in time (--timeout)", url.host)))?
        .map_err(|e| {
            let msg = format!("cannot connect to {}:{port}: {e}", url.host);
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                anyhow!("{msg} (is an SSH server listening there?)")
            } else {
                Transient(msg).into()
            }
        })?;
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(s.timeout, client::connect_stream(config, tcp, checker)).await;
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let ssh = match handshake {
        Err(_) => return Err(Transient(format!("SSH handshake with {}:{port} timed out", url.host)).into()),
        Ok(Err(e)) => {
            if let Some(seen) = seen.as_ref().filter(|s| s.verdict != Verdict::Trusted) {
                return Err(HostKeyRefused(refusal(s, seen)).into());
            }
            return Err(Transient(format!("SSH handshake with {}:{port} failed: {e}", url.host)).into());
        }
        Ok(Ok(h)) => h,
    };
    let host_key = seen.map(|s| s.fingerprint).unwrap_or_default();
    Ok(Unauthenticated { ssh, host_key, user: String::new(), tried: Vec::new(), offered: None })
}

/// A key file to try, decrypted.
pub struct KeyFile {
    pub key: Arc<PrivateKey>,
    /// The path as shown in messages.
    pub shown: String,
}

/// Loads a key file; an encrypted one takes `passphrase()` (asked only then).
pub fn load_key(path: &std::path::Path, passphrase: &mut dyn FnMut(&str) -> Result<Option<Secret>>) -> Result<KeyFile> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the key {shown}"))?;
    let key = match russh::keys::decode_secret_key(&text, None) {
        Ok(k) => k,
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(pass) = passphrase(&shown)? else {
                bail!(
                    "the key {shown} is encrypted: give its passphrase in FTPSYNC_SSH_KEY_PASSPHRASE or run on a terminal"
                )
            };
            russh::keys::decode_secret_key(&text, Some(pass.expose()))
                .map_err(|_| anyhow!("cannot decrypt the key {shown}: wrong passphrase?"))?
        }
        Err(e) => bail!("cannot read the key {shown}: {e}"),
    };
    Ok(KeyFile { key: Arc::new(key), shown })
}

/// The default key files that exist in `~/.ssh` (HOME respected), as OpenSSH tries them.
pub fn default_key_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else { return Vec::new() };
    let dir = PathBuf::from(home).join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"].iter().map(|n| dir.join(n)).filter(|p| p.is_file()).collect()
}

impl Unauthenticated {
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    fn offers(&self, m: russh::MethodKind) -> bool {
        self.offered.as_ref().is_none_or(|o| o.contains(&m))
    }

    fn note(&mut self, r: russh::client::AuthResult) -> bool {
        match r {
            russh::client::AuthResult::Success => true,
            russh::client::AuthResult::Failure { remaining_methods, .. } => {
                self.offered = Some(remaining_methods.iter().copied().collect());
                false
            }
        }
    }

    /// Asks which methods the server takes (the `none` method, as OpenSSH's client does
    /// first); a server that lets anyone in needs nothing more.
    pub async fn methods(&mut self, user: &str) -> Result<bool> {
        self.user = user.to_string();
        let r = self.ssh.authenticate_none(user).await.map_err(|e| Transient(format!("SSH login failed: {e}")))?;
        Ok(self.note(r))
    }

    /// Tries the ssh-agent's keys; the one that worked.
    pub async fn agent(&mut self, user: &str) -> Result<Option<Login>> {
        self.user = user.to_string();
        if std::env::var_os("SSH_AUTH_SOCK").is_none() || !self.offers(russh::MethodKind::PublicKey) {
            return Ok(None);
        }
        let Ok(mut agent) = AgentClient::connect_env().await else {
            self.tried.push("ssh-agent (SSH_AUTH_SOCK does not answer)".into());
            return Ok(None);
        };
        let ids = agent.request_identities().await.unwrap_or_default();
        self.tried.push(format!("ssh-agent ({} key(s))", ids.len()));
        for id in ids {
            let AgentIdentity::PublicKey { key, .. } = id else { continue };
            let hash = self.ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
            let r = self.ssh.authenticate_publickey_with(user, key.clone(), hash, &mut agent).await;
            if let Ok(r) = r
                && self.note(r)
            {
                return Ok(Some(Login::Agent(key)));
            }
        }
        Ok(None)
    }

    /// Tries key files in order; the one that worked.
    pub async fn keys(&mut self, user: &str, keys: &[KeyFile]) -> Result<Option<Login>> {
        self.user = user.to_string();
        for k in keys {
            if !self.offers(russh::MethodKind::PublicKey) {
                break;
            }
            self.tried.push(format!("key {}", k.shown));
            if self.publickey(user, k.key.clone()).await? {
                return Ok(Some(Login::Key(k.key.clone(), k.shown.clone())));
            }
        }
        Ok(None)
    }

    async fn publickey(&mut self, user: &str, key: Arc<PrivateKey>) -> Result<bool> {
        let hash = self.ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
        let r = self
            .ssh
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(|e| Transient(format!("SSH login failed: {e}")))?;
        Ok(self.note(r))
    }

    /// Whether the server still takes passwords (as the `password` method, or as the answer
    /// to a `keyboard-interactive` prompt, which PAM-based servers often offer instead).
    pub fn takes_password(&self) -> bool {
        self.offers(russh::MethodKind::Password) || self.offers(russh::MethodKind::KeyboardInteractive)
    }

    /// Tries a password.
    pub async fn password(&mut self, user: &str, password: &Secret) -> Result<Option<Login>> {
        self.user = user.to_string();
        if !self.tried.iter().any(|t| t == "password") {
            self.tried.push("password".into());
        }
        let lost = |e: russh::Error| Transient(format!("SSH login failed: {e}"));
        let ok = if self.offers(russh::MethodKind::Password) {
            let r = self.ssh.authenticate_password(user, password.expose()).await.map_err(lost)?;
            self.note(r)
        } else {
            self.keyboard_interactive(user, password).await.map_err(lost)?
        };
        Ok(ok.then(|| Login::Password(password.clone())))
    }

    /// `keyboard-interactive` with the password as the answer to its one hidden prompt; a
    /// server asking more (a one-time code...) is not answered.
    async fn keyboard_interactive(&mut self, user: &str, password: &Secret) -> Result<bool, russh::Error> {
        use russh::client::KeyboardInteractiveAuthResponse as R;
        let mut reply = self.ssh.authenticate_keyboard_interactive_start(user, None).await?;
        for _ in 0..4 {
            reply = match reply {
                R::Success => return Ok(true),
                R::Failure { remaining_methods, .. } => {
                    self.offered = Some(remaining_methods.iter().copied().collect());
                    return Ok(false);
                }
                R::InfoRequest { prompts, .. } if prompts.is_empty() => {
                    self.ssh.authenticate_keyboard_interactive_respond(Vec::new()).await?
                }
                R::InfoRequest { prompts, .. } if prompts.len() == 1 && !prompts[0].echo => {
                    self.ssh.authenticate_keyboard_interactive_respond(vec![password.expose().to_string()]).await?
                }
                R::InfoRequest { .. } => return Ok(false),
            };
        }
        Ok(false)
    }

    /// Logs in again the way an earlier connection did.
    pub async fn again(&mut self, user: &str, login: &Login) -> Result<bool> {
        Ok(match login {
            Login::Nothing => self.methods(user).await?,
            Login::Agent(key) => {
                let mut agent = AgentClient::connect_env().await.map_err(|e| anyhow!("ssh-agent: {e}"))?;
                let hash = self.ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
                let r = self
                    .ssh
                    .authenticate_publickey_with(user, key.clone(), hash, &mut agent)
                    .await
                    .map_err(|e| anyhow!("ssh-agent: {e}"))?;
                self.note(r)
            }
            Login::Key(key, _) => self.publickey(user, key.clone()).await?,
            Login::Password(p) => self.password(user, p).await?.is_some(),
        })
    }

    /// The error after every method failed: which were tried, and what the server offers.
    pub fn refused(&self, server: &str) -> anyhow::Error {
        let tried = if self.tried.is_empty() {
            "nothing (no ssh-agent, no key file, no password)".to_string()
        } else {
            self.tried.join(", ")
        };
        let offered = match &self.offered {
            Some(o) => o.iter().map(String::from).collect::<Vec<_>>().join(", "),
            None => "unknown".into(),
        };
        let msg =
            format!("SSH login as {:?} to {server} failed; tried: {tried} (the server accepts: {offered})", self.user);
        if self.tried.iter().any(|t| t == "password") {
            // A refused password may be asked again (see `LoginRefused`).
            let err = LoginRefused { user: self.user.clone(), server: server.to_string() };
            anyhow::Error::new(err).context(msg)
        } else {
            anyhow!("{msg}")
        }
    }

    /// Opens the SFTP channel.
    pub async fn sftp(self, timeout: Duration) -> Result<Conn> {
        let lost = |e: russh::Error| Transient(format!("cannot open the SFTP channel: {e}"));
        let channel =
            bounded(timeout, async { self.ssh.channel_open_session().await.map_err(|e| lost(e).into()) }).await?;
        bounded(timeout, async { channel.request_subsystem(true, "sftp").await.map_err(|e| lost(e).into()) }).await?;
        let config = russh_sftp::client::Config {
            request_timeout_secs: timeout.as_secs().max(1),
            max_concurrent_reads: 64,
            max_concurrent_writes: 64,
            ..Default::default()
        };
        let sftp = RawSftpSession::new_with_config(channel.into_stream(), config);
        let version = tokio::time::timeout(timeout, sftp.init())
            .await
            .map_err(|_| Transient("the SFTP subsystem did not answer in time".into()))?
            .map_err(|e| anyhow!("the server refused the SFTP subsystem: {e}"))?;
        let posix_rename = version.extensions.contains_key(POSIX_RENAME);
        Ok(Conn { ssh: self.ssh, sftp: Arc::new(sftp), posix_rename, host_key: self.host_key })
    }
}
