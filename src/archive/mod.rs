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
    let mut zip = zip::ZipWriter::new(BufWriter::with_capacity(BUFFER_SIZE, temp));
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

/// Reads the written zip back: the entries must be exactly the members, in
/// order, and every entry's data must match its CRC-32.
fn verify(
    file: File,
    stem: &Stem,
    control: &Control,
    buffer: &mut [u8],
) -> Result<(), VerifyError> {
    let bad = |m: String| VerifyError::Bad(m);
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    if archive.len() != stem.members.len() {
        return Err(bad(format!(
            "{} entries, expected {}",
            archive.len(),
            stem.members.len()
        )));
    }
    for (i, member) in stem.members.iter().enumerate() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let name = entry.name().map_err(|e| bad(e.to_string()))?.into_owned();
        if name != member.name {
            return Err(bad(format!(
                "entry {i} is {name}, expected {}",
                member.name
            )));
        }
        let mut total = 0u64;
        loop {
            control.check().map_err(VerifyError::Stop)?;
            match entry.read(buffer) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(bad(format!("{}: {e}", member.name))),
            }
        }
        if total != entry.size() {
            return Err(bad(format!(
                "{}: {total} bytes read back, {} expected",
                member.name,
                entry.size()
            )));
        }
    }
    Ok(())
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
