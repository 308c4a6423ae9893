//! Opening the targets a command names.

use std::path::Path;

use anyhow::Result;

use crate::error::ExitError;
use crate::target::Target;
use crate::target::local::LocalTarget;
use crate::target::url::{Location, redact_raw};
use crate::settings::Connection;

/// Opens a target given on the command line (or recorded in a plan).
pub fn open(location: &str, conn: &Connection) -> Result<Box<dyn Target>> {
    let _ = conn;
    match Location::parse(location).map_err(|e| ExitError::usage(format!("{}: {e}", redact_raw(location))))? {
        Location::Local(path) => open_folder(&path),
        Location::Ftp(url) => Err(ExitError::usage(format!("{}: FTP targets are not available in this build", url.redacted())).into()),
    }
}

/// Opens a local folder; a missing folder is a usage error that says what to do.
pub fn open_folder(path: &Path) -> Result<Box<dyn Target>> {
    if !path.is_dir() {
        let what = if path.exists() { "is not a folder" } else { "does not exist" };
        return Err(ExitError::usage(format!("{} {what}; check the path (or create the folder)", path.display())).into());
    }
    Ok(Box::new(LocalTarget::open(path)?))
}

/// Opens both targets of a run, checking pyftpsync's rules for their roles.
pub fn open_pair(local: &str, remote: &str, conn: &Connection) -> Result<(Box<dyn Target>, Box<dyn Target>)> {
    if remote == "." {
        return Err(ExitError::usage("'.' is expected to be the local target (not remote)").into());
    }
    if matches!(Location::parse(local), Ok(Location::Ftp(_))) {
        return Err(ExitError::usage("the local target must be a folder; the remote one may be an FTP URL").into());
    }
    Ok((open(local, conn)?, open(remote, conn)?))
}
