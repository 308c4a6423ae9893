//! Opening the targets a command names: folders, FTP/FTPS servers with their credentials
//! and TLS settings, and SFTP servers with their host keys and logins (`sftp.rs` beside this).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::backend::ftp::session::Settings;
use crate::backend::ftp::tls::{Trust, Verify};
use crate::backend::ftp::{FtpTarget, Options};
use crate::backend::local::LocalTarget;
use crate::backend::url::{FtpUrl, Location, Tls, redact_raw};
use crate::backend::{Target, is_login_refused};
use crate::credentials::{LookupOptions, Resolver};
use crate::error::ExitError;
use crate::model::target::TargetInfo;
use crate::output::{Printer, trace};
use crate::settings::Connection;

/// Opens a target given on the command line (or recorded in a plan).
pub fn open(location: &str, conn: &Connection, printer: &Printer, create_root: bool) -> Result<Box<dyn Target>> {
    open_ahead(location, conn, printer, create_root, 0)
}

/// [`open`], with `ahead` more connections the run foresees work for logging in beside the
/// first (FTP; an SFTP session carries many requests at once, and its channels open later).
fn open_ahead(
    location: &str,
    conn: &Connection,
    printer: &Printer,
    create_root: bool,
    ahead: usize,
) -> Result<Box<dyn Target>> {
    match Location::parse(location).map_err(|e| ExitError::usage(format!("{}: {e}", redact_raw(location))))? {
        Location::Local(path) => open_folder(&path),
        Location::Ftp(url) => Ok(Box::new(open_ftp(url, conn, printer, create_root, ahead)?)),
        Location::Sftp(url) => Ok(Box::new(super::sftp_login::open_sftp(url, conn, printer, create_root)?)),
    }
}

/// The root folder of an open target as pyftpsync shows it: the absolute local path, or the
/// folder on the FTP server.
pub fn root_path(info: &TargetInfo) -> String {
    match Location::parse(&info.url) {
        Ok(Location::Ftp(url) | Location::Sftp(url)) => url.path,
        _ => info.url.clone(),
    }
}

/// Opens a local folder; a missing folder is a usage error that says what to do.
pub fn open_folder(path: &Path) -> Result<Box<dyn Target>> {
    if !path.is_dir() {
        let what = if path.exists() { "is not a folder" } else { "does not exist" };
        return Err(
            ExitError::usage(format!("{} {what}; check the path (or create the folder)", path.display())).into()
        );
    }
    Ok(Box::new(LocalTarget::open(path)?))
}

fn verify(conn: &Connection) -> Verify {
    match (&conn.ca_file, conn.insecure) {
        (_, true) => Verify::Nothing,
        (Some(pem), false) => Verify::CaFile(pem.clone()),
        (None, false) => Verify::SystemRoots,
    }
}

/// Connects to an FTP server, asking for the password again after a refused login when
/// prompting is possible.
pub fn open_ftp(
    mut url: FtpUrl,
    conn: &Connection,
    printer: &Printer,
    create_root: bool,
    ahead: usize,
) -> Result<FtpTarget> {
    if conn.implicit_tls {
        if url.tls == Tls::None {
            return Err(ExitError::usage("--implicit-tls needs an ftps:// URL").into());
        }
        url.tls = Tls::Implicit;
    }
    let trust = match url.tls {
        Tls::None => None,
        _ => {
            if conn.insecure {
                printer.warn(&format!("--insecure: the certificate of {} is NOT verified; anyone in between can read and change the transfer", url.display()));
            }
            Some(Trust::new(&verify(conn)).map_err(|e| ExitError::usage(format!("{e:#}")))?)
        }
    };
    if url.password.is_none()
        && let Some(pw) = &conn.password_env
    {
        url.password = Some(pw.expose().to_string());
    }
    let mut resolver = Resolver::new(LookupOptions::from_settings(conn), printer);
    let mut creds = resolver.resolve(&url)?;
    let options = Options { retries: conn.retries, create_root };
    for attempt in 0.. {
        let (user, password) = creds.login_pair();
        trace::register_secret(password.expose());
        printer.note(4, &format!("Login as '{user}'."));
        let settings = Settings {
            url: url.clone(),
            user: user.clone(),
            password: password.clone(),
            trust: trust.clone(),
            active: conn.ftp_active,
            timeout: Duration::from_secs(conn.timeout.max(1)),
        };
        match FtpTarget::open_ahead(settings, options.clone(), ahead) {
            Ok(target) => {
                if conn.store_password
                    && let Err(e) = resolver.store(&url.host, &user, &password)
                {
                    printer.warn(&format!("{e:#}"));
                }
                return Ok(target);
            }
            Err(e) if attempt < 3 && is_login_refused(&e) => {
                printer.error(&format!("{e:#}"));
                match resolver.reprompt(&url.host, Some(user.as_str()))? {
                    Some(c) => creds = c,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", url.redacted())),
        }
    }
    unreachable!("the loop returns")
}

/// Opens both targets of a run, checking pyftpsync's rules for their roles. The local side
/// opens first: `ahead` tells from it how many more remote connections the run foresees work
/// for, which log in beside the first.
pub fn open_pair(
    local: &str,
    remote: &str,
    conn: &Connection,
    printer: &Printer,
    create_root: bool,
    ahead: impl FnOnce(&mut dyn Target) -> usize,
) -> Result<(Box<dyn Target>, Box<dyn Target>)> {
    if remote == "." {
        return Err(ExitError::usage("'.' is expected to be the local target (not remote)").into());
    }
    if matches!(Location::parse(local), Ok(Location::Ftp(_) | Location::Sftp(_))) {
        return Err(
            ExitError::usage("the local target must be a folder; the remote one may be an FTP or SFTP URL").into()
        );
    }
    let mut local = open(local, conn, printer, false)?;
    let ahead = ahead(&mut *local);
    Ok((local, open_ahead(remote, conn, printer, create_root, ahead)?))
}
