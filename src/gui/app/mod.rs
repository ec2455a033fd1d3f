//! The window's state and logic: the profile being edited, the preview,
//! the run, and the commands that clicks turn into.
//!
//! The UI thread only draws. Disk work (planning, running, saving large
//! reports) happens on other threads that answer through [`Msg`]s; clicks
//! become [`Command`]s that run after the frame is drawn.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

mod commands;
mod dialogs;
mod files;
mod logic;
mod runs;

pub use dialogs::Dialogs;

use super::form::{FolderField, Form};
use super::preview::Preview;
use super::results::{Results, Row};
use crate::engine::{Run, StemStatus};
use crate::plan::{self, Plan, SettingError};
use crate::profile::{Edits, Overlay, Profile};
use crate::report::{Report, StemOutcome};

/// Most engine events handled in one frame: the window stays smooth however
/// fast stems finish; the rest wait for the next frame.
const EVENT_TIME_PER_FRAME: Duration = Duration::from_millis(8);
/// Runs at least this long tell the user when they end while the window is
/// not focused (taskbar attention, a desktop notification).
const NOTICE_AFTER: Duration = Duration::from_secs(5);
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
    /// Which file dialogs the window uses.
    pub dialogs: Dialogs,
    /// Send a desktop notification when a long run ends while the window
    /// is not focused (off for tests).
    pub desktop_notifications: bool,
}

/// What becomes of the paths a dialog picked (one, unless it picks
/// several); `None` when nothing usable was picked.
type Then = Box<dyn FnOnce(Vec<PathBuf>) -> Option<Command> + Send>;

/// What the window remembers between launches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Remembered {
    /// The profile open when the window closed.
    pub last_profile: Option<PathBuf>,
    /// Recently opened or saved profiles, newest first.
    pub recent: Vec<PathBuf>,
    /// The theme chosen in the View menu.
    pub theme: ThemeChoice,
}

/// The window's theme, as chosen in the View menu.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeChoice {
    /// Light or dark as the system is.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl ThemeChoice {
    fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Light => egui::ThemePreference::Light,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
        }
    }
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
    /// Open several reports as one table (a campaign's shards), merged:
    /// every stem once, the latest run's outcome where several list it.
    OpenReports(Vec<PathBuf>),
    /// Show a folder in the system file manager.
    ShowFolder(PathBuf),
    /// Use this theme from now on.
    SetTheme(ThemeChoice),
    /// Close the window.
    Quit,
}

impl Command {
    /// Whether the command replaces the profile being edited.
    fn replaces_profile(&self) -> bool {
        matches!(
            self,
            Command::NewProfile
                | Command::OpenProfile(_)
                | Command::OpenReport(_)
                | Command::OpenReports(_)
                | Command::Quit
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
    /// A move-mode run was planned: the user is asked before it starts.
    MoveAsked { plan: Box<Plan>, retry: bool },
    /// A dialog closed, having chosen something or not.
    Dialog(Option<Command>),
    /// The system's file dialog did not open: ask this in the window.
    NoSystemDialog { ask: Box<dialogs::Ask>, then: Then },
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
    /// Report files were read (and merged, when several).
    ReportLoaded {
        paths: Vec<PathBuf>,
        result: Result<Box<crate::report::Merged>, String>,
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

/// A run in progress, the plan it runs, how its stems map to table rows,
/// and each stem's outcome so far (for the run's report).
struct ActiveRun {
    run: Run,
    plan: Box<Plan>,
    row_of: Vec<usize>,
    outcomes: Vec<StemOutcome>,
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
    /// The report of the last run (the engine's: its plan, summary and
    /// outcomes), or of the report last opened.
    last_report: Option<Report>,
    starting_run: bool,
    /// A move-mode run waiting for the user's yes.
    move_question: Option<runs::MoveQuestion>,
    dialog_open: bool,
    dialogs: Dialogs,
    /// With scripted dialogs: what the open dialog's answer becomes.
    asked: Option<Then>,
    /// The window's own file browser, when open.
    in_window: Option<dialogs::InWindow>,
    /// Runs that ended while the window was not focused, and said so.
    told_away: usize,
    desktop_notifications: bool,
    /// With `STEMZIP_CHECK_GLYPHS` set, what the glyph check said last.
    glyphs_said: Option<String>,
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
            last_report: None,
            starting_run: false,
            move_question: None,
            dialog_open: false,
            dialogs: options.dialogs,
            asked: None,
            in_window: None,
            told_away: 0,
            desktop_notifications: options.desktop_notifications,
            glyphs_said: std::env::var_os("STEMZIP_CHECK_GLYPHS").map(|_| String::new()),
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
        if let Some(ctx) = &app.ctx {
            ctx.set_theme(app.remembered.theme.preference());
        }
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

    /// The chart's samples of the current or last run: throughput and
    /// stems ended over time.
    pub fn chart(&self) -> &[super::results::Sample] {
        self.results.samples()
    }

    /// How many runs ended while the window was not focused and asked for
    /// the user's attention.
    pub fn runs_told_away(&self) -> usize {
        self.told_away
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

    /// A run still going when the window closes is cancelled and waited
    /// for (dropping it does both): its stems remove their temporary files
    /// before the process exits.
    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.active = None;
    }
}

/// What the profile and report dialogs show.
const PROFILE_FILES: (&str, &[&str]) = ("YAML profile", &["yml", "yaml"]);
const REPORT_FILES: (&str, &[&str]) = ("stemzip report", &["yaml", "yml"]);

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
        StemStatus::UpToDate => egui::Color32::from_rgb(40, 150, 150),
        StemStatus::Failed => visuals.error_fg_color,
        StemStatus::TimedOut => egui::Color32::from_rgb(230, 120, 40),
        StemStatus::Skipped => egui::Color32::from_rgb(150, 150, 150),
        StemStatus::Cancelled => visuals.warn_fg_color,
    }
}
