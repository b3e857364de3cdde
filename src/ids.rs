//! Newtypes for the names servers and archives give things: hrefs, UIDs, ETags and SHA-256
//! checksums, so that one is never passed where another is meant.
//!
//! An [`Href`] and an [`Etag`] hold exactly what the server wrote (its percent-encoding, its
//! quotes), because they are sent back to it; compare hrefs with [`Href::key`]. A [`Sha256`]
//! is validated where it enters (64 hexadecimal digits), so shortening or comparing one
//! never meets anything else.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Reading one as text is always fine; what the type prevents is passing one kind
        // where another is meant, or a bare string where a server's exact name is needed.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<&$name> for String {
            fn from(name: &$name) -> Self {
                name.0.clone()
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> Self {
                name.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_newtype!(
    /// Where an item or collection lives at its source, exactly as the server wrote it (a URL
    /// path), or a path relative to a device folder.
    Href
);

text_newtype!(
    /// An entity tag as the server sent it, quotes and all; only ever sent back or compared.
    Etag
);

text_newtype!(
    /// The UID of a vCard or iCalendar object, as the object states it.
    Uid
);

impl Href {
    /// The href compared without regard to percent-encoding or a trailing slash, which servers
    /// apply inconsistently.
    pub fn key(&self) -> String {
        crate::model::href_key(&self.0)
    }
}

/// A SHA-256 checksum as archives write it: 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

/// Text that was meant to be a checksum and is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 checksum (64 hexadecimal digits): {0:?}")]
pub struct NotSha256(pub String);

impl Sha256 {
    /// The checksum of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_digest(&sha2::Sha256::digest(bytes))
    }

    /// A finished digest written as lowercase hex.
    pub fn from_digest(digest: &[u8]) -> Self {
        Self(hex(digest))
    }

    pub fn parse(text: &str) -> Result<Self, NotSha256> {
        Self::try_from(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first `digits` digits (all of them if fewer), for names and short labels; never
    /// splits a character because a checksum is ASCII.
    pub fn short(&self, digits: usize) -> &str {
        &self.0[..digits.min(self.0.len())]
    }
}

/// Whether `text` is a SHA-256 checksum as archives write it: 64 hexadecimal digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

impl TryFrom<String> for Sha256 {
    type Error = NotSha256;

    fn try_from(text: String) -> Result<Self, NotSha256> {
        if is_sha256_hex(&text) {
            Ok(Self(text))
        } else {
            Err(NotSha256(text))
        }
    }
}

impl From<Sha256> for String {
    fn from(sha: Sha256) -> Self {
        sha.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Sha256 {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Sha256 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Sha256 {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Sha256 {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{Href, Sha256};

    #[test]
    fn a_checksum_is_64_hex_digits_and_nothing_else() {
        let good = Sha256::of(b"abc");
        assert_eq!(
            good.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256::parse(good.as_str()).unwrap(), good);
        assert_eq!(good.short(8), "ba7816bf");
        assert_eq!(good.short(100), good.as_str());
        // 31 letters and an é: 33 bytes, not hex; once panicked a restore slicing at 32.
        let hostile = format!("{}é", "a".repeat(31));
        assert!(Sha256::parse(&hostile).is_err());
        assert!(Sha256::parse(&"0".repeat(63)).is_err());
        assert!(Sha256::parse(&"g".repeat(64)).is_err());
        let refused: Result<Sha256, _> = serde_json::from_str(&format!("{hostile:?}"));
        assert!(refused.is_err());
    }

    #[test]
    fn an_href_keeps_the_servers_encoding_and_compares_by_key() {
        let written = Href::from("/dav/Caf%C3%A9/");
        let plain = Href::from("/dav/Café");
        assert_eq!(written.as_str(), "/dav/Caf%C3%A9/");
        assert_ne!(written, plain);
        assert_eq!(written.key(), plain.key());
        assert_eq!(
            serde_json::to_string(&written).unwrap(),
            "\"/dav/Caf%C3%A9/\""
        );
    }
}
