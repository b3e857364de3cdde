//! The accounts screen: the first-run welcome, adding an account from a preset, and
//! "Test connection" with what was found.

use eframe::egui;

use super::{command_button, failure_ui, labelled_text};
use crate::browse::count_noun;
use crate::config::{AccountKind, Preset};
use crate::gui::command::{Removal, UiCommand};
use crate::gui::state::{AccountForm, PhoneSearch, State, TestState};
use crate::model::CollectionKind;
use crate::worker::FoundCollection;

pub fn accounts_ui(ui: &mut egui::Ui, state: &mut State, commands: &mut Vec<UiCommand>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        if let Some(form) = &mut state.account_form {
            account_form_ui(ui, form, &state.phones, state.secrets_persistent, commands);
            return;
        }
        if state.config.accounts.is_empty() {
            ui.heading("Add where your data lives");
            ui.label("Lifeboat copies your contacts, calendars, to-dos and photos onto this computer, in open formats any program can read. Start by telling it where they are:");
        } else {
            ui.heading("Your accounts");
            for account in state.config.accounts.clone() {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal(|ui| {
                        ui.strong(&account.name);
                        ui.label(format!("{} · {}", account.preset.label(), account.address));
                    });
                    ui.horizontal(|ui| {
                        let running = matches!(state.tests.get(&account.id), Some(TestState::Running));
                        ui.add_enabled_ui(!running, |ui| {
                            command_button(ui, commands, UiCommand::TestAccount(account.id.clone()));
                        });
                        command_button(ui, commands, UiCommand::EditAccount(account.id.clone()));
                        command_button(ui, commands, UiCommand::RemoveAccount(account.id.clone()));
                    });
                    let removal = Removal::Account(account.id.clone());
                    if state.confirm.as_ref() == Some(&removal) {
                        super::confirm_ui(
                            ui,
                            &format!(
                                "Remove {}? Lifeboat forgets this account and its saved password. Your backups stay where they are.",
                                account.name
                            ),
                            removal,
                            commands,
                        );
                    }
                    match state.tests.get(&account.id) {
                        Some(TestState::Running) => {
                            ui.horizontal(|ui| {
                                ui.spinner();
                                ui.label("Connecting…");
                            });
                        }
                        Some(TestState::Found(found)) => found_ui(ui, found),
                        Some(TestState::Failed(failure)) => {
                            failure_ui(ui, failure);
                            // Where the password is missing or refused, ask for it right here.
                            if failure.kind == crate::error::ErrorKind::Auth
                                && account.needs_password()
                            {
                                let typed =
                                    state.typed_passwords.entry(account.id.clone()).or_default();
                                ui.horizontal(|ui| {
                                    labelled_text(
                                        ui,
                                        &format!("Password for {}", account.name),
                                        typed,
                                        true,
                                    );
                                    command_button(
                                        ui,
                                        commands,
                                        UiCommand::UsePassword(account.id.clone()),
                                    );
                                });
                            }
                        }
                        None => {}
                    }
                });
            }
            ui.add_space(12.0);
            ui.heading("Add another account");
        }
        ui.horizontal_wrapped(|ui| {
            for preset in Preset::ALL {
                command_button(ui, commands, UiCommand::NewAccount(preset));
            }
        });
    });
}

fn found_ui(ui: &mut egui::Ui, found: &[FoundCollection]) {
    let count = |kind: CollectionKind, task_list: bool| {
        found
            .iter()
            .filter(|c| c.kind == kind && c.task_list == task_list)
            .count()
    };
    let kinds = [
        (count(CollectionKind::Contacts, false), "address book"),
        (count(CollectionKind::Calendar, false), "calendar"),
        (count(CollectionKind::Calendar, true), "task list"),
        (count(CollectionKind::Photos, false), "photo folder"),
    ];
    let parts: Vec<String> = kinds
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, noun)| count_noun(*n, noun))
        .collect();
    if parts.is_empty() {
        ui.label("Connected. Nothing is stored here yet.");
        return;
    }
    ui.label(format!("Connected. Found {}:", parts.join(", ")));
    for collection in found {
        ui.label(format!(
            "  • {} — {}",
            collection.label,
            collection.count_text()
        ));
    }
}

fn account_form_ui(
    ui: &mut egui::Ui,
    form: &mut AccountForm,
    phones: &PhoneSearch,
    persistent: bool,
    commands: &mut Vec<UiCommand>,
) {
    let Some(preset) = form.preset else { return };
    if form.editing.is_some() {
        ui.heading(format!("Edit {}", form.name));
    } else {
        ui.heading(format!("New account — {}", preset.label()));
    }
    ui.label(preset.help());
    ui.add_space(8.0);
    labelled_text(ui, "Name", &mut form.name, false);
    if preset.kind() == AccountKind::Android {
        super::phones::phone_choice_ui(ui, form, phones, commands);
    } else if preset.kind() == AccountKind::Folder {
        ui.horizontal(|ui| {
            labelled_text(ui, "Folder", &mut form.address, false);
            command_button(ui, commands, UiCommand::PickAccountFolder);
        });
    } else {
        labelled_text(ui, "Server address", &mut form.address, false);
        labelled_text(ui, "User name", &mut form.user, false);
        labelled_text(ui, "Password", &mut form.password, true);
        ui.small(if persistent {
            "The password is kept in your system's keyring, never in a settings file."
        } else {
            "No keyring is available: the password is kept until Lifeboat closes."
        });
        if form.editing.is_some() {
            ui.small("Leave the password empty to keep the saved one.");
        }
        egui::CollapsingHeader::new("A server with its own certificate")
            .default_open(!form.ca_file.is_empty())
            .show(ui, |ui| {
                ui.small(
                    "Only for a server you or your organisation run whose certificate no browser \
                     trusts: the file of the authority that issued it (.pem or .crt), from whoever \
                     set the server up.",
                );
                labelled_text(ui, "Certificate file", &mut form.ca_file, false);
            });
    }
    if let Some(error) = &form.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    ui.horizontal(|ui| {
        command_button(ui, commands, UiCommand::SaveAccount);
        command_button(ui, commands, UiCommand::CancelAccountForm);
    });
}
