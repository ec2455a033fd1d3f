//! Writing one stem's zip: a locked temporary file in the output folder,
//! entries streamed in buffer-sized steps (so a cancel or a timeout lands
//! within one buffer), data flushed to disk, then renamed into place.
//!
//! Under the final name there is only ever a complete archive: every failure
//! path drops the temporary file, which deletes it.

pub mod temp;

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{Datelike, Local, Timelike};
use zip::CompressionMethod;
use zip::write::{FileOptions, FullFileOptions};

use crate::engine::CancelToken;
use crate::plan::{Member, RunSettings, Stem};
use crate::profile::Compression;

/// Size of the read buffer: the most one member read holds in memory, and
/// the step at which cancel and timeout are checked.
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
    /// The zip library refused an entry.
    #[error("cannot add {name} to {}: {source}", zip.display())]
    Entry {
        /// The zip.
        zip: PathBuf,
        /// The entry name.
        name: String,
        /// What the zip library said.
        source: zip::result::ZipError,
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
    /// `archive.verify` found a bad entry when reading the zip back.
    #[error("verification of {} failed: {message}", zip.display())]
    Verify {
        /// The zip.
        zip: PathBuf,
        /// What was wrong.
        message: String,
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

fn entry_options(
    settings: &RunSettings,
    size: u64,
    modified: SystemTime,
) -> FullFileOptions<'static, 'static> {
    let method = match settings.compression {
        Compression::Stored => CompressionMethod::Stored,
        Compression::Deflate => CompressionMethod::Deflated,
        Compression::Zstd => CompressionMethod::Zstd,
    };
    let options = FileOptions::DEFAULT
        .compression_method(method)
        .compression_level(settings.level)
        .last_modified_time(dos_time(modified))
        .unix_permissions(0o644)
        .large_file(size >= u64::from(u32::MAX));
    let unix_secs = modified
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u32::try_from(d.as_secs()).ok());
    match options.with_extended_timestamp(unix_secs, None, None) {
        Ok(full) => full,
        Err(_) => options.into_full_options(),
    }
}

/// The DOS date and time of `t` in local time (as zip tools expect),
/// clamped to the range a zip can hold.
fn dos_time(t: SystemTime) -> zip::DateTime {
    let local: chrono::DateTime<Local> = t.into();
    u16::try_from(local.year())
        .ok()
        .and_then(|year| {
            zip::DateTime::from_date_and_time(
                year,
                local.month() as u8,
                local.day() as u8,
                local.hour() as u8,
                local.minute() as u8,
                local.second() as u8,
            )
            .ok()
        })
        .unwrap_or_default()
}

/// Writes `stem`'s zip into `output_dir`. `progress` is called with the
/// number of member bytes read since its last call.
pub fn write_stem(
    stem: &Stem,
    output_dir: &Path,
    settings: &RunSettings,
    control: &Control,
    progress: &mut dyn FnMut(u64),
) -> Result<Written, StemError> {
    let final_path = stem.zip_path(output_dir);
    if !settings.overwrite && final_path.exists() {
        return Err(StemError::Exists { zip: final_path });
    }
    if let Some(bad) = stem.members.iter().find(|m| !m.utf8_name) {
        return Err(StemError::NameNotUtf8 {
            path: bad.path.clone(),
        });
    }
    control.check()?;

    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| StemError::Write { path, source }
    };
    let temp = temp::create(output_dir).map_err(write_err(output_dir))?;
    let temp_path = temp.path().to_owned();
    let discard = Arc::new(AtomicBool::new(false));
    let mut zip = zip::ZipWriter::new(Discardable::new(
        BufWriter::with_capacity(BUFFER_SIZE, temp),
        Arc::clone(&discard),
    ));
    // Declared after `zip`, so dropped before it: on an early return the
    // writer's own clean-up writes into nothing, then the temporary file goes.
    let _discard_on_failure = DiscardOnDrop(discard);
    let mut buffer = vec![0u8; BUFFER_SIZE];
    let mut bytes_in = 0;
    for member in &stem.members {
        bytes_in += add_member(
            &mut zip,
            member,
            settings,
            control,
            &mut buffer,
            progress,
            &final_path,
        )?;
    }
    let temp = zip
        .finish()
        .map_err(|source| zip_write_error(&final_path, source))?
        .inner
        .into_inner()
        .map_err(|e| StemError::Write {
            path: temp_path.clone(),
            source: e.into_error(),
        })?;
    temp.as_file().sync_all().map_err(write_err(&temp_path))?;
    let bytes_out = temp
        .as_file()
        .metadata()
        .map_err(write_err(&temp_path))?
        .len();

    if settings.verify {
        let file = temp.reopen().map_err(write_err(&temp_path))?;
        verify(file, stem, control, &mut buffer).map_err(|e| match e {
            VerifyError::Stop(e) => e,
            VerifyError::Bad(message) => StemError::Verify {
                zip: final_path.clone(),
                message,
            },
        })?;
    }
    control.check()?;

    let persisted = if settings.overwrite {
        temp.persist(&final_path)
    } else {
        temp.persist_noclobber(&final_path)
    };
    if let Err(e) = persisted {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            return Err(StemError::Exists { zip: final_path });
        }
        return Err(StemError::Write {
            path: final_path,
            source: e.error,
        });
    }
    sync_folder(output_dir);
    Ok(Written {
        zip: final_path,
        bytes_in,
        bytes_out,
    })
}

/// A writer that passes everything through until told to discard it, and
/// then goes on as if it wrote (keeping its position, so the zip library's
/// clean-up of an abandoned archive runs to its end without touching disk).
struct Discardable<W> {
    inner: W,
    discard: Arc<AtomicBool>,
    pos: u64,
    end: u64,
}

impl<W> Discardable<W> {
    fn new(inner: W, discard: Arc<AtomicBool>) -> Self {
        Discardable {
            inner,
            discard,
            pos: 0,
            end: 0,
        }
    }

    fn discarding(&self) -> bool {
        self.discard.load(Ordering::Relaxed)
    }

    fn moved_to(&mut self, pos: u64) -> u64 {
        self.pos = pos;
        self.end = self.end.max(pos);
        pos
    }
}

impl<W: Write> Write for Discardable<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = if self.discarding() {
            buf.len()
        } else {
            self.inner.write(buf)?
        };
        self.moved_to(self.pos + n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.discarding() {
            Ok(())
        } else {
            self.inner.flush()
        }
    }
}

impl<W: Seek> Seek for Discardable<W> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        if !self.discarding() {
            let pos = self.inner.seek(to)?;
            return Ok(self.moved_to(pos));
        }
        let pos = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::End(d) => self.end.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        pos.map(|p| self.moved_to(p))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))
    }
}

/// Sets the flag when dropped.
struct DiscardOnDrop(Arc<AtomicBool>);

impl Drop for DiscardOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn zip_write_error(zip: &Path, source: zip::result::ZipError) -> StemError {
    match source {
        zip::result::ZipError::Io(source) => StemError::Write {
            path: zip.to_owned(),
            source,
        },
        other => StemError::Entry {
            zip: zip.to_owned(),
            name: String::new(),
            source: other,
        },
    }
}

/// Streams one member into the open zip; returns the bytes read.
fn add_member<W: Write + Seek>(
    zip: &mut zip::ZipWriter<W>,
    member: &Member,
    settings: &RunSettings,
    control: &Control,
    buffer: &mut [u8],
    progress: &mut dyn FnMut(u64),
    zip_path: &Path,
) -> Result<u64, StemError> {
    let read_err = |source| StemError::Read {
        path: member.path.clone(),
        source,
    };
    let mut file = File::open(&member.path).map_err(read_err)?;
    let before = file.metadata().map_err(read_err)?;
    let options = entry_options(
        settings,
        before.len(),
        before.modified().unwrap_or(member.modified),
    );
    zip.start_file(member.name.as_str(), options)
        .map_err(|source| match source {
            zip::result::ZipError::Io(source) => StemError::Write {
                path: zip_path.to_owned(),
                source,
            },
            other => StemError::Entry {
                zip: zip_path.to_owned(),
                name: member.name.clone(),
                source: other,
            },
        })?;
    let mut read = 0u64;
    loop {
        control.check()?;
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        zip.write_all(&buffer[..n])
            .map_err(|source| StemError::Write {
                path: zip_path.to_owned(),
                source,
            })?;
        read += n as u64;
        progress(n as u64);
    }
    let after = file.metadata().map_err(read_err)?;
    let changed = if after.len() != before.len() || read != before.len() {
        Some(format!(
            "size was {} bytes when opened, {} bytes read, {} bytes now",
            before.len(),
            read,
            after.len()
        ))
    } else if after.modified().ok() != before.modified().ok() {
        Some("modification time changed".to_owned())
    } else {
        None
    };
    match changed {
        Some(what) => Err(StemError::Changed {
            path: member.path.clone(),
            what,
        }),
        None => Ok(read),
    }
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
    file: File,
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

/// Reads the written zip back: the entries must be exactly the members, in
/// order, and every entry's data must match its CRC-32.
fn verify(
    file: File,
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
    check_entries(file, None, &mut buffer).map_err(|e| match e {
        VerifyError::Bad(message) => message,
        VerifyError::Stop(e) => e.to_string(),
    })
}

/// Flushes the folder entry of a renamed file to disk (Unix; a no-op
/// elsewhere). Best effort: the data itself was already flushed.
fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
