//! Which servers get the user's credentials: only the origins (scheme, host, port) the user
//! named, or that discovery reached by an allowed path (a `/.well-known` redirect that stays
//! on https, a DNS SRV answer for the user's own domain). A request anywhere else goes
//! without them, and plain http after https is refused outright, since following it would
//! send everything, the password included, unencrypted.

use std::sync::{Arc, Mutex, MutexGuard};

use http::Uri;

/// Scheme, host and port of a URL, as browsers compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(uri: &Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Some(Self {
            host: uri.host()?.to_ascii_lowercase(),
            scheme,
            port,
        })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// 127.0.0.1, ::1 or localhost: plain http there never crosses a network.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// What a request to some URL may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A trusted origin: send the credentials.
    Authenticate,
    /// Another origin: send the request without them.
    Anonymous,
    /// Plain http after https: do not send at all.
    Downgrade,
}

/// The origins of one account, shared by every clone of its HTTP client.
#[derive(Debug, Clone, Default)]
pub struct TrustedOrigins {
    inner: Arc<Mutex<Trusted>>,
}

#[derive(Debug, Default)]
struct Trusted {
    origins: Vec<Origin>,
    /// Set while DNS SRV discovery runs inside libdav: its candidates are hosts the user's
    /// own domain names, reached over TLS.
    any_https: bool,
}

impl TrustedOrigins {
    fn lock(&self) -> MutexGuard<'_, Trusted> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Trusts `uri`'s origin; `true` when it was not trusted before.
    pub fn trust(&self, uri: &Uri) -> bool {
        let Some(origin) = Origin::of(uri) else {
            return false;
        };
        let mut trusted = self.lock();
        if trusted.origins.contains(&origin) {
            return false;
        }
        trusted.origins.push(origin);
        true
    }

    /// Lets any https origin have the credentials until [`TrustedOrigins::end_srv_discovery`].
    pub fn begin_srv_discovery(&self) {
        self.lock().any_https = true;
    }

    pub fn end_srv_discovery(&self) {
        self.lock().any_https = false;
    }

    pub fn verdict(&self, uri: &Uri) -> Verdict {
        let Some(origin) = Origin::of(uri) else {
            return Verdict::Anonymous;
        };
        let trusted = self.lock();
        if trusted.origins.contains(&origin) {
            Verdict::Authenticate
        } else if !origin.is_https() && trusted.origins.iter().any(Origin::is_https) {
            Verdict::Downgrade
        } else if trusted.any_https && origin.is_https() {
            Verdict::Authenticate
        } else {
            Verdict::Anonymous
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn credentials_stay_with_the_origins_trusted() {
        let trusted = TrustedOrigins::default();
        assert!(trusted.trust(&uri("https://dav.example.com/dav/")));
        assert!(!trusted.trust(&uri("https://DAV.example.com:443/other/")));
        assert_eq!(
            trusted.verdict(&uri("https://dav.example.com/x")),
            Verdict::Authenticate
        );
        assert_eq!(
            trusted.verdict(&uri("https://evil.example.net/x")),
            Verdict::Anonymous
        );
        assert_eq!(
            trusted.verdict(&uri("https://dav.example.com:8443/x")),
            Verdict::Anonymous
        );
        assert_eq!(
            trusted.verdict(&uri("http://dav.example.com/x")),
            Verdict::Downgrade
        );
        trusted.begin_srv_discovery();
        assert_eq!(
            trusted.verdict(&uri("https://p42.example.net/x")),
            Verdict::Authenticate
        );
        assert_eq!(
            trusted.verdict(&uri("http://p42.example.net/x")),
            Verdict::Downgrade
        );
        trusted.end_srv_discovery();
        assert_eq!(
            trusted.verdict(&uri("https://p42.example.net/x")),
            Verdict::Anonymous
        );
        assert!(Origin::of(&uri("http://127.0.0.1:5232/")).is_some_and(|o| o.is_loopback()));
        assert!(Origin::of(&uri("http://[::1]:5232/")).is_some_and(|o| o.is_loopback()));
        assert!(!Origin::of(&uri("http://dav.example.com/")).is_some_and(|o| o.is_loopback()));
    }
}
