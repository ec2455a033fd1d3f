//! The command line: `stemzip run PROFILE` (progress on stderr, JSON Lines
//! on request; one shard of a campaign with `--shard`), `stemzip gui
//! [PROFILE]`, `stemzip verify PATH...`, `stemzip report merge` and
//! `stemzip slurm`, with exit statuses scripts can rely on.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod campaign;
mod shards;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::{self, CancelToken, Event, Summary};
use crate::plan::{Plan, Warning};
use crate::profile::{Edits, Overlay, Override};

/// Exit status: every stem succeeded or was skipped.
pub const EXIT_OK: u8 = 0;
/// Exit status: a stem failed or timed out.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the profile or the arguments are wrong; nothing was written.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: interrupted (Ctrl-C); running stems were stopped cleanly.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Most lines of one kind of warning printed before "… and N more".
const WARNING_LINES: usize = 10;

/// stemzip: one zip per stem, in parallel.
#[derive(Debug, Parser)]
#[command(name = "stemzip", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Zip every stem a profile describes.
    Run(RunArgs),
    /// Open the window (what `stemzip` with no arguments does).
    Gui(GuiArgs),
    /// Test existing zips (every entry's CRC-32), e.g. before deleting the originals.
    Verify(VerifyArgs),
    /// Work with run reports (join the reports of a campaign's shards).
    #[command(subcommand)]
    Report(campaign::ReportCommand),
    /// Write (and optionally submit) a Slurm job array that zips the
    /// profile's stems in size-balanced shards, then merges their reports.
    Slurm(campaign::SlurmArgs),
}

/// Arguments of `stemzip verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Zip files, or folders whose `*.zip` files are tested.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `stemzip verify`: one line per zip on stdout; exit status 1 when any
/// zip is damaged, 2 when a path does not exist or holds no zip.
pub fn verify(args: &VerifyArgs) -> ExitCode {
    let mut zips = Vec::new();
    for path in &args.paths {
        if path.is_dir() {
            let listed = std::fs::read_dir(path).map(|rd| {
                let mut found: Vec<PathBuf> = rd
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.is_file()
                            && p.extension()
                                .and_then(|e| e.to_str())
                                .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
                    })
                    .collect();
                found.sort();
                found
            });
            match listed {
                Ok(found) if found.is_empty() => {
                    eprintln!("error: {} holds no .zip files", path.display());
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
                Ok(found) => zips.extend(found),
                Err(e) => {
                    eprintln!("error: cannot list {}: {e}", path.display());
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            }
        } else if path.exists() {
            zips.push(path.clone());
        } else {
            eprintln!("error: {} does not exist", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let mut damaged = 0;
    let mut out = std::io::stdout().lock();
    for zip in &zips {
        match crate::archive::verify_zip(zip) {
            Ok(check) => {
                let _ = writeln!(
                    out,
                    "ok       {}  ({} entries, {})",
                    zip.display(),
                    check.names.len(),
                    BinaryBytes(check.bytes)
                );
            }
            Err(e) => {
                damaged += 1;
                let _ = writeln!(out, "DAMAGED  {}: {e}", zip.display());
            }
        }
    }
    let _ = writeln!(out, "{} zip(s) tested, {damaged} damaged", zips.len());
    if damaged > 0 {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::from(EXIT_OK)
    }
}

/// Arguments of `stemzip gui`.
#[derive(Debug, Args)]
pub struct GuiArgs {
    /// A profile to open (default: the last one, or the bundled example on first launch).
    pub profile: Option<PathBuf>,
    /// The Python tool's override argument: a dict literal merged into the
    /// profile (shown as unsaved changes; never written back unless saved).
    #[arg(value_name = "OVERRIDES", requires = "profile")]
    pub overrides: Option<String>,
    /// Start running the profile at once.
    #[arg(long, requires = "profile")]
    pub run: bool,
}

/// The dict argument of `stemzip gui`, parsed; a malformed one is reported
/// on stderr and gives exit status 2.
pub fn gui_overlay(args: &GuiArgs) -> Result<Option<Overlay>, ExitCode> {
    args.overrides
        .as_deref()
        .map(str::parse::<Overlay>)
        .transpose()
        .map_err(|e| {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        })
}

/// Arguments of `stemzip run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The YAML profile (an assetutilities zip-by-stem configuration works as is).
    pub profile: PathBuf,
    /// The Python tool's override argument, a dict literal deep-merged into
    /// the profile, e.g. "{'file_management': {'output_directory': '../zip/03c'}}".
    #[arg(value_name = "OVERRIDES")]
    pub overrides: Option<String>,
    /// Print the plan and its warnings; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Number of worker threads (overrides parallel_processing.max_workers).
    #[arg(long, value_name = "N")]
    pub workers: Option<NonZeroUsize>,
    /// Override a profile key by its dotted path, e.g. archive.compression=deflate.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print one JSON object per event on stdout (JSON Lines), ending with the summary.
    #[arg(long)]
    pub json: bool,
    /// Update mode (archive.update): leave zips that already hold exactly
    /// their stem's files, rebuild those that differ.
    #[arg(long)]
    pub update: bool,
    /// Move mode (archive.delete_originals): delete each stem's data files
    /// once its zip is complete, flushed to disk and read back in full.
    #[arg(long = "move")]
    pub move_files: bool,
    /// Zip only shard K of N of the stems (K from 1 to N), for one task of
    /// many sharing the output folder; `auto` takes K and N from a Slurm
    /// job array task's variables. A shard's run always writes its report.
    #[arg(long, value_name = "K/N|auto", value_parser = shards::parse_shard)]
    pub shard: Option<shards::ShardArg>,
    /// How stems are split into shards: `hash` of the stem name (every task
    /// agrees, no file needed) or balanced by `size` (give every task the
    /// same --split file).
    #[arg(long, value_enum, value_name = "HOW")]
    pub shard_by: Option<shards::ShardByArg>,
    /// A split file: read by --shard (written by `--dry-run --shards N
    /// --split FILE` or by `stemzip slurm`), written by --shards.
    #[arg(long, value_name = "FILE")]
    pub split: Option<PathBuf>,
    /// With --dry-run: print the split into N shards as a table (stems and
    /// bytes per shard), and write it to --split FILE if given.
    #[arg(long, value_name = "N", requires = "dry_run", conflicts_with = "shard",
          value_parser = shards::parse_count)]
    pub shards: Option<usize>,
    /// Write a report of every stem and its outcome to FILE (whether or
    /// not any failed).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Runs `stemzip run` and returns the process exit status.
pub fn run(args: &RunArgs) -> ExitCode {
    let plan = edits(args).and_then(|edits| Plan::from_file_edited(&args.profile, &edits));
    let mut plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    print_warnings(&plan.warnings);
    if let Some(count) = args.shards {
        return shards::print_split(args, &plan, count);
    }
    if let Err(message) = shards::keep_shard(args, &mut plan) {
        eprintln!("error: {message}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(path) = &args.report {
        plan.settings.report_path = Some(path.clone());
        plan.settings.full_report = true;
    }
    if args.dry_run {
        print_plan(&plan, args.json);
        return ExitCode::from(EXIT_OK);
    }

    let cancel = CancelToken::new();
    let handler_token = cancel.clone();
    if let Err(e) = ctrlc::set_handler(move || handler_token.cancel()) {
        eprintln!("warning: Ctrl-C will not stop the run cleanly: {e}");
    }
    let show_progress = plan.settings.progress_reporting;
    let mut progress = Progress::new(&plan, show_progress);
    let mut summary = Summary::default();
    let mut stdout = std::io::stdout().lock();
    // The engine runs its stems on threads of its own and hands events to
    // this one in order; no event thread is needed between them.
    engine::execute_with(plan, &cancel, |event| {
        if args.json
            && let Ok(line) = serde_json::to_string(&event)
        {
            let _ = writeln!(stdout, "{line}");
        }
        progress.on(&event);
        if let Event::RunFinished(s) = event {
            summary = s;
        }
    });
    progress.finish();
    drop(stdout);
    if !args.json {
        print_summary(&summary);
    }
    if let Some(e) = &summary.report_error {
        let _ = writeln!(
            std::io::stderr(),
            "error: could not write the run report: {e}"
        );
    }
    // A shard's report is what the campaign's merge reads: without it the
    // task did not do its whole job.
    let report_required = args.report.is_some() || args.shard.is_some();
    if summary.was_cancelled {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if summary.has_failures() || (report_required && summary.report_error.is_some()) {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::from(EXIT_OK)
    }
}

/// The dict argument, then `--workers`, then each `--set` (the last word).
fn edits(args: &RunArgs) -> Result<Edits, crate::plan::LoadError> {
    let overlay = args
        .overrides
        .as_deref()
        .map(str::parse::<Overlay>)
        .transpose()?;
    let mut sets = Vec::new();
    if let Some(n) = args.workers {
        sets.push(format!("parallel_processing.max_workers={n}"));
        sets.push("parallel_processing.enabled=true".to_owned());
    }
    if args.update {
        sets.push("archive.update=true".to_owned());
    }
    if args.move_files {
        sets.push("archive.delete_originals=true".to_owned());
    }
    sets.extend(args.set.iter().cloned());
    let sets = sets
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<Override>, _>>()?;
    Ok(Edits { overlay, sets })
}

pub(crate) fn print_warnings(warnings: &[Warning]) {
    let mut shown: HashMap<std::mem::Discriminant<Warning>, usize> = HashMap::new();
    for w in warnings {
        let n = shown.entry(std::mem::discriminant(w)).or_default();
        *n += 1;
        if *n <= WARNING_LINES {
            eprintln!("warning: {w}");
        }
    }
    for w in warnings {
        let key = std::mem::discriminant(w);
        if let Some(&n) = shown.get(&key)
            && n > WARNING_LINES
        {
            eprintln!("warning: … and {} more like the above", n - WARNING_LINES);
            shown.remove(&key);
        }
    }
}

/// In update mode, each stem's freshness (`None` for a stem with no
/// members, which is skipped anyway), read from the zips in parallel.
fn freshness_of(plan: &Plan) -> Vec<Option<crate::archive::Freshness>> {
    use rayon::prelude::*;
    if !plan.settings.update {
        return vec![None; plan.stems.len()];
    }
    plan.stems
        .par_iter()
        .map(|s| {
            (!s.members.is_empty()).then(|| {
                crate::archive::dry_run_verdict(
                    &s.zip_path(&plan.output_dir),
                    s,
                    plan.settings.compression,
                    plan.settings.drop_missing_entries,
                )
            })
        })
        .collect()
}

fn print_plan(plan: &Plan, json: bool) {
    use crate::archive::Freshness;
    let fresh = freshness_of(plan);
    if json {
        let mut value = serde_json::json!({
            "output_directory": plan.output_dir,
            "stems": plan.stems.iter().zip(&fresh).map(|(s, f)| {
                let mut stem = serde_json::json!({
                    "stem": s.name,
                    "files": s.members.len(),
                    "bytes": s.total_size(),
                    "members": s.members.iter().map(|m| &m.name).collect::<Vec<_>>(),
                });
                if let Some(f) = f {
                    stem["up_to_date"] = (*f == Freshness::UpToDate).into();
                    stem["update"] = f.describe().into();
                }
                stem
            }).collect::<Vec<_>>(),
            "warnings": plan.warnings,
            "unclaimed_files": plan.unclaimed_files,
            "settings": settings_json(plan),
            "shard": plan.shard,
            "profile": serde_json::to_value(plan.profile.to_value()).ok(),
        });
        if plan.settings.delete_originals {
            let originals = plan.originals();
            value["delete"] =
                serde_json::json!(originals.iter().map(|m| &m.path).collect::<Vec<_>>());
            value["delete_bytes"] = originals.iter().map(|m| m.size).sum::<u64>().into();
        }
        println!("{value}");
        return;
    }
    let mut out = std::io::stdout().lock();
    for (stem, f) in plan.stems.iter().zip(&fresh) {
        let note = f
            .as_ref()
            .map_or_else(String::new, |f| format!("  {}", f.describe()));
        let _ = writeln!(
            out,
            "{}  ({} files, {}){note}",
            stem.name,
            stem.members.len(),
            BinaryBytes(stem.total_size())
        );
        for m in &stem.members {
            let _ = writeln!(out, "    {}", m.name);
        }
    }
    if plan.settings.delete_originals {
        let originals = plan.originals();
        let _ = writeln!(
            out,
            "move mode: these {} file(s) ({}) are deleted, each once its stem's zip is complete, \
             flushed and read back (and every other stem holding it too):",
            originals.len(),
            BinaryBytes(originals.iter().map(|m| m.size).sum::<u64>())
        );
        for m in &originals {
            let _ = writeln!(out, "    {}", m.path.display());
        }
    }
    let _ = writeln!(out, "settings in effect:");
    for (what, value) in settings_lines(plan) {
        let _ = writeln!(out, "  {what:<18}{value}");
    }
    let kept = |f: &Option<Freshness>| -> bool {
        matches!(f, Some(Freshness::UpToDate | Freshness::WouldFail(_)))
    };
    let up_to_date = fresh
        .iter()
        .filter(|f| **f == Some(Freshness::UpToDate))
        .count();
    let not_written: Vec<&crate::plan::Stem> = plan
        .stems
        .iter()
        .zip(&fresh)
        .filter(|(_, f)| kept(f))
        .map(|(s, _)| s)
        .collect();
    let zips = plan
        .stems
        .iter()
        .filter(|s| !s.members.is_empty())
        .count()
        .saturating_sub(not_written.len());
    let bytes = plan
        .total_size()
        .saturating_sub(not_written.iter().map(|s| s.total_size()).sum::<u64>());
    let shard = plan.shard.map_or_else(String::new, |s| {
        format!(" (shard {} of {})", s.index, s.count)
    });
    let fresh_note = if plan.settings.update {
        let failing = not_written.len() - up_to_date;
        if failing > 0 {
            format!(", {up_to_date} up to date, {failing} to fail (zips kept)")
        } else {
            format!(", {up_to_date} up to date")
        }
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "dry run{shard}: {} stems{fresh_note}, {} zips ({}) would be written to {}",
        plan.stems.len(),
        zips,
        BinaryBytes(bytes),
        plan.output_dir.display()
    );
}

/// The settings a run of `plan` uses, as (what, value) lines for `--dry-run`.
fn settings_lines(plan: &Plan) -> Vec<(&'static str, String)> {
    let s = &plan.settings;
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    vec![
        ("stem sources", plan.stem_dir.display().to_string()),
        ("data files", plan.data_dir.display().to_string()),
        ("output folder", plan.output_dir.display().to_string()),
        (
            "workers",
            if plan.profile.parallel_processing.enabled {
                s.workers.to_string()
            } else {
                "1 (parallel processing off)".to_owned()
            },
        ),
        (
            "timeout per stem",
            s.timeout
                .map_or_else(|| "none".to_owned(), |t| format!("{} s", t.as_secs_f64())),
        ),
        ("overwrite zips", yes_no(s.overwrite)),
        (
            "compression",
            match s.level {
                Some(level) => format!("{} level {level}", s.compression.name()),
                None => s.compression.name().to_owned(),
            },
        ),
        ("verify", yes_no(s.verify)),
        ("update", yes_no(s.update)),
        ("delete originals", yes_no(s.delete_originals)),
        ("error reports", yes_no(s.save_error_reports)),
        ("progress", yes_no(s.progress_reporting)),
    ]
}

fn settings_json(plan: &Plan) -> serde_json::Value {
    let s = &plan.settings;
    serde_json::json!({
        "stem_directory": plan.stem_dir,
        "data_directory": plan.data_dir,
        "output_directory": plan.output_dir,
        "workers": s.workers.get(),
        "timeout_seconds": s.timeout.map(|t| t.as_secs_f64()),
        "overwrite": s.overwrite,
        "compression": s.compression.name(),
        "level": s.level,
        "verify": s.verify,
        "update": s.update,
        "delete_originals": s.delete_originals,
        "save_error_reports": s.save_error_reports,
        "progress_reporting": s.progress_reporting,
    })
}

fn print_summary(s: &Summary) {
    // Written as the run ends: a closed stdout is no reason to panic.
    let mut out = std::io::stdout().lock();
    let counts: Vec<String> = [
        (s.done, "done"),
        (s.up_to_date, "up to date"),
        (s.failed, "failed"),
        (s.timed_out, "timed out"),
        (s.skipped, "skipped"),
        (s.cancelled, "cancelled"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let _ = writeln!(
        out,
        "{} stems: {}; {} in, {} out, {:.1} s ({}/s)",
        s.stems,
        if counts.is_empty() {
            "nothing to do".to_owned()
        } else {
            counts.join(", ")
        },
        BinaryBytes(s.bytes_in),
        BinaryBytes(s.bytes_out),
        s.seconds,
        BinaryBytes(s.throughput() as u64),
    );
    if s.files_deleted > 0 {
        let _ = writeln!(
            out,
            "{} original file(s) deleted, {} freed",
            s.files_deleted,
            BinaryBytes(s.bytes_freed)
        );
    }
    if let Some(report) = &s.report {
        let _ = writeln!(out, "run report: {}", report.display());
    }
}

/// Terminal progress: a bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    total: usize,
    ended: usize,
    names: Vec<String>,
    bytes_done: Vec<u64>,
}

impl Progress {
    fn new(plan: &Plan, enabled: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (enabled && terminal).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(plan.total_size()),
                ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress {
            bar,
            plain: enabled && !terminal,
            total: plan.stems.len(),
            ended: 0,
            names: plan.stems.iter().map(|s| s.name.clone()).collect(),
            bytes_done: vec![0; plan.stems.len()],
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            // A closed stderr (`| head`, or `| tee` ended by the same
            // Ctrl-C) must not stop the run half-way.
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    fn advance(&mut self, stem: usize, done: u64) {
        if let Some(slot) = self.bytes_done.get_mut(stem) {
            let delta = done.saturating_sub(*slot);
            *slot = done;
            if let Some(bar) = &self.bar {
                bar.inc(delta);
            }
        }
    }

    fn on(&mut self, event: &Event) {
        let Some(stem) = event.stem() else { return };
        match event {
            Event::Progress { bytes_done, .. } => self.advance(stem, *bytes_done),
            Event::Warning { name, message, .. } => {
                self.line(&format!("warning: {name}: {message}"));
            }
            Event::Deleted {
                name, files, bytes, ..
            } => {
                if self.plain {
                    self.line(&format!(
                        "deleted {files} file(s) of {name} ({})",
                        BinaryBytes(*bytes)
                    ));
                }
            }
            Event::Queued { .. } | Event::Started { .. } | Event::RunFinished(_) => {}
            _ => {
                self.ended += 1;
                let counter = format!("[{}/{}]", self.ended, self.total);
                let name = self.names.get(stem).cloned().unwrap_or_default();
                match event {
                    Event::Finished {
                        files,
                        bytes_in,
                        bytes_out,
                        seconds,
                        ..
                    } => {
                        self.advance(stem, *bytes_in);
                        if self.plain {
                            self.line(&format!(
                                "{counter} done {name}: {files} files, {} -> {}, {seconds:.2} s",
                                BinaryBytes(*bytes_in),
                                BinaryBytes(*bytes_out)
                            ));
                        }
                    }
                    Event::Failed { error, .. } => {
                        self.line(&format!("{counter} FAILED {name}: {error}"));
                    }
                    Event::TimedOut { seconds, .. } => {
                        self.line(&format!("{counter} TIMED OUT {name} after {seconds:.1} s"));
                    }
                    Event::UpToDate { .. } if self.plain => {
                        self.line(&format!("{counter} up to date {name}"));
                    }
                    Event::Skipped { reason, .. } if self.plain => {
                        self.line(&format!("{counter} skipped {name}: {reason}"));
                    }
                    Event::Cancelled { .. } if self.plain => {
                        self.line(&format!("{counter} cancelled {name}"));
                    }
                    _ => {}
                }
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{}/{} stems", self.ended, self.total));
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The whole program behind both executables: parse the arguments, pick the
/// front end, return the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => run(&args),
        Some(Command::Gui(args)) => match gui_overlay(&args) {
            Ok(overlay) => window(args.profile, args.run, overlay),
            Err(status) => status,
        },
        Some(Command::Verify(args)) => verify(&args),
        Some(Command::Report(command)) => campaign::report(&command),
        Some(Command::Slurm(args)) => campaign::slurm(&args),
        None => window(None, false, None),
    }
}

#[cfg(feature = "gui")]
fn window(
    profile: Option<std::path::PathBuf>,
    run_now: bool,
    overlay: Option<crate::profile::Overlay>,
) -> ExitCode {
    let options = crate::gui::AppOptions {
        config_dir: crate::gui::config_dir(),
        profile,
        run_now,
        overlay,
        dialogs: crate::gui::Dialogs::System,
        desktop_notifications: true,
    };
    match crate::gui::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "gui"))]
fn window(
    _profile: Option<std::path::PathBuf>,
    _run_now: bool,
    _overlay: Option<crate::profile::Overlay>,
) -> ExitCode {
    use clap::CommandFactory;
    eprintln!(
        "this stemzip was built without the window (feature `gui`); use `stemzip run PROFILE`"
    );
    let _ = Cli::command().print_help();
    ExitCode::from(EXIT_BAD_INPUT)
}
