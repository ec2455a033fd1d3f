//! Commands: what clicks, shortcuts and dialogs ask for, run after the
//! frame is drawn; file dialogs; the unsaved-changes answer.

use std::path::{Path, PathBuf};

use super::dialogs::{Ask, Pick};
use super::{Command, Document, Msg, PROFILE_FILES, REPORT_FILES, StemzipApp};
use crate::plan;

impl StemzipApp {
    pub(super) fn profile_dialog_dir(&self) -> PathBuf {
        self.doc.base_dir()
    }

    /// A question for a profile or report file, starting in the profile's folder.
    fn file_question(
        &self,
        title: &str,
        pick: Pick,
        filter: (&'static str, &'static [&'static str]),
    ) -> Ask {
        Ask {
            title: title.to_owned(),
            pick,
            start: self.profile_dialog_dir(),
            current: None,
            file_name: None,
            filter: Some(filter),
        }
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
                let ask = self.file_question("Open profile", Pick::File, PROFILE_FILES);
                self.ask(ask, Command::OpenProfile);
            }
            Command::OpenProfile(path) => self.open_profile(&path),
            Command::Save => match self.doc.path.clone() {
                Some(path) if !self.doc.overridden => self.save_to(&path),
                _ => self.execute(Command::SaveAsDialog),
            },
            Command::SaveAsDialog => {
                let mut ask = self.file_question("Save profile as", Pick::NewFile, PROFILE_FILES);
                ask.file_name = Some(self.doc.name());
                self.ask(ask, Command::SaveAs);
            }
            Command::SaveAs(path) => self.save_to(&path),
            Command::BrowseFolder(field) => {
                let base = self.doc.base_dir();
                let current = field
                    .current(&self.doc.profile)
                    .map(|raw| plan::resolve_path(&base, &raw));
                let ask = Ask {
                    title: field.label().to_owned(),
                    pick: Pick::Folder,
                    start: base,
                    current,
                    file_name: None,
                    filter: None,
                };
                self.ask(ask, move |p| Command::SetFolder(field, p));
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
                let mut ask = self.file_question("Save run report", Pick::NewFile, REPORT_FILES);
                ask.start = dir;
                ask.file_name = Some(name);
                self.ask(ask, Command::SaveReport);
            }
            Command::SaveReport(path) => match self.last_report.clone() {
                Some(report) => self.in_background(move || {
                    let result = report.save(&path).map_err(|e| e.to_string());
                    Msg::ReportSaved { path, result }
                }),
                None => self.notify_error("nothing to report: run the profile first"),
            },
            Command::OpenReportDialog => {
                let ask = self.file_question("Open run reports", Pick::Files, REPORT_FILES);
                self.ask_many(ask, Command::OpenReports);
            }
            Command::OpenReport(path) => self.open_reports(vec![path]),
            Command::OpenReports(paths) => self.open_reports(paths),
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
