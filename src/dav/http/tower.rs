//! The tower service libdav runs over: its requests sent through our client, with its retries,
//! caps and credentials.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Result;

use super::{HttpClient, HttpError};

/// tower `Service` over [`HttpClient`], the shape libdav's clients are generic over.
#[derive(Debug, Clone)]
pub struct DavService {
    pub(super) http: HttpClient,
}

pub(super) type BoxedResponse =
    Pin<Box<dyn Future<Output = Result<http::Response<reqwest::Body>, HttpError>> + Send>>;

impl tower_service::Service<http::Request<String>> for DavService {
    type Response = http::Response<reqwest::Body>;
    type Error = HttpError;
    type Future = BoxedResponse;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<String>) -> Self::Future {
        let http = self.http.clone();
        Box::pin(async move {
            let response = http.send_buffered(request).await?;
            Ok(response.map(reqwest::Body::from))
        })
    }
}
