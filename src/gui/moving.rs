//! The question asked once before a move-mode run: how many files and bytes
//! it deletes once their zips are complete, flushed and read back.

use indicatif::BinaryBytes;

use super::app::StemzipApp;

/// Asks whether to start the move-mode run waiting for an answer. Returns
/// `Some(true)` to start it, `Some(false)` not to, `None` while unanswered.
pub fn move_question_ui(app: &StemzipApp, ctx: &egui::Context) -> Option<bool> {
    let (files, bytes) = app.move_question()?;
    let mut answer = None;
    egui::Modal::new(egui::Id::unique("move-mode-question")).show(ctx, |ui| {
        ui.heading("Delete the originals?");
        ui.label(format!(
            "Move mode deletes {} data file(s), {} in all, each once its stem's zip is \
             complete, flushed to disk and read back in full, and every other stem holding \
             it succeeded too. Files that change meanwhile, and stem-source files, are kept.",
            files,
            BinaryBytes(bytes)
        ));
        ui.horizontal(|ui| {
            if ui.button("Zip and delete").clicked() {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    answer
}
