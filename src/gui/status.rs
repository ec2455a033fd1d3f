//! The status bar: the last message, in red when it reports a problem.

use super::StemzipApp;

/// The status bar.
pub fn status_ui(app: &StemzipApp, ui: &mut egui::Ui) {
    match &app.notice {
        Some(n) if n.is_error => {
            ui.colored_label(ui.visuals().error_fg_color, &n.text);
        }
        Some(n) => {
            ui.label(&n.text);
        }
        None => {
            ui.label("Ready.");
        }
    };
}
