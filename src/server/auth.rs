//! Who may log in to the embedded server: one user with a password, or (without a login)
//! anonymous users only (`anonymous` or `ftp`, any password), as FTP servers usually do.

use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal};

/// The authenticator of the embedded server.
pub struct Login {
    login: Option<(String, String)>,
}

impl Login {
    pub fn new(login: Option<(String, String)>) -> Self {
        Login { login }
    }
}

// Never show the password (libunftp logs its options with `Debug`).
impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.login {
            Some((user, _)) => write!(f, "Login({user:?}, password: <redacted>)"),
            None => f.write_str("Login(anonymous)"),
        }
    }
}

#[async_trait::async_trait]
impl Authenticator for Login {
    async fn authenticate(&self, username: &str, creds: &Credentials) -> Result<Principal, AuthenticationError> {
        let ok = Principal { username: username.to_string() };
        match &self.login {
            Some((user, password)) if user == username => match creds.password.as_deref() {
                Some(p) if p == password => Ok(ok),
                _ => Err(AuthenticationError::BadPassword),
            },
            Some(_) => Err(AuthenticationError::BadUser),
            None if username.eq_ignore_ascii_case("anonymous") || username.eq_ignore_ascii_case("ftp") => Ok(ok),
            None => Err(AuthenticationError::BadUser),
        }
    }
}
