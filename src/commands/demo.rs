//! `ftpsync demo`: the whole plan-then-apply workflow on a built-in FTP server, with nothing to
//! install or configure. It writes a small sample site into a new temporary folder, serves an
//! empty folder next to it on 127.0.0.1, then runs (and shows the command for) each step:
//! plan, show, apply, and a second plan that finds nothing left to do.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::apply::{ApplySettings, apply};
use crate::backend::local::LocalTarget;
use crate::error::Exit;
use crate::model::{Clock, SystemClock};
use crate::output::show::table;
use crate::output::{Printer, sync};
use crate::plan::io::{FileFormat, digest, encode};
use crate::plan::options::{Mode, PlanOptions, Resolve};
use crate::scan::engine::make_plan;
use crate::server::{self, ServerConfig};
use crate::settings::{DemoSettings, Global};

/// The sample site: a few pages, a stylesheet, an image, in folders.
const SITE: &[(&str, &str)] = &[
    (
        "index.html",
        "<!doctype html>\n<title>ftpsync demo</title>\n<link rel=stylesheet href=css/site.css>\n<h1>Hello from ftpsync</h1>\n<p><a href=blog/first-post.html>First post</a></p>\n",
    ),
    ("about.html", "<!doctype html>\n<title>About</title>\n<p>Deployed with a reviewed plan.</p>\n"),
    ("css/site.css", "body { font-family: sans-serif; max-width: 40em; margin: auto; }\n"),
    (
        "img/logo.svg",
        "<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'><circle cx='32' cy='32' r='30' fill='teal'/></svg>\n",
    ),
    ("blog/first-post.html", "<!doctype html>\n<title>First post</title>\n<p>Plans are reviewed, then applied.</p>\n"),
    ("blog/second-post.html", "<!doctype html>\n<title>Second post</title>\n<p>Nothing is half-written.</p>\n"),
];

fn write_site(dir: &Path) -> Result<()> {
    for (path, content) in SITE {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("site files are in a folder"))?;
        std::fs::write(&file, content).with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(())
}

fn step(p: &Printer, n: u32, what: &str, command: &str) {
    p.out(1, "");
    p.out(1, &format!("== {n}. {what}"));
    p.out(1, &format!("   $ {command}"));
}

pub fn run(s: &DemoSettings, global: &Global) -> Result<Exit> {
    let p = Printer::new(global.verbosity, false);
    let base: PathBuf =
        tempfile::Builder::new().prefix("ftpsync-demo-").tempdir().context("cannot create a temporary folder")?.keep();
    let (site, served, plan_file) = (base.join("site"), base.join("server"), base.join("plan.json"));
    std::fs::create_dir_all(&served)?;
    write_site(&site)?;
    let server = server::start(ServerConfig::new(&served)).context("cannot start the built-in FTP server")?;
    let url = server.url(None);
    p.out(
        1,
        &format!(
            "A sample site in {} and a built-in FTP server at {url} (serving {}).",
            site.display(),
            served.display()
        ),
    );

    let mut local = LocalTarget::open(&site)?;
    let mut remote = crate::commands::targets::open(&url, &s.conn, &p, false)?;
    let mut options = PlanOptions::new(Mode::Upload);
    options.resolve = Resolve::Skip;
    options.exclude = crate::planner::filter::split_patterns(crate::planner::filter::DEFAULT_EXCLUDE);

    step(
        &p,
        1,
        "plan: scan both sides (read-only) and write the plan",
        &format!("ftpsync plan upload {} {url} -o {}", site.display(), plan_file.display()),
    );
    let plan = make_plan(&mut local, &mut *remote, options.clone(), SystemClock.now())?.plan;
    std::fs::write(&plan_file, encode(&plan, FileFormat::Json))?;
    let sha = digest(&plan);
    p.out(
        1,
        &format!("   Plan written: {} entries, {} change(s); sha256 {sha}", plan.entries.len(), plan.summary.changes),
    );

    step(
        &p,
        2,
        "show: review the plan (this is what a pull request would show)",
        &format!("ftpsync show {}", plan_file.display()),
    );
    p.out(1, &table(&plan, false));

    step(
        &p,
        3,
        "apply: check that nothing changed since the plan, then execute it",
        &format!("ftpsync apply {} --expect-sha256 {sha}", plan_file.display()),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let meta_style = s.meta_style.clone().map_err(anyhow::Error::msg)?;
    let settings =
        ApplySettings { clock, meta_style, break_lock: s.conn.break_lock, workers: s.conn.workers, stage: true };
    let started = SystemClock.now();
    let applied = apply(&plan, &mut local, &mut *remote, &settings)?;
    sync::header(&p, &plan);
    sync::action_lines(&p, &plan, &applied.actions, false);
    sync::summary(&p, &applied.counters, SystemClock.now() - started, false, applied.commit_window);

    step(
        &p,
        4,
        "plan again: everything is in sync",
        &format!("ftpsync plan upload {} {url} -o {} --detailed-exitcode", site.display(), plan_file.display()),
    );
    let again = make_plan(&mut local, &mut *remote, options, SystemClock.now())?.plan;
    let verdict = if again.summary.changes == 0 {
        "no changes: the server holds exactly the site"
    } else {
        "unexpected changes left"
    };
    p.out(1, &format!("   {}", verdict));

    remote.close()?;
    server.shutdown();
    p.out(1, "");
    p.out(
        1,
        &format!(
            "Done. The site is in {}, the server's copy in {}, the plan in {}.",
            site.display(),
            served.display(),
            plan_file.display()
        ),
    );
    p.out(1, "Next: try it on your own folder: ftpsync plan upload LOCAL ftp://user@host/path -o plan.json");
    Ok(if failures_or_changes(&applied, &again) { Exit::Error } else { Exit::Success })
}

fn failures_or_changes(applied: &crate::apply::Applied, again: &crate::plan::document::Plan) -> bool {
    applied.failures() > 0 || again.summary.changes > 0
}
