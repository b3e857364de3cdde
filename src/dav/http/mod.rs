//! HTTP for every network source: one reqwest client (rustls), credentials, a CA to trust,
//! retries for 429/503 and 5xx on idempotent requests, request counters, and the small
//! tower-service adapter that lets libdav speak through reqwest.

mod errors;
mod tower;

use self::errors::is_tls;
pub use errors::{HttpError, check_status, status_error};
pub use tower::DavService;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use http::{HeaderValue, Method, StatusCode};

use crate::error::{Error, ErrorKind, Result};

/// How we prove who we are to a server. Never serialized, never printed.
#[derive(Clone)]
pub enum Credentials {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Basic { user, .. } => write!(f, "Basic({user}, <hidden>)"),
            Self::Bearer(_) => f.write_str("Bearer(<hidden>)"),
        }
    }
}

impl Credentials {
    fn header(&self) -> Option<HeaderValue> {
        let value = match self {
            Self::None => return None,
            Self::Basic { user, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            Self::Bearer(token) => format!("Bearer {token}"),
        };
        let mut header = HeaderValue::from_str(&value).ok()?;
        header.set_sensitive(true);
        Some(header)
    }

    /// The user name, for messages.
    pub fn user(&self) -> Option<&str> {
        match self {
            Self::Basic { user, .. } => Some(user),
            _ => None,
        }
    }
}

/// Settings shared by every connection of one account.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// A PEM file with a CA certificate to trust in addition to the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// The longest `Retry-After` we honour before giving up.
    pub max_retry_wait_secs: Option<u64>,
    /// How long a server may stay silent before the request counts as failed (and is retried
    /// when that is safe); two minutes unless set.
    pub timeout_secs: Option<u64>,
}

impl Default for HttpSettings {
    /// No extra CA; the timeout from `LIFEBOAT_TIMEOUT` (seconds) when set, so that scheduled
    /// runs and the window can be given a shorter one too.
    fn default() -> Self {
        Self {
            ca_file: None,
            max_retry_wait_secs: None,
            timeout_secs: std::env::var("LIFEBOAT_TIMEOUT")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// Counts what went over the wire, for summaries and benchmarks.
#[derive(Debug, Default)]
pub struct HttpStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

impl HttpStats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A reqwest client with credentials and retry policy, cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    credentials: Arc<Credentials>,
    /// Where the credentials may go (`origin.rs`).
    trusted: crate::dav::origin::TrustedOrigins,
    stats: Arc<HttpStats>,
    max_retry_wait: Duration,
    /// How long a server may be silent, and the grace before [`MIN_RATE`] applies.
    pub(crate) patience: Duration,
}

pub(crate) const ATTEMPTS: u32 = 5;

/// The slowest a body may arrive (bytes per second) once [`HttpClient::patience`] has passed:
/// a server trickling a byte a second never times out on silence, so every request also has
/// a deadline that grows with what it delivered.
pub const MIN_RATE: u64 = 4 * 1024;

/// Whether a body that delivered `bytes` since `started` is now behind its deadline.
pub(crate) fn too_slow(started: std::time::Instant, bytes: u64, patience: Duration) -> bool {
    started.elapsed() > patience + Duration::from_secs(bytes / MIN_RATE)
}

fn install_crypto_provider() {
    // Only the first call installs; later calls find a provider and do nothing.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpClient {
    pub fn new(credentials: Credentials, settings: &HttpSettings) -> Result<Self> {
        install_crypto_provider();
        let patience = Duration::from_secs(settings.timeout_secs.unwrap_or(120).max(1));
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("lifeboat/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(patience)
            // libdav follows redirects itself where the protocol asks for it (.well-known).
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| Error::io("reading the CA file", path, e))?;
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                Error::with_source(
                    ErrorKind::InvalidInput,
                    format!("the CA file is not a PEM certificate: {}", path.display()),
                    e,
                )
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        let client = builder
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Tls, "could not set up TLS for HTTP", e))?;
        Ok(Self {
            client,
            credentials: Arc::new(credentials),
            trusted: crate::dav::origin::TrustedOrigins::default(),
            stats: Arc::new(HttpStats::default()),
            max_retry_wait: Duration::from_secs(settings.max_retry_wait_secs.unwrap_or(120)),
            patience,
        })
    }

    pub fn stats(&self) -> &Arc<HttpStats> {
        &self.stats
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The origins the credentials may go to; the address the user gave is trusted first.
    pub fn trusted(&self) -> &crate::dav::origin::TrustedOrigins {
        &self.trusted
    }

    /// Trusts `uri`'s origin with the credentials, warning once when that means a password
    /// over plain http across a network.
    pub fn trust(&self, uri: &http::Uri) {
        if self.trusted.trust(uri)
            && let Some(origin) = crate::dav::origin::Origin::of(uri)
            && !origin.is_https()
            && !origin.is_loopback()
            && !matches!(*self.credentials, Credentials::None)
        {
            tracing::warn!(
                "the password for {} goes to {} over plain http, unencrypted: use an https:// address if the server has one",
                self.credentials.user().unwrap_or("this account"),
                origin.host
            );
        }
    }

    /// Sends a request, retrying idempotent ones on 429, 5xx and broken connections.
    /// Non-idempotent requests (PUT, MKCOL, ...) are sent once unless their callers can check
    /// the outcome: they use [`HttpClient::send_retrying`].
    pub async fn send<B>(&self, request: http::Request<B>) -> Result<reqwest::Response, HttpError>
    where
        B: Clone + Into<reqwest::Body>,
    {
        let idempotent = is_idempotent(request.method());
        self.send_retrying(&request, idempotent)
            .await
            .map(|(response, _)| response)
    }

    /// Sends `request`, retrying on 429/503 and, when `retryable`, on other 5xx and broken
    /// connections; also returns how many attempts it took.
    pub async fn send_retrying<B>(
        &self,
        request: &http::Request<B>,
        retryable: bool,
    ) -> Result<(reqwest::Response, u32), HttpError>
    where
        B: Clone + Into<reqwest::Body>,
    {
        let authenticate = match self.trusted.verdict(request.uri()) {
            crate::dav::origin::Verdict::Authenticate => true,
            crate::dav::origin::Verdict::Anonymous => false,
            crate::dav::origin::Verdict::Downgrade => {
                return Err(HttpError::Downgrade(request.uri().to_string()));
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.send_once(request, authenticate).await;
            let Some(wait) = self.retry_wait(attempt, retryable, &result) else {
                return result
                    .map(|response| (response, attempt))
                    .map_err(HttpError::Transport);
            };
            tracing::debug!(attempt, ?wait, uri = %request.uri(), "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Like [`HttpClient::send`] for an idempotent request whose whole answer is wanted: the
    /// body is read inside the retry loop, so a connection that breaks mid-body is retried too.
    pub async fn send_buffered<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<bytes::Bytes>, HttpError>
    where
        B: Clone + Into<reqwest::Body>,
    {
        let idempotent = is_idempotent(request.method());
        let mut attempt = 0;
        loop {
            attempt += 1;
            let response = self.send(clone_request(&request)).await?;
            let status = response.status();
            let mut head = http::Response::builder()
                .status(status)
                .version(response.version());
            if let Some(headers) = head.headers_mut() {
                *headers = response.headers().clone();
            }
            match read_capped(response, MAX_DAV_ANSWER, self.patience).await {
                Err(BodyError::TooLarge) => {
                    return Err(HttpError::TooLarge {
                        url: request.uri().to_string(),
                        limit: MAX_DAV_ANSWER,
                    });
                }
                Err(BodyError::Transport(error)) if idempotent && attempt < ATTEMPTS => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(attempt, %error, uri = %request.uri(), "body broke off; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(BodyError::Transport(error)) => return Err(HttpError::Transport(error)),
                Err(BodyError::TooSlow) if idempotent && attempt < ATTEMPTS => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(attempt, uri = %request.uri(), "answer too slow; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(BodyError::TooSlow) => {
                    return Err(HttpError::TooSlow(request.uri().to_string()));
                }
                Ok(body) if idempotent && attempt < ATTEMPTS && cut_short(status, &body) => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(attempt, uri = %request.uri(), "multistatus cut short; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Ok(body) => {
                    return head.body(body).map_err(|_| {
                        // Unreachable: status, version and headers came from a valid response.
                        HttpError::Invalid(request.uri().to_string())
                    });
                }
            }
        }
    }

    /// One attempt, counted; with credentials when `authenticate`.
    async fn send_once<B>(
        &self,
        request: &http::Request<B>,
        authenticate: bool,
    ) -> Result<reqwest::Response, reqwest::Error>
    where
        B: Clone + Into<reqwest::Body>,
    {
        let mut outgoing = reqwest::Request::try_from(clone_request(request))?;
        if authenticate && let Some(header) = self.credentials.header() {
            outgoing
                .headers_mut()
                .insert(http::header::AUTHORIZATION, header);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.client.execute(outgoing).await
    }

    /// How long to wait before attempt `attempt + 1`, or `None` to stop and use `result`:
    /// 429/503 are retried (honouring `Retry-After` up to the cap), other 5xx and broken
    /// connections only for `retryable` requests; never TLS failures, never past [`ATTEMPTS`].
    fn retry_wait(
        &self,
        attempt: u32,
        retryable: bool,
        result: &Result<reqwest::Response, reqwest::Error>,
    ) -> Option<Duration> {
        let wait = match result {
            Ok(response)
                if response.status() == StatusCode::TOO_MANY_REQUESTS
                    || response.status() == StatusCode::SERVICE_UNAVAILABLE =>
            {
                retry_after(response).unwrap_or_else(|| backoff(attempt))
            }
            // 501: the server knows no such method; asking again cannot change that.
            Ok(response)
                if retryable
                    && response.status().is_server_error()
                    && response.status() != StatusCode::NOT_IMPLEMENTED =>
            {
                backoff(attempt)
            }
            Err(error) if retryable && !error.is_builder() && !is_tls(error) => backoff(attempt),
            _ => return None,
        };
        if attempt >= ATTEMPTS || wait > self.max_retry_wait {
            return None;
        }
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        Some(wait)
    }

    /// A GET whose body the caller streams; fails on any non-success status.
    pub async fn get(&self, uri: &str) -> Result<reqwest::Response> {
        let request = http::Request::builder()
            .method(Method::GET)
            .uri(uri)
            .body(String::new())
            .map_err(|e| {
                Error::with_source(
                    ErrorKind::InvalidInput,
                    format!("not a valid URL: {uri}"),
                    e,
                )
            })?;
        let response = self.send(request).await.map_err(|e| e.into_error(uri))?;
        check_status(response.status(), uri, self.credentials.user())?;
        Ok(response)
    }

    /// The adapter libdav sends its requests through.
    pub fn dav_service(&self) -> DavService {
        DavService { http: self.clone() }
    }
}

pub(crate) fn header_text(
    response: &reqwest::Response,
    name: http::header::HeaderName,
) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Characters a URL path may not carry raw; `%` stays, because libdav hrefs keep reserved
/// characters percent-encoded.
const PATH_UNSAFE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'?')
    .add(b'{')
    .add(b'}');

/// The absolute URL of a server href (an absolute path) on `base`'s scheme and host.
pub fn url_for_href(base: &http::Uri, href: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(href, PATH_UNSAFE).to_string();
    format!(
        "{}://{}{}",
        base.scheme_str().unwrap_or("https"),
        base.authority().map_or("", |a| a.as_str()),
        encoded
    )
}

/// The largest DAV answer read into memory: far above any real multiget batch (1,000 items),
/// low enough that a server sending without end cannot exhaust memory.
const MAX_DAV_ANSWER: usize = 1 << 30;

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
    /// Slower than [`MIN_RATE`] after the grace.
    TooSlow,
}

/// A whole body, refusing more than `limit` bytes.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
    patience: Duration,
) -> Result<bytes::Bytes, BodyError> {
    let started = std::time::Instant::now();
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
        if too_slow(started, body.len() as u64, patience) {
            return Err(BodyError::TooSlow);
        }
    }
    Ok(body.freeze())
}

/// A 207 Multi-Status whose XML does not end with its closing tag: a connection or proxy cut
/// it short with a plausible length. Checking the end costs nothing; a body malformed in the
/// middle is left to the XML parser, which reports it.
fn cut_short(status: StatusCode, body: &[u8]) -> bool {
    status == StatusCode::MULTI_STATUS && !body.trim_ascii_end().ends_with(b"multistatus>")
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        method.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "PROPFIND" | "REPORT"
    )
}

fn clone_request<B: Clone>(request: &http::Request<B>) -> http::Request<B> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    // 0.5 s, 1 s, 2 s, 4 s, with up to 25% jitter so that parallel workers spread out.
    let base = Duration::from_millis(500) * 2u32.pow(attempt.saturating_sub(1).min(6));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base / 4 * (nanos % 100) / 100
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let delta = when.signed_duration_since(chrono::Utc::now());
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}
