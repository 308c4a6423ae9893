//! Integration tests (one binary, as in ripgrep): each module covers one area.

mod ftp_quirks;
mod golden;
mod golden_ftp;
mod interop;
mod plan_apply;
mod property;
mod server;
mod servers;
mod support;
