//! An Android phone's photos and videos, copied through its file service one by one, each
//! with its time; a phone unplugged on the way is waited for and the copy goes on.

use crate::error::{ErrorKind, Result};
use crate::ids::{Etag, Href};
use crate::model::{ItemAbout, ItemRef, Warning};
use crate::progress::CancelToken;
use crate::source::ItemSink;

use super::replug;
use super::source::{AndroidSource, PhoneData, photo_href};
use super::sync::{self, RemoteFile};

impl AndroidSource {
    /// Copies one photo or video with its time; one the phone no longer has is reported.
    /// A phone unplugged before or during the copy is waited for ([`replug`]); the person
    /// watching is told, and the summary says it happened.
    async fn fetch_photo(
        &self,
        file: &RemoteFile,
        href: &Href,
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let (notify, mut notices) = tokio::sync::mpsc::unbounded_channel();
        let resume = sync::Resume {
            wait: self.replug_wait,
            cancel: cancel.clone(),
            notify,
        };
        let tell = replug::telling(sink, href);
        let serial = &self.phone.serial;
        // Gone between two files: the same wait as in the middle of one.
        let opened =
            replug::again_when_back(&self.server, serial, self.replug_wait, cancel, tell, || {
                sync::recv(&self.server, serial, file, &self.sessions, resume.clone())
            })
            .await;
        let body = match opened {
            Ok(body) => body,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                sink.warn(Warning::new("unavailable", e.to_string()).at_href(href));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let modified = chrono::DateTime::from_timestamp(file.modified, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        sink.describe(
            href,
            ItemAbout {
                modified,
                ..ItemAbout::default()
            },
        );
        let etag = Etag::new(format!("{}-{}", file.size, file.modified));
        drop(resume);
        let relay = async {
            while let Some(notice) = notices.recv().await {
                tell(&notice);
            }
        };
        let (copied, ()) = futures_util::future::join(
            sink.stream(href.clone(), Some(etag), cancel.guard(body)),
            relay,
        )
        .await;
        copied
    }

    pub(super) async fn fetch_photos(
        &self,
        data: &PhoneData,
        items: &[ItemRef],
        sink: &dyn ItemSink,
        cancel: &CancelToken,
    ) -> Result<()> {
        let by_href: std::collections::HashMap<String, &RemoteFile> =
            data.photos.iter().map(|p| (photo_href(p), p)).collect();
        for item in items {
            cancel.check()?;
            let Some(file) = by_href.get(item.href.as_str()) else {
                sink.warn(
                    Warning::new("unavailable", "this file is no longer on the phone")
                        .at_href(&item.href),
                );
                continue;
            };
            self.fetch_photo(file, &item.href, sink, cancel).await?;
        }
        Ok(())
    }
}
