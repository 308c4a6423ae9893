//! Feature detection that degrades (issue 12): for each optional command, a server that
//! answers it with `500`/`502` (or `504`, or hangs up after it) still gets a complete upload,
//! an empty replan and a complete download, by a fallback that ftpsync remembers: the refused
//! command is not sent again on the connection, nor on the target's later connections.
//!
//! The server is `support::refusing_ftp`, which has every optional command and refuses the
//! chosen ones; its `FEAT` announces everything (a server whose FEAT lies), unless `FEAT` is
//! itself refused. Each run is the real binary.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::support::refusing_ftp::{Logged, PlainStat, Refusals, RefusingFtp};
use crate::support::{bounded, ftpsync_command};

/// Modification times of the local files (whole seconds: every method keeps those).
const T_A: i64 = 1_600_000_000;
const T_B: i64 = 1_610_000_007;
const T_C: i64 = 1_620_000_013;

const FILES: &[(&str, &[u8], i64)] = &[
    ("a.txt", b"alpha\n", T_A),
    ("sub/b.txt", b"bravo, a little longer\n", T_B),
    ("sub/deeper/c.bin", b"\x00\x01\x02\r\n\xff", T_C),
];

struct Outcome {
    code: i32,
    out: String,
}

/// Runs ftpsync with the flags of these tests; bounded in time.
fn run(args: &[&str], workers: usize) -> Outcome {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(
        ["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "5", "--retries", "2", "-vv"].map(String::from),
    );
    bounded(Duration::from_secs(60), move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut cmd = ftpsync_command(&args);
        cmd.env("FTPSYNC_WORKERS", workers.to_string());
        let o = cmd.output().expect("run ftpsync");
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        Outcome { code: o.status.code().unwrap_or(-1), out }
    })
}

fn local_tree(root: &Path) {
    for (path, content, t) in FILES {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        let t = filetime::FileTime::from_unix_time(*t, 0);
        filetime::set_file_times(&p, t, t).unwrap();
    }
}

fn mtime(p: &Path) -> i64 {
    filetime::FileTime::from_last_modification_time(&fs::metadata(p).unwrap()).unix_seconds()
}

/// A number from the run's statistics (`"files_written": 3`).
fn stat(out: &str, key: &str) -> i64 {
    let needle = format!("\"{key}\": ");
    let line =
        out.lines().find_map(|l| l.trim().strip_prefix(&needle)).unwrap_or_else(|| panic!("no {key} in:\n{out}"));
    line.trim_end_matches(',').parse().unwrap()
}

/// What one scenario showed.
struct Report {
    /// Whether the server holds the local modification times.
    server_times_kept: bool,
    /// The `-vv` output of the upload.
    upload_out: String,
}

/// Upload, replan (nothing to do), download into an empty folder: all complete, with the
/// right content and times. `per_run` checks the server's log of each run (then cleared).
fn round_trip(fake: &RefusingFtp, workers: usize, per_run: &dyn Fn(&str, &[Logged])) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let (local, down) = (dir.path().join("local"), dir.path().join("down"));
    local_tree(&local);
    fs::create_dir_all(&down).unwrap();
    let (local_s, down_s, url) = (local.to_str().unwrap(), down.to_str().unwrap(), fake.url());

    let up = run(&["upload", local_s, &url], workers);
    assert_eq!(up.code, 0, "upload failed:\n{}", up.out);
    assert_eq!(stat(&up.out, "upload_files_written"), FILES.len() as i64, "{}", up.out);
    per_run("upload", &fake.log());
    fake.clear_log();
    let files = fake.files();
    for (path, content, _) in FILES {
        let on_server =
            files.get(&format!("/site/{path}")).unwrap_or_else(|| panic!("{path} not uploaded: {:?}", files.keys()));
        assert_eq!(&on_server.0, content, "{path}");
    }
    assert!(!files.keys().any(|k| k.contains(".ftpsync-tmp")), "temporary files left: {:?}", files.keys());
    let server_times_kept = FILES.iter().all(|(path, _, t)| files[&format!("/site/{path}")].1 == *t);

    upload_again_changes_nothing(local_s, &url, workers, "");
    per_run("replan", &fake.log());
    fake.clear_log();

    let down_run = run(&["download", down_s, &url], workers);
    assert_eq!(down_run.code, 0, "download failed:\n{}", down_run.out);
    per_run("download", &fake.log());
    fake.clear_log();
    for (path, content, t) in FILES {
        let p = down.join(path);
        assert_eq!(fs::read(&p).unwrap(), *content, "{path}");
        assert_eq!(mtime(&p), *t, "{path}: the downloaded file keeps the original time");
    }
    Report { server_times_kept, upload_out: up.out }
}

/// Uploads `local` to `url` again: it must succeed and write nothing (`what` introduces the
/// failure message).
fn upload_again_changes_nothing(local: &str, url: &str, workers: usize, what: &str) {
    let again = run(&["upload", local, url], workers);
    assert_eq!(again.code, 0, "{what}replan failed:\n{}", again.out);
    assert_eq!(
        (stat(&again.out, "files_written"), stat(&again.out, "dirs_created")),
        (0, 0),
        "{what}the replan must be empty:\n{}",
        again.out
    );
}

/// The entries refused with `code` for `cmd` (a [`Logged::is`] command).
fn refusals<'l>(log: &'l [Logged], cmd: &str, code: u16) -> Vec<&'l Logged> {
    log.iter().filter(|l| l.is(cmd) && l.code == code).collect()
}

/// After the first refusal of `cmd`, no connection sends it again, and no connection that
/// logged in after that refusal sends it at all. One batch of it counts as one attempt (the
/// `MDTM`s of a listing go in one write, and are refused together; so do the `MDTM`s reading
/// back the ways of setting a time tried together): on each connection the commands must be
/// consecutive, or in one write. With one worker connections run one after the other, so
/// this is exact; with more, connections that logged in at the same time may each be refused
/// once.
fn not_repeated(log: &[Logged], cmd: &str, concurrent: bool) {
    let sent: Vec<&Logged> = log.iter().filter(|l| l.is(cmd)).collect();
    let Some(first) = sent.first() else { return };
    let conns: std::collections::BTreeSet<usize> = sent.iter().map(|l| l.conn).collect();
    // The next command is part of the same attempt.
    let same_attempt = |l: &Logged| l.is(cmd) || l.with_previous;
    for conn in &conns {
        let on_conn: Vec<&Logged> = log.iter().filter(|l| l.conn == *conn).collect();
        let positions: Vec<usize> = on_conn.iter().enumerate().filter(|(_, l)| l.is(cmd)).map(|(i, _)| i).collect();
        let one_batch = positions.windows(2).all(|w| on_conn[w[0] + 1..=w[1]].iter().all(|l| same_attempt(l)));
        assert!(one_batch, "{cmd} sent again on connection {conn} after its refusal: {sent:?}");
    }
    if !concurrent {
        let batch_end = log
            .iter()
            .find(|l| l.conn == first.conn && l.seq > first.seq && !same_attempt(l))
            .map_or(usize::MAX, |l| l.seq);
        let later: Vec<&&Logged> = sent.iter().filter(|l| l.seq > batch_end).collect();
        assert!(later.is_empty(), "{cmd} sent again after its refusal (seq {}): {later:?}", first.seq);
    }
}

/// A scenario refusing `cmds` (each with its code): the round trip completes, and each refused
/// command was refused at most once per run. `SITE UTIME` has two forms, each a method of
/// its own: each form is refused at most once.
fn refusing(cmds: &[(&str, u16)]) -> Report {
    let fake = RefusingFtp::start(Refusals::refusing(cmds));
    round_trip(&fake, 1, &|run, log| {
        for (cmd, code) in cmds {
            let forms: &[&str] = if *cmd == "SITE UTIME" { &["SITE UTIME /*", "SITE UTIME 2*"] } else { &[cmd] };
            for form in forms {
                assert!(
                    !refusals(log, form, *code).is_empty() || log.iter().all(|l| !l.is(form)),
                    "{run}: {form} not refused with {code}"
                );
                not_repeated(log, form, false);
            }
        }
    })
}

#[test]
fn everything_offered_keeps_times_and_lists_over_the_control_connection() {
    // The baseline for the scenarios below: nothing refused, so the fast paths are taken.
    let fake = RefusingFtp::start(Refusals::default());
    let report = round_trip(&fake, 1, &|run, log| {
        if run == "replan" {
            assert!(log.iter().any(|l| l.is("STAT")), "folders listed with STAT: {log:?}");
            assert!(!log.iter().any(|l| l.is("MLSD")), "no MLSD where STAT lists: {log:?}");
        }
    });
    assert!(report.server_times_kept);
    assert!(report.upload_out.contains("ftp: methods: listings by MLSD"), "{}", report.upload_out);
    assert!(report.upload_out.contains("ftp: modification times set with MFMT"), "{}", report.upload_out);
}

#[test]
fn without_feat_the_features_are_probed() {
    for code in [500, 502] {
        let report = refusing(&[("FEAT", code)]);
        assert!(report.server_times_kept, "MFMT is tried without FEAT");
        assert!(report.upload_out.contains("answered FEAT with"), "{}", report.upload_out);
    }
}

#[test]
fn without_stat_folders_are_listed_with_mlsd() {
    let fake = RefusingFtp::start(Refusals::refusing(&[("STAT", 502)]));
    round_trip(&fake, 1, &|run, log| {
        not_repeated(log, "STAT", false);
        if run == "replan" {
            assert!(log.iter().any(|l| l.is("MLSD")), "{log:?}");
        }
    });
}

#[test]
fn without_noop_batches_end_with_pwd() {
    // STAT lists, but NOOP cannot fence its batch: PWD does, from the next batch on.
    let fake = RefusingFtp::start(Refusals::refusing(&[("NOOP", 502)]));
    let report = round_trip(&fake, 1, &|run, log| {
        not_repeated(log, "NOOP", false);
        if run == "replan" {
            assert!(log.iter().any(|l| l.is("STAT") && l.code == 213), "STAT still lists: {log:?}");
            assert!(log.iter().any(|l| l.is("PWD")), "PWD fences: {log:?}");
        }
    });
    assert!(report.upload_out.contains("ending batches with PWD"), "{}", report.upload_out);
    // STAT and NOOP both refused, as aioftp does.
    refusing(&[("NOOP", 502), ("STAT", 502)]);
    // Neither NOOP nor PWD can fence a batch: STAT is given up, MLSD lists.
    let fake = RefusingFtp::start(Refusals::refusing(&[("NOOP", 502), ("PWD", 502)]));
    round_trip(&fake, 1, &|run, log| {
        not_repeated(log, "NOOP", false);
        not_repeated(log, "PWD", false);
        if run == "replan" {
            assert!(log.iter().any(|l| l.is("MLSD")), "{log:?}");
        }
    });
}

#[test]
fn without_epsv_data_connections_use_pasv() {
    for code in [500, 502] {
        let fake = RefusingFtp::start(Refusals::refusing(&[("EPSV", code)]));
        round_trip(&fake, 1, &|run, log| {
            not_repeated(log, "EPSV", false);
            if run != "replan" {
                assert!(log.iter().any(|l| l.is("PASV")), "{run}: {log:?}");
            }
        });
    }
}

/// The ways of setting a time other than `MFMT` (`SITE UTIME` in both forms, `MDTM` with a
/// time) are tried together: each came in the same write as the command before it.
fn tried_together(run: &str, log: &[Logged]) {
    let ways = ["SITE UTIME", "MDTM 2*"];
    let alone: Vec<&Logged> = log.iter().filter(|l| ways.iter().any(|w| l.is(w)) && !l.with_previous).collect();
    assert!(alone.is_empty(), "{run}: a way of setting a time sent on its own (a round trip of its own): {alone:?}");
}

#[test]
fn without_mfmt_times_are_set_with_site_utime() {
    let report = refusing(&[("MFMT", 502)]);
    assert!(report.server_times_kept);
    assert!(report.upload_out.contains("modification times set with SITE UTIME"), "{}", report.upload_out);
}

#[test]
fn without_mfmt_and_site_utime_times_are_set_with_mdtm() {
    let report = refusing(&[("MFMT", 500), ("SITE UTIME", 500)]);
    assert!(report.server_times_kept);
    assert!(report.upload_out.contains("modification times set with MDTM with a time"), "{}", report.upload_out);
}

#[test]
fn like_vsftpd_the_time_command_is_found_in_the_uploads_own_write() {
    // vsftpd: no MFMT in FEAT, SITE UTIME unknown (500), MDTM with a time sets it. Every way
    // is tried, and read back, in the write that checks the first upload's size: finding
    // the method costs no round trip. Where FEAT lists MFMT and the server refuses it, the
    // others follow it in one write of their own.
    let cmds = [("MFMT", 500), ("SITE UTIME", 500)];
    let fake = RefusingFtp::start(Refusals { unannounced: vec!["MFMT".into()], ..Refusals::refusing(&cmds) });
    let report = round_trip(&fake, 1, &|run, log| {
        assert!(!log.iter().any(|l| l.is("MFMT")), "{run}: MFMT tried though FEAT leaves it out: {log:?}");
        tried_together(run, log);
        for form in ["SITE UTIME /*", "SITE UTIME 2*"] {
            not_repeated(log, form, false);
        }
        if run == "upload" {
            let first = log.iter().position(|l| l.is("SITE UTIME")).expect("the ways tried");
            let write = log[..=first].iter().rposition(|l| !l.with_previous).expect("a write's start");
            assert!(
                log[write].is("SIZE") && log[write].text.contains(".ftpsync-tmp"),
                "tried in the write that checks an upload's size: {:?}",
                &log[write..=first]
            );
        }
    });
    assert!(report.server_times_kept);
    assert!(report.upload_out.contains("modification times set with MDTM with a time"), "{}", report.upload_out);
    // FEAT lists MFMT, the server refuses it: the others in one write.
    let fake = RefusingFtp::start(Refusals::refusing(&cmds));
    round_trip(&fake, 1, &tried_together);
}

#[test]
fn a_way_that_answers_done_and_does_nothing_is_not_chosen() {
    // SITE UTIME (path first) answers 200 and does nothing; the time-first form sets it. Tried
    // together, the readings between them tell which one did.
    let fake = RefusingFtp::start(Refusals {
        unannounced: vec!["MFMT".into()],
        ignores: vec!["SITE UTIME /*".into()],
        ..Refusals::refusing(&[("MFMT", 500)])
    });
    let report = round_trip(&fake, 1, &tried_together);
    assert!(report.server_times_kept);
    assert!(report.upload_out.contains("modification times set with SITE UTIME (time first)"), "{}", report.upload_out);
}

#[test]
fn when_no_command_sets_times_the_metadata_keeps_them() {
    // The pyftpsync way: the server's times are those of the upload, the `mtimes` record
    // in the metadata maps them to the real ones (replan empty, download with the real times).
    let report = refusing(&[("MFMT", 502), ("SITE UTIME", 502), ("MDTM 2*", 502)]);
    assert!(!report.server_times_kept);
    assert!(report.upload_out.contains("no command sets modification times here"), "{}", report.upload_out);
}

#[test]
fn without_mdtm_times_come_from_listings() {
    // Neither reading nor setting by MDTM: MFMT is believed on its word, and folders whose
    // STAT listing shows only minutes or days are listed with MLSD.
    let report = refusing(&[("MDTM", 502)]);
    assert!(report.server_times_kept);
}

#[test]
fn without_size_uploads_are_checked_with_mlst() {
    let fake = RefusingFtp::start(Refusals::refusing(&[("SIZE", 502)]));
    round_trip(&fake, 1, &|run, log| {
        not_repeated(log, "SIZE", false);
        if run == "upload" {
            assert!(
                log.iter().any(|l| l.is("MLST") && l.text.contains(".ftpsync-tmp")),
                "sizes checked with MLST: {log:?}"
            );
        }
    });
}

#[test]
fn without_size_and_mlst_uploads_are_checked_by_listing() {
    let fake = RefusingFtp::start(Refusals::refusing(&[("SIZE", 502), ("MLST", 502)]));
    round_trip(&fake, 1, &|run, log| {
        not_repeated(log, "SIZE", false);
        not_repeated(log, "MLST", false);
        if run == "upload" {
            assert!(log.iter().any(|l| l.is("MLSD") || l.is("STAT")), "{log:?}");
        }
    });
}

#[test]
fn without_mlsd_folders_are_listed_with_list() {
    // FEAT announces MLSD, the server refuses it; STAT is refused too so listings need a
    // data connection.
    let fake = RefusingFtp::start(Refusals::refusing(&[("MLSD", 502), ("STAT", 502)]));
    round_trip(&fake, 1, &|run, log| {
        not_repeated(log, "MLSD", false);
        if run == "replan" {
            assert!(log.iter().any(|l| l.is("LIST")), "{log:?}");
        }
    });
}

#[test]
fn opts_utf8_refused_or_hung_up_on() {
    refusing(&[("OPTS UTF8", 501)]);
    refusing(&[("OPTS UTF8", 502)]);
    // A server that hangs up after OPTS UTF8 ON: logged in again without it.
    let fake = RefusingFtp::start(Refusals { hang_up_on: Some("OPTS UTF8".into()), ..Default::default() });
    let report = round_trip(&fake, 1, &|_, log| {
        assert_eq!(log.iter().filter(|l| l.is("OPTS UTF8")).count(), 1, "{log:?}");
    });
    assert!(report.upload_out.contains("logging in without OPTS UTF8 ON"), "{}", report.upload_out);
}

#[test]
fn type_i_refused_falls_back_to_type_l_8() {
    // The first connection asks TYPE I once more, alone, to tell a refusal from replies out
    // of order; after that, TYPE L 8 only.
    let fake = RefusingFtp::start(Refusals::refusing(&[("TYPE I", 504)]));
    let report = round_trip(&fake, 1, &|run, log| {
        let first: Vec<&Logged> = log.iter().filter(|l| l.is("TYPE I")).collect();
        assert!(first.len() <= 2 && first.iter().all(|l| l.conn == first[0].conn), "{run}: {first:?}");
        assert!(log.iter().any(|l| l.is("TYPE L 8") && l.code == 200), "{run}: {log:?}");
    });
    assert!(report.upload_out.contains("binary mode by TYPE L 8"), "{}", report.upload_out);
}

#[test]
fn refusing_binary_mode_entirely_is_a_clear_error() {
    let fake = RefusingFtp::start(Refusals::refusing(&[("TYPE I", 504), ("TYPE L", 504)]));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["download", dir.path().to_str().unwrap(), &fake.url()], 1);
    assert_ne!(out.code, 0);
    assert!(out.out.contains("the server refuses binary mode (TYPE I: 504"), "{}", out.out);
}

#[test]
fn a_server_answering_out_of_order_like_aioftp() {
    // aioftp: no FEAT, OPTS, STAT, NOOP, SIZE, MDTM, MFMT, SITE; a command it does not know
    // is answered at once, before the commands sent with it.
    let cmds = [
        ("FEAT", 502),
        ("OPTS", 502),
        ("STAT", 502),
        ("NOOP", 502),
        ("SIZE", 502),
        ("MDTM", 502),
        ("MFMT", 502),
        ("SITE", 502),
    ];
    let fake = RefusingFtp::start(Refusals { out_of_order: true, ..Refusals::refusing(&cmds) });
    let report = round_trip(&fake, 1, &|_, log| {
        // Finding out costs the first connection its setup commands once more (TYPE alone
        // tells the order apart, then OPTS and FEAT one at a time); nothing else is repeated.
        let setup = |l: &&Logged| l.conn == log[0].conn && (l.is("FEAT") || l.is("OPTS"));
        let after: Vec<Logged> = log.iter().filter(|l| !setup(l)).cloned().collect();
        assert!(log.iter().filter(setup).count() <= 4, "{log:?}");
        for (cmd, _) in cmds {
            not_repeated(&after, cmd, false);
        }
    });
    assert!(!report.server_times_kept);
    assert!(report.upload_out.contains("out of order: sending one command at a time"), "{}", report.upload_out);
}

#[test]
fn several_connections_share_what_was_learnt() {
    // Four workers: a refusal is remembered on its connection, and the others take it in
    // before their next operation; only connections busy at the same moment may each be
    // refused once.
    let cmds = [("EPSV", 502), ("SIZE", 502), ("MFMT", 502)];
    let fake = RefusingFtp::start(Refusals::refusing(&cmds));
    let report = round_trip(&fake, 4, &|run, log| {
        let conns = log.iter().map(|l| l.conn).collect::<std::collections::BTreeSet<_>>().len();
        for (cmd, _) in cmds {
            not_repeated(log, cmd, true);
            let refused = log.iter().filter(|l| l.is(cmd)).count();
            assert!(refused <= conns.min(4), "{run}: {cmd} refused {refused} times on {conns} connections");
        }
    });
    assert!(report.server_times_kept);
}

#[test]
fn without_feat_size_and_mlst_uploads_are_checked_by_listing() {
    // Nothing announced, SIZE and MLST unknown: the probes find that out at login, folders are
    // listed with LIST, and each upload's size is read from its folder's listing.
    let cmds = [("FEAT", 502), ("SIZE", 502), ("MLST", 502)];
    let fake = RefusingFtp::start(Refusals::refusing(&cmds));
    let report = round_trip(&fake, 1, &|run, log| {
        for (cmd, _) in cmds {
            not_repeated(log, cmd, false);
        }
        if run == "upload" {
            let stored = log.iter().position(|l| l.is("STOR")).expect("an upload");
            assert!(
                log[stored..].iter().any(|l| l.is("LIST") || l.is("STAT")),
                "the size is read from a listing: {log:?}"
            );
        }
    });
    assert!(report.upload_out.contains("uploaded sizes checked by listings"), "{}", report.upload_out);
}

#[test]
fn a_short_upload_is_caught_by_every_size_check() {
    // The server keeps one byte less of each upload: whichever way the size is read (SIZE,
    // MLST, a listing), the file is never renamed into place and the run fails.
    for cmds in [vec![], vec![("SIZE", 502)], vec![("FEAT", 502), ("SIZE", 502), ("MLST", 502)]] {
        let fake = RefusingFtp::start(Refusals { short_stores: true, ..Refusals::refusing(&cmds) });
        let dir = tempfile::tempdir().unwrap();
        local_tree(dir.path());
        let out = run(&["upload", dir.path().to_str().unwrap(), &fake.url()], 1);
        assert_ne!(out.code, 0, "{cmds:?}: a short upload must fail:\n{}", out.out);
        assert!(out.out.contains("bytes of"), "{cmds:?}: {}", out.out);
        let files = fake.files();
        for (path, _, _) in FILES {
            assert!(
                !files.contains_key(&format!("/site/{path}")),
                "{cmds:?}: {path} renamed into place: {:?}",
                files.keys()
            );
        }
    }
}

#[test]
fn an_upload_sent_with_its_announcement_and_aborted_like_twisted() {
    // Twisted: no APPE (the lock is written with STOR), and a STOR that came in the same write
    // as its EPSV is aborted with 426, leaving the file empty. That first STOR (the lock's) is
    // sent again one step at a time, and so is every later transfer of the run: one 426 per
    // run at most, and the lock is ours, not taken for another run's.
    let fake = RefusingFtp::start(Refusals { aborts_uploads_sent_ahead: true, ..Refusals::refusing(&[("APPE", 502)]) });
    let report = round_trip(&fake, 1, &|run, log| {
        let aborted: Vec<&Logged> = log.iter().filter(|l| l.code == 426).collect();
        assert!(aborted.len() <= 1, "{run}: more than one upload aborted: {aborted:?}");
        if let Some(first) = aborted.first() {
            assert_eq!(first.text, "STOR /site/.pyftpsync-lock.json", "{run}: {log:?}");
            let again = log.iter().find(|l| l.seq > first.seq && l.is("STOR"));
            assert!(
                again.is_some_and(|l| l.text == first.text && l.code == 150),
                "{run}: the lock is stored again: {log:?}"
            );
        }
        if run == "upload" {
            assert_eq!(aborted.len(), 1, "the fake server's quirk was not met (no STOR with its EPSV): {log:?}");
        }
    });
    assert!(
        report.upload_out.contains("sending each transfer's command once its data connection is open"),
        "{}",
        report.upload_out
    );
    assert!(!fake.files().contains_key("/site/.pyftpsync-lock.json"), "the lock is removed at the end");
}

#[test]
fn an_upload_sent_with_its_port_and_aborted_like_twisted_in_active_mode() {
    // The same in active mode: Twisted aborts a STOR that came with its PORT. The lock is
    // stored again after the PORT is answered, and so is every later transfer.
    let fake = RefusingFtp::start(Refusals { aborts_uploads_sent_ahead: true, ..Refusals::refusing(&[("APPE", 502)]) });
    let dir = tempfile::tempdir().unwrap();
    local_tree(dir.path());
    let up = run(&["upload", dir.path().to_str().unwrap(), &fake.url(), "--ftp-active"], 1);
    assert_eq!(up.code, 0, "upload failed:\n{}", up.out);
    assert_eq!(stat(&up.out, "upload_files_written"), FILES.len() as i64, "{}", up.out);
    let log = fake.log();
    assert!(
        log.iter().any(|l| l.is("PORT") || l.is("EPRT")) && !log.iter().any(|l| l.is("EPSV") || l.is("PASV")),
        "active mode: {log:?}"
    );
    let aborted: Vec<&Logged> = log.iter().filter(|l| l.code == 426).collect();
    assert_eq!(aborted.len(), 1, "one upload aborted, then none: {log:?}");
    assert_eq!(aborted[0].text, "STOR /site/.pyftpsync-lock.json");
    let files = fake.files();
    for (path, content, _) in FILES {
        assert_eq!(files.get(&format!("/site/{path}")).map(|f| &f.0[..]), Some(*content), "{path}");
    }
    assert!(!files.contains_key("/site/.pyftpsync-lock.json"), "the lock is removed at the end");
}

/// Eight folders, each with a hidden file, under a root with none (as in the benchmark).
fn hidden_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for i in 0..8 {
        for (name, content) in [(".hidden", format!("hidden {i}")), ("f.txt", format!("file {i}"))] {
            let rel = format!("d{i}/{name}");
            let p = root.join(&rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, &content).unwrap();
            let t = filetime::FileTime::from_unix_time(T_A + i, 0);
            filetime::set_file_times(&p, t, t).unwrap();
            files.push((rel, content.into_bytes()));
        }
    }
    files
}

#[test]
fn plain_stat_is_proven_once_for_all_connections_and_given_up_where_it_hides_entries() {
    // pyftpdlib's STAT: `STAT -la` refused, plain `STAT` on probation. Every connection asks
    // its folders' times before the proof, with its first folder's `MLSD` behind them in the
    // same write; one connection proves for all of them, and where plain STAT hides entries,
    // the listings it gave are dropped, not taken.
    for kind in [PlainStat::Complete, PlainStat::HidesHidden] {
        let fake = RefusingFtp::start(Refusals { plain_stat: Some(kind), ..Default::default() });
        let dir = tempfile::tempdir().unwrap();
        let (local, down) = (dir.path().join("local"), dir.path().join("down"));
        let files = hidden_tree(&local);
        let (local_s, url) = (local.to_str().unwrap(), fake.url());
        let up = run(&["upload", local_s, &url], 4);
        assert_eq!(up.code, 0, "{kind:?}: upload failed:\n{}", up.out);
        fake.clear_log();
        upload_again_changes_nothing(local_s, &url, 4, &format!("{kind:?}, hidden files and metadata listed: "));
        let log = fake.log();
        let mlsd: Vec<&str> = log.iter().filter(|l| l.is("MLSD")).map(|l| l.text.as_str()).collect();
        let stat_asked = |i: usize| log.iter().any(|l| l.text == format!("STAT /site/d{i}"));
        assert!((0..8).all(stat_asked), "{kind:?}: every folder asked with plain STAT: {log:?}");
        match kind {
            // The root, which has no hidden entry to prove anything, and at most the first
            // folder of each of the 4 connections' probes: not the 8 folders.
            PlainStat::Complete => {
                assert!(mlsd.contains(&"MLSD /site") && mlsd.len() <= 5, "{kind:?}: {mlsd:?}");
            }
            PlainStat::HidesHidden => {
                for i in 0..8 {
                    assert!(mlsd.contains(&format!("MLSD /site/d{i}").as_str()), "{kind:?}: d{i} not listed: {mlsd:?}");
                }
            }
        }
        fs::create_dir_all(&down).unwrap();
        let got = run(&["download", down.to_str().unwrap(), &url], 4);
        assert_eq!(got.code, 0, "{kind:?}: download failed:\n{}", got.out);
        for (rel, content) in &files {
            assert_eq!(fs::read(down.join(rel)).ok().as_ref(), Some(content), "{kind:?}: {rel}");
        }
    }
}

#[test]
fn without_epsv_nothing_is_sent_behind_a_batch_and_all_is_read_over_pasv() {
    // The plain-STAT probe sends its first folder's MLSD behind its batch, and apply's check
    // its first metadata file, over a data connection announced by `EPSV` (in front of the
    // batch where none was announced before). Once a server refused EPSV, nothing is sent
    // behind a batch: every listing and metadata file is read the usual way, over PASV.
    let fake =
        RefusingFtp::start(Refusals { plain_stat: Some(PlainStat::Complete), ..Refusals::refusing(&[("EPSV", 500)]) });
    let dir = tempfile::tempdir().unwrap();
    let (local, down) = (dir.path().join("local"), dir.path().join("down"));
    let mut files = hidden_tree(&local);
    let (local_s, url) = (local.to_str().unwrap(), fake.url());
    let up = run(&["upload", local_s, &url], 4);
    assert_eq!(up.code, 0, "upload failed:\n{}", up.out);
    // A change in each folder: apply's check reads their metadata files.
    for i in 0..8 {
        let rel = format!("d{i}/f.txt");
        let content = format!("file {i}, changed").into_bytes();
        fs::write(local.join(&rel), &content).unwrap();
        let t = filetime::FileTime::from_unix_time(T_A + 100 + i, 0);
        filetime::set_file_times(local.join(&rel), t, t).unwrap();
        files.iter_mut().filter(|(r, _)| *r == rel).for_each(|(_, c)| *c = content.clone());
    }
    fake.clear_log();
    let again = run(&["upload", local_s, &url], 4);
    assert_eq!(again.code, 0, "the upload of the changes failed:\n{}", again.out);
    assert_eq!(stat(&again.out, "files_written"), 8, "{}", again.out);
    let log = fake.log();
    assert!(log.iter().any(|l| l.is("PASV")), "no PASV after EPSV was refused: {log:?}");
    assert!(log.iter().any(|l| l.text == "STAT /site/d0"), "folders not listed with plain STAT: {log:?}");
    upload_again_changes_nothing(local_s, &url, 4, "after the changes, ");
    fs::create_dir_all(&down).unwrap();
    let got = run(&["download", down.to_str().unwrap(), &url], 4);
    assert_eq!(got.code, 0, "download failed:\n{}", got.out);
    for (rel, content) in &files {
        assert_eq!(fs::read(down.join(rel)).ok().as_ref(), Some(content), "{rel}");
    }
}
