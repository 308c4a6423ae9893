//! How each server of the matrix gets its folders listed, read off the `-vvv` trace of a real
//! `ftpsync plan sync` after an upload: over the control connection with `STAT -la` where that
//! lists (proftpd, vsftpd, pure-ftpd, inetutils-ftpd, netkit-ftpd), with plain `STAT` where
//! `STAT -la` is refused but plain `STAT` proved to list as `MLSD` does (pyftpdlib), on data
//! connections elsewhere (twisted, aioftp) — found out by probing, never by the server's name —
//! and in every case a plan with nothing to do but for a folder made on the server (the
//! listings were right). On pyftpdlib a folder
//! whose one entry has the folder's own name (its `STAT` reply could be a file's) is listed
//! with `MLSD`, and an empty folder with `STAT`; `MLSD` lists only the root besides (the
//! probe's comparison, proven there by the root's hidden file).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{CI_SERVERS, in_ci, pairs};
use crate::support::{fixture, ftpsync_command};

/// How a server is expected to list folders.
#[derive(Debug, PartialEq)]
enum Form {
    Dotted,
    Plain,
    DataConnection,
}

fn expected(server: &str) -> Option<Form> {
    match server {
        "proftpd" | "vsftpd" | "pure-ftpd" | "inetutils-ftpd" | "netkit-ftpd" => Some(Form::Dotted),
        "pyftpdlib" => Some(Form::Plain),
        "twisted" | "aioftp" => Some(Form::DataConnection),
        _ => None,
    }
}

/// The commands of a `-vvv` trace.
fn commands(stderr: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines().filter_map(|l| l.strip_prefix("*cmd* '")).map(|c| c.trim_end_matches('\'').to_string()).collect()
}

/// Uploads a small tree to a fresh folder of the server, plans again and checks the trace;
/// the folder is removed afterwards, whatever the outcome.
fn check(server: &str, url: &str, root: &Path, local: &Path) -> Result<String, String> {
    let folder = format!("stat-forms-{}", std::process::id());
    let served = root.join(&folder);
    let result = check_in(server, url, root, local, &folder);
    let _ = fs::remove_dir_all(&served);
    result
}

fn check_in(server: &str, url: &str, root: &Path, local: &Path, folder: &str) -> Result<String, String> {
    let served = root.join(folder);
    let owner = fs::metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
    fs::create_dir(&served).map_err(|e| format!("{}: {e}", served.display()))?;
    std::os::unix::fs::chown(&served, Some(owner.uid()), Some(owner.gid())).map_err(|e| e.to_string())?;
    let target = format!("{}/{folder}/", url.trim_end_matches('/'));
    let run = |args: &[&str]| {
        let out = ftpsync_command(args).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(out)
    };
    let local_arg = local.to_str().unwrap();
    run(&["upload", local_arg, &target])?;
    // A folder whose one entry has the folder's name (its `STAT` reply could be a file's),
    // made on the server's disk: an upload would have added the metadata file.
    let odd = served.join("odd");
    fs::create_dir(&odd).and_then(|()| fs::write(odd.join("odd"), "x")).map_err(|e| e.to_string())?;
    for p in [odd.clone(), odd.join("odd")] {
        std::os::unix::fs::chown(&p, Some(owner.uid()), Some(owner.gid())).map_err(|e| e.to_string())?;
    }
    let plan = local.parent().unwrap().join("plan.json");
    // A two-way plan: it lists the folder only the server has, too.
    let out = run(&["plan", "sync", local_arg, &target, "-o", plan.to_str().unwrap(), "-vvv"])?;
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(&plan).unwrap()).map_err(|e| e.to_string())?;
    let unequal: Vec<&serde_json::Value> = doc["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] != "equal" && !e["path"].as_str().is_some_and(|p| p == "odd" || p == "odd/odd"))
        .collect();
    let fetched =
        doc["entries"].as_array().into_iter().flatten().any(|e| e["path"] == "odd/odd" && e["action"] == "download");
    if !unequal.is_empty() || !fetched || doc["summary"]["changes"] != 2 {
        return Err(format!("the plan after the upload is not as expected: {}; {unequal:?}", doc["summary"]));
    }
    let cmds = commands(&out.stderr);
    let top = cmds
        .iter()
        .find_map(|c| c.strip_prefix("CWD "))
        .ok_or_else(|| format!("no CWD in the trace: {cmds:?}"))?
        .to_string();
    let sent = |c: String| cmds.contains(&c);
    let (a, odd, empty) = (format!("{top}/a"), format!("{top}/odd"), format!("{top}/empty"));
    let form = if sent(format!("STAT -la {a}")) {
        Form::Dotted
    } else if sent(format!("STAT {a}")) {
        Form::Plain
    } else {
        Form::DataConnection
    };
    let want = expected(server).ok_or_else(|| format!("no expected listing form for {server}"))?;
    if form != want {
        return Err(format!("folders listed as {form:?}, expected {want:?}: {cmds:?}"));
    }
    if form != Form::DataConnection {
        // One connection: the trace of several interleaves their writes.
        let out = run(&["plan", "sync", local_arg, &target, "-o", plan.to_str().unwrap(), "--workers", "1", "-vvv"])?;
        asked_with_listing(&commands(&out.stderr), &a, &format!("{a}/f1.txt"))?;
        if form == Form::Plain {
            // The probe's comparison listing goes behind the probe, in the same write.
            in_one_write(&out.stderr, &format!("STAT {top}"), &format!("MLSD {top}"))?;
        }
    }
    match form {
        Form::Plain => {
            // The root's hidden file proved plain STAT at once: the other folders are listed
            // with it alone, but the one whose STAT reply could be a file's.
            let mlsd: Vec<&String> = cmds.iter().filter(|c| c.starts_with("MLSD ")).collect();
            if mlsd != [&format!("MLSD {top}"), &format!("MLSD {odd}")] {
                return Err(format!("listed with MLSD: {mlsd:?}, expected the root (the probe) and odd: {cmds:?}"));
            }
            if !sent(format!("STAT {empty}")) || !sent(format!("STAT {odd}")) {
                return Err(format!("the empty folder or odd was not asked with STAT: {cmds:?}"));
            }
        }
        // Plain STAT is tried only where STAT -la is refused.
        Form::Dotted | Form::DataConnection if cmds.iter().any(|c| c.starts_with("STAT /")) => {
            return Err(format!("plain STAT asked: {cmds:?}"));
        }
        _ => {}
    }
    if form != Form::DataConnection {
        // Apply's check reads the first metadata file behind its folders' listings, in the
        // same write.
        fs::write(local.join("a/f1.txt"), "one, changed").map_err(|e| e.to_string())?;
        let out = run(&["upload", local_arg, &target, "--workers", "1", "-vvv"])?;
        let listing = if form == Form::Dotted { format!("STAT -la {a}") } else { format!("STAT {a}") };
        in_one_write(&out.stderr, &listing, &format!("RETR {a}/.pyftpsync-meta.json"))?;
    }
    Ok(format!("{form:?}"))
}

/// `later` is sent in the same write as `first` (no reply is read between the two) in a
/// `-vvv` trace of one connection, at one of the times it is sent.
fn in_one_write(stderr: &[u8], first: &str, later: &str) -> Result<(), String> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("*cmd* '") || l.starts_with("*resp* '")).collect();
    let cmd = |l: &str, c: &str| l.strip_prefix("*cmd* '").is_some_and(|rest| rest.trim_end_matches('\'') == c);
    let together = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| cmd(l, later))
        .any(|(at, _)| lines[..at].iter().rev().take_while(|l| l.starts_with("*cmd* ")).any(|l| cmd(l, first)));
    if together {
        return Ok(());
    }
    Err(format!("{later:?} was not sent in the same write as {first:?}: {lines:?}"))
}

/// The time of `file` is asked in the same write as the listing of its folder `dir` (the
/// file is expected there: the local side has it), before the write's fence.
fn asked_with_listing(cmds: &[String], dir: &str, file: &str) -> Result<(), String> {
    let listed = cmds
        .iter()
        .position(|c| *c == format!("STAT -la {dir}") || *c == format!("STAT {dir}"))
        .ok_or_else(|| format!("{dir} not listed with STAT: {cmds:?}"))?;
    let fence = listed + cmds[listed..].iter().position(|c| c == "NOOP" || c == "PWD").unwrap_or(cmds.len() - listed);
    if !cmds[listed..fence].contains(&format!("MDTM {file}")) {
        return Err(format!("the time of {file} was not asked with the listing of {dir}: {cmds:?}"));
    }
    Ok(())
}

#[test]
fn each_server_lists_folders_in_the_form_it_proved() {
    let servers: Vec<(String, String)> =
        pairs("FTPSYNC_TEST_SERVERS").into_iter().filter(|(_, u)| u.starts_with("ftp://")).collect();
    let absent: Vec<&str> = CI_SERVERS.into_iter().filter(|n| !servers.iter().any(|(s, _)| s == n)).collect();
    if !absent.is_empty() {
        assert!(!in_ci(), "CI=true but FTPSYNC_TEST_SERVERS does not list {absent:?}: .ci/servers.sh starts them");
        eprintln!("not tested (FTPSYNC_TEST_SERVERS does not list them): {absent:?}");
    }
    let roots: std::collections::BTreeMap<String, String> = pairs("FTPSYNC_TEST_SERVER_ROOTS").into_iter().collect();
    let scratch = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, url) in &servers {
        let root = roots.get(name).unwrap_or_else(|| panic!("FTPSYNC_TEST_SERVER_ROOTS has no folder for {name}"));
        // A tree of its own per server: the metadata an upload leaves records that sync.
        let local = scratch.path().join(name).join("local");
        for (rel, content) in [("a/f1.txt", "one"), ("a/f2.txt", "two"), ("b/.hidden", "h"), ("b/g.txt", "g")] {
            fixture::write(&local, rel, content, fixture::T12);
        }
        fixture::write(&local, ".root-hidden", "h", fixture::T12);
        fixture::write(&local, "same/same", "with the metadata file: two entries", fixture::T12);
        fs::create_dir_all(local.join("empty")).unwrap();
        match check(name, url, Path::new(root), &local) {
            Ok(form) => eprintln!("{name}: {form}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
