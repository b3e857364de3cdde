//! The library's error type: what went wrong, as a kind the UI can act on, plus a sentence.

use std::path::PathBuf;

/// What kind of failure happened, so that a front end can suggest what to do next
/// (modelled on `std::io::ErrorKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The server refused the credentials (401/403).
    Auth,
    /// The host could not be reached, or the connection broke.
    Network,
    /// The TLS handshake failed (unknown CA, wrong host name, expired certificate).
    Tls,
    /// The URL answers, but no CalDAV/CardDAV/WebDAV service is there.
    NotDav,
    /// A collection, file or archive does not exist.
    NotFound,
    /// The server kept answering 429/503 after we waited as asked.
    RateLimited,
    /// The server failed (5xx) or answered something we cannot use.
    Server,
    /// Data that should have a structure does not (malformed XML, a broken manifest or zip).
    InvalidData,
    /// The user asked for something that cannot be done (bad URL, existing output, ...).
    InvalidInput,
    /// The disk is full.
    DiskFull,
    /// The server's storage for this account is full (507).
    QuotaExceeded,
    /// Any other local I/O failure.
    Io,
    /// The user cancelled the job.
    Cancelled,
    /// A phone over USB cannot be read yet: none connected, not allowed, offline, or the
    /// Android tools missing. The message says which step fixes it.
    PhoneNotReady,
}

/// A failure of a Lifeboat job: a kind and a one-line message a person can act on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "cancelled; nothing was written")
    }

    /// An I/O failure on a local path; a full disk gets its own kind.
    pub fn io(what: &str, path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        let path = path.into();
        let kind = if err.kind() == std::io::ErrorKind::StorageFull {
            ErrorKind::DiskFull
        } else if err.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        let message = if kind == ErrorKind::DiskFull {
            format!("the disk is full while {what}: {}", path.display())
        } else {
            format!("{what}: {err}: {}", path.display())
        };
        Self::with_source(kind, message, err)
    }

    /// A zip on this computer (an archive, a provider's download) that could not be read.
    pub fn zip_read(path: &std::path::Path, error: zip::result::ZipError) -> Self {
        Self::zip(
            path,
            error,
            "reading the zip",
            ErrorKind::InvalidData,
            "the zip is damaged",
        )
    }

    /// A zip archive being written that could not be finished.
    pub fn zip_write(path: &std::path::Path, error: zip::result::ZipError) -> Self {
        Self::zip(
            path,
            error,
            "writing the zip",
            ErrorKind::Io,
            "writing the zip failed",
        )
    }

    fn zip(
        path: &std::path::Path,
        error: zip::result::ZipError,
        doing: &str,
        kind: ErrorKind,
        otherwise: &str,
    ) -> Self {
        match error {
            zip::result::ZipError::Io(e) => Self::io(doing, path, e),
            other => Self::with_source(kind, format!("{otherwise}: {}", path.display()), other),
        }
    }

    /// What a person should try, if there is something to say beyond the message.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            ErrorKind::Auth => Some(
                "check the user name and password; providers with two-factor sign-in (iCloud, Fastmail, Google) need an app-specific password",
            ),
            ErrorKind::Network => Some("check the address and your connection, then try again"),
            ErrorKind::Tls => Some(
                "the server's certificate is not trusted; a server with a certificate of its own needs the file of the authority that issued it",
            ),
            ErrorKind::NotDav => Some(
                "use the CalDAV/CardDAV address your provider documents (often ending in /dav/ or /remote.php/dav/)",
            ),
            ErrorKind::RateLimited => Some("the server asks us to slow down; try again later"),
            ErrorKind::DiskFull => Some("free some space or choose another destination"),
            ErrorKind::PhoneNotReady => Some(
                "on the phone: Settings → About phone → tap Build number seven times; then System → Developer options → USB debugging on; unlock the phone and tap Allow",
            ),
            ErrorKind::QuotaExceeded => Some(
                "free space in the account (or raise its quota), then run the same restore again: it continues where it stopped",
            ),
            _ => None,
        }
    }
}
