//! Writing one stem's zip: a locked temporary file in the output folder,
//! members streamed in chunks (so a cancel or a timeout lands within one
//! chunk, and memory stays bounded whatever the file sizes), data flushed to
//! disk, then renamed into place. A small zip (at most 256 KiB
//! of members) is built in memory instead and written to its temporary file
//! in one go when it is committed ([`temp::write_new`]).
//!
//! Stored and zstd members are streamed by the stem's own thread. Deflate
//! members are cut into chunks that the compression pool compresses in
//! parallel ([`deflate`]); the stem's reader takes each chunk's memory from
//! the run's [`ChunkBudget`] before reading it, and the stem's thread writes
//! the results in order as raw entries through `rawzip`,
//! with the CRC-32s combined. Under the final name there is only ever a
//! complete archive: every failure path drops the temporary file, which
//! deletes it.

mod budget;
pub mod deflate;

pub use budget::{Buffer, ChunkBudget, ChunkPermit, Spares};

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rawzip::path::{EntryPath, ZipFilePath};
use rawzip::time::UtcDateTime;
use rawzip::{CompressionMethod, DataDescriptorOutput, ZipArchiveWriter};

mod fresh;

pub use fresh::{
    Freshness, checksum_of, checksums, dry_run_verdict, file_checksum, first_changed_member,
    freshness,
};

use crate::cancel::CancelToken;
use crate::plan::{Member, RunSettings, Stem};
use crate::profile::Compression;
use crate::temp;

/// Size of the read buffer for stored and zstd members: the step at which
/// cancel and timeout are checked.
pub const BUFFER_SIZE: usize = 1 << 20;

/// Why a stem's zip was not written.
#[derive(Debug, thiserror::Error)]
pub enum StemError {
    /// A member could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The member.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The zip could not be written (full disk, no permission, …).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The zip (or its temporary file).
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The zip writer refused an entry.
    #[error("cannot add {name} to {}: {message}", zip.display())]
    Entry {
        /// The zip.
        zip: PathBuf,
        /// The entry name.
        name: String,
        /// What the zip writer said.
        message: String,
    },
    /// A member changed while it was read; archiving it would store a torn copy.
    #[error("{} changed while it was being read ({what}); it was not archived, run again when it is stable", path.display())]
    Changed {
        /// The member.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// A member's name is not valid UTF-8.
    #[error("file name {} is not valid UTF-8 and cannot be stored as a zip entry name; rename it", path.display())]
    NameNotUtf8 {
        /// The member.
        path: PathBuf,
    },
    /// A member's name holds `:` or `\\` and letters outside ASCII: it
    /// cannot be stored exactly (see [`entry_path`]).
    #[error(
        "file name {} holds ':' or '\\' together with letters outside ASCII, and cannot be stored \
         exactly as a zip entry name; rename it",
        path.display()
    )]
    NameNotStorable {
        /// The member.
        path: PathBuf,
    },
    /// `archive.verify` found a bad entry when reading the zip back.
    #[error("verification of {} failed: {message}", zip.display())]
    Verify {
        /// The zip.
        zip: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The zip's name cannot be used on Windows (checked on Windows only;
    /// elsewhere the plan warns).
    #[error("cannot write {}: {reason}; rename the stem", zip.display())]
    WindowsName {
        /// The zip.
        zip: PathBuf,
        /// Why the name cannot be used.
        reason: String,
    },
    /// Another program holds the zip open without delete sharing (or the
    /// zip is read-only), so it cannot be replaced; the older zip stays as
    /// it was. Windows says "access denied" for both.
    #[error(
        "cannot replace {}: another program has it open (Explorer's preview pane, 7-Zip, a virus scanner?) \
         or it is read-only; the old zip is intact; close it (or make it writable) and run the stem again",
        zip.display()
    )]
    InUse {
        /// The zip.
        zip: PathBuf,
    },
    /// Replacing the zip would drop entries whose files are gone: the zip
    /// is their only copy.
    #[error(
        "{} holds {} whose file is gone (moved by an earlier run, or deleted), and the new zip \
         would not: it is kept as it is. Put the file back to zip it again, or set \
         archive.drop_missing_entries: true to replace the zip without it (update mode keeps \
         such a zip only while every other file in it is unchanged)",
        zip.display(), names.join(", ")
    )]
    WouldDrop {
        /// The zip.
        zip: PathBuf,
        /// The entries that would be lost (the first few).
        names: Vec<String>,
    },
    /// An existing zip that cannot be read to tell what it holds: it may
    /// be the only copy of files an earlier run moved into it.
    #[error(
        "{} cannot be read to tell what it holds ({why}): it is kept as it is, since it may be \
         the only copy of files an earlier run moved into it. Set \
         archive.drop_missing_entries: true to replace it anyway",
        zip.display()
    )]
    CannotTell {
        /// The zip.
        zip: PathBuf,
        /// What the system said.
        why: String,
    },
    /// The zip exists and `default.config.overwrite.output` is false.
    #[error("{} exists and overwrite is off", zip.display())]
    Exists {
        /// The existing zip.
        zip: PathBuf,
    },
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The stem took longer than `parallel_processing.timeout_per_file`.
    #[error("timed out")]
    TimedOut,
}

/// What writing a zip produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The finished zip.
    pub zip: PathBuf,
    /// Bytes read from members.
    pub bytes_in: u64,
    /// Size of the zip.
    pub bytes_out: u64,
    /// Whether the zip's name is on disk by the rename itself (Windows:
    /// a write-through rename), without a folder flush.
    pub name_durable: bool,
}

/// Bytes of deflate chunks a run holds in flight at most, across all its
/// stems, whatever the worker count: each chunk counts its input and room
/// for its output.
pub const CHUNK_BUDGET: usize = 32 << 20;
/// What one chunk in flight counts against [`CHUNK_BUDGET`]: its input, and
/// its output (at most about half the input for the data stemzip meets;
/// more is allocated when needed).
pub const CHUNK_COST: usize = deflate::CHUNK_SIZE + deflate::CHUNK_SIZE / 2;

/// What a run compresses deflate chunks with: one pool of worker threads,
/// and one memory budget for the chunks in flight, shared by every stem.
#[derive(Debug)]
pub struct Compressor {
    /// The threads that compress chunks.
    pub pool: rayon::ThreadPool,
    /// The memory the chunks in flight may hold.
    pub budget: ChunkBudget,
}

impl Compressor {
    /// A pool of `threads` compression threads and the run's budget.
    pub fn new(threads: usize) -> Result<Compressor, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("stemzip-compress-{i}"))
            .build()?;
        Ok(Compressor {
            pool,
            budget: ChunkBudget::new(CHUNK_BUDGET, CHUNK_COST),
        })
    }
}

/// When a stem must stop: the run's cancel token and the stem's deadline.
#[derive(Debug, Clone)]
pub struct Control {
    /// Cancels the whole run.
    pub cancel: CancelToken,
    /// The stem's deadline, if it has a timeout.
    pub deadline: Option<Instant>,
}

impl Control {
    /// `Err` when the stem must stop now.
    pub fn check(&self) -> Result<(), StemError> {
        if self.cancel.is_cancelled() {
            Err(StemError::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Err(StemError::TimedOut)
        } else {
            Ok(())
        }
    }
}

/// The archive being written.
type Archive = ZipArchiveWriter<Sink>;

/// A zip of at most this many bytes (as estimated from its members) is
/// built in memory and written out whole when committed
/// ([`temp::write_new`]); a larger one streams through a temporary
/// file, and so does one that outgrows this while it is built (a member
/// that grew since planning). Memory in flight stays small: only the zips
/// waiting for or in a commit, and those being built, are held.
const IN_MEMORY: usize = 256 * 1024;

/// Where a zip is written while it is built.
struct Sink {
    /// The output folder, where a temporary file is created when needed.
    folder: Arc<Folder>,
    to: To,
}

enum To {
    /// A temporary file in the output folder, through a buffer.
    File(BufWriter<tempfile::NamedTempFile>),
    /// Memory, for a small zip.
    Memory(temp::Image),
}

impl Sink {
    /// Moves a zip built in memory to a temporary file.
    fn spill(&mut self) -> io::Result<()> {
        if let To::Memory(image) = &self.to {
            let mut file = BufWriter::with_capacity(BUFFER_SIZE, self.folder.create_temp()?);
            file.write_all(image.bytes())?;
            self.to = To::File(file);
        }
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let To::Memory(image) = &self.to
            && image.bytes().len().saturating_add(buf.len()) > IN_MEMORY
        {
            self.spill()?;
        }
        match &mut self.to {
            To::File(file) => file.write(buf),
            To::Memory(image) => image.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.to {
            To::File(file) => file.flush(),
            To::Memory(_) => Ok(()),
        }
    }
}

/// A finished zip that is not under its final name yet.
#[derive(Debug)]
enum Built {
    /// Written to this temporary file.
    File(tempfile::NamedTempFile),
    /// In memory, to be written when committed.
    Memory(temp::Image),
}

fn modified_utc(t: SystemTime) -> UtcDateTime {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    UtcDateTime::from_unix(secs)
}

fn method(compression: Compression) -> CompressionMethod {
    match compression {
        Compression::Stored => CompressionMethod::STORE,
        Compression::Deflate => CompressionMethod::DEFLATE,
        Compression::Zstd => CompressionMethod::ZSTD,
    }
}

/// Maps a `rawzip` error: I/O errors are write errors naming the zip.
fn archive_error(zip: &Path, name: &str, e: rawzip::Error) -> StemError {
    match e.into_kind() {
        rawzip::ErrorKind::IO(source) => StemError::Write {
            path: zip.to_owned(),
            source,
        },
        other => StemError::Entry {
            zip: zip.to_owned(),
            name: name.to_owned(),
            message: rawzip::Error::from(other).to_string(),
        },
    }
}

/// An open member and what it looked like when opened.
struct Source<'a> {
    member: &'a Member,
    file: File,
    size: u64,
    modified: Option<SystemTime>,
    read: u64,
    /// A read returned 0: the end of the file was seen.
    at_end: bool,
}

impl<'a> Source<'a> {
    fn open(member: &'a Member) -> Result<Self, StemError> {
        let file = File::open(&member.path).map_err(|e| read_error(member, e))?;
        let meta = file.metadata().map_err(|e| read_error(member, e))?;
        Ok(Source {
            member,
            file,
            size: meta.len(),
            modified: meta.modified().ok(),
            read: 0,
            at_end: false,
        })
    }

    /// Fills `buf` as far as the file goes; returns the bytes read, 0 at
    /// the end (without asking the file again once its end was seen).
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, StemError> {
        let mut filled = 0;
        while filled < buf.len() && !self.at_end {
            match self.file.read(&mut buf[filled..]) {
                Ok(0) => self.at_end = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(read_error(self.member, e)),
            }
        }
        self.read += filled as u64;
        Ok(filled)
    }

    /// Fails when the file changed while it was read: its size or time is
    /// not what it was when opened, or it held more or fewer bytes than its
    /// size said (the end is checked by reading, not only by the size, so a
    /// file whose size understates its content is not cut short).
    fn check_unchanged(&mut self) -> Result<(), StemError> {
        if !self.at_end {
            let mut probe = [0u8; 1];
            self.fill(&mut probe)?;
        }
        let meta = self
            .file
            .metadata()
            .map_err(|e| read_error(self.member, e))?;
        let what = if meta.len() != self.size || self.read != self.size {
            Some(format!(
                "size was {} bytes when opened, {}{} bytes read, {} bytes now",
                self.size,
                if self.at_end { "" } else { "more than " },
                self.read,
                meta.len()
            ))
        } else if meta.modified().ok() != self.modified {
            Some("modification time changed".to_owned())
        } else {
            None
        };
        match what {
            Some(what) => Err(StemError::Changed {
                path: self.member.path.clone(),
                what,
            }),
            None => Ok(()),
        }
    }

    fn modified_utc(&self) -> UtcDateTime {
        modified_utc(self.modified.unwrap_or(self.member.modified))
    }
}

fn read_error(member: &Member, source: io::Error) -> StemError {
    StemError::Read {
        path: member.path.clone(),
        source,
    }
}

/// Writes `stem`'s zip into a temporary file in `folder`, or into memory
/// for a small zip, ready to [`Prepared::place`]. Deflate chunks are
/// compressed on `compressor`'s pool; `progress` is called with the number
/// of member bytes read since its last call.
pub fn write_stem(
    stem: &Stem,
    folder: &Arc<Folder>,
    settings: &RunSettings,
    control: &Control,
    compressor: &Compressor,
    progress: &mut dyn FnMut(u64),
) -> Result<Prepared, StemError> {
    let final_path = stem.zip_path(folder.path());
    refuse_to_start(stem, &final_path, settings)?;
    control.check()?;
    let sink = Sink {
        folder: Arc::clone(folder),
        to: start_sink(stem, folder, settings)?,
    };
    let mut archive: Archive = ZipArchiveWriter::new(sink);
    let out = Output {
        zip: &final_path,
        control,
        spares: compressor.budget.spares(),
    };
    let bytes_in = add_members(&mut archive, stem, settings, &out, compressor, progress)?;
    let sink = archive
        .finish()
        .map_err(|e| archive_error(&final_path, "", e))?;
    let (built, bytes_out) = match sink.to {
        To::Memory(image) => {
            let len = image.bytes().len() as u64;
            (Built::Memory(image), len)
        }
        To::File(file) => finish_file(file, stem, settings, control, &final_path)?,
    };
    control.check()?;
    Ok(Prepared {
        built,
        zip: final_path,
        overwrite: settings.overwrite,
        bytes_in,
        bytes_out,
    })
}

/// Why `stem`'s zip must not be written at all, if it must not: a name
/// Windows refuses, a zip that exists with overwrite off, a member name
/// that is not UTF-8.
fn refuse_to_start(
    stem: &Stem,
    final_path: &Path,
    settings: &RunSettings,
) -> Result<(), StemError> {
    if cfg!(windows)
        && let Some(reason) = crate::plan::windows_name_problem(&format!("{}.zip", stem.name))
    {
        // Never create such a file, whatever form the path takes.
        return Err(StemError::WindowsName {
            zip: final_path.to_owned(),
            reason,
        });
    }
    if !settings.overwrite && final_path.exists() {
        return Err(StemError::Exists {
            zip: final_path.to_owned(),
        });
    }
    if !settings.drop_missing_entries {
        let names =
            fresh::entries_only_in_zip(final_path, stem).map_err(|why| StemError::CannotTell {
                zip: final_path.to_owned(),
                why,
            })?;
        if !names.is_empty() {
            return Err(StemError::WouldDrop {
                zip: final_path.to_owned(),
                names,
            });
        }
    }
    if let Some(bad) = stem.members.iter().find(|m| !m.utf8_name) {
        return Err(StemError::NameNotUtf8 {
            path: bad.path.clone(),
        });
    }
    if let Some(bad) = stem
        .members
        .iter()
        .find(|m| !m.name.is_ascii() && !is_conformant(&m.name))
    {
        return Err(StemError::NameNotStorable {
            path: bad.path.clone(),
        });
    }
    Ok(())
}

/// Whether rawzip writes `name` as it is when asked for a conformant
/// path. It does not when the name holds `:` (all up to the last one is
/// dropped, as a drive letter) or `\\` (made a `/`); on Linux a file name
/// may hold either (`caseA_12:00.csv`).
fn is_conformant(name: &str) -> bool {
    ZipFilePath::from_str(name).as_str() == name
}

/// The entry name for member `name`: exactly the file's name, as the
/// Python original stores it. A conformant path (with the UTF-8 flag when
/// the name needs it) wherever that is the same; otherwise the name's own
/// bytes, which [`refuse_to_start`] allows only for ASCII names, as
/// rawzip writes no UTF-8 flag for them.
fn entry_path(name: &str) -> EntryPath<'_> {
    if is_conformant(name) {
        EntryPath::conformant(name)
    } else {
        EntryPath::verbatim(name.as_bytes())
    }
}

/// A write buffer for members of at most `bytes` bytes: small stems need
/// no 1 MiB buffers, and many of them are the common case.
fn buffer_for(bytes: u64) -> usize {
    usize::try_from(bytes.saturating_add(64 * 1024))
        .map_or(BUFFER_SIZE, |b| b.clamp(4096, BUFFER_SIZE))
}

/// Where `stem`'s zip is built: memory for a small zip (unless it is to be
/// read back from disk), else a temporary file in `folder`.
fn start_sink(stem: &Stem, folder: &Folder, settings: &RunSettings) -> Result<To, StemError> {
    // Members, plus each entry's two headers (local and central, with the
    // name in both) and the end record; more only if deflate grows.
    let headers: u64 = stem
        .members
        .iter()
        .map(|m| 2 * m.name.len() as u64 + 128)
        .sum();
    let estimate = stem.total_size().saturating_add(headers + 128);
    match usize::try_from(estimate) {
        Ok(estimate) if estimate <= IN_MEMORY && !settings.verify => {
            Ok(To::Memory(temp::Image::with_capacity(estimate)))
        }
        _ => {
            let temp = folder.create_temp().map_err(|source| StemError::Write {
                path: folder.path().to_owned(),
                source,
            })?;
            Ok(To::File(BufWriter::with_capacity(
                buffer_for(stem.total_size()),
                temp,
            )))
        }
    }
}

/// Adds every member of `stem` to `archive` with the run's compression;
/// returns the member bytes read.
fn add_members(
    archive: &mut Archive,
    stem: &Stem,
    settings: &RunSettings,
    out: &Output<'_>,
    compressor: &Compressor,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, StemError> {
    match (settings.compression, settings.level) {
        (Compression::Deflate, level) => {
            let level = level.and_then(|l| u32::try_from(l).ok()).unwrap_or(6);
            let level = deflate::backend_level(level);
            add_deflated(archive, &stem.members, level, out, compressor, progress)
        }
        (compression, level) => {
            let largest = stem.members.iter().map(|m| m.size).max().unwrap_or(0);
            let mut buffer = vec![0u8; buffer_for(largest)];
            let mut total = 0;
            for member in &stem.members {
                total += add_streamed(
                    archive,
                    member,
                    compression,
                    level,
                    out,
                    &mut buffer,
                    progress,
                )?;
            }
            Ok(total)
        }
    }
}

/// Ends a zip written to a temporary file: its buffer written out, its
/// size taken, and (with `verify`) the whole zip read back and checked.
fn finish_file(
    file: BufWriter<tempfile::NamedTempFile>,
    stem: &Stem,
    settings: &RunSettings,
    control: &Control,
    final_path: &Path,
) -> Result<(Built, u64), StemError> {
    let temp = file.into_inner().map_err(|e| {
        let (source, file) = e.into_parts();
        StemError::Write {
            path: file.get_ref().path().to_owned(),
            source,
        }
    })?;
    let bytes_out = temp
        .as_file()
        .metadata()
        .map_err(|source| StemError::Write {
            path: temp.path().to_owned(),
            source,
        })?
        .len();
    if settings.verify {
        read_back(&temp, stem, control).map_err(|e| match e {
            VerifyError::Stop(e) => e,
            VerifyError::Bad(message) => StemError::Verify {
                zip: final_path.to_owned(),
                message,
            },
        })?;
    }
    Ok((Built::File(temp), bytes_out))
}

/// A complete zip, in its temporary file or in memory, waiting to be committed.
#[derive(Debug)]
pub struct Prepared {
    built: Built,
    zip: PathBuf,
    overwrite: bool,
    bytes_in: u64,
    bytes_out: u64,
}

impl Prepared {
    /// Makes the zip durable and puts it in place: its data is flushed to
    /// disk, then it is renamed to its final name (replacing an older zip
    /// only when overwrite is on). The new name is durable once the folder
    /// is flushed after this returns ([`Folder::flush`]); one flush covers
    /// every zip placed before it, so the engine places many zips at once
    /// (the file system then flushes them together) and flushes the folder
    /// for all those that were placed meanwhile.
    pub fn place(self, folder: &Folder) -> Result<Written, StemError> {
        let Prepared {
            built,
            zip,
            overwrite,
            bytes_in,
            bytes_out,
        } = self;
        let temp = match built {
            Built::File(temp) => temp,
            Built::Memory(image) => {
                let temp = folder.create_temp().map_err(|source| StemError::Write {
                    path: zip.clone(),
                    source,
                })?;
                temp::write_new(temp.as_file(), image.bytes()).map_err(|source| {
                    StemError::Write {
                        path: temp.path().to_owned(),
                        source,
                    }
                })?;
                temp
            }
        };
        temp.as_file()
            .sync_all()
            .map_err(|source| StemError::Write {
                path: temp.path().to_owned(),
                source,
            })?;
        // Another program may hold the old zip open for a moment (a virus
        // scanner, Explorer's preview): try again for a while before failing.
        let mut pending = Some(temp);
        let persisted = with_patience(RENAME_PATIENCE, in_use, || {
            let Some(temp) = pending.take() else {
                return Err(io::Error::other("the temporary file is gone"));
            };
            let result = folder.change(|| rename(temp, &zip, overwrite));
            result.map_err(|e| {
                pending = Some(e.file);
                e.error
            })
        });
        let name_durable = match persisted {
            Ok(durable) => durable,
            Err(error) => return Err(rename_error(zip, error)),
        };
        Ok(Written {
            zip,
            bytes_in,
            bytes_out,
            name_durable,
        })
    }
}

/// Renames the temporary zip `temp` to `zip` (replacing an older zip only
/// when `overwrite`). On Windows, which has no folder flush, the rename is
/// write-through (`MOVEFILE_WRITE_THROUGH`): the new name is on disk when
/// it returns; a share that refuses that gets an ordinary rename. Returns
/// whether the name is durable by the rename itself.
fn rename(
    temp: tempfile::NamedTempFile,
    zip: &Path,
    overwrite: bool,
) -> Result<bool, tempfile::PersistError> {
    #[cfg(windows)]
    let temp = {
        // Kept first: that clears the temporary-file attribute (with which
        // Windows may hold the data in its cache) and the deletion on drop.
        let (file, path) = temp.keep()?;
        let moved = if overwrite {
            atomicwrites::replace_atomic(&path, zip)
        } else {
            atomicwrites::move_atomic(&path, zip)
        };
        // The path tempfile itself held (deprecated only because a relative
        // path could change meaning with the current folder; this run does
        // not change folders).
        #[allow(deprecated)]
        let temp = tempfile::NamedTempFile::from_parts(file, tempfile::TempPath::from_path(path));
        match moved {
            Ok(()) => {
                // The temporary name is gone: nothing is left to delete.
                let _ = temp.into_temp_path().keep();
                return Ok(true);
            }
            // Refused (some network shares): an ordinary rename below.
            Err(e) if matches!(e.raw_os_error(), Some(1 | 50 | 87)) => temp,
            Err(error) => return Err(tempfile::PersistError { error, file: temp }),
        }
    };
    let renamed = if overwrite {
        temp.persist(zip)
    } else {
        temp.persist_noclobber(zip)
    };
    renamed.map(|_| false)
}

/// The stem's error for a rename that failed.
fn rename_error(zip: PathBuf, error: io::Error) -> StemError {
    if error.kind() == io::ErrorKind::AlreadyExists {
        StemError::Exists { zip }
    } else if in_use(&error) {
        StemError::InUse { zip }
    } else {
        StemError::Write {
            path: zip,
            source: error,
        }
    }
}

/// How long a rename keeps trying while another program has the zip open.
const RENAME_PATIENCE: Duration = Duration::from_secs(5);

/// Whether an error means another program has the file open without
/// sharing it (Windows: access denied, sharing or lock violation).
fn in_use(error: &io::Error) -> bool {
    cfg!(windows) && matches!(error.raw_os_error(), Some(5 | 32 | 33))
}

/// Runs `attempt` until it succeeds, fails with an error `busy` does not
/// accept, or `patience` runs out, waiting 10 ms, 20 ms, … (at most 500 ms)
/// between tries. Returns the last result.
fn with_patience<T>(
    patience: Duration,
    busy: impl Fn(&io::Error) -> bool,
    mut attempt: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let deadline = std::time::Instant::now() + patience;
    let mut pause = Duration::from_millis(10);
    loop {
        match attempt() {
            Err(e) if busy(&e) && std::time::Instant::now() + pause <= deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            result => return result,
        }
    }
}

/// Where entries go, when to stop, and where written chunks' buffers go.
struct Output<'a> {
    zip: &'a Path,
    control: &'a Control,
    spares: &'a Spares,
}

/// Streams one member (stored or zstd) into the archive on this thread;
/// returns the bytes read.
fn add_streamed(
    archive: &mut Archive,
    member: &Member,
    compression: Compression,
    level: Option<i64>,
    out: &Output<'_>,
    buffer: &mut [u8],
    progress: &mut dyn FnMut(u64),
) -> Result<u64, StemError> {
    let mut source = Source::open(member)?;
    let entry_err = |e| archive_error(out.zip, &member.name, e);
    let write_err = |source| StemError::Write {
        path: out.zip.to_owned(),
        source,
    };
    let (mut entry, _) = archive
        .new_file(entry_path(&member.name))
        .compression_method(method(compression))
        .last_modified(source.modified_utc())
        .unix_permissions(0o644)
        .start()
        .map_err(entry_err)?;
    let mut crc = crc32fast::Hasher::new();
    let mut pump = |sink: &mut dyn Write| -> Result<(), StemError> {
        loop {
            out.control.check()?;
            let n = source.fill(buffer)?;
            if n == 0 {
                return Ok(());
            }
            crc.update(&buffer[..n]);
            sink.write_all(&buffer[..n]).map_err(write_err)?;
            progress(n as u64);
        }
    };
    if compression == Compression::Zstd {
        let level = level.and_then(|l| i32::try_from(l).ok()).unwrap_or(3);
        let mut encoder =
            zstd::stream::write::Encoder::new(&mut entry, level).map_err(write_err)?;
        pump(&mut encoder)?;
        encoder.finish().map_err(write_err)?;
    } else {
        pump(&mut entry)?;
    }
    source.check_unchanged()?;
    entry
        .finish(DataDescriptorOutput::new(crc.finalize(), source.read))
        .map_err(entry_err)?;
    Ok(source.read)
}

/// A chunk on its way through the compression pool, in member order. Its
/// permit goes back to the run's budget when the writer drops it.
struct Pending<'a> {
    member: usize,
    last: bool,
    len: usize,
    modified: UtcDateTime,
    result: mpsc::Receiver<Result<deflate::Compressed, String>>,
    _permit: ChunkPermit<'a>,
}

/// Deflates `members` in order: a reader thread cuts them into chunks and
/// hands each to the compressor's pool, each chunk taking its size from the
/// run's budget first; this thread writes the compressed chunks in order as
/// raw deflate entries, giving each chunk's size back once written. Returns
/// the bytes read.
fn add_deflated(
    archive: &mut Archive,
    members: &[Member],
    level: u32,
    out: &Output<'_>,
    compressor: &Compressor,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, StemError> {
    // Enough chunks queued to keep every pool thread busy while the two
    // threads here read and write; the budget bounds the run's total.
    let window = 2 * compressor.pool.current_num_threads();
    let (tx, rx) = mpsc::sync_channel::<Result<Pending<'_>, StemError>>(window);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Err(e) = read_chunks(members, level, out.control, compressor, &tx) {
                // The writer may be gone already; then it has its own error.
                let _ = tx.send(Err(e));
            }
        });
        // Owned here, so it is dropped (unblocking the reader) when the
        // writer stops, before the scope waits for the reader.
        let rx = rx;
        write_chunks(archive, members, out, &rx, progress)
    })
}

/// Reads every member in chunks and sends each to the pool (reader thread).
fn read_chunks<'a>(
    members: &[Member],
    level: u32,
    control: &Control,
    compressor: &'a Compressor,
    tx: &mpsc::SyncSender<Result<Pending<'a>, StemError>>,
) -> Result<(), StemError> {
    for (index, member) in members.iter().enumerate() {
        let mut source = Source::open(member)?;
        let modified = source.modified_utc();
        let mut dictionary: Vec<u8> = Vec::new();
        loop {
            control.check()?;
            let permit = compressor.budget.take(CHUNK_COST, control)?;
            let spares = compressor.budget.spares().clone();
            // Read into a whole reused buffer; the chunk is its first `n` bytes.
            let mut chunk = spares.get_filled(deflate::CHUNK_SIZE);
            let n = source.fill(&mut chunk)?;
            let last = n < deflate::CHUNK_SIZE || source.read >= source.size;
            if last {
                source.check_unchanged()?;
            }
            let next_dictionary = deflate::dictionary_after(&chunk[..n]).to_vec();
            let (done, result) = mpsc::channel();
            let primer = std::mem::replace(&mut dictionary, next_dictionary);
            let stop = control.clone();
            compressor.pool.spawn_fifo(move || {
                // A stem that stopped (cancel, timeout) drops its queued chunks.
                let compressed = match stop.check() {
                    Err(e) => Err(e.to_string()),
                    Ok(()) => {
                        let out = spares.get(Buffer::Output, n / 2 + 4096);
                        deflate::compress_chunk_into(&chunk[..n], &primer, level, last, out)
                            .map_err(|e| format!("deflate failed: {e}"))
                    }
                };
                spares.put(Buffer::Input, chunk);
                let _ = done.send(compressed);
            });
            let pending = Pending {
                member: index,
                last,
                len: n,
                modified,
                result,
                _permit: permit,
            };
            if tx.send(Ok(pending)).is_err() {
                return Ok(()); // the writer stopped; it reports why
            }
            if last {
                break;
            }
        }
    }
    Ok(())
}

/// Writes the compressed chunks, in order, as one raw entry per member.
fn write_chunks(
    archive: &mut Archive,
    members: &[Member],
    out: &Output<'_>,
    rx: &mpsc::Receiver<Result<Pending<'_>, StemError>>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, StemError> {
    let next = || -> Result<Option<Pending<'_>>, StemError> {
        match rx.recv() {
            Ok(item) => item.map(Some),
            Err(_) => Ok(None),
        }
    };
    let mut total = 0;
    while let Some(mut item) = next()? {
        let name = members[item.member].name.as_str();
        let entry_err = |e| archive_error(out.zip, name, e);
        let write_err = |source| StemError::Write {
            path: out.zip.to_owned(),
            source,
        };
        let (mut entry, _) = archive
            .new_file(entry_path(name))
            .compression_method(CompressionMethod::DEFLATE)
            .last_modified(item.modified)
            .unix_permissions(0o644)
            .start()
            .map_err(entry_err)?;
        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        loop {
            out.control.check()?;
            let chunk = match item.result.recv() {
                Ok(Ok(chunk)) => chunk,
                failed => {
                    // A chunk dropped because the stem stopped: report the stop.
                    out.control.check()?;
                    return Err(StemError::Entry {
                        zip: out.zip.to_owned(),
                        name: name.to_owned(),
                        message: match failed {
                            Ok(Err(message)) => message,
                            _ => "the compression thread stopped".to_owned(),
                        },
                    });
                }
            };
            entry.write_all(&chunk.data).map_err(write_err)?;
            out.spares.put(Buffer::Output, chunk.data);
            crc.combine(&chunk.crc);
            size += item.len as u64;
            progress(item.len as u64);
            if item.last {
                break;
            }
            // The chunk's memory goes back to the budget now, not once the
            // next chunk arrives: a writer that held it while waiting for a
            // chunk not yet read would hold room its reader waits for, and
            // with more stems than the budget has chunks every stem stopped.
            drop(item);
            item = next()?.ok_or_else(|| StemError::Entry {
                zip: out.zip.to_owned(),
                name: name.to_owned(),
                message: "internal error: the member's chunks stopped".to_owned(),
            })?;
        }
        entry
            .finish(DataDescriptorOutput::new(crc.finalize(), size))
            .map_err(entry_err)?;
        total += size;
    }
    Ok(total)
}

enum VerifyError {
    Stop(StemError),
    Bad(String),
}

/// What reading a zip back found: its entries and their total size.
#[derive(Debug, Clone, PartialEq)]
pub struct ZipCheck {
    /// Entry names, in archive order.
    pub names: Vec<String>,
    /// Uncompressed bytes read and checked.
    pub bytes: u64,
}

/// Reads every entry of the zip in `file` to its end, which checks its
/// CRC-32 and size; stops early when `control` says so.
fn check_entries(
    file: impl Read + Seek,
    control: Option<&Control>,
    buffer: &mut [u8],
) -> Result<ZipCheck, VerifyError> {
    let bad = |m: String| VerifyError::Bad(m);
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut check = ZipCheck {
        names: Vec::with_capacity(archive.len()),
        bytes: 0,
    };
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().map_err(|e| bad(e.to_string()))?.into_owned();
        let mut total = 0u64;
        loop {
            if let Some(control) = control {
                control.check().map_err(VerifyError::Stop)?;
            }
            match entry.read(buffer) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(bad(format!("{name}: {e}"))),
            }
        }
        if total != entry.size() {
            return Err(bad(format!(
                "{name}: {total} bytes read back, {} expected",
                entry.size()
            )));
        }
        check.bytes += total;
        check.names.push(name);
    }
    Ok(check)
}

/// Reads a written temporary zip back (`archive.verify`) through the handle
/// that holds the run's lock on it: Windows refuses reads through a second
/// handle of a locked file.
fn read_back(
    temp: &tempfile::NamedTempFile,
    stem: &Stem,
    control: &Control,
) -> Result<(), VerifyError> {
    let mut buffer = vec![0u8; BUFFER_SIZE];
    verify(temp.as_file(), stem, control, &mut buffer)
}

/// Reads the written zip back: the entries must be exactly the members, in
/// order, and every entry's data must match its CRC-32.
fn verify(
    file: &File,
    stem: &Stem,
    control: &Control,
    buffer: &mut [u8],
) -> Result<(), VerifyError> {
    let check = check_entries(file, Some(control), buffer)?;
    let expected: Vec<&str> = stem.members.iter().map(|m| m.name.as_str()).collect();
    if check.names != expected {
        return Err(VerifyError::Bad(format!(
            "entries are {:?}, expected {:?}",
            check.names, expected
        )));
    }
    Ok(())
}

/// Tests an existing zip: every entry is read to its end and its CRC-32 and
/// size checked. The error says what is wrong.
pub fn verify_zip(path: &Path) -> Result<ZipCheck, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut buffer = vec![0u8; BUFFER_SIZE];
    check_entries(&file, None, &mut buffer).map_err(|e| match e {
        VerifyError::Bad(message) => message,
        VerifyError::Stop(e) => e.to_string(),
    })
}

/// Creates `dir` and the folders above it that are missing, and flushes
/// each new folder's entry in its parent to disk (best effort, as for
/// [`Folder::flush`]), so that a crash cannot lose a folder of durable zips.
pub fn create_folder(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.is_dir())
        .collect();
    std::fs::create_dir_all(dir)?;
    for created in missing {
        let parent = created
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let _ = Folder::open(parent).flush();
    }
    Ok(())
}

/// The output folder of a run: where its temporary zips are created and
/// renamed, one change at a time, and whose entries are flushed to disk
/// after renames (on Unix; elsewhere a folder cannot be opened as a file
/// and [`Folder::flush`] does nothing).
///
/// Creating or renaming a file takes the folder's lock in the kernel. When
/// many threads do it at once, those waiting spin on the processor while
/// the holder works, and on ext4 right after many deletions each creation
/// is slow (it skips recently deleted inodes), so the spinning cost more
/// processor time than the work: the run's threads take turns here
/// instead, waiting asleep (measured in BENCHMARKS.md).
#[derive(Debug)]
pub struct Folder {
    path: PathBuf,
    file: Option<File>,
    entries: Mutex<()>,
}

impl Folder {
    /// Opens `dir` for flushing; a folder that cannot be opened is not
    /// flushed (best effort: the zips' own data is flushed regardless).
    pub fn open(dir: &Path) -> Folder {
        Folder {
            path: dir.to_owned(),
            file: if cfg!(unix) {
                File::open(dir).ok()
            } else {
                None
            },
            entries: Mutex::new(()),
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `change` (a file created in the folder or renamed into it)
    /// while no other thread of the run changes the folder's entries.
    pub fn change<T>(&self, change: impl FnOnce() -> T) -> T {
        let _one_at_a_time = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        change()
    }

    /// Creates a locked temporary zip file in the folder
    /// ([`temp::create`]).
    pub fn create_temp(&self) -> io::Result<tempfile::NamedTempFile> {
        self.change(|| temp::create(&self.path))
    }

    /// Flushes the folder's entries: every rename made before the call is
    /// on disk when it returns. Best effort: some file systems refuse to
    /// flush a folder, and the zips' own data is on disk already.
    ///
    /// The error says why the folder's entries are not known to be on
    /// disk: Windows has no folder flush, and some network file systems
    /// refuse one.
    pub fn flush(&self) -> Result<(), String> {
        if !cfg!(unix) {
            return Err("this system has no folder flush (Windows)".to_owned());
        }
        match &self.file {
            Some(file) => file
                .sync_all()
                .map_err(|e| format!("the folder could not be flushed: {e}")),
            None => Err("the folder could not be opened to flush it".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_blocked_by_another_program_is_retried_then_given_up() {
        let busy = |e: &io::Error| e.kind() == io::ErrorKind::ResourceBusy;
        // Busy three times, then free: the fourth try succeeds.
        let mut tries = 0;
        let result = with_patience(Duration::from_secs(5), busy, || {
            tries += 1;
            if tries < 4 {
                Err(io::Error::from(io::ErrorKind::ResourceBusy))
            } else {
                Ok(tries)
            }
        });
        assert_eq!(result.unwrap(), 4);
        // Busy for good: it gives up within its patience, with that error.
        let started = std::time::Instant::now();
        let mut tries = 0;
        let result: io::Result<()> = with_patience(Duration::from_millis(300), busy, || {
            tries += 1;
            Err(io::Error::from(io::ErrorKind::ResourceBusy))
        });
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::ResourceBusy);
        assert!(
            tries > 2 && started.elapsed() < Duration::from_secs(1),
            "{tries}"
        );
        // Another error is not retried.
        let mut tries = 0;
        let result: io::Result<()> = with_patience(Duration::from_secs(5), busy, || {
            tries += 1;
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        });
        assert!(result.is_err());
        assert_eq!(tries, 1);
    }

    /// Windows refuses reads through a second handle of a file the run has
    /// locked, so the read-back must use the locked handle itself. Here the
    /// file's name is removed first: a reopen by path fails, the held
    /// handle still reads.
    #[test]
    fn verify_reads_back_through_the_handle_that_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let temp = temp::create(dir.path()).unwrap();
        {
            let mut writer = zip::ZipWriter::new(temp.as_file());
            writer
                .start_file("a_1.csv", zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(b"1,2,3\n").unwrap();
            writer.finish().unwrap();
        }
        let stem = crate::plan::Stem {
            name: "a".to_owned(),
            sources: Vec::new(),
            members: vec![crate::plan::Member {
                name: "a_1.csv".to_owned(),
                path: dir.path().join("a_1.csv"),
                size: 6,
                modified: std::time::SystemTime::UNIX_EPOCH,
                utf8_name: true,
            }],
            same_zip_as: None,
        };
        #[cfg(unix)]
        {
            std::fs::remove_file(temp.path()).unwrap();
            assert!(temp.reopen().is_err(), "a reopen by path still works");
        }
        let control = Control {
            cancel: CancelToken::new(),
            deadline: None,
        };
        assert!(read_back(&temp, &stem, &control).is_ok());
    }
}
