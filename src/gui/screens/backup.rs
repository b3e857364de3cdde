//! The backup screen: which accounts and collections, where to, one button, and the summary.

use eframe::egui;

use super::{command_button, command_button_enabled, failure_ui, human_bytes, labelled_text};
use crate::gui::command::{Screen, UiCommand};
use crate::gui::state::State;

pub fn backup_ui(ui: &mut egui::Ui, state: &mut State, commands: &mut Vec<UiCommand>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        if state.import.is_some() {
            import_ui(ui, state, commands);
            ui.separator();
        }
        ui.heading("Back up");
        if state.config.accounts.is_empty() {
            ui.label("Add an account first.");
            command_button(ui, commands, UiCommand::Show(Screen::Accounts));
            // An import of a dropped export needs no account: its summary shows all the same.
            result_ui(ui, state, commands);
            return;
        }
        ui.label("What to back up:");
        for account in state.config.accounts.clone() {
            let mut chosen = !state.backup.skip_accounts.contains(&account.id);
            if ui.checkbox(&mut chosen, &account.name).changed() {
                if chosen {
                    state.backup.skip_accounts.remove(&account.id);
                } else {
                    state.backup.skip_accounts.insert(account.id.clone());
                }
            }
            if !chosen {
                continue;
            }
            match state.found(&account.id).map(<[_]>::to_vec) {
                Some(found) => {
                    ui.indent(&account.id, |ui| {
                        for collection in found {
                            let key = (account.id.clone(), collection.href.clone());
                            let mut on = !state.backup.skip_collections.contains(&key);
                            let text = format!("{} ({})", collection.label, collection.count_text());
                            if ui.checkbox(&mut on, text).changed() {
                                if on {
                                    state.backup.skip_collections.remove(&key);
                                } else {
                                    state.backup.skip_collections.insert(key);
                                }
                            }
                        }
                    });
                }
                None => {
                    ui.indent(&account.id, |ui| {
                        ui.small("Everything (test the connection on the Accounts screen to choose collections).");
                    });
                }
            }
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            labelled_text(ui, "Save backups in", &mut state.backup.folder, false);
            command_button(ui, commands, UiCommand::PickBackupFolder);
        });
        ui.checkbox(&mut state.backup.as_zip, "As one .zip file");
        ui.add_space(8.0);
        let anything = state.config.accounts.iter().any(|a| !state.backup.skip_accounts.contains(&a.id));
        command_button_enabled(ui, commands, UiCommand::StartBackup, anything && !state.busy());
        ui.add_space(8.0);
        result_ui(ui, state, commands);
    });
}

/// The last backup's or import's summary, or why it did not finish.
fn result_ui(ui: &mut egui::Ui, state: &State, commands: &mut Vec<UiCommand>) {
    match &state.backup.result {
        Some(Ok(summary)) => {
            let failed: Vec<&crate::model::Warning> = summary
                .manifest
                .warnings
                .iter()
                .filter(|w| w.code == crate::source::ACCOUNT_FAILED)
                .collect();
            if failed.is_empty() {
                ui.heading("Backup complete");
            } else {
                // Never "complete" when an account is not in it.
                ui.heading("Backup saved, but not every account is in it");
                for warning in &failed {
                    ui.colored_label(ui.visuals().warn_fg_color, &warning.message);
                }
                ui.label(
                    "Check that account on the Accounts screen (its address and password), then back up again. Everything below was saved and checked.",
                );
            }
            let counts = summary
                .counts()
                .iter()
                .map(|(kind, n)| format!("{n} {}", kind.label()))
                .collect::<Vec<_>>()
                .join(", ");
            ui.label(format!(
                "{counts} — {} in {:.1} s.",
                human_bytes(summary.item_bytes),
                summary.elapsed.as_secs_f64()
            ));
            ui.label(format!("Saved in {}", summary.archive.display()));
            ui.horizontal(|ui| {
                command_button(
                    ui,
                    commands,
                    UiCommand::BrowseBackup(summary.archive.clone()),
                );
                command_button(ui, commands, UiCommand::OpenFolder(summary.archive.clone()));
            });
            warnings_ui(ui, state);
        }
        Some(Err(failure)) => {
            ui.heading("The backup did not finish");
            failure_ui(ui, failure);
            ui.label("Nothing half-written was left behind.");
        }
        None => {}
    }
}

/// A dropped Google or Apple export: what it holds, and the button that imports it.
fn import_ui(ui: &mut egui::Ui, state: &State, commands: &mut Vec<UiCommand>) {
    let Some(offer) = &state.import else { return };
    ui.heading(offer.provider.label());
    ui.label(format!(
        "{} file(s): {}",
        offer.paths.len(),
        offer
            .paths
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    match &offer.found {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading what it holds…");
            });
        }
        Some(Err(failure)) => {
            failure_ui(ui, failure);
        }
        Some(Ok(found)) => {
            ui.label("It holds:");
            ui.indent("import-found", |ui| {
                for part in &found.collections {
                    ui.label(format!("{}: {} {}", part.name, part.count, part.what));
                }
            });
            if !found.not_handled.is_empty() {
                ui.label("Not imported (Lifeboat does not handle these):");
                ui.indent("import-left", |ui| {
                    for line in &found.not_handled {
                        ui.small(line);
                    }
                });
            }
            if found.notes > 0 {
                ui.small(format!(
                    "{} photo(s) or sidecar(s) could not be paired; they are kept and listed as warnings.",
                    found.notes
                ));
            }
            ui.horizontal(|ui| {
                command_button_enabled(
                    ui,
                    commands,
                    UiCommand::StartImport(offer.provider),
                    !state.busy(),
                );
                ui.small(format!("into {}", state.backup.folder));
            });
        }
    }
    command_button(ui, commands, UiCommand::DismissImport);
}

/// Warnings of the last job, counted by kind, with the list on demand.
pub fn warnings_ui(ui: &mut egui::Ui, state: &State) {
    if state.warnings.is_empty() {
        return;
    }
    let counts = state
        .warning_counts()
        .iter()
        .map(|(code, n)| format!("{n} {}", crate::gui::words::warning_kind(code)))
        .collect::<Vec<_>>()
        .join(", ");
    let missing = state
        .warnings
        .iter()
        .filter(|w| w.code == "unavailable")
        .count();
    let accounts_missing = state
        .warnings
        .iter()
        .any(|w| w.code == crate::source::ACCOUNT_FAILED);
    if missing == 0 && !accounts_missing {
        ui.label(format!(
            "{} warning(s): {counts}. Every item was kept all the same.",
            state.warnings.len()
        ));
    } else if missing == 0 {
        ui.label(format!("{} warning(s): {counts}.", state.warnings.len()));
    } else {
        // Never "everything was kept" when something the source listed is not in the backup.
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{missing} item(s) could not be read from the source and are not in this backup; everything else was kept. {} warning(s): {counts}.",
                state.warnings.len()
            ),
        );
    }
    ui.collapsing("Show warnings", |ui| {
        egui::ScrollArea::vertical()
            .max_height(200.0)
            .show(ui, |ui| {
                for warning in &state.warnings {
                    let place = warning
                        .path
                        .as_deref()
                        .or(warning.href.as_deref())
                        .unwrap_or("");
                    ui.label(format!(
                        "{}: {} {place}",
                        crate::gui::words::warning_kind(&warning.code),
                        warning.message
                    ));
                }
            });
    });
}
