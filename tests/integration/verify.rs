//! `ftpsync verify` (issue 15): after an apply, the report proves what the server holds.
//!
//! On the real servers of `.ci/servers.sh`:
//! 1. proftpd with mod_digest: `verify REPORT` exits 0 by the server's `HASH SHA-256`, and its
//!    transfer log shows that no file of the site was downloaded; vsftpd and pure-ftpd (no
//!    hashing): the same with `--download`, every file's method `download (SHA-256)`;
//! 2. a file changed on the server with the same size and time (`touch -r`) is found: exit 4,
//!    the file named, the method shown; without `--download` where the server cannot hash, it
//!    is not found and every such file says its content was not compared;
//! 3. a file added, deleted, changed in size or in time is reported; `--strict` reports the
//!    added one;
//! 4. the JSON output validates against `schemas/verify.schema.json`; the Markdown parses
//!    into a table naming the files.
//!
//! And on the scripted server of the fallback tests (FEAT lists `HASH` and `XSHA256`): a
//! `HASH` refused as not implemented (502) is not sent again and `XSHA256` is used; an
//! algorithm not offered (504 to `OPTS HASH`) is no failure either; with both refused, the
//! content is compared only with `--download`. `verify LOCAL REMOTE` compares two targets.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use ftpsync::model::Clock;

use pulldown_cmark::{Event, Options as MdOptions, Parser, Tag};
use serde_json::Value;

use crate::support::refusing_ftp::{Refusals, RefusingFtp};
use crate::support::{assert_schema_valid, bounded, ftpsync_command};

/// 2022-02-02 02:02:02 UTC, whole seconds: the site's file times.
const T0: i64 = 1_643_767_322;

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `NAME=VALUE;...` of an environment variable.
fn env_pairs(var: &str) -> Vec<(String, String)> {
    std::env::var(var)
        .unwrap_or_default()
        .split(';')
        .filter_map(|p| p.trim().split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// A server of the environment: its plain URL, the folder it serves, and its transfer log.
struct Server {
    url: String,
    root: PathBuf,
    xferlog: Option<PathBuf>,
}

/// The server `name` of `.ci/servers.sh`; `None` (the test says why) when the environment
/// has none, which with `CI=true` is a failure.
fn server(name: &str) -> Option<Server> {
    let url = env_pairs("FTPSYNC_TEST_SERVERS").into_iter().find(|(n, u)| n == name && u.starts_with("ftp://"));
    let Some((_, url)) = url else {
        assert!(!in_ci(), "CI=true but FTPSYNC_TEST_SERVERS has no plain FTP URL for {name}");
        eprintln!("verify: no {name} in FTPSYNC_TEST_SERVERS (run through .ci/run): skipped");
        return None;
    };
    let root = env_pairs("FTPSYNC_TEST_SERVER_ROOTS").into_iter().find(|(n, _)| n == name).map(|(_, r)| r.into());
    let xferlog = env_pairs("FTPSYNC_TEST_SERVER_XFERLOGS").into_iter().find(|(n, _)| n == name).map(|(_, l)| l.into());
    Some(Server { url, root: root.expect("FTPSYNC_TEST_SERVER_ROOTS names every server"), xferlog })
}

/// Runs ftpsync (bounded), with the password of `url` in `FTPSYNC_PASSWORD` (reports and
/// plans record URLs without it).
fn run(args: &[&str], url: &str) -> Output {
    let password = url.split_once("://").and_then(|(_, r)| r.split_once('@')).and_then(|(u, _)| u.split_once(':'));
    let password = password.map(|(_, p)| p.to_string()).unwrap_or_default();
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--no-prompt", "--no-keyring", "--no-netrc", "--timeout", "20"].map(String::from));
    bounded(Duration::from_secs(180), move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut cmd = ftpsync_command(&args);
        cmd.env("FTPSYNC_PASSWORD", password);
        cmd.output().expect("run ftpsync")
    })
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", text(o)))
}

fn file<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {doc:#}"))
}

fn write(root: &Path, rel: &str, content: &[u8], mtime: i64) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    let t = filetime::FileTime::from_unix_time(mtime, 0);
    filetime::set_file_times(&p, t, t).unwrap();
}

/// The site: a few files, one in a sub-folder, one of 300 kB (several reads).
fn site(root: &Path) {
    write(root, "index.html", b"<h1>approved</h1>\n", T0);
    write(root, "about.html", b"<p>about us</p>\n", T0 + 1);
    write(root, "contact.html", b"<p>write to us</p>\n", T0 + 2);
    write(root, "news.html", b"<p>nothing new</p>\n", T0 + 3);
    write(root, "assets/app.js", b"console.log('approved');\n", T0 + 4);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(root, "assets/big.bin", &big, T0 + 5);
}

/// The lines of an xferlog after its first `skip`, that are downloads (`o`) from `folder` of
/// anything but metadata.
fn downloads_logged(log: &Path, folder: &str, skip: usize) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .skip(skip)
        .filter(|l| l.contains(&format!("/{folder}/")) && !l.contains(".pyftpsync-meta.json"))
        .filter(|l| l.split_whitespace().nth(11) == Some("o"))
        .map(str::to_string)
        .collect()
}

/// Markdown parsed as a renderer would: the text of every table cell, and whether a table
/// was there.
fn markdown_cells(md: &str) -> (bool, Vec<String>) {
    let (mut table, mut cells, mut in_cell) = (false, Vec::new(), false);
    for event in Parser::new_ext(md, MdOptions::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Table(_)) => table = true,
            Event::Start(Tag::TableCell) => {
                in_cell = true;
                cells.push(String::new());
            }
            Event::End(pulldown_cmark::TagEnd::TableCell) => in_cell = false,
            Event::Text(t) | Event::Code(t) if in_cell => cells.last_mut().unwrap().push_str(&t),
            _ => {}
        }
    }
    (table, cells)
}

/// Uploads the site into a fresh folder of `server` and returns (scratch, folder, report,
/// the folder on the server's disk).
fn deploy(server: &Server, tag: &str) -> (tempfile::TempDir, String, PathBuf, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let local = scratch.path().join("site");
    site(&local);
    let folder = format!("verify-{tag}-{}", std::process::id());
    let remote = format!("{}{folder}", server.url);
    let report = scratch.path().join("report.json");
    let out = run(
        &["upload", local.to_str().unwrap(), &remote, "--create-folder", "--report", report.to_str().unwrap()],
        &server.url,
    );
    assert!(out.status.success(), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_schema_valid("report", &doc);
    let served = server.root.join(&folder);
    (scratch, folder, report, served)
}

/// Changes the served copy behind ftpsync's back: same size and time, other bytes
/// (`index.html`); a file added (`added.html`), one deleted (`news.html`), one longer
/// (`about.html`), one with another time (`contact.html`).
fn tamper(served: &Path) {
    let index = served.join("index.html");
    let before = fs::metadata(&index).unwrap();
    fs::write(&index, b"<h1>DEFACED!</h1>\n").unwrap();
    assert_eq!(fs::metadata(&index).unwrap().len(), before.len());
    // touch -r: the time it had.
    let t = filetime::FileTime::from_last_modification_time(&before);
    filetime::set_file_times(&index, t, t).unwrap();
    fs::write(served.join("added.html"), b"<p>not approved</p>\n").unwrap();
    fs::remove_file(served.join("news.html")).unwrap();
    let about = served.join("about.html");
    let t = filetime::FileTime::from_last_modification_time(&fs::metadata(&about).unwrap());
    fs::write(&about, b"<p>about us, and more</p>\n").unwrap();
    filetime::set_file_times(&about, t, t).unwrap();
    // Touched later than the upload (an earlier time with the same size is what the metadata's
    // upload record explains away, as pyftpsync does: only a digest sees such a change).
    let contact = served.join("contact.html");
    let t = filetime::FileTime::from_unix_time(ftpsync::model::SystemClock.now() as i64 + 600, 0);
    filetime::set_file_times(&contact, t, t).unwrap();
    for f in ["index.html", "added.html", "about.html", "contact.html"] {
        let mut perm = fs::metadata(served.join(f)).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        fs::set_permissions(served.join(f), perm).unwrap();
    }
}

/// Checks the verdict after [`tamper`]: exit 4, each change named, the content change found
/// by `method`.
fn assert_tampering_found(report: &Path, url: &str, extra: &[&str], method: &str) {
    let mut args = vec!["verify", report.to_str().unwrap(), "--format", "json"];
    args.extend(extra);
    let out = run(&args, url);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let doc = json(&out);
    assert_schema_valid("verify", &doc);
    assert_eq!(doc["result"], "differs");
    let index = file(&doc, "index.html");
    assert_eq!((index["status"].as_str(), index["method"].as_str()), (Some("differs"), Some(method)), "{index:#}");
    assert!(index["detail"].as_str().unwrap().contains("content differs"), "{index:#}");
    assert_eq!(file(&doc, "news.html")["status"], "missing");
    let about = file(&doc, "about.html");
    assert!(about["status"] == "differs" && about["detail"].as_str().unwrap().contains("size"), "{about:#}");
    let contact = file(&doc, "contact.html");
    assert!(contact["status"] == "differs" && contact["detail"].as_str().unwrap().contains("modified"), "{contact:#}");
    // Unknown to the report: only --strict reports it.
    let added = doc["files"].as_array().unwrap().iter().find(|f| f["path"] == "added.html");
    assert!(added.is_none(), "{added:?}");
    args.push("--strict");
    let out = run(&args, url);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let doc = json(&out);
    assert_schema_valid("verify", &doc);
    assert_eq!(file(&doc, "added.html")["status"], "extra");
    assert!(file(&doc, "added.html")["detail"].as_str().unwrap().contains("not in the report"));
    // The table names the file and the method too.
    args.retain(|a| *a != "json" && *a != "--format");
    let out = run(&args, url);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table.lines().find(|l| l.contains("index.html")).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("DIFFERS") && line.contains(method), "{table}");
}

#[test]
fn proftpd_proves_the_deploy_by_its_own_hashing_without_a_download() {
    let Some(server) = server("proftpd") else { return };
    let (_scratch, folder, report, served) = deploy(&server, "hash");
    let log = server.xferlog.clone().expect("FTPSYNC_TEST_SERVER_XFERLOGS names proftpd's transfer log");
    // What the upload logged (it reads its lock back) is not verify's.
    let logged = || fs::read_to_string(&log).unwrap_or_default().lines().count();
    let before = logged();

    let out = run(&["verify", report.to_str().unwrap(), "--format", "json"], &server.url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = json(&out);
    assert_schema_valid("verify", &doc);
    assert_eq!((doc["result"].as_str(), doc["counts"]["differs"].as_u64()), (Some("match"), Some(0)));
    for f in doc["files"].as_array().unwrap().iter().filter(|f| f["expected"]["kind"] == "file") {
        assert_eq!((f["method"].as_str(), f["content_proven"].as_bool()), (Some("HASH SHA-256"), Some(true)), "{f:#}");
    }
    assert_eq!(doc["counts"]["content_proven"], 6);
    // Proven from the server's own transfer log: the upload wrote six files, verify read none.
    let all = fs::read_to_string(&log).unwrap();
    let uploads =
        all.lines().filter(|l| l.contains(&format!("/{folder}/")) && l.split_whitespace().nth(11) == Some("i"));
    assert!(uploads.count() >= 6, "the transfer log does not show the upload:\n{all}");
    assert_eq!(downloads_logged(&log, &folder, before), Vec::<String>::new(), "verify downloaded files");

    // Markdown: a table with every file and its method.
    let out = run(&["verify", report.to_str().unwrap(), "--format", "markdown"], &server.url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (table, cells) = markdown_cells(&String::from_utf8_lossy(&out.stdout));
    assert!(table, "{}", text(&out));
    assert!(cells.iter().any(|c| c == "assets/big.bin"), "{cells:?}");
    assert!(cells.iter().any(|c| c.starts_with("HASH SHA-256")), "{cells:?}");

    tamper(&served);
    assert_tampering_found(&report, &server.url, &[], "HASH SHA-256");
    assert_eq!(downloads_logged(&log, &folder, before), Vec::<String>::new(), "verify downloaded files");

    // Two targets by content: the local site against the tampered copy.
    let local = report.parent().unwrap().join("site");
    let remote = format!("{}{folder}", server.url);
    let out = run(&["verify", local.to_str().unwrap(), &remote, "--format", "json"], &server.url);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let doc = json(&out);
    assert_schema_valid("verify", &doc);
    assert_eq!(file(&doc, "index.html")["method"], "HASH SHA-256");
    assert_eq!(file(&doc, "index.html")["status"], "differs");
    assert_eq!(file(&doc, "added.html")["status"], "extra");
    assert_eq!(file(&doc, "news.html")["status"], "missing");
    assert_eq!(file(&doc, "assets/big.bin")["status"], "match");
    let _ = fs::remove_dir_all(&served);
}

#[test]
fn servers_without_hashing_prove_the_deploy_with_download() {
    for name in ["vsftpd", "pure-ftpd"] {
        let Some(server) = server(name) else { continue };
        let (_scratch, _folder, report, served) = deploy(&server, "download");
        let out =
            run(&["verify", report.to_str().unwrap(), "--download", "--workers", "3", "--format", "json"], &server.url);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let doc = json(&out);
        assert_schema_valid("verify", &doc);
        for f in doc["files"].as_array().unwrap().iter().filter(|f| f["expected"]["kind"] == "file") {
            assert_eq!(f["method"], "download (SHA-256)", "{name}: {f:#}");
            assert_eq!(f["content_proven"], true, "{name}: {f:#}");
        }
        tamper(&served);
        // Without --download the same-size change cannot be seen, and every file says so.
        let out = run(&["verify", report.to_str().unwrap(), "--format", "json"], &server.url);
        let doc = json(&out);
        let index = file(&doc, "index.html");
        assert_eq!((index["status"].as_str(), index["content_proven"].as_bool()), (Some("match"), Some(false)));
        assert!(index["detail"].as_str().unwrap().contains("--download"), "{name}: {index:#}");
        assert_tampering_found(&report, &server.url, &["--download"], "download (SHA-256)");
        let _ = fs::remove_dir_all(&served);
    }
}

#[test]
fn sftp_servers_prove_the_deploy_with_download() {
    // SFTP has no hashing extension ftpsync asks for: content by download, as on vsftpd.
    for sftp in crate::support::sftp::servers() {
        let name = &sftp.name;
        let key = sftp.fingerprint();
        let scratch_dir = crate::support::sftp::Scratch::new(&sftp, "verify");
        let scratch = tempfile::tempdir().unwrap();
        let local = scratch.path().join("site");
        site(&local);
        let report = scratch.path().join("report.json");
        let url = sftp.url_of(&scratch_dir.name);
        let (l, r) = (local.to_str().unwrap(), report.to_str().unwrap());
        let out = run(&["upload", l, &url, "--create-folder", "--report", r, "--host-key", &key], &url);
        assert!(out.status.success(), "{name}: {}", text(&out));
        let out = run(&["verify", r, "--download", "--host-key", &key, "--format", "json"], &url);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let doc = json(&out);
        assert_schema_valid("verify", &doc);
        for f in doc["files"].as_array().unwrap().iter().filter(|f| f["expected"]["kind"] == "file") {
            assert_eq!(f["method"], "download (SHA-256)", "{name}: {f:#}");
        }
        tamper(&scratch_dir.dir);
        assert_tampering_found(&report, &url, &["--download", "--host-key", &key], "download (SHA-256)");
    }
}

/// Uploads a small site to a scripted server and runs `verify LOCAL REMOTE --format json`.
fn verify_against(refusals: Refusals, extra: &[&str]) -> (Value, RefusingFtp, i32) {
    let server = RefusingFtp::start(refusals);
    let scratch = tempfile::tempdir().unwrap();
    let local = scratch.path().join("site");
    site(&local);
    let url = server.url();
    let out = run(&["upload", local.to_str().unwrap(), &url], &url);
    assert!(out.status.success(), "{}", text(&out));
    server.clear_log();
    let mut args = vec!["verify", local.to_str().unwrap(), &url, "--format", "json", "--workers", "1"];
    args.extend(extra);
    let out = run(&args, &url);
    let doc = json(&out);
    assert_schema_valid("verify", &doc);
    (doc, server, out.status.code().unwrap_or(-1))
}

#[test]
fn a_hash_command_listed_but_not_implemented_falls_back_and_is_not_sent_again() {
    let (doc, server, code) = verify_against(Refusals::refusing(&[("HASH", 502)]), &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(file(&doc, "assets/big.bin")["method"], "XSHA256");
    assert_eq!(doc["counts"]["content_proven"], 6);
    // HASH was tried (one batch), refused, and never sent after the first XSHA256.
    let log = server.log();
    let last_hash = log.iter().filter(|l| l.is("HASH")).map(|l| l.seq).max().expect("HASH was tried");
    let first_x = log.iter().filter(|l| l.is("XSHA256")).map(|l| l.seq).min().expect("XSHA256 was used");
    assert!(last_hash < first_x, "HASH sent again after the refusal");
    assert_eq!(server.log().iter().filter(|l| l.is("RETR") && !l.text.contains(".pyftpsync")).count(), 0);
}

#[test]
fn an_algorithm_not_offered_is_no_failure() {
    // 504 to `OPTS HASH SHA-256`: the draft's "not offered"; XSHA256 does it.
    let (doc, _server, code) = verify_against(Refusals::refusing(&[("OPTS HASH", 504)]), &[]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(file(&doc, "index.html")["method"], "XSHA256");
}

#[test]
fn without_any_hashing_content_is_compared_only_with_download() {
    let refusals = [("HASH", 500), ("XSHA256", 502), ("XSHA512", 502)];
    let (doc, server, code) = verify_against(Refusals::refusing(&refusals), &[]);
    assert_eq!(code, 0, "{doc:#}");
    let f = file(&doc, "index.html");
    assert_eq!((f["method"].as_str(), f["content_proven"].as_bool()), (Some("listing"), Some(false)), "{f:#}");
    assert!(f["detail"].as_str().unwrap().contains("integrity checks"), "MD5 is named as what it is: {f:#}");
    assert_eq!(server.log().iter().filter(|l| l.is("RETR") && !l.text.contains(".pyftpsync")).count(), 0);
    let (doc, _server, code) = verify_against(Refusals::refusing(&refusals), &["--download"]);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(file(&doc, "index.html")["method"], "download (SHA-256)");
    assert_eq!(doc["counts"]["content_proven"], 6);
}

#[test]
fn a_file_the_server_cannot_hash_is_an_error_not_a_match() {
    // The site is uploaded, then a file's hash fails (550): exit 1, that file named.
    let (doc, _server, code) =
        verify_against(Refusals::refusing(&[("HASH /SITE/ASSETS/APP.JS", 550), ("XSHA256", 502)]), &[]);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["result"], "error");
    let f = file(&doc, "assets/app.js");
    assert_eq!(f["status"], "error", "{f:#}");
    assert_eq!(file(&doc, "index.html")["method"], "HASH SHA-256");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let out = ftpsync_command(&["verify", "/nonexistent/report.json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim().lines().count(), 1, "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    fs::write(&junk, b"{\"format\": \"ftpsync-report\"}").unwrap();
    let out = ftpsync_command(&["verify", junk.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim().lines().count(), 1, "{}", text(&out));
}
