//! The one progress interface every job reports through, and the token that cancels a job.
//! The CLI draws these events as terminal bars; the GUI will drain them from a channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::model::{CollectionKind, Warning};

/// What a running job tells its front end.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// A phase started (connecting, listing, fetching, writing).
    Phase(String),
    /// The plan is known: how many items will be fetched in all, and their bytes when the
    /// size of every one is known (photos, restores), so progress can follow bytes.
    Planned {
        collections: usize,
        items: u64,
        bytes: Option<u64>,
    },
    /// A collection's items are being fetched.
    CollectionStarted {
        name: String,
        kind: CollectionKind,
        items: u64,
    },
    /// Items arrived (count and bytes since the last event).
    Progress { items: u64, bytes: u64 },
    /// Bytes of downloads still under way, as a change since the last event: positive as
    /// chunks arrive, and taken back (negative) when the item is done — its bytes then come
    /// in [`JobEvent::Progress`] — or abandoned, so one large photo moves the bar smoothly
    /// and a broken download never counts twice.
    Receiving { bytes: i64 },
    /// Something the user must know that did not stop the job.
    Warning(Warning),
}

/// Receives job events; implementations must be cheap and never block.
pub trait Progress: Send + Sync {
    fn event(&self, event: JobEvent);
}

/// Reports the bytes of one download as they arrive ([`JobEvent::Receiving`]), in steps
/// of at least [`Receiving::STEP`] so a fast stream does not flood the front, and takes
/// them all back when dropped: on success the finished item's [`JobEvent::Progress`]
/// counts them, on failure or cancel nobody does.
pub struct Receiving<'a> {
    progress: &'a dyn Progress,
    unreported: u64,
    reported: u64,
}

impl std::fmt::Debug for Receiving<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiving")
            .field("unreported", &self.unreported)
            .field("reported", &self.reported)
            .finish_non_exhaustive()
    }
}

impl<'a> Receiving<'a> {
    pub const STEP: u64 = 256 * 1024;

    pub fn new(progress: &'a dyn Progress) -> Self {
        Self {
            progress,
            unreported: 0,
            reported: 0,
        }
    }

    pub fn add(&mut self, bytes: usize) {
        self.unreported += bytes as u64;
        if self.unreported >= Self::STEP {
            self.progress.event(JobEvent::Receiving {
                bytes: i64::try_from(self.unreported).unwrap_or(i64::MAX),
            });
            self.reported += std::mem::take(&mut self.unreported);
        }
    }
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        if self.reported > 0 {
            self.progress.event(JobEvent::Receiving {
                bytes: -i64::try_from(self.reported).unwrap_or(i64::MAX),
            });
        }
    }
}

/// Progress that goes nowhere (tests, scripts that only want the result).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: JobEvent) {}
}

const CANCELLED: &str = "cancelled";

/// Cooperative cancellation: jobs check it between requests and items.
#[derive(Debug, Default, Clone)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Resolves once cancelled (checked every 100 ms): for racing a wait that may last.
    pub async fn cancelled(&self) {
        while !self.is_cancelled() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// `body`, ending with [`CancelToken::is_cancel`]'s error within 100 ms of a cancel, even
    /// while the server sends nothing: a cancelled download stops at once, not at its end.
    pub fn guard(&self, body: crate::source::ByteStream) -> crate::source::ByteStream {
        use futures_util::StreamExt as _;
        let stream = futures_util::stream::unfold(
            (body, self.clone(), false),
            |(mut body, cancel, stopped)| async move {
                if stopped {
                    return None;
                }
                tokio::select! {
                    chunk = body.next() => chunk.map(|chunk| (chunk, (body, cancel, false))),
                    () = cancel.cancelled() => Some((
                        Err(std::io::Error::new(std::io::ErrorKind::Interrupted, CANCELLED)),
                        (body, cancel, true),
                    )),
                }
            },
        );
        stream.boxed()
    }

    /// Whether a stream error is the one [`CancelToken::guard`] ends a cancelled body with.
    pub fn is_cancel(error: &std::io::Error) -> bool {
        error.kind() == std::io::ErrorKind::Interrupted && error.to_string() == CANCELLED
    }

    /// Returns `Err(Cancelled)` once cancelled, for `?` between steps.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::cancelled())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Default)]
    struct Events(std::sync::Mutex<Vec<JobEvent>>);

    impl Progress for Events {
        fn event(&self, event: JobEvent) {
            self.0.lock().unwrap().push(event);
        }
    }

    fn receiving(events: &Events) -> Vec<i64> {
        let events = events.0.lock().unwrap();
        events
            .iter()
            .filter_map(|e| match e {
                JobEvent::Receiving { bytes } => Some(*bytes),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_download_reports_its_bytes_in_steps_and_takes_them_back_when_done() {
        let events = Events::default();
        let step = usize::try_from(Receiving::STEP).unwrap();
        {
            let mut download = Receiving::new(&events);
            download.add(step / 2);
            assert!(receiving(&events).is_empty(), "half a step is not reported");
            download.add(step / 2);
            download.add(step * 3);
            download.add(10);
        }
        let step = i64::try_from(step).unwrap();
        // The 10 bytes never reported are not taken back either.
        assert_eq!(receiving(&events), [step, 3 * step, -4 * step]);
        assert_eq!(receiving(&events).iter().sum::<i64>(), 0);

        let small = Events::default();
        Receiving::new(&small).add(10);
        assert!(receiving(&small).is_empty());
    }
}
