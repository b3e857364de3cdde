//! The restore screen: drop or pick an archive, see what it holds, choose an account and a
//! conflict policy, see the plan, then restore and read the read-back report.

use eframe::egui;

use super::{command_button, command_button_enabled, failure_ui};
use crate::browse::count_noun;
use crate::gui::command::{Screen, UiCommand};
use crate::gui::state::State;
use crate::job::restore::ConflictPolicy;

pub fn restore_ui(ui: &mut egui::Ui, state: &mut State, commands: &mut Vec<UiCommand>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Restore");
        let Some(path) = state.archive.path.clone() else {
            drop_zone_ui(ui, commands);
            recent_ui(ui, state, commands);
            return;
        };
        ui.horizontal(|ui| {
            ui.label(format!("Archive: {}", path.display()));
            command_button_enabled(ui, commands, UiCommand::CloseArchive, !state.busy());
        });
        let holds_photos;
        match &state.archive.contents {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading and checking the archive…");
                });
                return;
            }
            Some(Err(failure)) => {
                failure_ui(ui, failure);
                return;
            }
            Some(Ok(contents)) => {
                holds_photos = contents
                    .collections
                    .iter()
                    .any(|c| c.kind == crate::model::CollectionKind::Photos);
                ui.label(format!(
                    "Made {} · {}",
                    crate::gui::words::moment(&contents.created),
                    contents.verification.summary
                ));
                for collection in &contents.collections {
                    ui.label(format!(
                        "  • {} — {}",
                        collection.label,
                        count_noun(collection.items, "item")
                    ));
                }
                command_button(ui, commands, UiCommand::BrowseArchive);
            }
        }
        ui.separator();
        if state.config.accounts.is_empty() {
            ui.label("Add the account to restore into first.");
            command_button(ui, commands, UiCommand::Show(Screen::Accounts));
            return;
        }
        let chosen = state
            .restore
            .target
            .as_deref()
            .and_then(|id| state.account(id))
            .map_or_else(|| "Choose an account".to_owned(), |a| a.name.clone());
        let before = (
            state.restore.target.clone(),
            state.restore.photo_target.clone(),
            state.restore.on_conflict,
        );
        ui.horizontal(|ui| {
            let label = ui.label("Restore into");
            egui::ComboBox::from_id_salt("restore_target")
                .selected_text(chosen)
                .show_ui(ui, |ui| {
                    // A phone is read, not written: restore into the account it syncs with.
                    for account in state
                        .config
                        .accounts
                        .iter()
                        .filter(|a| a.kind() != crate::config::AccountKind::Android)
                    {
                        ui.selectable_value(
                            &mut state.restore.target,
                            Some(account.id.clone()),
                            &account.name,
                        );
                    }
                })
                .response
                .labelled_by(label.id);
        });
        if holds_photos {
            photo_place_ui(ui, state);
        }
        ui.label("When an item already exists there with other content:");
        ui.radio_value(
            &mut state.restore.on_conflict,
            ConflictPolicy::Skip,
            "Keep what is there",
        );
        ui.radio_value(
            &mut state.restore.on_conflict,
            ConflictPolicy::Overwrite,
            "Replace it with the archived version",
        );
        ui.radio_value(
            &mut state.restore.on_conflict,
            ConflictPolicy::KeepBoth,
            "Keep both",
        );
        if before
            != (
                state.restore.target.clone(),
                state.restore.photo_target.clone(),
                state.restore.on_conflict,
            )
        {
            state.restore.plan = None;
            state.restore.summary = None;
        }
        let ready = state.restore.target.is_some() && !state.busy();
        command_button_enabled(ui, commands, UiCommand::ShowRestorePlan, ready);
        plan_ui(ui, state, commands);
        summary_ui(ui, state);
    });
}

/// Where the archive's photos go: a photo folder or a folder account, or nowhere. The first
/// photo folder account is chosen unless the user said no.
fn photo_place_ui(ui: &mut egui::Ui, state: &mut State) {
    use crate::config::AccountKind;
    let into_folder = state
        .restore
        .target
        .as_deref()
        .and_then(|id| state.account(id))
        .is_some_and(|a| a.kind() == AccountKind::Folder);
    if into_folder {
        // A folder takes every kind: the photos go there with the rest.
        ui.label("Photos go into the same folder.");
        state.restore.photo_target = None;
        return;
    }
    let places: Vec<(String, String, bool)> = state
        .config
        .accounts
        .iter()
        .filter(|a| matches!(a.kind(), AccountKind::Photos | AccountKind::Folder))
        .map(|a| {
            (
                a.id.clone(),
                a.name.clone(),
                a.kind() == AccountKind::Photos,
            )
        })
        .collect();
    if places.is_empty() {
        ui.label(
            "To restore the photos too, add a photo folder account or a folder on this computer on the Accounts screen.",
        );
        return;
    }
    let restore = &mut state.restore;
    if restore.photo_target.is_none() && !restore.photos_declined {
        restore.photo_target = places
            .iter()
            .find(|(_, _, photos)| *photos)
            .map(|(id, _, _)| id.clone());
    }
    let mut choice = restore.photo_target.clone();
    let shown = choice
        .as_deref()
        .and_then(|id| places.iter().find(|(p, _, _)| p == id))
        .map_or_else(
            || "Don't restore photos".to_owned(),
            |(_, name, _)| name.clone(),
        );
    ui.horizontal(|ui| {
        let label = ui.label("Photos into");
        egui::ComboBox::from_id_salt("restore_photos")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut choice, None, "Don't restore photos");
                for (id, name, _) in &places {
                    ui.selectable_value(&mut choice, Some(id.clone()), name);
                }
            })
            .response
            .labelled_by(label.id);
    });
    if choice != restore.photo_target {
        restore.photos_declined = choice.is_none();
        restore.photo_target = choice;
    }
}

/// The newest backups in the backup folder, each one click from its plan.
fn recent_ui(ui: &mut egui::Ui, state: &State, commands: &mut Vec<UiCommand>) {
    if state.restore.recent.is_empty() {
        return;
    }
    ui.add_space(8.0);
    ui.heading("Recent backups");
    for path in &state.restore.recent {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        if ui
            .button(name)
            .on_hover_text(path.display().to_string())
            .clicked()
        {
            commands.push(UiCommand::OpenArchive(path.clone()));
        }
    }
}

fn drop_zone_ui(ui: &mut egui::Ui, commands: &mut Vec<UiCommand>) {
    egui::Frame::group(ui.style())
        .inner_margin(24.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.vertical_centered(|ui| {
                ui.label(
                    egui::RichText::new("Drop an archive (folder or .zip) anywhere on this window")
                        .size(18.0),
                );
                ui.label("or");
                ui.horizontal(|ui| {
                    command_button(ui, commands, UiCommand::PickArchiveFile);
                    command_button(ui, commands, UiCommand::PickArchiveFolder);
                });
            });
        });
}

fn plan_ui(ui: &mut egui::Ui, state: &State, commands: &mut Vec<UiCommand>) {
    let plan = match &state.restore.plan {
        Some(Ok(plan)) => plan,
        Some(Err(failure)) => {
            failure_ui(ui, failure);
            return;
        }
        None => return,
    };
    ui.add_space(8.0);
    ui.heading("What will happen");
    let headers = [
        "Collection",
        "Into",
        "Upload",
        "Already there",
        "Conflicts",
        "Refused",
    ];
    table_ui(ui, "restore_plan", &headers, |ui| {
        for collection in &plan.collections {
            let counts = collection.counts();
            ui.label(&collection.label);
            ui.label(if collection.create {
                format!("new: {}", collection.href)
            } else {
                collection.href.to_string()
            });
            ui.label(counts.upload.to_string());
            if counts.changed_by_server > 0 {
                ui.label(format!(
                    "{} ({} changed by the account when restored before)",
                    counts.already_there, counts.changed_by_server
                ));
            } else {
                ui.label(counts.already_there.to_string());
            }
            ui.label(counts.conflicts.to_string());
            ui.label(counts.refused.to_string());
            ui.end_row();
        }
    });
    if !plan.damaged.is_empty() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "This backup is damaged: {} file(s) cannot be restored. Everything else in it is intact and can be.",
                plan.damaged.len()
            ),
        );
        ui.indent("restore_damaged", |ui| {
            for problem in &plan.damaged {
                ui.label(crate::browse::damage_words(problem));
            }
        });
    }
    for skipped in &plan.skipped {
        ui.label(format!(
            "Not restored: {} ({} items): {}.",
            skipped.label, skipped.items, skipped.reason
        ));
    }
    let writes = plan.writes();
    if writes == 0 {
        ui.label("Everything in the archive is already there. Nothing to do.");
    } else {
        ui.label(format!(
            "{writes} item(s) will be written. Nothing on the account is deleted{}.",
            if state.restore.on_conflict == ConflictPolicy::Overwrite {
                ""
            } else {
                " or overwritten"
            }
        ));
    }
    let can_run =
        writes > 0 && !state.busy() && !state.restore.running && state.restore.summary.is_none();
    command_button_enabled(ui, commands, UiCommand::RunRestore, can_run);
}

fn summary_ui(ui: &mut egui::Ui, state: &State) {
    let summary = match &state.restore.summary {
        Some(Ok(summary)) => summary,
        Some(Err(failure)) => {
            ui.heading("The restore stopped");
            failure_ui(ui, failure);
            ui.label("What was written is recorded; restoring again continues where it stopped.");
            return;
        }
        None => return,
    };
    ui.add_space(8.0);
    ui.heading(if summary.is_complete() {
        "Restore complete"
    } else {
        "Restore finished with problems"
    });
    let headers = [
        "Collection",
        "Uploaded",
        "Already there",
        "Checked after upload",
        "Failed",
    ];
    table_ui(ui, "restore_summary", &headers, |ui| {
        for outcome in &summary.collections {
            ui.label(&outcome.label);
            ui.label((outcome.uploaded + outcome.overwritten + outcome.kept_both).to_string());
            ui.label(outcome.already_there.to_string());
            ui.label((outcome.verified_same_bytes + outcome.verified_equivalent).to_string());
            ui.label((outcome.verify_failed + outcome.refused).to_string());
            ui.end_row();
        }
    });
    if let Some(report) = &summary.report {
        ui.label(format!("Report saved as {}", report.display()));
    }
    super::backup::warnings_ui(ui, state);
}

/// A striped table with a bold header row; `rows_ui` adds the rows (ending each with
/// `end_row`).
fn table_ui(ui: &mut egui::Ui, id: &str, headers: &[&str], rows_ui: impl FnOnce(&mut egui::Ui)) {
    egui::Grid::new(id)
        .striped(true)
        .num_columns(headers.len())
        .show(ui, |ui| {
            for header in headers {
                ui.strong(*header);
            }
            ui.end_row();
            rows_ui(ui);
        });
}
