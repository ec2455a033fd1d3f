//! The run's bookkeeping, on the thread that called the engine: every event
//! passes through [`Tally::record`] on its way to the caller, which counts
//! it in the summary and keeps each stem's outcome for the error report.
//!
//! Threads: none of its own. What crosses its boundary: [`Event`]s in (from
//! the stem and commit threads, over the engine's channel), the same events
//! out to the caller's sink, then the [`Summary`] in the last event.

use std::time::Instant;

use super::moving::{End, Mover};
use crate::cancel::CancelToken;
use crate::event::{Event, Summary};
use crate::plan::Plan;
use crate::report::{Report, StemOutcome};

/// Counts a run's events and remembers how each stem ended.
pub(super) struct Tally<'p, S: FnMut(Event)> {
    plan: &'p Plan,
    sink: S,
    outcomes: Vec<Option<StemOutcome>>,
    /// Warnings of stems that have not ended yet.
    warnings: Vec<Vec<String>>,
    /// Move mode: deletes the files of stems whose zips qualify.
    mover: Option<Mover>,
    summary: Summary,
    started: Instant,
}

impl<'p, S: FnMut(Event)> Tally<'p, S> {
    /// Starts the tally of a run of `plan`: every stem is reported queued.
    pub(super) fn new(plan: &'p Plan, sink: S) -> Self {
        let mut tally = Tally {
            plan,
            sink,
            outcomes: vec![None; plan.stems.len()],
            warnings: vec![Vec::new(); plan.stems.len()],
            mover: Mover::new(plan),
            summary: Summary {
                stems: plan.stems.len(),
                ..Summary::default()
            },
            started: Instant::now(),
        };
        for (i, stem) in plan.stems.iter().enumerate() {
            tally.record(Event::Queued {
                stem: i,
                name: stem.name.clone(),
                files: stem.members.len(),
                bytes: stem.total_size(),
            });
        }
        tally
    }

    /// Counts `event` (a stem's terminal event once) and hands it on.
    pub(super) fn record(&mut self, event: Event) {
        match &event {
            Event::Warning { stem, .. } | Event::Deleted { stem, .. } => {
                if let Event::Deleted { files, bytes, .. } = &event {
                    self.summary.files_deleted += files;
                    self.summary.bytes_freed += bytes;
                }
                match self.outcomes.get_mut(*stem) {
                    // After the stem ended (move mode): into its outcome.
                    Some(Some(outcome)) => outcome.record(&event),
                    _ => {
                        if let (Event::Warning { message, .. }, Some(pending)) =
                            (&event, self.warnings.get_mut(*stem))
                        {
                            pending.push(message.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        let mut ended = None;
        if let (Some(i), Some(status)) = (event.stem(), event.status())
            && status.is_terminal()
            && let (Some(slot), Some(stem)) = (self.outcomes.get_mut(i), self.plan.stems.get(i))
            && slot.is_none()
        {
            self.summary.count(status);
            if let Event::Finished {
                bytes_in,
                bytes_out,
                ..
            } = &event
            {
                self.summary.bytes_in += bytes_in;
                self.summary.bytes_out += bytes_out;
            }
            let mut outcome = StemOutcome::from_event(stem, &event);
            if let Some(pending) = self.warnings.get_mut(i) {
                outcome.warnings = std::mem::take(pending);
            }
            *slot = Some(outcome);
            ended = Some((
                i,
                End::of(&event, self.plan.settings.accept_unflushed_folder),
            ));
        }
        (self.sink)(event);
        // Files are deleted after the stem's end was handed on: what it
        // reports about them follows it.
        let plan = self.plan;
        let follows = match (ended, self.mover.as_mut()) {
            (Some((i, end)), Some(mover)) => mover.stem_ended(plan, i, end),
            _ => Vec::new(),
        };
        for follow in follows {
            self.record(follow);
        }
    }

    /// Reports every stem of `stems` that has no outcome yet as failed
    /// with `error`.
    pub(super) fn fail_unfinished(&mut self, stems: &[usize], error: &str) {
        for &i in stems {
            if self.outcomes.get(i).is_some_and(Option::is_none) {
                self.record(Event::Failed {
                    stem: i,
                    name: self.plan.stems[i].name.clone(),
                    error: error.to_owned(),
                    seconds: 0.0,
                });
            }
        }
    }

    /// Ends the run: a stem still without an outcome (which the engine
    /// never leaves) is failed, the report is written if asked for (every
    /// stem for a shard's run or a full report, else the problems), and the
    /// summary goes out as the last event.
    pub(super) fn finish(mut self, cancel: &CancelToken) {
        let all: Vec<usize> = (0..self.plan.stems.len()).collect();
        self.fail_unfinished(&all, "internal error: the stem ended without a result");
        let mut summary = self.summary;
        summary.seconds = self.started.elapsed().as_secs_f64();
        summary.was_cancelled = cancel.is_cancelled();
        let settings = &self.plan.settings;
        let full = settings.full_report || self.plan.shard.is_some();
        let listed: Vec<StemOutcome> = self
            .outcomes
            .into_iter()
            .flatten()
            .filter(|o| full || o.status.is_problem() || !o.warnings.is_empty())
            .collect();
        if full || (settings.save_error_reports && !listed.is_empty()) {
            let report = Report::new(self.plan, summary.clone(), listed);
            let saved = match &settings.report_path {
                Some(path) => report.save(path).map(|()| path.clone()),
                None => report.save_in(&self.plan.output_dir),
            };
            match saved {
                Ok(path) => summary.report = Some(path),
                Err(e) => summary.report_error = Some(e.to_string()),
            }
        }
        (self.sink)(Event::RunFinished(summary));
    }
}
