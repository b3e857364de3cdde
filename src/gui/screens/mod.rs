//! The window's layout — navigation, notices, the running job — and widgets shared by the
//! screens. Each screen is a file; they read the state and send commands.

pub mod accounts;
pub mod backup;
pub mod browse;
pub mod phones;
pub mod restore;
pub mod schedules;

use eframe::egui;

use super::app::LifeboatApp;
use super::command::{Screen, UiCommand};
use super::state::JobProgress;
use crate::worker::Failure;

/// A button that sends `command` when clicked, with the command's label and tooltip.
pub fn command_button(
    ui: &mut egui::Ui,
    commands: &mut Vec<UiCommand>,
    command: UiCommand,
) -> egui::Response {
    let response = ui.button(command.label()).on_hover_text(command.tooltip());
    if response.clicked() {
        commands.push(command);
    }
    response
}

/// The same, greyed out unless `enabled`.
pub fn command_button_enabled(
    ui: &mut egui::Ui,
    commands: &mut Vec<UiCommand>,
    command: UiCommand,
    enabled: bool,
) -> egui::Response {
    ui.add_enabled_ui(enabled, |ui| command_button(ui, commands, command))
        .inner
}

/// An error as a sentence, with the technical chain one click away.
pub fn failure_ui(ui: &mut egui::Ui, failure: &Failure) {
    ui.colored_label(ui.visuals().error_fg_color, &failure.message);
    ui.collapsing("Details", |ui| {
        ui.label(egui::RichText::new(&failure.details).monospace());
    });
}

/// A text field with a visible label that screen readers announce with the field.
pub fn labelled_text(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    password: bool,
) -> egui::Response {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        ui.add(
            egui::TextEdit::singleline(value)
                .password(password)
                .desired_width(320.0),
        )
        .labelled_by(label.id)
    })
    .inner
}

/// `1.5 MiB`: the same units the command line prints.
pub fn human_bytes(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}

fn job_ui(ui: &mut egui::Ui, job: &JobProgress, commands: &mut Vec<UiCommand>) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.strong(&job.title);
        ui.label(&job.phase);
    });
    if job.items_total > 0 {
        ui.add(egui::ProgressBar::new(job.fraction()).show_percentage());
        let mut line = format!(
            "{} of {} items · {}",
            crate::browse::thousands(job.items_done as usize),
            crate::browse::thousands(job.items_total as usize),
            human_bytes(job.bytes)
        );
        if job.collections_total > 0 && !job.collection.is_empty() {
            line.push_str(&format!(
                " · collection {} of {}: {}",
                job.collections_started.min(job.collections_total),
                job.collections_total,
                job.collection
            ));
        }
        if let Some(left) = job.time_left() {
            line.push_str(&format!(" · about {} s left", left.as_secs().max(1)));
        }
        ui.label(line);
    }
    ui.horizontal(|ui| {
        if job.cancelling {
            ui.label("Cancelling…");
        } else {
            command_button(ui, commands, UiCommand::CancelJob);
        }
    });
}

/// Draws the whole window.
pub fn frame_ui(app: &mut LifeboatApp, ui: &mut egui::Ui) {
    egui::Panel::top("navigation").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Lifeboat");
            ui.separator();
            for screen in Screen::ALL {
                let selected = app.state.screen == screen;
                if ui.selectable_label(selected, screen.label()).clicked() {
                    app.commands.push(UiCommand::Show(screen));
                }
            }
        });
        if let Some(notice) = app.state.notice.clone() {
            ui.horizontal(|ui| {
                ui.label(notice);
                if ui.small_button("Dismiss").clicked() {
                    app.state.notice = None;
                }
            });
        }
    });
    if let Some(job) = &app.state.job {
        let job = job.clone();
        egui::Panel::bottom("job").show(ui, |ui| job_ui(ui, &job, &mut app.commands));
    }
    egui::CentralPanel::default().show(ui, |ui| match app.state.screen {
        Screen::Accounts => accounts::accounts_ui(ui, &mut app.state, &mut app.commands),
        Screen::Backup => backup::backup_ui(ui, &mut app.state, &mut app.commands),
        Screen::Restore => restore::restore_ui(ui, &mut app.state, &mut app.commands),
        Screen::Schedules => schedules::schedules_ui(ui, &mut app.state, &mut app.commands),
        Screen::Browse => {
            browse::browse_ui(ui, &mut app.state, &mut app.commands, &mut app.textures)
        }
    });
}

/// The drop zone that lights up while a file is dragged over the window.
pub fn drop_overlay_ui(ctx: &egui::Context) {
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::unique("drop_zone"),
    ));
    let rect = ctx.content_rect();
    let visuals = ctx.global_style().visuals.clone();
    painter.rect_filled(rect, 0.0, visuals.selection.bg_fill.gamma_multiply(0.6));
    painter.rect_stroke(
        rect.shrink(12.0),
        12.0,
        egui::Stroke::new(3.0, visuals.strong_text_color()),
        egui::StrokeKind::Inside,
    );
    painter.text(
        rect.center(),
        egui::Align2::CENTER_CENTER,
        "Drop a Lifeboat archive to restore it,\nor a Google Takeout or Apple export to import it",
        egui::FontId::proportional(24.0),
        visuals.strong_text_color(),
    );
}

/// A question before something is removed, with "Yes, remove" and "Keep it".
pub fn confirm_ui(
    ui: &mut egui::Ui,
    question: &str,
    removal: crate::gui::command::Removal,
    commands: &mut Vec<UiCommand>,
) {
    ui.colored_label(ui.visuals().warn_fg_color, question);
    ui.horizontal(|ui| {
        command_button(ui, commands, UiCommand::ConfirmRemoval(removal));
        command_button(ui, commands, UiCommand::CancelRemoval);
    });
}
