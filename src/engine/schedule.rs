//! Stems to workers: one stem thread per worker takes the next stem,
//! largest first, writes its zip and hands it to the commit threads.
//!
//! Threads: `stemzip-stem-N`, one per worker (no more than there are
//! stems). They start together or not at all: each waits at a gate until
//! every one of them has started, so a thread that cannot start fails the
//! run before any stem is touched. Deflate chunks go from the stem threads
//! to the run's compression pool ([`crate::archive::Compressor`]). What
//! crosses the boundary: stem indices in (the queue), a [`CommitJob`] out
//! per written zip, and events out (`Started`, `Progress`, and the terminal
//! event of a stem that did not get as far as a commit).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::commit::CommitJob;
use super::{ThreadError, spawn, terminal_event};
use crate::archive::{self, Compressor, Control, Folder};
use crate::cancel::CancelToken;
use crate::event::Event;
use crate::plan::{Plan, Stem};

/// How often a running stem reports progress at most.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What every stem thread shares.
pub(super) struct Shared {
    pub(super) plan: Arc<Plan>,
    pub(super) cancel: CancelToken,
    pub(super) compressor: Arc<Compressor>,
    pub(super) folder: Arc<Folder>,
    pub(super) commits: crossbeam_channel::Sender<CommitJob>,
    pub(super) events: Sender<Event>,
}

/// Starts one stem thread per worker over `stems` (in the order given).
/// Either every thread starts and the stems are run, or none runs a stem
/// and the error says which thread could not start.
pub(super) fn start(stems: Vec<usize>, shared: &Shared) -> Result<(), ThreadError> {
    let threads = shared.plan.settings.workers.get().min(stems.len());
    let queue = Arc::new(stems);
    let next = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(RwLock::new(false));
    let mut open = gate.write().unwrap_or_else(PoisonError::into_inner);
    for t in 0..threads {
        let (queue, next, gate) = (Arc::clone(&queue), Arc::clone(&next), Arc::clone(&gate));
        let mine = Shared {
            plan: Arc::clone(&shared.plan),
            cancel: shared.cancel.clone(),
            compressor: Arc::clone(&shared.compressor),
            folder: Arc::clone(&shared.folder),
            commits: shared.commits.clone(),
            events: shared.events.clone(),
        };
        spawn(format!("stemzip-stem-{t}"), move || {
            if !*gate.read().unwrap_or_else(PoisonError::into_inner) {
                return;
            }
            while let Some(&i) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                let result = catch_unwind(AssertUnwindSafe(|| run_stem(i, &mine)));
                if result.is_err() {
                    let _ = mine.events.send(Event::Failed {
                        stem: i,
                        name: mine.plan.stems[i].name.clone(),
                        error: "internal error: the worker panicked; please report this".to_owned(),
                        seconds: 0.0,
                    });
                }
            }
        })?;
    }
    *open = true;
    Ok(())
}

/// Update mode, and move mode with overwrite off: whether stem `i`'s zip
/// that exists is kept as it is (its `UpToDate` event sent), so the stem
/// is done. With verify on, only a zip that reads back whole is kept. In
/// move mode with overwrite off its files go only if it holds exactly
/// them; an unreadable zip in update mode is rebuilt, with a warning.
fn existing_zip_kept(i: usize, stem: &Stem, shared: &Shared) -> bool {
    let settings = &shared.plan.settings;
    if !(settings.update || (settings.delete_originals && !settings.overwrite)) {
        return false;
    }
    let name = || stem.name.clone();
    let zip = stem.zip_path(shared.folder.path());
    let mut fresh = archive::freshness(&zip, stem, settings.compression);
    if fresh == archive::Freshness::UpToDate && (settings.verify || settings.delete_originals) {
        // With verify on (and always in move mode) the central directory
        // is not enough: every entry is read back and checked. Before its
        // members are deleted, each member's bytes now must also be the
        // entry's (a file rewritten with the same size within the second
        // its zip records looks up to date, but is not).
        let read_back = archive::verify_zip(&zip).and_then(|check| {
            match stem.members.iter().find(|m| !check.names.contains(&m.name)) {
                Some(m) => Err(format!("{} is not among its entries", m.name)),
                None => Ok(()),
            }
        });
        if let Err(why) = read_back {
            fresh = archive::Freshness::Unreadable(format!("its read-back failed: {why}"));
        } else if settings.delete_originals {
            match archive::first_changed_member(&zip, stem) {
                Ok(None) => {}
                Ok(Some(name)) => {
                    fresh = archive::Freshness::Changed(format!(
                        "{name} has other bytes than in the zip"
                    ));
                }
                Err(why) => fresh = archive::Freshness::Unreadable(why),
            }
        }
    }
    match fresh {
        archive::Freshness::UpToDate => {
            // Move mode deletes its files next: the zip (which an
            // earlier run may have been killed before flushing, or
            // someone copied in) is made durable first, as a new one.
            let folder_not_flushed = if settings.delete_originals {
                std::fs::File::open(&zip)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| format!("the zip could not be flushed: {e}"))
                    .and_then(|()| shared.folder.flush())
                    .err()
            } else {
                None
            };
            let _ = shared.events.send(Event::UpToDate {
                stem: i,
                name: name(),
                zip,
                files: stem.members.len(),
                bytes: stem.total_size(),
                folder_not_flushed,
            });
            true
        }
        archive::Freshness::Unreadable(why) if settings.update => {
            let _ = shared.events.send(Event::Warning {
                stem: i,
                name: name(),
                message: format!("{} cannot be read ({why}); it is rebuilt", zip.display()),
            });
            false
        }
        archive::Freshness::Unreadable(_)
        | archive::Freshness::Missing
        | archive::Freshness::Changed(_)
        | archive::Freshness::WouldFail(_) => false,
    }
}

/// Runs stem `i` on this thread and sends its events.
fn run_stem(i: usize, shared: &Shared) {
    let plan = &shared.plan;
    let stem = &plan.stems[i];
    let name = || stem.name.clone();
    if shared.cancel.is_cancelled() {
        let _ = shared.events.send(Event::Cancelled {
            stem: i,
            name: name(),
        });
        return;
    }
    let started = Instant::now();
    let _ = shared.events.send(Event::Started {
        stem: i,
        name: name(),
    });
    if existing_zip_kept(i, stem, shared) {
        return;
    }
    let control = Control {
        cancel: shared.cancel.clone(),
        deadline: plan.settings.timeout.map(|t| started + t),
    };
    let mut bytes_done = 0;
    let mut last_report = started;
    let mut progress = |n: u64| {
        bytes_done += n;
        let now = Instant::now();
        if now.duration_since(last_report) >= PROGRESS_INTERVAL {
            last_report = now;
            let _ = shared.events.send(Event::Progress {
                stem: i,
                name: name(),
                bytes_done,
            });
        }
    };
    let written = archive::write_stem(
        stem,
        &shared.folder,
        &plan.settings,
        &control,
        &shared.compressor,
        &mut progress,
    );
    let event = match written {
        Ok(prepared) => {
            let job = CommitJob {
                stem: i,
                name: name(),
                files: stem.members.len(),
                started,
                prepared,
            };
            match shared.commits.send(job) {
                Ok(()) => return,
                Err(_) => Event::Failed {
                    stem: i,
                    name: name(),
                    error: "internal error: no commit thread is left; please report this"
                        .to_owned(),
                    seconds: started.elapsed().as_secs_f64(),
                },
            }
        }
        Err(e) => terminal_event(
            i,
            name(),
            stem.members.len(),
            started.elapsed().as_secs_f64(),
            Err(e),
        ),
    };
    let _ = shared.events.send(event);
}
