//! Profile and report files: opening, saving, remembering recent profiles,
//! and the run report (the engine's, of the last run, or one opened).

use std::path::{Path, PathBuf};

use super::{Document, Msg, RECENT_PROFILES, StemzipApp, load_profile};
use crate::gui::results::Row;
use crate::profile::Profile;
use crate::report::Report;

impl StemzipApp {
    pub(super) fn open_profile(&mut self, path: &Path) {
        let path = path.to_owned();
        self.in_background(move || load_profile(path, None));
    }

    pub(super) fn profile_loaded(
        &mut self,
        path: PathBuf,
        result: Result<(Profile, Option<Profile>), String>,
    ) {
        match result {
            Ok((saved, edited)) => {
                let has_file = !path.as_os_str().is_empty();
                let overridden = edited.is_some();
                self.set_document(Document {
                    profile: edited.unwrap_or_else(|| saved.clone()),
                    saved,
                    path: has_file.then(|| path.clone()),
                    overridden,
                });
                if has_file {
                    self.remember(path.clone());
                    self.notify(if overridden {
                        format!(
                            "opened {} with the command line's overrides (unsaved; Save asks where)",
                            path.display()
                        )
                    } else {
                        format!("opened {}", path.display())
                    });
                }
            }
            Err(e) => {
                self.notify_error(e);
                if self.generation == 0 {
                    self.request_preview();
                }
            }
        }
    }

    pub(super) fn set_document(&mut self, doc: Document) {
        self.doc = doc;
        self.form.reset(&self.doc.profile);
        self.request_preview();
    }

    pub(super) fn save_to(&mut self, path: &Path) {
        let path = path.to_owned();
        let profile = Box::new(self.doc.profile.clone());
        self.in_background(move || {
            let result = profile.save(&path).map_err(|e| e.to_string());
            let path = dunce::canonicalize(&path).unwrap_or(path);
            Msg::ProfileSaved {
                path,
                profile,
                result,
            }
        });
    }

    pub(super) fn profile_saved(
        &mut self,
        path: PathBuf,
        profile: Profile,
        result: Result<(), String>,
    ) {
        let after = self.after_save.take();
        match result {
            Ok(()) => {
                self.doc.path = Some(path.clone());
                self.doc.overridden = false;
                // What was saved; edits made meanwhile stay marked unsaved.
                self.doc.saved = profile;
                self.remember(path.clone());
                self.notify(format!("saved {}", path.display()));
                // Relative paths now resolve against the new folder.
                self.request_preview();
                self.commands.extend(after);
            }
            Err(e) => self.notify_error(e),
        }
    }

    pub(super) fn remember(&mut self, path: PathBuf) {
        self.remembered.recent.retain(|p| *p != path);
        self.remembered.recent.insert(0, path.clone());
        self.remembered.recent.truncate(RECENT_PROFILES);
        self.remembered.last_profile = Some(path);
    }

    /// Whether there is a run report to save: the last run's, or the one
    /// last opened.
    pub fn has_report(&self) -> bool {
        self.last_report.is_some()
    }

    pub(super) fn open_report(&mut self, path: &Path) {
        let path = path.to_owned();
        self.in_background(move || {
            let result = Report::load(&path).map(Box::new).map_err(|e| e.to_string());
            Msg::ReportLoaded { path, result }
        });
    }

    pub(super) fn report_loaded(&mut self, path: &Path, report: &Report) {
        match report.profile() {
            Ok(profile) => self.set_document(Document {
                saved: profile.clone(),
                profile,
                path: report.profile_path.clone(),
                overridden: false,
            }),
            Err(e) => self.notify_error(format!("the report's profile cannot be used: {e}")),
        }
        self.results
            .set_rows(report.stems.iter().map(Row::from_outcome).collect());
        self.last_report = Some(report.clone());
        self.notify(format!(
            "opened report {} ({} stems listed, {} failed or timed out)",
            path.display(),
            report.stems.len(),
            report.failed_stems().len()
        ));
    }
}
