//! The menu bar (File, Run, View, Help) and the keyboard shortcuts its
//! items show.

use egui::{Key, KeyboardShortcut, Modifiers, Ui};

use super::app::{Command, StemzipApp, ThemeChoice};

/// Ctrl+O (Cmd+O on a Mac): open a profile.
pub const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
/// Ctrl+S: save the profile.
pub const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
/// Ctrl+Shift+S: save the profile as a new file.
pub const SAVE_AS: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::S);
/// Ctrl+R: run the profile.
pub const RUN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::R);
/// Esc: cancel the run.
pub const CANCEL: KeyboardShortcut = KeyboardShortcut::new(Modifiers::NONE, Key::Escape);

/// Turns the shortcuts pressed this frame into commands. Esc cancels only
/// a run (elsewhere it leaves a text field or closes a menu).
pub fn shortcuts(app: &StemzipApp, ctx: &egui::Context, commands: &mut Vec<Command>) {
    ctx.input_mut(|i| {
        // The longer shortcut first: Ctrl+Shift+S also matches Ctrl+S.
        if i.consume_shortcut(&SAVE_AS) {
            commands.push(Command::SaveAsDialog);
        }
        if i.consume_shortcut(&SAVE) {
            commands.push(Command::Save);
        }
        if i.consume_shortcut(&OPEN) {
            commands.push(Command::OpenProfileDialog);
        }
        if i.consume_shortcut(&RUN) && app.run_blocked_reason().is_none() {
            commands.push(Command::Run);
        }
        if app.is_running() && i.consume_shortcut(&CANCEL) {
            commands.push(Command::Cancel);
        }
    });
}

/// A menu item showing its shortcut.
fn item(ui: &mut Ui, text: &str, shortcut: &KeyboardShortcut, enabled: bool) -> bool {
    let shown = ui.ctx().format_shortcut(shortcut);
    ui.add_enabled(enabled, egui::Button::new(text).shortcut_text(shown))
        .clicked()
}

/// The menu bar.
pub fn menu_ui(app: &StemzipApp, ui: &mut Ui, commands: &mut Vec<Command>) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu(app, ui, commands));
        ui.menu_button("Run", |ui| {
            if item(ui, "Run", &RUN, app.run_blocked_reason().is_none()) {
                commands.push(Command::Run);
            }
            if item(ui, "Cancel", &CANCEL, app.is_running()) {
                commands.push(Command::Cancel);
            }
            let failed = !app.is_running() && app.rows().iter().any(|r| r.status().is_problem());
            if ui
                .add_enabled(failed, egui::Button::new("Retry failed"))
                .clicked()
            {
                commands.push(Command::RetryFailed);
            }
        });
        ui.menu_button("View", |ui| {
            ui.label("Theme");
            for (choice, name) in [
                (ThemeChoice::System, "Follow the system"),
                (ThemeChoice::Light, "Light"),
                (ThemeChoice::Dark, "Dark"),
            ] {
                if ui.radio(app.remembered.theme == choice, name).clicked() {
                    commands.push(Command::SetTheme(choice));
                }
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

fn file_menu(app: &StemzipApp, ui: &mut Ui, commands: &mut Vec<Command>) {
    if ui.button("New profile").clicked() {
        commands.push(Command::NewProfile);
    }
    if item(ui, "Open profile…", &OPEN, true) {
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
    if item(ui, "Save profile", &SAVE, true) {
        commands.push(Command::Save);
    }
    if item(ui, "Save profile as…", &SAVE_AS, true) {
        commands.push(Command::SaveAsDialog);
    }
    ui.separator();
    if ui.button("Open run report…").clicked() {
        commands.push(Command::OpenReportDialog);
    }
    if ui
        .add_enabled(app.has_report(), egui::Button::new("Save run report…"))
        .clicked()
    {
        commands.push(Command::SaveReportDialog);
    }
    ui.separator();
    if ui.button("Quit").clicked() {
        commands.push(Command::Quit);
    }
}
