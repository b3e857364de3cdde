//! The "Phone (Android, over USB)" form's live list of phones: found by asking the adb server
//! every few seconds, each in words that say what to do next, one chosen to back up.

use eframe::egui;

use super::{command_button, failure_ui};
use crate::config::Preset;
use crate::gui::command::UiCommand;
use crate::gui::state::{AccountForm, PhoneSearch};
use crate::source::android::{Phone, PhoneState};

/// What a phone's state means for the person holding it.
pub fn phone_state_words(state: &PhoneState) -> String {
    match state {
        PhoneState::Ready => "ready to back up".to_owned(),
        PhoneState::Unauthorized => {
            "waiting for you: unlock the phone and tap Allow on \u{201c}Allow USB debugging?\u{201d}"
                .to_owned()
        }
        PhoneState::Offline => "not answering: unlock it, or unplug it and plug it in again".to_owned(),
        PhoneState::NoPermission => {
            "this computer may not open it yet: it needs a rule that lets your user reach the phone (Android's platform-tools explain it)".to_owned()
        }
        PhoneState::Other(mode) => format!("started in {mode} mode: restart it normally"),
    }
}

pub fn phone_choice_ui(
    ui: &mut egui::Ui,
    form: &mut AccountForm,
    phones: &PhoneSearch,
    commands: &mut Vec<UiCommand>,
) {
    // Asked again while the form is open, so a phone plugged in or allowed shows up.
    if phones.due() {
        commands.push(UiCommand::FindPhones);
    }
    ui.ctx().request_repaint_after(PhoneSearch::EVERY);
    ui.add_space(4.0);
    ui.strong("Phones connected to this computer");
    match &phones.found {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Looking for phones…");
            });
        }
        Some(Err(failure)) => failure_ui(ui, failure),
        Some(Ok(found)) if found.is_empty() => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("No phone yet. Plug it in and follow the steps above; it shows up here by itself.");
            });
        }
        Some(Ok(found)) => {
            for phone in found {
                phone_row(ui, form, phone);
            }
        }
    }
    command_button(ui, commands, UiCommand::FindPhones);
}

fn phone_row(ui: &mut egui::Ui, form: &mut AccountForm, phone: &Phone) {
    ui.horizontal(|ui| {
        let chosen = form.address == phone.serial;
        if ui.radio(chosen, phone.name()).clicked() {
            form.address.clone_from(&phone.serial);
            // The form starts named after the kind of account: the phone's model says more.
            let unnamed = form.name.trim().is_empty() || form.name == Preset::Android.label();
            if unnamed {
                form.name = phone.name();
            }
        }
        let words = phone_state_words(&phone.state);
        if phone.state == PhoneState::Ready {
            ui.label(words);
        } else {
            ui.colored_label(ui.visuals().warn_fg_color, words);
        }
    });
}
