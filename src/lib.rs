//! Lifeboat keeps a person's contacts, calendars, to-dos and photos safe in open formats.
//!
//! # Architecture
//! The engine, from the outside in:
//! - [`connect`]: the one way to connect, for every front: an [`connect::Endpoint`] (kind,
//!   address, CA file) becomes sources or destinations, and one credential resolver whose
//!   steps (typed, keyring, environment, token, prompt) each front orders.
//! - [`source`]: where data lives, behind one [`source::Source`] trait (contract in its docs):
//!   CalDAV/CardDAV accounts ([`source::dav`], through libdav), WebDAV photo folders
//!   ([`source::photos`]), device folders ([`source::device`]), Google Takeout and Apple
//!   data-copy downloads ([`source::provider`], read in place from their zip parts), an
//!   in-memory backend for tests ([`source::memory`]), and Android phones over the adb
//!   server ([`source::android`]: contacts and calendars from the phone's providers, photos
//!   through its file service).
//! - [`destination`]: where a restore writes, behind one [`destination::Target`] trait
//!   (contract in its docs): CalDAV/CardDAV accounts, WebDAV photo folders, local folders.
//! - [`dav`]: the protocol both share: the HTTP client (reqwest with rustls, retries, the
//!   tower adapter for libdav), credential origins, streamed PROPFIND listings, resumable
//!   downloads and service discovery.
//! - [`vobject`]: byte-level splitting and inspection of vCard/iCalendar data; archived bytes
//!   are never rewritten.
//! - [`archive`]: the on-disk format (`docs/ARCHIVE_FORMAT.md`): atomic writer, reader for
//!   folders and zips, manifest and verification (damage as data: [`archive::verify::Damage`]),
//!   and what an earlier archive holds for incremental runs ([`archive::previous`]).
//! - [`job`]: plan, then execute: export (sources → archive, incremental against an earlier
//!   one) and restore (archive → destinations, with a restore report beside the archive).
//! - [`schedule`]: backup profiles, dated snapshots with retention, the OS scheduler
//!   (systemd, launchd, Task Scheduler), run status and notifications.
//! - [`model`]: the plain data every part shares (collections, items, warnings); [`ids`]: the
//!   newtypes for hrefs, UIDs, ETags and SHA-256 checksums (validated where they enter);
//!   [`error`]: typed errors with a kind each front turns into its own words.
//! - [`progress`]: the one progress interface and cancellation token all fronts share.
//! - [`browse`]: an archive read into plain data for showing (contacts, agenda, to-dos, photos).
//! - [`config`] and [`secrets`]: accounts and settings on disk; passwords in the OS keyring.
//!
//! The fronts, thin over the same jobs and progress events:
//! - [`cli`]: the command line (it never imports the window; `main.rs` opens one or the other).
//! - [`gui`]: the desktop window, and [`worker`]: the background runtime it hands jobs to
//!   (commands in, events out).
//!
//! - [`fuzzing`]: hostile-input entry points shared by the fuzz targets and property tests.
//!
//! Only [`gui`] imports egui; the engine never depends on a GUI toolkit.

pub mod archive;
pub mod browse;
pub mod cli;
pub mod config;
pub mod connect;
pub mod dav;
pub mod destination;
pub mod error;
pub mod fuzzing;
pub mod gui;
pub mod ids;
pub mod job;
pub mod model;
pub mod progress;
pub mod schedule;
pub mod secrets;
pub mod source;
pub mod vobject;
pub mod worker;

pub use error::{Error, ErrorKind, Result};
