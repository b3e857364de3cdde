//! The desktop window (eframe/egui): a thin front over the same jobs as the CLI, driven
//! through [`crate::worker`]. `command` lists every user intent, `state` holds plain data,
//! `app` drains events and runs commands, `screens` draw.

pub mod app;
pub mod command;
pub mod fonts;
pub mod screens;
pub mod state;
pub mod words;

use std::path::PathBuf;

use crate::config::{CONFIG_FILE, Config};

/// What the window shows first (from `lifeboat gui [ARCHIVE] [--screen S]`).
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// Paths handled as if they had been dropped onto the window: an archive to open, or a
    /// provider's export to offer for import.
    pub paths: Vec<PathBuf>,
    pub screen: Option<command::Screen>,
}

/// Opens the window and runs until it is closed.
pub fn run(start: Start) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("Lifeboat")
            .with_app_id("org.lifeboat.Lifeboat")
            .with_inner_size([960.0, 680.0])
            .with_min_inner_size([560.0, 400.0])
            .with_drag_and_drop(true)
            .with_icon(window_icon()),
        ..eframe::NativeOptions::default()
    };
    eframe::run_native(
        "Lifeboat",
        options,
        Box::new(|cc| {
            let config_path = Config::dir().map(|dir| dir.join(CONFIG_FILE));
            let secrets = crate::secrets::open_default();
            let mut app = app::LifeboatApp::new(&cc.egui_ctx, config_path, secrets)?;
            app.start(start);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}

/// The app icon for the window's title bar and task switcher (made from assets/lifeboat.svg).
fn window_icon() -> eframe::egui::IconData {
    const PNG: &[u8] = include_bytes!("../../assets/icons/lifeboat-256.png");
    match image::load_from_memory(PNG) {
        Ok(image) => {
            let rgba = image.to_rgba8();
            eframe::egui::IconData {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            }
        }
        // The icon is built in; a decoding failure only loses the icon, never the window.
        Err(_) => eframe::egui::IconData::default(),
    }
}
