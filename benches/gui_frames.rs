//! Benchmark (not a test): how long the window takes to lay out a frame while a person
//! scrolls and searches an archive of 50,000 contacts, against the welcome screen's frame
//! measured in the same run. CPU time of egui's layout and tessellation; the GPU's share is
//! not included. `cargo bench --bench gui_frames`; `CONTACTS=N` changes the size.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lifeboat::gui::Start;
use lifeboat::gui::app::LifeboatApp;
use lifeboat::gui::command::Screen;
use lifeboat::progress::{CancelToken, NoProgress};
use lifeboat::secrets::MemorySecrets;
use lifeboat::source::Source;
use lifeboat::source::device::DeviceSource;

const FIRST_NAMES: [&str; 8] = [
    "Ann", "Björn", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana",
];
const FAMILY_NAMES: [&str; 6] = ["Example", "Müller", "O'Brien", "Nguyen", "Smith", "Åberg"];

/// A device folder holding one .vcf of `count` contacts, exported into an archive folder.
fn make_archive(root: &std::path::Path, count: usize) -> std::path::PathBuf {
    let device = root.join("phone");
    std::fs::create_dir_all(&device).unwrap();
    let mut vcf = String::with_capacity(count * 200);
    for i in 0..count {
        let given = FIRST_NAMES[i % FIRST_NAMES.len()];
        let family = FAMILY_NAMES[(i / FIRST_NAMES.len()) % FAMILY_NAMES.len()];
        write!(
            vcf,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-{i}\r\nFN:{given} {family} {i}\r\n\
             N:{family};{given};;;\r\nEMAIL;TYPE=home:c{i}@example.org\r\n\
             TEL;TYPE=cell:+1 555 {i:07}\r\nNOTE:contact number {i}\r\nEND:VCARD\r\n"
        )
        .unwrap();
    }
    std::fs::write(device.join("contacts.vcf"), vcf).unwrap();
    let out = root.join("archive");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sources: Vec<Box<dyn Source>> = vec![Box::new(DeviceSource::new(&device).unwrap())];
        let cancel = CancelToken::default();
        let plan = lifeboat::job::export::plan(&sources, &NoProgress, &cancel)
            .await
            .unwrap();
        lifeboat::job::export::execute(&sources, &plan, &out, Arc::new(NoProgress), &cancel)
            .await
            .unwrap()
    });
    out
}

fn window(size: egui::Vec2) -> Harness<'static, LifeboatApp> {
    let config = tempfile::tempdir().unwrap().keep().join("config.json");
    Harness::builder().with_size(size).build_eframe(move |cc| {
        LifeboatApp::new(
            &cc.egui_ctx,
            Some(config),
            Arc::new(MemorySecrets::default()),
        )
        .unwrap()
    })
}

/// Times `frames` frames, each after `before_frame` queued its input.
fn time_frames(
    harness: &mut Harness<'_, LifeboatApp>,
    frames: usize,
    mut before_frame: impl FnMut(&mut Harness<'_, LifeboatApp>, usize),
) -> Vec<Duration> {
    (0..frames)
        .map(|i| {
            before_frame(harness, i);
            let started = Instant::now();
            harness.step();
            started.elapsed()
        })
        .collect()
}

fn report(name: &str, times: &mut [Duration], reference_median: Option<Duration>) -> Duration {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = at(0.5);
    let ratio = reference_median
        .map(|r| format!("  median {:.1}× the welcome screen's", ms(median) / ms(r)))
        .unwrap_or_default();
    println!(
        "{name:<34} frames {:>4}  median {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms{ratio}",
        times.len(),
        ms(median),
        ms(at(0.99)),
        ms(at(1.0)),
    );
    median
}

fn main() {
    // `cargo test --all-targets` runs benches too, without `--bench`: only build-check there.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("gui_frames: a benchmark; run it with `cargo bench --bench gui_frames`");
        return;
    }
    let count: usize = std::env::var("CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let root = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let archive = make_archive(root.path(), count);
    println!(
        "made an archive of {count} contacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let size = egui::vec2(1100.0, 800.0);
    // Reference: the welcome screen, the cheapest frame the window draws.
    let mut welcome = window(size);
    time_frames(&mut welcome, 20, |_, _| {});
    let mut welcome_times = time_frames(&mut welcome, 200, |_, _| {});
    let reference = report("welcome screen", &mut welcome_times, None);

    let mut harness = window(size);
    let opened = Instant::now();
    harness.state_mut().start(Start {
        paths: vec![archive],
        screen: Some(Screen::Browse),
    });
    let label = format!("{count} of {count} contacts");
    let mut slowest_while_loading = Duration::ZERO;
    while harness.query_by_label_contains(&label).is_none() {
        let frame = Instant::now();
        harness.step();
        slowest_while_loading = slowest_while_loading.max(frame.elapsed());
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            opened.elapsed() < Duration::from_secs(600),
            "the archive never opened"
        );
    }
    println!(
        "opened and verified the archive in {:.2} s in the background; slowest frame meanwhile {:.2} ms",
        opened.elapsed().as_secs_f64(),
        slowest_while_loading.as_secs_f64() * 1000.0
    );
    let list = harness.get_by_label_contains(&label).rect().center() + egui::vec2(0.0, 200.0);
    harness.hover_at(list);
    time_frames(&mut harness, 20, |_, _| {});

    let wheel = |delta: f32| egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: egui::vec2(0.0, delta),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    };
    let mut scrolling = time_frames(&mut harness, 600, |h, _| h.event(wheel(-400.0)));
    report("scrolling 50k contacts", &mut scrolling, Some(reference));

    // A jump to the end (dragging the scroll bar): the list lays out only the rows in view.
    let mut jumps = time_frames(&mut harness, 200, |h, i| {
        let delta = if i % 2 == 0 { -1.0e7 } else { 1.0e7 };
        h.event(wheel(delta));
    });
    report("jumping between both ends", &mut jumps, Some(reference));

    // Typing a search: each keystroke filters every contact once.
    harness.get_by_label("Search contacts").focus();
    harness.step();
    let query = "example 4";
    let mut typing = time_frames(&mut harness, query.len(), |h, i| {
        h.event(egui::Event::Text(query[i..=i].to_owned()));
    });
    report(
        "typing a search (per keystroke)",
        &mut typing,
        Some(reference),
    );
    let found = harness.state().state.browse.matches.len();
    println!("after typing {query:?}: {found} of {count} contacts match");
    assert!(found > 0 && found < count, "the search did not filter");
}
