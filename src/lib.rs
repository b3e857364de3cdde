//! Lifeboat keeps a person's contacts, calendars, to-dos and photos safe in open formats.
//!
//! # Architecture
//! - [`source`]: where data lives, behind one [`source::Source`] trait (contract in its docs):
//!   CalDAV/CardDAV accounts ([`source::dav`], through libdav over reqwest), WebDAV photo
//!   folders ([`source::photos`]), device folders ([`source::device`]), Google Takeout and
//!   Apple data-copy downloads ([`source::provider`], read in place from their zip parts)
//!   and an in-memory backend for tests ([`source::memory`]).
//! - [`vobject`]: byte-level splitting and inspection of vCard/iCalendar data; archived bytes
//!   are never rewritten.
//! - [`archive`]: the on-disk format (`docs/ARCHIVE_FORMAT.md`): atomic writer, reader for
//!   folders and zips, manifest and verification.
//! - [`target`]: where a restore writes, behind one [`target::Target`] trait (contract in its
//!   docs): CalDAV/CardDAV accounts, WebDAV photo folders, local folders.
//! - [`job`]: plan, then execute: export (sources → archive) and restore (archive → targets,
//!   with a restore report beside the archive).
//! - [`progress`]: the one progress interface and cancellation token all fronts share.
//! - [`browse`]: an archive read into plain data for showing (contacts, agenda, to-dos, photos).
//! - [`config`] and [`secrets`]: accounts and settings on disk; passwords in the OS keyring.
//! - [`worker`]: the background runtime the GUI hands jobs to (commands in, events out).
//! - [`cli`]: the command-line front; [`gui`]: the desktop window. Both are thin fronts over
//!   the same jobs and progress events.
//!
//! - [`fuzzing`]: hostile-input entry points shared by the fuzz targets and property tests.
//!
//! Only [`gui`] imports egui; the engine never depends on a GUI toolkit.

pub mod archive;
pub mod browse;
pub mod cli;
pub mod config;
pub mod connect;
pub mod error;
pub mod fuzzing;
pub mod gui;
pub mod job;
pub mod model;
pub mod progress;
pub mod schedule;
pub mod secrets;
pub mod source;
pub mod target;
pub mod vobject;
pub mod worker;

pub use error::{Error, ErrorKind, Result};
