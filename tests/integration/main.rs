//! Integration tests (one binary, as in ripgrep): each module covers one area.

mod golden;
mod golden_ftp;
mod hostile;
mod interrupted;
mod interop;
mod plan_apply;
mod property;
mod server;
mod support;
