//! File dialogs: the system's (through rfd, on their own thread, since
//! they block), or stemzip's own in-window browser where the system offers
//! none (a Linux desktop without an XDG desktop portal: a plain X server,
//! minimal window managers, some remote desktops), or scripted by tests.
//!
//! A system dialog that comes back empty at once was never shown: a person
//! cannot cancel one that fast. That counts as "no system dialog here", not
//! as a cancel; the same question then opens in the window, and so do the
//! later ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Command, Msg, StemzipApp, Then};

/// Which file dialogs the window uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialogs {
    /// The system's, falling back to the window's own where there is none.
    #[default]
    System,
    /// The window's own file and folder browser.
    InWindow,
    /// None: each question waits for [`StemzipApp::answer_dialog`] (tests,
    /// automation).
    Scripted,
}

/// What a file dialog picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    File,
    /// One file or several.
    Files,
    NewFile,
    Folder,
}

/// A question for a file dialog, whichever dialog shows it.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    pub(super) title: String,
    pub(super) pick: Pick,
    /// The folder it starts in.
    pub(super) start: PathBuf,
    /// A folder to start in instead, if it exists (a folder field's value).
    pub(super) current: Option<PathBuf>,
    /// The file name proposed (saving).
    pub(super) file_name: Option<String>,
    /// What the file filter is called and the extensions it shows.
    pub(super) filter: Option<(&'static str, &'static [&'static str])>,
}

/// A system dialog that returns nothing sooner than this was never shown.
const NEVER_SHOWN: Duration = Duration::from_millis(300);

/// A question open in the window's own browser.
pub(super) struct InWindow {
    dialog: egui_file::FileDialog,
    then: Option<Then>,
}

impl Ask {
    fn system_dialog(&self) -> rfd::FileDialog {
        let start = self
            .current
            .clone()
            .filter(|p| p.is_dir())
            .unwrap_or_else(|| self.start.clone());
        let mut dialog = rfd::FileDialog::new()
            .set_title(&self.title)
            .set_directory(start);
        if let Some((kind, extensions)) = self.filter {
            dialog = dialog.add_filter(kind, extensions);
        }
        if let Some(name) = &self.file_name {
            dialog = dialog.set_file_name(name);
        }
        dialog
    }

    fn in_window(&self) -> egui_file::FileDialog {
        let dialog = match self.pick {
            Pick::File => egui_file::FileDialog::open_file(),
            Pick::Files => egui_file::FileDialog::open_file().multi_select(true),
            Pick::NewFile => egui_file::FileDialog::save_file(),
            Pick::Folder => egui_file::FileDialog::select_folder(),
        };
        let start = self
            .current
            .clone()
            .filter(|p| p.is_dir())
            .unwrap_or_else(|| self.start.clone());
        let mut dialog = dialog
            .title(&self.title)
            .initial_path(start)
            .default_size([640.0, 420.0]);
        if let Some(name) = &self.file_name {
            dialog = dialog.default_filename(name.clone());
        }
        if let Some((_, extensions)) = self.filter {
            dialog = dialog.show_files_filter(Box::new(move |path: &std::path::Path| {
                path.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
            }));
        }
        dialog
    }
}

impl StemzipApp {
    /// Asks `ask`; the path picked becomes a command through `then`, a
    /// cancel nothing.
    pub(super) fn ask(&mut self, ask: Ask, then: impl FnOnce(PathBuf) -> Command + Send + 'static) {
        self.ask_then(
            ask,
            Box::new(move |paths| paths.into_iter().next().map(then)),
        );
    }

    /// Asks `ask` (a [`Pick::Files`] question); the paths picked become a
    /// command through `then`, a cancel nothing.
    pub(super) fn ask_many(
        &mut self,
        ask: Ask,
        then: impl FnOnce(Vec<PathBuf>) -> Command + Send + 'static,
    ) {
        self.ask_then(
            ask,
            Box::new(move |paths: Vec<PathBuf>| (!paths.is_empty()).then(|| then(paths))),
        );
    }

    fn ask_then(&mut self, ask: Ask, then: Then) {
        if self.dialog_open {
            return;
        }
        self.dialog_open = true;
        match self.dialogs {
            Dialogs::Scripted => self.asked = Some(then),
            Dialogs::InWindow => self.open_in_window(&ask, then),
            Dialogs::System => {
                let tx = self.tx.clone();
                let ctx = self.ctx.clone();
                std::thread::spawn(move || {
                    let asked_at = Instant::now();
                    let dialog = ask.system_dialog();
                    let picked = match ask.pick {
                        Pick::File => dialog.pick_file().map(|p| vec![p]),
                        Pick::Files => dialog.pick_files(),
                        Pick::NewFile => dialog.save_file().map(|p| vec![p]),
                        Pick::Folder => dialog.pick_folder().map(|p| vec![p]),
                    };
                    let msg = match picked {
                        Some(paths) => Msg::Dialog(then(paths)),
                        None if asked_at.elapsed() < NEVER_SHOWN => Msg::NoSystemDialog {
                            ask: Box::new(ask),
                            then: Box::new(then),
                        },
                        None => Msg::Dialog(None),
                    };
                    let _ = tx.send(msg);
                    if let Some(ctx) = ctx {
                        ctx.request_repaint();
                    }
                });
            }
        }
    }

    /// The system has no file dialog: this question and the next ones open
    /// in the window.
    pub(super) fn no_system_dialog(&mut self, ask: &Ask, then: Then) {
        self.dialogs = Dialogs::InWindow;
        self.notify(
            "the system's file dialog did not open (on Linux: no XDG desktop portal); \
             using stemzip's own",
        );
        self.open_in_window(ask, then);
    }

    fn open_in_window(&mut self, ask: &Ask, then: Then) {
        let mut dialog = ask.in_window();
        dialog.open();
        self.in_window = Some(InWindow {
            dialog,
            then: Some(then),
        });
    }

    /// Draws the in-window browser, if open, and takes its answer.
    pub(crate) fn in_window_dialog_ui(&mut self, ctx: &egui::Context) {
        let Some(open) = &mut self.in_window else {
            return;
        };
        open.dialog.show(ctx);
        let answer = match open.dialog.state() {
            egui_file::State::Open => return,
            egui_file::State::Selected => {
                let mut paths: Vec<PathBuf> = if open.dialog.has_multi_select() {
                    open.dialog
                        .selection()
                        .into_iter()
                        .map(Into::into)
                        .collect()
                } else {
                    Vec::new()
                };
                if paths.is_empty() {
                    // One file picked (or typed) without a selection.
                    paths.extend(open.dialog.path().map(Into::into));
                }
                open.then.take().and_then(|then| then(paths))
            }
            egui_file::State::Cancelled | egui_file::State::Closed => None,
        };
        self.in_window = None;
        let _ = self.tx.send(Msg::Dialog(answer));
    }

    /// Answers the open file dialog with `path` (`None`: cancelled), when
    /// dialogs are scripted ([`Dialogs::Scripted`]).
    pub fn answer_dialog(&mut self, path: Option<PathBuf>) {
        self.answer_dialog_with(path.into_iter().collect());
    }

    /// Answers the open file dialog with `paths` (none: cancelled), when
    /// dialogs are scripted: a question that picks several takes them all.
    pub fn answer_dialog_with(&mut self, paths: Vec<PathBuf>) {
        if let Some(then) = self.asked.take() {
            let _ = self.tx.send(Msg::Dialog(then(paths)));
        }
    }

    /// Whether a file dialog is open.
    pub fn is_asking(&self) -> bool {
        self.dialog_open
    }
}
