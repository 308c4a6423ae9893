//! The control connection: commands go out, replies come in, and several commands may be in
//! flight at once (pipelining: a batch is written in one go and its replies read in order,
//! which costs one round trip instead of one per command).
//!
//! With `-vvv` every command and reply is traced (passwords masked, see `output::trace`).

use std::io::{self, BufReader, Write};
use std::sync::Arc;

use rustls::ClientConfig;

use super::reply::{Reply, read_reply};
use super::stream::Stream;
use crate::backend::ftp::encoding::WireNames;

/// The `log` target of the protocol trace.
pub const TRACE_TARGET: &str = "ftpsync::ftp";

pub struct Control {
    reader: BufReader<Stream>,
    /// Commands queued and not yet written.
    out: Vec<u8>,
    /// Commands sent or queued whose final reply has not been read.
    in_flight: usize,
    names: WireNames,
    /// Several commands may be in flight at once. Off for servers that answer them out of
    /// order (libunftp runs many commands as concurrent tasks).
    pipelining: bool,
}

impl Control {
    pub fn new(stream: Stream, names: WireNames) -> Control {
        Control {
            reader: BufReader::with_capacity(16 * 1024, stream),
            out: Vec::new(),
            in_flight: 0,
            names,
            pipelining: true,
        }
    }

    pub fn pipelining(&self) -> bool {
        self.pipelining
    }

    pub fn set_pipelining(&mut self, on: bool) {
        self.pipelining = on;
    }

    pub fn stream(&self) -> &Stream {
        self.reader.get_ref()
    }

    pub fn names(&self) -> &WireNames {
        &self.names
    }

    /// Commands whose final reply is still to be read; a connection left like this after an
    /// error no longer knows which reply answers what, and must be dropped.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Marks the connection as out of step (replies no longer match commands): it counts as
    /// having a command in flight forever, so it is never used again.
    pub fn give_up(&mut self) {
        self.in_flight = self.in_flight.max(1);
    }

    /// Whether the server said something nobody asked for (nothing in flight, yet bytes are
    /// waiting): pyftpdlib, for one, announces with an unsolicited `421` that it gave up a
    /// passive port. Replies would no longer match commands. Looks without waiting.
    pub fn unsolicited(&self) -> bool {
        if self.in_flight > 0 || !self.out.is_empty() {
            return false;
        }
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let tcp = self.stream().tcp();
        if tcp.set_nonblocking(true).is_err() {
            return true;
        }
        // An end (0 bytes) is news too: the server closed the connection.
        let waiting = !matches!(tcp.peek(&mut [0u8; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        tcp.set_nonblocking(false).is_err() || waiting
    }

    /// Queues a command; it is written with the next [`Control::flush`] or reply read.
    pub fn send(&mut self, cmd: &str) {
        log::trace!(target: TRACE_TARGET, "CC OUT: {cmd}");
        self.out.extend(self.names.encode_command(cmd));
        self.out.extend_from_slice(b"\r\n");
        self.in_flight += 1;
    }

    /// Writes the queued commands.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            let stream = self.reader.get_mut();
            stream.write_all(&self.out)?;
            stream.flush()?;
            self.out.clear();
        }
        Ok(())
    }

    /// Reads the next reply, preliminary (1xx) or final, writing queued commands first.
    pub fn reply(&mut self) -> io::Result<Reply> {
        self.flush()?;
        let reply = read_reply(&mut self.reader)?;
        if log::log_enabled!(target: TRACE_TARGET, log::Level::Trace) {
            let text: Vec<String> = reply.lines.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
            log::trace!(target: TRACE_TARGET, "CC IN: '{}'", text.join("\\n"));
        }
        if !reply.is_preliminary() {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        Ok(reply)
    }

    /// Reads the next final reply, passing over preliminary ones.
    pub fn final_reply(&mut self) -> io::Result<Reply> {
        loop {
            let reply = self.reply()?;
            if !reply.is_preliminary() {
                return Ok(reply);
            }
        }
    }

    /// Sends one command and reads its final reply.
    pub fn exec(&mut self, cmd: &str) -> io::Result<Reply> {
        self.send(cmd);
        self.final_reply()
    }

    /// Sends several commands at once (one by one without pipelining) and reads their final
    /// replies, in order.
    pub fn batch(&mut self, cmds: &[String]) -> io::Result<Vec<Reply>> {
        if !self.pipelining {
            return cmds.iter().map(|cmd| self.exec(cmd)).collect();
        }
        for cmd in cmds {
            self.send(cmd);
        }
        cmds.iter().map(|_| self.final_reply()).collect()
    }

    /// Switches to TLS (after `AUTH TLS` was accepted; nothing may be in flight).
    pub fn secure(self, config: Arc<ClientConfig>, host: &str) -> io::Result<Control> {
        if self.in_flight != 0 || !self.reader.buffer().is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the server sent more than the reply to AUTH TLS"));
        }
        let Control { reader, names, pipelining, .. } = self;
        let mut secured = Control::new(reader.into_inner().secure(config, host)?, names);
        secured.pipelining = pipelining;
        Ok(secured)
    }
}
