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

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::archive;
use crate::event::Event;
use crate::plan::{Member, Plan, SourceFiles};

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
    sources: SourceFiles,
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
            sources: plan.source_files(),
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
            if !self.every_owner_qualifies(&m.path) || self.sources.holds(&m.path) {
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
///
/// The bytes are read through one handle, and the file is deleted only if
/// that handle's file did not change while it was read and is still the
/// one under its name: a program that replaces the file (a new version
/// renamed over it) or writes into it meanwhile keeps it. On Windows no
/// other program may write to it, rename over it or delete it while it is
/// read. What is left is the moment between the last look and the
/// deletion, as with any program that deletes a file by its name.
fn delete_unchanged(m: &Member, zipped: Option<(u32, u64)>) -> Result<bool, String> {
    let kept = |why: &dyn std::fmt::Display| format!("{} kept: {why}", m.path.display());
    let named = match fs::symlink_metadata(&m.path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(kept(&e)),
    };
    if named.file_type().is_symlink() {
        return Err(kept(&"it is a link (the zip holds the file it points to)"));
    }
    if named.len() != m.size || named.modified().ok() != Some(m.modified) {
        return Err(kept(&"it changed since it was zipped"));
    }
    let mut file = open_to_check(&m.path).map_err(|e| kept(&e))?;
    let held = file.metadata().map_err(|e| kept(&e))?;
    if !same_file(&named, &held) {
        return Err(kept(&"it was replaced while it was checked"));
    }
    let now = archive::checksum_of(&mut file).map_err(|e| kept(&e))?;
    if zipped != Some(now) {
        return Err(kept(
            &"its bytes differ from its entry in the zip (it changed since it was zipped)",
        ));
    }
    let after = file.metadata().map_err(|e| kept(&e))?;
    // Closed first: on Windows the handle keeps it from being deleted.
    drop(file);
    let named_now = fs::symlink_metadata(&m.path).map_err(|e| kept(&e))?;
    if !same_file(&held, &after) || !same_file(&held, &named_now) {
        return Err(kept(&"it changed while it was checked"));
    }
    match fs::remove_file(&m.path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("{} could not be deleted: {e}", m.path.display())),
    }
}

/// Opens `path` to read it before deleting it. On Windows, other programs
/// may read it meanwhile, but not write to it, rename over it or delete it
/// (a program that has it open for writing now makes this fail).
fn open_to_check(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_SHARE_READ: u32 = 0x1;
        options.share_mode(FILE_SHARE_READ);
    }
    options.open(path)
}

/// Whether `a` and `b` describe the same file in the same state: the same
/// file (device and inode, on Unix), size, modification time and (on Unix)
/// change time, which any write or rename into its place moves on.
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (a.dev(), a.ino(), a.ctime(), a.ctime_nsec())
            != (b.dev(), b.ino(), b.ctime(), b.ctime_nsec())
        {
            return false;
        }
    }
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes at `path`, as planned.
    fn planned(path: &Path, len: usize) -> Member {
        fs::write(path, vec![7u8; len]).unwrap();
        // A later write must get a later time, even with coarse clocks.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let meta = fs::metadata(path).unwrap();
        Member {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            path: path.to_owned(),
            size: meta.len(),
            modified: meta.modified().unwrap(),
            utf8_name: true,
        }
    }

    /// Runs `act` on another thread once this process has read at least
    /// 1 MiB of `path` through a handle (seen in `/proc/self/fdinfo`): a
    /// program acting on the file while the mover reads it. Returns
    /// whether it acted.
    #[cfg(target_os = "linux")]
    fn while_read(
        path: &Path,
        act: impl FnOnce() + Send + 'static,
    ) -> std::thread::JoinHandle<bool> {
        let path = path.to_owned();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                for fd in fs::read_dir("/proc/self/fd").unwrap().flatten() {
                    if fs::read_link(fd.path()).ok().as_deref() != Some(path.as_path()) {
                        continue;
                    }
                    let info = format!("/proc/self/fdinfo/{}", fd.file_name().to_string_lossy());
                    let pos = fs::read_to_string(info).unwrap_or_default();
                    let pos: u64 = pos
                        .lines()
                        .find_map(|l| l.strip_prefix("pos:"))
                        .and_then(|p| p.trim().parse().ok())
                        .unwrap_or(0);
                    if pos >= 1 << 20 {
                        act();
                        return true;
                    }
                }
            }
            false
        })
    }

    /// Runs the mover's last check on a 96 MiB file in `dir` while `act`
    /// (made for its path) runs once 1 MiB of it was read; again if a busy
    /// machine let the read end first. Returns the path and the result.
    #[cfg(target_os = "linux")]
    fn check_while(
        dir: &Path,
        act: impl Fn(&Path) -> Box<dyn FnOnce() + Send>,
    ) -> (PathBuf, Result<bool, String>) {
        for _ in 0..5 {
            let path = dir.join("caseA_big.csv");
            let m = planned(&path, 96 << 20);
            let zipped = archive::file_checksum(&path).ok();
            let other = while_read(&path, act(&path));
            let result = delete_unchanged(&m, zipped);
            if other.join().unwrap() {
                return (path, result);
            }
        }
        panic!("the file was never seen being read");
    }

    /// A solver that renames a new version over a result while the mover
    /// reads the old one: the new version stays.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_replaced_while_the_mover_reads_it_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (path, result) = check_while(dir.path(), |path| {
            let path = path.to_owned();
            Box::new(move || {
                let new = path.with_extension("new");
                fs::write(&new, b"the solver's new version").unwrap();
                fs::rename(&new, &path).unwrap();
            })
        });
        assert_eq!(
            fs::read(&path).unwrap(),
            b"the solver's new version",
            "{result:?}"
        );
        assert!(result.unwrap_err().contains("kept"));
    }

    /// A program that writes into a result behind the mover's reading
    /// position: the edited file stays.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_written_into_while_the_mover_reads_it_is_kept() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let (path, result) = check_while(dir.path(), |path| {
            let path = path.to_owned();
            Box::new(move || {
                let mut f = fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.write_all(b"edited").unwrap();
            })
        });
        assert!(
            fs::read(&path).unwrap().starts_with(b"edited"),
            "{result:?}"
        );
        assert!(result.unwrap_err().contains("kept"));
    }

    /// On Windows a file another program has open for writing stays; once
    /// it is closed, the file goes.
    #[cfg(windows)]
    #[test]
    fn on_windows_a_file_open_for_writing_elsewhere_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caseA_1.csv");
        let m = planned(&path, 4096);
        let zipped = archive::file_checksum(&path).ok();
        let writer = fs::OpenOptions::new().write(true).open(&path).unwrap();
        let result = delete_unchanged(&m, zipped);
        assert!(result.unwrap_err().contains("kept"));
        assert!(path.exists());
        drop(writer);
        assert_eq!(delete_unchanged(&m, zipped), Ok(true));
        assert!(!path.exists());
    }

    /// Unchanged, the file goes.
    #[test]
    fn an_unchanged_file_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caseA_1.csv");
        let m = planned(&path, 4096);
        let zipped = archive::file_checksum(&path).ok();
        assert_eq!(delete_unchanged(&m, zipped), Ok(true));
        assert!(!path.exists());
    }

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
