//! From command-line arguments to plain settings (no clap types beyond this point). The
//! environment variables that commands depend on are read here too, once.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use anyhow::Result;

use crate::backend::secret::Secret;
use crate::backend::{DEFAULT_RETRIES, DEFAULT_TIMEOUT_SECS};
use crate::cli::{
    ApplyArgs, Cli, CommonArgs, ConnArgs, DownloadArgs, FilterArgs, PlanArgs, RecoverArgs, RunArgs, ScanArgs,
    ServeArgs, ShowArgs, SyncArgs, TreeArgs, UploadArgs,
};
use crate::error::ExitError;
use crate::meta::WriteStyle;
use crate::output::DEFAULT_VERBOSITY;
use crate::output::show::ShowFormat;
use crate::plan::io::FileFormat;
use crate::plan::options::{CaseMode, Mode, PlanOptions};
use crate::planner::filter::split_patterns;
use crate::scan::engine::DEFAULT_WORKERS;

/// Environment variable with the FTP password, for CI (used when the URL has none).
pub const PASSWORD_ENV: &str = "FTPSYNC_PASSWORD";

/// Settings every command shares.
#[derive(Clone, Debug)]
pub struct Global {
    pub verbosity: i32,
}

impl Global {
    pub fn from_cli(cli: &Cli) -> Result<Global> {
        let verbosity = DEFAULT_VERBOSITY + i32::from(cli.verbose) - i32::from(cli.quiet);
        if cli.debug.is_some() && verbosity < 4 {
            return Err(ExitError::usage("'--debug' requires verbose level >= 4 (add -v)").into());
        }
        Ok(Global { verbosity })
    }
}

/// How to connect (FTP targets) — the flags pyftpsync and ftpsync share, and the password
/// from the environment.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Active FTP mode (PORT/EPRT) instead of passive.
    pub ftp_active: bool,
    /// Always prompt for the password.
    pub prompt: bool,
    /// Never prompt for credentials.
    pub no_prompt: bool,
    /// Do not look up credentials in the system keyring.
    pub no_keyring: bool,
    /// Do not look up credentials in ~/.netrc.
    pub no_netrc: bool,
    /// Save the password to the keyring after a successful login.
    pub store_password: bool,
    /// SFTP: the host key is not verified.
    pub no_verify_host_keys: bool,
    /// SFTP: `--ssh-key` files, in order.
    pub ssh_keys: Vec<PathBuf>,
    /// SFTP: `--host-key` fingerprints (the plan's, at apply).
    pub host_keys: Vec<String>,
    /// Trust the certificates in this PEM file for FTPS (instead of the system roots).
    pub ca_file: Option<PathBuf>,
    /// Do not verify the FTPS server certificate.
    pub insecure: bool,
    /// Implicit TLS for ftps:// URLs.
    pub implicit_tls: bool,
    /// Network timeout in seconds.
    pub timeout: u64,
    /// Attempts for a failed connection or transfer.
    pub retries: u32,
    /// Parallel connections for listing and transfers.
    pub workers: usize,
    /// Ignore a lock held by another run on the remote side.
    pub break_lock: bool,
    /// [`PASSWORD_ENV`]: the password for URLs that have none.
    pub password_env: Option<Secret>,
}

impl Connection {
    pub fn from_args(a: &ConnArgs) -> Connection {
        Connection {
            ftp_active: a.ftp_active,
            prompt: a.prompt,
            no_prompt: a.no_prompt,
            no_keyring: a.no_keyring,
            no_netrc: a.no_netrc,
            store_password: a.store_password,
            no_verify_host_keys: a.no_verify_host_keys,
            ssh_keys: a.ssh_keys.clone(),
            host_keys: a.host_keys.clone(),
            ca_file: a.ca_file.clone(),
            insecure: a.insecure,
            implicit_tls: a.implicit_tls,
            timeout: a.timeout,
            retries: a.retries,
            workers: a.workers,
            break_lock: a.break_lock,
            password_env: std::env::var(PASSWORD_ENV).ok().map(Secret::new),
        }
    }

    /// The built-in demo: anonymous on loopback, never prompting.
    pub fn for_demo() -> Connection {
        Connection {
            ftp_active: false,
            prompt: false,
            no_prompt: true,
            no_keyring: true,
            no_netrc: true,
            store_password: false,
            no_verify_host_keys: false,
            ssh_keys: Vec::new(),
            host_keys: Vec::new(),
            ca_file: None,
            insecure: false,
            implicit_tls: false,
            timeout: DEFAULT_TIMEOUT_SECS,
            retries: DEFAULT_RETRIES,
            workers: DEFAULT_WORKERS,
            break_lock: false,
            password_env: None,
        }
    }
}

/// How metadata is written (`PYFTPSYNC_VERBOSE_META`, `~/.pyftpsyncrc`), read when the settings
/// are made. An invalid value is an error only for the commands that write metadata, when
/// they start writing (as before the settings layer read it), hence the deferred error.
pub type MetaStyle = std::result::Result<WriteStyle, String>;

fn meta_style() -> MetaStyle {
    crate::meta::style::from_environment().map_err(|e| format!("{e:#}"))
}

impl FilterArgs {
    /// The `--match` and `--exclude` pattern lists.
    pub fn patterns(&self) -> (Vec<String>, Vec<String>) {
        (self.matches.as_deref().map(split_patterns).unwrap_or_default(), split_patterns(&self.exclude))
    }
}

/// `tree TARGET` (also a `tree` task of `run`).
#[derive(Clone, Debug)]
pub struct TreeSettings {
    pub target: String,
    /// List files, not only folders.
    pub files: bool,
    /// Files before folders, each by lower-cased name.
    pub sort: bool,
    pub matches: Vec<String>,
    pub exclude: Vec<String>,
    pub conn: Connection,
}

impl TreeSettings {
    pub fn from_args(a: &TreeArgs) -> Self {
        let (matches, exclude) = a.filter.patterns();
        TreeSettings {
            target: a.target.clone(),
            files: a.files,
            sort: a.sort,
            matches,
            exclude,
            conn: Connection::from_args(&a.conn),
        }
    }
}

/// `scan TARGET`.
#[derive(Clone, Debug)]
pub struct ScanSettings {
    pub target: String,
    /// Print every entry.
    pub list: bool,
    pub recursive: bool,
    pub remove_meta: bool,
    pub remove_locks: bool,
    /// Say what would be removed, remove nothing.
    pub dry_run: bool,
    pub matches: Vec<String>,
    pub exclude: Vec<String>,
    pub conn: Connection,
}

impl ScanSettings {
    pub fn from_args(a: &ScanArgs) -> Self {
        let (matches, exclude) = a.filter.patterns();
        ScanSettings {
            target: a.target.clone(),
            list: a.list,
            recursive: a.recursive,
            remove_meta: a.remove_meta,
            remove_locks: a.remove_locks,
            dry_run: a.common.dry_run,
            matches,
            exclude,
            conn: Connection::from_args(&a.conn),
        }
    }
}

/// A synchronisation (`upload`, `download`, `sync`, `plan` of one of them, or such a task of
/// `run`).
#[derive(Clone, Debug)]
pub struct SyncSettings {
    pub local: String,
    pub remote: String,
    pub options: PlanOptions,
    pub dry_run: bool,
    pub report_problems: bool,
    pub json: bool,
    pub report: Option<PathBuf>,
    pub no_color: bool,
    pub progress: bool,
    pub conn: Connection,
    pub meta_style: MetaStyle,
    /// Stage every change and commit it in one burst (not `--no-stage`).
    pub stage: bool,
}

impl SyncSettings {
    /// The one builder, for the command line and the task file: the library's plan options
    /// of `mode`, no output flags; callers set what they have.
    pub fn new(mode: Mode, local: String, remote: String, conn: Connection) -> Self {
        SyncSettings {
            local,
            remote,
            options: PlanOptions::new(mode),
            dry_run: false,
            report_problems: false,
            json: false,
            report: None,
            no_color: false,
            progress: false,
            conn,
            meta_style: meta_style(),
            stage: true,
        }
    }

    /// `--force`, `--delete`, `--delete-unmatched` and `--create-folder`, each only for the
    /// modes that have the flag: force and delete for upload and download, create-folder for
    /// upload and sync.
    pub fn set_mode_flags(&mut self, force: bool, delete: bool, delete_unmatched: bool, create_folder: bool) {
        let o = &mut self.options;
        if o.mode != Mode::Sync {
            o.force = force;
            o.set_delete(delete, delete_unmatched);
        }
        if o.mode != Mode::Download {
            o.create_folder = create_folder;
        }
    }

    fn from_common(c: &CommonArgs, mode: Mode, cli: &Cli) -> Self {
        let mut s = Self::new(mode, c.local.clone(), c.remote.clone(), Connection::from_args(&c.conn));
        (s.options.matches, s.options.exclude) = c.filter.patterns();
        s.options.case = cli.case;
        s.options.migrate = c.migrate;
        s.options.checksum = c.checksum;
        s.options.max_delete = c.max_delete;
        s.options.skip_unreadable = c.skip_unreadable;
        s.dry_run = c.dry_run;
        s.report_problems = c.report_problems;
        s.json = c.json;
        s.report = c.report.clone();
        s.no_color = c.no_color;
        s.progress = c.progress;
        s.stage = !c.no_stage;
        s
    }

    pub fn upload(a: &UploadArgs, cli: &Cli) -> Self {
        let mut s = Self::from_common(&a.common, Mode::Upload, cli);
        s.set_mode_flags(a.force, a.delete, a.delete_unmatched, a.create_folder);
        s.options.resolve = a.resolve;
        s
    }

    pub fn download(a: &DownloadArgs, cli: &Cli) -> Self {
        let mut s = Self::from_common(&a.common, Mode::Download, cli);
        s.set_mode_flags(a.force, a.delete, a.delete_unmatched, false);
        s.options.resolve = a.resolve;
        s
    }

    pub fn sync(a: &SyncArgs, cli: &Cli) -> Self {
        let mut s = Self::from_common(&a.common, Mode::Sync, cli);
        s.set_mode_flags(false, false, false, a.create_folder);
        s.options.resolve = a.resolve;
        s
    }
}

/// `recover REMOTE [LOCAL]`.
#[derive(Clone, Debug)]
pub struct RecoverSettings {
    pub remote: String,
    /// `None`: the local folder the remote journal names.
    pub local: Option<String>,
    pub conn: Connection,
}

impl RecoverSettings {
    pub fn from_args(a: &RecoverArgs) -> Self {
        RecoverSettings { remote: a.remote.clone(), local: a.local.clone(), conn: Connection::from_args(&a.conn) }
    }
}

/// `apply PLAN`.
#[derive(Clone, Debug)]
pub struct ApplyPlanSettings {
    /// The plan file.
    pub plan: PathBuf,
    /// Refuse the plan unless its digest is this.
    pub expect_sha256: Option<String>,
    /// Another checkout of the plan's local folder.
    pub local: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub json: bool,
    pub no_color: bool,
    pub progress: bool,
    pub report_problems: bool,
    pub conn: Connection,
    pub meta_style: MetaStyle,
    /// Stage every change and commit it in one burst (not `--no-stage`).
    pub stage: bool,
}

impl ApplyPlanSettings {
    pub fn from_args(a: &ApplyArgs) -> Self {
        ApplyPlanSettings {
            plan: a.plan.clone(),
            expect_sha256: a.expect_sha256.clone(),
            local: a.local.clone(),
            report: a.report.clone(),
            json: a.json,
            no_color: a.no_color,
            progress: a.progress,
            report_problems: a.report_problems,
            conn: Connection::from_args(&a.conn),
            meta_style: meta_style(),
            stage: !a.no_stage,
        }
    }
}

/// The boolean keys of a task in `pyftpsync.yaml`, most of them also flags of `run`
/// ([`Flag::cli_name`]). Stated here, not in `taskfile/`, because the settings of `run`
/// ([`CliFlags`]) are made of them and `taskfile/` builds on this layer, not the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    CreateFolder,
    Delete,
    DeleteUnmatched,
    DryRun,
    Files,
    Force,
    FtpActive,
    Here,
    Migrate,
    NoColor,
    NoKeyring,
    NoNetrc,
    NoPrompt,
    NoVerifyHostKeys,
    Progress,
    Prompt,
    ReportProblems,
    Root,
    Sort,
}

impl Flag {
    pub const ALL: [Flag; 19] = [
        Flag::CreateFolder,
        Flag::Delete,
        Flag::DeleteUnmatched,
        Flag::DryRun,
        Flag::Files,
        Flag::Force,
        Flag::FtpActive,
        Flag::Here,
        Flag::Migrate,
        Flag::NoColor,
        Flag::NoKeyring,
        Flag::NoNetrc,
        Flag::NoPrompt,
        Flag::NoVerifyHostKeys,
        Flag::Progress,
        Flag::Prompt,
        Flag::ReportProblems,
        Flag::Root,
        Flag::Sort,
    ];

    /// The key in the YAML file.
    pub fn key(self) -> &'static str {
        match self {
            Flag::CreateFolder => "create_folder",
            Flag::Delete => "delete",
            Flag::DeleteUnmatched => "delete_unmatched",
            Flag::DryRun => "dry_run",
            Flag::Files => "files",
            Flag::Force => "force",
            Flag::FtpActive => "ftp_active",
            Flag::Here => "here",
            Flag::Migrate => "migrate",
            Flag::NoColor => "no_color",
            Flag::NoKeyring => "no_keyring",
            Flag::NoNetrc => "no_netrc",
            Flag::NoPrompt => "no_prompt",
            Flag::NoVerifyHostKeys => "no_verify_host_keys",
            Flag::Progress => "progress",
            Flag::Prompt => "prompt",
            Flag::ReportProblems => "report_problems",
            Flag::Root => "root",
            Flag::Sort => "sort",
        }
    }

    /// The command-line flag of the same meaning.
    pub fn cli_name(self) -> String {
        format!("--{}", self.key().replace('_', "-"))
    }
}

/// What the command line of `run` says (`taskfile::overrides` combines it with the task).
#[derive(Clone, Debug, Default)]
pub struct CliFlags {
    /// The boolean flags given.
    pub set: BTreeSet<Flag>,
    /// `--no-dry-run` / `--execute`.
    pub no_dry_run: bool,
    /// Verbosity from `-v`/`-q` (3 without them).
    pub verbose: i32,
    /// `--case`.
    pub case: Option<CaseMode>,
}

/// `run [TASK]`: what the command line says; the task file supplies the rest.
#[derive(Clone, Debug)]
pub struct RunTaskSettings {
    /// The task to run (`None`: the file's `default_task`).
    pub task: Option<String>,
    pub flags: CliFlags,
    /// `--plan-out PLAN`: write the task's plan instead of running it.
    pub plan_out: Option<PlanOutput>,
    /// Where to write the result report.
    pub report: Option<PathBuf>,
    pub conn: Connection,
}

impl RunTaskSettings {
    pub fn from_args(a: &RunArgs, cli: &Cli, g: &Global) -> Self {
        let given = [
            (Flag::CreateFolder, a.create_folder),
            (Flag::DryRun, a.dry_run),
            (Flag::Files, a.files),
            (Flag::Force, a.force),
            (Flag::FtpActive, a.conn.ftp_active),
            (Flag::Here, a.here),
            (Flag::Migrate, a.migrate),
            (Flag::NoColor, a.no_color),
            (Flag::NoKeyring, a.conn.no_keyring),
            (Flag::NoNetrc, a.conn.no_netrc),
            (Flag::NoPrompt, a.conn.no_prompt),
            (Flag::NoVerifyHostKeys, a.conn.no_verify_host_keys),
            (Flag::Progress, a.progress),
            (Flag::Prompt, a.conn.prompt),
            (Flag::ReportProblems, a.report_problems),
            (Flag::Root, a.root),
            (Flag::Sort, a.sort),
        ];
        let flags = CliFlags {
            set: given.into_iter().filter(|(_, on)| *on).map(|(f, _)| f).collect(),
            no_dry_run: a.no_dry_run,
            verbose: g.verbosity,
            case: cli.case,
        };
        let plan_out = a.plan_out.as_ref().map(|path| PlanOutput {
            path: path.clone(),
            format: a.format,
            detailed_exitcode: a.detailed_exitcode,
        });
        RunTaskSettings {
            task: a.task.clone(),
            flags,
            plan_out,
            report: a.report.clone(),
            conn: Connection::from_args(&a.conn),
        }
    }
}

/// `show PLAN`.
#[derive(Clone, Debug)]
pub struct ShowSettings {
    /// The plan file.
    pub plan: PathBuf,
    pub format: ShowFormat,
    /// Print only the plan's digest.
    pub sha256: bool,
    /// Also list entries that do not change.
    pub all: bool,
}

impl ShowSettings {
    pub fn from_args(a: &ShowArgs) -> Self {
        ShowSettings { plan: a.plan.clone(), format: a.format, sha256: a.sha256, all: a.all }
    }
}

/// `serve DIR`: the built-in FTP server.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// The folder to serve.
    pub dir: PathBuf,
    pub bind: IpAddr,
    pub port: u16,
    /// The only user allowed (with `password`); `None`: anonymous logins only.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Certificate chain and private key (PEM) for explicit FTPS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Passive data ports (`0..=0`: any free port).
    pub passive_ports: RangeInclusive<u16>,
}

impl ServeSettings {
    pub fn from_args(a: &ServeArgs) -> Self {
        ServeSettings {
            dir: a.dir.clone(),
            bind: a.bind,
            port: a.port,
            user: a.user.clone(),
            password: a.password.clone(),
            tls_cert: a.tls_cert.clone(),
            tls_key: a.tls_key.clone(),
            passive_ports: a.passive_ports.clone(),
        }
    }
}

/// `demo`: the connection to the built-in server and the metadata style.
#[derive(Clone, Debug)]
pub struct DemoSettings {
    pub conn: Connection,
    pub meta_style: MetaStyle,
}

impl DemoSettings {
    /// The fixed connection, and the metadata style from the environment.
    pub fn from_environment() -> Self {
        DemoSettings { conn: Connection::for_demo(), meta_style: meta_style() }
    }
}

/// Where and how a plan is written.
#[derive(Clone, Debug)]
pub struct PlanOutput {
    /// The file, or `-` for stdout.
    pub path: PathBuf,
    pub format: FileFormat,
    /// Exit 5 when the plan has changes.
    pub detailed_exitcode: bool,
}

impl PlanOutput {
    pub fn to_stdout(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    /// `plan -o PLAN --format F --detailed-exitcode` (`None` without `-o`).
    pub fn from_args(a: &PlanArgs) -> Option<Self> {
        a.output.as_ref().map(|path| PlanOutput {
            path: path.clone(),
            format: a.format,
            detailed_exitcode: a.detailed_exitcode,
        })
    }
}
