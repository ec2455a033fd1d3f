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

    /// Reads the reports `paths` (merged into one table when several) on a
    /// background thread.
    pub(super) fn open_reports(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        self.in_background(move || {
            let result = paths
                .iter()
                .map(|path| Report::load(path).map(|r| (path.clone(), r)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
                .and_then(|mut reports| match reports.len() {
                    // One report opens as it is (its own time and summary).
                    1 => Ok(crate::report::Merged {
                        report: reports.swap_remove(0).1,
                        missing_shards: Vec::new(),
                        notes: Vec::new(),
                    }),
                    _ => {
                        crate::report::merge(reports).ok_or_else(|| "no report to open".to_owned())
                    }
                })
                .map(Box::new);
            Msg::ReportLoaded { paths, result }
        });
    }

    pub(super) fn report_loaded(&mut self, paths: &[PathBuf], merged: crate::report::Merged) {
        let report = &merged.report;
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
        let what = match paths {
            [path] => format!("report {}", path.display()),
            _ => format!(
                "{} reports as one ({} superseded entries)",
                paths.len(),
                report.superseded.len()
            ),
        };
        self.notify(format!(
            "opened {what} ({} stems listed, {} failed or timed out)",
            report.stems.len(),
            report.failed_stems().len()
        ));
        let missing = merged.missing_shards_list();
        for note in merged.notes {
            self.notify(note);
        }
        if let Some(list) = missing {
            self.notify_error(format!(
                "no report of shard(s) {list} was opened: their stems are not in the table"
            ));
        }
    }
}
