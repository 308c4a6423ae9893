//! Digests: sha256 helpers, the hash algorithms targets may offer, and a streaming SHA-2
//! hasher.

use sha2::{Digest, Sha256, Sha512};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of any byte string.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A streaming sha256 that can sit between a reader and a writer.
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// A hash algorithm a target may compute. Only the SHA-2 ones prove content; MD5, SHA-1 and
/// CRC32 are integrity checks (collisions can be made on purpose), named here so that what a
/// server offers can be described, never used as proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha256,
    Sha512,
    Sha1,
    Md5,
    Crc32,
}

impl HashAlg {
    /// The name `FEAT HASH` and `OPTS HASH` use (draft-bryan-ftpext-hash).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha512 => "SHA-512",
            HashAlg::Sha1 => "SHA-1",
            HashAlg::Md5 => "MD5",
            HashAlg::Crc32 => "CRC32",
        }
    }

    /// The algorithm of a `FEAT HASH` name, if known.
    pub fn from_name(name: &str) -> Option<HashAlg> {
        [HashAlg::Sha256, HashAlg::Sha512, HashAlg::Sha1, HashAlg::Md5, HashAlg::Crc32]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Whether a match proves the content (a collision cannot be made on purpose).
    pub fn proves(self) -> bool {
        matches!(self, HashAlg::Sha256 | HashAlg::Sha512)
    }

    /// Length of the digest in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 64,
            HashAlg::Sha512 => 128,
            HashAlg::Sha1 => 40,
            HashAlg::Md5 => 32,
            HashAlg::Crc32 => 8,
        }
    }
}

/// What a target answered for one file asked to hash it (`Target::hash_files`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hashed {
    /// The digest (lower-case hex) and how it was obtained (`HASH SHA-256`, `XSHA256`,
    /// `read locally`), for people.
    Digest { hex: String, method: String },
    /// The target cannot hash with this algorithm (no such command, the algorithm not offered,
    /// refused as not implemented): why. The caller falls back to another method; this is no
    /// statement about the file.
    Unsupported(String),
}

/// A streaming hash of one of the proving algorithms.
pub enum ContentHasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl ContentHasher {
    /// A hasher for `alg`; `None` for the algorithms that prove nothing.
    pub fn new(alg: HashAlg) -> Option<ContentHasher> {
        match alg {
            HashAlg::Sha256 => Some(ContentHasher::Sha256(Sha256::new())),
            HashAlg::Sha512 => Some(ContentHasher::Sha512(Sha512::new())),
            _ => None,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            ContentHasher::Sha256(h) => h.update(bytes),
            ContentHasher::Sha512(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> String {
        match self {
            ContentHasher::Sha256(h) => hex(&h.finalize()),
            ContentHasher::Sha512(h) => hex(&h.finalize()),
        }
    }

    /// Hashes everything `r` yields, a piece at a time (bounded memory).
    pub fn consume(&mut self, r: &mut dyn std::io::Read) -> std::io::Result<u64> {
        let mut buf = vec![0u8; 32 * 1024];
        let mut total = 0;
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.update(&buf[..n]);
            total += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_by_name_and_what_they_prove() {
        assert_eq!(HashAlg::from_name("sha-256"), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_name("CRC32"), Some(HashAlg::Crc32));
        assert_eq!(HashAlg::from_name("SHA-3"), None);
        assert!(HashAlg::Sha512.proves() && !HashAlg::Md5.proves() && !HashAlg::Sha1.proves());
        let mut h = ContentHasher::new(HashAlg::Sha512).unwrap();
        h.consume(&mut &b"hello world\n"[..]).unwrap();
        assert_eq!(h.finish().len(), HashAlg::Sha512.hex_len());
        assert!(ContentHasher::new(HashAlg::Md5).is_none());
    }
}
