//! A server that stops answering at each step of a session (issue 12, point 5 and acceptance
//! 4): a control reply, the data connection's connect (passive) and accept (active mode), the
//! TLS handshake of the control and of the data connection, the middle of a transfer, and
//! right after `150`. Each run must end within `--timeout` × (retries + 2) with an error that
//! says it timed out, and lose nothing: no file under its final name unless whole, on either
//! side. (The greeting, the login, a listing's data and a download's middle are covered in
//! `hostile.rs`.)
//!
//! The servers: `support::fake_ftp` with its later `Stall` steps, and `support::fake_ftps` for
//! the data connection's TLS handshake.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use ftpsync::apply::apply;
use ftpsync::backend::Target;
use ftpsync::backend::ftp::session::Settings;
use ftpsync::backend::ftp::tls::{Trust, Verify};
use ftpsync::backend::ftp::{FtpTarget, Options};
use ftpsync::backend::local::LocalTarget;
use ftpsync::backend::url::Tls;
use ftpsync::model::relpath::RelPath;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan;

use crate::support::fake_ftp::{Dialect, FakeFtp, Script, Stall};
use crate::support::fake_ftps::{self, DataTls, FakeFtps};
use crate::support::{bounded, ftp, settings};

/// The client's network timeout, and its attempts per operation.
const TIMEOUT: Duration = Duration::from_secs(1);
const RETRIES: u32 = 2;
/// Every stalled run ends within this.
const BOUND: Duration = Duration::from_secs(TIMEOUT.as_secs() * (RETRIES as u64 + 2));
/// A test that has not ended by then hangs (it fails instead).
const DEADLINE: Duration = Duration::from_secs(60);

fn options() -> Options {
    Options { retries: RETRIES, create_root: false }
}

fn tls(mut s: Settings) -> Settings {
    s.url.tls = Tls::Explicit;
    s.trust = Some(Trust::new(&Verify::Nothing).unwrap());
    s
}

fn assert_timed_out(step: &str, err: &str, took: Duration) {
    assert!(took < BOUND, "{step}: took {took:?}, more than timeout × (retries + 2) = {BOUND:?}: {err}");
    assert!(err.to_lowercase().contains("timed out"), "{step}: the error does not say it timed out: {err}");
}

/// Opens a target with `settings` and lists its root; the error and how long it took.
fn list_root(step: &'static str, settings: Settings) -> (String, Duration) {
    bounded(DEADLINE, move || {
        let started = Instant::now();
        let result = FtpTarget::open(settings, options()).and_then(|mut t| t.list_dir(&RelPath::root()).map(drop));
        let err = format!("{:#}", result.err().unwrap_or_else(|| panic!("{step}: a stalled server cannot succeed")));
        (err, started.elapsed())
    })
}

/// Plans and applies `mode` between `local` and the fake server; the failed actions' errors
/// and how long the apply took.
fn run(server_url: String, local: &Path, mode: Mode) -> (Vec<String>, Duration) {
    let local = local.to_path_buf();
    bounded(DEADLINE, move || {
        let mut remote = FtpTarget::open(ftp::settings_at(&server_url, TIMEOUT), options()).unwrap();
        let mut l = LocalTarget::open(&local).unwrap();
        let plan = make_plan(&mut l, &mut remote, PlanOptions::new(mode), SystemClock.now()).unwrap().plan;
        let started = Instant::now();
        let applied = apply(&plan, &mut l, &mut remote, &settings()).unwrap();
        // A staged apply that failed reports its cause once, the entries as rolled back.
        let errors = match &applied.rolled_back {
            Some(cause) => vec![format!("{cause:#}")],
            None => applied.outcomes.iter().filter_map(|o| o.error.clone()).collect(),
        };
        (errors, started.elapsed())
    })
}

/// Files of a local folder (metadata and temporary files included), with their bytes.
fn local_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

/// An upload of `content` as `/up.bin` to a server stalling at `stall`: the run fails in time
/// and the server has no `/up.bin`, whole or not, nor a temporary file.
fn upload_stalls(step: &str, stall: Stall, content: Vec<u8>) {
    upload_stalls_retried(step, stall, content, true)
}

/// [`upload_stalls`]; `retried`: the step is tried again (a transfer is; a commit's rename is
/// not: it may have happened, and the commit is undone from what is found instead).
fn upload_stalls_retried(step: &str, stall: Stall, content: Vec<u8>, retried: bool) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("up.bin"), &content).unwrap();
    let mut script = Script::new(Dialect::Mlsd);
    script.stall = stall;
    let server = FakeFtp::start(script);
    let (errors, took) = run(server.url(), dir.path(), Mode::Upload);
    assert_eq!(errors.len(), 1, "{step}: {errors:?}");
    assert_timed_out(step, &errors[0], took);
    if retried {
        assert!(errors[0].contains("gave up after"), "{step}: every attempt is made: {}", errors[0]);
    }
    let left: Vec<String> = server.paths().into_iter().filter(|p| !p.ends_with("-lock.json")).collect();
    assert!(left.iter().all(|p| p != "/up.bin" && !p.contains("ftpsync-tmp")), "{step}: the server holds {left:?}");
    assert_eq!(fs::read(dir.path().join("up.bin")).unwrap(), content, "{step}: the local file is untouched");
}

#[test]
fn a_server_that_never_answers_a_command_times_out_each_attempt() {
    // The rename into place is never answered: the commit waits on a control read, and is
    // undone on another connection.
    upload_stalls_retried("control read (RNTO)", Stall::Command("RNTO"), b"small file\n".to_vec(), false);
}

#[test]
fn an_upload_the_server_stops_reading_times_out() {
    // More than the socket buffers hold, so that the client's writes block.
    let big: Vec<u8> = (0..16u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    upload_stalls("mid-transfer (upload)", Stall::UploadData, big);
}

#[test]
fn an_upload_answered_150_and_then_nothing_times_out() {
    upload_stalls("after 150 (upload)", Stall::AfterStart, b"small file\n".to_vec());
}

#[test]
fn a_download_answered_150_and_then_nothing_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = Script::new(Dialect::Mlsd);
    script.stall = Stall::AfterStart;
    script.files.insert("/down.bin".into(), b"server content\n".to_vec());
    let server = FakeFtp::start(script);
    let (errors, took) = run(server.url(), dir.path(), Mode::Download);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_timed_out("after 150 (download)", &errors[0], took);
    // Nothing arrived, so nothing is there: no file, no temporary file, no metadata claim.
    let files = local_files(dir.path());
    assert!(files.iter().all(|(n, _)| n != "down.bin" && !n.contains("ftpsync-tmp")), "{files:?}");
    assert!(files.iter().all(|(_, b)| !String::from_utf8_lossy(b).contains("down.bin")), "{files:?}");
}

#[test]
fn a_data_connection_that_never_connects_times_out() {
    let mut script = Script::new(Dialect::Mlsd);
    script.stall = Stall::DataConnect;
    let server = FakeFtp::start(script);
    let (err, took) = list_root("data connect", ftp::settings_at(&server.url(), TIMEOUT));
    assert_timed_out("data connect", &err, took);
    assert!(err.contains(&format!("gave up after {RETRIES} attempts")), "{err}");
}

#[test]
fn an_active_data_connection_never_made_by_the_server_times_out() {
    let mut script = Script::new(Dialect::Mlsd);
    script.stall = Stall::DataAccept;
    let server = FakeFtp::start(script);
    let mut settings = ftp::settings_at(&server.url(), TIMEOUT);
    settings.active = true;
    let (err, took) = list_root("data accept (active mode)", settings);
    assert_timed_out("data accept (active mode)", &err, took);
    assert!(server.count("PORT") + server.count("EPRT") >= 1, "{:?}", server.commands());
}

#[test]
fn a_control_tls_handshake_never_answered_times_out() {
    let mut script = Script::new(Dialect::Mlsd);
    script.stall = Stall::AuthTls;
    let server = FakeFtp::start(script);
    let settings = tls(ftp::settings_at(&server.url().replacen("ftp://", "ftps://", 1), TIMEOUT));
    let (err, took) = list_root("TLS handshake (control)", settings);
    assert_timed_out("TLS handshake (control)", &err, took);
}

#[test]
fn a_data_tls_handshake_never_answered_times_out() {
    let server = FakeFtps::start(DataTls::Silent);
    let (err, took) = list_root("TLS handshake (data)", tls(ftp::settings_at(&server.url(), TIMEOUT)));
    assert_timed_out("TLS handshake (data)", &err, took);
    assert!(server.commands().iter().any(|c| c.starts_with("MLSD")), "{:?}", server.commands());
}

/// Point 4 with a fake server: `150` only after the data connection's TLS handshake (the real
/// server, npm's ftp-srv, is in `tls_data_first.rs`), passive and active.
#[test]
fn a_server_that_secures_the_data_connection_before_its_150() {
    secured_before_150(false);
}

#[test]
fn a_server_that_secures_the_active_data_connection_before_its_150() {
    secured_before_150(true);
}

fn secured_before_150(active: bool) {
    let server = FakeFtps::start(DataTls::HandshakeFirst);
    let timeout = fake_ftps::HANDSHAKE_WAIT * 2;
    let (listed, took) = bounded(DEADLINE, {
        let mut settings = tls(ftp::settings_at(&server.url(), timeout));
        settings.active = active;
        move || {
            let started = Instant::now();
            let mut target = FtpTarget::open(settings, options()).unwrap();
            let listed = target
                .list_dir(&RelPath::root())
                .map(|l| l.map(|l| l.entries.iter().map(|e| (e.name.clone(), e.size)).collect::<Vec<_>>()));
            (listed.map_err(|e| format!("{e:#}")), started.elapsed())
        }
    });
    assert_eq!(listed, Ok(Some(vec![("a.txt".to_string(), fake_ftps::CONTENT.len() as u64)])));
    assert!(took < fake_ftps::HANDSHAKE_WAIT, "waited for the server to give up: {took:?}");
}
