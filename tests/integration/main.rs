//! Integration tests (one binary, as in ripgrep): each module covers one area.

#[cfg(unix)]
mod ask;
mod ci_workflow;
mod cli_docs;
mod delete_safety;
mod fault_matrix;
mod fixes;
mod ftp_cli;
mod ftp_quirks;
mod fuzzed;
mod golden;
mod golden_ftp;
mod hostile;
mod interop;
mod interrupted;
mod json_docs;
mod killed;
mod lazy_meta;
mod local_safety;
mod markdown;
mod plan_apply;
mod progress;
mod property;
mod round_trips;
mod run_tasks;
mod scan_tree;
mod server;
mod servers;
mod stall_steps;
mod stalls;
mod support;
mod tls_data_first;
mod workers_order;
