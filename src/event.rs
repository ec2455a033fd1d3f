//! What a run reports: one event enum, a status per stem, the run summary.
//!
//! Every stem gets exactly one `Queued` event, at most one `Started`, and then
//! exactly one terminal event (`Finished`, `UpToDate`, `Failed`, `TimedOut`,
//! `Skipped`, `Cancelled`); `Warning`s may come before it. In move mode,
//! `Deleted` and `Warning`s (originals kept) may follow `Finished` or
//! `UpToDate`. The last event of a run is `RunFinished`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One thing that happened in a run. `stem` is the stem's index in the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The stem is waiting for a worker.
    Queued {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// Files to archive.
        files: usize,
        /// Their total size in bytes.
        bytes: u64,
    },
    /// A worker began the stem.
    Started {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
    },
    /// Bytes of the stem's members read so far.
    Progress {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// Bytes read so far.
        bytes_done: u64,
    },
    /// The stem's zip is complete and in place.
    Finished {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// The zip.
        zip: PathBuf,
        /// Entries in the zip.
        files: usize,
        /// Bytes read from members.
        bytes_in: u64,
        /// Size of the zip.
        bytes_out: u64,
        /// Time the stem took, in seconds.
        seconds: f64,
        /// Why the zip's name is not known to be on disk, if it is not
        /// (a network share that refused the folder flush, or on Windows the
        /// write-through rename): the zip is complete, but a power cut could
        /// lose its name. Move mode then keeps the originals.
        #[serde(skip_serializing_if = "Option::is_none")]
        folder_not_flushed: Option<String>,
    },
    /// Move mode: the stem's data files were deleted (after its terminal
    /// `Finished` or `UpToDate`).
    Deleted {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// Files deleted.
        files: usize,
        /// Their bytes.
        bytes: u64,
    },
    /// Update mode: the stem's zip already holds exactly its planned
    /// members; it was left as it is.
    UpToDate {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// The zip.
        zip: PathBuf,
        /// Entries in the zip.
        files: usize,
        /// The members' size.
        bytes: u64,
        /// Move mode: why the zip's folder entry could not be flushed, if
        /// it could not (see `Finished`).
        #[serde(skip_serializing_if = "Option::is_none")]
        folder_not_flushed: Option<String>,
    },
    /// Something the user should know about a stem that goes on (a zip
    /// that could not be read in update mode and is rebuilt).
    Warning {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// What happened.
        message: String,
    },
    /// The stem failed; no zip was written or replaced.
    Failed {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// What went wrong, naming the file and the OS error.
        error: String,
        /// Time the stem took, in seconds.
        seconds: f64,
    },
    /// The stem ran over `timeout_per_file` and was stopped.
    TimedOut {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// Time the stem took, in seconds.
        seconds: f64,
    },
    /// The stem was not run.
    Skipped {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The run was cancelled before or while this stem ran.
    Cancelled {
        /// Index in the plan.
        stem: usize,
        /// The stem's name.
        name: String,
    },
    /// The run is over; nothing follows.
    RunFinished(Summary),
}

impl Event {
    /// The stem's index, for every event but `RunFinished`.
    pub fn stem(&self) -> Option<usize> {
        match self {
            Event::Queued { stem, .. }
            | Event::Started { stem, .. }
            | Event::Progress { stem, .. }
            | Event::Finished { stem, .. }
            | Event::UpToDate { stem, .. }
            | Event::Deleted { stem, .. }
            | Event::Warning { stem, .. }
            | Event::Failed { stem, .. }
            | Event::TimedOut { stem, .. }
            | Event::Skipped { stem, .. }
            | Event::Cancelled { stem, .. } => Some(*stem),
            Event::RunFinished(_) => None,
        }
    }

    /// The status a stem has after this event.
    pub fn status(&self) -> Option<StemStatus> {
        Some(match self {
            Event::Queued { .. } => StemStatus::Queued,
            Event::Started { .. } | Event::Progress { .. } => StemStatus::Running,
            Event::Finished { .. } => StemStatus::Done,
            Event::UpToDate { .. } => StemStatus::UpToDate,
            Event::Warning { .. } | Event::Deleted { .. } => return None,
            Event::Failed { .. } => StemStatus::Failed,
            Event::TimedOut { .. } => StemStatus::TimedOut,
            Event::Skipped { .. } => StemStatus::Skipped,
            Event::Cancelled { .. } => StemStatus::Cancelled,
            Event::RunFinished(_) => return None,
        })
    }
}

/// Where a stem stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StemStatus {
    /// Waiting for a worker.
    Queued,
    /// Being written.
    Running,
    /// Zip complete.
    Done,
    /// Update mode: the zip already held exactly the planned members.
    UpToDate,
    /// Failed with an error.
    Failed,
    /// Stopped at its time limit.
    TimedOut,
    /// Not run (no members, or the zip exists and overwrite is off).
    Skipped,
    /// Stopped by cancel.
    Cancelled,
}

impl StemStatus {
    /// Every status, in table order.
    pub const ALL: [StemStatus; 8] = [
        StemStatus::Queued,
        StemStatus::Running,
        StemStatus::Done,
        StemStatus::UpToDate,
        StemStatus::Failed,
        StemStatus::TimedOut,
        StemStatus::Skipped,
        StemStatus::Cancelled,
    ];

    /// The status in words.
    pub fn label(self) -> &'static str {
        match self {
            StemStatus::Queued => "queued",
            StemStatus::Running => "running",
            StemStatus::Done => "done",
            StemStatus::UpToDate => "up to date",
            StemStatus::Failed => "failed",
            StemStatus::TimedOut => "timed out",
            StemStatus::Skipped => "skipped",
            StemStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the stem is over.
    pub fn is_terminal(self) -> bool {
        !matches!(self, StemStatus::Queued | StemStatus::Running)
    }

    /// Whether the stem ended badly (failed, timed out or cancelled).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            StemStatus::Failed | StemStatus::TimedOut | StemStatus::Cancelled
        )
    }
}

/// The end of a run: counts, bytes, time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Stems in the plan.
    pub stems: usize,
    /// Zips written.
    pub done: usize,
    /// Stems that failed.
    pub failed: usize,
    /// Stems stopped at their time limit.
    pub timed_out: usize,
    /// Update mode: stems whose zip was already up to date.
    #[serde(default)]
    pub up_to_date: usize,
    /// Move mode: data files deleted.
    #[serde(default)]
    pub files_deleted: usize,
    /// Move mode: their bytes.
    #[serde(default)]
    pub bytes_freed: u64,
    /// Stems not run.
    pub skipped: usize,
    /// Stems cancelled.
    pub cancelled: usize,
    /// Bytes read from members of finished stems.
    pub bytes_in: u64,
    /// Bytes of zips written.
    pub bytes_out: u64,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
    /// Whether the run was cancelled.
    pub was_cancelled: bool,
    /// The error report written, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    /// Why the error report could not be written, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_error: Option<String>,
}

impl Summary {
    /// Member bytes per second over the whole run.
    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes_in as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Whether any stem failed or timed out.
    pub fn has_failures(&self) -> bool {
        self.failed + self.timed_out > 0
    }

    /// Counts a terminal status.
    pub(crate) fn count(&mut self, status: StemStatus) {
        match status {
            StemStatus::Done => self.done += 1,
            StemStatus::UpToDate => self.up_to_date += 1,
            StemStatus::Failed => self.failed += 1,
            StemStatus::TimedOut => self.timed_out += 1,
            StemStatus::Skipped => self.skipped += 1,
            StemStatus::Cancelled => self.cancelled += 1,
            StemStatus::Queued | StemStatus::Running => {}
        }
    }

    /// The run's duration.
    pub fn duration(&self) -> Duration {
        Duration::try_from_secs_f64(self.seconds).unwrap_or_default()
    }
}
