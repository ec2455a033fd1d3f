//! Runs: the plan preview while the form is edited, starting a run on a
//! background thread, and taking in the engine's events (woken by the run,
//! bounded in time per frame).

use std::sync::mpsc::TryRecvError;
use std::time::Instant;

use super::{ActiveRun, EVENT_TIME_PER_FRAME, Msg, NOTICE_AFTER, StemzipApp};
use crate::engine::{self, CancelToken, Event, Run, Summary};
use crate::gui::results::Row;
use crate::plan::{self, Plan, PlanError};
use crate::report::{Report, StemOutcome};

/// Starts the engine on `plan`, waking the window at its events.
fn launch(plan: Plan, ctx: Option<egui::Context>) -> Result<(Run, Box<Plan>), String> {
    let run = engine::start_waking(plan.clone(), CancelToken::new(), move || {
        if let Some(ctx) = &ctx {
            ctx.request_repaint();
        }
    })
    .map_err(|e| e.to_string())?;
    Ok((run, Box::new(plan)))
}

/// A move-mode run waiting for the user's yes.
pub(crate) struct MoveQuestion {
    pub(super) plan: Box<Plan>,
    pub(super) retry: bool,
    /// Files that would be deleted, and their bytes.
    files: usize,
    bytes: u64,
}

impl StemzipApp {
    /// The move-mode question waiting for an answer, if any: how many
    /// files the run would delete, and their bytes.
    pub fn move_question(&self) -> Option<(usize, u64)> {
        self.move_question.as_ref().map(|q| (q.files, q.bytes))
    }

    /// Answers the move-mode question: `true` starts the run.
    pub fn answer_move(&mut self, go: bool) {
        let Some(question) = self.move_question.take() else {
            return;
        };
        if go {
            match launch(*question.plan, self.ctx.clone()) {
                Ok((run, plan)) => self.run_started(run, plan, question.retry),
                Err(e) => self.notify_error(format!("cannot run: {e}")),
            }
        } else {
            self.notify("run not started: no file was zipped or deleted");
        }
    }

    pub(super) fn ask_move(&mut self, plan: Box<Plan>, retry: bool) {
        let originals = plan.originals();
        let (files, bytes) = (originals.len(), originals.iter().map(|m| m.size).sum());
        self.move_question = Some(MoveQuestion {
            plan,
            retry,
            files,
            bytes,
        });
    }

    // ----- preview --------------------------------------------------------

    pub(super) fn request_preview(&mut self) {
        self.edited_at = None;
        self.generation += 1;
        let generation = self.generation;
        let profile = self.doc.profile.clone();
        let base = self.doc.base_dir();
        self.planned_profile = Some((profile.clone(), base.clone()));
        self.preview.start(generation);
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            let errors = plan::check(&profile, &base);
            let ok = errors.is_empty();
            let _ = tx.send(Msg::Checked { generation, errors });
            if ok {
                let result = Plan::build(&profile, &base)
                    .map(Box::new)
                    .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Planned { generation, result });
            }
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    // ----- runs -----------------------------------------------------------

    pub(super) fn start_run(&mut self, only: Option<Vec<String>>) {
        if self.is_running() {
            return;
        }
        let profile = self.doc.profile.clone();
        let base = self.doc.base_dir();
        let path = self.doc.path.clone();
        self.starting_run = true;
        let retry = only.is_some();
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            let result = Plan::build(&profile, &base)
                .map_err(|e| match e {
                    PlanError::Settings(errors) => errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => other.to_string(),
                })
                .map(|mut plan| {
                    plan.profile_path = path;
                    if let Some(names) = &only {
                        plan.retain_stems(|s| names.iter().any(|n| n == s));
                    }
                    plan
                });
            let msg = match result {
                // Move mode: asked once, with what would go, before it starts.
                Ok(plan) if plan.settings.delete_originals => Msg::MoveAsked {
                    plan: Box::new(plan),
                    retry,
                },
                Ok(plan) => Msg::RunStarted {
                    result: launch(plan, ctx.clone()),
                    retry,
                },
                Err(e) => Msg::RunStarted {
                    result: Err(e),
                    retry,
                },
            };
            let _ = tx.send(msg);
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    pub(super) fn run_started(&mut self, run: Run, plan: Box<Plan>, retry: bool) {
        let retry = retry
            && plan
                .stems
                .iter()
                .all(|s| self.results.row_index(&s.name).is_some());
        let row_of = if retry {
            plan.stems
                .iter()
                .filter_map(|s| {
                    let i = self.results.row_index(&s.name)?;
                    self.results.reset_row(i, Row::planned(s));
                    Some(i)
                })
                .collect()
        } else {
            self.results
                .set_rows(plan.stems.iter().map(Row::planned).collect());
            (0..plan.stems.len()).collect()
        };
        self.results.begin_run(plan.stems.len(), plan.total_size());
        self.notify(format!(
            "running {} stems into {}",
            plan.stems.len(),
            plan.output_dir.display()
        ));
        let outcomes = plan.stems.iter().map(StemOutcome::planned).collect();
        self.active = Some(ActiveRun {
            run,
            plan,
            row_of,
            outcomes,
        });
    }

    /// Handles waiting engine events for at most [`EVENT_TIME_PER_FRAME`]
    /// (the frame is drawn meanwhile, and the rest comes next frame); when
    /// none is left, the run wakes the window with its next event.
    pub(super) fn drain_events(&mut self) {
        let Some(active) = &mut self.active else {
            return;
        };
        let started = Instant::now();
        let mut finished = None;
        loop {
            if started.elapsed() >= EVENT_TIME_PER_FRAME {
                if let Some(ctx) = &self.ctx {
                    ctx.request_repaint();
                }
                break;
            }
            match active.run.try_event() {
                Ok(Event::RunFinished(summary)) => {
                    finished = Some(summary);
                    break;
                }
                Ok(event) => {
                    if let Some(i) = event.stem() {
                        if let Some(&row) = active.row_of.get(i) {
                            self.results.apply(row, &event);
                        }
                        if let Some(outcome) = active.outcomes.get_mut(i) {
                            outcome.record(&event);
                        }
                    }
                }
                Err(TryRecvError::Disconnected) => {
                    finished = Some(Summary::default());
                    break;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        self.results.sample(false);
        if let Some(summary) = finished
            && let Some(active) = self.active.take()
        {
            self.results.end_run();
            self.last_report = Some(Report::new(&active.plan, summary.clone(), active.outcomes));
            let up_to_date = if summary.up_to_date > 0 {
                format!("{} up to date, ", summary.up_to_date)
            } else {
                String::new()
            };
            let mut text = format!(
                "run finished: {} done, {up_to_date}{} failed, {} timed out, {} skipped, {} cancelled in {:.1} s",
                summary.done,
                summary.failed,
                summary.timed_out,
                summary.skipped,
                summary.cancelled,
                summary.seconds
            );
            if summary.files_deleted > 0 {
                text.push_str(&format!(
                    "; {} original file(s) deleted, {} freed",
                    summary.files_deleted,
                    indicatif::BinaryBytes(summary.bytes_freed)
                ));
            }
            if let Some(report) = &summary.report {
                text.push_str(&format!("; error report {}", report.display()));
            }
            self.tell_if_away(&summary, &text);
            if summary.has_failures() {
                self.notify_error(text);
            } else {
                self.notify(text);
            }
        }
    }

    /// A run long enough that the user turned to something else ended while
    /// the window is not focused: the taskbar asks for attention and a
    /// desktop notification says how it went. Where there is no
    /// notification service (no D-Bus session), only the taskbar asks.
    fn tell_if_away(&mut self, summary: &Summary, text: &str) {
        let Some(ctx) = &self.ctx else {
            return;
        };
        if summary.seconds < NOTICE_AFTER.as_secs_f64() || ctx.input(|i| i.focused) {
            return;
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(
            egui::UserAttentionType::Informational,
        ));
        self.told_away += 1;
        if !self.desktop_notifications {
            return;
        }
        let (title, body) = (
            if summary.has_failures() {
                "stemzip: run finished with problems"
            } else {
                "stemzip: run finished"
            },
            text.to_owned(),
        );
        std::thread::spawn(move || {
            // Best effort: no notification service is not an error.
            let _ = notify_rust::Notification::new()
                .summary(title)
                .body(&body)
                .appname("stemzip")
                .show();
        });
    }
}
