//! Plain data shared by sources, archive and jobs: collections, item references, kinds, warnings.

use serde::{Deserialize, Serialize};

use crate::ids::{Etag, Href};

/// What a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectionKind {
    /// An address book: one vCard per item.
    Contacts,
    /// A calendar or task list: one iCalendar object per item.
    Calendar,
    /// A photo folder: one file per item, original bytes.
    Photos,
}

impl CollectionKind {
    /// The folder of the archive that holds collections of this kind.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Calendar => "calendars",
            Self::Photos => "photos",
        }
    }

    /// The file extension of one item, for vCard and iCalendar collections.
    pub fn item_extension(self) -> Option<&'static str> {
        match self {
            Self::Contacts => Some("vcf"),
            Self::Calendar => Some("ics"),
            Self::Photos => None,
        }
    }
}

/// What one item is, as far as reading it tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Contact,
    Event,
    Todo,
    Journal,
    Photo,
    /// A file of a photo folder that is not an image or video (kept all the same).
    File,
    /// Something we could not classify; kept verbatim.
    Unknown,
}

impl ItemKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Contact => "contacts",
            Self::Event => "events",
            Self::Todo => "to-dos",
            Self::Journal => "journal entries",
            Self::Photo => "photos",
            Self::File => "other files",
            Self::Unknown => "unrecognised items",
        }
    }
}

/// A collection as a source describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub kind: CollectionKind,
    /// Where the collection lives at its source (a URL path, or a folder path for devices).
    pub href: Href,
    /// A short name for folders and messages (the last part of the href).
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    /// iCalendar components the collection accepts (VEVENT, VTODO, VJOURNAL).
    #[serde(default)]
    pub components: Vec<String>,
    #[serde(default)]
    pub sync_token: Option<String>,
}

/// One item as listed before its body is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRef {
    /// Where the item lives at its source: a URL path, or a path relative to the device folder.
    pub href: Href,
    #[serde(default)]
    pub etag: Option<Etag>,
    /// Size in bytes when the listing tells it.
    #[serde(default)]
    pub size: Option<u64>,
}

/// What a source knows about an item besides its bytes: a photo export's sidecar facts.
/// Recorded in the manifest; every field is optional there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemAbout {
    /// When the photo or video was taken, RFC 3339 (from a sidecar or the provider's CSV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
    /// When the file was last changed at its source, RFC 3339 (a phone's photo); the archived
    /// file carries the same modification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// The albums that hold it at its source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub albums: Vec<String>,
    /// Source href of the metadata file that describes it (a Takeout sidecar), kept under
    /// `metadata/` in the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub described_by: Option<String>,
    /// Other source hrefs that held the very same bytes; archived once, under `path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<String>,
}

impl ItemAbout {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Something that did not stop the job but that the user must know about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// A stable, machine-readable code (`unparseable`, `missing-uid`, `duplicate-uid`, ...).
    pub code: String,
    pub message: String,
    /// The archived file the warning is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The source href the warning is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

impl Warning {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            path: None,
            href: None,
        }
    }

    pub fn at_href(mut self, href: impl Into<String>) -> Self {
        self.href = Some(href.into());
        self
    }

    pub fn at_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

/// Hrefs compared without regard to percent-encoding or a trailing slash, which servers apply
/// inconsistently.
pub fn href_key(href: &str) -> String {
    percent_encoding::percent_decode_str(href)
        .decode_utf8_lossy()
        .trim_end_matches('/')
        .to_owned()
}
