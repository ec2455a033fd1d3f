//! The plan preview: stems, member counts and sizes, and the plan's
//! warnings, refreshed in the background when the form changes.

use egui::{RichText, Ui};
use indicatif::BinaryBytes;

use crate::plan::{Plan, SettingError};

/// Where the preview stands.
#[derive(Debug, Default)]
enum State {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// Settings are being checked or folders listed.
    Planning,
    /// The settings have errors (shown beside their fields).
    Invalid(usize),
    /// The plan could not be made.
    Failed(String),
    /// The plan.
    Ready(Box<Plan>),
}

/// The preview panel.
#[derive(Debug, Default)]
pub struct Preview {
    state: State,
}

impl Preview {
    /// A new preview is being made.
    pub fn start(&mut self, _generation: u64) {
        self.state = State::Planning;
    }

    /// The settings were checked.
    pub fn checked(&mut self, errors: &[SettingError]) {
        if !errors.is_empty() {
            self.state = State::Invalid(errors.len());
        }
    }

    /// The plan was made (or not).
    pub fn planned(&mut self, result: Result<Box<Plan>, String>) {
        self.state = match result {
            Ok(plan) => State::Ready(plan),
            Err(e) => State::Failed(e),
        };
    }

    /// Whether a plan is being made.
    pub fn is_planning(&self) -> bool {
        matches!(self.state, State::Planning)
    }

    /// The last plan made, if the settings are valid.
    pub fn plan(&self) -> Option<&Plan> {
        match &self.state {
            State::Ready(plan) => Some(plan),
            _ => None,
        }
    }

    /// Draws the preview.
    pub fn ui(&mut self, ui: &mut Ui) {
        match &self.state {
            State::Idle => {
                ui.label("Fill in the form to see what will be zipped.");
            }
            State::Planning => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Planning…");
                });
            }
            State::Invalid(n) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("{n} setting(s) need fixing: see the messages in the form."),
                );
            }
            State::Failed(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            State::Ready(plan) => plan_ui(ui, plan),
        }
    }
}

fn plan_ui(ui: &mut Ui, plan: &Plan) {
    let zips = plan.stems.iter().filter(|s| !s.members.is_empty()).count();
    let files: usize = plan.stems.iter().map(|s| s.members.len()).sum();
    ui.label(format!(
        "{} stems: {} zips to write, {} files, {} into {}",
        plan.stems.len(),
        zips,
        files,
        BinaryBytes(plan.total_size()),
        plan.output_dir.display()
    ));
    if !plan.warnings.is_empty() {
        egui::CollapsingHeader::new(
            RichText::new(format!("⚠ {} warning(s)", plan.warnings.len()))
                .color(ui.visuals().warn_fg_color),
        )
        .id_salt("preview-warnings")
        .show(ui, |ui| {
            let row = ui.text_style_height(&egui::TextStyle::Body);
            egui::ScrollArea::vertical()
                .id_salt("warnings-scroll")
                .max_height(120.0)
                .show_rows(ui, row, plan.warnings.len(), |ui, range| {
                    // One line each (the rows are one line high); the
                    // whole text on hover.
                    for w in &plan.warnings[range] {
                        let text = w.to_string();
                        ui.add(egui::Label::new(text.as_str()).truncate())
                            .on_hover_text(text);
                    }
                });
        });
    }
    let row = ui.text_style_height(&egui::TextStyle::Body);
    egui::ScrollArea::vertical()
        .id_salt("preview-stems")
        .max_height(160.0)
        .auto_shrink([false, true])
        .show_rows(ui, row, plan.stems.len(), |ui, range| {
            for stem in &plan.stems[range] {
                let text = format!(
                    "{}  —  {} files, {}",
                    stem.name,
                    stem.members.len(),
                    BinaryBytes(stem.total_size())
                );
                if stem.members.is_empty() {
                    ui.label(RichText::new(format!("{text} (no zip)")).weak());
                } else {
                    ui.label(text);
                }
            }
        });
}
