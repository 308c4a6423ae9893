//! Names on the wire: UTF-8, with a Windows-1252 fallback for servers that send other bytes.
//!
//! A name that arrived as cp1252 is sent back as the very bytes it arrived as, so commands on
//! it work (pyftpsync re-encodes it as UTF-8 and the server answers 550).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The names of one connection, with the raw bytes of names that are not UTF-8.
#[derive(Debug, Clone, Default)]
pub struct WireNames {
    raw: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl WireNames {
    /// Remembers the bytes a decoded (non-UTF-8) name came as.
    pub fn remember(&self, name: &str, raw: &[u8]) {
        self.raw.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), raw.to_vec());
    }

    /// The bytes of one path component.
    fn component(&self, map: &HashMap<String, Vec<u8>>, part: &str) -> Vec<u8> {
        map.get(part).cloned().unwrap_or_else(|| part.as_bytes().to_vec())
    }
}

impl WireNames {
    /// The bytes of a command line (`VERB argument`, without line end): path components of
    /// the argument that arrived as Windows-1252 go back as the bytes they came as.
    pub fn encode_command(&self, text: &str) -> Vec<u8> {
        let map = self.raw.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return text.as_bytes().to_vec();
        }
        // "VERB argument": only path components of the argument can be remembered names.
        let (verb, arg) = match text.split_once(' ') {
            Some((v, a)) => (v, a),
            None => return text.as_bytes().to_vec(),
        };
        let mut out = format!("{verb} ").into_bytes();
        for (i, part) in arg.split('/').enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend(self.component(&map, part));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1252_names_go_back_as_they_came() {
        let names = WireNames::default();
        assert_eq!(names.encode_command("RETR /a/café.txt"), "RETR /a/café.txt".as_bytes());
        names.remember("café.txt", b"caf\xe9.txt");
        assert_eq!(names.encode_command("RETR /a/café.txt"), b"RETR /a/caf\xe9.txt");
        assert_eq!(names.encode_command("NOOP"), b"NOOP");
    }
}
