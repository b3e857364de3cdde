//! HTTP answers and transport failures as typed errors: status codes to error kinds a front can
//! act on, TLS failures recognised.

use http::StatusCode;

use crate::error::{Error, ErrorKind, Result};

use super::MIN_RATE;

pub(super) fn is_tls(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }

        let text = current.to_string();
        if text.contains("certificate") || text.contains("tls") || text.contains("TLS") {
            return true;
        }
        // An io::Error's `source()` skips the error it wraps: a TLS handshake answered in
        // plain http (an address typed without a scheme) hides its rustls error there.
        source = match current.downcast_ref::<std::io::Error>() {
            Some(io) if io.get_ref().is_some() => io.get_ref().map(|e| e as _),
            _ => current.source(),
        };
    }
    false
}

/// Turns an unsuccessful status into an error naming the URL and, for 401/403, the account.
pub fn check_status(status: StatusCode, url: &str, user: Option<&str>) -> Result<()> {
    if status.is_success() {
        return Ok(());
    }
    Err(status_error(status, url, user))
}

pub fn status_error(status: StatusCode, url: &str, user: Option<&str>) -> Error {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            let who = user.map(|u| format!(" for {u}")).unwrap_or_default();
            Error::new(
                ErrorKind::Auth,
                format!("the server refused the password{who} ({status}): {url}"),
            )
        }
        StatusCode::NOT_FOUND => Error::new(ErrorKind::NotFound, format!("not found (404): {url}")),
        StatusCode::INSUFFICIENT_STORAGE => Error::new(
            ErrorKind::QuotaExceeded,
            format!("the account is full (507 Insufficient Storage): {url}"),
        ),
        // A plain web server (`python3 -m http.server`, a website) knows no WebDAV method.
        StatusCode::NOT_IMPLEMENTED => Error::new(
            ErrorKind::NotDav,
            format!(
                "this server does not understand WebDAV (501 Not Implemented); check that the address is the CalDAV/CardDAV or WebDAV address your provider gives: {url}"
            ),
        ),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => Error::new(
            ErrorKind::RateLimited,
            format!("the server is busy ({status}) and kept asking us to wait: {url}"),
        ),
        status if status.is_server_error() => Error::new(
            ErrorKind::Server,
            format!("the server failed ({status}): {url}"),
        ),
        status => Error::new(
            ErrorKind::Server,
            format!("the server answered {status}: {url}"),
        ),
    }
}

/// A failure below HTTP status codes: connection, TLS, timeouts.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
    #[error("could not rebuild the answer from {0}")]
    Invalid(String),
    #[error("the answer from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("refused to follow https to plain http: {0}")]
    Downgrade(String),
    #[error("the answer from {0} came too slowly")]
    TooSlow(String),
}

impl HttpError {
    pub fn into_error(self, url: &str) -> Error {
        let error = match self {
            Self::Transport(error) => error,
            Self::Invalid(_) => {
                return Error::with_source(
                    ErrorKind::InvalidData,
                    format!("the server sent an answer we cannot read: {url}"),
                    self,
                );
            }
            Self::TooSlow(_) => {
                return Error::new(
                    ErrorKind::Network,
                    format!(
                        "the server sent its answer too slowly (under {} KiB/s), again and again: {url}",
                        MIN_RATE / 1024
                    ),
                );
            }
            Self::Downgrade(to) => {
                return Error::new(
                    ErrorKind::Server,
                    format!(
                        "the server sent us from https to plain http ({to}), where the password would travel unencrypted; Lifeboat did not follow: {url}"
                    ),
                );
            }
            Self::TooLarge { limit, .. } => {
                return Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "the server's answer is larger than {} MiB, more than any real one: {url}",
                        limit >> 20
                    ),
                );
            }
        };
        if is_tls(&error) {
            return Error::with_source(
                ErrorKind::Tls,
                format!("the secure connection failed (certificate not trusted?): {url}"),
                error,
            );
        }
        let what = if error.is_timeout() {
            "the server did not answer in time"
        } else if error.is_connect() {
            "could not connect to the server"
        } else {
            "the connection to the server broke"
        };
        Error::with_source(ErrorKind::Network, format!("{what}: {url}"), error)
    }
}
