//! The archive browser: contacts with search and a card, an agenda, to-do trees, a photo
//! grid, and the verification result. Long lists lay out only their visible rows.

use eframe::egui;

use super::{command_button, failure_ui, human_bytes};
use crate::browse::ArchiveContents;
use crate::gui::app::Textures;
use crate::gui::command::{Screen, UiCommand};
use crate::gui::state::{BrowseState, BrowseTab, State};

pub const THUMBNAIL_PX: u32 = 128;
pub const FULL_PX: u32 = 1600;

pub fn browse_ui(
    ui: &mut egui::Ui,
    state: &mut State,
    commands: &mut Vec<UiCommand>,
    textures: &mut Textures,
) {
    let contents = match &state.archive.contents {
        Some(Ok(contents)) => contents,
        Some(Err(failure)) => {
            failure_ui(ui, failure);
            return;
        }
        None if state.archive.loading() => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the archive…");
            });
            return;
        }
        None => {
            ui.heading("Browse a backup");
            ui.label("Open an archive on the Restore screen, or drop one onto this window.");
            command_button(ui, commands, UiCommand::Show(Screen::Restore));
            return;
        }
    };
    let browse = &mut state.browse;
    ui.horizontal(|ui| {
        for tab in BrowseTab::ALL {
            let count = match tab {
                BrowseTab::Contacts => contents.contacts.len(),
                BrowseTab::Calendar => contents.agenda.len(),
                BrowseTab::Todos => contents.todos.len(),
                BrowseTab::Photos => contents.photos.len(),
                BrowseTab::Verification => contents.verification.items,
            };
            let text = format!("{} ({count})", tab.label());
            if ui.selectable_label(browse.tab == tab, text).clicked() {
                browse.tab = tab;
            }
        }
    });
    ui.separator();
    match browse.tab {
        BrowseTab::Contacts => contacts_ui(ui, contents, browse, textures),
        BrowseTab::Calendar => agenda_ui(ui, contents, browse),
        BrowseTab::Todos => todos_ui(ui, contents),
        BrowseTab::Photos => photos_ui(ui, contents, browse, textures),
        BrowseTab::Verification => verification_ui(ui, contents),
    }
}

fn contacts_ui(
    ui: &mut egui::Ui,
    contents: &ArchiveContents,
    browse: &mut BrowseState,
    textures: &mut Textures,
) {
    ui.horizontal(|ui| {
        let label = ui.label("Search contacts");
        ui.add(egui::TextEdit::singleline(&mut browse.search).hint_text("name, e-mail, phone…"))
            .labelled_by(label.id);
    });
    let query = crate::browse::fold(browse.search.trim());
    if browse.matches_for.as_deref() != Some(query.as_str()) {
        // Typing on narrows the last matches instead of searching every contact again.
        let narrowing = browse
            .matches_for
            .as_deref()
            .is_some_and(|previous| query.contains(previous));
        browse.matches = if narrowing {
            std::mem::take(&mut browse.matches)
                .into_iter()
                .filter(|&i| contents.contacts[i].matches(&query))
                .collect()
        } else {
            (0..contents.contacts.len())
                .filter(|&i| contents.contacts[i].matches(&query))
                .collect()
        };
        browse.matches_for = Some(query);
    }
    ui.label(format!(
        "{} of {} contacts",
        browse.matches.len(),
        contents.contacts.len()
    ));
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    ui.columns(2, |columns| {
        egui::ScrollArea::vertical()
            .id_salt("contact_list")
            .auto_shrink(false)
            .show_rows(
                &mut columns[0],
                row_height,
                browse.matches.len(),
                |ui, rows| {
                    for row in rows {
                        let index = browse.matches[row];
                        let contact = &contents.contacts[index];
                        let selected = browse.selected_contact == Some(index);
                        let row = ui.selectable_label(selected, &contact.name);
                        let row = if contact.detail.is_empty() {
                            row
                        } else {
                            row.on_hover_text(&contact.detail)
                        };
                        if row.clicked() {
                            browse.selected_contact = Some(index);
                        }
                    }
                },
            );
        let ui = &mut columns[1];
        if let Some(contact) = browse
            .selected_contact
            .and_then(|i| contents.contacts.get(i).map(|c| (i, c)))
        {
            let (index, contact) = contact;
            egui::ScrollArea::vertical()
                .id_salt("contact_card")
                .show(ui, |ui| {
                    if let Some(photo) = &contact.photo {
                        let texture = textures.contact_photos.entry(index).or_insert_with(|| {
                            let image = egui::ColorImage::from_rgba_unmultiplied(
                                [photo.width as usize, photo.height as usize],
                                &photo.rgba,
                            );
                            ui.ctx().load_texture(
                                format!("contact-{index}"),
                                image,
                                egui::TextureOptions::LINEAR,
                            )
                        });
                        ui.add(
                            egui::Image::new(&*texture)
                                .alt_text(format!("Photo of {}", contact.name)),
                        );
                    }
                    ui.heading(&contact.name);
                    egui::Grid::new("contact_fields")
                        .num_columns(2)
                        .striped(true)
                        .max_col_width((ui.available_width() - 140.0).max(120.0))
                        .show(ui, |ui| {
                            for (label, value) in &contact.fields {
                                ui.strong(label);
                                // Long notes and addresses wrap inside the card.
                                ui.add(egui::Label::new(value).wrap());
                                ui.end_row();
                            }
                        });
                });
        } else {
            ui.label("Choose a contact to see every field.");
        }
    });
}

/// The agenda, opened at this month; "Previous month", "Today" and "Next month" jump.
fn agenda_ui(ui: &mut egui::Ui, contents: &ArchiveContents, browse: &mut BrowseState) {
    use chrono::{Datelike as _, Months};
    let first_of = |day: chrono::NaiveDate| day.with_day(1).unwrap_or(day);
    let today = first_of(chrono::Local::now().date_naive());
    let month = *browse.agenda_month.get_or_insert_with(|| {
        browse.agenda_jump = true;
        today
    });
    ui.horizontal(|ui| {
        let mut go = None;
        if ui.button("Previous month").clicked() {
            go = month.checked_sub_months(Months::new(1));
        }
        if ui.button("Today").clicked() {
            go = Some(today);
        }
        if ui.button("Next month").clicked() {
            go = month.checked_add_months(Months::new(1));
        }
        ui.strong(month.format("%B %Y").to_string());
        if let Some(month) = go {
            browse.agenda_month = Some(month);
            browse.agenda_jump = true;
        }
    });
    if let Some(entry) = browse.opened_event.and_then(|i| contents.agenda.get(i))
        && event_details_ui(ui, entry)
    {
        browse.opened_event = None;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let mut area = egui::ScrollArea::vertical().auto_shrink(false);
    if std::mem::take(&mut browse.agenda_jump) {
        let month = browse.agenda_month.unwrap_or(today);
        let first = contents
            .agenda
            .partition_point(|entry| entry.start.date() < month);
        area =
            area.vertical_scroll_offset(first as f32 * (row_height + ui.spacing().item_spacing.y));
    }
    area.show_rows(ui, row_height, contents.agenda.len(), |ui, rows| {
        for index in rows {
            let entry = &contents.agenda[index];
            let repeat = if entry.recurring { " (repeats)" } else { "" };
            let place = entry
                .location
                .as_deref()
                .map(|l| format!(" · at {l}"))
                .unwrap_or_default();
            let open = browse.opened_event == Some(index);
            let row = format!(
                "{}   {}{repeat}{place}   ({})",
                when(entry),
                entry.summary,
                entry.calendar
            );
            if ui.selectable_label(open, row).clicked() {
                browse.opened_event = (!open).then_some(index);
            }
        }
    });
}

/// "Mon 2026-01-05 09:00", or the day alone for a whole-day event.
fn when(entry: &crate::browse::AgendaEntry) -> String {
    if entry.all_day {
        entry.start.format("%a %Y-%m-%d").to_string()
    } else {
        entry.start.format("%a %Y-%m-%d %H:%M").to_string()
    }
}

/// The opened event, as a calendar app shows it; true when it is closed.
fn event_details_ui(ui: &mut egui::Ui, entry: &crate::browse::AgendaEntry) -> bool {
    let mut close = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading(&entry.summary);
            if ui.button("Close").clicked() {
                close = true;
            }
        });
        let until = entry.end.map(|end| {
            if entry.all_day {
                // iCalendar ends a whole-day event on the day after its last.
                let last = (end - chrono::TimeDelta::days(1)).date();
                if last > entry.start.date() {
                    format!(" to {}", last.format("%a %Y-%m-%d"))
                } else {
                    String::new()
                }
            } else if end.date() == entry.start.date() {
                format!(" to {}", end.format("%H:%M"))
            } else {
                format!(" to {}", end.format("%a %Y-%m-%d %H:%M"))
            }
        });
        let all_day = if entry.all_day { " (all day)" } else { "" };
        ui.label(format!(
            "{}{}{all_day}",
            when(entry),
            until.unwrap_or_default()
        ));
        let details = &entry.details;
        let mut line = |label: &str, value: &str| {
            ui.horizontal_wrapped(|ui| {
                ui.strong(label);
                ui.label(value);
            });
        };
        if let Some(zone) = &details.time_zone {
            line("Time zone", zone);
        }
        if let Some(place) = &entry.location {
            line("Where", place);
        }
        if let Some(repeats) = &details.repeats {
            line("Repeats", repeats);
        }
        if let Some(organizer) = &details.organizer {
            line("Organised by", organizer);
        }
        if !details.attendees.is_empty() {
            line("Invited", &details.attendees.join(", "));
        }
        if !details.reminders.is_empty() {
            line("Reminders", &details.reminders.join(", "));
        }
        line("Calendar", &entry.calendar);
        if let Some(description) = &details.description {
            ui.label(description);
        }
    });
    close
}

fn todos_ui(ui: &mut egui::Ui, contents: &ArchiveContents) {
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    egui::ScrollArea::vertical().auto_shrink(false).show_rows(
        ui,
        row_height,
        contents.todo_order.len(),
        |ui, rows| {
            for &(depth, index) in &contents.todo_order[rows] {
                let todo = &contents.todos[index];
                let due = todo
                    .due
                    .as_deref()
                    .map(|d| format!(" · due {d}"))
                    .unwrap_or_default();
                ui.horizontal(|ui| {
                    ui.add_space(depth as f32 * 20.0);
                    // Words, not a checkbox that looks clickable and is not.
                    if todo.done {
                        ui.label(egui::RichText::new(&todo.summary).strikethrough());
                        ui.weak(format!("done{due} ({})", todo.list));
                    } else {
                        ui.label(&todo.summary);
                        ui.weak(format!("to do{due} ({})", todo.list));
                    }
                });
            }
        },
    );
}

fn photos_ui(
    ui: &mut egui::Ui,
    contents: &ArchiveContents,
    browse: &mut BrowseState,
    textures: &mut Textures,
) {
    let cell = THUMBNAIL_PX as f32 + 8.0;
    let columns = ((ui.available_width() / cell).floor() as usize).max(1);
    let rows = contents.photos.len().div_ceil(columns);
    egui::ScrollArea::vertical()
        .auto_shrink(false)
        .show_rows(ui, cell, rows, |ui, visible| {
            for row in visible {
                ui.horizontal(|ui| {
                    for photo in contents.photos.iter().skip(row * columns).take(columns) {
                        let key = (photo.path.clone(), THUMBNAIL_PX);
                        let size = egui::vec2(THUMBNAIL_PX as f32, THUMBNAIL_PX as f32);
                        let response = match textures.images.get(&key) {
                            Some(texture) => ui.add(
                                egui::Image::new(texture)
                                    .max_size(size)
                                    .alt_text(&photo.name)
                                    .sense(egui::Sense::click()),
                            ),
                            None => {
                                if photo.previewable {
                                    textures.wanted.push(key);
                                }
                                ui.add_sized(size, egui::Button::new(&photo.name))
                            }
                        };
                        let mut hover = format!("{} · {}", photo.name, human_bytes(photo.size));
                        if let Some(taken) = &photo.taken {
                            hover.push_str(&format!(" · taken {taken}"));
                        }
                        if !photo.albums.is_empty() {
                            hover.push_str(&format!(" · in {}", photo.albums.join(", ")));
                        }
                        if response.on_hover_text(hover).clicked() && photo.previewable {
                            browse.full_photo = Some(photo.path.clone());
                        }
                    }
                });
            }
        });
    if let Some(path) = browse.full_photo.clone() {
        let mut open = true;
        egui::Window::new(path.rsplit('/').next().unwrap_or(&path).to_owned())
            .open(&mut open)
            .show(ui.ctx(), |ui| {
                match textures.images.get(&(path.clone(), FULL_PX)) {
                    Some(texture) => {
                        ui.add(egui::Image::new(texture).shrink_to_fit());
                    }
                    None => {
                        textures.wanted.push((path.clone(), FULL_PX));
                        ui.spinner();
                    }
                }
            });
        if !open {
            browse.full_photo = None;
        }
    }
}

fn verification_ui(ui: &mut egui::Ui, contents: &ArchiveContents) {
    let verification = &contents.verification;
    if verification.ok {
        ui.label(egui::RichText::new(&verification.summary).strong());
    } else {
        ui.colored_label(ui.visuals().error_fg_color, &verification.summary);
        for problem in &verification.problems {
            ui.label(problem);
        }
    }
    ui.label(format!(
        "Archive made {} · {}",
        crate::gui::words::moment(&contents.created),
        contents.path.display()
    ));
}
