//! From command-line arguments to plain settings (no clap types beyond this point).

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::{
    Cli, CommonArgs, ConnArgs, DownloadArgs, DownloadResolve, FilterArgs, ScanArgs, SyncArgs, SyncResolve, TreeArgs,
    UploadArgs, UploadResolve,
};
use crate::error::ExitError;
use crate::output::DEFAULT_VERBOSITY;
use crate::plan::options::{Mode, PlanOptions, Resolve};
use crate::planner::filter::split_patterns;

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

/// How to connect (FTP targets) — the flags pyftpsync and ftpsync share.
pub type Connection = ConnArgs;

impl ConnArgs {
    /// The built-in demo: anonymous on loopback, never prompting.
    pub fn default_for_demo() -> ConnArgs {
        ConnArgs {
            no_prompt: true,
            no_keyring: true,
            no_netrc: true,
            timeout: 30,
            retries: 3,
            workers: 4,
            ..ConnArgs::default()
        }
    }
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
        TreeSettings { target: a.target.clone(), files: a.files, sort: a.sort, matches, exclude, conn: a.conn.clone() }
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
            conn: a.conn.clone(),
        }
    }
}

/// A synchronisation run (`upload`, `download`, `sync`, or `plan` of one of them).
#[derive(Clone, Debug)]
pub struct RunSettings {
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
}

impl RunSettings {
    fn new(c: &CommonArgs, mode: Mode, cli: &Cli) -> Self {
        let mut options = PlanOptions::new(mode);
        (options.matches, options.exclude) = c.filter.patterns();
        options.case = cli.case;
        options.migrate = c.migrate;
        options.checksum = c.checksum;
        options.max_delete = c.max_delete;
        options.skip_unreadable = c.skip_unreadable;
        RunSettings {
            local: c.local.clone(),
            remote: c.remote.clone(),
            options,
            dry_run: c.dry_run,
            report_problems: c.report_problems,
            json: c.json,
            report: c.report.clone(),
            no_color: c.no_color,
            progress: c.progress,
            conn: c.conn.clone(),
        }
    }

    pub fn upload(a: &UploadArgs, cli: &Cli) -> Self {
        let mut s = Self::new(&a.common, Mode::Upload, cli);
        s.options.force = a.force;
        s.options.set_delete(a.delete, a.delete_unmatched);
        s.options.create_folder = a.create_folder;
        s.options.resolve = match a.resolve {
            UploadResolve::Local => Resolve::Local,
            UploadResolve::Skip => Resolve::Skip,
            UploadResolve::Ask => Resolve::Ask,
        };
        s
    }

    pub fn download(a: &DownloadArgs, cli: &Cli) -> Self {
        let mut s = Self::new(&a.common, Mode::Download, cli);
        s.options.force = a.force;
        s.options.set_delete(a.delete, a.delete_unmatched);
        s.options.resolve = match a.resolve {
            DownloadResolve::Remote => Resolve::Remote,
            DownloadResolve::Skip => Resolve::Skip,
            DownloadResolve::Ask => Resolve::Ask,
        };
        s
    }

    pub fn sync(a: &SyncArgs, cli: &Cli) -> Self {
        let mut s = Self::new(&a.common, Mode::Sync, cli);
        s.options.create_folder = a.create_folder;
        s.options.resolve = match a.resolve {
            SyncResolve::Old => Resolve::Old,
            SyncResolve::New => Resolve::New,
            SyncResolve::Local => Resolve::Local,
            SyncResolve::Remote => Resolve::Remote,
            SyncResolve::Skip => Resolve::Skip,
            SyncResolve::Ask => Resolve::Ask,
        };
        s
    }
}
