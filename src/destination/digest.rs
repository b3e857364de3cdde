//! Checksums of what a target serves, read as streams: how photos are matched and read back
//! without holding their bytes.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use futures_util::TryStreamExt;
use sha2::Digest;

use crate::destination::StoredItem;
use crate::error::{ErrorKind, Result};
use crate::ids::{Etag, Href, Sha256};
use crate::model::Warning;
use crate::source::{ByteStream, ItemSink};

/// A sink that keeps each delivered item's checksum, never its bytes.
#[derive(Debug, Default)]
pub(crate) struct DigestSink {
    found: Mutex<Vec<StoredItem>>,
}

impl DigestSink {
    pub(crate) fn take(&self) -> Vec<StoredItem> {
        std::mem::take(
            &mut *self
                .found
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn keep(&self, href: Href, etag: Option<Etag>, sha256: Sha256) {
        self.found
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(StoredItem {
                href,
                etag,
                bytes: Vec::new(),
                sha256: Some(sha256),
            });
    }
}

#[async_trait::async_trait]
impl ItemSink for DigestSink {
    fn splits_resources(&self) -> bool {
        false
    }

    async fn item(&self, href: Href, etag: Option<Etag>, bytes: Vec<u8>) -> Result<()> {
        self.keep(href, etag, Sha256::of(&bytes));
        Ok(())
    }

    async fn stream(&self, href: Href, etag: Option<Etag>, body: ByteStream) -> Result<()> {
        let hasher = body
            .try_fold(sha2::Sha256::new(), |mut hasher, chunk| async move {
                hasher.update(&chunk);
                Ok(hasher)
            })
            .await
            .map_err(|e| crate::Error::with_source(ErrorKind::Network, "stream failed", e))?;
        self.keep(href, etag, Sha256::from_digest(&hasher.finalize()));
        Ok(())
    }

    async fn original(&self, _href: &str, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }

    async fn original_file(&self, _href: &str, _path: &std::path::Path) -> Result<()> {
        Ok(())
    }

    // Missing items are left out of the answer, as `Target::fetch` does.
    fn warn(&self, _warning: Warning) {}
}

/// SHA-256 (hex) of a file, read in pieces.
pub(crate) fn sha256_of_file(path: &Path) -> std::io::Result<Sha256> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(Sha256::from_digest(&hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_streamed_item_keeps_the_checksum_of_its_bytes_and_not_the_bytes() {
        let whole: Vec<u8> = (0..=255u8).cycle().take(700_000).collect();
        let chunks: Vec<std::io::Result<bytes::Bytes>> = whole
            .chunks(65_536)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let sink = DigestSink::default();
        let body: ByteStream = Box::pin(futures_util::stream::iter(chunks));
        sink.stream("/p/a.jpg".into(), Some("\"1\"".into()), body)
            .await
            .unwrap();
        sink.item("/p/b.jpg".into(), None, whole.clone())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.jpg");
        std::fs::write(&file, &whole).unwrap();
        let expected = Sha256::of(&whole);
        let found = sink.take();
        assert_eq!(found.len(), 2);
        for item in &found {
            assert_eq!(
                item.sha256.as_deref(),
                Some(expected.as_str()),
                "{}",
                item.href
            );
            assert!(item.bytes.is_empty());
        }
        assert_eq!(sha256_of_file(&file).unwrap(), expected);
    }
}
