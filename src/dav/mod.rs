//! The WebDAV/CalDAV/CardDAV protocol shared by sources and destinations: one HTTP client
//! with credentials, retries and the tower adapter libdav runs on ([`http`]), which origins
//! get credentials ([`origin`]), streamed PROPFIND listings ([`listing`]), multiget bodies an
//! XML parser would alter (`line_ends`), resumable downloads ([`resume`]) and finding an
//! account's service from what a person typed ([`discovery`]).

pub mod discovery;
pub mod http;
pub(crate) mod line_ends;
pub mod listing;
pub mod origin;
pub mod resume;
