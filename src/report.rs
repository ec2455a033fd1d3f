//! The run report: which stems did not succeed and why, with the profile
//! that was run. Written as YAML by `save_error_reports` and by the window;
//! read back by the window to review a run and retry its failures.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::event::{Event, StemStatus, Summary};
use crate::plan::{Plan, Stem};
use crate::profile::{Profile, ProfileError};
use crate::shard::Shard;

use crate::temp::{REPORT_PREFIX as PREFIX, REPORT_SUFFIX as SUFFIX};

/// A run report as stored in `stemzip-report-<UTC timestamp>.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The stemzip version that wrote it.
    pub stemzip_version: String,
    /// When it was written (UTC, RFC 3339).
    pub created: String,
    /// The profile file that was run, if it came from a file.
    pub profile_path: Option<PathBuf>,
    /// Where the zips went.
    pub output_directory: PathBuf,
    /// The run's totals.
    pub summary: Summary,
    /// One entry per stem the report covers (for an error report: those that
    /// failed, timed out or were cancelled).
    pub stems: Vec<StemOutcome>,
    /// The profile that was run, as YAML (unknown keys included).
    pub profile: serde_yaml::Value,
    /// Whether `stems` lists every stem of the run (a shard run's or a
    /// merged report), not only those that did not succeed.
    #[serde(default)]
    pub complete: bool,
    /// The shard of a campaign the run zipped, if it was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// For a merged report: the reports it joins, oldest run first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<PathBuf>,
    /// For a merged report: the shards of the campaign its reports covered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards_covered: Vec<Shard>,
    /// For a merged report: entries a later run of the same stem replaced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<Superseded>,
}

/// A stem's entry in one report that a later report's entry replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Superseded {
    /// The stem.
    pub stem: String,
    /// Its status in the older report.
    pub status: StemStatus,
    /// The older report.
    pub report: PathBuf,
    /// The report whose entry was kept.
    pub by: PathBuf,
}

/// How one stem ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StemOutcome {
    /// The stem.
    pub stem: String,
    /// How it ended.
    pub status: StemStatus,
    /// The error, for failed stems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was skipped, for skipped stems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The zip written, for finished stems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<PathBuf>,
    /// The member files (full paths).
    pub members: Vec<PathBuf>,
    /// The members' size when the run was planned (0 in reports written
    /// before this was recorded).
    #[serde(default)]
    pub bytes_planned: u64,
    /// Bytes read.
    #[serde(default)]
    pub bytes_in: u64,
    /// Bytes of the zip.
    #[serde(default)]
    pub bytes_out: u64,
    /// Time the stem took, in seconds.
    #[serde(default)]
    pub seconds: f64,
    /// Warnings about the stem that did not stop it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Move mode: data files deleted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files_deleted: usize,
    /// Move mode: their bytes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes_freed: u64,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

impl StemOutcome {
    /// A planned stem that has not started: queued, nothing measured yet.
    pub fn planned(stem: &Stem) -> Self {
        StemOutcome {
            stem: stem.name.clone(),
            status: StemStatus::Queued,
            error: None,
            reason: None,
            zip: None,
            members: stem.members.iter().map(|m| m.path.clone()).collect(),
            bytes_planned: stem.total_size(),
            bytes_in: 0,
            bytes_out: 0,
            seconds: 0.0,
            warnings: Vec::new(),
            files_deleted: 0,
            bytes_freed: 0,
        }
    }

    /// The outcome a terminal event describes.
    pub fn from_event(stem: &Stem, event: &Event) -> Self {
        let mut outcome = Self::planned(stem);
        outcome.record(event);
        outcome
    }

    /// Takes in one event of this stem: its status, and what it measured.
    pub fn record(&mut self, event: &Event) {
        if let Some(status) = event.status() {
            self.status = status;
        }
        match event {
            Event::Progress { bytes_done, .. } => self.bytes_in = *bytes_done,
            Event::Finished {
                zip,
                bytes_in,
                bytes_out,
                seconds,
                ..
            } => {
                self.zip = Some(zip.clone());
                self.bytes_in = *bytes_in;
                self.bytes_out = *bytes_out;
                self.seconds = *seconds;
            }
            Event::Failed { error, seconds, .. } => {
                self.error = Some(error.clone());
                self.seconds = *seconds;
            }
            Event::TimedOut { seconds, .. } => {
                self.error = Some(format!("timed out after {seconds:.1} s"));
                self.seconds = *seconds;
            }
            Event::UpToDate { zip, .. } => self.zip = Some(zip.clone()),
            Event::Warning { message, .. } => self.warnings.push(message.clone()),
            Event::Deleted { files, bytes, .. } => {
                self.files_deleted += files;
                self.bytes_freed += bytes;
            }
            Event::Skipped { reason, .. } => self.reason = Some(reason.clone()),
            _ => {}
        }
    }

    /// The error, or the reason a skipped stem was skipped.
    pub fn message(&self) -> Option<&str> {
        self.error.as_deref().or(self.reason.as_deref())
    }
}

/// Why a report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The report file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a stemzip report.
    #[error("{} is not a stemzip report: {message}", path.display())]
    Format {
        /// The report file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
}

pub use crate::temp::is_report_name;

impl Report {
    /// A report of `plan`'s run covering `stems`.
    pub fn new(plan: &Plan, summary: Summary, stems: Vec<StemOutcome>) -> Self {
        Report {
            stemzip_version: env!("CARGO_PKG_VERSION").to_owned(),
            // Milliseconds: a retried shard's report must sort after the
            // first run's even within one second.
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            profile_path: plan.profile_path.clone(),
            output_directory: plan.output_dir.clone(),
            summary,
            complete: stems.len() == plan.stems.len(),
            stems,
            profile: plan.profile.to_value(),
            shard: plan.shard,
            merged_from: Vec::new(),
            shards_covered: Vec::new(),
            superseded: Vec::new(),
        }
    }

    /// Reads a report file.
    pub fn load(path: &Path) -> Result<Self, ReportError> {
        let text = fs::read_to_string(path).map_err(|source| ReportError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_yaml::from_str(&text).map_err(|e| ReportError::Format {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Writes the report to `path` (atomically), creating its folder.
    pub fn save(&self, path: &Path) -> Result<(), ReportError> {
        let dir = crate::plan::profile_dir(path);
        fs::create_dir_all(&dir).map_err(|source| ReportError::Io {
            path: dir.clone(),
            source,
        })?;
        let file = self.write_temp(&dir)?;
        file.persist(path).map_err(|e| ReportError::Io {
            path: path.to_owned(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Writes the report into `dir` as `stemzip-report-<UTC timestamp>.yaml`
    /// (`…-shard-K-of-N.yaml` for a shard's run), never replacing another
    /// report, and returns its path.
    pub fn save_in(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let tag = self
            .shard
            .map_or_else(String::new, |shard| format!("-{}", shard.tag()));
        let mut file = self.write_temp(dir)?;
        for n in 1..1000 {
            let name = if n == 1 {
                format!("{PREFIX}{stamp}{tag}{SUFFIX}")
            } else {
                format!("{PREFIX}{stamp}-{n}{tag}{SUFFIX}")
            };
            let path = dir.join(name);
            match file.persist_noclobber(&path) {
                Ok(_) => return Ok(path),
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => file = e.file,
                Err(e) => {
                    return Err(ReportError::Io {
                        path,
                        source: e.error,
                    });
                }
            }
        }
        Err(ReportError::Io {
            path: dir.to_owned(),
            source: std::io::Error::other("too many reports with the same timestamp"),
        })
    }

    fn write_temp(&self, dir: &Path) -> Result<tempfile::NamedTempFile, ReportError> {
        let io = |source| ReportError::Io {
            path: dir.to_owned(),
            source,
        };
        // Written so that PyYAML (a script reading the report) and serde_yaml
        // (stemzip reading it back) both read every value as written.
        let text = serde_yaml::to_value(self)
            .map_err(|e| e.to_string())
            .and_then(|value| crate::yaml::to_string(&value).map_err(|e| e.to_string()))
            .map_err(|message| ReportError::Format {
                path: dir.to_owned(),
                message,
            })?;
        let mut file = crate::temp::user_file_builder(".stemzip-report-")
            .tempfile_in(dir)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        Ok(file)
    }

    /// The profile that was run.
    pub fn profile(&self) -> Result<Profile, ProfileError> {
        let origin = match &self.profile_path {
            Some(p) => format!("profile in report ({})", p.display()),
            None => "profile in report".to_owned(),
        };
        Profile::from_document(self.profile.clone(), &origin, &Default::default())
    }

    /// Names of the stems that failed or timed out (what "retry failed" runs).
    pub fn failed_stems(&self) -> Vec<String> {
        self.stems
            .iter()
            .filter(|s| matches!(s.status, StemStatus::Failed | StemStatus::TimedOut))
            .map(|s| s.stem.clone())
            .collect()
    }
}

/// Reports joined into one: what `stemzip report merge` writes and the
/// window shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The joined report.
    pub report: Report,
    /// Shards of the campaign no report covers (`[2]` when shard 2 of 3
    /// never reported).
    pub missing_shards: Vec<usize>,
    /// Things to say about the inputs (different output folders, error
    /// reports that list only problems).
    pub notes: Vec<String>,
}

impl Merged {
    /// The shards no report covers, as a list for a message ("2, 5"), if
    /// any is missing.
    pub fn missing_shards_list(&self) -> Option<String> {
        (!self.missing_shards.is_empty()).then(|| {
            self.missing_shards
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// Joins `reports` (with the files they came from) into one report that
/// lists every stem once. A stem listed by several takes the entry of the
/// latest run (by `created`; on a tie, the one given later), and the
/// entries it replaced are listed in `superseded`. The summary is counted
/// again from the entries kept; its time is the longest run's (shards run
/// side by side). The profile is the latest run's.
pub fn merge(mut reports: Vec<(PathBuf, Report)>) -> Option<Merged> {
    // Stable: on equal times the order given stays.
    reports.sort_by_cached_key(|(_, r)| created_time(&r.created));
    let latest = reports.last().map(|(_, r)| r.clone())?;
    let mut notes = Vec::new();
    let mut kept: Vec<(StemOutcome, PathBuf)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = Default::default();
    let mut superseded = Vec::new();
    for (path, report) in &reports {
        if report.output_directory != latest.output_directory {
            notes.push(format!(
                "{} zipped into {}, the latest run into {}",
                path.display(),
                report.output_directory.display(),
                latest.output_directory.display()
            ));
        }
        if !report.complete {
            notes.push(format!(
                "{} lists only the stems that did not succeed: the merged counts include only the \
                 stems listed, and a failure of an earlier report that this run fixed still shows \
                 as failed",
                path.display()
            ));
        }
        for outcome in &report.stems {
            match index.get(&outcome.stem) {
                Some(&i) => {
                    let (old, old_path) = &kept[i];
                    superseded.push(Superseded {
                        stem: outcome.stem.clone(),
                        status: old.status,
                        report: old_path.clone(),
                        by: path.clone(),
                    });
                    kept[i] = (outcome.clone(), path.clone());
                }
                None => {
                    index.insert(outcome.stem.clone(), kept.len());
                    kept.push((outcome.clone(), path.clone()));
                }
            }
        }
    }
    let mut stems: Vec<StemOutcome> = kept.into_iter().map(|(o, _)| o).collect();
    stems.sort_by(|a, b| a.stem.cmp(&b.stem));
    let mut summary = Summary {
        stems: stems.len(),
        seconds: reports
            .iter()
            .map(|(_, r)| r.summary.seconds)
            .fold(0.0, f64::max),
        ..Summary::default()
    };
    for o in &stems {
        summary.count(o.status);
        if o.status == StemStatus::Done {
            summary.bytes_in += o.bytes_in;
            summary.bytes_out += o.bytes_out;
        }
    }
    summary.was_cancelled = stems.iter().any(|o| o.status == StemStatus::Cancelled);
    // Deletions add up over every run, superseded or not: a file moved by
    // the first run stays freed when a rerun finds its stem up to date.
    for (_, report) in &reports {
        for o in &report.stems {
            summary.files_deleted += o.files_deleted;
            summary.bytes_freed += o.bytes_freed;
        }
    }
    let (shards_covered, missing_shards) = shards_of(reports.iter().map(|(_, r)| r));
    Some(Merged {
        report: Report {
            stemzip_version: env!("CARGO_PKG_VERSION").to_owned(),
            // The latest run's time, not the merge's: merged again with a
            // later rerun, the rerun must still count as the later run.
            created: latest.created.clone(),
            profile_path: latest.profile_path.clone(),
            output_directory: latest.output_directory.clone(),
            summary,
            complete: reports.iter().all(|(_, r)| r.complete) && missing_shards.is_empty(),
            stems,
            profile: latest.profile.clone(),
            shard: None,
            merged_from: reports.iter().map(|(p, _)| p.clone()).collect(),
            shards_covered,
            superseded,
        },
        missing_shards,
        notes,
    })
}

/// When a report was written, for ordering runs; unreadable times sort first.
fn created_time(created: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(created)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

/// The shards `reports` cover (a shard's report its shard, a merged
/// report those it covered), and those of the campaign (the largest count
/// named) that none covers.
fn shards_of<'a>(reports: impl Iterator<Item = &'a Report>) -> (Vec<Shard>, Vec<usize>) {
    let mut covered: Vec<Shard> = reports
        .flat_map(|r| r.shard.into_iter().chain(r.shards_covered.iter().copied()))
        .filter(|s| s.count <= crate::shard::MAX_SHARDS && (1..=s.count).contains(&s.index))
        .collect();
    covered.sort_by_key(|s| (s.count, s.index));
    covered.dedup();
    let Some(count) = covered.iter().map(|s| s.count).max() else {
        return (covered, Vec::new());
    };
    let missing = (1..=count)
        .filter(|k| !covered.iter().any(|s| s.count == count && s.index == *k))
        .collect();
    (covered, missing)
}
