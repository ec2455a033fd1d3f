//! Files stemzip creates beside the user's: temporary zips (how they are
//! named, created and cleaned up), files written atomically through a
//! temporary name (profiles, reports), and the names of run reports. The
//! lowest layer of the library with the cancel token: it imports nothing of
//! stemzip's.
//!
//! A zip is written to `.stemzip-XXXXXXXXXXXX.partial` in the output folder
//! (twelve random letters and digits) and renamed to `<stem>.zip` only when
//! complete. The name cannot be mistaken for a user's file, and a run holds an
//! exclusive lock on each temporary file while writing it, so the clean-up at
//! the start of the next run removes exactly the files that a killed run left
//! behind, never those of a run still going in the same folder.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

const PREFIX: &str = ".stemzip-";
const SUFFIX: &str = ".partial";
const RANDOM_LEN: usize = 12;

/// How a run report's file name starts: `stemzip-report-<UTC time>.yaml`.
pub const REPORT_PREFIX: &str = "stemzip-report-";
/// How a run report's file name ends.
pub const REPORT_SUFFIX: &str = ".yaml";

/// Whether `name` is the file name of a report stemzip writes.
pub fn is_report_name(name: &str) -> bool {
    name.starts_with(REPORT_PREFIX) && name.ends_with(REPORT_SUFFIX)
}

/// Whether `name` is a temporary-zip name of stemzip's.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
        .is_some_and(|mid| {
            mid.len() == RANDOM_LEN && mid.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A temporary-file builder for what becomes the user's file (a zip, a
/// profile, a report), named with `prefix`. The file gets the permissions
/// any new file gets (0666 less the umask, as the Python original's zips
/// did), not tempfile's owner-only 0600: archives and profiles on a shared
/// folder are for colleagues too.
pub fn user_file_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    builder
}

/// Creates a locked temporary zip file in `dir`; it is deleted when dropped
/// unless persisted.
///
/// Where the file system has no file locks (Lustre mounted without
/// `flock`, some FUSE file systems) the file is written unlocked: the
/// clean-up of other runs cannot lock it either, so it leaves it alone.
///
/// Between creating the file and locking it, another run's clean-up could
/// find it unlocked and remove it: once locked, the file is looked up under
/// its name again, and made anew if it is gone.
pub fn create(dir: &Path) -> io::Result<NamedTempFile> {
    for _ in 0..8 {
        let file = user_file_builder(PREFIX)
            .suffix(SUFFIX)
            .rand_bytes(RANDOM_LEN)
            .tempfile_in(dir)?;
        match file.as_file().lock() {
            Ok(()) => {}
            Err(e) if locks_unsupported(&e) => return Ok(file),
            Err(e) => return Err(e),
        }
        if still_named(&file) {
            return Ok(file);
        }
    }
    Err(io::Error::other(
        "new temporary files in this folder keep vanishing (another program removes them)",
    ))
}

/// Whether `file`'s name still leads to the file it was created as.
fn still_named(file: &NamedTempFile) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.as_file().metadata(), fs::symlink_metadata(file.path())) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        fs::symlink_metadata(file.path()).is_ok()
    }
}

/// Whether `error`, from locking a file, says that the file system has no
/// file locks at all (as opposed to a lock that failed).
fn locks_unsupported(error: &io::Error) -> bool {
    if error.kind() == io::ErrorKind::Unsupported {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::io::Errno;
        let unsupported = [Errno::NOSYS, Errno::OPNOTSUPP, Errno::NOLCK];
        error
            .raw_os_error()
            .is_some_and(|code| unsupported.iter().any(|e| e.raw_os_error() == code))
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Writes `bytes` (a whole small zip built in memory) to the new, empty
/// temporary file `file`.
///
/// On Linux the whole 4 KiB blocks go straight to the disk (`O_DIRECT`)
/// where the file system allows it, and only the last partial block through
/// the page cache: a run of thousands of small zips then neither copies them
/// into the page cache nor makes the kernel write them back when they are
/// flushed, which took a third off the time of such a run. A file system
/// that refuses direct writes gets an ordinary write.
/// Offsets, lengths and memory of direct writes are multiples of this (the
/// largest logical block size of common disks).
const BLOCK: usize = 4096;

/// Bytes built in memory to be written by [`write_new`]: they start on
/// a block boundary as long as they fit the room reserved at first, so
/// they go to the disk without being copied again.
#[derive(Debug)]
pub struct Image {
    raw: Vec<u8>,
    start: usize,
}

impl Image {
    /// An empty image with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Image {
        let mut raw: Vec<u8> = Vec::with_capacity(capacity.saturating_add(BLOCK));
        let start = raw.as_ptr().align_offset(BLOCK).min(BLOCK);
        raw.resize(start, 0);
        Image { raw, start }
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.raw[self.start..]
    }
}

impl io::Write for Image {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.raw.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
pub fn write_new(file: &File, bytes: &[u8]) -> io::Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    use std::io::Write;

    let mut out = file;
    let whole = bytes.len() / BLOCK * BLOCK;
    let flags = fcntl_getfl(file)?;
    let mut done = 0;
    if whole > 0 && fcntl_setfl(file, flags | OFlags::DIRECT).is_ok() {
        // The whole blocks, from block-aligned memory.
        let copy;
        let blocks = if bytes.as_ptr().align_offset(BLOCK) == 0 {
            &bytes[..whole]
        } else {
            let mut image = Image::with_capacity(whole);
            image.raw.extend_from_slice(&bytes[..whole]);
            copy = image;
            copy.bytes()
        };
        while done < whole {
            match out.write(&blocks[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    if n % BLOCK != 0 {
                        break; // the rest is not aligned any more
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Refused (alignment, or no direct writes on this file
                // system after all: some say so only now, in their own
                // words). An ordinary write goes on from here; a real
                // error (a full disk) comes back from it.
                Err(_) => break,
            }
        }
        fcntl_setfl(file, flags)?;
    }
    out.write_all(&bytes[done..])
}

/// Writes `bytes` to the empty file `file`.
#[cfg(not(target_os = "linux"))]
pub fn write_new(file: &File, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    (&mut &*file).write_all(bytes)
}

/// Whether the folder `dir` ignores letter case in file names (as on
/// Windows, macOS and many network shares): a temporary file is created and
/// looked up under its name with the case of every letter swapped.
pub fn ignores_case(dir: &Path) -> io::Result<bool> {
    let probe = create(dir)?;
    let name = probe
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::other("temporary file name is not UTF-8"))?;
    let swapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    match fs::symlink_metadata(dir.join(swapped)) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the temporary zips in `dir` that no running process holds: the
/// leftovers of a killed run. With `min_age`, only those not written to
/// for at least that long (a shard's run: see the README on file systems
/// whose locks other machines do not see). Returns the files removed; one
/// that cannot be removed is left alone. Fails only if `dir` cannot be
/// listed.
pub fn remove_stale(dir: &Path, min_age: Option<std::time::Duration>) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let is_ours = entry.file_name().to_str().is_some_and(is_temp_name)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if !is_ours {
            continue;
        }
        if let Some(min_age) = min_age {
            let idle = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if idle.is_none_or(|idle| idle < min_age) {
                continue;
            }
        }
        let path = entry.path();
        let Ok(file) = File::options().read(true).write(true).open(&path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            // Removed while locked: a run creating it now finds it gone
            // once it holds the lock (see `create`). Another run's clean-up
            // may have removed it first.
            // One that cannot be removed (another user's, in a shared
            // folder) stays: a leftover is no reason to stop this run.
            if fs::remove_file(&path).is_ok() {
                removed.push(path);
            }
        }
        drop(file);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_system_without_locks_is_told_apart_from_a_lock_that_failed() {
        assert!(locks_unsupported(&io::Error::from(
            io::ErrorKind::Unsupported
        )));
        assert!(!locks_unsupported(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        #[cfg(target_os = "linux")]
        {
            use rustix::io::Errno;
            for errno in [Errno::NOSYS, Errno::OPNOTSUPP, Errno::NOLCK] {
                let e = io::Error::from_raw_os_error(errno.raw_os_error());
                assert!(locks_unsupported(&e), "{e}");
            }
            let e = io::Error::from_raw_os_error(Errno::IO.raw_os_error());
            assert!(!locks_unsupported(&e));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_linux_temp_folder_does_not_ignore_case_and_the_probe_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!super::ignores_case(dir.path()).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Direct writes go in whole blocks and the rest through the page cache:
    /// the file must hold exactly the bytes, whatever their length, where
    /// direct writes work (the temp folder here) and on tmpfs.
    #[test]
    fn a_temp_file_created_holding_bytes_holds_exactly_those_bytes() {
        let shm = std::path::Path::new("/dev/shm");
        let mut dirs = vec![tempfile::tempdir().unwrap()];
        if shm.is_dir() {
            dirs.push(tempfile::tempdir_in(shm).unwrap());
        }
        for dir in &dirs {
            for len in [0, 1, 4095, 4096, 4097, 12_345, 300_001] {
                let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8 + 1).collect();
                // From an image (block-aligned) and from any memory (copied).
                let mut image = Image::with_capacity(len);
                io::Write::write_all(&mut image, &bytes).unwrap();
                for from in [image.bytes(), &bytes[..], &bytes[1.min(len)..]] {
                    let temp = create(dir.path()).unwrap();
                    write_new(temp.as_file(), from).unwrap();
                    assert_eq!(temp.as_file().metadata().unwrap().len(), from.len() as u64);
                    assert!(std::fs::read(temp.path()).unwrap() == from, "{len} bytes");
                    let name = temp.path().file_name().unwrap().to_string_lossy();
                    assert!(is_temp_name(&name));
                }
            }
        }
    }

    #[test]
    fn temp_names_are_recognised_and_user_names_are_not() {
        assert!(is_temp_name(".stemzip-a1B2c3D4e5F6.partial"));
        assert!(!is_temp_name("stemzip-a1B2c3D4e5F6.partial"));
        assert!(!is_temp_name(".stemzip-short.partial"));
        assert!(!is_temp_name(".stemzip-a1B2c3D4e5F6.partial.zip"));
        assert!(!is_temp_name("caseA.zip"));
    }

    #[test]
    fn a_held_temp_file_is_not_removed_but_an_abandoned_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let held = create(dir.path()).unwrap();
        // What a killed run leaves: a temporary file nobody holds a lock on.
        let path = dir.path().join(".stemzip-abandoned123.partial");
        assert!(is_temp_name(".stemzip-abandoned123.partial"));
        std::fs::write(&path, b"half a zip").unwrap();
        // A shard's run leaves files written to in the last hour alone.
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(
            remove_stale(dir.path(), Some(hour)).unwrap(),
            Vec::<PathBuf>::new()
        );
        let removed = remove_stale(dir.path(), None).unwrap();
        assert_eq!(removed, vec![path]);
        assert!(held.path().exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_temp_file_removed_before_it_was_locked_is_made_anew() {
        let dir = tempfile::tempdir().unwrap();
        let file = create(dir.path()).unwrap();
        assert!(still_named(&file));
        // What another run's clean-up does in the moment before the lock.
        fs::remove_file(file.path()).unwrap();
        assert!(!still_named(&file));
        fs::write(file.path(), b"someone else's").unwrap();
        assert!(!still_named(&file), "a new file under the name is not ours");
    }
}
