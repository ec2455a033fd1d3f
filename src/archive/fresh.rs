//! Update mode: whether a stem's existing zip already holds exactly its
//! planned members, decided from the zip's central directory alone (no
//! member is read).
//!
//! An entry matches a member when its name, its size and its modification
//! time match, and it is stored with the profile's compression method. The
//! time compared is the extended timestamp field (UTC, one-second
//! resolution), which stemzip writes for every entry; an entry without one
//! (a zip another tool wrote, with only the two-second local DOS time)
//! counts as changed, so the first update run rewrites it once. A change
//! of compression level alone is not seen: the level is not recorded in a
//! zip. An entry no member plans whose file is gone (moved into the zip by
//! an earlier run, or deleted) does not make the zip out of date: the zip
//! is that file's only copy, and rebuilding would drop it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::Path;

use aho_corasick::AhoCorasick;
use rawzip::CompressionMethod;
use rawzip::time::ZipDateTimeKind;

use super::{method, modified_utc};
use crate::plan::Stem;
use crate::profile::Compression;

/// Whether a stem's zip needs writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// There is no zip yet.
    Missing,
    /// The zip holds exactly the planned members: nothing to do.
    UpToDate,
    /// The zip differs: the first difference found.
    Changed(String),
    /// The zip cannot be read (damaged, not a zip, unreadable): rebuilt.
    Unreadable(String),
    /// What a dry run foresees ([`dry_run_verdict`]) for a zip that differs
    /// but also holds entries whose files are gone: the run keeps it and
    /// fails the stem (unless told to drop them).
    WouldFail(String),
}

impl Freshness {
    /// What a dry run says about the stem.
    pub fn describe(&self) -> String {
        match self {
            Freshness::Missing => "no zip yet".to_owned(),
            Freshness::UpToDate => "up to date".to_owned(),
            Freshness::Changed(why) => format!("rebuild: {why}"),
            Freshness::Unreadable(why) => format!("rebuild: the zip cannot be read ({why})"),
            Freshness::WouldFail(why) => format!("fails, the zip kept: {why}"),
        }
    }
}

/// [`freshness`], and for a zip to be rebuilt, what the run will find
/// before it replaces it: entries whose files are gone make it keep the
/// zip and fail the stem, unless `drop_missing_entries`.
pub fn dry_run_verdict(
    zip: &Path,
    stem: &Stem,
    compression: Compression,
    drop_missing_entries: bool,
) -> Freshness {
    let fresh = freshness(zip, stem, compression);
    if drop_missing_entries || !matches!(fresh, Freshness::Changed(_) | Freshness::Unreadable(_)) {
        return fresh;
    }
    match entries_only_in_zip(zip, stem) {
        Ok(gone) if !gone.is_empty() => Freshness::WouldFail(format!(
            "it holds {} whose file is gone ({})",
            gone.join(", "),
            fresh.describe()
        )),
        _ => fresh,
    }
}

/// One entry of a zip's central directory, as update mode compares it.
struct Entry {
    size: u64,
    crc: u32,
    method: CompressionMethod,
    /// Unix seconds of the extended timestamp, if the entry has one.
    modified: Option<i64>,
}

/// Compares `zip` with `stem`'s planned members (see the module doc).
pub fn freshness(zip: &Path, stem: &Stem, compression: Compression) -> Freshness {
    let file = match File::open(zip) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Freshness::Missing,
        Err(e) => return Freshness::Unreadable(e.to_string()),
    };
    let (entries, count) = match central_directory(file) {
        Ok(found) => found,
        Err(e) => return Freshness::Unreadable(e.to_string()),
    };
    if count != entries.len() {
        return Freshness::Changed("the zip holds an entry name twice".to_owned());
    }
    compare(&entries, stem, compression).map_or(Freshness::UpToDate, Freshness::Changed)
}

/// The zip's entries by name, and how many there are (names may repeat);
/// an error unless its end record is where the file ends, or bytes follow
/// it but the end record places its central directory right before itself.
fn central_directory(file: File) -> Result<(HashMap<String, Entry>, usize), rawzip::Error> {
    let len = file.metadata()?.len();
    let mut end_record = file.try_clone()?;
    let mut buffer = vec![0u8; rawzip::RECOMMENDED_BUFFER_SIZE];
    let archive = rawzip::ZipArchive::from_file(file, &mut buffer)?;
    // The end record found must end the file: in a zip cut short, the last
    // one may be that of a zip stored inside it (a workbook, say). Bytes
    // after it (a transfer's padding) are allowed only when the record
    // itself, as written, says its directory ends where it starts: a
    // stored workbook's record counts from the workbook's start, not the
    // file's, and rawzip would silently correct for that.
    if archive.end_offset() != len
        && !directory_ends_at_record(&mut end_record, archive.eocd_offset())?
    {
        return Err(rawzip::ErrorKind::InvalidInput {
            msg: format!(
                "the zip's end record ends at byte {}, not at its end ({len} bytes): cut short?",
                archive.end_offset()
            ),
        }
        .into());
    }
    let mut entries = archive.entries(&mut buffer);
    let mut found = HashMap::new();
    let mut count = 0;
    while let Some(entry) = entries.next_entry()? {
        count += 1;
        let name = String::from_utf8_lossy(entry.file_path().as_bytes()).into_owned();
        let modified = match entry.last_modified() {
            ZipDateTimeKind::Utc(t) => Some(t.to_unix()),
            ZipDateTimeKind::Local(_) => None,
        };
        found.insert(
            name,
            Entry {
                size: entry.uncompressed_size_hint(),
                crc: entry.crc32(),
                method: entry.compression_method(),
                modified,
            },
        );
    }
    Ok((found, count))
}

/// Whether the end record at `at` declares a central directory (offset
/// and size, as written) that ends right where the record starts. A Zip64
/// record (offsets of `0xFFFFFFFF`) is not looked into: it does not count.
fn directory_ends_at_record(file: &mut File, at: u64) -> io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut record = [0u8; 22];
    file.seek(SeekFrom::Start(at))?;
    file.read_exact(&mut record)?;
    let word =
        |i: usize| u32::from_le_bytes([record[i], record[i + 1], record[i + 2], record[i + 3]]);
    let (size, offset) = (word(12), word(16));
    Ok(offset != u32::MAX && size != u32::MAX && u64::from(offset) + u64::from(size) == at)
}

/// Whether the entry `name` still has its file in `folder`: a file (or a
/// link to one), not a folder or anything else now under that name.
fn still_on_disk(folder: &Path, name: &str) -> bool {
    folder.join(name).is_file()
}

/// The first difference between the zip's `entries` and the stem's
/// members, or `None` when there is none.
fn compare(
    entries: &HashMap<String, Entry>,
    stem: &Stem,
    compression: Compression,
) -> Option<String> {
    for member in &stem.members {
        let Some(entry) = entries.get(&member.name) else {
            return Some(format!("{} is not in the zip", member.name));
        };
        if entry.size != member.size {
            return Some(format!(
                "{} is {} bytes, {} in the zip",
                member.name, member.size, entry.size
            ));
        }
        // As written: the extended timestamp holds 1970 to 2106 only, and
        // a time outside is stored as the nearest end.
        let planned = modified_utc(member.modified)
            .to_unix()
            .clamp(0, u32::MAX.into());
        match entry.modified {
            None => {
                return Some(format!(
                    "{} has no extended timestamp in the zip (not written by stemzip)",
                    member.name
                ));
            }
            Some(t) if t != planned => {
                return Some(format!("{} was modified since it was zipped", member.name));
            }
            Some(_) => {}
        }
        if entry.method != method(compression) {
            return Some(format!(
                "{} is compressed differently ({:?} in the zip, {} in the profile)",
                member.name,
                entry.method,
                compression.name()
            ));
        }
    }
    if entries.len() > stem.members.len() {
        let planned: std::collections::HashSet<&str> =
            stem.members.iter().map(|m| m.name.as_str()).collect();
        let mut extra: Vec<&str> = entries
            .keys()
            .map(String::as_str)
            .filter(|n| !planned.contains(n))
            .collect();
        extra.sort_unstable();
        // An entry whose file is gone (moved by an earlier run) is kept:
        // the zip is its only copy, and holds every planned member too.
        let folder = stem.members.first().and_then(|m| m.path.parent());
        if let Some(name) = extra
            .iter()
            .find(|name| folder.is_none_or(|d| still_on_disk(d, name)))
        {
            return Some(format!("the zip holds {name} that is no longer planned"));
        }
    }
    None
}

/// Each entry's CRC-32 and size, by name, from `zip`'s central directory.
pub fn checksums(zip: &Path) -> Result<HashMap<String, (u32, u64)>, String> {
    let file = File::open(zip).map_err(|e| e.to_string())?;
    let (entries, _) = central_directory(file).map_err(|e| e.to_string())?;
    Ok(entries
        .into_iter()
        .map(|(name, e)| (name, (e.crc, e.size)))
        .collect())
}

/// The CRC-32 and size of the file at `path`, read now.
pub fn file_checksum(path: &Path) -> io::Result<(u32, u64)> {
    checksum_of(&mut File::open(path)?)
}

/// The CRC-32 and size of what `file` holds from where it is read to its
/// end.
pub fn checksum_of(file: &mut File) -> io::Result<(u32, u64)> {
    let mut crc = crc32fast::Hasher::new();
    let mut buffer = vec![0u8; super::BUFFER_SIZE];
    let mut size = 0u64;
    loop {
        match io::Read::read(file, &mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                crc.update(&buffer[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((crc.finalize(), size))
}

/// The first of `stem`'s members whose bytes on disk now differ from its
/// entry in `zip` (CRC-32 and size), or an error reading either.
pub fn first_changed_member(zip: &Path, stem: &Stem) -> Result<Option<String>, String> {
    let sums = checksums(zip)?;
    for m in &stem.members {
        let now = file_checksum(&m.path).map_err(|e| format!("{}: {e}", m.path.display()))?;
        if sums.get(&m.name) != Some(&now) {
            return Ok(Some(m.name.clone()));
        }
    }
    Ok(None)
}

/// The entries of an existing `zip` that `stem`'s new zip would not hold
/// and whose files are gone from the folders its members are in: the zip
/// is their only copy (at most the first five, sorted). Empty when there is
/// no zip. A zip whose central directory cannot be read (damaged, cut
/// short) is searched for entry headers instead, so a damaged zip that
/// holds moved files is not taken for one that holds nothing. Err when the
/// zip cannot be read at all: what it holds cannot be told.
pub fn entries_only_in_zip(zip: &Path, stem: &Stem) -> Result<Vec<String>, String> {
    let file = match File::open(zip) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let names: Vec<String> = match central_directory(file) {
        Ok((entries, _)) => entries.into_keys().collect(),
        // Only names this stem could have zipped: a file's own name (no
        // folder) that holds the stem's name. Headers inside a stored
        // member that is itself a zip (an .xlsx) name other things.
        Err(_) => scanned_names(zip)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|name| name.contains(stem.name.as_str()) && !name.contains(['/', '\\']))
            .collect(),
    };
    let planned: HashSet<&str> = stem.members.iter().map(|m| m.name.as_str()).collect();
    let mut folders: Vec<&Path> = stem
        .members
        .iter()
        .filter_map(|m| m.path.parent())
        .collect();
    folders.sort();
    folders.dedup();
    let mut gone: Vec<String> = names
        .into_iter()
        .filter(|name| !planned.contains(name.as_str()))
        .filter(|name| !folders.iter().any(|d| still_on_disk(d, name)))
        .collect();
    gone.sort();
    gone.truncate(5);
    Ok(gone)
}

/// The entry names a zip's bytes show in its local and central headers,
/// found by their signatures: what is left to tell of a zip whose central
/// directory cannot be read. A signature inside a stored member can only
/// add a name, which makes the caller keep the zip, never lose it.
fn scanned_names(zip: &Path) -> io::Result<HashSet<String>> {
    // Local header: name length at 26, name at 30; central: 28 and 46.
    const HEADERS: [&[u8]; 2] = [b"PK\x03\x04", b"PK\x01\x02"];
    const LAYOUT: [(usize, usize); 2] = [(26, 30), (28, 46)];
    // Bytes kept from one chunk to the next: a header and its longest name.
    const KEEP: usize = 46 + u16::MAX as usize;
    let finder = AhoCorasick::new(HEADERS).map_err(io::Error::other)?;
    let mut file = File::open(zip)?;
    let mut chunk = vec![0u8; super::BUFFER_SIZE];
    let mut window: Vec<u8> = Vec::new();
    let mut names = HashSet::new();
    loop {
        let n = fill(&mut file, &mut chunk)?;
        let at_end = n < chunk.len();
        window.extend_from_slice(&chunk[..n]);
        // Headers found before `limit` have their whole name in the window.
        let limit = if at_end {
            window.len()
        } else {
            window.len().saturating_sub(KEEP)
        };
        for found in finder.find_iter(&window) {
            if found.start() >= limit {
                break;
            }
            let (length_at, name_at) = LAYOUT[found.pattern().as_usize()];
            if let Some(name) = name_at_header(&window[found.start()..], length_at, name_at) {
                names.insert(name);
            }
        }
        if at_end {
            return Ok(names);
        }
        window.drain(..limit);
    }
}

/// The name a header at the start of `bytes` gives, if it is all there.
fn name_at_header(bytes: &[u8], length_at: usize, name_at: usize) -> Option<String> {
    let length = bytes.get(length_at..length_at + 2)?;
    let length = usize::from(u16::from_le_bytes([length[0], length[1]]));
    let name = bytes.get(name_at..name_at + length)?;
    (length > 0).then(|| String::from_utf8_lossy(name).into_owned())
}

/// Reads into `buf` until it is full or the file ends; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match io::Read::read(file, &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
