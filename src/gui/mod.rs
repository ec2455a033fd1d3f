//! The desktop window: a thin front end over the same plan and engine as
//! `stemzip run`.
//!
//! - `app/`: the window's state (`mod.rs`), its logic between frames
//!   (`logic.rs`), commands (`commands.rs`), profile and report files
//!   (`files.rs`) and runs (`runs.rs`);
//! - `form.rs`: the profile form; `preview.rs`: the plan preview;
//! - `results.rs`: progress, results table and details;
//! - `menu.rs`: the menu bar and keyboard shortcuts; `toolbar.rs`: Run,
//!   Cancel and the output folder; `status.rs`: the status bar;
//! - `profiles.rs`: the unsaved-changes question.

mod app;
mod form;
mod menu;
mod moving;
mod preview;
mod profiles;
mod results;
mod status;
mod toolbar;

use std::path::PathBuf;

pub use app::{
    AppOptions, Command, Dialogs, Document, Notice, Remembered, StemzipApp, ThemeChoice,
};
pub use form::FolderField;
pub use results::{Row, Sample};

/// The icon shown by the window manager.
const ICON: &[u8] = include_bytes!("../../assets/icon.png");

/// The folder for settings, recent profiles and the first-launch example
/// (`~/.config/stemzip` on Linux, `%APPDATA%\stemzip\config` on Windows).
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "stemzip").map(|d| d.config_dir().to_owned())
}

/// Draws one frame of the window.
fn draw(app: &mut StemzipApp, ui: &mut egui::Ui) {
    let mut commands = Vec::new();
    menu::shortcuts(app, ui.ctx(), &mut commands);
    egui::Panel::top("menu").show(ui, |ui| {
        menu::menu_ui(app, ui, &mut commands);
    });
    egui::Panel::top("toolbar").show(ui, |ui| toolbar::toolbar_ui(app, ui, &mut commands));
    egui::Panel::bottom("status").show(ui, |ui| status::status_ui(app, ui));
    egui::Panel::left("form")
        .resizable(true)
        .default_size(420.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                let StemzipApp {
                    form, doc, errors, ..
                } = app;
                form.ui(ui, &mut doc.profile, errors, &mut commands);
            });
        });
    egui::CentralPanel::default().show(ui, |ui| {
        egui::CollapsingHeader::new("Preview")
            .default_open(true)
            .show(ui, |ui| app.preview.ui(ui));
        ui.separator();
        let running = app.is_running();
        app.results.ui(ui, running, &mut commands);
    });
    if let Some(answer) = profiles::unsaved_changes_ui(app, ui.ctx()) {
        app.resolve_pending(answer);
    }
    if let Some(go) = moving::move_question_ui(app, ui.ctx()) {
        app.answer_move(go);
    }
    app.in_window_dialog_ui(ui.ctx());
    for c in commands {
        app.command(c);
    }
}

/// Which renderer draws the window.
fn renderer_from_env() -> Option<eframe::Renderer> {
    match std::env::var("STEMZIP_RENDERER")
        .ok()?
        .to_ascii_lowercase()
        .as_str()
    {
        "glow" | "opengl" | "gl" => Some(eframe::Renderer::Glow),
        "wgpu" => Some(eframe::Renderer::Wgpu),
        _ => None,
    }
}

fn native_options(
    renderer: eframe::Renderer,
    config_dir: Option<PathBuf>,
) -> eframe::NativeOptions {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("stemzip")
        .with_app_id("stemzip")
        .with_inner_size([1200.0, 780.0])
        .with_min_inner_size([640.0, 420.0])
        .with_drag_and_drop(true);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(ICON) {
        viewport = viewport.with_icon(icon);
    }
    eframe::NativeOptions {
        viewport,
        renderer,
        // eframe takes this as the storage *file* (its docs say folder):
        // given the folder, nothing was remembered between launches.
        persistence_path: config_dir.map(|dir| dir.join("window.ron")),
        ..Default::default()
    }
}

/// Set by SIGINT or SIGTERM (Ctrl-C in the terminal that started the
/// window, `kill`, a logout); the window then closes, and its run is
/// cancelled and waited for, so no temporary file is left behind.
static TERMINATION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The open window's context, woken by the signal handler.
static WINDOW: std::sync::OnceLock<egui::Context> = std::sync::OnceLock::new();

/// Whether the process was asked to end (see [`TERMINATION`]).
pub(crate) fn termination_requested() -> bool {
    TERMINATION.load(std::sync::atomic::Ordering::SeqCst)
}

/// Opens the window and returns when it is closed.
///
/// The window draws with wgpu (Vulkan, Metal, DX12, or their software
/// versions: Mesa's lavapipe, DX12 WARP). If wgpu cannot start, it falls back
/// to OpenGL (glow), which Mesa's llvmpipe draws without a GPU.
/// `STEMZIP_RENDERER=glow` or `=wgpu` forces one.
pub fn run(options: AppOptions) -> Result<(), String> {
    let forced = renderer_from_env();
    let first = forced.unwrap_or(eframe::Renderer::Wgpu);
    let handler = ctrlc::set_handler(|| {
        TERMINATION.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(ctx) = WINDOW.get() {
            ctx.request_repaint();
        }
    });
    if let Err(e) = handler {
        eprintln!("warning: Ctrl-C and SIGTERM will not stop a run cleanly: {e}");
    }
    let start = |renderer| {
        let options = options.clone();
        eframe::run_native(
            "stemzip",
            native_options(renderer, options.config_dir.clone()),
            Box::new(move |cc| {
                let _ = WINDOW.set(cc.egui_ctx.clone());
                Ok(Box::new(StemzipApp::new(
                    Some(cc.egui_ctx.clone()),
                    cc.storage,
                    options,
                )))
            }),
        )
    };
    match start(first) {
        Ok(()) => Ok(()),
        Err(e) if forced.is_none() => {
            eprintln!("stemzip: the wgpu renderer could not start ({e}); trying OpenGL");
            start(eframe::Renderer::Glow).map_err(|e| format!("cannot open the window: {e}"))
        }
        Err(e) => Err(format!("cannot open the window: {e}")),
    }
}
