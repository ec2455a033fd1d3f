//! The window's state and logic: the profile being edited, the preview,
//! the run, and the commands that clicks turn into.
//!
//! The UI thread only draws. Disk work (planning, running, saving large
//! reports) happens on other threads that answer through [`Msg`]s; clicks
//! become [`Command`]s that run after the frame is drawn.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::form::{FolderField, Form};
use super::preview::Preview;
use super::results::{Results, Row};
use crate::engine::{self, Event, Run, StemStatus};
use crate::plan::{self, Plan, PlanError, SettingError};
use crate::profile::{Edits, Overlay, Profile};
use crate::report::{Report, StemOutcome};

/// Most engine events handled in one frame: the window stays smooth however
/// fast stems finish; the rest wait for the next frame.
const EVENTS_PER_FRAME: usize = 20_000;
/// How long the form must be still before the preview is planned again.
const PREVIEW_DELAY: Duration = Duration::from_millis(300);
/// How many recent profiles the File menu keeps.
const RECENT_PROFILES: usize = 10;

/// How the window starts.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Where settings, recent profiles and the first-launch example live;
    /// `None` keeps nothing between launches.
    pub config_dir: Option<PathBuf>,
    /// A profile to open instead of the last one.
    pub profile: Option<PathBuf>,
    /// Start a run of that profile at once.
    pub run_now: bool,
    /// The Python tool's dict argument, applied to `profile` as unsaved
    /// changes (the shared file is only written if the user saves).
    pub overlay: Option<Overlay>,
}

/// What the window remembers between launches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Remembered {
    /// The profile open when the window closed.
    pub last_profile: Option<PathBuf>,
    /// Recently opened or saved profiles, newest first.
    pub recent: Vec<PathBuf>,
}

/// Something the user asked for; runs after the frame is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start an empty profile.
    NewProfile,
    /// Ask for a profile file to open.
    OpenProfileDialog,
    /// Open this profile file.
    OpenProfile(PathBuf),
    /// Save to the profile's file (or ask where).
    Save,
    /// Ask where to save the profile.
    SaveAsDialog,
    /// Save the profile to this file.
    SaveAs(PathBuf),
    /// Ask for a folder for a form field.
    BrowseFolder(FolderField),
    /// Put a chosen folder into a form field.
    SetFolder(FolderField, PathBuf),
    /// Run the profile.
    Run,
    /// Cancel the run.
    Cancel,
    /// Run again only the stems that failed or timed out.
    RetryFailed,
    /// Ask where to save the current run's report.
    SaveReportDialog,
    /// Save the current run's report to this file.
    SaveReport(PathBuf),
    /// Ask for a report to open.
    OpenReportDialog,
    /// Open a saved report into the results table.
    OpenReport(PathBuf),
    /// Show a folder in the system file manager.
    ShowFolder(PathBuf),
    /// Close the window.
    Quit,
}

impl Command {
    /// Whether the command replaces the profile being edited.
    fn replaces_profile(&self) -> bool {
        matches!(
            self,
            Command::NewProfile | Command::OpenProfile(_) | Command::OpenReport(_) | Command::Quit
        )
    }
}

/// Answers from other threads.
pub(crate) enum Msg {
    /// The settings of preview `generation` were checked.
    Checked {
        generation: u64,
        errors: Vec<SettingError>,
    },
    /// Preview `generation` was planned (or could not be).
    Planned {
        generation: u64,
        result: Result<Box<Plan>, String>,
    },
    /// A run's plan was made and the engine started; `retry` runs only
    /// stems already in the table.
    RunStarted {
        result: Result<(Run, Box<Plan>), String>,
        retry: bool,
    },
    /// A dialog closed, having chosen something or not.
    Dialog(Option<Command>),
    /// A profile file was read (`path` made canonical); with the command
    /// line's dict argument, also the profile with it applied.
    ProfileLoaded {
        path: PathBuf,
        result: Result<(Box<Profile>, Option<Box<Profile>>), String>,
    },
    /// `profile` was written to `path` (or not).
    ProfileSaved {
        path: PathBuf,
        profile: Box<Profile>,
        result: Result<(), String>,
    },
    /// A report file was read.
    ReportLoaded {
        path: PathBuf,
        result: Result<Box<Report>, String>,
    },
    /// A report was written.
    ReportSaved {
        path: PathBuf,
        result: Result<(), String>,
    },
}

/// The profile being edited and where it lives.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// The profile as the form shows it.
    pub profile: Profile,
    /// Its file, once opened or saved.
    pub path: Option<PathBuf>,
    /// The profile as last opened or saved (for the unsaved-changes mark).
    pub saved: Profile,
    /// `true` while the profile holds the command line's dict argument:
    /// Save then asks where (Save as…), so a shared file is not changed by
    /// one scenario's overrides.
    pub overridden: bool,
}

impl Document {
    /// Whether the profile has changes that are not saved.
    pub fn is_dirty(&self) -> bool {
        self.profile != self.saved
    }

    /// The folder relative paths resolve against.
    pub fn base_dir(&self) -> PathBuf {
        match &self.path {
            Some(path) => plan::profile_dir(path),
            None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }

    /// The profile's file name, or "untitled".
    pub fn name(&self) -> String {
        self.path.as_ref().and_then(|p| p.file_name()).map_or_else(
            || "untitled".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// A run in progress and how its plan's stems map to table rows.
struct ActiveRun {
    run: Run,
    row_of: Vec<usize>,
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// Whether it reports a problem.
    pub is_error: bool,
}

/// The whole window.
pub struct StemzipApp {
    /// The profile being edited.
    pub doc: Document,
    /// Form state that is not part of the profile (text being typed).
    pub(crate) form: Form,
    /// The plan preview.
    pub(crate) preview: Preview,
    /// The results table.
    pub(crate) results: Results,
    /// Remembered between launches.
    pub remembered: Remembered,
    /// The last message for the status line.
    pub notice: Option<Notice>,
    /// Errors of the current settings, by profile key.
    pub(crate) errors: HashMap<&'static str, String>,
    config_dir: Option<PathBuf>,
    commands: Vec<Command>,
    pending: Option<Command>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    ctx: Option<egui::Context>,
    active: Option<ActiveRun>,
    starting_run: bool,
    dialog_open: bool,
    allow_close: bool,
    generation: u64,
    edited_at: Option<Instant>,
    planned_profile: Option<(Profile, PathBuf)>,
    title: String,
    run_when_checked: bool,
    after_save: Option<Command>,
    busy_files: usize,
}

impl StemzipApp {
    /// A window in the state `options` asks for; `storage` holds what the
    /// last launch remembered.
    pub fn new(
        ctx: Option<egui::Context>,
        storage: Option<&dyn eframe::Storage>,
        options: AppOptions,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let remembered: Remembered = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let mut app = StemzipApp {
            doc: Document::default(),
            form: Form::default(),
            preview: Preview::default(),
            results: Results::default(),
            remembered,
            notice: None,
            errors: HashMap::new(),
            config_dir: options.config_dir.clone(),
            commands: Vec::new(),
            pending: None,
            tx,
            rx,
            ctx,
            active: None,
            starting_run: false,
            dialog_open: false,
            allow_close: false,
            generation: 0,
            edited_at: None,
            planned_profile: None,
            title: String::new(),
            run_when_checked: false,
            after_save: None,
            busy_files: 0,
        };
        // Disk work, even at start-up, happens off the UI thread.
        let chosen = options.profile.clone();
        let overlay = options.overlay.clone().filter(|_| chosen.is_some());
        let last = app.remembered.last_profile.clone();
        let example_dir = app.config_dir.as_ref().map(|d| d.join("example"));
        app.in_background(move || {
            let path = chosen
                .or_else(|| last.filter(|p| p.is_file()))
                .map(Ok)
                .or_else(|| {
                    example_dir.map(|dir| {
                        crate::example::install(&dir).map_err(|e| {
                            format!("cannot install the example into {}: {e}", dir.display())
                        })
                    })
                });
            match path {
                Some(Ok(path)) => load_profile(path, overlay.as_ref()),
                Some(Err(e)) => Msg::ProfileLoaded {
                    path: PathBuf::new(),
                    result: Err(e),
                },
                None => Msg::ProfileLoaded {
                    path: PathBuf::new(),
                    result: Ok((Box::default(), None)),
                },
            }
        });
        if options.run_now {
            app.run_when_checked = true;
        }
        app
    }

    /// Queues a command (as a click would).
    pub fn command(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// Whether a run is going on (or starting).
    pub fn is_running(&self) -> bool {
        self.active.is_some() || self.starting_run
    }

    /// Whether the preview is being planned.
    pub fn is_planning(&self) -> bool {
        self.edited_at.is_some() || self.preview.is_planning()
    }

    /// Whether a profile or report is being read or written.
    pub fn is_busy_with_files(&self) -> bool {
        self.busy_files > 0
    }

    /// Runs `work` on another thread; its message comes back through
    /// [`Self::logic`]. Counts as file work until it answers.
    fn in_background(&mut self, work: impl FnOnce() -> Msg + Send + 'static) {
        self.busy_files += 1;
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(work());
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    /// The rows of the results table, in run order.
    pub fn rows(&self) -> &[Row] {
        self.results.rows()
    }

    /// Why Run cannot start now, if it cannot.
    pub fn run_blocked_reason(&self) -> Option<String> {
        if self.is_running() {
            return Some("a run is going on".to_owned());
        }
        if let Some(unparsed) = self.form.unparsed() {
            return Some(format!("fix the settings first: {unparsed}"));
        }
        if let Some(first) = self.first_error() {
            return Some(format!("fix the settings first: {first}"));
        }
        None
    }

    fn first_error(&self) -> Option<String> {
        let mut keys: Vec<_> = self.errors.iter().collect();
        keys.sort();
        keys.first().map(|(k, v)| format!("{k}: {v}"))
    }

    pub(crate) fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            is_error: false,
        });
    }

    pub(crate) fn notify_error(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            is_error: true,
        });
    }

    /// Called when the form changed the profile: plan again once typing stops.
    pub(crate) fn profile_edited(&mut self) {
        self.edited_at = Some(Instant::now());
    }

    // ----- profiles -------------------------------------------------------

    fn open_profile(&mut self, path: &Path) {
        let path = path.to_owned();
        self.in_background(move || load_profile(path, None));
    }

    fn profile_loaded(
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

    fn set_document(&mut self, doc: Document) {
        self.doc = doc;
        self.form.reset(&self.doc.profile);
        self.request_preview();
    }

    fn save_to(&mut self, path: &Path) {
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

    fn profile_saved(&mut self, path: PathBuf, profile: Profile, result: Result<(), String>) {
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

    fn remember(&mut self, path: PathBuf) {
        self.remembered.recent.retain(|p| *p != path);
        self.remembered.recent.insert(0, path.clone());
        self.remembered.recent.truncate(RECENT_PROFILES);
        self.remembered.last_profile = Some(path);
    }

    // ----- preview --------------------------------------------------------

    fn request_preview(&mut self) {
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

    fn start_run(&mut self, only: Option<Vec<String>>) {
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
                .and_then(|mut plan| {
                    plan.profile_path = path;
                    if let Some(names) = &only {
                        plan.retain_stems(|s| names.iter().any(|n| n == s));
                    }
                    let run = engine::start(plan.clone()).map_err(|e| e.to_string())?;
                    Ok((run, Box::new(plan)))
                });
            let _ = tx.send(Msg::RunStarted { result, retry });
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    fn run_started(&mut self, run: Run, plan: &Plan, retry: bool) {
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
        self.active = Some(ActiveRun { run, row_of });
        self.notify(format!(
            "running {} stems into {}",
            plan.stems.len(),
            plan.output_dir.display()
        ));
    }

    /// Handles waiting engine events, at most [`EVENTS_PER_FRAME`].
    fn drain_events(&mut self) {
        let Some(active) = &self.active else { return };
        let mut finished = None;
        for _ in 0..EVENTS_PER_FRAME {
            match active.run.events().try_recv() {
                Ok(Event::RunFinished(summary)) => {
                    finished = Some(summary);
                    break;
                }
                Ok(event) => {
                    if let Some(&row) = event.stem().and_then(|i| active.row_of.get(i)) {
                        self.results.apply(row, &event);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    finished = Some(Default::default());
                    break;
                }
            }
        }
        if let Some(summary) = finished {
            self.active = None;
            self.results.end_run();
            let mut text = format!(
                "run finished: {} done, {} failed, {} timed out, {} skipped, {} cancelled in {:.1} s",
                summary.done,
                summary.failed,
                summary.timed_out,
                summary.skipped,
                summary.cancelled,
                summary.seconds
            );
            if let Some(report) = &summary.report {
                text.push_str(&format!("; error report {}", report.display()));
            }
            if summary.has_failures() {
                self.notify_error(text);
            } else {
                self.notify(text);
            }
        }
    }

    // ----- reports --------------------------------------------------------

    fn current_report(&self) -> Option<Report> {
        let (profile, base) = (&self.doc.profile, self.doc.base_dir());
        let output_dir = plan::resolve_path(
            &base,
            profile
                .file_management
                .output_directory
                .as_deref()
                .unwrap_or(plan::DEFAULT_OUTPUT_DIRECTORY),
        );
        let rows = self.results.rows();
        if rows.is_empty() {
            return None;
        }
        let mut summary = crate::Summary {
            stems: rows.len(),
            ..Default::default()
        };
        let stems: Vec<StemOutcome> = rows
            .iter()
            .map(|r| {
                summary.count(r.status());
                summary.bytes_in += r.outcome.bytes_in;
                summary.bytes_out += r.bytes_out().unwrap_or(0);
                summary.seconds += r.seconds().unwrap_or(0.0);
                r.outcome.clone()
            })
            .collect();
        Some(Report {
            stemzip_version: env!("CARGO_PKG_VERSION").to_owned(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            profile_path: self.doc.path.clone(),
            output_directory: output_dir,
            summary,
            stems,
            profile: profile.to_value(),
        })
    }

    fn open_report(&mut self, path: &Path) {
        let path = path.to_owned();
        self.in_background(move || {
            let result = Report::load(&path).map(Box::new).map_err(|e| e.to_string());
            Msg::ReportLoaded { path, result }
        });
    }

    fn report_loaded(&mut self, path: &Path, report: &Report) {
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
        self.notify(format!(
            "opened report {} ({} stems listed, {} failed or timed out)",
            path.display(),
            report.stems.len(),
            report.failed_stems().len()
        ));
    }

    // ----- commands -------------------------------------------------------

    fn spawn_dialog(&mut self, pick: impl FnOnce() -> Option<Command> + Send + 'static) {
        if self.dialog_open {
            return;
        }
        self.dialog_open = true;
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            let chosen = pick();
            let _ = tx.send(Msg::Dialog(chosen));
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        });
    }

    fn profile_dialog_dir(&self) -> PathBuf {
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
                self.notify("new profile");
            }
            Command::OpenProfileDialog => {
                let dialog = file_dialog("Open profile", PROFILE_FILES, self.profile_dialog_dir());
                self.spawn_dialog(move || dialog.pick_file().map(Command::OpenProfile));
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
                self.spawn_dialog(move || dialog.save_file().map(Command::SaveAs));
            }
            Command::SaveAs(path) => self.save_to(&path),
            Command::BrowseFolder(field) => {
                let base = self.doc.base_dir();
                let current = field
                    .current(&self.doc.profile)
                    .map(|raw| plan::resolve_path(&base, &raw));
                self.spawn_dialog(move || {
                    let start = current.filter(|p| p.is_dir()).unwrap_or(base);
                    rfd::FileDialog::new()
                        .set_title(field.label())
                        .set_directory(start)
                        .pick_folder()
                        .map(|p| Command::SetFolder(field, p))
                });
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
                self.spawn_dialog(move || dialog.save_file().map(Command::SaveReport));
            }
            Command::SaveReport(path) => match self.current_report() {
                Some(report) => self.in_background(move || {
                    let result = report.save(&path).map_err(|e| e.to_string());
                    Msg::ReportSaved { path, result }
                }),
                None => self.notify_error("nothing to report: run the profile first"),
            },
            Command::OpenReportDialog => {
                let dialog =
                    file_dialog("Open run report", REPORT_FILES, self.profile_dialog_dir());
                self.spawn_dialog(move || dialog.pick_file().map(Command::OpenReport));
            }
            Command::OpenReport(path) => self.open_report(&path),
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
                if let Some(path) = self.doc.path.clone() {
                    self.after_save = Some(pending);
                    self.save_to(&path);
                } else {
                    self.commands.push(Command::SaveAsDialog);
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
                        Ok((run, plan)) => self.run_started(run, &plan, retry),
                        Err(e) => self.notify_error(format!("cannot run: {e}")),
                    }
                }
                Ok(Msg::Dialog(chosen)) => {
                    self.dialog_open = false;
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
                Ok(Msg::ReportLoaded { path, result }) => {
                    self.busy_files -= 1;
                    match result {
                        Ok(report) => self.report_loaded(&path, &report),
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
            ctx.request_repaint_after(Duration::from_millis(50));
        }

        // Files dropped on the window: a profile opens, a report opens into the table.
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        if let Some(path) = dropped.into_iter().find(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
        }) {
            let is_report = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(crate::report::is_report_name);
            self.commands.push(if is_report {
                Command::OpenReport(path)
            } else {
                Command::OpenProfile(path)
            });
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

        let title = format!(
            "stemzip — {}{}",
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

    /// The window's title as last set.
    pub fn title(&self) -> &str {
        &self.title
    }
}

impl eframe::App for StemzipApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        StemzipApp::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        super::draw(self, ui);
        self.run_commands();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.remembered);
    }
}

/// What the profile and report dialogs show.
const PROFILE_FILES: (&str, &[&str]) = ("YAML profile", &["yml", "yaml"]);
const REPORT_FILES: (&str, &[&str]) = ("stemzip report", &["yaml", "yml"]);

/// A native file dialog with a title, a file filter and a starting folder.
fn file_dialog(title: &str, (kind, extensions): (&str, &[&str]), dir: PathBuf) -> rfd::FileDialog {
    rfd::FileDialog::new()
        .set_title(title)
        .add_filter(kind, extensions)
        .set_directory(dir)
}

/// Reads a profile file (on a background thread); with the command line's
/// dict argument, also the profile with it applied.
fn load_profile(path: PathBuf, overlay: Option<&Overlay>) -> Msg {
    let origin = path.display().to_string();
    let parse = |text: &str, overlay: Option<&Overlay>| {
        let edits = Edits {
            overlay: overlay.cloned(),
            sets: Vec::new(),
        };
        Profile::parse_edited(text, &origin, &edits).map_err(|e| e.to_string())
    };
    let result = std::fs::read_to_string(&path)
        .map_err(|source| {
            crate::profile::ProfileError::Read {
                path: path.clone(),
                source,
            }
            .to_string()
        })
        .and_then(|text| {
            let saved = parse(&text, None)?;
            let edited = overlay.map(|o| parse(&text, Some(o))).transpose()?;
            Ok((Box::new(saved), edited.map(Box::new)))
        });
    let path = dunce::canonicalize(&path).unwrap_or(path);
    Msg::ProfileLoaded { path, result }
}

/// The status a table row shows, in words and colour.
pub(crate) fn status_colour(status: StemStatus, visuals: &egui::Visuals) -> egui::Color32 {
    match status {
        StemStatus::Queued => visuals.weak_text_color(),
        StemStatus::Running => egui::Color32::from_rgb(70, 140, 230),
        StemStatus::Done => egui::Color32::from_rgb(60, 170, 90),
        StemStatus::Failed => visuals.error_fg_color,
        StemStatus::TimedOut => egui::Color32::from_rgb(230, 120, 40),
        StemStatus::Skipped => egui::Color32::from_rgb(150, 150, 150),
        StemStatus::Cancelled => visuals.warn_fg_color,
    }
}
