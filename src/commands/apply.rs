//! `ftpsync apply PLAN`: checks the plan file, opens the targets it names (or, with `--local`,
//! another checkout of its local folder), and applies it.

use anyhow::Result;

use super::finish::Finish;
use super::targets::{open, open_folder};
use crate::backend::Target;
use crate::backend::pool::Joining;
use crate::backend::sftp::connect::HostKeyRefused;
use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::output::progress::watched::Watched;
use crate::plan::document::TargetDesc;
use crate::plan::load;
use crate::settings::{ApplyPlanSettings, Connection, Global};

/// Opens the plan's remote side. An SFTP server must present the host key the plan recorded
/// (whatever known_hosts or `--host-key` say): another key is a reason to reject the plan.
fn open_remote(desc: &TargetDesc, conn: &Connection, printer: &Printer, create: bool) -> Result<Box<dyn Target>> {
    let Some(fp) = &desc.host_key else { return open(&desc.url, conn, printer, create) };
    let pinned = Connection { host_keys: vec![fp.clone()], no_verify_host_keys: false, ..conn.clone() };
    open(&desc.url, &pinned, printer, create).map_err(|e| {
        match e.chain().find_map(|c| c.downcast_ref::<HostKeyRefused>()) {
            Some(refused) => ExitError::rejected(format!(
                "plan rejected: {} no longer presents the host key the plan was made with ({fp}): {refused}",
                desc.display
            ))
            .into(),
            None => e,
        }
    })
}

pub fn run(args: &ApplyPlanSettings, g: &Global) -> Result<Exit> {
    let printer = Printer::new(g.verbosity, args.no_color);
    let loaded =
        load(&args.plan).map_err(|e| ExitError::rejected(format!("plan rejected: {}: {e}", args.plan.display())))?;
    if let Some(expected) = &args.expect_sha256 {
        let expected = expected.trim().trim_start_matches("sha256:").to_ascii_lowercase();
        if expected != loaded.digest {
            return Err(ExitError::rejected(format!(
                "plan rejected: its sha256 is {}, but {expected} was expected (the plan was changed after approval)",
                loaded.digest
            ))
            .into());
        }
    }
    let mut plan = loaded.plan;
    let printer = printer.with_progress(args.json, args.progress);
    let local = match &args.local {
        Some(dir) => open_folder(dir)?,
        None => open(&plan.local.url, &args.conn, &printer, false)?,
    };
    let remote = open_remote(&plan.remote, &args.conn, &printer, plan.options.create_folder)?;
    if args.local.is_some() {
        // Another checkout: the folder differs by design; its content is checked like any other.
        let info = local.info();
        printer
            .note(4, &format!("Using the local folder {} instead of {} (--local).", info.display, plan.local.display));
        plan.local = TargetDesc::from(info);
    }
    for (desc, target) in [(&plan.local, &local), (&plan.remote, &remote)] {
        if target.info().id != desc.id {
            return Err(ExitError::rejected(format!(
                "plan rejected: {} now identifies as {:?}, the plan was made for {:?}",
                desc.url,
                target.info().id,
                desc.id
            ))
            .into());
        }
    }
    let (mut local, mut remote) = (Watched::wrap(local, &printer.progress), Watched::wrap(remote, &printer.progress));
    super::recover::first(&mut *local, &mut *remote, args.conn.break_lock, &printer)?;
    let finish = Finish {
        printer,
        json: args.json,
        report: args.report.clone(),
        report_problems: args.report_problems,
        break_lock: args.conn.break_lock,
        workers: args.conn.workers,
        meta_style: args.meta_style.clone(),
        stage: args.stage,
    };
    // No scan ran in this process: apply opens every extra connection itself.
    let connections = Joining::new(&*local, &*remote);
    finish.apply(&plan, &loaded.digest, &mut *local, &mut *remote, &connections)
}
