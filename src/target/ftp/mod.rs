//! FTP/FTPS servers as a target.
//!
//! [`listing`] turns what a server sends on the data connection for `MLSD` or `LIST` into
//! entries, without any I/O and without trusting a single name, size or time it contains.

pub mod listing;
