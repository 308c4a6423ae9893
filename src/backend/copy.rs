//! Copying a file's bytes from one side to the other.
//!
//! `std::io::copy` falls back to an 8 KiB buffer when it cannot see the concrete types, and
//! ours are wrapped (size and checksum verification, progress, the connection watch): a 256
//! MiB upload cost 32,768 reads and as many writes. A larger buffer needs fewer, but one much
//! larger no longer stays in the processor's cache between the read that fills it and the
//! write that empties it. Measured for one 256 MiB upload over loopback (bench/ftp_bench.py's
//! W4 set-up, server-side transfer times): 8 KiB 0.24 s, 16 KiB 0.18 s, 32 KiB 0.16 s, 64 KiB
//! 0.21 s, 128 KiB 0.24 s, 256 KiB 0.28 s.

use std::io::{self, Read, Write};

/// Bytes moved per read and write.
pub const BUFFER: usize = 32 * 1024;

/// Copies everything `src` yields into `dst`; returns the number of bytes copied.
pub fn copy(src: &mut dyn Read, dst: &mut dyn Write) -> io::Result<u64> {
    let mut buf = [0u8; BUFFER];
    let mut total = 0;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields its data in uneven pieces, and an interruption now and then.
    struct Choppy {
        data: Vec<u8>,
        at: usize,
        calls: usize,
    }

    impl Read for Choppy {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = (self.calls * 7919 % 100_000).min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn copies_every_byte_in_order_across_interruptions() {
        let data: Vec<u8> = (0..3 * BUFFER + 12_345).map(|i| (i * 31 % 251) as u8).collect();
        let mut src = Choppy { data: data.clone(), at: 0, calls: 0 };
        let mut out = Vec::new();
        assert_eq!(copy(&mut src, &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
    }

    #[test]
    fn errors_of_either_side_are_returned() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        assert_eq!(copy(&mut Broken, &mut Vec::new()).unwrap_err().to_string(), "disk gone");
        let mut full = [0u8; 3];
        let err = copy(&mut &b"four"[..], &mut &mut full[..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }
}
