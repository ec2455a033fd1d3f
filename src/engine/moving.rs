//! Move mode (`archive.delete_originals`): a stem's data files are deleted
//! once its zip is complete, flushed to disk with its folder entry, and
//! read back in full (verify is on in this mode).
//!
//! Threads: none of its own; the run's bookkeeping calls it on its thread
//! when a stem ends. What crosses its boundary: how a stem ended in, and
//! the `Deleted` and `Warning` events of what it deleted or kept out.
//!
//! A file is deleted only when every stem that holds it (an overlap under
//! `contains`) ended with a zip that qualifies; when one of them fails,
//! the file is kept. Just before it is deleted, the file is read once more
//! and its CRC-32 and size compared with its entry in the zip: a file that
//! changed since it was zipped (even within the file system's time
//! resolution) is kept, and so is every stem-source file.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::archive;
use crate::event::Event;
use crate::plan::{Member, Plan};

/// How a stem's end bears on deleting its files.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum End {
    /// Its zip (here) is complete, durable and verified: its files may go.
    Qualifies(PathBuf),
    /// Its files stay; the reason is said when there is one worth saying.
    Keeps(Option<String>),
}

impl End {
    /// What `event` (a stem's terminal event) means for its files.
    pub(super) fn of(event: &Event, accept_unflushed_folder: bool) -> End {
        match event {
            Event::Finished {
                folder_not_flushed: None,
                zip,
                ..
            }
            | Event::UpToDate {
                folder_not_flushed: None,
                zip,
                ..
            } => End::Qualifies(zip.clone()),
            Event::Finished {
                folder_not_flushed: Some(why),
                zip,
                ..
            }
            | Event::UpToDate {
                folder_not_flushed: Some(why),
                zip,
                ..
            } => {
                if accept_unflushed_folder {
                    End::Qualifies(zip.clone())
                } else {
                    End::Keeps(Some(format!(
                        "originals kept: the zip is complete, but {why}, so a power cut could \
                         still lose its name; set archive.accept_unflushed_folder: true to \
                         delete them anyway"
                    )))
                }
            }
            Event::Skipped { reason, .. } if reason.contains("overwrite is off") => {
                End::Keeps(Some(
                    "originals kept: the zip exists and overwrite is off, and it does not hold \
                     exactly these files (or failed its read-back)"
                        .to_owned(),
                ))
            }
            _ => End::Keeps(None),
        }
    }
}

/// The owner standing for a stem outside the run.
const OUTSIDE: usize = usize::MAX;

/// Which files may be deleted, as stems end.
pub(super) struct Mover {
    /// The stems that hold each member file.
    owners: HashMap<PathBuf, Vec<usize>>,
    /// Stem-source files: never deleted.
    sources: HashSet<PathBuf>,
    /// Per stem: not ended yet (`None`), or whether its zip qualifies.
    ended: Vec<Option<bool>>,
}

impl Mover {
    /// The mover of `plan`'s run, in move mode.
    pub(super) fn new(plan: &Plan) -> Option<Mover> {
        if !plan.settings.delete_originals {
            return None;
        }
        let mut owners: HashMap<PathBuf, Vec<usize>> = HashMap::new();
        for (i, stem) in plan.stems.iter().enumerate() {
            for m in &stem.members {
                owners.entry(m.path.clone()).or_default().push(i);
            }
        }
        // A stem outside this run (another shard's, one a retry leaves
        // out) never succeeds here: what it shares stays.
        for stem in &plan.outside {
            for m in &stem.members {
                owners.entry(m.path.clone()).or_default().push(OUTSIDE);
            }
        }
        Some(Mover {
            owners,
            sources: plan
                .stems
                .iter()
                .chain(&plan.outside)
                .flat_map(|s| s.sources.iter().cloned())
                .collect(),
            ended: vec![None; plan.stems.len()],
        })
    }

    /// Stem `i` ended as `end`: deletes the files no other stem still needs
    /// (its own, and those it shared with stems that ended before), and
    /// returns the events to report.
    pub(super) fn stem_ended(&mut self, plan: &Plan, i: usize, end: End) -> Vec<Event> {
        let Some(stem) = plan.stems.get(i) else {
            return Vec::new();
        };
        let name = || stem.name.clone();
        let mut events = Vec::new();
        let warn = |message: String| Event::Warning {
            stem: i,
            name: stem.name.clone(),
            message,
        };
        // What the zip says each entry holds: the last check before a
        // file goes.
        let sums = match &end {
            End::Qualifies(zip) => match archive::checksums(zip) {
                Ok(sums) => Some(sums),
                Err(why) => {
                    events.push(warn(format!(
                        "originals kept: {} cannot be read to check them against it: {why}",
                        zip.display()
                    )));
                    None
                }
            },
            End::Keeps(why) => {
                events.extend(why.clone().map(warn));
                None
            }
        };
        if let Some(slot) = self.ended.get_mut(i) {
            *slot = Some(sums.is_some());
        }
        let Some(sums) = sums else {
            return events;
        };
        let (mut files, mut bytes) = (0, 0);
        for m in &stem.members {
            if self.sources.contains(&m.path) || !self.every_owner_qualifies(&m.path) {
                continue;
            }
            match delete_unchanged(m, sums.get(&m.name).copied()) {
                Ok(true) => {
                    files += 1;
                    bytes += m.size;
                }
                Ok(false) => {}
                Err(message) => events.push(warn(message)),
            }
        }
        if files > 0 {
            events.push(Event::Deleted {
                stem: i,
                name: name(),
                files,
                bytes,
            });
        }
        events
    }

    fn every_owner_qualifies(&self, path: &Path) -> bool {
        self.owners.get(path).is_some_and(|owners| {
            owners
                .iter()
                .all(|&o| self.ended.get(o).copied().flatten() == Some(true))
        })
    }
}

/// Deletes `m`'s file if it is still what was zipped: its size and
/// modification time as planned, and its bytes those of the zip's entry
/// (`zipped`: CRC-32 and size). `Ok(false)`: it was gone already.
fn delete_unchanged(m: &Member, zipped: Option<(u32, u64)>) -> Result<bool, String> {
    let meta = match fs::symlink_metadata(&m.path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("{} kept: {e}", m.path.display())),
    };
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} kept: it is a link (the zip holds the file it points to)",
            m.path.display()
        ));
    }
    let same = meta.len() == m.size && meta.modified().ok() == Some(m.modified);
    if !same {
        return Err(format!(
            "{} kept: it changed since it was zipped",
            m.path.display()
        ));
    }
    let now =
        archive::file_checksum(&m.path).map_err(|e| format!("{} kept: {e}", m.path.display()))?;
    if zipped != Some(now) {
        return Err(format!(
            "{} kept: its bytes differ from its entry in the zip (it changed since it was zipped)",
            m.path.display()
        ));
    }
    match fs::remove_file(&m.path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("{} could not be deleted: {e}", m.path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(folder_not_flushed: Option<&str>) -> Event {
        Event::Finished {
            stem: 0,
            name: "a".into(),
            zip: "a.zip".into(),
            files: 1,
            bytes_in: 1,
            bytes_out: 1,
            seconds: 0.0,
            folder_not_flushed: folder_not_flushed.map(str::to_owned),
        }
    }

    #[test]
    fn the_originals_stay_where_the_folder_cannot_be_flushed_unless_accepted() {
        assert_eq!(
            End::of(&finished(None), false),
            End::Qualifies("a.zip".into())
        );
        let windows = finished(Some("this system has no folder flush (Windows)"));
        match End::of(&windows, false) {
            End::Keeps(Some(why)) => {
                assert!(why.contains("originals kept"), "{why}");
                assert!(why.contains("no folder flush (Windows)"), "{why}");
                assert!(why.contains("accept_unflushed_folder"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(End::of(&windows, true), End::Qualifies("a.zip".into()));
        let failed = Event::Failed {
            stem: 0,
            name: "a".into(),
            error: "x".into(),
            seconds: 0.0,
        };
        assert_eq!(End::of(&failed, true), End::Keeps(None));
    }
}
