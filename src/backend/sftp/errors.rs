//! SFTP and SSH failures as messages that say what happened, sorted into those worth another
//! attempt ([`Transient`]: the connection was lost or timed out) and final ones (no such file,
//! permission denied, the server failed: SFTP version 3 has no code for a full disk or a
//! quota, which OpenSSH reports as a plain failure).

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

use crate::backend::Transient;

/// Whether the server said the file or folder does not exist.
pub fn is_missing(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

/// Whether the server refused for lack of permission.
pub fn is_denied(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::PermissionDenied)
}

/// Whether the failure is the connection's, not the request's.
pub fn is_lost(e: &SftpError) -> bool {
    match e {
        SftpError::Status(s) => matches!(s.status_code, StatusCode::NoConnection | StatusCode::ConnectionLost),
        SftpError::IO(_) | SftpError::Timeout | SftpError::UnexpectedBehavior(_) => true,
        SftpError::Limited(_) | SftpError::UnexpectedPacket => false,
    }
}

/// `doing` failed with `e`: a sentence, and [`Transient`] when the connection is to blame.
pub fn failed(e: SftpError, doing: &str) -> anyhow::Error {
    if is_lost(&e) {
        let why = match &e {
            SftpError::Timeout => "no answer in time (--timeout)".to_string(),
            other => format!("connection lost ({other})"),
        };
        return Transient(format!("{doing}: {why}")).into();
    }
    let why = match &e {
        SftpError::Status(s) => match s.status_code {
            StatusCode::NoSuchFile => "no such file or folder".to_string(),
            StatusCode::PermissionDenied => "permission denied".to_string(),
            StatusCode::Failure => {
                let said = if s.error_message.is_empty() { "Failure" } else { s.error_message.as_str() };
                format!("the server failed (\"{said}\"; a full disk, a quota, or a name already taken?)")
            }
            StatusCode::OpUnsupported => "the server does not support this".to_string(),
            _ => format!("{} ({})", s.status_code, s.error_message),
        },
        other => other.to_string(),
    };
    anyhow::anyhow!("{doing}: {why}")
}
