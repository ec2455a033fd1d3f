//! Commands: what clicks, shortcuts and dialogs ask for, run after the
//! frame is drawn; file dialogs; the unsaved-changes answer.

use std::path::{Path, PathBuf};

use super::{Command, Document, Msg, PROFILE_FILES, Pick, REPORT_FILES, StemzipApp, file_dialog};
use crate::plan;

impl StemzipApp {
    /// Opens the dialog `dialog` builds (on its own thread: the system's
    /// dialogs block, and building one may look at folders); the path
    /// picked becomes a command through `then`, a cancel nothing.
    pub(super) fn ask(
        &mut self,
        dialog: impl FnOnce() -> rfd::FileDialog + Send + 'static,
        pick: Pick,
        then: impl FnOnce(PathBuf) -> Command + Send + 'static,
    ) {
        if self.dialog_open {
            return;
        }
        self.dialog_open = true;
        if self.scripted_dialogs {
            self.asked = Some(Box::new(then));
            return;
        }
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            let dialog = dialog();
            let picked = match pick {
                Pick::File => dialog.pick_file(),
                Pick::NewFile => dialog.save_file(),
                Pick::Folder => dialog.pick_folder(),
            };
            let _ = tx.send(Msg::Dialog(picked.map(then)));
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    /// Answers the open file dialog with `path` (`None`: cancelled), when
    /// dialogs are scripted ([`AppOptions::scripted_dialogs`]).
    pub fn answer_dialog(&mut self, path: Option<PathBuf>) {
        if let Some(then) = self.asked.take() {
            let _ = self.tx.send(Msg::Dialog(path.map(then)));
        }
    }

    /// Whether a file dialog is open.
    pub fn is_asking(&self) -> bool {
        self.dialog_open
    }

    pub(super) fn profile_dialog_dir(&self) -> PathBuf {
        self.doc.base_dir()
    }

    /// Runs one command.
    pub(crate) fn execute(&mut self, command: Command) {
        if command.replaces_profile() && self.doc.is_dirty() {
            self.pending = Some(command);
            return;
        }
        match command {
            Command::NewProfile => {
                self.set_document(Document::default());
                self.results.set_rows(Vec::new());
                self.last_report = None;
                self.notify("new profile");
            }
            Command::OpenProfileDialog => {
                let dialog = file_dialog("Open profile", PROFILE_FILES, self.profile_dialog_dir());
                self.ask(move || dialog, Pick::File, Command::OpenProfile);
            }
            Command::OpenProfile(path) => self.open_profile(&path),
            Command::Save => match self.doc.path.clone() {
                Some(path) if !self.doc.overridden => self.save_to(&path),
                _ => self.execute(Command::SaveAsDialog),
            },
            Command::SaveAsDialog => {
                let dialog =
                    file_dialog("Save profile as", PROFILE_FILES, self.profile_dialog_dir())
                        .set_file_name(self.doc.name());
                self.ask(move || dialog, Pick::NewFile, Command::SaveAs);
            }
            Command::SaveAs(path) => self.save_to(&path),
            Command::BrowseFolder(field) => {
                let base = self.doc.base_dir();
                let current = field
                    .current(&self.doc.profile)
                    .map(|raw| plan::resolve_path(&base, &raw));
                let dialog = move || {
                    let start = current.filter(|p| p.is_dir()).unwrap_or(base);
                    rfd::FileDialog::new()
                        .set_title(field.label())
                        .set_directory(start)
                };
                self.ask(dialog, Pick::Folder, move |p| Command::SetFolder(field, p));
            }
            Command::SetFolder(field, path) => {
                let base = self.doc.base_dir();
                let text = match path.strip_prefix(&base) {
                    Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
                    _ => path.to_string_lossy().into_owned(),
                };
                field.set(&mut self.doc.profile, text);
                self.form.reset(&self.doc.profile);
                self.request_preview();
            }
            Command::Run => match self.run_blocked_reason() {
                None => self.start_run(None),
                Some(reason) => self.notify_error(format!("cannot run: {reason}")),
            },
            Command::Cancel => {
                if let Some(active) = &self.active {
                    active.run.cancel();
                    self.notify("cancelling…");
                }
            }
            Command::RetryFailed => {
                let failed = self.results.failed_stems();
                if failed.is_empty() {
                    self.notify("no failed stems to retry");
                } else if self.run_blocked_reason().is_none() {
                    self.start_run(Some(failed));
                }
            }
            Command::SaveReportDialog => {
                let dir = self.profile_dialog_dir();
                let name = format!(
                    "stemzip-report-{}.yaml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
                );
                let dialog = file_dialog("Save run report", REPORT_FILES, dir).set_file_name(name);
                self.ask(move || dialog, Pick::NewFile, Command::SaveReport);
            }
            Command::SaveReport(path) => match self.last_report.clone() {
                Some(report) => self.in_background(move || {
                    let result = report.save(&path).map_err(|e| e.to_string());
                    Msg::ReportSaved { path, result }
                }),
                None => self.notify_error("nothing to report: run the profile first"),
            },
            Command::OpenReportDialog => {
                let dialog =
                    file_dialog("Open run report", REPORT_FILES, self.profile_dialog_dir());
                self.ask(move || dialog, Pick::File, Command::OpenReport);
            }
            Command::OpenReport(path) => self.open_report(&path),
            Command::SetTheme(choice) => {
                self.remembered.theme = choice;
                if let Some(ctx) = &self.ctx {
                    ctx.set_theme(choice.preference());
                }
            }
            Command::ShowFolder(path) => {
                if let Err(e) = open::that_detached(&path) {
                    self.notify_error(format!("cannot open {}: {e}", path.display()));
                }
            }
            Command::Quit => {
                if let Some(active) = &self.active {
                    active.run.cancel();
                }
                self.allow_close = true;
                if let Some(ctx) = &self.ctx {
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
        }
    }

    /// The "unsaved changes" question, answered.
    pub(crate) fn resolve_pending(&mut self, save_first: Option<bool>) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        match save_first {
            None => {}
            Some(true) => {
                // What the user was doing goes on once the profile is saved;
                // an untitled or overridden profile is saved as a new file.
                self.after_save = Some(pending);
                match self.doc.path.clone() {
                    Some(path) if !self.doc.overridden => self.save_to(&path),
                    _ => self.commands.push(Command::SaveAsDialog),
                }
            }
            Some(false) => {
                self.doc.saved = self.doc.profile.clone();
                self.commands.push(pending);
            }
        }
    }

    pub(crate) fn pending(&self) -> Option<&Command> {
        self.pending.as_ref()
    }

    pub(crate) fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }
}
