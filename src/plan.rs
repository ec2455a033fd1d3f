//! Turning a [`Profile`] into a checked [`Plan`]: folders resolved, filters
//! compiled, the stems listed with their members, warnings collected.
//!
//! Only a `Plan` reaches the engine. The grouping rules live here:
//! - stem sources are regular files directly in the stem-source folder whose
//!   extension is one of the listed ones (case-insensitive); the stem is the
//!   file name without its last extension; pattern and filters apply; the same
//!   stem from two files is one stem;
//! - members are regular files directly in the data folder with one of the
//!   data extensions (case-insensitive), matched to stems by
//!   [`StemMatch`] (case-sensitive), sorted by name.
//!
//! Planning is one pass over each folder: `contains` matching uses an
//! Aho–Corasick automaton of all stems, `prefix` looks up every prefix of a
//! name, `exact` looks up the name's own stem.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde::Serialize;

use crate::profile::{
    ArchiveSettings, Compression, Filters, ParallelProcessing, Profile, ProfileError, SafeDefault,
    StemMatch, Workers, python_truth, value_text,
};
use crate::temp;
use serde_yaml::Value;

/// The folder used for `file_management.output_directory` when none is set.
pub const DEFAULT_OUTPUT_DIRECTORY: &str = "results";

/// Everything the engine needs to run: resolved folders, settings, stems and
/// their members.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The profile this plan was made from (written into error reports).
    pub profile: Profile,
    /// The profile file, when the profile came from one.
    pub profile_path: Option<PathBuf>,
    /// Resolved `file_management.input_directory`.
    pub stem_dir: PathBuf,
    /// Resolved `analysis.input_directory`.
    pub data_dir: PathBuf,
    /// Resolved `file_management.output_directory`.
    pub output_dir: PathBuf,
    /// The checked run settings.
    pub settings: RunSettings,
    /// The stems, sorted by name.
    pub stems: Vec<Stem>,
    /// Data files with a data extension that no stem took.
    pub unclaimed_files: usize,
    /// Things the user should know before running.
    pub warnings: Vec<Warning>,
    /// The shard of a campaign this run zips, when it is one (its report
    /// is named after it and lists every stem).
    pub shard: Option<crate::shard::Shard>,
    /// Stems of the same campaign this run leaves out (another shard's,
    /// those a retry does not run): move mode keeps the files they share
    /// and never deletes their stem sources.
    pub outside: Vec<Stem>,
}

/// Run settings after checking: every value is valid here.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Worker threads to use (already `1` when parallelism is disabled).
    pub workers: NonZeroUsize,
    /// Longest time one stem may take.
    pub timeout: Option<Duration>,
    /// Replace existing zips (`true`) or skip their stems (`false`).
    pub overwrite: bool,
    /// Compression method.
    pub compression: Compression,
    /// Compression level (`None` for stored).
    pub level: Option<i64>,
    /// Read each zip back and check CRCs before counting the stem as done.
    pub verify: bool,
    /// Update mode: leave zips that hold exactly their planned members, and
    /// rebuild the others (whatever `overwrite` says).
    pub update: bool,
    /// Move mode: delete each stem's data files once its zip is complete,
    /// durable and verified (verify is then on).
    pub delete_originals: bool,
    /// Move mode: delete even where the folder entry cannot be flushed.
    pub accept_unflushed_folder: bool,
    /// Replace a zip even when that drops entries whose files are gone.
    pub drop_missing_entries: bool,
    /// Write an error report when any stem does not succeed.
    pub save_error_reports: bool,
    /// Show progress on a terminal.
    pub progress_reporting: bool,
    /// Whether the output folder ignores letter case in file names; `None`
    /// (what planning gives) lets the run find out with a probe file.
    pub folder_ignores_case: Option<bool>,
    /// Write a run report listing every stem with its outcome (not only
    /// the problems), whatever `save_error_reports` says: shard runs do.
    pub full_report: bool,
    /// Where the run report goes instead of a new timestamped name in the
    /// output folder.
    pub report_path: Option<PathBuf>,
}

/// One stem: its name, the files that named it and the files to archive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stem {
    /// The stem (a stem source's file name without its last extension).
    pub name: String,
    /// The stem-source files that gave this stem.
    pub sources: Vec<PathBuf>,
    /// Files to archive, sorted by name.
    pub members: Vec<Member>,
    /// The earlier stem (with members) whose zip name differs from this
    /// one's only in letter case. In an output folder that ignores case both
    /// zips would be one file, so there this stem fails instead of replacing
    /// the other's zip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_zip_as: Option<String>,
}

impl Stem {
    /// Total size of the members in bytes.
    pub fn total_size(&self) -> u64 {
        self.members.iter().map(|m| m.size).sum()
    }

    /// Where this stem's zip goes in `output_dir`.
    pub fn zip_path(&self, output_dir: &Path) -> PathBuf {
        output_dir.join(format!("{}.zip", self.name))
    }
}

/// A plan's stem-source files, known by their paths as written and as
/// resolved: a data folder and a stem folder that are one folder spelled
/// two ways (absolute and relative, through a link, with `..`, in another
/// case on Windows) still name the same files.
#[derive(Debug, Clone, Default)]
pub struct SourceFiles {
    /// Their paths as written, by file name in lower case: a path with
    /// another name is not one of them, and only paths of the same name
    /// are resolved to be compared (rarely any: a member and a stem file
    /// share a name only when one folder holds both).
    by_name: HashMap<String, Vec<PathBuf>>,
}

impl SourceFiles {
    fn new<'a>(sources: impl Iterator<Item = &'a PathBuf>) -> SourceFiles {
        let mut files = SourceFiles::default();
        for path in sources {
            if let Some(name) = lower_name(path) {
                files.by_name.entry(name).or_default().push(path.clone());
            }
        }
        files
    }

    /// Whether the file at `path` is one of them.
    pub fn holds(&self, path: &Path) -> bool {
        let Some(same_name) = lower_name(path).and_then(|name| self.by_name.get(&name)) else {
            return false;
        };
        if same_name.iter().any(|source| source == path) {
            return true;
        }
        // Where it cannot be told, it is taken for one (and kept).
        let Ok(resolved) = fs::canonicalize(path) else {
            return true;
        };
        same_name
            .iter()
            .any(|source| fs::canonicalize(source).map_or(true, |s| s == resolved))
    }
}

/// A path's file name in lower case (names may differ in case only where
/// the file system ignores it, and lower case covers both).
fn lower_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().to_lowercase())
}

/// One file to archive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// The entry name (the file's base name). Lossy when the name is not UTF-8.
    pub name: String,
    /// The file on disk.
    pub path: PathBuf,
    /// Size in bytes when planned.
    pub size: u64,
    /// Modification time when planned.
    #[serde(skip)]
    pub modified: SystemTime,
    /// `false` when the file name is not valid UTF-8 (the stem then fails).
    pub utf8_name: bool,
}

/// Something the user should know about a plan; none of them stops a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// A data file that goes into more than one stem's zip.
    SharedFile {
        /// The data file's name.
        file: String,
        /// The stems that take it.
        stems: Vec<String>,
    },
    /// A stem no data file matches: it writes no zip.
    EmptyStem {
        /// The stem.
        stem: String,
    },
    /// Data files with a data extension that no stem took.
    UnclaimedFiles {
        /// How many.
        count: usize,
    },
    /// `parallel_processing.max_workers` was not `auto` or a positive number.
    InvalidWorkers {
        /// The value as written.
        value: String,
        /// The worker count used instead.
        using: usize,
    },
    /// A `parallel_processing` value that could not be used as written; its
    /// safe default is used instead (the original's rule).
    SafeDefault(SafeDefault),
    /// A relative folder not found next to the profile but in the current
    /// folder, where the original also looks.
    FromCurrentFolder {
        /// The dotted key.
        key: String,
        /// The folder used.
        path: PathBuf,
    },
    /// `analysis_settings` routes this profile away from zipping by stem in
    /// the original (which zips by stem only when `flag` is true and `by` is
    /// `stem`); stemzip zips by stem anyway.
    NotRoutedByStem {
        /// The dotted key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// A zip name Windows cannot use (a reserved device name such as `CON`,
    /// a character it forbids, a trailing dot or space). Elsewhere the zip
    /// is written, but Windows users cannot open, rename or delete it; on
    /// Windows the stem fails.
    WindowsUnsafeName {
        /// The zip's file name.
        zip: String,
        /// Why Windows cannot use it.
        reason: String,
    },
    /// `archive.level` was set for a method without levels.
    LevelIgnored {
        /// The method.
        compression: String,
    },
    /// Zip names that differ only in letter case (`caseA.zip`, `casea.zip`):
    /// one file where the output folder ignores case (Windows, macOS, many
    /// network shares); there only the first is written.
    CaseClash {
        /// The zip names.
        zips: Vec<String>,
    },
    /// A folder entry that looked relevant but was passed over.
    Passed {
        /// The entry.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SharedFile { file, stems } => {
                write!(
                    f,
                    "{file} goes into {} zips: {}",
                    stems.len(),
                    stems.join(", ")
                )
            }
            Warning::EmptyStem { stem } => {
                write!(f, "stem {stem} has no data files: no zip is written")
            }
            Warning::UnclaimedFiles { count } => {
                write!(f, "{count} data file(s) match no stem and are not archived")
            }
            Warning::InvalidWorkers { value, using } => write!(
                f,
                "parallel_processing.max_workers: {value} is not `auto` or a positive number; using auto ({using})"
            ),
            Warning::SafeDefault(default) => write!(f, "{default}"),
            Warning::FromCurrentFolder { key, path } => write!(
                f,
                "{key}: not found next to the profile; using {} in the current folder",
                path.display()
            ),
            Warning::NotRoutedByStem { key, value } => write!(
                f,
                "{key} is {value}: the Python tool zips by stem only when analysis_settings.flag \
                 is true and analysis_settings.by is `stem`, so it would not have zipped this \
                 profile; stemzip zips it by stem"
            ),
            Warning::WindowsUnsafeName { zip, reason } => write!(
                f,
                "{zip}: {reason}, so Windows cannot open, rename or delete it{}; rename the stem",
                if cfg!(windows) {
                    " (this stem fails)"
                } else {
                    " (it is written here)"
                }
            ),
            Warning::LevelIgnored { compression } => {
                write!(f, "archive.level is ignored: {compression} has no levels")
            }
            Warning::CaseClash { zips } => write!(
                f,
                "{} differ only in letter case: in a folder that ignores case (Windows, macOS) \
                 only the first is written",
                zips.join(", ")
            ),
            Warning::Passed { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

/// A setting that is wrong; the plan cannot be made until it is fixed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingError {
    /// The dotted profile key, e.g. `analysis.input_directory`.
    pub key: &'static str,
    /// What is wrong and what to do, naming the value.
    pub message: String,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// One or more settings are wrong.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Settings(Vec<SettingError>),
    /// A folder could not be listed.
    #[error("{key}: cannot list {}: {source}", path.display())]
    List {
        /// The key naming the folder.
        key: &'static str,
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Why Windows cannot use `name` as a file name, if it cannot: a reserved
/// device name (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`,
/// with any extension and in any case), a character Windows forbids, or a
/// trailing dot or space (which Windows drops).
pub fn windows_name_problem(name: &str) -> Option<String> {
    let base = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = base.to_uppercase();
    let numbered = (upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper
            .get(3..)
            .is_some_and(|n| n.len() <= 2 && n.chars().count() == 1 && "0123456789¹²³".contains(n));
    let device = matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    );
    if numbered || device {
        return Some(format!("`{base}` is a reserved device name on Windows"));
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*' | '\\' | '/') || c.is_control()
    }) {
        return Some(format!("{c:?} is not allowed in a Windows file name"));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("Windows drops a trailing dot or space from file names".to_owned());
    }
    None
}

/// Resolves a profile path against the profile's folder. Backslashes are
/// folder separators on every platform, so Windows profiles run elsewhere.
pub fn resolve_path(base_dir: &Path, raw: &str) -> PathBuf {
    let raw = if cfg!(windows) {
        raw.to_owned()
    } else {
        raw.replace('\\', "/")
    };
    let path = Path::new(&raw);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base_dir.join(path)
    }
}

fn normalize_extensions(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|e| e.trim().trim_start_matches('.').to_lowercase())
        .collect()
}

/// The folders and compiled filters of a profile, once every setting is valid.
struct Checked {
    stem_dir: PathBuf,
    data_dir: PathBuf,
    output_dir: PathBuf,
    stem_extensions: Vec<String>,
    data_extensions: Vec<String>,
    regex: Option<Regex>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    settings: RunSettings,
    warnings: Vec<Warning>,
}

/// Checks every setting of `profile` (paths resolved against `base_dir`)
/// without listing any folder. Returns every problem found, so a form can show
/// each beside its field.
pub fn check(profile: &Profile, base_dir: &Path) -> Vec<SettingError> {
    match check_settings(profile, base_dir) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    }
}

/// A relative folder of a profile, looked up as the original does: next to
/// the profile first, then in the current folder.
struct Located {
    /// The folder to use.
    path: PathBuf,
    /// `true` when only the current folder had it.
    from_current_folder: bool,
    /// The current folder's candidate, when it was looked at and differs.
    also_tried: Option<PathBuf>,
}

fn locate(base_dir: &Path, raw: &str) -> Located {
    let path = resolve_path(base_dir, raw);
    let near_profile = Located {
        path: path.clone(),
        from_current_folder: false,
        also_tried: None,
    };
    if path.exists() || resolve_path(Path::new(""), raw).is_absolute() {
        return near_profile;
    }
    // The same folder reached two ways (`./csv`, `/cwd/csv`) is one place.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    match std::env::current_dir().map(|cwd| resolve_path(&cwd, raw)) {
        Ok(candidate) if absolute(&candidate) == absolute(&path) => near_profile,
        Ok(candidate) if candidate.exists() => Located {
            path: candidate,
            from_current_folder: true,
            also_tried: None,
        },
        Ok(candidate) => Located {
            also_tried: Some(candidate),
            ..near_profile
        },
        Err(_) => near_profile,
    }
}

fn check_folder(
    errors: &mut Vec<SettingError>,
    warnings: &mut Vec<Warning>,
    key: &'static str,
    base_dir: &Path,
    raw: Option<&str>,
) -> PathBuf {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let located = match raw {
        Some(raw) => locate(base_dir, raw),
        None => Located {
            path: base_dir.to_owned(),
            from_current_folder: false,
            also_tried: None,
        },
    };
    let path = located.path;
    if located.from_current_folder {
        warnings.push(Warning::FromCurrentFolder {
            key: key.to_owned(),
            path: path.clone(),
        });
    }
    match fs::metadata(&path) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => errors.push(SettingError {
            key,
            message: format!("{} is a file, not a folder", path.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => errors.push(SettingError {
            key,
            message: match located.also_tried {
                Some(other) => format!(
                    "folder {} does not exist (looked next to the profile, {}, and in the current folder, {})",
                    raw.unwrap_or_default(),
                    path.display(),
                    other.display()
                ),
                None => format!("folder {} does not exist", path.display()),
            },
        }),
        Err(e) => errors.push(SettingError {
            key,
            message: format!("cannot open folder {}: {e}", path.display()),
        }),
    }
    path
}

/// Warnings for `analysis_settings` values that would have sent the profile
/// elsewhere in the original (a missing section is fine).
fn routing_warnings(profile: &Profile) -> Vec<Warning> {
    let Some(Value::Mapping(section)) = profile.unknown_keys().get("analysis_settings") else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    if let Some(flag) = section.get("flag")
        && !python_truth(flag)
    {
        warnings.push(Warning::NotRoutedByStem {
            key: "analysis_settings.flag".to_owned(),
            value: value_text(flag),
        });
    }
    if let Some(by) = section.get("by")
        && by.as_str() != Some("stem")
    {
        warnings.push(Warning::NotRoutedByStem {
            key: "analysis_settings.by".to_owned(),
            value: value_text(by),
        });
    }
    warnings
}

fn check_extensions(
    errors: &mut Vec<SettingError>,
    key: &'static str,
    list: &[String],
) -> Vec<String> {
    let list = normalize_extensions(list);
    if list.is_empty() {
        errors.push(SettingError {
            key,
            message: "no extensions given; list at least one, e.g. [csv]".to_owned(),
        });
    } else if list.iter().any(String::is_empty) {
        errors.push(SettingError {
            key,
            message: "an extension is empty".to_owned(),
        });
    }
    list
}

fn check_size(errors: &mut Vec<SettingError>, key: &'static str, kb: Option<f64>) -> Option<u64> {
    let kb = kb?;
    if !kb.is_finite() || kb < 0.0 {
        errors.push(SettingError {
            key,
            message: format!("{kb} is not a size; give a number of KiB, 0 or more"),
        });
        return None;
    }
    // Sizes are whole bytes: rounding a KiB fraction up is what a user means.
    Some((kb * 1024.0).ceil() as u64)
}

fn check_settings(profile: &Profile, base_dir: &Path) -> Result<Checked, Vec<SettingError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let fm = &profile.file_management;
    let (stem_dir, data_dir, output_dir) =
        check_folders(profile, base_dir, &mut errors, &mut warnings);
    let stem_extensions = check_extensions(
        &mut errors,
        "file_management.filename.extension",
        &fm.filename.extension,
    );
    let data_extensions = check_extensions(
        &mut errors,
        "analysis.filename.extension",
        &profile.analysis.filename.extension,
    );
    let (regex, min_size, max_size) = check_filters(&fm.filename.filters, &mut errors);
    let pp = &profile.parallel_processing;
    let workers = check_workers(pp, &mut warnings);
    let timeout = check_timeout(profile, &mut warnings);
    warnings.extend(routing_warnings(profile));
    let archive = &profile.archive;
    let level = check_level(archive, &mut errors, &mut warnings);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Checked {
        stem_dir,
        data_dir,
        output_dir,
        stem_extensions,
        data_extensions,
        regex,
        min_size,
        max_size,
        settings: RunSettings {
            workers,
            timeout,
            overwrite: profile.default.config.overwrite.output || archive.update,
            compression: archive.compression,
            level,
            verify: archive.verify || archive.delete_originals,
            update: archive.update,
            delete_originals: archive.delete_originals,
            accept_unflushed_folder: archive.accept_unflushed_folder,
            drop_missing_entries: archive.drop_missing_entries,
            save_error_reports: pp.save_error_reports,
            progress_reporting: pp.progress_reporting,
            folder_ignores_case: None,
            full_report: false,
            report_path: None,
        },
        warnings,
    })
}

/// The stem, data and output folders, looked up next to the profile and
/// then in the current folder.
fn check_folders(
    profile: &Profile,
    base_dir: &Path,
    errors: &mut Vec<SettingError>,
    warnings: &mut Vec<Warning>,
) -> (PathBuf, PathBuf, PathBuf) {
    let fm = &profile.file_management;
    let stem_dir = check_folder(
        errors,
        warnings,
        "file_management.input_directory",
        base_dir,
        fm.input_directory.as_deref(),
    );
    let data_dir = match profile.analysis.input_directory.as_deref().map(str::trim) {
        Some(raw) if !raw.is_empty() => check_folder(
            errors,
            warnings,
            "analysis.input_directory",
            base_dir,
            Some(raw),
        ),
        _ => {
            errors.push(SettingError {
                key: "analysis.input_directory",
                message: "required: the folder of data files to zip".to_owned(),
            });
            PathBuf::new()
        }
    };
    // A written output folder is looked up like the others; one that exists
    // in neither place is created next to the profile.
    let output_dir = match fm
        .output_directory
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => {
            let located = locate(base_dir, raw);
            if located.from_current_folder {
                warnings.push(Warning::FromCurrentFolder {
                    key: "file_management.output_directory".to_owned(),
                    path: located.path.clone(),
                });
            }
            located.path
        }
        None => resolve_path(base_dir, DEFAULT_OUTPUT_DIRECTORY),
    };
    if output_dir.exists() && !output_dir.is_dir() {
        errors.push(SettingError {
            key: "file_management.output_directory",
            message: format!("{} is a file, not a folder", output_dir.display()),
        });
    }
    (stem_dir, data_dir, output_dir)
}

/// The name and size filters of stem sources.
fn check_filters(
    filters: &Filters,
    errors: &mut Vec<SettingError>,
) -> (Option<Regex>, Option<u64>, Option<u64>) {
    let regex = match filters.regex.as_deref().filter(|r| !r.is_empty()) {
        None => None,
        Some(pattern) => match Regex::new(pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                let detail = e.to_string();
                let reason = detail
                    .lines()
                    .rev()
                    .find_map(|l| l.trim().strip_prefix("error: "))
                    .unwrap_or(detail.trim());
                errors.push(SettingError {
                    key: "file_management.filename.filters.regex",
                    message: format!("`{pattern}` is not a valid regular expression: {reason}"),
                });
                None
            }
        },
    };
    let min_size = check_size(
        errors,
        "file_management.filename.filters.min_size_kb",
        filters.min_size_kb,
    );
    let max_size = check_size(
        errors,
        "file_management.filename.filters.max_size_kb",
        filters.max_size_kb,
    );
    if let (Some(min), Some(max)) = (min_size, max_size)
        && min > max
    {
        errors.push(SettingError {
            key: "file_management.filename.filters.min_size_kb",
            message: "is larger than max_size_kb: no file can match".to_owned(),
        });
    }
    (regex, min_size, max_size)
}

/// Worker threads: one when parallel processing is off, one per core for
/// `auto` (and, with a warning, for a value that is not a count).
fn check_workers(pp: &ParallelProcessing, warnings: &mut Vec<Warning>) -> NonZeroUsize {
    let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    if !pp.enabled {
        NonZeroUsize::MIN
    } else {
        match &pp.max_workers {
            Workers::Auto => cores,
            Workers::Count(n) => *n,
            Workers::Invalid(_) => {
                warnings.push(Warning::InvalidWorkers {
                    value: pp.max_workers.to_string(),
                    using: cores.get(),
                });
                cores
            }
        }
    }
}

/// The timeout per stem; values that are no time limit get the safe
/// default (none), with a warning.
fn check_timeout(profile: &Profile, warnings: &mut Vec<Warning>) -> Option<Duration> {
    let pp = &profile.parallel_processing;
    // Values of the wrong type or out of range were replaced by their safe
    // defaults when the profile was read (see `Profile::safe_defaults`).
    let timeout = pp
        .timeout_per_file
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok());
    warnings.extend(
        profile
            .safe_defaults()
            .iter()
            .cloned()
            .map(Warning::SafeDefault),
    );
    // A value set after reading (the window's field, a library caller) that
    // is no time limit gets the same safe default, said the same way.
    if let Some(secs) = pp.timeout_per_file
        && timeout.is_none()
    {
        warnings.push(Warning::SafeDefault(SafeDefault {
            key: "parallel_processing.timeout_per_file",
            written: format!("`{secs}`"),
            using: "no timeout".to_owned(),
            reason: "is not a number of seconds above 0",
        }));
    }
    timeout
}

/// The compression level, checked against the method's range.
fn check_level(
    archive: &ArchiveSettings,
    errors: &mut Vec<SettingError>,
    warnings: &mut Vec<Warning>,
) -> Option<i64> {
    match (archive.compression.levels(), archive.level) {
        (None, Some(_)) => {
            warnings.push(Warning::LevelIgnored {
                compression: archive.compression.name().to_owned(),
            });
            None
        }
        (None, None) => None,
        (Some(_), None) => archive.compression.default_level(),
        (Some(range), Some(level)) if range.contains(&level) => Some(level),
        (Some(range), Some(level)) => {
            errors.push(SettingError {
                key: "archive.level",
                message: format!(
                    "{level} is out of range for {}: use {} to {}",
                    archive.compression.name(),
                    range.start(),
                    range.end()
                ),
            });
            None
        }
    }
}

/// The stems: stem-source files that pass the filters, sorted and unique;
/// each keeps the files that named it.
fn stem_sources(
    profile: &Profile,
    checked: &Checked,
    warnings: &mut Vec<Warning>,
) -> Result<BTreeMap<String, Vec<PathBuf>>, PlanError> {
    let names = &profile.file_management.filename;
    let filters = &names.filters;
    let pattern = names.pattern.as_deref().filter(|p| !p.is_empty());
    // Stems, sorted and unique; each keeps the files that named it.
    let mut stems: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in list_files(
        "file_management.input_directory",
        &checked.stem_dir,
        &checked.stem_extensions,
        warnings,
    )? {
        if !file.utf8_name {
            warnings.push(Warning::Passed {
                path: file.path,
                reason: "stem source name is not valid UTF-8, skipped".to_owned(),
            });
            continue;
        }
        let Some(stem) = Path::new(&file.name).file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let keep = pattern.is_none_or(|p| file.name.contains(p))
            && filters.contains.iter().all(|c| stem.contains(c.as_str()))
            && !filters
                .not_contains
                .iter()
                .any(|c| stem.contains(c.as_str()))
            && checked.regex.as_ref().is_none_or(|re| re.is_match(stem))
            && checked.min_size.is_none_or(|min| file.size >= min)
            && checked.max_size.is_none_or(|max| file.size <= max);
        if keep {
            stems.entry(stem.to_owned()).or_default().push(file.path);
        }
    }
    Ok(stems)
}

/// Each stem's members (data files it matches, in name order), and how
/// many data files no stem matched.
fn members_of(
    profile: &Profile,
    checked: &Checked,
    stem_names: &[String],
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<Vec<Member>>, usize), PlanError> {
    let mut members: Vec<Vec<Member>> = vec![Vec::new(); stem_names.len()];

    // The run's own output must never become input.
    let output_is_data = same_folder(&checked.output_dir, &checked.data_dir);
    let own_zips: std::collections::HashSet<String> = if output_is_data {
        stem_names.iter().map(|s| format!("{s}.zip")).collect()
    } else {
        Default::default()
    };

    let matcher = Matcher::new(profile.archive.stem_match, stem_names);
    let mut unclaimed_files = 0;
    let mut hits = Vec::new();
    let mut data = list_files(
        "analysis.input_directory",
        &checked.data_dir,
        &checked.data_extensions,
        warnings,
    )?;
    data.sort_by(|a, b| a.name.cmp(&b.name));
    for file in data {
        if own_zips.contains(&file.name) || (output_is_data && temp::is_report_name(&file.name)) {
            continue;
        }
        matcher.stems_of(&file.name, &mut hits);
        match hits.len() {
            0 => unclaimed_files += 1,
            1 => {}
            _ => warnings.push(Warning::SharedFile {
                file: file.name.clone(),
                stems: hits.iter().map(|&i| stem_names[i].clone()).collect(),
            }),
        }
        let member = Member {
            name: file.name,
            path: file.path,
            size: file.size,
            modified: file.modified,
            utf8_name: file.utf8_name,
        };
        for &i in &hits {
            members[i].push(member.clone());
        }
    }
    Ok((members, unclaimed_files))
}

/// Marks stems whose zip names differ only in letter case (each after the
/// first points at the first), with a warning per group. Stems without
/// members write no zip and clash with nothing.
fn mark_case_clashes(stems: &mut [Stem], warnings: &mut Vec<Warning>) {
    // Stems that write zips, grouped by their names with case folded the
    // way NTFS folds it: each letter to its one upper-case letter (so Greek
    // final sigma folds too), and a letter whose upper case is more than
    // one (ß, whose is SS) left as it is: NTFS keeps Straße.zip and
    // STRASSE.zip apart.
    let fold = |name: &str| -> String {
        name.chars()
            .map(|c| {
                let mut upper = c.to_uppercase();
                match (upper.next(), upper.next()) {
                    (Some(u), None) => u,
                    _ => c,
                }
            })
            .collect()
    };
    let mut folded: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, stem) in stems.iter().enumerate() {
        if !stem.members.is_empty() {
            let key = fold(&stem.name);
            folded.entry(key).or_default().push(i);
        }
    }
    let mut clashes: Vec<Vec<usize>> = folded.into_values().filter(|g| g.len() > 1).collect();
    clashes.sort();
    for group in clashes {
        let first = stems[group[0]].name.clone();
        for &i in &group[1..] {
            stems[i].same_zip_as = Some(first.clone());
        }
        warnings.push(Warning::CaseClash {
            zips: group
                .iter()
                .map(|&i| format!("{}.zip", stems[i].name))
                .collect(),
        });
    }
}

/// One directory entry that is (or links to) a regular file.
struct Listed {
    name: String,
    utf8_name: bool,
    path: PathBuf,
    size: u64,
    modified: SystemTime,
}

/// Lists the regular files directly in `dir` whose extension is in
/// `extensions`, following links to files; links to folders and broken links
/// with a matching extension are reported in `warnings`.
fn list_files(
    key: &'static str,
    dir: &Path,
    extensions: &[String],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Listed>, PlanError> {
    let list_err = |source| PlanError::List {
        key,
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(list_err)? {
        let entry = entry.map_err(list_err)?;
        let path = entry.path();
        let os_name = entry.file_name();
        let (name, utf8_name) = match os_name.to_str() {
            Some(s) => (s.to_owned(), true),
            None => (os_name.to_string_lossy().into_owned(), false),
        };
        let wanted = Path::new(&name)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e.to_lowercase()));
        if !wanted || temp::is_temp_name(&name) {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let metadata = if file_type.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => {
                    warnings.push(Warning::Passed {
                        path,
                        reason: "link to something that is not a file, skipped".to_owned(),
                    });
                    continue;
                }
                Err(e) => {
                    warnings.push(Warning::Passed {
                        path,
                        reason: format!("broken link, skipped ({e})"),
                    });
                    continue;
                }
            }
        } else if file_type.is_file() {
            match entry.metadata() {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(Warning::Passed {
                        path,
                        reason: format!("cannot read its size, skipped ({e})"),
                    });
                    continue;
                }
            }
        } else {
            continue;
        };
        out.push(Listed {
            name,
            utf8_name,
            path,
            size: metadata.len(),
            modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    Ok(out)
}

/// Which stems take a data file name.
enum Matcher<'a> {
    Contains(AhoCorasick),
    Prefix(HashMap<&'a str, usize>),
    Exact(HashMap<&'a str, usize>),
}

impl<'a> Matcher<'a> {
    fn new(mode: StemMatch, stems: &'a [String]) -> Self {
        let index = || {
            stems
                .iter()
                .enumerate()
                .map(|(i, s)| (s.as_str(), i))
                .collect()
        };
        match mode {
            // An automaton of zero patterns matches nothing, which is right.
            StemMatch::Contains => match AhoCorasick::new(stems) {
                Ok(ac) => Matcher::Contains(ac),
                Err(_) => Matcher::Prefix(HashMap::new()),
            },
            StemMatch::Prefix => Matcher::Prefix(index()),
            StemMatch::Exact => Matcher::Exact(index()),
        }
    }

    /// Indices of the stems `name` belongs to, ascending and unique.
    fn stems_of(&self, name: &str, out: &mut Vec<usize>) {
        out.clear();
        match self {
            Matcher::Contains(ac) => {
                out.extend(
                    ac.find_overlapping_iter(name)
                        .map(|m| m.pattern().as_usize()),
                );
                out.sort_unstable();
                out.dedup();
            }
            Matcher::Prefix(map) => {
                out.extend(
                    name.char_indices()
                        .skip(1)
                        .map(|(i, _)| &name[..i])
                        .chain(std::iter::once(name))
                        .filter_map(|p| map.get(p).copied()),
                );
                out.sort_unstable();
            }
            Matcher::Exact(map) => {
                let own = Path::new(name).file_stem().and_then(|s| s.to_str());
                out.extend(own.and_then(|s| map.get(s).copied()));
            }
        }
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl Plan {
    /// Checks the profile, lists both folders and groups the data files into
    /// stems. Relative paths resolve against `base_dir` (the profile's folder).
    pub fn build(profile: &Profile, base_dir: &Path) -> Result<Plan, PlanError> {
        let mut checked = check_settings(profile, base_dir).map_err(PlanError::Settings)?;
        let mut warnings = std::mem::take(&mut checked.warnings);
        let stems = stem_sources(profile, &checked, &mut warnings)?;
        let stem_names: Vec<String> = stems.keys().cloned().collect();
        let (members, unclaimed_files) = members_of(profile, &checked, &stem_names, &mut warnings)?;
        let mut stems: Vec<Stem> = stems
            .into_iter()
            .zip(members)
            .map(|((name, sources), members)| Stem {
                name,
                sources,
                members,
                same_zip_as: None,
            })
            .collect();
        mark_case_clashes(&mut stems, &mut warnings);
        warnings.extend(
            stems
                .iter()
                .filter(|s| !s.members.is_empty())
                .filter_map(|s| {
                    let zip = format!("{}.zip", s.name);
                    windows_name_problem(&zip)
                        .map(|reason| Warning::WindowsUnsafeName { zip, reason })
                }),
        );
        warnings.extend(stems.iter().filter(|s| s.members.is_empty()).map(|s| {
            Warning::EmptyStem {
                stem: s.name.clone(),
            }
        }));
        if unclaimed_files > 0 {
            warnings.push(Warning::UnclaimedFiles {
                count: unclaimed_files,
            });
        }
        Ok(Plan {
            profile: profile.clone(),
            profile_path: None,
            stem_dir: checked.stem_dir,
            data_dir: checked.data_dir,
            output_dir: checked.output_dir,
            settings: checked.settings,
            stems,
            unclaimed_files,
            warnings,
            shard: None,
            outside: Vec::new(),
        })
    }

    /// Loads a profile file (with overrides) and plans it against its own folder.
    pub fn from_file(
        path: &Path,
        overrides: &[crate::profile::Override],
    ) -> Result<Plan, LoadError> {
        Self::from_file_edited(path, &crate::profile::Edits::sets(overrides))
    }

    /// Loads a profile file with the original's dict argument and `--set`
    /// overrides applied, and plans it against the profile's own folder.
    pub fn from_file_edited(path: &Path, edits: &crate::profile::Edits) -> Result<Plan, LoadError> {
        let profile = Profile::load_edited(path, edits)?;
        let base_dir = profile_dir(path);
        let mut plan = Plan::build(&profile, &base_dir)?;
        plan.profile_path = Some(path.to_owned());
        Ok(plan)
    }

    /// Keeps only the stems whose names `keep` accepts (for retrying failures).
    pub fn retain_stems(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let (kept, left): (Vec<Stem>, Vec<Stem>) = std::mem::take(&mut self.stems)
            .into_iter()
            .partition(|s| keep(&s.name));
        self.stems = kept;
        self.outside.extend(left);
    }

    /// Keeps only the stems `split` places in `shard`, and makes this run
    /// that shard's. Returns how many of the stems kept the split did not
    /// list (they went by hash).
    pub fn keep_shard(&mut self, shard: crate::shard::Shard, split: &crate::shard::Split) -> usize {
        use crate::shard::Placement;
        let mut by_hash = 0;
        self.retain_stems(|name| match split.place(name) {
            Placement::Listed(k) => k == shard.index,
            Placement::ByHash(k) => {
                by_hash += usize::from(k == shard.index);
                k == shard.index
            }
        });
        self.shard = Some(shard);
        by_hash
    }

    /// The stem-source files of the plan's stems and of those outside the
    /// run: move mode never deletes them, however a path spells them.
    pub fn source_files(&self) -> SourceFiles {
        SourceFiles::new(
            self.stems
                .iter()
                .chain(&self.outside)
                .flat_map(|s| &s.sources),
        )
    }

    /// Move mode: the data files a run deletes if every stem succeeds
    /// (each once, stem-source files never), sorted by path.
    pub fn originals(&self) -> Vec<&Member> {
        let sources = self.source_files();
        // Files a stem outside the run holds stay.
        let outside: std::collections::HashSet<&Path> = self
            .outside
            .iter()
            .flat_map(|s| s.members.iter().map(|m| m.path.as_path()))
            .collect();
        let mut files: Vec<&Member> = self
            .stems
            .iter()
            .flat_map(|s| &s.members)
            .filter(|m| !outside.contains(m.path.as_path()) && !sources.holds(&m.path))
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        files
    }

    /// Each stem's name and planned bytes (what a split is computed over).
    pub fn stem_sizes(&self) -> impl Iterator<Item = (&str, u64)> {
        self.stems.iter().map(|s| (s.name.as_str(), s.total_size()))
    }

    /// Total bytes of all members of all stems.
    pub fn total_size(&self) -> u64 {
        self.stems.iter().map(Stem::total_size).sum()
    }
}

/// The folder relative paths of the profile at `path` resolve against.
pub fn profile_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Why a profile could not become a plan.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The profile could not be read or parsed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The profile's settings are wrong or a folder could not be listed.
    #[error(transparent)]
    Plan(#[from] PlanError),
}
