//! Committing written zips: their data flushed to disk, renamed to their
//! final names, the output folder flushed, then reported finished.
//!
//! Threads: `stemzip-commit-N` (a few per worker, see [`threads_for`]),
//! each flushing a zip's data and renaming it into place, many at once so
//! the disk takes their flushes together; and one `stemzip-folder` thread
//! that flushes the folder once for every zip placed since its last flush,
//! then reports those zips finished. What crosses the boundary: a
//! [`CommitJob`] in from the stem threads (over a bounded queue), and one
//! terminal [`Event`] per job out to the engine's event channel.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Instant;

use super::{ThreadError, spawn, terminal_event};
use crate::archive::{Folder, Prepared, Written};
use crate::event::Event;

/// Written zips that may wait for a commit thread, per commit thread (each
/// holds an open temporary file, or a small zip of at most 256 KiB in
/// memory).
const QUEUE_PER_THREAD: usize = 2;

/// How many commit threads a run with `workers` workers gets. Each mostly
/// waits for the disk to flush a zip, and flushes in flight together are
/// merged by the disk, so many per worker keep the stem threads from
/// waiting: on 2,000 small stems with 2 workers, 8 threads took 0.36 s,
/// 32 took 0.27 s, 64 no less (BENCHMARKS.md). Their creations and
/// renames take turns ([`Folder::change`]).
pub(super) fn threads_for(workers: usize) -> usize {
    workers.saturating_mul(16).clamp(16, 32)
}

/// A written zip waiting for its commit.
pub(super) struct CommitJob {
    pub(super) stem: usize,
    pub(super) name: String,
    pub(super) files: usize,
    pub(super) started: Instant,
    pub(super) prepared: Prepared,
}

/// Starts `threads` commit threads and the folder thread for `folder`;
/// their events go to `events`. Returns where to send the jobs; the
/// threads end once every sender is dropped.
pub(super) fn start(
    folder: &Arc<Folder>,
    threads: usize,
    events: &Sender<Event>,
) -> Result<crossbeam_channel::Sender<CommitJob>, ThreadError> {
    let (placed_tx, placed_rx) = mpsc::channel::<Placed>();
    {
        let (events, folder) = (events.clone(), Arc::clone(folder));
        spawn("stemzip-folder".to_owned(), move || {
            finish_when_flushed(
                &placed_rx,
                || folder.flush(),
                |placed, flushed| {
                    let _ = events.send(placed.finished(flushed));
                },
            );
        })?;
    }
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<CommitJob>(threads * QUEUE_PER_THREAD);
    for c in 0..threads {
        let (jobs, events, placed_tx, folder) = (
            jobs_rx.clone(),
            events.clone(),
            placed_tx.clone(),
            Arc::clone(folder),
        );
        spawn(format!("stemzip-commit-{c}"), move || {
            for job in jobs {
                let event = match job.place(&folder) {
                    Ok(placed) => match placed_tx.send(placed) {
                        Ok(()) => continue,
                        // The folder thread is gone: flush here.
                        Err(mpsc::SendError(placed)) => {
                            let flushed = folder.flush();
                            placed.finished(&flushed)
                        }
                    },
                    Err(event) => *event,
                };
                let _ = events.send(event);
            }
        })?;
    }
    Ok(jobs_tx)
}

impl CommitJob {
    /// Flushes the zip's data and renames it into place; a failure is
    /// returned as the stem's terminal event.
    fn place(self, folder: &Folder) -> Result<Placed, Box<Event>> {
        let CommitJob {
            stem,
            name,
            files,
            started,
            prepared,
        } = self;
        match prepared.place(folder) {
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
}

/// The folder thread: takes every zip placed so far, flushes the folder
/// once (so the flush starts after each of their renames), then reports
/// them; until no commit thread is left.
fn finish_when_flushed(
    placed: &Receiver<Placed>,
    flush: impl Fn() -> Result<(), String>,
    mut finished: impl FnMut(Placed, &Result<(), String>),
) {
    while let Ok(first) = placed.recv() {
        let batch: Vec<Placed> = std::iter::once(first).chain(placed.try_iter()).collect();
        let flushed = flush();
        for one in batch {
            finished(one, &flushed);
        }
    }
}

/// A zip under its final name whose folder entry awaits a flush.
struct Placed {
    stem: usize,
    name: String,
    files: usize,
    started: Instant,
    written: Written,
}

impl Placed {
    /// The stem's terminal event, once the folder was flushed (or why it
    /// could not be).
    fn finished(self, flushed: &Result<(), String>) -> Event {
        let durable = self.written.name_durable;
        let mut event = terminal_event(
            self.stem,
            self.name,
            self.files,
            self.started.elapsed().as_secs_f64(),
            Ok(self.written),
        );
        // A name made durable by its rename (Windows) needs no folder flush.
        if let (
            Event::Finished {
                folder_not_flushed, ..
            },
            Err(why),
            false,
        ) = (&mut event, flushed, durable)
        {
            *folder_not_flushed = Some(why.clone());
        }
        event
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
                                name_durable: false,
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
                    Ok(())
                },
                |placed, _| {
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
