//! Job events drawn as a terminal progress bar, with the first warnings printed as they happen.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::progress::{JobEvent, Progress};

/// Draws job events as a progress bar on stderr (hidden when stderr is not a terminal).
pub(super) struct TerminalProgress {
    pub(super) bar: indicatif::ProgressBar,
    /// What a collection's items are undergoing ("fetching", "uploading").
    pub(super) verb: &'static str,
    pub(super) warnings_shown: AtomicUsize,
}

/// Warnings printed as they happen; the rest are counted in the summary and the manifest.
pub(super) const LIVE_WARNINGS: usize = 20;

impl TerminalProgress {
    pub(super) fn new(verb: &'static str) -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} items, {binary_bytes} ({eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Self {
            bar,
            verb,
            warnings_shown: AtomicUsize::new(0),
        }
    }
}

impl Progress for TerminalProgress {
    fn event(&self, event: JobEvent) {
        match event {
            JobEvent::Phase(text) => self.bar.set_message(text),
            JobEvent::Planned { items, .. } => self.bar.set_length(items),
            JobEvent::CollectionStarted { name, .. } => {
                self.bar.set_message(format!("{} {name}", self.verb))
            }
            JobEvent::Progress { items, .. } => self.bar.inc(items),
            // The terminal bar counts items; partial bytes would only make it jitter.
            JobEvent::Receiving { .. } => {}
            JobEvent::Warning(warning) => {
                if self.warnings_shown.fetch_add(1, Ordering::Relaxed) < LIVE_WARNINGS {
                    let place = warning.path.or(warning.href).unwrap_or_default();
                    self.bar
                        .suspend(|| eprintln!("warning: {}: {place}", warning.message));
                }
            }
        }
    }
}
