//! The schedules screen: each backup profile with its last and next run, switches for the
//! app's own scheduler and the OS scheduler, and a form that schedules the backup screen's
//! choices.

use chrono::Weekday;
use eframe::egui;

use super::{command_button, command_button_enabled, failure_ui, human_bytes, labelled_text};
use crate::gui::command::{Screen, UiCommand};
use crate::gui::state::State;
use crate::schedule::policy;
use crate::schedule::status::Outcome;

pub fn schedules_ui(ui: &mut egui::Ui, state: &mut State, commands: &mut Vec<UiCommand>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Schedules");
        ui.label(
            "Each run saves a complete, dated snapshot. Only what changed is downloaded; unchanged files are shared with the previous snapshot, so each costs only what changed. Items deleted at the source stay in older snapshots.",
        );
        ui.add_space(8.0);
        if state.config.profiles.is_empty() {
            ui.label("No schedules yet.");
        }
        for profile in state.config.profiles.clone() {
            profile_ui(ui, state, commands, &profile);
            ui.separator();
        }
        ui.add_space(8.0);
        new_schedule_ui(ui, state, commands);
    });
}

fn profile_ui(
    ui: &mut egui::Ui,
    state: &State,
    commands: &mut Vec<UiCommand>,
    profile: &crate::schedule::profile::Profile,
) {
    ui.strong(&profile.name);
    ui.label(format!(
        "{} into {} ({})",
        profile.every.describe(),
        profile.destination.display(),
        profile.retention.describe()
    ));
    let info = state.schedules.infos.get(&profile.name);
    match info.and_then(|i| i.status.last()) {
        Some(run) => {
            let when = run
                .started
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M");
            let text = format!(
                "Last run {when}: {} — {}{}",
                match run.outcome {
                    Outcome::Success => "done",
                    Outcome::Flagged => "done, but something is missing",
                    Outcome::Failed => "failed",
                },
                run.message,
                if run.fetched_bytes > 0 {
                    format!(", {} downloaded", human_bytes(run.fetched_bytes))
                } else {
                    String::new()
                }
            );
            if run.outcome == Outcome::Success {
                ui.label(text);
            } else {
                ui.colored_label(ui.visuals().warn_fg_color, text);
            }
            for flag in &run.flags {
                ui.colored_label(ui.visuals().warn_fg_color, flag);
            }
        }
        None if info.is_some() => {
            ui.label("Never ran yet.");
        }
        None => {}
    }
    if let Some(info) = info {
        let next = policy::decide(
            &profile.every,
            &info.status.history(),
            chrono::Local::now().naive_local(),
        )
        .describe();
        ui.label(format!("Next run: {next}"));
    }
    if let Some(Err(failure)) = state.schedules.results.get(&profile.name) {
        failure_ui(ui, failure);
    }
    ui.horizontal(|ui| {
        let mut enabled = profile.enabled;
        let toggle = UiCommand::SetProfileEnabled(profile.name.clone(), !enabled);
        if ui
            .checkbox(&mut enabled, toggle.label())
            .on_hover_text(toggle.tooltip())
            .changed()
        {
            commands.push(toggle);
        }
        command_button_enabled(
            ui,
            commands,
            UiCommand::RunProfileNow(profile.name.clone()),
            !state.busy(),
        );
        match info.map(|i| i.os_installed) {
            Some(true) => {
                command_button(
                    ui,
                    commands,
                    UiCommand::RemoveOsSchedule(profile.name.clone()),
                );
            }
            Some(false) => {
                command_button(
                    ui,
                    commands,
                    UiCommand::InstallOsSchedule(profile.name.clone()),
                );
            }
            None => {}
        }
        command_button(ui, commands, UiCommand::RemoveProfile(profile.name.clone()));
    });
    let removal = crate::gui::command::Removal::Profile(profile.name.clone());
    if state.confirm.as_ref() == Some(&removal) {
        super::confirm_ui(
            ui,
            &format!(
                "Remove the schedule \"{}\"? It stops running; its snapshots stay on disk.",
                profile.name
            ),
            removal,
            commands,
        );
    }
    if let Some(result) = state.schedules.os_messages.get(&profile.name) {
        match result {
            Ok(crate::worker::OsSchedule::Removed) => {
                ui.label("The system scheduler no longer runs it.");
            }
            Ok(crate::worker::OsSchedule::Installed(message)) => {
                ui.label(format!("Runs while Lifeboat is closed too: {message}"));
            }
            Err(failure) => failure_ui(ui, failure),
        }
    }
}

fn new_schedule_ui(ui: &mut egui::Ui, state: &mut State, commands: &mut Vec<UiCommand>) {
    ui.heading("New schedule");
    if state.config.accounts.is_empty() {
        ui.label("Add an account first.");
        command_button(ui, commands, UiCommand::Show(Screen::Accounts));
        return;
    }
    ui.label(format!(
        "Backs up what is chosen on the Back up screen into a folder of snapshots in {}.",
        state.backup.folder
    ));
    let form = &mut state.schedules.form;
    labelled_text(ui, "Name", &mut form.name, false);
    ui.horizontal(|ui| {
        ui.label("How often:");
        for (index, label) in ["Every hour", "Daily", "Weekly"].into_iter().enumerate() {
            ui.radio_value(&mut form.every, index, label);
        }
    });
    if form.every == 2 {
        egui::ComboBox::from_label("Day")
            .selected_text(form.weekday.to_string())
            .show_ui(ui, |ui| {
                for day in [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sat,
                    Weekday::Sun,
                ] {
                    ui.selectable_value(&mut form.weekday, day, day.to_string());
                }
            });
    }
    if form.every != 0 {
        labelled_text(ui, "At (HH:MM)", &mut form.at, false);
    }
    ui.horizontal(|ui| {
        let label = ui.label("Keep the newest");
        ui.add(egui::DragValue::new(&mut form.keep_last).range(1..=1000))
            .labelled_by(label.id);
        ui.label(
            "snapshots, plus one per day for a week, per week for a month, per month for a year",
        );
    });
    if let Some(error) = &form.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    command_button(ui, commands, UiCommand::CreateSchedule);
}
