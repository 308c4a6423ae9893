//! Where passwords are kept between runs: the system keyring behind the [`PasswordStore`]
//! trait, so tests (and callers that want no keyring) can use a [`MemoryStore`].
//!
//! The system store is the `keyring` crate's default for the platform: the Secret Service over
//! D-Bus on Linux/BSD (pure Rust, the same items Python's `keyring` reads and writes, so
//! passwords stored by pyftpsync are found), Keychain on macOS, the Credential Manager on
//! Windows. On a machine without one (a headless server, CI) every call answers
//! [`StoreError::Unavailable`].

use std::collections::HashMap;
use std::sync::Mutex;

use crate::backend::secret::Secret;

/// Why a store could not answer. Messages never contain a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// There is no store on this machine (or this build has no keyring support).
    Unavailable(String),
    /// The store exists but the call failed (locked, refused, ambiguous, …).
    Failed(String),
}

/// A place that keeps one secret per (service, key).
pub trait PasswordStore {
    /// The secret stored for `(service, key)`, `None` if there is none.
    fn get(&self, service: &str, key: &str) -> Result<Option<Secret>, StoreError>;
    /// Stores (or replaces) the secret for `(service, key)`.
    fn set(&self, service: &str, key: &str, value: &Secret) -> Result<(), StoreError>;
}

impl<T: PasswordStore + ?Sized> PasswordStore for &T {
    fn get(&self, service: &str, key: &str) -> Result<Option<Secret>, StoreError> {
        (**self).get(service, key)
    }
    fn set(&self, service: &str, key: &str, value: &Secret) -> Result<(), StoreError> {
        (**self).set(service, key, value)
    }
}

/// The platform's keyring.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemKeyring;

#[cfg(feature = "keyring")]
impl SystemKeyring {
    fn entry(service: &str, key: &str) -> Result<keyring::Entry, StoreError> {
        // The store is opened once per process; its result is kept by the crate.
        if let Err(e) = keyring::Entry::store_status() {
            return Err(StoreError::Unavailable(describe(e)));
        }
        keyring::Entry::new(service, key).map_err(classify)
    }
}

#[cfg(feature = "keyring")]
impl PasswordStore for SystemKeyring {
    fn get(&self, service: &str, key: &str) -> Result<Option<Secret>, StoreError> {
        match Self::entry(service, key)?.get_password() {
            Ok(p) => Ok(Some(Secret::new(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    fn set(&self, service: &str, key: &str, value: &Secret) -> Result<(), StoreError> {
        Self::entry(service, key)?.set_password(value.expose()).map_err(classify)
    }
}

/// A keyring error as text, without the secret data some variants carry.
#[cfg(feature = "keyring")]
fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::BadEncoding(_) => "the stored password is not valid UTF-8".into(),
        keyring::Error::BadDataFormat(..) => "the stored secret is malformed".into(),
        keyring::Error::Ambiguous(items) => format!("{} keyring items match", items.len()),
        e => e.to_string(),
    }
}

#[cfg(feature = "keyring")]
fn classify(e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::NoDefaultStore => StoreError::Unavailable(describe(&e)),
        e => StoreError::Failed(describe(&e)),
    }
}

#[cfg(not(feature = "keyring"))]
impl PasswordStore for SystemKeyring {
    fn get(&self, _: &str, _: &str) -> Result<Option<Secret>, StoreError> {
        Err(StoreError::Unavailable("ftpsync was built without keyring support".into()))
    }
    fn set(&self, _: &str, _: &str, _: &Secret) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("ftpsync was built without keyring support".into()))
    }
}

/// A store in memory, for tests and for callers that must not touch the system keyring.
/// It can also play a keyring that is missing or failing.
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<(String, String), Secret>>,
    error: Option<StoreError>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every call fails with `error`.
    pub fn failing(error: StoreError) -> Self {
        MemoryStore { items: Mutex::default(), error: Some(error) }
    }

    /// Adds an item (builder style).
    pub fn with(self, service: &str, key: &str, value: &str) -> Self {
        self.items.lock().unwrap().insert((service.into(), key.into()), Secret::new(value));
        self
    }

    /// The item stored for `(service, key)`, if any.
    pub fn item(&self, service: &str, key: &str) -> Option<Secret> {
        self.items.lock().unwrap().get(&(service.into(), key.into())).cloned()
    }
}

impl PasswordStore for MemoryStore {
    fn get(&self, service: &str, key: &str) -> Result<Option<Secret>, StoreError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(self.item(service, key)),
        }
    }

    fn set(&self, service: &str, key: &str, value: &Secret) -> Result<(), StoreError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.items.lock().unwrap().insert((service.into(), key.into()), value.clone());
        Ok(())
    }
}
