//! The profile form: every profile key, editable, each input labelled, with
//! the setting's error shown beside it.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use egui::{RichText, Ui};

use super::app::Command;
use crate::profile::{Compression, Profile, StemMatch, Workers};

/// A folder field of the form that has a Browse… button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderField {
    /// `file_management.input_directory`.
    StemSources,
    /// `analysis.input_directory`.
    Data,
    /// `file_management.output_directory`.
    Output,
}

impl FolderField {
    /// The field's label.
    pub fn label(self) -> &'static str {
        match self {
            FolderField::StemSources => "Stem-source folder",
            FolderField::Data => "Data folder",
            FolderField::Output => "Output folder",
        }
    }

    /// The profile key the field edits.
    pub fn key(self) -> &'static str {
        match self {
            FolderField::StemSources => "file_management.input_directory",
            FolderField::Data => "analysis.input_directory",
            FolderField::Output => "file_management.output_directory",
        }
    }

    fn slot(self, profile: &mut Profile) -> &mut Option<String> {
        match self {
            FolderField::StemSources => &mut profile.file_management.input_directory,
            FolderField::Data => &mut profile.analysis.input_directory,
            FolderField::Output => &mut profile.file_management.output_directory,
        }
    }

    /// The folder as written in the profile.
    pub fn current(self, profile: &Profile) -> Option<String> {
        let mut copy = profile.clone();
        self.slot(&mut copy).clone()
    }

    /// Writes a folder into the profile.
    pub fn set(self, profile: &mut Profile, value: String) {
        *self.slot(profile) = Some(value).filter(|v| !v.is_empty());
    }
}

/// Text being typed into fields whose value is parsed (lists, numbers), so a
/// half-typed "csv, " is not rewritten under the cursor.
#[derive(Debug, Default)]
pub struct Form {
    texts: HashMap<&'static str, String>,
}

/// The form's number fields (their text must parse before a run).
const NUMBER_KEYS: [&str; 3] = [
    "file_management.filename.filters.min_size_kb",
    "file_management.filename.filters.max_size_kb",
    "parallel_processing.timeout_per_file",
];

fn list_text(list: &[String]) -> String {
    list.join(", ")
}

/// The items of a list field: separated by commas; spaces inside an item
/// are part of it (`old run` is one item).
fn parse_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn number_text(n: Option<f64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

impl Form {
    /// The first number field whose text is not a number, with the reason:
    /// the profile still holds the last good value, so a run would not do
    /// what the field shows.
    pub fn unparsed(&self) -> Option<String> {
        NUMBER_KEYS.iter().find_map(|key| {
            let text = self.texts.get(key)?.trim();
            (!text.is_empty() && text.parse::<f64>().is_err())
                .then(|| format!("{key}: `{text}` is not a number"))
        })
    }

    /// Takes the texts from a newly loaded profile.
    pub fn reset(&mut self, profile: &Profile) {
        let fm = &profile.file_management;
        let filters = &fm.filename.filters;
        self.texts = HashMap::from([
            (
                "file_management.filename.extension",
                list_text(&fm.filename.extension),
            ),
            (
                "analysis.filename.extension",
                list_text(&profile.analysis.filename.extension),
            ),
            (
                "file_management.filename.filters.contains",
                list_text(&filters.contains),
            ),
            (
                "file_management.filename.filters.not_contains",
                list_text(&filters.not_contains),
            ),
            (
                "file_management.filename.filters.min_size_kb",
                number_text(filters.min_size_kb),
            ),
            (
                "file_management.filename.filters.max_size_kb",
                number_text(filters.max_size_kb),
            ),
            (
                "parallel_processing.timeout_per_file",
                number_text(profile.parallel_processing.timeout_per_file),
            ),
        ]);
    }

    /// Draws the form; edits go straight into `profile`, Browse… clicks into `commands`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        profile: &mut Profile,
        errors: &HashMap<&'static str, String>,
        commands: &mut Vec<Command>,
    ) {
        let mut local_errors: HashMap<&'static str, String> = HashMap::new();
        egui::CollapsingHeader::new("Stem sources")
            .default_open(true)
            .show(ui, |ui| {
                folder_ui(
                    ui,
                    FolderField::StemSources,
                    profile,
                    errors,
                    commands,
                    "the profile's folder",
                );
                self.list_ui(
                    ui,
                    "Stem-source extensions",
                    "file_management.filename.extension",
                    &mut profile.file_management.filename.extension,
                    "yml",
                    errors,
                );
                let filename = &mut profile.file_management.filename;
                optional_text_ui(
                    ui,
                    "File name pattern",
                    "file_management.filename.pattern",
                    &mut filename.pattern,
                    "file name contains…",
                    errors,
                );
                self.list_ui(
                    ui,
                    "Stem contains",
                    "file_management.filename.filters.contains",
                    &mut filename.filters.contains,
                    "all of these",
                    errors,
                );
                self.list_ui(
                    ui,
                    "Stem does not contain",
                    "file_management.filename.filters.not_contains",
                    &mut filename.filters.not_contains,
                    "none of these",
                    errors,
                );
                optional_text_ui(
                    ui,
                    "Stem regex",
                    "file_management.filename.filters.regex",
                    &mut filename.filters.regex,
                    "e.g. _0\\d\\ddeg$",
                    errors,
                );
                self.number_ui(
                    ui,
                    "Min size KiB",
                    "file_management.filename.filters.min_size_kb",
                    &mut filename.filters.min_size_kb,
                    errors,
                    &mut local_errors,
                );
                self.number_ui(
                    ui,
                    "Max size KiB",
                    "file_management.filename.filters.max_size_kb",
                    &mut filename.filters.max_size_kb,
                    errors,
                    &mut local_errors,
                );
            });
        egui::CollapsingHeader::new("Data files")
            .default_open(true)
            .show(ui, |ui| {
                folder_ui(ui, FolderField::Data, profile, errors, commands, "required");
                self.list_ui(
                    ui,
                    "Data extensions",
                    "analysis.filename.extension",
                    &mut profile.analysis.filename.extension,
                    "csv",
                    errors,
                );
                ui.label("Stem match");
                for mode in StemMatch::ALL {
                    ui.radio_value(&mut profile.archive.stem_match, mode, mode.name());
                    ui.label(RichText::new(mode.explanation()).small().weak());
                }
            });
        egui::CollapsingHeader::new("Output")
            .default_open(true)
            .show(ui, |ui| {
                folder_ui(ui, FolderField::Output, profile, errors, commands, "results");
                ui.checkbox(&mut profile.default.config.overwrite.output, "Overwrite existing zips")
                    .on_hover_text("Off: a stem whose zip exists is skipped and the zip left alone");
                let archive = &mut profile.archive;
                ui.horizontal(|ui| {
                    let label = ui.label("Compression");
                    egui::ComboBox::from_id_salt("compression")
                        .selected_text(archive.compression.name())
                        .show_ui(ui, |ui| {
                            for c in Compression::ALL {
                                ui.selectable_value(&mut archive.compression, c, c.name());
                            }
                        })
                        .response
                        .labelled_by(label.id);
                });
                if let Some(range) = archive.compression.levels() {
                    ui.horizontal(|ui| {
                        let mut custom = archive.level.is_some();
                        let check = ui.checkbox(&mut custom, "Compression level");
                        match (custom, archive.level) {
                            (true, None) => archive.level = archive.compression.default_level(),
                            (false, Some(_)) => archive.level = None,
                            _ => {}
                        }
                        if let Some(level) = &mut archive.level {
                            ui.add(egui::DragValue::new(level).range(range))
                                .labelled_by(check.id);
                        } else {
                            ui.label(RichText::new(format!(
                                "default ({})",
                                archive.compression.default_level().unwrap_or_default()
                            )).weak());
                        }
                    });
                }
                error_ui(ui, "archive.level", errors);
                ui.checkbox(&mut archive.verify, "Verify each zip after writing")
                    .on_hover_text("Read every zip back and check each entry's CRC-32 before the stem counts as done");
                ui.checkbox(&mut archive.delete_originals, "Move: delete the originals once zipped")
                    .on_hover_text("Each stem's data files are deleted once its zip is complete, flushed to disk and read back in full (verify is on); you are asked once per run, with how many files go");
                if archive.delete_originals {
                    ui.checkbox(&mut archive.accept_unflushed_folder, "Delete even where the folder entry cannot be flushed")
                        .on_hover_text("Windows and some network shares cannot flush a folder: without this, move mode keeps the originals there");
                }
                ui.checkbox(&mut archive.update, "Update: rewrite only zips whose files changed")
                    .on_hover_text("A zip that already holds exactly the stem's files (same names, sizes, modification times and compression method) is left as it is and reported up to date; the others are rebuilt");
            });
        egui::CollapsingHeader::new("Parallel processing")
            .default_open(true)
            .show(ui, |ui| {
                // Values the profile held that could not be used: each shows
                // its warning under its field until the field is set.
                let notes: HashMap<&'static str, String> = profile
                    .safe_defaults()
                    .iter()
                    .map(|d| (d.key, format!("{d} (the original's safe default)")))
                    .collect();
                let mut set_keys = Vec::new();
                let pp = &mut profile.parallel_processing;
                noted_checkbox_ui(
                    ui,
                    (
                        &mut pp.enabled,
                        "Parallel processing",
                        "Off: one stem at a time",
                    ),
                    "parallel_processing.enabled",
                    &notes,
                    &mut set_keys,
                );
                let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
                ui.add_enabled_ui(pp.enabled, |ui| {
                    ui.horizontal(|ui| {
                        let label = ui.label("Max workers");
                        let mut auto = !matches!(pp.max_workers, Workers::Count(_));
                        let toggled = ui
                            .checkbox(&mut auto, "Auto")
                            .labelled_by(label.id)
                            .changed();
                        if toggled {
                            pp.max_workers = if auto {
                                Workers::Auto
                            } else {
                                Workers::Count(
                                    NonZeroUsize::new(cores).unwrap_or(NonZeroUsize::MIN),
                                )
                            };
                        }
                        if let Workers::Count(n) = &mut pp.max_workers {
                            let mut value = n.get();
                            ui.add(
                                egui::DragValue::new(&mut value)
                                    .range(1..=1024)
                                    .suffix(" workers"),
                            )
                            .labelled_by(label.id);
                            *n = NonZeroUsize::new(value).unwrap_or(NonZeroUsize::MIN);
                        }
                        ui.label(RichText::new(format!("this machine has {cores} cores")).weak());
                    });
                });
                if let Workers::Invalid(_) = pp.max_workers {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("max_workers {} is not valid; auto is used", pp.max_workers),
                    );
                }
                let timeout = pp.timeout_per_file;
                self.number_ui(
                    ui,
                    "Timeout per stem (s)",
                    "parallel_processing.timeout_per_file",
                    &mut pp.timeout_per_file,
                    errors,
                    &mut local_errors,
                );
                if pp.timeout_per_file != timeout {
                    set_keys.push("parallel_processing.timeout_per_file");
                }
                note_ui(ui, "parallel_processing.timeout_per_file", &notes);
                noted_checkbox_ui(
                    ui,
                    (
                        &mut pp.save_error_reports,
                        "Save error reports",
                        "Write stemzip-report-<time>.yaml into the output folder when a stem fails",
                    ),
                    "parallel_processing.save_error_reports",
                    &notes,
                    &mut set_keys,
                );
                noted_checkbox_ui(
                    ui,
                    (
                        &mut pp.progress_reporting,
                        "Progress reporting",
                        "Progress on the terminal for `stemzip run`",
                    ),
                    "parallel_processing.progress_reporting",
                    &notes,
                    &mut set_keys,
                );
                note_ui(ui, "parallel_processing", &notes);
                for key in set_keys {
                    profile.clear_safe_default(key);
                }
            });
    }

    fn list_ui(
        &mut self,
        ui: &mut Ui,
        label: &str,
        key: &'static str,
        list: &mut Vec<String>,
        hint: &str,
        errors: &HashMap<&'static str, String>,
    ) {
        let text = self.texts.entry(key).or_insert_with(|| list_text(list));
        ui.horizontal(|ui| {
            let l = ui.label(label);
            let response = ui
                .add(
                    egui::TextEdit::singleline(text)
                        .hint_text(hint)
                        .desired_width(180.0),
                )
                .labelled_by(l.id)
                .on_hover_text("comma-separated; spaces belong to the item");
            if response.changed() {
                *list = parse_list(text);
            }
        });
        // The items as they will be used, so "old run" is seen to be one.
        if !list.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.add_space(12.0);
                for item in list.iter() {
                    egui::Frame::new()
                        .fill(ui.visuals().faint_bg_color)
                        .stroke(ui.visuals().widgets.noninteractive.bg_stroke)
                        .corner_radius(4.0)
                        .inner_margin(egui::Margin::symmetric(4, 0))
                        .show(ui, |ui| {
                            ui.label(RichText::new(item).small())
                                .on_hover_text(format!("{label}: one item, `{item}`"));
                        });
                }
            });
        }
        error_ui(ui, key, errors);
    }

    fn number_ui(
        &mut self,
        ui: &mut Ui,
        label: &str,
        key: &'static str,
        value: &mut Option<f64>,
        errors: &HashMap<&'static str, String>,
        local_errors: &mut HashMap<&'static str, String>,
    ) {
        let text = self.texts.entry(key).or_insert_with(|| number_text(*value));
        ui.horizontal(|ui| {
            let l = ui.label(label);
            let response = ui
                .add(
                    egui::TextEdit::singleline(text)
                        .hint_text("none")
                        .desired_width(80.0),
                )
                .labelled_by(l.id);
            if response.changed() {
                let trimmed = text.trim();
                if trimmed.is_empty() {
                    *value = None;
                } else if let Ok(n) = trimmed.parse::<f64>() {
                    *value = Some(n);
                }
            }
        });
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.parse::<f64>().is_err() {
            local_errors.insert(key, format!("`{trimmed}` is not a number"));
            error_ui(ui, key, local_errors);
        } else {
            error_ui(ui, key, errors);
        }
    }
}

/// A folder field: label, text, Browse… button, and its error.
fn folder_ui(
    ui: &mut Ui,
    field: FolderField,
    profile: &mut Profile,
    errors: &HashMap<&'static str, String>,
    commands: &mut Vec<Command>,
    hint: &str,
) {
    let slot = field.slot(profile);
    let mut text = slot.clone().unwrap_or_default();
    ui.horizontal(|ui| {
        let label = ui.label(field.label());
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .hint_text(hint)
                    .desired_width(220.0),
            )
            .labelled_by(label.id);
        if response.changed() {
            *slot = Some(text.clone()).filter(|t| !t.trim().is_empty());
        }
        if ui
            .button("Browse…")
            .on_hover_text(format!("Choose the {}", field.label().to_lowercase()))
            .clicked()
        {
            commands.push(Command::BrowseFolder(field));
        }
    });
    error_ui(ui, field.key(), errors);
}

/// A text field for an optional string (empty means none).
fn optional_text_ui(
    ui: &mut Ui,
    label: &str,
    key: &'static str,
    value: &mut Option<String>,
    hint: &str,
    errors: &HashMap<&'static str, String>,
) {
    let mut text = value.clone().unwrap_or_default();
    ui.horizontal(|ui| {
        let l = ui.label(label);
        let response = ui
            .add(
                egui::TextEdit::singleline(&mut text)
                    .hint_text(hint)
                    .desired_width(180.0),
            )
            .labelled_by(l.id);
        if response.changed() {
            *value = Some(text.clone()).filter(|t| !t.is_empty());
        }
    });
    error_ui(ui, key, errors);
}

/// A checkbox (value, label, hover text) with the safe-default note of its
/// `key` under it; a click records the key in `set_keys`.
fn noted_checkbox_ui(
    ui: &mut Ui,
    (value, label, hover): (&mut bool, &str, &str),
    key: &'static str,
    notes: &HashMap<&'static str, String>,
    set_keys: &mut Vec<&'static str>,
) {
    if ui.checkbox(value, label).on_hover_text(hover).changed() {
        set_keys.push(key);
    }
    note_ui(ui, key, notes);
}

/// The safe-default note of `key`, in the warning colour, under its field.
fn note_ui(ui: &mut Ui, key: &str, notes: &HashMap<&'static str, String>) {
    if let Some(note) = notes.get(key) {
        ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {note}"));
    }
}

/// The error of `key`, in the error colour, under its field.
fn error_ui(ui: &mut Ui, key: &str, errors: &HashMap<&'static str, String>) {
    if let Some(message) = errors.get(key) {
        ui.colored_label(ui.visuals().error_fg_color, format!("⚠ {message}"));
    }
}
