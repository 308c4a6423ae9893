//! Whether to trust the host key an SSH server presents: `~/.ssh/known_hosts` as OpenSSH reads
//! it, a pinned fingerprint (`--host-key`, or the one a plan recorded), or nothing at all
//! (`--no-verify-host-keys`, said loudly by the caller).
//!
//! known_hosts lines are `[@marker] HOSTS KEYTYPE BASE64 [comment]`: HOSTS is a comma list of
//! names, `[name]:port` for another port than 22, `!`negations and `*`/`?` wildcards, or one
//! hashed `|1|SALT|HMAC-SHA1` entry; `@revoked` marks a key never to accept; `@cert-authority`
//! lines are certificate authorities, which ftpsync does not use (skipped). Pure: the file is
//! read by [`read_known_hosts`], everything else works on its text.

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey, parse_public_key_base64};

/// How the host key is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Against a known_hosts file (the user's `~/.ssh/known_hosts` unless a test says otherwise).
    KnownHosts(PathBuf),
    /// Only these `SHA256:` fingerprints (`--host-key`, or the plan's).
    Pinned(Vec<String>),
    /// Anything (`--no-verify-host-keys`).
    Anything,
}

/// What was found about the key the server presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Trusted,
    /// No line names this host (with a key of this type).
    Unknown,
    /// The host is known with another key of the same type (line numbers of the file).
    Changed(Vec<usize>),
    /// The key is marked `@revoked`.
    Revoked(usize),
    /// Not the pinned fingerprint.
    NotPinned(Vec<String>),
}

/// The `SHA256:...` fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The user's known_hosts file (`$HOME/.ssh/known_hosts`; HOME is respected so tests can point
/// it elsewhere).
pub fn user_known_hosts() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
    home.join(".ssh").join("known_hosts")
}

/// The text of a known_hosts file; a missing file knows nobody.
pub fn read_known_hosts(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    }
}

/// The name a host has in known_hosts: `host` on port 22, `[host]:port` otherwise.
pub fn host_entry(host: &str, port: u16) -> String {
    if port == 22 { host.to_string() } else { format!("[{host}]:{port}") }
}

/// Judges `key` for `host`:`port` against the text of a known_hosts file.
pub fn judge_known_hosts(text: &str, host: &str, port: u16, key: &PublicKey) -> Verdict {
    let name = host_entry(host, port);
    let mut changed = Vec::new();
    let mut trusted = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(mut hosts) = fields.next() else { continue };
        let marker = hosts.strip_prefix('@');
        if marker.is_some() {
            let Some(h) = fields.next() else { continue };
            hosts = h;
        }
        let (Some(_keytype), Some(b64)) = (fields.next(), fields.next()) else { continue };
        if !hosts_match(hosts, &name) {
            continue;
        }
        let Ok(recorded) = parse_public_key_base64(b64) else { continue };
        match marker {
            Some("revoked") if recorded.key_data() == key.key_data() => return Verdict::Revoked(i + 1),
            Some(_) => {}
            None if recorded.key_data() == key.key_data() => trusted = true,
            None if recorded.algorithm() == key.algorithm() => changed.push(i + 1),
            None => {}
        }
    }
    // A line with the same key wins over one with another of its type (OpenSSH does the same:
    // a host may have several keys).
    if trusted {
        Verdict::Trusted
    } else if !changed.is_empty() {
        Verdict::Changed(changed)
    } else {
        Verdict::Unknown
    }
}

/// Judges a key under a policy (the known_hosts text read by the caller for
/// [`Policy::KnownHosts`]).
pub fn judge(policy: &Policy, known_hosts: &str, host: &str, port: u16, key: &PublicKey) -> Verdict {
    match policy {
        Policy::Anything => Verdict::Trusted,
        Policy::Pinned(pins) => {
            let seen = fingerprint(key);
            if pins.iter().any(|p| p.trim() == seen) { Verdict::Trusted } else { Verdict::NotPinned(pins.clone()) }
        }
        Policy::KnownHosts(_) => judge_known_hosts(known_hosts, host, port, key),
    }
}

fn hosts_match(hosts: &str, name: &str) -> bool {
    if let Some(hashed) = hosts.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let mut matched = false;
    for pattern in hosts.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if wildcard(negated, name) {
                return false;
            }
        } else if wildcard(pattern, name) {
            matched = true;
        }
    }
    matched
}

/// `|1|SALT|HASH` (base64): HMAC-SHA1 of the name keyed with the salt.
fn hashed_match(hashed: &str, name: &str) -> bool {
    use base64ct::{Base64, Encoding};
    let Some((salt, hash)) = hashed.split_once('|') else { return false };
    let (Ok(salt), Ok(hash)) = (Base64::decode_vec(salt), Base64::decode_vec(hash)) else { return false };
    let Ok(mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else { return false };
    mac.chain_update(name.as_bytes()).verify_slice(&hash).is_ok()
}

/// OpenSSH's host patterns: `*` any run of characters, `?` one; case-insensitive.
fn wildcard(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIBrWM7oXEzKFI39IM+sDzKL1k+gHyEMMYn3H5B5O7XGI";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIPQ9wkGcWWkm+pf/i9nWYfbzsTqhwPKai13IMX968nth";

    fn key(b64: &str) -> PublicKey {
        parse_public_key_base64(b64).unwrap()
    }

    #[test]
    fn plain_port_and_wildcard_entries() {
        let text = format!(
            "# comment\n[127.0.0.1]:2222 ssh-ed25519 {KEY_A}\nexample.com,*.example.org ssh-ed25519 {KEY_B} c\n"
        );
        assert_eq!(judge_known_hosts(&text, "127.0.0.1", 2222, &key(KEY_A)), Verdict::Trusted);
        assert_eq!(judge_known_hosts(&text, "127.0.0.1", 22, &key(KEY_A)), Verdict::Unknown);
        assert_eq!(judge_known_hosts(&text, "127.0.0.1", 2222, &key(KEY_B)), Verdict::Changed(vec![2]));
        assert_eq!(judge_known_hosts(&text, "www.example.org", 22, &key(KEY_B)), Verdict::Trusted);
        assert_eq!(judge_known_hosts(&text, "EXAMPLE.com", 22, &key(KEY_B)), Verdict::Trusted);
        let negated = format!("*.example.org,!bad.example.org ssh-ed25519 {KEY_B}\n");
        assert_eq!(judge_known_hosts(&negated, "bad.example.org", 22, &key(KEY_B)), Verdict::Unknown);
    }

    #[test]
    fn hashed_entries() {
        // `ssh-keygen -H` of "[127.0.0.1]:2222" with salt 20 zero bytes... computed here.
        use base64ct::{Base64, Encoding};
        let salt = [7u8; 20];
        let mac = Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap().chain_update(b"[127.0.0.1]:2222").finalize();
        let line = format!(
            "|1|{}|{} ssh-ed25519 {KEY_A}\n",
            Base64::encode_string(&salt),
            Base64::encode_string(&mac.into_bytes())
        );
        assert_eq!(judge_known_hosts(&line, "127.0.0.1", 2222, &key(KEY_A)), Verdict::Trusted);
        assert_eq!(judge_known_hosts(&line, "127.0.0.2", 2222, &key(KEY_A)), Verdict::Unknown);
    }

    #[test]
    fn revoked_keys_are_refused_even_when_also_listed() {
        let text =
            format!("h ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_A}\n@cert-authority * ssh-ed25519 {KEY_B}\n");
        assert_eq!(judge_known_hosts(&text, "h", 22, &key(KEY_A)), Verdict::Revoked(2));
        // A CA line is no host key: KEY_B is simply not h's key.
        assert_eq!(judge_known_hosts(&text, "h", 22, &key(KEY_B)), Verdict::Changed(vec![1]));
    }

    #[test]
    fn pins_and_anything() {
        let a = key(KEY_A);
        let fp = fingerprint(&a);
        assert!(fp.starts_with("SHA256:"));
        assert_eq!(judge(&Policy::Pinned(vec![fp.clone()]), "", "h", 22, &a), Verdict::Trusted);
        assert!(matches!(judge(&Policy::Pinned(vec![fp]), "", "h", 22, &key(KEY_B)), Verdict::NotPinned(_)));
        assert_eq!(judge(&Policy::Anything, "", "h", 22, &key(KEY_B)), Verdict::Trusted);
    }
}
