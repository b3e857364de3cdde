//! Lifeboat keeps a person's contacts, calendars, to-dos and photos safe in open formats.
//!
//! # Architecture
//! - [`source`]: where data lives, behind one [`source::Source`] trait (contract in its docs):
//!   CalDAV/CardDAV accounts ([`source::dav`], through libdav over reqwest), WebDAV photo
//!   folders ([`source::photos`]), device folders ([`source::device`]) and an in-memory
//!   backend for tests ([`source::memory`]).
//! - [`vobject`]: byte-level splitting and inspection of vCard/iCalendar data; archived bytes
//!   are never rewritten.
//! - [`archive`]: the on-disk format (`docs/ARCHIVE_FORMAT.md`): atomic writer, reader for
//!   folders and zips, manifest and verification.
//! - [`target`]: where a restore writes, behind one [`target::Target`] trait (contract in its
//!   docs): CalDAV/CardDAV accounts, WebDAV photo folders, local folders.
//! - [`job`]: plan, then execute: export (sources → archive) and restore (archive → targets,
//!   with a restore report beside the archive).
//! - [`progress`]: the one progress interface and cancellation token all fronts share.
//! - [`cli`]: the command-line front; the GUI will be a second front over the same jobs.
//!
//! The engine never depends on a GUI toolkit.

pub mod archive;
pub mod cli;
pub mod error;
pub mod job;
pub mod model;
pub mod progress;
pub mod source;
pub mod target;
pub mod vobject;

pub use error::{Error, ErrorKind, Result};
