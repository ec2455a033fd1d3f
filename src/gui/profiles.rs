//! Profile and report files: the File menu (open, save, recent profiles,
//! reports) and the question asked before unsaved changes are lost.

use egui::Ui;

use super::app::{Command, StemzipApp};

/// The menu bar.
pub fn menu_ui(app: &StemzipApp, ui: &mut Ui, commands: &mut Vec<Command>) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("New profile").clicked() {
                commands.push(Command::NewProfile);
            }
            if ui.button("Open profile…").clicked() {
                commands.push(Command::OpenProfileDialog);
            }
            ui.menu_button("Open recent", |ui| {
                if app.remembered.recent.is_empty() {
                    ui.label("No recent profiles");
                }
                for path in &app.remembered.recent {
                    if ui.button(path.display().to_string()).clicked() {
                        commands.push(Command::OpenProfile(path.clone()));
                    }
                }
            });
            if ui.button("Save profile").clicked() {
                commands.push(Command::Save);
            }
            if ui.button("Save profile as…").clicked() {
                commands.push(Command::SaveAsDialog);
            }
            ui.separator();
            if ui.button("Open run report…").clicked() {
                commands.push(Command::OpenReportDialog);
            }
            if ui
                .add_enabled(
                    !app.rows().is_empty(),
                    egui::Button::new("Save run report…"),
                )
                .clicked()
            {
                commands.push(Command::SaveReportDialog);
            }
            ui.separator();
            if ui.button("Quit").clicked() {
                commands.push(Command::Quit);
            }
        });
        ui.menu_button("Help", |ui| {
            ui.label(format!("stemzip {}", env!("CARGO_PKG_VERSION")));
            ui.label("One zip per stem, in parallel.");
            if let Some(dir) = app.config_dir() {
                ui.label(format!("Settings and the example: {}", dir.display()));
                if ui.button("Open settings folder").clicked() {
                    commands.push(Command::ShowFolder(dir.to_owned()));
                }
            }
        });
    });
}

/// Asks what to do with unsaved changes before a command that would lose them.
/// Returns `Some(true)` to save first, `Some(false)` to discard, `None` to cancel.
pub fn unsaved_changes_ui(app: &StemzipApp, ctx: &egui::Context) -> Option<Option<bool>> {
    let pending = app.pending()?;
    let doing = match pending {
        Command::Quit => "closing",
        Command::OpenReport(_) => "opening the report",
        Command::NewProfile => "starting a new profile",
        _ => "opening another profile",
    };
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("unsaved-changes")).show(ctx, |ui| {
        ui.heading("Unsaved changes");
        ui.label(format!(
            "{} has changes that are not saved. Save them before {doing}?",
            app.doc.name()
        ));
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                answer = Some(Some(true));
            }
            if ui.button("Don't save").clicked() {
                answer = Some(Some(false));
            }
            if ui.button("Cancel").clicked() {
                answer = Some(None);
            }
        });
    });
    answer
}
