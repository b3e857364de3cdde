//! Driving the real window in tests (egui_kittest): opening it with its own settings,
//! stepping frames until something shows, clicking and typing by label, and checking that
//! what it shows is in people's words. Included by the GUI test files with `#[path]`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable, by};
use lifeboat::gui::app::LifeboatApp;
use lifeboat::secrets::SecretStore;

pub type App<'a> = Harness<'a, LifeboatApp>;

/// The window as it opens, with its settings in `config_dir` and an in-memory keyring.
pub fn open_window(config_dir: &Path, secrets: Arc<dyn SecretStore>) -> App<'static> {
    let config_path = config_dir.join(lifeboat::config::CONFIG_FILE);
    Harness::builder()
        .with_size(egui::vec2(1100.0, 900.0))
        .build_eframe(move |cc| {
            LifeboatApp::new(
                &cc.egui_ctx,
                Some(config_path),
                secrets as Arc<dyn SecretStore>,
            )
            .expect("the app starts")
        })
}

/// Steps frames until `done` holds; the worker's jobs run on their own threads meanwhile.
pub fn wait_until(harness: &mut App<'_>, what: &str, done: impl Fn(&App<'_>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn wait_for_text(harness: &mut App<'_>, text: &str) {
    let text_owned = text.to_owned();
    wait_until(harness, text, move |h| {
        h.query_by_label_contains(&text_owned).is_some()
    });
}

/// Clicks the one widget whose label is exactly `label`, then draws a frame.
pub fn click(harness: &mut App<'_>, label: &str) {
    harness.get_by_label(label).click();
    harness.step();
    harness.step();
}

/// Replaces the text of the field labelled `label`.
pub fn fill(harness: &mut App<'_>, label: &str, value: &str) {
    harness.get_by_label(label).focus();
    harness.step();
    harness.key_combination_modifiers(egui::Modifiers::COMMAND, &[egui::Key::A]);
    harness.step();
    harness.get_by_label(label).type_text(value);
    harness.step();
    harness.step();
    let shown = harness.get_by_label(label).value().unwrap_or_default();
    if label.starts_with("Password") {
        // Masked on screen and for screen readers alike.
        assert_eq!(shown, "•".repeat(value.chars().count()), "field {label}");
    } else {
        assert_eq!(shown, value, "field {label}");
    }
}

/// Everything the window shows now is in people's words: no command-line flag, no file name
/// of the archive format, no warning code.
pub fn assert_peoples_words(harness: &App<'_>) {
    const CODES: [&str; 12] = [
        "account-failed",
        "sudden-drop",
        "unparseable",
        "missing-uid",
        "duplicate-uid",
        "damaged-file",
        "not-restored",
        "original-kept",
        "line-ends-changed",
        "outside-folder",
        "not-asked",
        "conflict-skipped",
    ];
    let bad = |text: &str| {
        text.contains("--")
            || text.contains("manifest.json")
            || text.contains("corrupt")
            || CODES.iter().any(|c| text.contains(c))
    };
    let found: Vec<String> = harness
        .query_all(by().include_labels().predicate(move |node| {
            node.label().is_some_and(|l| bad(&l)) || node.value().is_some_and(|v| bad(&v))
        }))
        .map(|node| {
            format!(
                "{:?} / {:?}",
                node.accesskit_node().label(),
                node.accesskit_node().value()
            )
        })
        .collect();
    assert!(found.is_empty(), "engineer's words on screen: {found:?}");
}
