//! The run's results: overall progress, a sortable, filterable table with
//! one row per stem (virtualised, so 100,000 rows scroll smoothly), and the
//! selected row's details.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use indicatif::{BinaryBytes, HumanDuration};

use super::app::{Command, status_colour};
use crate::engine::{Event, StemStatus};
use crate::plan::Stem;
use crate::report::StemOutcome;

/// How often a running table is re-sorted at most.
const RESORT_INTERVAL: Duration = Duration::from_millis(250);

/// One stem's row: how the stem stands, and what the plan said of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Status, sizes, time, error, members, zip.
    pub outcome: StemOutcome,
    /// Member files.
    pub files: usize,
    /// Planned input size.
    pub bytes_total: u64,
}

impl Row {
    /// A queued row for a planned stem.
    pub fn planned(stem: &Stem) -> Self {
        Row {
            outcome: StemOutcome::planned(stem),
            files: stem.members.len(),
            bytes_total: stem.total_size(),
        }
    }

    /// A row from a saved report.
    pub fn from_outcome(o: &StemOutcome) -> Self {
        Row {
            outcome: o.clone(),
            files: o.members.len(),
            bytes_total: o.bytes_planned.max(o.bytes_in),
        }
    }

    /// The stem.
    pub fn stem(&self) -> &str {
        &self.outcome.stem
    }

    /// Where the stem stands.
    pub fn status(&self) -> StemStatus {
        self.outcome.status
    }

    /// Zip size, once done.
    pub fn bytes_out(&self) -> Option<u64> {
        (self.outcome.status == StemStatus::Done).then_some(self.outcome.bytes_out)
    }

    /// Time taken, once over.
    pub fn seconds(&self) -> Option<f64> {
        self.outcome
            .status
            .is_terminal()
            .then_some(self.outcome.seconds)
    }

    /// Zip size over input size.
    pub fn ratio(&self) -> Option<f64> {
        let out = self.bytes_out()?;
        (self.outcome.bytes_in > 0).then(|| out as f64 / self.outcome.bytes_in as f64)
    }
}

/// Table columns, also the sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Stem,
    Status,
    Files,
    Input,
    Zip,
    Ratio,
    Duration,
}

const COLUMNS: [(SortKey, &str); 7] = [
    (SortKey::Stem, "Stem"),
    (SortKey::Status, "Status"),
    (SortKey::Files, "Files"),
    (SortKey::Input, "Input size"),
    (SortKey::Zip, "Zip size"),
    (SortKey::Ratio, "Ratio"),
    (SortKey::Duration, "Duration"),
];

/// Totals for the progress bar, and the run's history for its chart.
#[derive(Debug, Default)]
struct Progress {
    started: Option<Instant>,
    finished: Option<Duration>,
    stems: usize,
    ended: usize,
    bytes_total: u64,
    bytes_done: u64,
    /// Throughput and stems ended over time, for the chart.
    samples: Vec<Sample>,
    /// When the last sample was taken, and the bytes done then.
    sampled: Option<(Instant, u64)>,
}

/// One point of the run's chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the run began.
    pub seconds: f64,
    /// Member bytes read per second since the previous sample, in MB/s.
    pub mb_per_s: f64,
    /// Stems ended so far.
    pub stems_ended: usize,
}

/// How often the chart takes a sample.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Samples kept at most: beyond, every other one is dropped (the chart
/// keeps the whole run at a coarser step, in bounded memory).
const MOST_SAMPLES: usize = 2_000;

/// The results panel.
#[derive(Debug)]
pub struct Results {
    rows: Vec<Row>,
    index: HashMap<String, usize>,
    view: Vec<usize>,
    view_dirty: bool,
    sorted_at: Option<Instant>,
    sort: (SortKey, bool),
    problems_only: bool,
    selected: Option<usize>,
    progress: Progress,
}

impl Default for Results {
    fn default() -> Self {
        Results {
            rows: Vec::new(),
            index: HashMap::new(),
            view: Vec::new(),
            view_dirty: false,
            sorted_at: None,
            sort: (SortKey::Stem, true),
            problems_only: false,
            selected: None,
            progress: Progress::default(),
        }
    }
}

impl Results {
    /// Every row, in run order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of a stem.
    pub fn row_index(&self, stem: &str) -> Option<usize> {
        self.index.get(stem).copied()
    }

    /// Replaces every row.
    pub fn set_rows(&mut self, rows: Vec<Row>) {
        self.index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.stem().to_owned(), i))
            .collect();
        self.rows = rows;
        self.selected = None;
        self.progress = Progress::default();
        self.view_dirty = true;
    }

    /// Replaces one row (for a retry).
    pub fn reset_row(&mut self, i: usize, row: Row) {
        if let Some(slot) = self.rows.get_mut(i) {
            *slot = row;
            self.view_dirty = true;
        }
    }

    /// A run of `stems` stems and `bytes` bytes begins.
    pub fn begin_run(&mut self, stems: usize, bytes: u64) {
        self.progress = Progress {
            started: Some(Instant::now()),
            finished: None,
            stems,
            ended: 0,
            bytes_total: bytes,
            bytes_done: 0,
            samples: Vec::new(),
            sampled: None,
        };
        self.sample(true);
    }

    /// Takes a sample for the chart if it is time (or `now` asks for one).
    pub fn sample(&mut self, now: bool) {
        let p = &mut self.progress;
        let Some(started) = p.started else { return };
        if p.finished.is_some() {
            return;
        }
        let at = Instant::now();
        let (last_at, last_bytes) = p.sampled.unwrap_or((started, 0));
        let since = at.duration_since(last_at);
        if !now && since < SAMPLE_EVERY {
            return;
        }
        let mb_per_s = if since.is_zero() {
            0.0
        } else {
            p.bytes_done.saturating_sub(last_bytes) as f64 / 1e6 / since.as_secs_f64()
        };
        p.samples.push(Sample {
            seconds: at.duration_since(started).as_secs_f64(),
            mb_per_s,
            stems_ended: p.ended,
        });
        p.sampled = Some((at, p.bytes_done));
        if p.samples.len() > MOST_SAMPLES {
            let mut keep = false;
            p.samples.retain(|_| {
                keep = !keep;
                keep
            });
        }
    }

    /// The chart's samples of the current or last run.
    pub fn samples(&self) -> &[Sample] {
        &self.progress.samples
    }

    /// The run ended.
    pub fn end_run(&mut self) {
        self.sample(true);
        self.progress.finished = self.progress.started.map(|s| s.elapsed());
        self.view_dirty = true;
        self.sorted_at = None;
    }

    /// Names of stems that failed or timed out.
    pub fn failed_stems(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| matches!(r.status(), StemStatus::Failed | StemStatus::TimedOut))
            .map(|r| r.stem().to_owned())
            .collect()
    }

    /// Applies one engine event to row `i`.
    pub fn apply(&mut self, i: usize, event: &Event) {
        let Some(row) = self.rows.get_mut(i) else {
            return;
        };
        if row.status().is_terminal() {
            // What follows a stem's end (move mode's deletions, warnings).
            row.outcome.record(event);
            self.view_dirty = true;
            return;
        }
        let before = row.outcome.bytes_in;
        row.outcome.record(event);
        let done_now = if row.status().is_terminal() {
            self.progress.ended += 1;
            // A stem that ended without a zip counts as dealt with for the progress bar.
            row.bytes_total.max(row.outcome.bytes_in)
        } else {
            row.outcome.bytes_in
        };
        self.progress.bytes_done += done_now.saturating_sub(before);
        self.view_dirty = true;
    }

    fn compare(&self, a: usize, b: usize) -> Ordering {
        let (ra, rb) = (&self.rows[a], &self.rows[b]);
        let by = match self.sort.0 {
            SortKey::Stem => ra.stem().cmp(rb.stem()),
            SortKey::Status => ra.status().cmp(&rb.status()),
            SortKey::Files => ra.files.cmp(&rb.files),
            SortKey::Input => ra.bytes_total.cmp(&rb.bytes_total),
            SortKey::Zip => ra.bytes_out().cmp(&rb.bytes_out()),
            SortKey::Ratio => ra
                .ratio()
                .partial_cmp(&rb.ratio())
                .unwrap_or(Ordering::Equal),
            SortKey::Duration => ra
                .seconds()
                .partial_cmp(&rb.seconds())
                .unwrap_or(Ordering::Equal),
        };
        let by = by.then_with(|| ra.stem().cmp(rb.stem()));
        if self.sort.1 { by } else { by.reverse() }
    }

    /// Re-filters and re-sorts the visible rows when needed (at most every
    /// [`RESORT_INTERVAL`] while a run changes them).
    fn refresh_view(&mut self) {
        if !self.view_dirty
            || self
                .sorted_at
                .is_some_and(|t| t.elapsed() < RESORT_INTERVAL)
        {
            return;
        }
        let mut view: Vec<usize> = (0..self.rows.len())
            .filter(|&i| !self.problems_only || self.rows[i].status().is_problem())
            .collect();
        view.sort_by(|&a, &b| self.compare(a, b));
        self.view = view;
        self.view_dirty = false;
        self.sorted_at = self.progress.finished.is_none().then(Instant::now);
    }

    /// Draws progress, table and details.
    pub fn ui(&mut self, ui: &mut Ui, running: bool, commands: &mut Vec<Command>) {
        self.progress_ui(ui, running);
        self.chart_ui(ui);
        ui.horizontal(|ui| {
            if ui
                .checkbox(&mut self.problems_only, "Problems only")
                .changed()
            {
                self.view_dirty = true;
                self.sorted_at = None;
            }
            let failed = self.failed_stems().len();
            if ui
                .add_enabled(!running && failed > 0, egui::Button::new("Retry failed"))
                .on_hover_text(format!(
                    "Run again only the {failed} stem(s) that failed or timed out"
                ))
                .on_disabled_hover_text("No failed stems, or a run is going on")
                .clicked()
            {
                commands.push(Command::RetryFailed);
            }
            ui.label(RichText::new(format!("{} rows", self.rows.len())).weak());
        });
        self.refresh_view();
        if self.selected.is_some() {
            egui::Panel::bottom("details")
                .resizable(true)
                .default_size(160.0)
                .show(ui, |ui| self.details_ui(ui, commands));
        }
        self.table_ui(ui);
    }

    /// The run's throughput and stems ended over time, side by side: a slow
    /// disk or a stalled stem shows at a glance.
    fn chart_ui(&self, ui: &mut Ui) {
        let samples = &self.progress.samples;
        // A run of under a second has nothing to show over time.
        if samples.len() < 2 || samples.last().is_none_or(|s| s.seconds < 1.0) {
            return;
        }
        let width = (ui.available_width() / 2.0 - 8.0).max(120.0);
        let plot = |id: &str| {
            egui_plot::Plot::new(id.to_owned())
                .height(90.0)
                .width(width)
                .allow_zoom(false)
                .allow_drag(false)
                .allow_scroll(false)
                .allow_boxed_zoom(false)
                .include_y(0.0)
                .x_axis_label("seconds")
        };
        let throughput: Vec<[f64; 2]> = samples.iter().map(|s| [s.seconds, s.mb_per_s]).collect();
        let ended: Vec<[f64; 2]> = samples
            .iter()
            .map(|s| [s.seconds, s.stems_ended as f64])
            .collect();
        ui.horizontal(|ui| {
            plot("throughput")
                .y_axis_label("MB/s read")
                .show(ui, |p| p.line(egui_plot::Line::new("MB/s", throughput)));
            plot("stems ended")
                .y_axis_label("stems ended")
                .include_y(self.progress.stems as f64)
                .show(ui, |p| p.line(egui_plot::Line::new("stems", ended)));
        });
    }

    /// How much of the run is done, from 0 to 1, once a run started.
    pub fn fraction_done(&self) -> Option<f32> {
        let p = &self.progress;
        p.started?;
        Some(if p.bytes_total > 0 {
            p.bytes_done as f32 / p.bytes_total as f32
        } else if p.stems > 0 {
            p.ended as f32 / p.stems as f32
        } else {
            1.0
        })
    }

    fn progress_ui(&self, ui: &mut Ui, running: bool) {
        let p = &self.progress;
        let Some(started) = p.started else { return };
        let elapsed = p.finished.unwrap_or_else(|| started.elapsed());
        let fraction = if p.bytes_total > 0 {
            p.bytes_done as f32 / p.bytes_total as f32
        } else if p.stems > 0 {
            p.ended as f32 / p.stems as f32
        } else {
            1.0
        };
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            p.bytes_done as f64 / secs
        } else {
            0.0
        };
        let left = if running && rate > 0.0 {
            let remaining = p.bytes_total.saturating_sub(p.bytes_done) as f64 / rate;
            format!(
                ", {} left",
                HumanDuration(Duration::from_secs_f64(remaining))
            )
        } else {
            String::new()
        };
        ui.add(
            egui::ProgressBar::new(fraction.clamp(0.0, 1.0))
                .text(format!(
                    "{} of {} stems · {} of {} · {}/s{}",
                    p.ended,
                    p.stems,
                    BinaryBytes(p.bytes_done),
                    BinaryBytes(p.bytes_total),
                    BinaryBytes(rate as u64),
                    left
                ))
                .animate(running),
        );
    }

    fn table_ui(&mut self, ui: &mut Ui) {
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        let mut clicked_sort = None;
        let mut clicked_row = None;
        TableBuilder::new(ui)
            .id_salt("results")
            .striped(true)
            .sense(egui::Sense::click())
            .column(Column::remainder().at_least(160.0).clip(true))
            .columns(Column::auto().at_least(70.0), COLUMNS.len() - 1)
            .header(row_height + 2.0, |mut header| {
                for (key, name) in COLUMNS {
                    header.col(|ui| {
                        let arrow = match self.sort {
                            (k, true) if k == key => " ⏶",
                            (k, false) if k == key => " ⏷",
                            _ => "",
                        };
                        if ui
                            .button(RichText::new(format!("{name}{arrow}")).strong())
                            .on_hover_text(format!("Sort by {}", name.to_lowercase()))
                            .clicked()
                        {
                            clicked_sort = Some(key);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, self.view.len(), |mut row| {
                    let i = self.view[row.index()];
                    let r = &self.rows[i];
                    row.set_selected(self.selected == Some(i));
                    row.col(|ui| {
                        ui.label(r.stem());
                    });
                    row.col(|ui| {
                        let colour = status_colour(r.status(), ui.visuals());
                        let label = format!("{} status", r.stem());
                        ui.label(RichText::new(r.status().label()).color(colour))
                            .widget_info(|| {
                                egui::WidgetInfo::labeled(
                                    egui::Role::Label,
                                    true,
                                    format!("{label}: {}", r.status().label()),
                                )
                            });
                    });
                    row.col(|ui| {
                        ui.label(r.files.to_string());
                    });
                    row.col(|ui| {
                        ui.label(BinaryBytes(r.bytes_total).to_string());
                    });
                    row.col(|ui| {
                        ui.label(
                            r.bytes_out()
                                .map(|b| BinaryBytes(b).to_string())
                                .unwrap_or_default(),
                        );
                    });
                    row.col(|ui| {
                        ui.label(
                            r.ratio()
                                .map(|x| format!("{:.0} %", x * 100.0))
                                .unwrap_or_default(),
                        );
                    });
                    row.col(|ui| {
                        ui.label(r.seconds().map(|s| format!("{s:.2} s")).unwrap_or_default());
                    });
                    if row.response().clicked() {
                        clicked_row = Some(i);
                    }
                });
            });
        if let Some(key) = clicked_sort {
            self.sort = if self.sort.0 == key {
                (key, !self.sort.1)
            } else {
                (key, true)
            };
            self.view_dirty = true;
            self.sorted_at = None;
        }
        if let Some(i) = clicked_row {
            self.selected = if self.selected == Some(i) {
                None
            } else {
                Some(i)
            };
        }
    }

    fn details_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) {
        let Some(r) = self.selected.and_then(|i| self.rows.get(i)) else {
            return;
        };
        ui.horizontal(|ui| {
            ui.heading(r.stem());
            ui.label(
                RichText::new(r.status().label()).color(status_colour(r.status(), ui.visuals())),
            );
            if ui.button("Close details").clicked() {
                self.selected = None;
            }
        });
        if let Some(e) = r.outcome.message() {
            ui.add(
                egui::Label::new(RichText::new(e).color(ui.visuals().error_fg_color))
                    .selectable(true),
            );
        }
        if r.outcome.files_deleted > 0 {
            ui.label(format!(
                "Originals deleted: {} file(s), {} freed",
                r.outcome.files_deleted,
                BinaryBytes(r.outcome.bytes_freed)
            ));
        }
        for w in &r.outcome.warnings {
            ui.add(
                egui::Label::new(
                    RichText::new(format!("warning: {w}")).color(ui.visuals().warn_fg_color),
                )
                .selectable(true),
            );
        }
        ui.horizontal(|ui| {
            if let Some(zip) = &r.outcome.zip {
                ui.label(format!("Zip: {}", zip.display()));
                if let Some(dir) = zip.parent()
                    && ui.button("Open zip's folder").clicked()
                {
                    commands.push(Command::ShowFolder(dir.to_owned()));
                }
            }
        });
        let members = &r.outcome.members;
        ui.label(format!("{} member file(s):", members.len()));
        let row = ui.text_style_height(&egui::TextStyle::Body);
        egui::ScrollArea::vertical()
            .id_salt("members")
            .auto_shrink([false, true])
            .show_rows(ui, row, members.len(), |ui, range| {
                for m in &members[range] {
                    ui.add(egui::Label::new(m.display().to_string()).selectable(true));
                }
            });
    }
}
