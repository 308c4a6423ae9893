//! sha256 of a file on a target, read through the [`Target`] trait (for `--checksum` plans).

use anyhow::Result;

use super::Target;
use crate::model::digest::Hasher;
use crate::model::relpath::RelPath;

/// sha256 of a file on a target (for `--checksum` plans).
pub fn hash_file(target: &mut dyn Target, path: &RelPath) -> Result<String> {
    let mut hasher = Hasher::default();
    target.read_file(path, &mut |r| {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(())
    })?;
    Ok(hasher.finish())
}
