//! The archive: layout and safe names, the manifest, the atomic writer, the reader (folder or
//! zip) and verification. The format is specified in `docs/ARCHIVE_FORMAT.md`.

pub mod commit;
pub mod layout;
pub mod manifest;
pub mod previous;
pub mod reader;
pub mod verify;
pub mod writer;

pub use manifest::Manifest;
pub use reader::ArchiveReader;
pub use verify::{VerifyReport, verify};
pub use writer::ArchiveWriter;
