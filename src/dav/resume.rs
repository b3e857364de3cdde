//! Downloads that survive broken connections: a photo's body resumed with `Range` where it
//! broke off (or the whole file again, the part already delivered skipped), a body that ends
//! short of its listed length or comes too slowly counted as a break too.

use http::{Method, StatusCode};

use crate::dav::http::{
    ATTEMPTS, HttpClient, MIN_RATE, backoff, header_text, status_error, too_slow,
};
use crate::error::{Error, ErrorKind, Result};

impl HttpClient {
    /// A GET whose body survives broken connections: when the body breaks off, the rest is
    /// asked for with `Range` (or, from a server without ranges, the whole file again with the
    /// part already delivered skipped), so a large photo is not lost to one reset. The stream
    /// fails only after [`ATTEMPTS`] breaks, or when the file changed in between (new ETag).
    /// With the `expected` length from the listing, a body that ends short (a proxy that cut
    /// it with a plausible length) counts as a break too.
    pub async fn get_resuming(
        &self,
        uri: &str,
        expected: Option<u64>,
    ) -> Result<crate::source::ByteStream> {
        use futures_util::StreamExt as _;
        let response = self.get(uri).await?;
        let state = Resume {
            etag: header_text(&response, http::header::ETAG),
            body: response.bytes_stream().boxed(),
            http: self.clone(),
            uri: uri.to_owned(),
            delivered: 0,
            skip: 0,
            breaks: 0,
            expected,
            body_started: std::time::Instant::now(),
            body_delivered: 0,
        };
        Ok(futures_util::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            loop {
                let next = match state.body.next().await {
                    None if state.expected.is_some_and(|n| state.delivered < n) => {
                        Some(Err(BodyBreak::EndedShort))
                    }
                    None => return None,
                    Some(Ok(chunk))
                        if too_slow(
                            state.body_started,
                            state.body_delivered + chunk.len() as u64,
                            state.http.patience,
                        ) =>
                    {
                        Some(Err(BodyBreak::TooSlow))
                    }
                    Some(Ok(chunk)) => {
                        state.body_delivered += chunk.len() as u64;
                        Some(Ok(chunk))
                    }
                    Some(Err(error)) => Some(Err(BodyBreak::Transport(error))),
                };
                match next {
                    None => return None,
                    Some(Ok(mut chunk)) => {
                        let skipped = state.skip.min(chunk.len() as u64);
                        state.skip -= skipped;
                        chunk = chunk.slice(usize::try_from(skipped).unwrap_or(chunk.len())..);
                        if chunk.is_empty() {
                            continue;
                        }
                        state.delivered += chunk.len() as u64;
                        return Some((Ok(chunk), Some(state)));
                    }
                    Some(Err(error)) => {
                        state.breaks += 1;
                        if state.breaks >= ATTEMPTS {
                            return Some((Err(error.into_io(&state.uri)), None));
                        }
                        tracing::debug!(uri = %state.uri, delivered = state.delivered, %error, "download broke off; resuming");
                        tokio::time::sleep(backoff(state.breaks)).await;
                        if let Err(error) = state.reopen().await {
                            return Some((Err(std::io::Error::other(error)), None));
                        }
                    }
                }
            }
        })
        .boxed())
    }
}

/// Where a resuming download stands.
struct Resume {
    http: HttpClient,
    uri: String,
    etag: Option<String>,
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    /// Bytes handed on so far.
    delivered: u64,
    /// Bytes of the current body to drop, because they were handed on before.
    skip: u64,
    breaks: u32,
    /// The length the listing gave, if it gave one.
    expected: Option<u64>,
    /// When the current body began, and what it brought: its deadline.
    body_started: std::time::Instant,
    body_delivered: u64,
}

/// Why a download stopped before its end.
#[derive(Debug)]
enum BodyBreak {
    Transport(reqwest::Error),
    EndedShort,
    TooSlow,
}

impl BodyBreak {
    fn into_io(self, uri: &str) -> std::io::Error {
        match self {
            Self::Transport(error) => std::io::Error::other(error),
            Self::EndedShort => std::io::Error::other(format!(
                "the server kept ending the file before its listed length: {uri}"
            )),
            Self::TooSlow => std::io::Error::other(format!(
                "the server kept sending the file too slowly (under {} KiB/s): {uri}",
                MIN_RATE / 1024
            )),
        }
    }
}

impl std::fmt::Display for BodyBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(error) => error.fmt(f),
            Self::EndedShort => f.write_str("ended before its listed length"),
            Self::TooSlow => f.write_str("came too slowly"),
        }
    }
}

impl Resume {
    async fn reopen(&mut self) -> Result<()> {
        use futures_util::StreamExt as _;
        let mut request = http::Request::builder()
            .method(Method::GET)
            .uri(&self.uri)
            .header(http::header::RANGE, format!("bytes={}-", self.delivered));
        if let Some(etag) = &self.etag {
            request = request.header(http::header::IF_RANGE, etag);
        }
        let request = request
            .body(String::new())
            .map_err(|e| Error::with_source(ErrorKind::InvalidInput, "bad URL", e))?;
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| e.into_error(&self.uri))?;
        let etag = header_text(&response, http::header::ETAG);
        if self.etag.is_some() && etag.is_some() && etag != self.etag {
            return Err(Error::new(
                ErrorKind::Server,
                format!("the file changed while it was being copied: {}", self.uri),
            ));
        }
        let expected_range = format!("bytes {}-", self.delivered);
        self.skip = match response.status() {
            StatusCode::PARTIAL_CONTENT
                if header_text(&response, http::header::CONTENT_RANGE)
                    .is_some_and(|range| range.starts_with(&expected_range)) =>
            {
                0
            }
            StatusCode::OK => self.delivered,
            status => {
                return Err(status_error(
                    status,
                    &self.uri,
                    self.http.credentials().user(),
                ));
            }
        };
        self.body = response.bytes_stream().boxed();
        self.body_started = std::time::Instant::now();
        self.body_delivered = 0;
        Ok(())
    }
}
