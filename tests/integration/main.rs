//! Integration tests (one binary, as in ripgrep): each module covers one area.

mod delete_safety;
mod fault_matrix;
mod fixes;
mod fuzzed;
mod ftp_cli;
mod ftp_quirks;
mod golden;
mod golden_ftp;
mod hostile;
mod interop;
mod interrupted;
mod killed;
mod local_safety;
mod plan_apply;
mod property;
mod run_tasks;
mod scan_tree;
mod server;
mod servers;
mod support;
