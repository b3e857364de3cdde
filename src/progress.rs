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
    /// The plan is known: how many items will be fetched in all.
    Planned { collections: usize, items: u64 },
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

    /// Returns `Err(Cancelled)` once cancelled, for `?` between steps.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_cancelled() {
            Err(crate::Error::cancelled())
        } else {
            Ok(())
        }
    }
}
