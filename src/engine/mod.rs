//! Running a [`Plan`]: stem threads, a rayon pool for compression, commit
//! threads, events over a channel, cancel, timeouts, the summary and the
//! error report.
//!
//! [`start`] returns at once; the run goes on in its own thread and reports
//! through [`Run::events`]. `max_workers` stem threads take stems largest
//! first; deflate chunks of every stem go to one rayon pool of `max_workers`
//! threads, so a single large stem (or file) keeps every core busy. A failed
//! stem is data, not an abort: the others go on.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::cancel::CancelToken;
pub use crate::event::{Event, StemStatus, Summary};

use crate::archive::{self, Control, StemError};
use crate::temp;
use crate::plan::Plan;
use crate::report::{Report, StemOutcome};

/// How often a running stem reports progress at most.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Threads that commit finished zips (flush to disk, rename) concurrently.
/// Each mostly waits for the disk; many flushes in flight let the block
/// layer merge them (on the 2-core benchmark machine, 2,000 small zips took
/// 0.35 s with 8 threads, 0.25 s with 32, no better with 64).
const COMMIT_THREADS: usize = 32;
/// Written zips that may wait for a commit (each holds an open temporary
/// file, or a small zip of at most 256 KiB in memory).
const COMMIT_QUEUE: usize = 64;

/// A run in progress.
#[derive(Debug)]
pub struct Run {
    events: Receiver<Event>,
    cancel: CancelToken,
    thread: Option<JoinHandle<()>>,
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
pub fn start(plan: Plan) -> Run {
    start_with(plan, CancelToken::new())
}

/// Like [`start`], with a cancel token the caller already holds.
pub fn start_with(plan: Plan, cancel: CancelToken) -> Run {
    let (tx, rx) = mpsc::channel();
    let token = cancel.clone();
    let thread = std::thread::Builder::new()
        .name("stemzip-run".to_owned())
        .spawn(move || execute(plan, &token, &tx));
    match thread {
        Ok(handle) => Run {
            events: rx,
            cancel,
            thread: Some(handle),
        },
        Err(_) => {
            // No thread: report the run as failed rather than panic.
            let (tx, rx) = mpsc::channel();
            let _ = tx.send(Event::RunFinished(Summary::default()));
            Run {
                events: rx,
                cancel,
                thread: None,
            }
        }
    }
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
pub fn execute_with(plan: Plan, cancel: &CancelToken, mut sink: impl FnMut(Event)) {
    let started = Instant::now();
    let plan = Arc::new(plan);
    let mut outcomes: Vec<Option<StemOutcome>> = vec![None; plan.stems.len()];
    let mut summary = Summary {
        stems: plan.stems.len(),
        ..Summary::default()
    };
    let mut record = |event: Event, outcomes: &mut Vec<Option<StemOutcome>>| {
        if let (Some(i), Some(status)) = (event.stem(), event.status())
            && status.is_terminal()
            && let (Some(slot), Some(stem)) = (outcomes.get_mut(i), plan.stems.get(i))
        {
            summary.count(status);
            if let Event::Finished {
                bytes_in,
                bytes_out,
                ..
            } = &event
            {
                summary.bytes_in += bytes_in;
                summary.bytes_out += bytes_out;
            }
            *slot = Some(StemOutcome::from_event(stem, &event));
        }
        sink(event);
    };

    for (i, stem) in plan.stems.iter().enumerate() {
        record(
            Event::Queued {
                stem: i,
                name: stem.name.clone(),
                files: stem.members.len(),
                bytes: stem.total_size(),
            },
            &mut outcomes,
        );
    }
    let mut runnable: Vec<usize> = Vec::new();
    for (i, stem) in plan.stems.iter().enumerate() {
        if stem.members.is_empty() {
            record(
                Event::Skipped {
                    stem: i,
                    name: stem.name.clone(),
                    reason: "no matching files".to_owned(),
                },
                &mut outcomes,
            );
        } else {
            runnable.push(i);
        }
    }
    // Largest first, ties in plan order: the pool's last minutes are short stems.
    runnable.sort_by_key(|&i| std::cmp::Reverse(plan.stems[i].total_size()));

    let setup = prepare_output(&plan.output_dir).and_then(|()| {
        let threads = plan.settings.workers.get();
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("stemzip-compress-{i}"))
            .build()
            .map(|pool| archive::Compressor {
                pool,
                budget: archive::ChunkBudget::new(archive::CHUNK_BUDGET, archive::CHUNK_COST),
            })
            .map_err(|e| format!("cannot start {threads} compression threads: {e}"))
    });
    match setup {
        Err(error) => {
            for &i in &runnable {
                record(
                    Event::Failed {
                        stem: i,
                        name: plan.stems[i].name.clone(),
                        error: error.clone(),
                        seconds: 0.0,
                    },
                    &mut outcomes,
                );
            }
        }
        Ok(compressor) => {
            // Where the output folder ignores letter case, a stem whose zip
            // name differs from an earlier stem's only in case would write
            // the same file: it fails instead, naming the other zip.
            let same_file = |i: usize| plan.stems[i].same_zip_as.as_ref();
            if runnable.iter().any(|&i| same_file(i).is_some())
                && temp::ignores_case(&plan.output_dir).unwrap_or(true)
            {
                runnable.retain(|&i| {
                    let Some(other) = same_file(i) else {
                        return true;
                    };
                    let stem = &plan.stems[i];
                    record(
                        Event::Failed {
                            stem: i,
                            name: stem.name.clone(),
                            error: format!(
                                "{}.zip would be the same file as {other}.zip: the output folder \
                                 ignores letter case; rename one of the two stems to keep both",
                                stem.name
                            ),
                            seconds: 0.0,
                        },
                        &mut outcomes,
                    );
                    false
                });
            }
            // One stem thread per worker takes the next stem, largest first;
            // the compression pool is shared, so one big stem can use every
            // core while the others are done.
            let compressor = Arc::new(compressor);
            let queue = Arc::new(runnable.clone());
            let next = Arc::new(AtomicUsize::new(0));
            let (itx, irx) = mpsc::channel();
            // Commits run on threads of their own, many at once, so the file
            // system flushes them together and stem threads go on: a commit
            // thread flushes a zip's data and renames it into place; the
            // folder thread then flushes the folder once for every zip
            // placed since its last flush, and reports those finished.
            let (ctx, crx) = crossbeam_channel::bounded::<CommitJob>(COMMIT_QUEUE);
            let (ftx, frx) = mpsc::channel::<Placed>();
            let folder = Arc::new(archive::Folder::open(&plan.output_dir));
            {
                let (itx, folder) = (itx.clone(), Arc::clone(&folder));
                // Should the thread not start, commit threads flush themselves.
                let _ = std::thread::Builder::new()
                    .name("stemzip-folder".to_owned())
                    .spawn(move || {
                        finish_when_flushed(
                            &frx,
                            || folder.flush(),
                            |placed| {
                                let _ = itx.send(placed.finished());
                            },
                        );
                    });
            }
            for c in 0..COMMIT_THREADS.min(runnable.len()) {
                let (crx, itx, ftx, folder) =
                    (crx.clone(), itx.clone(), ftx.clone(), Arc::clone(&folder));
                let _ = std::thread::Builder::new()
                    .name(format!("stemzip-commit-{c}"))
                    .spawn(move || {
                        for job in crx {
                            let event = match job.place() {
                                Ok(placed) => match ftx.send(placed) {
                                    Ok(()) => continue,
                                    Err(mpsc::SendError(placed)) => placed.finish_alone(&folder),
                                },
                                Err(event) => *event,
                            };
                            let _ = itx.send(event);
                        }
                    });
            }
            drop(ftx);
            drop(crx);
            let drivers = plan.settings.workers.get().min(runnable.len());
            for d in 0..drivers {
                let (itx, plan, cancel) = (itx.clone(), Arc::clone(&plan), cancel.clone());
                let (compressor, queue, next) = (
                    Arc::clone(&compressor),
                    Arc::clone(&queue),
                    Arc::clone(&next),
                );
                let commits = ctx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("stemzip-stem-{d}"))
                    .spawn(move || {
                        while let Some(&i) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                            let result = catch_unwind(AssertUnwindSafe(|| {
                                run_stem(&plan, i, &cancel, &itx, &compressor, &commits);
                            }));
                            if result.is_err() {
                                let _ = itx.send(Event::Failed {
                                    stem: i,
                                    name: plan.stems[i].name.clone(),
                                    error:
                                        "internal error: the worker panicked; please report this"
                                            .to_owned(),
                                    seconds: 0.0,
                                });
                            }
                        }
                    });
                if spawned.is_err() {
                    // Fewer stem threads: the others take its share.
                    continue;
                }
            }
            drop(ctx);
            drop(itx);
            for event in irx {
                record(event, &mut outcomes);
            }
        }
    }

    // Every stem ends with exactly one terminal event, whatever happened above.
    for &i in &runnable {
        if outcomes[i].is_none() {
            record(
                Event::Failed {
                    stem: i,
                    name: plan.stems[i].name.clone(),
                    error: "internal error: the stem ended without a result".to_owned(),
                    seconds: 0.0,
                },
                &mut outcomes,
            );
        }
    }

    summary.seconds = started.elapsed().as_secs_f64();
    summary.was_cancelled = cancel.is_cancelled();
    let problems: Vec<StemOutcome> = outcomes
        .into_iter()
        .flatten()
        .filter(|o| o.status.is_problem())
        .collect();
    if plan.settings.save_error_reports && !problems.is_empty() {
        let report = Report::new(&plan, summary.clone(), problems);
        match report.save_in(&plan.output_dir) {
            Ok(path) => summary.report = Some(path),
            Err(e) => summary.report_error = Some(e.to_string()),
        }
    }
    sink(Event::RunFinished(summary));
}

/// Creates the output folder and removes what a killed run left in it.
fn prepare_output(dir: &Path) -> Result<(), String> {
    archive::create_folder(dir)
        .map_err(|e| format!("cannot create output folder {}: {e}", dir.display()))?;
    temp::remove_stale(dir)
        .map_err(|e| format!("cannot clean up temporary files in {}: {e}", dir.display()))?;
    Ok(())
}

/// Runs stem `i` on the current worker and sends its events.
fn run_stem(
    plan: &Plan,
    i: usize,
    cancel: &CancelToken,
    tx: &Sender<Event>,
    compressor: &archive::Compressor,
    commits: &crossbeam_channel::Sender<CommitJob>,
) {
    let stem = &plan.stems[i];
    let name = || stem.name.clone();
    if cancel.is_cancelled() {
        let _ = tx.send(Event::Cancelled {
            stem: i,
            name: name(),
        });
        return;
    }
    let started = Instant::now();
    let _ = tx.send(Event::Started {
        stem: i,
        name: name(),
    });
    let control = Control {
        cancel: cancel.clone(),
        deadline: plan.settings.timeout.map(|t| started + t),
    };
    let mut bytes_done = 0;
    let mut last_report = started;
    let mut progress = |n: u64| {
        bytes_done += n;
        let now = Instant::now();
        if now.duration_since(last_report) >= PROGRESS_INTERVAL {
            last_report = now;
            let _ = tx.send(Event::Progress {
                stem: i,
                name: name(),
                bytes_done,
            });
        }
    };
    let result = archive::write_stem(
        stem,
        &plan.output_dir,
        &plan.settings,
        &control,
        compressor,
        &mut progress,
    );
    match result {
        Ok(prepared) => {
            let job = CommitJob {
                stem: i,
                name: name(),
                files: stem.members.len(),
                started,
                prepared,
            };
            if let Err(crossbeam_channel::SendError(job)) = commits.send(job) {
                // No commit thread left: commit here.
                let _ = tx.send(job.run(&archive::Folder::open(&plan.output_dir)));
            }
        }
        Err(e) => {
            let seconds = started.elapsed().as_secs_f64();
            let _ = tx.send(terminal_event(
                i,
                name(),
                stem.members.len(),
                seconds,
                Err(e),
            ));
        }
    }
}

/// A written zip waiting for its commit (flush to disk, rename into place).
struct CommitJob {
    stem: usize,
    name: String,
    files: usize,
    started: Instant,
    prepared: archive::Prepared,
}

impl CommitJob {
    /// Flushes the zip's data and renames it into place; a failure is
    /// returned as the stem's terminal event.
    fn place(self) -> Result<Placed, Box<Event>> {
        let CommitJob {
            stem,
            name,
            files,
            started,
            prepared,
        } = self;
        match prepared.place() {
            Ok(written) => Ok(Placed {
                stem,
                name,
                files,
                started,
                written,
            }),
            Err(e) => Err(Box::new(terminal_event(
                stem,
                name,
                files,
                started.elapsed().as_secs_f64(),
                Err(e),
            ))),
        }
    }

    /// Commits alone (places, then flushes the folder) and returns the
    /// stem's terminal event.
    fn run(self, folder: &archive::Folder) -> Event {
        match self.place() {
            Ok(placed) => placed.finish_alone(folder),
            Err(event) => *event,
        }
    }
}

/// The folder thread: takes every zip placed so far, flushes the folder
/// once (so the flush starts after each of their renames), then reports
/// them; until no commit thread is left.
fn finish_when_flushed(
    placed: &Receiver<Placed>,
    flush: impl Fn(),
    mut finished: impl FnMut(Placed),
) {
    while let Ok(first) = placed.recv() {
        let batch: Vec<Placed> = std::iter::once(first).chain(placed.try_iter()).collect();
        flush();
        batch.into_iter().for_each(&mut finished);
    }
}

/// A zip under its final name whose folder entry awaits a flush.
struct Placed {
    stem: usize,
    name: String,
    files: usize,
    started: Instant,
    written: archive::Written,
}

impl Placed {
    /// Flushes the folder for this zip alone, then returns its terminal
    /// event (when no folder thread takes it).
    fn finish_alone(self, folder: &archive::Folder) -> Event {
        folder.flush();
        self.finished()
    }

    /// The stem's terminal event, once the folder was flushed.
    fn finished(self) -> Event {
        terminal_event(
            self.stem,
            self.name,
            self.files,
            self.started.elapsed().as_secs_f64(),
            Ok(self.written),
        )
    }
}

/// The event that ends a stem, from how writing (and committing) it went.
fn terminal_event(
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

#[cfg(test)]
mod tests {
    use super::{Placed, finish_when_flushed};
    use crate::archive::Written;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// A zip is reported finished only after a folder flush that started
    /// after its rename, and zips placed together share flushes.
    #[test]
    fn a_zip_is_reported_only_after_a_flush_that_started_after_its_rename() {
        let (tx, rx) = mpsc::channel::<Placed>();
        // Zips renamed so far, and how many the last flush started after.
        let renamed = AtomicUsize::new(0);
        let covered = AtomicUsize::new(0);
        let flushes = AtomicUsize::new(0);
        let mut reported = 0;
        std::thread::scope(|s| {
            for _ in 0..8 {
                let tx = tx.clone();
                let renamed = &renamed;
                s.spawn(move || {
                    for _ in 0..100 {
                        let n = renamed.fetch_add(1, Ordering::SeqCst);
                        let placed = Placed {
                            stem: n,
                            name: format!("s{n}"),
                            files: 1,
                            started: Instant::now(),
                            written: Written {
                                zip: format!("s{n}.zip").into(),
                                bytes_in: 0,
                                bytes_out: 0,
                            },
                        };
                        tx.send(placed).unwrap();
                        std::thread::sleep(Duration::from_micros(50));
                    }
                });
            }
            drop(tx);
            finish_when_flushed(
                &rx,
                || {
                    covered.store(renamed.load(Ordering::SeqCst), Ordering::SeqCst);
                    flushes.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(500));
                },
                |placed| {
                    assert!(placed.stem < covered.load(Ordering::SeqCst));
                    reported += 1;
                },
            );
        });
        assert_eq!(reported, 800);
        let flushes = flushes.load(Ordering::SeqCst);
        assert!(flushes < 400, "{flushes} flushes for 800 zips");
    }
}
