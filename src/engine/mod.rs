//! Running a [`Plan`]: stem threads, a rayon pool for compression, commit
//! threads, events over a channel, cancel, timeouts, the summary and the
//! error report.
//!
//! [`start`] returns at once; the run goes on in its own thread and reports
//! through [`Run::events`]; [`execute_with`] runs on the caller's thread. A
//! failed stem is data, not an abort: the others go on. Every thread and
//! channel of a run:
//!
//! ```text
//!  caller's sink ◀── Event ── run thread (tally.rs: summary, outcomes,
//!                                 ▲          error report at the end)
//!                                 │ Event (mpsc, unbounded)
//!        ┌────────────────────────┼─────────────────────────────┐
//!  stem threads ×W ──CommitJob──▶ commit threads ×C ──Placed──▶ folder thread ×1
//!  (schedule.rs)    (bounded)    (commit.rs: flush   (mpsc)    (commit.rs: flush
//!   │  ▲                          the zip, rename)              the folder, report)
//!   │  │ compressed chunks, in order (per stem, bounded)
//!   ▼  │
//!  compression pool ×W (rayon; archive: one memory budget for every chunk)
//! ```
//!
//! W is the profile's workers; C derives from it ([`commit::threads_for`]).
//! Stem threads take stems largest first; the compression pool is shared,
//! so one large stem (or file) keeps every core busy while the others are
//! done. Cancel ([`CancelToken`]) and a stem's timeout are checked by the
//! stem thread between buffers and by the pool before each chunk.

mod commit;
mod moving;
mod schedule;
mod tally;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

pub use crate::cancel::CancelToken;
pub use crate::event::{Event, StemStatus, Summary};

use crate::archive::{self, Compressor, Folder, StemError};
use crate::plan::Plan;
use crate::temp;
use tally::Tally;

/// A thread of the run that the system would not start (too many threads,
/// too little memory): the run fails instead of going on with fewer.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the thread {name}: {source}")]
pub struct ThreadError {
    /// The thread's name (`stemzip-stem-3`, …).
    pub name: String,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

/// Starts a named thread of the run.
fn spawn(
    name: String,
    work: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, ThreadError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(work)
        .map_err(|source| ThreadError { name, source })
}

/// A run in progress.
#[derive(Debug)]
pub struct Run {
    events: Receiver<Event>,
    cancel: CancelToken,
    thread: Option<JoinHandle<()>>,
    /// Set when the receiver found no event waiting ([`Run::waiting`]):
    /// the next event then wakes it.
    idle: Arc<AtomicBool>,
    /// Whether [`Event::RunFinished`] has been taken by [`Run::try_event`].
    finished: std::cell::Cell<bool>,
}

/// A run dropped before its end (its window closed mid-run) is cancelled
/// and waited for: every stem ends and removes its temporary file before
/// the drop returns, so the process may exit right after.
impl Drop for Run {
    fn drop(&mut self) {
        if self.finished.get() {
            return;
        }
        self.cancel.cancel();
        for event in self.events.iter() {
            if matches!(event, Event::RunFinished(_)) {
                break;
            }
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Run {
    /// The run's events, in order; the last one is [`Event::RunFinished`].
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Takes the next event if one is waiting (as [`Receiver::try_recv`]).
    /// When none is, the run's waker (see [`start_waking`]) is called once
    /// the next one is sent.
    pub fn try_event(&self) -> Result<Event, mpsc::TryRecvError> {
        let next = match self.events.try_recv() {
            Err(mpsc::TryRecvError::Empty) => {
                // Say so before looking again, so that an event sent
                // meanwhile is either seen here or wakes the receiver.
                self.idle.store(true, Ordering::SeqCst);
                let next = self.events.try_recv();
                if next.is_ok() {
                    self.idle.store(false, Ordering::SeqCst);
                }
                next
            }
            other => other,
        };
        if matches!(next, Ok(Event::RunFinished(_))) {
            self.finished.set(true);
        }
        next
    }

    /// A token that cancels this run (e.g. from a Ctrl-C handler).
    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    /// Waits for the run to end, dropping its remaining events, and returns the summary.
    pub fn wait(mut self) -> Summary {
        let mut summary = Summary::default();
        for event in self.events.iter() {
            if let Event::RunFinished(s) = event {
                summary = s;
            }
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        summary
    }
}

/// Starts running `plan` on its own thread and returns at once.
pub fn start(plan: Plan) -> Result<Run, ThreadError> {
    start_with(plan, CancelToken::new())
}

/// Like [`start`], with a cancel token the caller already holds.
pub fn start_with(plan: Plan, cancel: CancelToken) -> Result<Run, ThreadError> {
    start_waking(plan, cancel, || {})
}

/// Like [`start_with`]; `wake` is called when an event is sent while the
/// receiver is waiting for one (it found none with [`Run::try_event`]), at
/// most once per such wait. A window passes its repaint request, so it is
/// woken by the run rather than polling it.
pub fn start_waking(
    plan: Plan,
    cancel: CancelToken,
    wake: impl Fn() + Send + 'static,
) -> Result<Run, ThreadError> {
    let (tx, rx) = mpsc::channel();
    let token = cancel.clone();
    let idle = Arc::new(AtomicBool::new(false));
    let waiting = Arc::clone(&idle);
    let thread = spawn("stemzip-run".to_owned(), move || {
        execute_with(plan, &token, |event| {
            let _ = tx.send(event);
            if waiting.swap(false, Ordering::SeqCst) {
                wake();
            }
        });
    })?;
    Ok(Run {
        events: rx,
        cancel,
        thread: Some(thread),
        idle,
        finished: std::cell::Cell::new(false),
    })
}

/// Runs `plan` on the calling thread, sending every event to `tx`.
pub fn execute(plan: Plan, cancel: &CancelToken, tx: &Sender<Event>) {
    execute_with(plan, cancel, |event| {
        let _ = tx.send(event);
    });
}

/// Runs `plan` on the calling thread, handing every event to `sink` in
/// order (the last is [`Event::RunFinished`]). The command line uses this:
/// one thread less to wake for every event of a run of many small stems.
pub fn execute_with(plan: Plan, cancel: &CancelToken, sink: impl FnMut(Event)) {
    let plan = Arc::new(plan);
    let mut tally = Tally::new(&plan, sink);
    let mut runnable: Vec<usize> = Vec::new();
    for (i, stem) in plan.stems.iter().enumerate() {
        if stem.members.is_empty() {
            tally.record(Event::Skipped {
                stem: i,
                name: stem.name.clone(),
                reason: "no matching files".to_owned(),
            });
        } else {
            runnable.push(i);
        }
    }
    // Largest first, ties in plan order: the pool's last minutes are short stems.
    runnable.sort_by_key(|&i| std::cmp::Reverse(plan.stems[i].total_size()));
    match prepare(&plan) {
        Err(error) => tally.fail_unfinished(&runnable, &error),
        Ok(compressor) => {
            let runnable = refuse_case_clashes(&plan, runnable, &mut tally);
            if let Err(error) = run_stems(&plan, &runnable, cancel, compressor, &mut tally) {
                tally.fail_unfinished(&runnable, &error.to_string());
            }
        }
    }
    tally.finish(cancel);
}

/// How long a temporary file must go unwritten before a shard's run
/// removes it as a killed run's leftover.
const SHARD_CLEAN_UP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Creates the output folder, removes what a killed run left in it, and
/// starts the compression pool.
fn prepare(plan: &Plan) -> Result<Compressor, String> {
    let dir = &plan.output_dir;
    archive::create_folder(dir)
        .map_err(|e| format!("cannot create output folder {}: {e}", dir.display()))?;
    // A shard's run shares the folder with other machines' runs, whose
    // locks some network file systems do not show here: it leaves alone
    // what was written to in the last hour.
    let min_age = plan.shard.map(|_| SHARD_CLEAN_UP_AGE);
    temp::remove_stale(dir, min_age)
        .map_err(|e| format!("cannot clean up temporary files in {}: {e}", dir.display()))?;
    let threads = compression_threads(plan.settings.workers.get());
    Compressor::new(threads).map_err(|e| format!("cannot start {threads} compression threads: {e}"))
}

/// Compression threads for `workers` workers: one per worker, but no more
/// than the processor has cores. Compressing only computes, so a thread
/// over the core count only adds a compressor state and its buffers (with
/// 32 workers on 2 cores the run held twice the memory for the same time,
/// BENCHMARKS.md); the stem threads, which wait on reads and writes, stay
/// one per worker.
fn compression_threads(workers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    workers.min(cores).max(1)
}

/// Where the output folder ignores letter case, a stem whose zip name
/// differs from an earlier stem's only in case would write the same file:
/// it fails instead, naming the other zip. Returns the stems left to run.
fn refuse_case_clashes(
    plan: &Plan,
    mut runnable: Vec<usize>,
    tally: &mut Tally<'_, impl FnMut(Event)>,
) -> Vec<usize> {
    let same_file = |i: usize| plan.stems[i].same_zip_as.as_ref();
    if !runnable.iter().any(|&i| same_file(i).is_some()) {
        return runnable;
    }
    // When that cannot be found out, the folder is taken to ignore case
    // (the safe answer).
    let ignores_case = plan
        .settings
        .folder_ignores_case
        .unwrap_or_else(|| temp::ignores_case(&plan.output_dir).unwrap_or(true));
    if !ignores_case {
        return runnable;
    }
    runnable.retain(|&i| {
        let Some(other) = same_file(i) else {
            return true;
        };
        let stem = &plan.stems[i];
        tally.record(Event::Failed {
            stem: i,
            name: stem.name.clone(),
            error: format!(
                "{}.zip would be the same file as {other}.zip: the output folder \
                 ignores letter case; rename one of the two stems to keep both",
                stem.name
            ),
            seconds: 0.0,
        });
        false
    });
    runnable
}

/// Runs `stems` on the stem, commit and folder threads, recording their
/// events until the last thread is done.
fn run_stems(
    plan: &Arc<Plan>,
    stems: &[usize],
    cancel: &CancelToken,
    compressor: Compressor,
    tally: &mut Tally<'_, impl FnMut(Event)>,
) -> Result<(), ThreadError> {
    let (events, received) = mpsc::channel();
    let folder = Arc::new(Folder::open(&plan.output_dir));
    let commit_threads = commit::threads_for(plan.settings.workers.get()).min(stems.len());
    let shared = schedule::Shared {
        plan: Arc::clone(plan),
        cancel: cancel.clone(),
        compressor: Arc::new(compressor),
        commits: commit::start(&folder, commit_threads, &events)?,
        folder,
        events,
    };
    schedule::start(stems.to_vec(), &shared)?;
    drop(shared);
    for event in received {
        tally.record(event);
    }
    Ok(())
}

/// The event that ends a stem, from how writing (and committing) it went.
pub(crate) fn terminal_event(
    stem: usize,
    name: String,
    files: usize,
    seconds: f64,
    result: Result<archive::Written, StemError>,
) -> Event {
    match result {
        Ok(written) => Event::Finished {
            stem,
            name,
            zip: written.zip,
            files,
            bytes_in: written.bytes_in,
            bytes_out: written.bytes_out,
            seconds,
            folder_not_flushed: None,
        },
        Err(StemError::Cancelled) => Event::Cancelled { stem, name },
        Err(StemError::TimedOut) => Event::TimedOut {
            stem,
            name,
            seconds,
        },
        Err(StemError::Exists { zip }) => Event::Skipped {
            stem,
            name,
            reason: format!("{} exists and overwrite is off", zip.display()),
        },
        Err(e) => Event::Failed {
            stem,
            name,
            error: e.to_string(),
            seconds,
        },
    }
}
