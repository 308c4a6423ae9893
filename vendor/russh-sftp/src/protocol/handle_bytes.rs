//! [ftpsync patch] A handle's bytes, kept exactly in the `String` the API uses for it.
//!
//! SFTP handles are opaque byte strings, not text. OpenSSH's sftp-server sends the index of its
//! handle table as 4 bytes, big-endian: handle 128 is `00 00 00 80`, not valid UTF-8. Decoded
//! as UTF-8 (lossily, as `try_get_string` does), its last byte became U+FFFD and went back as 6
//! bytes, which the server refused as an unknown handle with a bare `SSH_FX_FAILURE`: every
//! READ, WRITE, FSTAT, FSETSTAT, READDIR and CLOSE on handles 128-255 (384-511, ...) failed,
//! that is whenever more than 128 handles were open at once on one channel. So a handle is
//! read one char per byte (U+0000-U+00FF, Latin-1) and written back the same way: every byte
//! sequence survives the round trip. A handle made by a server of this crate (any `String`)
//! is written as Latin-1 when all its chars are below U+0100 (it comes back as the same
//! string), else as UTF-8 as before.

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer, T: AsRef<str> + ?Sized>(handle: &T, serializer: S) -> Result<S::Ok, S::Error> {
    let handle = handle.as_ref();
    if handle.chars().all(|c| (c as u32) < 0x100) {
        let bytes: Vec<u8> = handle.chars().map(|c| c as u32 as u8).collect();
        serializer.serialize_bytes(&bytes)
    } else {
        serializer.serialize_bytes(handle.as_bytes())
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}
