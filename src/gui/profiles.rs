//! The question asked before unsaved changes of the profile are lost.

use super::app::{Command, StemzipApp};

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
