//! One way to connect, for the command line, the window and the scheduler alike: an
//! [`Endpoint`] (what kind of place, its address, which CA to trust) becomes
//! sources or destinations here and nowhere else, and [`credentials`] finds the password by
//! the [`Step`]s each front lists in its own order.

use std::path::PathBuf;

use crate::config::{Account, AccountKind};
use crate::dav::http::{Credentials, HttpClient, HttpSettings};
use crate::destination::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::ids::Href;
use crate::secrets::SecretStore;
use crate::source::Source;

/// Environment variables headless runs take a password or a bearer token from.
pub const PASSWORD_ENV: &str = "LIFEBOAT_PASSWORD";
pub const TOKEN_ENV: &str = "LIFEBOAT_TOKEN";

/// Where data lives or goes, as every front describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub kind: AccountKind,
    /// A URL, or a folder path for [`AccountKind::Folder`].
    pub address: String,
    /// A PEM file with a CA to trust besides the system's (a self-hosted server).
    pub ca_file: Option<PathBuf>,
}

impl Endpoint {
    pub fn new(kind: AccountKind, address: impl Into<String>, ca_file: Option<PathBuf>) -> Self {
        Self {
            kind,
            address: address.into(),
            ca_file,
        }
    }

    pub fn of(account: &Account) -> Self {
        Self::new(account.kind(), &account.address, account.ca_file.clone())
    }

    fn http(&self, credentials: &Credentials) -> Result<HttpClient> {
        let settings = HttpSettings {
            ca_file: self.ca_file.clone(),
            ..HttpSettings::default()
        };
        HttpClient::new(credentials.clone(), &settings)
    }

    /// The source that reads this place (discovering a DAV account's collections).
    pub async fn source(&self, credentials: &Credentials) -> Result<Box<dyn Source>> {
        use crate::source::android::{AdbServer, AndroidSource};
        use crate::source::{dav::DavSource, device::DeviceSource, photos::PhotoSource};
        Ok(match self.kind {
            AccountKind::Dav => {
                Box::new(DavSource::connect(&self.address, self.http(credentials)?).await?)
            }
            AccountKind::Photos => {
                Box::new(PhotoSource::new(&self.address, self.http(credentials)?)?)
            }
            AccountKind::Folder => Box::new(DeviceSource::new(&self.address)?),
            AccountKind::Android => {
                let serial = Some(self.address.as_str()).filter(|s| !s.is_empty());
                Box::new(AndroidSource::connect(AdbServer::default(), serial).await?)
            }
        })
    }

    /// The destination that writes into this place.
    pub async fn destination(&self, credentials: &Credentials) -> Result<Box<dyn Target>> {
        use crate::destination::{dav::DavTarget, folder::FolderTarget, webdav::PhotoTarget};
        Ok(match self.kind {
            AccountKind::Dav => {
                Box::new(DavTarget::connect(&self.address, self.http(credentials)?).await?)
            }
            AccountKind::Photos => {
                Box::new(PhotoTarget::new(&self.address, self.http(credentials)?)?)
            }
            AccountKind::Folder => Box::new(FolderTarget::new(&self.address)?),
            AccountKind::Android => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "restoring onto a phone is not possible yet: restore into an account the phone syncs with, or copy the archive's merged .vcf and .ics files onto it",
                ));
            }
        })
    }
}

/// Connects one account of a backup into `connected`, which keeps an account that fails
/// (its credentials, or the connection) as a warning naming it instead of failing the run.
pub async fn add_account(
    connected: &mut crate::source::Connected,
    account: &Account,
    collections: &[Href],
    credentials: Result<Credentials>,
) -> Result<()> {
    let sources = match credentials {
        Ok(credentials) => Endpoint::of(account)
            .source(&credentials)
            .await
            .map(|source| vec![source]),
        Err(error) => Err(error),
    };
    connected.add(account, collections, sources)
}

/// One place a password or token may come from.
pub enum Step<'a> {
    /// What the person just typed (empty counts as nothing).
    Typed(Option<&'a str>),
    /// The system keyring, under the account's id; a keyring that cannot be reached is
    /// passed over (logged), like an empty one.
    Keyring(&'a dyn SecretStore, &'a str),
    /// [`PASSWORD_ENV`].
    PasswordEnv,
    /// [`TOKEN_ENV`], sent as a bearer token (no user needed).
    TokenEnv,
    /// Asked for on the terminal, when there is one.
    Prompt,
}

impl std::fmt::Debug for Step<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Typed(_) => "Typed",
            Self::Keyring(..) => "Keyring",
            Self::PasswordEnv => "PasswordEnv",
            Self::TokenEnv => "TokenEnv",
            Self::Prompt => "Prompt",
        })
    }
}

/// The first credentials `steps` yield for `user`; `Ok(None)` when none had any, which each
/// front words in its own way. Password steps are skipped without a user.
pub fn credentials(user: Option<&str>, steps: &[Step<'_>]) -> Result<Option<Credentials>> {
    for step in steps {
        let password = match step {
            Step::TokenEnv => match std::env::var(TOKEN_ENV) {
                Ok(token) => return Ok(Some(Credentials::Bearer(token))),
                Err(_) => continue,
            },
            _ if user.is_none() => continue,
            Step::Typed(typed) => typed.filter(|p| !p.is_empty()).map(str::to_owned),
            Step::Keyring(store, id) => store.get(id).unwrap_or_else(|error| {
                tracing::info!("keyring unavailable for {id}: {error}");
                None
            }),
            Step::PasswordEnv => std::env::var(PASSWORD_ENV).ok(),
            Step::Prompt => prompt(user.unwrap_or_default())?,
        };
        if let (Some(user), Some(password)) = (user, password) {
            return Ok(Some(Credentials::Basic {
                user: user.to_owned(),
                password,
            }));
        }
    }
    Ok(None)
}

fn prompt(user: &str) -> Result<Option<String>> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    rpassword::prompt_password(format!("Password for {user}: "))
        .map(Some)
        .map_err(|e| Error::with_source(ErrorKind::InvalidInput, "could not read the password", e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::secrets::MemorySecrets;

    /// A keyring that cannot be reached (no Secret Service on the session bus).
    #[derive(Debug)]
    struct Unreachable;

    impl SecretStore for Unreachable {
        fn get(&self, _: &str) -> Result<Option<String>> {
            Err(Error::new(ErrorKind::Io, "no keyring"))
        }
        fn set(&self, _: &str, _: &str) -> Result<()> {
            Err(Error::new(ErrorKind::Io, "no keyring"))
        }
        fn delete(&self, _: &str) -> Result<()> {
            Err(Error::new(ErrorKind::Io, "no keyring"))
        }
        fn is_persistent(&self) -> bool {
            false
        }
    }

    fn password(found: Option<Credentials>) -> Option<String> {
        match found {
            Some(Credentials::Basic { password, .. }) => Some(password),
            _ => None,
        }
    }

    #[test]
    fn the_first_step_that_has_a_password_wins_in_the_order_given() {
        let keyring = MemorySecrets::default();
        keyring.set("acct", "from keyring").unwrap();
        let typed_first = [Step::Typed(Some("typed")), Step::Keyring(&keyring, "acct")];
        assert_eq!(
            password(credentials(Some("ann"), &typed_first).unwrap()).as_deref(),
            Some("typed")
        );
        // An empty field is nothing typed; an unreachable keyring is passed over.
        let empty = [
            Step::Typed(Some("")),
            Step::Keyring(&Unreachable, "acct"),
            Step::Keyring(&keyring, "acct"),
        ];
        assert_eq!(
            password(credentials(Some("ann"), &empty).unwrap()).as_deref(),
            Some("from keyring")
        );
        let none = [Step::Typed(None), Step::Keyring(&keyring, "other")];
        assert!(credentials(Some("ann"), &none).unwrap().is_none());
        // Without a user there is nobody to send a password for.
        assert!(credentials(None, &typed_first).unwrap().is_none());
    }

    #[test]
    fn an_endpoint_of_an_account_carries_its_certificate_file() {
        let account = Account {
            address: "https://home.example/dav/".into(),
            ca_file: Some("/etc/home-ca.pem".into()),
            ..Account::default()
        };
        let endpoint = Endpoint::of(&account);
        assert_eq!(endpoint.kind, AccountKind::Dav);
        assert_eq!(endpoint.ca_file, account.ca_file);
    }
}
