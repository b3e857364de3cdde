//! Finding an account's CalDAV/CardDAV service from what a person typed: a URL, a host or
//! an email address (user names taken out of URLs, passwords in them refused), then the
//! address itself if it says so (OPTIONS), the `/.well-known` redirects (RFC 6764, followed
//! as vdirsyncer does and never from https to http), or DNS SRV/TXT records.

use std::time::Duration;

use http::Uri;
use libdav::dav::{CheckSupport, WebDavClient};
use libdav::{CalDavClient, CardDavClient};

use crate::dav::http::{HttpClient, HttpError, status_error};
use crate::error::{Error, ErrorKind, Result};

/// Takes a user name out of an address (`https://alice@host/`), returning the address
/// without it and the name. An address that holds a password is refused without repeating
/// it: addresses end up in logs, settings and manifests.
pub fn split_user_info(input: &str) -> Result<(String, Option<String>)> {
    let input = input.trim();
    let Some((scheme, rest)) = input.split_once("://") else {
        // `alice@example.com` without a scheme is an email address, used for discovery.
        return Ok((input.to_owned(), None));
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some((user_info, host)) = rest[..authority_end].rsplit_once('@') else {
        return Ok((input.to_owned(), None));
    };
    if user_info.contains(':') {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the server address holds a password; Lifeboat never takes passwords in addresses (they end up in logs and files): give the address without it, and put the password in LIFEBOAT_PASSWORD or the keyring",
        ));
    }
    let user = percent_encoding::percent_decode_str(user_info)
        .decode_utf8_lossy()
        .into_owned();
    let address = format!("{scheme}://{host}{}", &rest[authority_end..]);
    Ok((address, (!user.is_empty()).then_some(user)))
}

/// Turns what a user typed (a URL, a host, or an email address) into a URL to start from.
/// A user name or password inside a URL is refused here (the fronts take a user name out
/// with [`split_user_info`] first), so no URL we keep or show can hold one.
pub fn starting_url(input: &str) -> Result<Uri> {
    let input = input.trim();
    if split_user_info(input)?.1.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "the server address holds a user name; give it as the user name instead",
        ));
    }
    let text = if input.contains("://") {
        input.to_owned()
    } else if let Some((_, domain)) = input.split_once('@') {
        format!("https://{domain}/")
    } else {
        format!("https://{input}")
    };
    let uri: Uri = text.parse().map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidInput,
            format!("not a valid server address: {input}"),
            e,
        )
    })?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the server address must start with https:// or http://: {input}"),
        )),
    }
}

/// The URL that answers for CalDAV/CardDAV: the given one if it says so (OPTIONS), else the
/// `/.well-known` redirect on its host, else DNS SRV/TXT records (RFC 6764).
pub(crate) async fn find_context(
    http: &HttpClient,
    start: &Uri,
    user: Option<&str>,
) -> Result<Uri> {
    let dav = WebDavClient::new(start.clone(), http.dav_service());
    let url = start.to_string();
    let mut refused = None;
    let mut failed = None;
    for expectation in ["addressbook", "calendar-access"] {
        match dav.request(CheckSupport::new(start, expectation)).await {
            Ok(()) => return Ok(start.clone()),
            Err(libdav::CheckSupportError::Request(libdav::dav::RequestError::Client(e))) => {
                return Err(e.into_error(&url));
            }
            Err(libdav::CheckSupportError::BadStatusCode(
                status @ (http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN),
            )) => refused = Some(status),
            Err(libdav::CheckSupportError::BadStatusCode(status)) if status.is_server_error() => {
                failed = Some(status);
            }
            Err(_) => {}
        }
    }
    let host = start.host().unwrap_or_default().to_owned();
    for path in ["/.well-known/carddav", "/.well-known/caldav"] {
        match well_known(http, start, path).await? {
            WellKnown::Found(found) => return Ok(found),
            WellKnown::Refused(status) => refused = Some(status),
            WellKnown::NotHere => {}
        }
    }
    // Servers such as SOGo advertise only `DAV: 1,2` in OPTIONS, yet answer the principal:
    // the address and each folder above it are asked, as vdirsyncer does.
    if refused.is_none() {
        for candidate in start_and_parents(start) {
            let dav = WebDavClient::new(candidate.clone(), http.dav_service());
            if let Ok(Some(_)) = dav.find_current_user_principal().await {
                return Ok(candidate);
            }
        }
    }
    if let Some(status) = refused.or(failed) {
        return Err(status_error(status, &url, user));
    }
    let is_dns_name = host.parse::<std::net::IpAddr>().is_err() && host != "localhost";
    if is_dns_name {
        // The hosts DNS names for the user's own domain may have the credentials, over TLS.
        http.trusted().begin_srv_discovery();
        let found = async {
            let service_dav = WebDavClient::new(start.clone(), http.dav_service());
            let lookup = CardDavClient::bootstrap_via_service_discovery(service_dav);
            if let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(10), lookup).await {
                return Some(client.base_url.clone());
            }
            let service_dav = WebDavClient::new(start.clone(), http.dav_service());
            let lookup = CalDavClient::bootstrap_via_service_discovery(service_dav);
            if let Ok(Ok(client)) = tokio::time::timeout(Duration::from_secs(10), lookup).await {
                return Some(client.base_url.clone());
            }
            None
        }
        .await;
        http.trusted().end_srv_discovery();
        if let Some(found) = found {
            return Ok(found);
        }
    }
    Err(Error::new(
        ErrorKind::NotDav,
        format!("no CalDAV or CardDAV service answers at this address: {url}"),
    ))
}

/// `start`, then each folder above it up to (not including) the root, which libdav's
/// principal lookup asks anyway.
fn start_and_parents(start: &Uri) -> Vec<Uri> {
    let origin = format!(
        "{}://{}",
        start.scheme_str().unwrap_or("https"),
        start.authority().map_or("", |a| a.as_str())
    );
    let mut path = start.path().trim_end_matches('/').to_owned();
    let mut found = vec![start.clone()];
    while let Some((parent, _)) = path.rsplit_once('/') {
        path = parent.to_owned();
        if path.is_empty() {
            break;
        }
        if let Ok(uri) = format!("{origin}{path}/").parse() {
            found.push(uri);
        }
    }
    found
}

/// For an address typed without a scheme (`127.0.0.1:8008`), which is tried as https first:
/// the plain-http address to try next, for a loopback host only, where nothing can listen
/// in between. Elsewhere a password would travel unencrypted, so people type `http://`
/// themselves (the error says so).
pub(crate) fn plain_http_instead(input: &str) -> Option<Uri> {
    let input = input.trim();
    if input.contains("://") || input.contains('@') {
        return None;
    }
    let uri: Uri = format!("http://{input}").parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(uri)
}

/// What `/.well-known/...` on the starting origin said.
enum WellKnown {
    /// It redirected, ending here.
    Found(Uri),
    /// The first answer was 401/403.
    Refused(http::StatusCode),
    /// No redirect: no context path there.
    NotHere,
}

/// Follows `/.well-known/carddav` or `.../caldav` on `start`'s origin (RFC 6764) as vdirsyncer
/// does: each redirect is followed whatever its target answers in the end (a DAV root may
/// answer a GET with 404), and the origin it leads to is trusted with the credentials, but
/// never a step from https to plain http.
async fn well_known(http: &HttpClient, start: &Uri, path: &str) -> Result<WellKnown> {
    let mut uri: Uri = format!(
        "{}://{}{path}",
        start.scheme_str().unwrap_or("https"),
        start.authority().map_or("", |a| a.as_str())
    )
    .parse()
    .map_err(|e| Error::with_source(ErrorKind::InvalidInput, "not a valid server address", e))?;
    for hop in 0..5 {
        let url = uri.to_string();
        let request = http::Request::builder()
            .method(http::Method::GET)
            .uri(&uri)
            .body(String::new())
            .map_err(|e| {
                Error::with_source(ErrorKind::InvalidInput, format!("bad URL: {url}"), e)
            })?;
        let response = http.send(request).await.map_err(|e| e.into_error(&url))?;
        let status = response.status();
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        match (status.is_redirection(), location) {
            (true, Some(location)) => {
                let next = resolve_location(&uri, &location).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidData,
                        format!(
                            "the server redirected to an address we cannot read ({location}): {url}"
                        ),
                    )
                })?;
                if uri.scheme_str() == Some("https") && next.scheme_str() != Some("https") {
                    return Err(HttpError::Downgrade(next.to_string()).into_error(&url));
                }
                http.trust(&next);
                uri = next;
            }
            _ if hop > 0 => return Ok(WellKnown::Found(uri)),
            (false, _)
                if matches!(
                    status,
                    http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN
                ) =>
            {
                return Ok(WellKnown::Refused(status));
            }
            _ => return Ok(WellKnown::NotHere),
        }
    }
    Ok(WellKnown::Found(uri))
}

/// A `Location` header's URL, absolute or relative to `base`.
fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    if location.contains("://") {
        return location.parse().ok();
    }
    let origin = format!("{}://{}", base.scheme_str()?, base.authority()?.as_str());
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let folder = base
            .path()
            .rsplit_once('/')
            .map_or("", |(folder, _)| folder);
        format!("{folder}/{location}")
    };
    format!("{origin}{path}").parse().ok()
}
