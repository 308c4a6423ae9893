//! Integration tests (one binary, as in ripgrep): each module covers one area.

#[cfg(unix)]
mod ask;
mod case_insensitive;
mod ci_workflow;
mod cli_docs;
mod delete_safety;
mod fallbacks;
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
mod listing_fallbacks;
mod json_docs;
mod killed;
mod leftovers;
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
mod support;
mod unreadable;
mod workers_order;
