//! A campaign past one machine: `stemzip report merge` joins the reports
//! of its shards into one, and `stemzip slurm` writes (and submits) the
//! Slurm job array that runs the shards and then that merge.

use std::io::Write;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use indicatif::BinaryBytes;

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, print_warnings};
use crate::plan::Plan;
use crate::report::{self, Report};
use crate::shard::{Split, SplitFile};
use crate::slurm::{self, Job};

/// `stemzip report …`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Join run reports (the shards of a campaign, a retried shard) into
    /// one that lists every stem once, with the latest run's outcome.
    Merge(MergeArgs),
}

/// Arguments of `stemzip report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Report files, or folders whose `stemzip-report-*.yaml` files are joined.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// The merged report to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs `stemzip report …`.
pub fn report(command: &ReportCommand) -> ExitCode {
    match command {
        ReportCommand::Merge(args) => merge(args),
    }
}

/// The report files `args` names, folders expanded (sorted by name), each
/// once; the output file is left out.
fn report_files(args: &MergeArgs) -> Result<Vec<PathBuf>, String> {
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let add = |path: PathBuf, files: &mut Vec<PathBuf>| {
        if !same(&path, &args.output) && !files.iter().any(|f| same(f, &path)) {
            files.push(path);
        }
    };
    for path in &args.reports {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|e| format!("cannot list {}: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name().to_str().is_some_and(report::is_report_name)
                        && e.file_type().is_ok_and(|t| t.is_file())
                })
                .map(|e| e.path())
                .filter(|p| !same(p, &args.output))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{} holds no stemzip-report-*.yaml files",
                    path.display()
                ));
            }
            found.sort();
            for f in found {
                add(f, &mut files);
            }
        } else {
            add(path.clone(), &mut files);
        }
    }
    Ok(files)
}

fn merge(args: &MergeArgs) -> ExitCode {
    let loaded = report_files(args).and_then(|files| {
        files
            .into_iter()
            .map(|path| {
                Report::load(&path)
                    .map(|r| (path, r))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let reports = match loaded {
        Ok(reports) => reports,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let count = reports.len();
    let Some(merged) = report::merge(reports) else {
        eprintln!("error: no reports to merge");
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    for note in &merged.notes {
        eprintln!("warning: {note}");
    }
    for s in &merged.report.superseded {
        eprintln!(
            "superseded: {} ({} in {}) by the later run in {}",
            s.stem,
            s.status.label(),
            s.report.display(),
            s.by.display()
        );
    }
    if let Some(list) = merged.missing_shards_list() {
        eprintln!(
            "warning: no report of shard(s) {list} was given: their stems are not in the merged report"
        );
    }
    if let Err(e) = merged.report.save(&args.output) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let s = &merged.report.summary;
    println!(
        "{count} report(s) merged into {}: {} stems: {} done, {} up to date, {} failed, {} timed out, {} skipped, {} cancelled; {} in, {} out; {} superseded",
        args.output.display(),
        s.stems,
        s.done,
        s.up_to_date,
        s.failed,
        s.timed_out,
        s.skipped,
        s.cancelled,
        BinaryBytes(s.bytes_in),
        BinaryBytes(s.bytes_out),
        merged.report.superseded.len(),
    );
    if s.has_failures() || s.cancelled > 0 || !merged.missing_shards.is_empty() {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::from(EXIT_OK)
    }
}

/// Arguments of `stemzip slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The YAML profile to zip.
    pub profile: PathBuf,
    /// Array tasks: the stems are split into this many shards, balanced by bytes.
    #[arg(long, value_name = "N", value_parser = super::shards::parse_count)]
    pub tasks: usize,
    /// CPUs per task, which are the task's workers (default: the profile's workers).
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<NonZeroUsize>,
    /// Time limit per task, as sbatch takes it (e.g. 2:00:00).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// Slurm partition.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// Folder for the split file, the scripts, logs and the tasks' reports
    /// (default: stemzip-slurm-<profile name> beside the profile).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The stemzip executable the tasks run (default: this one).
    #[arg(long, value_name = "PATH")]
    pub stemzip: Option<PathBuf>,
    /// Submit the array and the merge job with sbatch, and print their job ids.
    #[arg(long)]
    pub submit: bool,
}

/// Runs `stemzip slurm`.
pub fn slurm(args: &SlurmArgs) -> ExitCode {
    match write_job(args) {
        Ok(job) if args.submit => match submit(&job) {
            Ok(()) => ExitCode::from(EXIT_OK),
            Err(message) => {
                for line in message.lines() {
                    eprintln!("error: {line}");
                }
                ExitCode::from(EXIT_FAILED)
            }
        },
        Ok(job) => {
            println!(
                "submit with: bash {}",
                job.dir.join(slurm::SUBMIT_SCRIPT).display()
            );
            ExitCode::from(EXIT_OK)
        }
        Err(message) => {
            for line in message.lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Plans the profile, writes the size-balanced split and the scripts
/// (all checked before any file is written).
fn write_job(args: &SlurmArgs) -> Result<Job, String> {
    let plan = Plan::from_file(&args.profile, &[]).map_err(|e| e.to_string())?;
    print_warnings(&plan.warnings);
    let profile = absolute(&args.profile)?;
    let name = profile.file_stem().map_or_else(
        || "profile".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let dir = match &args.dir {
        Some(dir) => absolute(dir)?,
        None => crate::plan::profile_dir(&profile).join(format!("stemzip-slurm-{name}")),
    };
    let stemzip = match &args.stemzip {
        Some(path) => absolute(path)?,
        None => {
            std::env::current_exe().map_err(|e| format!("cannot find this stemzip's path: {e}"))?
        }
    };
    let tasks = args.tasks;
    // A new split file each time: an array still pending from an earlier
    // `stemzip slurm` keeps reading its own.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let job = Job {
        name,
        stemzip,
        profile,
        dir: dir.clone(),
        split_file: dir.join(format!("split-{stamp}.yaml")),
        output_dir: absolute(&plan.output_dir)?,
        tasks,
        cpus_per_task: args
            .cpus_per_task
            .map_or(plan.settings.workers.get(), NonZeroUsize::get),
        time: args.time.clone(),
        partition: args.partition.clone(),
    };
    let scripts = [
        (slurm::ARRAY_SCRIPT, job.array_script()),
        (slurm::MERGE_SCRIPT, job.merge_script()),
        (slurm::SUBMIT_SCRIPT, job.submit_script()),
    ];
    let scripts: Vec<(&str, String)> = scripts
        .into_iter()
        .map(|(file, text)| text.map(|t| (file, t)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join(slurm::LOG_DIR))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let split = Split::by_size(plan.stem_sizes(), tasks);
    SplitFile::new(&split, plan.stem_sizes(), Some(job.profile.clone()))
        .save(&job.split_file)
        .map_err(|e| e.to_string())?;
    for (file, text) in scripts {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let loads = split.loads(plan.stem_sizes());
    let heaviest = loads.iter().map(|l| l.bytes).max().unwrap_or(0);
    let empty = loads.iter().filter(|l| l.stems.is_empty()).count();
    if empty > 0 {
        eprintln!(
            "warning: {tasks} tasks for {} stems: {empty} task(s) will have nothing to zip",
            plan.stems.len()
        );
    }
    if tasks > 1001 {
        eprintln!(
            "warning: {tasks} array tasks: Slurm's default MaxArraySize is 1001; \
             ask your administrators for the cluster's"
        );
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} stems ({}) in {tasks} shards balanced by size (heaviest {}), {} CPUs per task",
        plan.stems.len(),
        BinaryBytes(plan.total_size()),
        BinaryBytes(heaviest),
        job.cpus_per_task
    );
    let split_name = job
        .split_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "wrote {}: {split_name}, {}, {}, {}",
        dir.display(),
        slurm::ARRAY_SCRIPT,
        slurm::MERGE_SCRIPT,
        slurm::SUBMIT_SCRIPT
    );
    Ok(job)
}

/// `sbatch --parsable ARGS`: the job id.
fn sbatch(dir: &Path, args: &[String]) -> Result<String, String> {
    let output = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| {
            format!(
                "cannot run sbatch ({e}); the scripts are in {}: submit them with submit.sh there",
                dir.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "sbatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_owned();
    if id.is_empty() {
        return Err(format!("sbatch {} printed no job id", args.join(" ")));
    }
    Ok(id)
}

/// Submits the array, then the merge job after it; prints both ids.
fn submit(job: &Job) -> Result<(), String> {
    let script = |name: &str| job.dir.join(name).to_string_lossy().into_owned();
    let mut array_args = job.log_options("%A_%a");
    array_args.push(script(slurm::ARRAY_SCRIPT));
    let array = sbatch(&job.dir, &array_args)?;
    println!("submitted array job {array} ({} tasks)", job.tasks);
    let mut merge_args = vec![format!("--dependency=afterany:{array}")];
    merge_args.extend(job.log_options("merge-%j"));
    merge_args.push(script(slurm::MERGE_SCRIPT));
    merge_args.push(array.clone());
    let merge = sbatch(&job.dir, &merge_args).map_err(|e| {
        format!(
            "{e}\nthe array job {array} is queued without its merge job; when it has ended, run: \
             stemzip report merge {} -o {}",
            job.dir.join(format!("reports-{array}")).display(),
            job.output_dir
                .join(format!("stemzip-report-campaign-{array}.yaml"))
                .display()
        )
    })?;
    println!("submitted merge job {merge} (after every task of {array} ends)");
    println!(
        "campaign report: {}",
        job.output_dir
            .join(format!("stemzip-report-campaign-{array}.yaml"))
            .display()
    );
    Ok(())
}
