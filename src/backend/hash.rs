//! Hashing a file's content: read through the [`Target`] trait ([`hash_file`], for
//! `--checksum` plans and `verify --download`), or by the target itself without sending the
//! content ([`Target::hash_files`]: an FTP server's `HASH`/`XSHA256`, a local folder reading
//! its own disk).

use anyhow::Result;

use super::Target;
use crate::model::digest::{ContentHasher, HashAlg, Hashed, Hasher};
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

/// Streams a file of `target` through a hasher of `alg` (bounded memory); the digest and the
/// bytes read. For targets that hash their own files by reading them (a local folder, the
/// in-memory tree), and for `verify --download`.
pub fn read_and_hash(target: &mut dyn Target, path: &RelPath, alg: HashAlg) -> Result<(String, u64)> {
    if ContentHasher::new(alg).is_none() {
        anyhow::bail!("{} proves nothing and is not computed here", alg.name());
    }
    let mut out = None;
    // A read retried after a cut starts over: a fresh hasher each time.
    target.read_file(path, &mut |r| {
        let mut h = ContentHasher::new(alg).expect("a proving algorithm");
        let total = h.consume(r)?;
        out = Some((h.finish(), total));
        Ok(())
    })?;
    out.ok_or_else(|| anyhow::anyhow!("{path}: nothing was read"))
}

/// [`Target::hash_files`] for targets whose files are at hand (a local folder, memory): each is
/// read and hashed here, the proving algorithms only.
pub fn hash_by_reading(target: &mut dyn Target, paths: &[RelPath], alg: HashAlg) -> Vec<Result<Hashed>> {
    if !alg.proves() {
        let why = format!("{} is not computed (an integrity check, not proof)", alg.name());
        return paths.iter().map(|_| Ok(Hashed::Unsupported(why.clone()))).collect();
    }
    let method = format!("read locally ({})", alg.name());
    paths
        .iter()
        .map(|p| read_and_hash(target, p, alg).map(|(hex, _)| Hashed::Digest { hex, method: method.clone() }))
        .collect()
}
