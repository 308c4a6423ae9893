//! Integration tests (one binary, as in ripgrep): each module covers one area.

mod golden;
mod golden_ftp;
mod ftp_cli;
mod fixes;
mod interop;
mod plan_apply;
mod property;
mod run_tasks;
mod scan_tree;
mod server;
mod support;
