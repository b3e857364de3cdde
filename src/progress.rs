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
    /// Something the user must know that did not stop the job.
    Warning(Warning),
}

/// Receives job events; implementations must be cheap and never block.
pub trait Progress: Send + Sync {
    fn event(&self, event: JobEvent);
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
