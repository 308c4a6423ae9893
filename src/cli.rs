//! The command line: clap definitions only. Every pyftpsync 4.1 flag of `upload`, `download`,
//! `sync`, `run`, `scan` and `tree` is accepted (credential and FTP flags matter only for FTP
//! targets), so scripts written for pyftpsync run unchanged.

use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::backend::{DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS};
use crate::output::show::ShowFormat;
use crate::plan::io::FileFormat;
use crate::plan::options::{CaseMode, Mode, Resolve};
use crate::scan::engine::DEFAULT_WORKERS;

#[derive(Parser, Debug)]
#[command(
    name = "ftpsync",
    about = "Synchronise a local folder with an FTP/FTPS server: upload, download, two-way sync; plan, review, apply.",
    disable_version_flag = true,
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 aborted, 4 plan rejected, 5 changes (plan --detailed-exitcode), 10 problems (--report-problems)."
)]
pub struct Cli {
    /// Increment verbosity by one (default 3, range 0..6); allowed before or after the command.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Decrement verbosity by one.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub quiet: u8,
    /// Additional logging (needs -v).
    #[arg(long, value_enum, global = true)]
    pub debug: Option<DebugFlag>,
    /// How to match names that differ only in case (default: stop when ambiguous).
    #[arg(long, value_enum, global = true)]
    pub case: Option<CaseMode>,
    /// Print the version (with -v: also platform and build details).
    #[arg(short = 'V', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DebugFlag {
    Classify,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Copy new and modified files to the remote folder (plan + apply in one step).
    Upload(UploadArgs),
    /// Copy new and modified files from the remote folder to the local folder.
    Download(DownloadArgs),
    /// Synchronise new and modified files both ways, with conflict detection.
    Sync(SyncArgs),
    /// Scan both sides (read-only) and write a plan for review.
    Plan(PlanArgs),
    /// Render a plan for people (table, Markdown) or machines (JSON); print its digest.
    Show(ShowArgs),
    /// Execute a plan after proving that nothing it relies on has changed.
    Apply(ApplyArgs),
    /// Complete or undo the commit of an apply that was cut short, from its journal (plan,
    /// apply and the one-step commands do this on their own first).
    Recover(RecoverArgs),
    /// Run a task of `pyftpsync.yaml` (found in the current folder or a parent).
    #[command(after_help = TASKFILE_HELP)]
    Run(RunArgs),
    /// List a target's files and folders; remove its metadata or lock files.
    Scan(ScanArgs),
    /// Show a target's folder structure as a tree.
    Tree(TreeArgs),
    /// Serve a local folder over FTP/FTPS with the built-in server, until Ctrl-C.
    Serve(ServeArgs),
    /// Try it: plan, show and apply a sample site to a built-in FTP server on this machine.
    Demo,
    /// Print a shell completion script on stdout (e.g. `ftpsync completions bash > ~/.local/share/bash-completion/completions/ftpsync`).
    Completions(CompletionsArgs),
    /// Print the manual page (roff) of ftpsync or of one command on stdout (`ftpsync man | man -l -`).
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub struct RecoverArgs {
    /// The remote folder of the interrupted apply.
    #[arg(value_name = "REMOTE")]
    pub remote: String,
    /// Its local folder (default: the one the remote journal names, if there is one).
    #[arg(value_name = "LOCAL")]
    pub local: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// A command (`upload`, `plan`, ...) for its own page; without it, the page of ftpsync.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// Flags shared by every command that opens targets.
#[derive(Args, Debug, Clone, Default)]
pub struct ConnArgs {
    /// Use active FTP mode (PORT/EPRT) instead of passive.
    #[arg(long)]
    pub ftp_active: bool,
    /// Always prompt for the password.
    #[arg(long, conflicts_with = "no_prompt")]
    pub prompt: bool,
    /// Never prompt for credentials.
    #[arg(long)]
    pub no_prompt: bool,
    /// Do not look up credentials in the system keyring.
    #[arg(long)]
    pub no_keyring: bool,
    /// Do not look up credentials in ~/.netrc.
    #[arg(long)]
    pub no_netrc: bool,
    /// Save the password to the keyring after a successful login.
    #[arg(long)]
    pub store_password: bool,
    /// SFTP: do not verify the server's host key (dangerous; pyftpsync's flag).
    #[arg(long)]
    pub no_verify_host_keys: bool,
    /// SFTP: a private key file to log in with (repeatable; tried after the ssh-agent's keys
    /// and before the default keys in ~/.ssh). An encrypted key takes its passphrase from
    /// FTPSYNC_SSH_KEY_PASSPHRASE or a prompt.
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<PathBuf>,
    /// SFTP: accept only the host key with this fingerprint (`SHA256:...`, as `ssh-keygen -l`
    /// prints it; repeatable) instead of looking it up in ~/.ssh/known_hosts.
    #[arg(long = "host-key", value_name = "SHA256:...")]
    pub host_keys: Vec<String>,
    /// Trust the certificates in this PEM file for FTPS (instead of the system roots).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the FTPS server certificate (dangerous).
    #[arg(long)]
    pub insecure: bool,
    /// Use implicit TLS (TLS from the first byte, usually port 990) for ftps:// URLs.
    #[arg(long)]
    pub implicit_tls: bool,
    /// Network timeout in seconds.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_SECS, value_name = "SECS")]
    pub timeout: u64,
    /// Attempts for a failed connection or transfer.
    #[arg(long, default_value_t = DEFAULT_RETRIES, value_name = "N")]
    pub retries: u32,
    /// Parallel connections for listing and transfers.
    #[arg(long, default_value_t = DEFAULT_WORKERS, value_name = "N", env = "FTPSYNC_WORKERS")]
    pub workers: usize,
    /// Ignore a lock held by another run on the remote side.
    #[arg(long)]
    pub break_lock: bool,
}

/// `--match` / `--exclude`: shared by `upload`, `download`, `sync`, `scan` and `tree`.
#[derive(Args, Debug, Clone)]
pub struct FilterArgs {
    /// Wildcards for file names (not folders), fnmatch syntax, comma-separated.
    #[arg(short = 'm', long = "match", value_name = "PATTERNS")]
    pub matches: Option<String>,
    /// Wildcards of files and folders to exclude, applied after --match.
    #[arg(short = 'x', long, value_name = "PATTERNS", default_value = crate::planner::filter::DEFAULT_EXCLUDE)]
    pub exclude: String,
}

/// Flags shared by `upload`, `download` and `sync`.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Path to the local folder.
    #[arg(value_name = "LOCAL")]
    pub local: String,
    /// Remote folder: ftp://[USER[:PASSWORD]@]HOST[:PORT]/PATH, ftps://..., or a local path.
    #[arg(value_name = "REMOTE")]
    pub remote: String,
    /// Just simulate and show what would happen.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Show progress even when redirected.
    #[arg(long)]
    pub progress: bool,
    /// No ANSI colours.
    #[arg(long)]
    pub no_color: bool,
    /// Discard metadata files of other pyftpsync format versions.
    #[arg(long)]
    pub migrate: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Exit with code 10 if a conflict was skipped or a copy failed.
    #[arg(long)]
    pub report_problems: bool,
    /// Record the sha256 of files to upload in the plan and verify it while applying.
    #[arg(long)]
    pub checksum: bool,
    /// Refuse to delete more than N files and folders (counting the contents of folders).
    #[arg(long, value_name = "N")]
    pub max_delete: Option<u64>,
    /// Leave out (with a warning) a folder whose listing cannot be trusted, instead of stopping.
    #[arg(long)]
    pub skip_unreadable: bool,
    /// Change each entry in place as soon as it is transferred, instead of staging everything
    /// and committing it in one burst (for a server too small to hold two versions of a file).
    #[arg(long)]
    pub no_stage: bool,
    /// Machine-readable output: the result report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write the result report (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `--resolve`: the choices of `mode` (one table, [`Mode::resolve_choices`]), without their
/// descriptions so that help lists them on one line.
fn resolve_parser(mode: Mode) -> impl TypedValueParser<Value = Resolve> {
    let choices = mode.resolve_choices().iter().filter_map(|r| r.to_possible_value()).map(|p| p.help(None::<&str>));
    clap::builder::PossibleValuesParser::new(choices)
        .map(|name: String| Resolve::from_str(&name, false).expect("one of the choices"))
}

#[derive(Args, Debug, Clone)]
pub struct UploadArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Overwrite remote files even if the remote one is newer (but no conflict was detected).
    #[arg(long)]
    pub force: bool,
    /// Conflict resolution.
    #[arg(long, default_value = "ask", value_parser = resolve_parser(Mode::Upload))]
    pub resolve: Resolve,
    /// Remove remote files that do not exist locally.
    #[arg(long)]
    pub delete: bool,
    /// Also remove remote files that do not match the filters (implies --delete).
    #[arg(long)]
    pub delete_unmatched: bool,
    /// Create the remote folder if it is missing.
    #[arg(long)]
    pub create_folder: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Overwrite local files even if the local one is newer (but no conflict was detected).
    #[arg(long)]
    pub force: bool,
    /// Conflict resolution.
    #[arg(long, default_value = "ask", value_parser = resolve_parser(Mode::Download))]
    pub resolve: Resolve,
    /// Remove local files that do not exist remotely.
    #[arg(long)]
    pub delete: bool,
    /// Also remove local files that do not match the filters (implies --delete).
    #[arg(long)]
    pub delete_unmatched: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Conflict resolution.
    #[arg(long, default_value = "ask", value_parser = resolve_parser(Mode::Sync))]
    pub resolve: Resolve,
    /// Create the remote folder if it is missing.
    #[arg(long)]
    pub create_folder: bool,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Where to write the plan ("-" for stdout).
    #[arg(short = 'o', long = "out", value_name = "PLAN", global = true)]
    pub output: Option<PathBuf>,
    /// Plan file format.
    #[arg(long, value_enum, default_value = "json", global = true)]
    pub format: FileFormat,
    /// Exit 0 when the plan has no changes, 5 when it has.
    #[arg(long, global = true)]
    pub detailed_exitcode: bool,
    #[command(subcommand)]
    pub mode: PlanMode,
}

#[derive(Subcommand, Debug)]
pub enum PlanMode {
    /// Plan an upload.
    Upload(UploadArgs),
    /// Plan a download.
    Download(DownloadArgs),
    /// Plan a two-way sync.
    Sync(SyncArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The plan file (JSON or MessagePack).
    pub plan: PathBuf,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ShowFormat,
    /// Print only the plan's digest.
    #[arg(long)]
    pub sha256: bool,
    /// Also list entries that do not change.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The plan file (JSON or MessagePack).
    pub plan: PathBuf,
    /// Refuse the plan unless its digest is this (as printed by `plan` and `show --sha256`).
    #[arg(long, value_name = "HEX")]
    pub expect_sha256: Option<String>,
    /// Use this local folder instead of the one the plan names: another checkout of the same
    /// tree (a later CI job). Its files must still match the plan.
    #[arg(long, value_name = "DIR")]
    pub local: Option<PathBuf>,
    /// Write the result report (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The result report as JSON on stdout instead of the action lines.
    #[arg(long)]
    pub json: bool,
    /// No ANSI colours.
    #[arg(long)]
    pub no_color: bool,
    /// Show progress even when redirected.
    #[arg(long)]
    pub progress: bool,
    /// Exit with code 10 if a conflict was skipped or a copy failed.
    #[arg(long)]
    pub report_problems: bool,
    /// Change each entry in place as soon as it is transferred, instead of staging everything
    /// and committing it in one burst (for a server too small to hold two versions of a file).
    #[arg(long)]
    pub no_stage: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
}

const TASKFILE_HELP: &str = "\
The task file, pyftpsync.yaml (or .pyftpsync.yaml), is looked for in the current folder and up to 14 \
parents:

  default_task: deploy            # run when no TASK is given
  common_config:                  # merged into every task; the task's own keys win
    remote: ftp://example.com/site
    dry_run: true                 # pass --execute to write
  tasks:
    deploy: {command: upload, delete: true, exclude: \"build,.*\"}
    show: {command: tree, files: true}

command is upload, download, sync or tree. Other keys: local (relative to the file), case, create_folder, \
debug, delete, delete_unmatched, dry_run, exclude, files, force, ftp_active, here, match, migrate, no_color, \
no_keyring, no_netrc, no_prompt, no_verify_host_keys, progress, prompt, report_problems, resolve (default \
skip), root, sort, verbose. The flags above override the task's value; other settings come from the file.";

/// `ftpsync run [TASK]`: pyftpsync's flags of `run` (each overrides the task's setting as
/// pyftpsync does), plus where to write a plan instead of running.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The task to run (default: `default_task` of the file).
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
    /// Use the current folder as the local root (a sub-branch of the task's folder).
    #[arg(long, conflicts_with = "root")]
    pub here: bool,
    /// Use the folder of `pyftpsync.yaml` as the local root.
    #[arg(long)]
    pub root: bool,
    /// Really write: override `dry_run: true` of the task.
    #[arg(long = "no-dry-run", visible_alias = "execute", conflicts_with = "dry_run")]
    pub no_dry_run: bool,
    /// Just simulate and show what would happen.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Create the remote folder if it is missing (overrides `create_folder`).
    #[arg(long)]
    pub create_folder: bool,
    /// `tree` tasks: list files too (overrides `files`).
    #[arg(long)]
    pub files: bool,
    /// Overwrite even if the target is newer (overrides `force`).
    #[arg(long)]
    pub force: bool,
    /// `tree` tasks: files before folders, by name (overrides `sort`).
    #[arg(long)]
    pub sort: bool,
    /// Exit with code 10 if a conflict was skipped or a copy failed (overrides `report_problems`).
    #[arg(long)]
    pub report_problems: bool,
    /// Show progress even when redirected (overrides `progress`).
    #[arg(long)]
    pub progress: bool,
    /// No ANSI colours (overrides `no_color`).
    #[arg(long)]
    pub no_color: bool,
    /// Discard metadata files of other pyftpsync format versions (unless the task sets `migrate`).
    #[arg(long)]
    pub migrate: bool,
    /// Do not run the task: write its plan to this file ("-" for stdout), for review and `apply`.
    #[arg(long, value_name = "PLAN")]
    pub plan_out: Option<PathBuf>,
    /// Plan file format (with --plan-out).
    #[arg(long, value_enum, default_value = "json", requires = "plan_out")]
    pub format: FileFormat,
    /// With --plan-out: exit 0 when the plan has no changes, 5 when it has.
    #[arg(long, requires = "plan_out")]
    pub detailed_exitcode: bool,
    /// Write the result report (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// pyftpsync's common flags that `scan` and `tree` accept; they only read, so most do nothing.
#[derive(Args, Debug, Clone, Default)]
pub struct ReadOnlyArgs {
    /// `scan`: list what --remove-meta / --remove-locks would remove, remove nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// No ANSI colours (accepted; these listings have none).
    #[arg(long)]
    pub no_color: bool,
    /// Accepted for pyftpsync compatibility (no effect).
    #[arg(long, hide = true)]
    pub progress: bool,
    /// Accepted for pyftpsync compatibility (no effect).
    #[arg(long, hide = true)]
    pub migrate: bool,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The folder or FTP URL to scan.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Print every entry (files with their modification time).
    #[arg(long)]
    pub list: bool,
    /// Visit sub-folders.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Remove the `.pyftpsync-meta.json` files of the scanned folders (forgets the sync state).
    #[arg(long)]
    pub remove_meta: bool,
    /// Remove `.pyftpsync-lock.json` files (left behind by an interrupted run).
    #[arg(long)]
    pub remove_locks: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: ReadOnlyArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug)]
pub struct TreeArgs {
    /// The folder or FTP URL to show.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// List files too (with time and size).
    #[arg(long)]
    pub files: bool,
    /// Files before folders, each by name ignoring case (default: by name).
    #[arg(long)]
    pub sort: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: ReadOnlyArgs,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The folder to serve; clients see it as `/` and can change it.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Address to listen on (0.0.0.0 or :: for all interfaces).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// Control port (0 picks a free one).
    #[arg(long, default_value_t = 2121, value_name = "N")]
    pub port: u16,
    /// Allow only this user (with --password); without it, only anonymous logins.
    #[arg(long, requires = "password", value_name = "USER")]
    pub user: Option<String>,
    /// Password of --user.
    #[arg(long, requires = "user", value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Certificate chain (PEM) to offer explicit FTPS (AUTH TLS); needs --tls-key.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Passive data ports, FIRST-LAST ("0" lets the system pick free ports).
    #[arg(long, default_value = "30000-30100", value_name = "FIRST-LAST", value_parser = parse_port_range)]
    pub passive_ports: RangeInclusive<u16>,
}

/// `FIRST-LAST`, a single port, or `0` (any free port).
fn parse_port_range(text: &str) -> Result<RangeInclusive<u16>, String> {
    let port = |s: &str| s.trim().parse::<u16>().map_err(|_| format!("'{s}' is not a port number (0-65535)"));
    let range = match text.split_once('-') {
        Some((first, last)) => port(first)?..=port(last)?,
        None => port(text)?..=port(text)?,
    };
    if range == (0..=0) || (*range.start() > 0 && range.start() <= range.end()) {
        Ok(range)
    } else {
        Err("expected FIRST-LAST with 1 <= FIRST <= LAST, or 0 for any free port".into())
    }
}
