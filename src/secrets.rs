//! Passwords and tokens: in the OS keyring (Keychain, Credential Manager, Secret Service),
//! never in a config file. Where no keyring is available they are held for this session only
//! and the app asks again next time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};

/// The keyring "service" under which every Lifeboat secret is filed.
const KEYRING_SERVICE: &str = "org.lifeboat.Lifeboat";

/// Where secrets are kept, keyed by account id. Calls may block briefly (the keyring is
/// another process): call them off the UI thread.
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    fn get(&self, account_id: &str) -> Result<Option<String>>;
    fn set(&self, account_id: &str, secret: &str) -> Result<()>;
    fn delete(&self, account_id: &str) -> Result<()>;
    /// Whether secrets outlive this process; if not, the user is asked each time the app starts.
    fn is_persistent(&self) -> bool;
}

/// The platform keyring, through the `keyring` crate: one entry per account id, filed under a
/// service name.
#[derive(Debug, Clone)]
pub struct KeyringSecrets {
    service: String,
}

impl Default for KeyringSecrets {
    fn default() -> Self {
        Self::with_service(KEYRING_SERVICE)
    }
}

impl KeyringSecrets {
    /// Entries under another service name than the app's (tests use their own).
    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    fn entry(&self, account_id: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, account_id).map_err(keyring_error)
    }
}

fn keyring_error(error: keyring::Error) -> Error {
    Error::with_source(ErrorKind::Io, "the system keyring could not be used", error)
}

impl SecretStore for KeyringSecrets {
    fn get(&self, account_id: &str) -> Result<Option<String>> {
        match self.entry(account_id)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(error) => Err(keyring_error(error)),
        }
    }

    fn set(&self, account_id: &str, secret: &str) -> Result<()> {
        self.entry(account_id)?
            .set_password(secret)
            .map_err(keyring_error)
    }

    fn delete(&self, account_id: &str) -> Result<()> {
        match self.entry(account_id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(error) => Err(keyring_error(error)),
        }
    }

    fn is_persistent(&self) -> bool {
        true
    }
}

/// Secrets held in memory for this process only (no keyring, and tests).
#[derive(Debug, Default)]
pub struct MemorySecrets(Mutex<HashMap<String, String>>);

impl MemorySecrets {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemorySecrets {
    fn get(&self, account_id: &str) -> Result<Option<String>> {
        Ok(self.map().get(account_id).cloned())
    }

    fn set(&self, account_id: &str, secret: &str) -> Result<()> {
        self.map().insert(account_id.to_owned(), secret.to_owned());
        Ok(())
    }

    fn delete(&self, account_id: &str) -> Result<()> {
        self.map().remove(account_id);
        Ok(())
    }

    fn is_persistent(&self) -> bool {
        false
    }
}

/// The OS keyring when one answers, else a session-only store. Blocks briefly: the keyring
/// is probed with a lookup.
pub fn open_default() -> Arc<dyn SecretStore> {
    let keyring = KeyringSecrets::default();
    match keyring.get("lifeboat-probe") {
        Ok(_) => Arc::new(keyring),
        Err(error) => {
            tracing::info!(
                "no keyring available, passwords are kept for this session only: {error}"
            );
            Arc::new(MemorySecrets::default())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn memory_secrets_set_get_delete() {
        let store = MemorySecrets::default();
        assert_eq!(store.get("a").unwrap(), None);
        store.set("a", "s3cret").unwrap();
        assert_eq!(store.get("a").unwrap().as_deref(), Some("s3cret"));
        store.delete("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        assert!(!store.is_persistent());
    }
}
