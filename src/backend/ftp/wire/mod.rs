//! The FTP protocol on the wire, written for speed: commands are pipelined (a batch goes out
//! in one write and its replies are read in order), a transfer's command goes out with its
//! `EPSV`, and small uploads do not wait for the server's `150`. suppaftp, which sends one
//! command and waits for its reply before the next, costs a round trip per command; on a link
//! with 20 ms of latency that is most of the time of a small-file upload.
//!
//! [`reply`] parses replies, [`stream`] is plain or TLS TCP, [`control`] the command channel,
//! [`data`] the data connections.

pub mod control;
pub mod data;
pub mod reply;
pub mod stream;

pub use control::Control;
pub use data::{DataSettings, Direction, Failure, Mode, Transfer};
pub use reply::Reply;
