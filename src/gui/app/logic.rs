//! The window's logic between frames: answers from background threads,
//! engine events, the preview timer, dropped files, closing, the title.

use std::path::PathBuf;
use std::time::Duration;

use super::{Command, Msg, PREVIEW_DELAY, StemzipApp};

impl StemzipApp {
    /// Handles answers from other threads, events, timers; no drawing.
    pub(crate) fn logic(&mut self, ctx: &egui::Context) {
        if self.ctx.is_none() {
            self.ctx = Some(ctx.clone());
        }
        loop {
            match self.rx.try_recv() {
                Ok(Msg::Checked { generation, errors }) if generation == self.generation => {
                    self.errors = errors.iter().map(|e| (e.key, e.message.clone())).collect();
                    self.preview.checked(&errors);
                    if self.run_when_checked {
                        self.run_when_checked = false;
                        self.commands.push(Command::Run);
                    }
                }
                Ok(Msg::Planned { generation, result }) if generation == self.generation => {
                    self.preview.planned(result);
                }
                Ok(Msg::Checked { .. } | Msg::Planned { .. }) => {}
                Ok(Msg::RunStarted { result, retry }) => {
                    self.starting_run = false;
                    match result {
                        Ok((run, plan)) => self.run_started(run, plan, retry),
                        Err(e) => self.notify_error(format!("cannot run: {e}")),
                    }
                }
                Ok(Msg::MoveAsked { plan, retry }) => {
                    self.starting_run = false;
                    self.ask_move(plan, retry);
                }
                Ok(Msg::NoSystemDialog { ask, then }) => self.no_system_dialog(&ask, then),
                Ok(Msg::Dialog(chosen)) => {
                    self.dialog_open = false;
                    if chosen.is_none() {
                        // Cancelled: nothing waits for a save that will not come.
                        self.after_save = None;
                    }
                    self.commands.extend(chosen);
                }
                Ok(Msg::ProfileLoaded { path, result }) => {
                    self.busy_files -= 1;
                    self.profile_loaded(path, result.map(|(s, e)| (*s, e.map(|e| *e))));
                }
                Ok(Msg::ProfileSaved {
                    path,
                    profile,
                    result,
                }) => {
                    self.busy_files -= 1;
                    self.profile_saved(path, *profile, result);
                }
                Ok(Msg::ReportLoaded { paths, result }) => {
                    self.busy_files -= 1;
                    match result {
                        Ok(merged) => self.report_loaded(&paths, *merged),
                        Err(e) => self.notify_error(e),
                    }
                }
                Ok(Msg::ReportSaved { path, result }) => {
                    self.busy_files -= 1;
                    match result {
                        Ok(()) => self.notify(format!("report saved to {}", path.display())),
                        Err(e) => self.notify_error(e),
                    }
                }
                Err(_) => break,
            }
        }
        self.drain_events();

        if let Some(at) = self.edited_at {
            let waited = at.elapsed();
            if waited >= PREVIEW_DELAY {
                self.request_preview();
            } else {
                ctx.request_repaint_after(PREVIEW_DELAY - waited);
            }
        }
        if self.is_running() {
            // Only for the clock and the throughput shown; events wake the
            // window themselves.
            ctx.request_repaint_after(Duration::from_millis(500));
        }

        // Files dropped on the window: reports open into the table (several
        // as one), else a profile opens.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml")
                    })
                })
                .collect()
        });
        let (reports, profiles): (Vec<PathBuf>, Vec<PathBuf>) =
            dropped.into_iter().partition(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(crate::report::is_report_name)
            });
        if !reports.is_empty() {
            self.commands.push(Command::OpenReports(reports));
        } else if let Some(path) = profiles.into_iter().next() {
            self.commands.push(Command::OpenProfile(path));
        }

        self.check_glyphs(ctx);

        // Ctrl-C in the terminal that started the window, `kill`, a
        // logout: the window closes, its run cancelled (and waited for on
        // exit), without asking about unsaved changes.
        if crate::gui::termination_requested() && !self.allow_close {
            if let Some(active) = &self.active {
                active.run.cancel();
            }
            self.allow_close = true;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }

        // Closing with unsaved changes asks first.
        if ctx.input(|i| i.viewport().close_requested()) && !self.allow_close {
            if self.doc.is_dirty() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.pending = Some(Command::Quit);
            } else if let Some(active) = &self.active {
                active.run.cancel();
            }
        }

        let progress = match (&self.active, self.results.fraction_done()) {
            (Some(_), Some(fraction)) => format!("{:.0}% — ", fraction * 100.0),
            _ => String::new(),
        };
        let title = format!(
            "{progress}stemzip — {}{}",
            self.doc.name(),
            if self.doc.is_dirty() { " *" } else { "" }
        );
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Runs the commands the frame queued.
    pub(crate) fn run_commands(&mut self) {
        for command in std::mem::take(&mut self.commands) {
            self.execute(command);
        }
        if self
            .planned_profile
            .as_ref()
            .is_some_and(|(p, base)| *p != self.doc.profile || *base != self.doc.base_dir())
            && self.edited_at.is_none()
        {
            self.profile_edited();
        }
    }

    /// With `STEMZIP_CHECK_GLYPHS` set: says on standard error, whenever it
    /// changes, whether the window's fonts (with the system's fallbacks)
    /// can draw every stem name in the table. For support, and for the
    /// smoke test's check that no script is drawn as boxes.
    fn check_glyphs(&mut self, ctx: &egui::Context) {
        let Some(said) = &mut self.glyphs_said else {
            return;
        };
        let rows = self.results.rows();
        if rows.is_empty() {
            return;
        }
        let font = egui::FontId::proportional(14.0);
        let missing: Vec<&str> = rows
            .iter()
            .map(super::super::results::Row::stem)
            .filter(|name| !ctx.fonts_mut(|f| f.has_glyphs(&font, name)))
            .collect();
        let line = if missing.is_empty() {
            format!("all {} stem names can be drawn", rows.len())
        } else {
            format!("no glyphs for {}", missing.join(", "))
        };
        if *said != line {
            eprintln!("stemzip: glyph check: {line}");
            *said = line;
        }
    }
}
