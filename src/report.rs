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

use crate::temp::{REPORT_PREFIX as PREFIX, REPORT_SUFFIX as SUFFIX};

/// A run report as stored in `stemzip-report-<UTC timestamp>.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            profile_path: plan.profile_path.clone(),
            output_directory: plan.output_dir.clone(),
            summary,
            stems,
            profile: plan.profile.to_value(),
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

    /// Writes the report to `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<(), ReportError> {
        let dir = crate::plan::profile_dir(path);
        let file = self.write_temp(&dir)?;
        file.persist(path).map_err(|e| ReportError::Io {
            path: path.to_owned(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Writes the report into `dir` as `stemzip-report-<UTC timestamp>.yaml`
    /// (never replacing another report) and returns its path.
    pub fn save_in(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut file = self.write_temp(dir)?;
        for n in 1..1000 {
            let name = if n == 1 {
                format!("{PREFIX}{stamp}{SUFFIX}")
            } else {
                format!("{PREFIX}{stamp}-{n}{SUFFIX}")
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
