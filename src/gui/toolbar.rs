//! The toolbar: Run, Cancel, the output folder, and which profile is open.

use super::{Command, StemzipApp};

/// The toolbar.
pub fn toolbar_ui(app: &StemzipApp, ui: &mut egui::Ui, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let blocked = app.run_blocked_reason();
        let run = ui
            .add_enabled(blocked.is_none(), egui::Button::new("▶ Run"))
            .on_hover_text("Zip every stem of this profile");
        let run = match &blocked {
            Some(reason) => run.on_disabled_hover_text(format!("Cannot run: {reason}")),
            None => run,
        };
        if run.clicked() {
            commands.push(Command::Run);
        }
        if ui
            .add_enabled(app.is_running(), egui::Button::new("■ Cancel"))
            .on_hover_text("Stop the run: running stems stop, finished zips stay")
            .clicked()
        {
            commands.push(Command::Cancel);
        }
        if let Some(plan) = app.preview.plan()
            && ui
                .button("Open output folder")
                .on_hover_text(plan.output_dir.display().to_string())
                .clicked()
        {
            commands.push(Command::ShowFolder(plan.output_dir.clone()));
        }
        ui.separator();
        ui.label(format!(
            "{}{}",
            app.doc.path.as_ref().map_or_else(
                || "untitled profile".to_owned(),
                |p| p.display().to_string()
            ),
            if app.doc.is_dirty() {
                " (unsaved changes)"
            } else {
                ""
            }
        ));
    });
}
