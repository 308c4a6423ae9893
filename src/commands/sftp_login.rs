//! Opening an SFTP server: the host key policy from the flags, then the login methods in
//! their order — ssh-agent, `--ssh-key` files, the default keys in `~/.ssh`, a password (from
//! the URL, `FTPSYNC_PASSWORD`, the keyring, `.netrc` or a prompt, as for FTP, asked again
//! after a refusal where prompting is possible). Which method worked is said at `-vv`; no
//! secret is ever printed (passwords and passphrases are registered with the `-vvv` trace's
//! mask as soon as they are known).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::backend::secret::Secret;
use crate::backend::sftp::connect::{self, KeyFile, Login, Settings};
use crate::backend::sftp::hostkeys::{Policy, user_known_hosts};
use crate::backend::sftp::{Opening, Options, SftpTarget};
use crate::backend::url::FtpUrl;
use crate::backend::{is_transient, with_write_attempts};
use crate::credentials::{LookupOptions, Resolver, os_login_name};
use crate::error::ExitError;
use crate::output::{Printer, trace};
use crate::settings::{Connection, PASSWORD_ENV};

/// The passphrase of encrypted keys, when no terminal can ask for it.
pub const PASSPHRASE_ENV: &str = "FTPSYNC_SSH_KEY_PASSPHRASE";

/// How the host key is judged, from the flags.
fn policy(url: &FtpUrl, conn: &Connection, printer: &Printer) -> Policy {
    if !conn.host_keys.is_empty() {
        return Policy::Pinned(conn.host_keys.clone());
    }
    if conn.no_verify_host_keys {
        printer.warn(&format!(
            "--no-verify-host-keys: the host key of {} is NOT verified; anyone in between can read and change the transfer, and capture the password",
            url.display()
        ));
        return Policy::Anything;
    }
    Policy::KnownHosts(user_known_hosts())
}

/// Asks for a key's passphrase: `FTPSYNC_SSH_KEY_PASSPHRASE`, else a terminal prompt.
fn passphrase(conn: &Connection) -> impl FnMut(&str) -> Result<Option<Secret>> + '_ {
    move |shown: &str| {
        if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
            trace::register_secret(&p);
            return Ok(Some(Secret::new(p)));
        }
        if conn.no_prompt || !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        let p = rpassword::prompt_password(format!("Passphrase for the key {shown}: "))
            .context("cannot read the passphrase")?;
        trace::register_secret(&p);
        Ok(Some(Secret::new(p)))
    }
}

/// Connects (retrying a connection that fails transiently) and judges the host key.
fn start(settings: &Settings, conn: &Connection) -> Result<Opening> {
    with_write_attempts(conn.retries.max(1), || Opening::start(settings.clone()))
}

/// Connects to an SFTP server and logs in.
pub fn open_sftp(mut url: FtpUrl, conn: &Connection, printer: &Printer, create_root: bool) -> Result<SftpTarget> {
    if conn.ftp_active {
        return Err(ExitError::usage("--ftp-active is an FTP option; sftp:// has no active mode").into());
    }
    if conn.implicit_tls || conn.ca_file.is_some() || conn.insecure {
        return Err(ExitError::usage(
            "--implicit-tls, --ca-file and --insecure are FTPS options; for sftp:// see --host-key and --no-verify-host-keys",
        )
        .into());
    }
    if url.password.is_none()
        && let Some(pw) = &conn.password_env
    {
        url.password = Some(pw.expose().to_string());
    }
    if let Some(p) = &url.password {
        trace::register_secret(p);
    }
    let settings = Settings {
        url: url.clone(),
        policy: policy(&url, conn, printer),
        timeout: Duration::from_secs(conn.timeout.max(1)),
    };
    let mut opening = start(&settings, conn).with_context(|| format!("cannot open {}", url.redacted()))?;
    printer.note(4, &format!("{} presented the host key {}.", url.display(), opening.host_key()));
    let options = Options { retries: conn.retries, create_root };
    let user = url.user.clone().or_else(os_login_name).unwrap_or_else(|| "root".into());
    let done = |opening: Opening, user: String, login: Login| {
        printer.note(4, &format!("Logged in to {} as '{user}' with {}.", url.display(), login.describe()));
        opening.finish(user, login, options.clone())
    };

    if let Some(login) = opening.try_nothing(&user)? {
        return done(opening, user, login);
    }
    // 1. The ssh-agent, 2. --ssh-key files, 3. the default keys. A password given in the URL
    // or FTPSYNC_PASSWORD is what the user means to log in with: then only the keys named with
    // --ssh-key come first (a server counts every key offered against its MaxAuthTries, 6 with
    // OpenSSH, and an agent with many keys would use them up before the password).
    let explicit_password = url.password.is_some();
    if !explicit_password && let Some(login) = opening.try_agent(&user)? {
        return done(opening, user, login);
    }
    let mut ask = passphrase(conn);
    let mut keys = Vec::new();
    for path in &conn.ssh_keys {
        keys.push(connect::load_key(path, &mut ask).map_err(|e| ExitError::usage(format!("{e:#}")))?);
    }
    if let Some(login) = opening.try_keys(&user, &keys)? {
        return done(opening, user, login);
    }
    if !explicit_password {
        let defaults: Vec<KeyFile> = connect::default_key_files()
            .iter()
            .filter(|p| !conn.ssh_keys.contains(p))
            .filter_map(|p| match connect::load_key(p, &mut ask) {
                Ok(k) => Some(k),
                Err(e) => {
                    printer.note(4, &format!("Skipping {}: {e:#}", p.display()));
                    None
                }
            })
            .collect();
        if let Some(login) = opening.try_keys(&user, &defaults)? {
            return done(opening, user, login);
        }
    }

    // 4. A password.
    if !opening.takes_password() {
        return Err(opening.refused());
    }
    let mut resolver = Resolver::new(LookupOptions::from_settings(conn), printer);
    let mut lookup_url = url.clone();
    lookup_url.user = Some(user.clone()).filter(|_| url.user.is_some());
    let no_password = |why: &str| {
        opening
            .refused()
            .context(format!("no password to try: {why} (give it in {PASSWORD_ENV}, .netrc or the keyring)"))
    };
    let creds = match resolver.resolve(&lookup_url) {
        Ok(c) => c,
        // Nowhere to get a password from: the keys were the only way, and they failed.
        Err(e) => return Err(no_password(&format!("{e:#}"))),
    };
    let (mut user, mut password) = match (creds.user, creds.password) {
        (u, Some(p)) => (u.unwrap_or(user), p),
        (_, None) => return Err(no_password("none was found")),
    };
    // Asked again only on a terminal (as for FTP); elsewhere the refusal is the error.
    let can_ask = !conn.no_prompt && std::io::stdin().is_terminal();
    for attempt in 0.. {
        trace::register_secret(password.expose());
        match opening.try_password(&user, &password) {
            Ok(Some(login)) => {
                if conn.store_password
                    && let Err(e) = resolver.store(&url.host, &user, &password)
                {
                    printer.warn(&format!("{e:#}"));
                }
                return done(opening, user, login);
            }
            Ok(None) if attempt < 3 && opening.takes_password() && can_ask => {
                printer.error(&format!("{:#}", opening.refused()));
                match resolver.reprompt(&url.host, Some(user.as_str()))? {
                    Some(c) => {
                        user = c.user.unwrap_or(user);
                        password = c.password.unwrap_or_default();
                    }
                    None => return Err(opening.refused()),
                }
            }
            Ok(None) => return Err(opening.refused()),
            Err(e) if is_transient(&e) => return Err(e.context(format!("cannot open {}", url.redacted()))),
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}
