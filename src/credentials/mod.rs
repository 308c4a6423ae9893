//! User name and password for an FTP login, found the way pyftpsync finds them, and stored
//! with `--store-password`.
//!
//! [`Resolver::resolve`] looks only when the URL lacks a user or a password, and only by host
//! name (no scheme, port or path):
//!
//! 1. URL user but prompting disabled → error (keyring and `.netrc` cannot be asked about a
//!    given user);
//! 2. a legacy `~/pyftpsync.pw` → error (no longer supported, use `.netrc`);
//! 3. the keyring, item ("pyftpsync", HOST) = `user:password` (not with a URL user,
//!    `--no-keyring` or `--prompt`); a missing keyring is mentioned once and skipped;
//! 4. `~/.netrc` (same conditions, `--no-netrc`); the `default` entry answers for any host;
//! 5. a prompt, when allowed and standard input is a terminal; with `--prompt` always;
//! 6. otherwise whatever the URL had (anonymous login when it had nothing).
//!
//! Passwords are held in [`Secret`], whose `Debug` and `Display` print `***`; no message,
//! error or `Debug` output of this module contains one.

pub mod netrc;
mod prompt;
pub use self::prompt::os_login_name;
mod store;

use std::cell::Cell;
use std::fmt;
use std::io;
use std::path::PathBuf;

use anyhow::{Result, anyhow};

use crate::backend::secret::Secret;
use crate::backend::url::FtpUrl;
use crate::error::{Exit, ExitError};
use crate::output::Printer;
use crate::settings::Connection;

pub use prompt::{Prompter, TerminalPrompter};
pub use store::{MemoryStore, PasswordStore, StoreError, SystemKeyring};

/// The keyring service name pyftpsync uses (items are keyed by host name).
pub const KEYRING_SERVICE: &str = "pyftpsync";
/// pyftpsync 1.x's own password file in the home folder, refused since 2.0.
pub const LEGACY_PASSWORD_FILE: &str = "pyftpsync.pw";
/// Verbosity of the lines pyftpsync prints unconditionally (hidden only by `-qq…` to 0).
const ALWAYS: i32 = 1;

/// Where the credentials came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The URL (complete, or nothing better was found).
    Url,
    Keyring,
    Netrc,
    Prompt,
    /// Nothing anywhere: anonymous login.
    None,
}

/// The result of a lookup. Either part may be missing (anonymous login, or a URL with a
/// password but no user); see [`Credentials::login_pair`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub source: Source,
}

impl Credentials {
    /// What `USER`/`PASS` send, as Python's `ftplib.login` fills in missing parts: no user is
    /// `anonymous`, and anonymous with an empty password (or `-`) gets `anonymous@` appended.
    pub fn login_pair(&self) -> (String, Secret) {
        let user = self.user.clone().filter(|u| !u.is_empty()).unwrap_or_else(|| "anonymous".into());
        let mut pw = self.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
        if user == "anonymous" && (pw.is_empty() || pw == "-") {
            pw.push_str("anonymous@");
        }
        (user, Secret::new(pw))
    }
}

/// The lookup switches (the credential flags of [`Connection`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupOptions {
    /// `--prompt`: skip keyring and `.netrc`, always ask.
    pub force_prompt: bool,
    /// Not `--no-prompt` (the CLI allows prompts; the library default does not).
    pub allow_prompt: bool,
    /// Not `--no-keyring`.
    pub keyring: bool,
    /// Not `--no-netrc`.
    pub netrc: bool,
}

impl Default for LookupOptions {
    /// pyftpsync's library defaults: keyring and `.netrc`, no prompt.
    fn default() -> Self {
        LookupOptions { force_prompt: false, allow_prompt: false, keyring: true, netrc: true }
    }
}

impl LookupOptions {
    pub fn from_settings(a: &Connection) -> Self {
        LookupOptions { force_prompt: a.prompt, allow_prompt: !a.no_prompt, keyring: !a.no_keyring, netrc: !a.no_netrc }
    }
}

/// Where the resolver's messages go (the caller's printer).
pub trait Messages {
    /// An informational line, shown at verbosity `level` and above.
    fn info(&self, level: i32, text: &str);
    /// A problem that does not stop the lookup.
    fn warn(&self, text: &str);
}

impl Messages for Printer {
    fn info(&self, level: i32, text: &str) {
        self.note(level, text);
    }
    fn warn(&self, text: &str) {
        Printer::warn(self, text);
    }
}

/// Finds credentials (see the module documentation). Use one per run, so that a missing
/// keyring is mentioned once.
pub struct Resolver<'a> {
    opts: LookupOptions,
    messages: &'a dyn Messages,
    store: Box<dyn PasswordStore + 'a>,
    prompter: Box<dyn Prompter + 'a>,
    home: Option<PathBuf>,
    os_user: Option<String>,
    keyring_missing_said: Cell<bool>,
}

impl fmt::Debug for Resolver<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").field("opts", &self.opts).field("home", &self.home).finish_non_exhaustive()
    }
}

impl<'a> Resolver<'a> {
    /// The system keyring, the terminal, `HOME` from the environment, the OS login name.
    pub fn new(opts: LookupOptions, messages: &'a dyn Messages) -> Self {
        Resolver {
            opts,
            messages,
            store: Box::new(SystemKeyring),
            prompter: Box::new(TerminalPrompter),
            home: prompt::home_dir(),
            os_user: prompt::os_login_name(),
            keyring_missing_said: Cell::new(false),
        }
    }

    pub fn with_store(mut self, store: impl PasswordStore + 'a) -> Self {
        self.store = Box::new(store);
        self
    }

    pub fn with_prompter(mut self, prompter: impl Prompter + 'a) -> Self {
        self.prompter = Box::new(prompter);
        self
    }

    /// The folder holding `.netrc` and the legacy password file (`None`: there is none).
    pub fn with_home(mut self, home: Option<PathBuf>) -> Self {
        self.home = home;
        self
    }

    /// The default answer to the user name prompt when the URL has no user.
    pub fn with_default_user(mut self, user: Option<String>) -> Self {
        self.os_user = user;
        self
    }

    /// The credentials to log in to `url` with.
    pub fn resolve(&mut self, url: &FtpUrl) -> Result<Credentials> {
        let from_url = Credentials {
            user: url.user.clone(),
            password: url.password.clone().map(Secret::new),
            source: if url.user.is_some() || url.password.is_some() { Source::Url } else { Source::None },
        };
        if url.user.is_some() && url.password.is_some() {
            return Ok(from_url);
        }
        let host = url.host.as_str();
        let given_user = url.user.as_deref();
        if let Some(user) = given_user
            && !self.opts.allow_prompt
        {
            return Err(usage(format!(
                "Cannot get credentials for a distinct user ({user}) from keyring or .netrc and prompting is disabled."
            )));
        }
        if let Some(home) = &self.home {
            let legacy = home.join(LEGACY_PASSWORD_FILE);
            if legacy.is_file() {
                return Err(usage(format!(
                    "Custom password files are no longer supported. Delete {} and use .netrc instead.",
                    legacy.display()
                )));
            }
        }
        let interactive = self.prompter.interactive();
        if self.opts.force_prompt && !interactive {
            return Err(usage("--prompt needs a terminal to ask for the password (standard input is not one).".into()));
        }
        if let Some(user) = given_user
            && !interactive
        {
            return Err(usage(format!(
                "Cannot get credentials for a distinct user ({user}) from keyring or .netrc and prompting is not possible (standard input is not a terminal)."
            )));
        }
        let look_up = given_user.is_none() && !self.opts.force_prompt;
        let mut found = None;
        if look_up && self.opts.keyring {
            found = self.ask_keyring(host).map(|c| (c, Source::Keyring));
        }
        if found.is_none() && look_up && self.opts.netrc {
            found = self.ask_netrc(host).map(|c| (c, Source::Netrc));
        }
        if found.is_none() && self.opts.force_prompt {
            found = self.prompt(host, None, given_user)?.map(|c| (c, Source::Prompt));
        } else if found.is_none() && self.opts.allow_prompt && interactive {
            found = self.prompt(host, given_user, None)?.map(|c| (c, Source::Prompt));
        }
        Ok(match found {
            Some(((user, password), source)) => Credentials { user: Some(user), password: Some(password), source },
            None => from_url,
        })
    }

    /// After a `530` reply: asks again for `user`'s password, when prompting is allowed and
    /// possible and a user name is known. `None` means: give up (report the login error).
    pub fn reprompt(&mut self, host: &str, user: Option<&str>) -> Result<Option<Credentials>> {
        let Some(user) = user.filter(|u| !u.is_empty()) else { return Ok(None) };
        if !(self.opts.allow_prompt || self.opts.force_prompt) || !self.prompter.interactive() {
            return Ok(None);
        }
        Ok(self.prompt(host, Some(user), None)?.map(|(user, password)| Credentials {
            user: Some(user),
            password: Some(password),
            source: Source::Prompt,
        }))
    }

    /// `--store-password`, after a successful login: keeps `user:password` in the keyring
    /// under ("pyftpsync", `host`). A missing keyring or a failing call is only reported.
    pub fn store(&self, host: &str, user: &str, password: &Secret) -> Result<()> {
        if user.contains(':') {
            return Err(usage(format!("Unable to store credentials if username contains a ':' ({user}).")));
        }
        let value = Secret::new(format!("{user}:{}", password.expose()));
        match self.store.set(KEYRING_SERVICE, host, &value) {
            Ok(()) => self.messages.info(ALWAYS, &format!("Store credentials in keyring ({host}, {user}:***).")),
            Err(StoreError::Unavailable(why)) => {
                self.messages.info(ALWAYS, &format!("Could not store credentials (missing keyring support: {why})."))
            }
            Err(StoreError::Failed(why)) => self.messages.warn(&format!("Could not store password in keyring: {why}.")),
        }
        Ok(())
    }

    fn ask_keyring(&self, host: &str) -> Option<(String, Secret)> {
        match self.store.get(KEYRING_SERVICE, host) {
            Ok(Some(value)) => match value.expose().split_once(':') {
                Some((user, pw)) => {
                    let msg = format!("Using credentials from keyring('{KEYRING_SERVICE}', '{host}'): {user}:***.");
                    self.messages.info(ALWAYS, &msg);
                    Some((user.to_string(), Secret::new(pw)))
                }
                None => {
                    self.messages.warn(&format!(
                        "Could not get password from keyring: the item ('{KEYRING_SERVICE}', '{host}') is not 'user:password'."
                    ));
                    None
                }
            },
            Ok(None) => {
                self.messages.info(4, &format!("No credentials found in keyring('{KEYRING_SERVICE}', '{host}')."));
                None
            }
            Err(StoreError::Unavailable(why)) => {
                if !self.keyring_missing_said.replace(true) {
                    self.messages.info(3, &format!("System keyring not available ({why}); continuing without it."));
                }
                None
            }
            Err(StoreError::Failed(why)) => {
                self.messages.warn(&format!("Could not get password from keyring: {why}."));
                None
            }
        }
    }

    fn ask_netrc(&self, host: &str) -> Option<(String, Secret)> {
        let found = match &self.home {
            None => {
                self.messages.info(4, "Could not get password (no .netrc file).");
                None
            }
            Some(home) => {
                let path = home.join(".netrc");
                match netrc::Netrc::read(&path) {
                    Ok(n) => n.authenticators(host).map(|e| (e.login.clone(), e.password.clone())),
                    Err(netrc::ReadError::NotFound) => {
                        self.messages.info(4, "Could not get password (no .netrc file).");
                        None
                    }
                    Err(netrc::ReadError::Parse(e)) => {
                        let msg =
                            format!("Could not read .netrc: {} ({}, line {}).", e.message, path.display(), e.line);
                        self.messages.warn(&msg);
                        None
                    }
                    Err(e) => {
                        self.messages.warn(&format!("Could not read .netrc: {e}."));
                        None
                    }
                }
            }
        };
        match &found {
            Some((user, _)) => self.messages.info(ALWAYS, &format!("Using credentials from .netrc file: {user}:***.")),
            None => self.messages.info(4, &format!("Could not find entry for '{host}' in .netrc file.")),
        }
        found
    }

    /// pyftpsync's `prompt_for_password`: the user name unless `user` is given (empty answer
    /// takes the default), then the password. `None` when the user name ends up empty.
    fn prompt(
        &mut self,
        host: &str,
        user: Option<&str>,
        default_user: Option<&str>,
    ) -> Result<Option<(String, Secret)>> {
        let user = match user {
            Some(u) => u.to_string(),
            None => {
                let default =
                    default_user.filter(|u| !u.is_empty()).map(str::to_string).or_else(|| self.os_user.clone());
                let default = default.unwrap_or_default();
                let answer =
                    self.prompter.read_line(&format!("Enter username for {host} [{default}]: ")).map_err(aborted)?;
                if answer.trim().is_empty() && !default.is_empty() { default } else { answer }
            }
        };
        if user.is_empty() {
            return Ok(None);
        }
        let prompt = format!("Enter password for {user}@{host} (Ctrl+C to abort): ");
        let password = self.prompter.read_password(&prompt).map_err(aborted)?;
        Ok(Some((user, password)))
    }
}

fn usage(message: String) -> anyhow::Error {
    ExitError::usage(message).into()
}

fn aborted(e: io::Error) -> anyhow::Error {
    let message = if e.kind() == io::ErrorKind::UnexpectedEof {
        "No answer to the credentials prompt (end of input).".to_string()
    } else {
        format!("Could not read the answer to the credentials prompt: {e}")
    };
    anyhow!(ExitError { exit: Exit::Aborted, message })
}

#[cfg(test)]
mod tests;
