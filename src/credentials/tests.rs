//! Resolver tests: an in-memory keyring, a scripted terminal and a temporary home folder, so
//! no test touches the real keyring, terminal or `~`. Every password used contains `SECRET`,
//! and no message may contain that word.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::*;
use crate::backend::url::Location;

#[derive(Default)]
struct Log(RefCell<Vec<String>>);

impl Messages for Log {
    fn info(&self, level: i32, text: &str) {
        self.0.borrow_mut().push(format!("{level}: {text}"));
    }
    fn warn(&self, text: &str) {
        self.0.borrow_mut().push(format!("warn: {text}"));
    }
}

#[derive(Default)]
struct Script {
    interactive: bool,
    lines: VecDeque<&'static str>,
    passwords: VecDeque<&'static str>,
    asked: Vec<String>,
}

impl Prompter for Script {
    fn interactive(&self) -> bool {
        self.interactive
    }
    fn read_line(&mut self, prompt: &str) -> io::Result<String> {
        self.asked.push(prompt.to_string());
        self.lines.pop_front().map(String::from).ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }
    fn read_password(&mut self, prompt: &str) -> io::Result<Secret> {
        self.asked.push(prompt.to_string());
        self.passwords.pop_front().map(Secret::new).ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }
}

struct Env {
    home: tempfile::TempDir,
    store: MemoryStore,
    script: Script,
    log: Log,
    opts: LookupOptions,
}

impl Env {
    /// CLI defaults (prompting allowed), no terminal, empty keyring, no `.netrc`.
    fn new() -> Self {
        let opts = LookupOptions { allow_prompt: true, ..LookupOptions::default() };
        Env {
            home: tempfile::tempdir().unwrap(),
            store: MemoryStore::new(),
            script: Script::default(),
            log: Log::default(),
            opts,
        }
    }

    fn keyring(mut self, host: &str, value: &str) -> Self {
        self.store = MemoryStore::new().with(KEYRING_SERVICE, host, value);
        self
    }

    fn netrc(self, text: &str) -> Self {
        let path = self.home.path().join(".netrc");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        self
    }

    fn terminal(mut self, lines: &[&'static str], passwords: &[&'static str]) -> Self {
        self.script = Script {
            interactive: true,
            lines: lines.iter().copied().collect(),
            passwords: passwords.iter().copied().collect(),
            asked: vec![],
        };
        self
    }

    fn resolver(&mut self) -> Resolver<'_> {
        Resolver::new(self.opts, &self.log)
            .with_store(&self.store)
            .with_prompter(&mut self.script)
            .with_home(Some(self.home.path().to_path_buf()))
            .with_default_user(Some("osuser".into()))
    }

    fn resolve(&mut self, url: &str) -> Result<Credentials> {
        let Location::Ftp(url) = Location::parse(url).unwrap() else { panic!("not an FTP URL") };
        self.resolver().resolve(&url)
    }

    /// The messages so far, checked for leaked passwords.
    fn lines(&self) -> Vec<String> {
        let lines = self.log.0.borrow().clone();
        assert!(lines.iter().all(|l| !l.contains("SECRET")), "password in messages: {lines:?}");
        lines
    }
}

fn pair(c: &Credentials) -> (Option<&str>, Option<&str>, Source) {
    (c.user.as_deref(), c.password.as_ref().map(Secret::expose), c.source)
}

fn exit(e: &anyhow::Error) -> Exit {
    crate::error::exit_of(e)
}

#[test]
fn url_with_user_and_password_wins() {
    let mut env = Env::new().keyring("h", "kuser:kSECRET").netrc("default login n password nSECRET\n");
    let c = env.resolve("ftp://joe:uSECRET@h/x").unwrap();
    assert_eq!(pair(&c), (Some("joe"), Some("uSECRET"), Source::Url));
    assert!(env.lines().is_empty());
}

#[test]
fn keyring_hit_splits_at_first_colon() {
    let mut env = Env::new().keyring("ftp.example.com", "joe:pa:SECRET").netrc("default login n password nSECRET\n");
    let c = env.resolve("ftp://ftp.example.com:2121/x").unwrap();
    assert_eq!(pair(&c), (Some("joe"), Some("pa:SECRET"), Source::Keyring));
    assert_eq!(env.lines(), ["1: Using credentials from keyring('pyftpsync', 'ftp.example.com'): joe:***."]);
}

#[test]
fn keyring_miss_falls_back_to_netrc_machine_entry() {
    let mut env = Env::new().keyring("other", "a:bSECRET").netrc("machine h login nick password nSECRET\n");
    let c = env.resolve("ftp://h/").unwrap();
    assert_eq!(pair(&c), (Some("nick"), Some("nSECRET"), Source::Netrc));
    assert_eq!(
        env.lines(),
        ["4: No credentials found in keyring('pyftpsync', 'h').", "1: Using credentials from .netrc file: nick:***."]
    );
}

#[test]
fn missing_keyring_is_mentioned_once() {
    let mut env = Env::new().netrc("default login dflt password dSECRET\n");
    env.store = MemoryStore::failing(StoreError::Unavailable("no D-Bus".into()));
    let mut r = env.resolver();
    let url = |s| match Location::parse(s).unwrap() {
        Location::Ftp(u) => u,
        _ => unreachable!(),
    };
    let c = r.resolve(&url("ftp://a/")).unwrap();
    assert_eq!(pair(&c), (Some("dflt"), Some("dSECRET"), Source::Netrc), "default entry answers");
    r.resolve(&url("ftp://b/")).unwrap();
    drop(r);
    let said = env
        .lines()
        .into_iter()
        .filter(|l| l.contains("System keyring not available (no D-Bus); continuing without it."))
        .count();
    assert_eq!(said, 1);
}

#[test]
fn keyring_errors_are_reported_and_skipped() {
    let mut env = Env::new();
    env.store = MemoryStore::failing(StoreError::Failed("locked".into()));
    let c = env.resolve("ftp://h/").unwrap();
    assert_eq!(pair(&c), (None, None, Source::None));
    assert!(env.lines().contains(&"warn: Could not get password from keyring: locked.".to_string()));

    let mut env = Env::new().keyring("h", "justSECRET");
    assert_eq!(env.resolve("ftp://h/").unwrap().source, Source::None);
    assert!(env.lines().iter().any(|l| l.starts_with("warn: ") && l.contains("is not 'user:password'")));
}

#[test]
fn netrc_missing_file_and_no_entry() {
    let mut env = Env::new();
    let c = env.resolve("ftp://h/").unwrap();
    assert_eq!(pair(&c), (None, None, Source::None));
    assert_eq!(c.login_pair().0, "anonymous");
    assert_eq!(c.login_pair().1.expose(), "anonymous@");
    let lines = env.lines();
    assert!(lines.contains(&"4: Could not get password (no .netrc file).".to_string()), "{lines:?}");
    assert!(lines.contains(&"4: Could not find entry for 'h' in .netrc file.".to_string()));

    let mut env = Env::new().netrc("machine other login o password oSECRET\n");
    assert_eq!(env.resolve("ftp://h/").unwrap().source, Source::None);
    assert_eq!(env.lines().last().unwrap(), "4: Could not find entry for 'h' in .netrc file.");
}

#[test]
fn netrc_parse_error_is_reported_not_fatal() {
    let mut env = Env::new().netrc("machine h login u passwd pSECRET\n").terminal(&["joe"], &["tSECRET"]);
    let c = env.resolve("ftp://h/").unwrap();
    assert_eq!(pair(&c), (Some("joe"), Some("tSECRET"), Source::Prompt));
    let path = env.home.path().join(".netrc");
    let want = format!("warn: Could not read .netrc: bad follower token 'passwd' ({}, line 1).", path.display());
    assert!(env.lines().contains(&want), "{:?}", env.lines());
}

#[test]
fn no_netrc_and_no_keyring_flags() {
    let mut env = Env::new().keyring("h", "k:kSECRET").netrc("default login n password nSECRET\n");
    env.opts.keyring = false;
    assert_eq!(env.resolve("ftp://h/").unwrap().source, Source::Netrc);
    env.opts.netrc = false;
    assert_eq!(env.resolve("ftp://h/").unwrap().source, Source::None);
}

#[test]
fn prompt_when_nothing_found() {
    let mut env = Env::new().terminal(&[""], &["tSECRET"]);
    let c = env.resolve("ftp://h/").unwrap();
    assert_eq!(pair(&c), (Some("osuser"), Some("tSECRET"), Source::Prompt));
    assert_eq!(
        env.script.asked,
        ["Enter username for h [osuser]: ", "Enter password for osuser@h (Ctrl+C to abort): "]
    );
    // Without a terminal nobody is asked: anonymous.
    let mut env = Env::new();
    assert_eq!(env.resolve("ftp://h/").unwrap().source, Source::None);
}

#[test]
fn force_prompt_skips_keyring_and_netrc() {
    let mut env =
        Env::new().keyring("h", "k:kSECRET").netrc("default login n password nSECRET\n").terminal(&[""], &["tSECRET"]);
    env.opts.force_prompt = true;
    let c = env.resolve("ftp://urluser@h/").unwrap();
    assert_eq!(pair(&c), (Some("urluser"), Some("tSECRET"), Source::Prompt));
    assert_eq!(env.script.asked[0], "Enter username for h [urluser]: ", "URL user is the default");
    assert!(env.lines().is_empty());
    // --prompt without a terminal is an error, not a silent anonymous login.
    let mut env = Env::new();
    env.opts.force_prompt = true;
    assert_eq!(exit(&env.resolve("ftp://h/").unwrap_err()), Exit::Usage);
}

#[test]
fn distinct_user() {
    let mut env = Env::new().keyring("h", "k:kSECRET");
    env.opts.allow_prompt = false;
    let e = env.resolve("ftp://joe@h/").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Cannot get credentials for a distinct user (joe) from keyring or .netrc and prompting is disabled."
    );
    assert_eq!(exit(&e), Exit::Usage);
    // Prompting allowed: keyring skipped, only the password is asked.
    let mut env = Env::new().keyring("h", "k:kSECRET").terminal(&[], &["tSECRET"]);
    let c = env.resolve("ftp://joe@h/").unwrap();
    assert_eq!(pair(&c), (Some("joe"), Some("tSECRET"), Source::Prompt));
    assert_eq!(env.script.asked, ["Enter password for joe@h (Ctrl+C to abort): "]);
    // Allowed but impossible (no terminal).
    let e = Env::new().resolve("ftp://joe@h/").unwrap_err();
    assert!(e.to_string().contains("prompting is not possible"), "{e}");
}

#[test]
fn url_password_without_user_is_looked_up_then_kept() {
    let mut env = Env::new();
    let c = env.resolve("ftp://:uSECRET@h/").unwrap();
    assert_eq!(pair(&c), (None, Some("uSECRET"), Source::Url));
    assert_eq!(c.login_pair().0, "anonymous");
    assert_eq!(c.login_pair().1.expose(), "uSECRET");
}

#[test]
fn legacy_password_file_is_an_error() {
    let mut env = Env::new().keyring("h", "k:kSECRET");
    std::fs::write(env.home.path().join("pyftpsync.pw"), "x").unwrap();
    let e = env.resolve("ftp://h/").unwrap_err();
    let want = format!(
        "Custom password files are no longer supported. Delete {} and use .netrc instead.",
        env.home.path().join("pyftpsync.pw").display()
    );
    assert_eq!(e.to_string(), want);
    assert_eq!(exit(&e), Exit::Usage);
}

#[test]
fn end_of_input_at_the_prompt_aborts() {
    let mut env = Env::new().terminal(&[], &[]);
    assert_eq!(exit(&env.resolve("ftp://h/").unwrap_err()), Exit::Aborted);
}

#[test]
fn reprompt_after_wrong_password() {
    let mut env = Env::new().terminal(&[], &["newSECRET"]);
    let c = env.resolver().reprompt("h", Some("joe")).unwrap().unwrap();
    assert_eq!(pair(&c), (Some("joe"), Some("newSECRET"), Source::Prompt));
    assert_eq!(env.script.asked, ["Enter password for joe@h (Ctrl+C to abort): "]);
    assert_eq!(env.resolver().reprompt("h", None).unwrap(), None, "no user name: give up");
    env.opts.allow_prompt = false;
    assert_eq!(env.resolver().reprompt("h", Some("joe")).unwrap(), None, "--no-prompt: give up");
    assert_eq!(Env::new().resolver().reprompt("h", Some("joe")).unwrap(), None, "no terminal: give up");
}

#[test]
fn store_password() {
    let mut env = Env::new();
    env.resolver().store("h", "joe", &Secret::new("pSECRET")).unwrap();
    assert_eq!(env.store.item(KEYRING_SERVICE, "h").unwrap().expose(), "joe:pSECRET");
    assert_eq!(env.lines(), ["1: Store credentials in keyring (h, joe:***)."]);

    let e = env.resolver().store("h", "jo:e", &Secret::new("pSECRET")).unwrap_err();
    assert_eq!(e.to_string(), "Unable to store credentials if username contains a ':' (jo:e).");
    assert_eq!(exit(&e), Exit::Usage);

    let mut env = Env::new();
    env.store = MemoryStore::failing(StoreError::Unavailable("no D-Bus".into()));
    env.resolver().store("h", "joe", &Secret::new("pSECRET")).unwrap();
    assert_eq!(env.lines(), ["1: Could not store credentials (missing keyring support: no D-Bus)."]);
}

#[test]
fn debug_never_shows_a_password() {
    let s = Secret::new("hunterSECRET");
    let c = Credentials { user: Some("joe".into()), password: Some(s.clone()), source: Source::Prompt };
    let store = MemoryStore::new().with(KEYRING_SERVICE, "h", "joe:hunterSECRET");
    let entry = netrc::Netrc::parse("machine h login u password hunterSECRET").unwrap();
    let mut env = Env::new();
    let resolver = format!("{:?}", env.resolver());
    let text =
        format!("{s:?} {s} {c:?} {:?} {store:?} {entry:?} {resolver} {:?}", c.login_pair(), entry.authenticators("h"));
    assert!(!text.contains("hunter"), "{text}");
    assert!(text.contains("***"));
}
