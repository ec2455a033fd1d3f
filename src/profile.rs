//! The YAML profile as the user wrote it: the model, its defaults, loading,
//! saving and `--set KEY=VALUE` overrides.
//!
//! A profile is a superset of the Python `assetutilities` zip-by-stem
//! configuration: every such file loads unchanged. Keys stemzip does not know
//! (`meta`, `basename`, `default.log_level`, `analysis_settings`, …) are kept
//! aside and written back on save, so a profile survives a load/save round
//! trip through the window. Nothing here touches the folders the profile
//! names: turning a profile into work is [`crate::plan`]'s job.

use std::fmt;
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_yaml::{Mapping, Value};

/// A whole profile: every section of the YAML file, with defaults for the
/// sections and keys that are missing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Where the stem sources are and where the zips go.
    pub file_management: FileManagement,
    /// Where the data files to archive are.
    pub analysis: Analysis,
    /// How many stems run at once, and per-stem limits.
    pub parallel_processing: ParallelProcessing,
    /// The Python tool's `default` section (only `config.overwrite.output` is used).
    pub default: Defaults,
    /// How members are matched to stems and how the zip is written.
    pub archive: ArchiveSettings,
    /// Keys of the document that stemzip does not use, kept for saving.
    #[serde(skip)]
    unknown: Mapping,
    /// Settings whose written value was not usable, each replaced by its
    /// safe default when the profile was read.
    #[serde(skip)]
    safe_defaults: Vec<SafeDefault>,
}

/// A `parallel_processing` setting whose value could not be used as
/// written: the original's rule is that invalid settings take safe
/// defaults, so the run goes on with `using` and the plan warns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafeDefault {
    /// The dotted key, e.g. `parallel_processing.enabled`.
    pub key: &'static str,
    /// The value as written, in YAML.
    pub written: String,
    /// The value in effect instead, in YAML.
    pub using: String,
    /// Why, in a few words.
    pub reason: &'static str,
}

impl fmt::Display for SafeDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {}; using {}",
            self.key, self.written, self.reason, self.using
        )
    }
}

/// `file_management`: the stem-source folder, its filters and the output folder.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FileManagement {
    /// Folder of stem-source files; default: the profile's own folder.
    pub input_directory: Option<String>,
    /// Folder the zips are written to; default `results`.
    pub output_directory: Option<String>,
    /// Which files in the input folder name stems.
    pub filename: StemFilename,
}

/// `file_management.filename`: which files are stem sources.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StemFilename {
    /// Stem-source extensions, without or with a leading dot (`[yml]`).
    #[serde(deserialize_with = "string_list")]
    pub extension: Vec<String>,
    /// A stem source's file name must contain this text.
    pub pattern: Option<String>,
    /// Conditions on the stem and on the stem-source file.
    pub filters: Filters,
}

/// `file_management.filename.filters`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Filters {
    /// The stem must contain every one of these.
    #[serde(deserialize_with = "string_list")]
    pub contains: Vec<String>,
    /// The stem must contain none of these.
    #[serde(deserialize_with = "string_list")]
    pub not_contains: Vec<String>,
    /// The stem must match this regular expression somewhere.
    pub regex: Option<String>,
    /// The stem-source file must be at least this many KiB.
    pub min_size_kb: Option<f64>,
    /// The stem-source file must be at most this many KiB.
    pub max_size_kb: Option<f64>,
}

/// `analysis`: the data files that go into the zips.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Analysis {
    /// Folder of data files (required).
    pub input_directory: Option<String>,
    /// Which data files are archived.
    pub filename: DataFilename,
}

/// `analysis.filename`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DataFilename {
    /// Data-file extensions to include (required, non-empty).
    #[serde(deserialize_with = "string_list")]
    pub extension: Vec<String>,
}

/// `parallel_processing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParallelProcessing {
    /// `false`: one stem at a time.
    pub enabled: bool,
    /// `auto` (every core) or a positive number of workers.
    pub max_workers: Workers,
    /// Seconds one stem may take before it fails as timed out.
    pub timeout_per_file: Option<f64>,
    /// Write an error report into the output folder when a stem does not succeed.
    pub save_error_reports: bool,
    /// Show progress on the terminal.
    pub progress_reporting: bool,
}

impl Default for ParallelProcessing {
    fn default() -> Self {
        Self {
            enabled: true,
            max_workers: Workers::Auto,
            timeout_per_file: None,
            save_error_reports: false,
            progress_reporting: true,
        }
    }
}

/// `default` (the Python tool's section name).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Defaults {
    /// `default.config`.
    pub config: DefaultConfig,
}

/// `default.config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DefaultConfig {
    /// `default.config.overwrite`.
    pub overwrite: Overwrite,
}

/// `default.config.overwrite`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Overwrite {
    /// `false`: an existing `<stem>.zip` is left alone and the stem skipped.
    pub output: bool,
}

impl Default for Overwrite {
    fn default() -> Self {
        Self { output: true }
    }
}

/// `archive`: stemzip's own section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ArchiveSettings {
    /// How a data file's name is matched against a stem.
    pub stem_match: StemMatch,
    /// How entries are compressed.
    pub compression: Compression,
    /// Compression level; `None` is the method's default.
    pub level: Option<i64>,
    /// Read every zip back and check each entry's CRC-32 before the stem counts as done.
    pub verify: bool,
    /// Update mode: a stem whose zip already holds exactly its planned
    /// members (names, sizes, modification times, compression method) is
    /// left as it is ("up to date"); a zip that differs is rebuilt.
    pub update: bool,
    /// Move mode: delete a stem's data files once its zip is complete,
    /// flushed to disk (its folder entry too) and read back in full.
    pub delete_originals: bool,
    /// Move mode where the zip's folder entry cannot be flushed (Windows,
    /// some network shares): delete anyway. Off, the originals are kept.
    pub accept_unflushed_folder: bool,
    /// Replace a zip even when that drops entries whose files are gone
    /// (moved by an earlier run, or deleted): off, such a stem fails and
    /// the zip, the only copy of those files, stays.
    pub drop_missing_entries: bool,
}

/// How data files are matched to a stem (matching is case-sensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StemMatch {
    /// The file name contains the stem anywhere (the Python tool's rule).
    #[default]
    Contains,
    /// The file name starts with the stem.
    Prefix,
    /// The file name without its last extension equals the stem.
    Exact,
}

impl StemMatch {
    /// Every mode, in the order a form lists them.
    pub const ALL: [StemMatch; 3] = [StemMatch::Contains, StemMatch::Prefix, StemMatch::Exact];

    /// The mode's name as written in a profile.
    pub fn name(self) -> &'static str {
        match self {
            StemMatch::Contains => "contains",
            StemMatch::Prefix => "prefix",
            StemMatch::Exact => "exact",
        }
    }

    /// One line saying what the mode does, for help texts.
    pub fn explanation(self) -> &'static str {
        match self {
            StemMatch::Contains => {
                "file name contains the stem anywhere (caseA takes caseA_part1.csv and x_caseA.csv; the Python tool's rule)"
            }
            StemMatch::Prefix => "file name starts with the stem (caseA takes caseA_part1.csv)",
            StemMatch::Exact => {
                "file name without its extension equals the stem (caseA takes caseA.csv only)"
            }
        }
    }
}

/// Compression method of the zip entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// No compression (what the Python tool wrote).
    #[default]
    Stored,
    /// Deflate, readable by every zip tool; levels 1–9 on zlib's scale.
    Deflate,
    /// Zstandard (method 93); levels 1–22; not every reader supports it.
    Zstd,
}

impl Compression {
    /// Every method, in the order a form lists them.
    pub const ALL: [Compression; 3] =
        [Compression::Stored, Compression::Deflate, Compression::Zstd];

    /// The method's name as written in a profile.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Stored => "stored",
            Compression::Deflate => "deflate",
            Compression::Zstd => "zstd",
        }
    }

    /// The levels the method accepts, or `None` when it takes no level.
    pub fn levels(self) -> Option<std::ops::RangeInclusive<i64>> {
        match self {
            Compression::Stored => None,
            Compression::Deflate => Some(1..=9),
            Compression::Zstd => Some(1..=22),
        }
    }

    /// The level used when the profile sets none.
    pub fn default_level(self) -> Option<i64> {
        match self {
            Compression::Stored => None,
            Compression::Deflate => Some(6),
            Compression::Zstd => Some(3),
        }
    }
}

/// `parallel_processing.max_workers`: `auto`, a positive count, or something
/// else, which the plan warns about and treats as `auto` (as the issue asks:
/// an invalid value does not stop the run).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Workers {
    /// One worker per core.
    #[default]
    Auto,
    /// Exactly this many workers.
    Count(NonZeroUsize),
    /// A value that is neither; kept as written so saving does not change it.
    Invalid(Value),
}

impl Serialize for Workers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Workers::Auto => serializer.serialize_str("auto"),
            Workers::Count(n) => serializer.serialize_u64(n.get() as u64),
            Workers::Invalid(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Workers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(match &value {
            Value::Null => Workers::Auto,
            Value::String(s) if s.trim().eq_ignore_ascii_case("auto") => Workers::Auto,
            Value::Number(n) => match n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .and_then(NonZeroUsize::new)
            {
                Some(n) => Workers::Count(n),
                None => Workers::Invalid(value),
            },
            _ => Workers::Invalid(value),
        })
    }
}

impl fmt::Display for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::Auto => f.write_str("auto"),
            Workers::Count(n) => write!(f, "{n}"),
            Workers::Invalid(value) => f.write_str(&value_text(value)),
        }
    }
}

/// A list of strings that may also be written as one string or as `null`.
fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error;
    let value = Value::deserialize(deserializer)?;
    let item = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(D::Error::custom(format!(
            "expected a list of names such as [csv], found {}",
            value_text(other)
        ))),
    };
    match &value {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => items.iter().map(item).collect(),
        other => item(other).map(|s| vec![s]),
    }
}

/// A short YAML rendering of a value for error messages.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        Value::Null => "nothing (null)".to_owned(),
        other => serde_yaml::to_string(other)
            .map(|s| format!("`{}`", s.trim_end()))
            .unwrap_or_else(|_| "a value".to_owned()),
    }
}

/// Why a profile could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The profile file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The text is not valid YAML.
    #[error("{origin}: YAML syntax error{at}: {message}", at = at_line(*.line, *.column))]
    Syntax {
        /// The profile file (or `profile` for text).
        origin: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What the parser said.
        message: String,
    },
    /// A key holds a value of the wrong kind.
    #[error("{origin}: `{key}`: {message}")]
    Invalid {
        /// The profile file (or `profile` for text).
        origin: String,
        /// The dotted key, e.g. `archive.compression`.
        key: String,
        /// What is wrong with its value.
        message: String,
    },
    /// A `--set KEY=VALUE` argument is malformed or names no known key.
    #[error("--set {arg}: {message}")]
    Override {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// The original's override argument (a Python dict literal) is malformed.
    #[error("the override argument is not a Python dict: {message}")]
    Overlay {
        /// What is wrong, and where.
        message: String,
    },
    /// A value of the profile cannot be written back as YAML.
    #[error("the profile cannot be written as YAML: {message}")]
    Unwritable {
        /// What the YAML writer said.
        message: String,
    },
    /// The profile could not be written.
    #[error("cannot write profile {path}: {source}")]
    Write {
        /// The destination.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn at_line(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

/// One `--set KEY=VALUE` override: a dotted key path and a YAML value.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The argument as the user wrote it, for messages.
    pub arg: String,
    /// Key path, e.g. `["parallel_processing", "max_workers"]`.
    pub path: Vec<String>,
    /// The value, parsed as YAML (`1` is a number, `[csv, txt]` a list).
    pub value: Value,
}

impl std::str::FromStr for Override {
    type Err = ProfileError;

    fn from_str(arg: &str) -> Result<Self, Self::Err> {
        let bad = |message: &str| ProfileError::Override {
            arg: arg.to_owned(),
            message: message.to_owned(),
        };
        let (key, raw) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=VALUE, e.g. archive.compression=deflate"))?;
        let path: Vec<String> = key.trim().split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(bad("the key is empty or has an empty part"));
        }
        let known = known_keys();
        let dotted = path.join(".");
        if !known.contains(&dotted) {
            return Err(bad(&format!(
                "`{dotted}` is not a profile key; known keys: {}",
                known.join(", ")
            )));
        }
        let value = if raw.trim().is_empty() {
            Value::Null
        } else {
            crate::yaml::parse(raw).map_err(|e| bad(&format!("the value is not YAML: {e}")))?
        };
        Ok(Override {
            arg: arg.to_owned(),
            path,
            value,
        })
    }
}

/// Every key stemzip reads, as dotted paths (`archive.compression`, …).
pub fn known_keys() -> Vec<String> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<String>) {
        if let Value::Mapping(map) = value {
            for (k, v) in map {
                let key = match k.as_str() {
                    Some(k) if prefix.is_empty() => k.to_owned(),
                    Some(k) => format!("{prefix}.{k}"),
                    None => continue,
                };
                if matches!(v, Value::Mapping(_)) {
                    walk(&key, v, out);
                } else {
                    out.push(key);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(value) = serde_yaml::to_value(Profile::default()) {
        walk("", &value, &mut out);
    }
    out
}

/// The original's second command-line argument: a Python dict literal such
/// as `"{'meta': {'label': '03c'}, 'analysis': {'input_directory': '../csv'}}"`,
/// deep-merged into the profile as the original merges it (a nested key
/// replaces only what it names). Keys stemzip does not use are kept like any
/// unknown key.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    /// The argument as given.
    pub text: String,
    /// The dict, as a YAML mapping.
    pub value: Value,
}

impl std::str::FromStr for Overlay {
    type Err = ProfileError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |message: String| ProfileError::Overlay { message };
        check_overlay_shape(text).map_err(bad)?;
        let literal: py_literal::Value = text.trim().parse().map_err(|e| {
            bad(match e {
                py_literal::ParseError::Syntax(detail) => {
                    // pest's report: a position, the line with a caret, and
                    // the grammar's rule names, which mean nothing to a user.
                    let shown: Vec<&str> = detail
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("= "))
                        .collect();
                    format!(
                        "it stops being a Python literal where the caret points \
                         (check quotes, brackets, colons and commas):\n{}",
                        shown.join("\n")
                    )
                }
                other => other.to_string(),
            })
        })?;
        let value = python_to_yaml(&literal).map_err(bad)?;
        if !matches!(value, Value::Mapping(_)) {
            return Err(bad(format!(
                "expected a dict such as {{'meta': {{'label': 'run1'}}}}, found {}",
                value_text(&value)
            )));
        }
        Ok(Overlay {
            text: text.to_owned(),
            value,
        })
    }
}

/// The longest dict argument read (a profile's worth of settings is far less).
const OVERLAY_MAX_LEN: usize = 64 * 1024;
/// The deepest nesting of brackets in a dict argument (a profile has 3
/// levels of sections). The literal parser's time grows exponentially with
/// the depth of an unclosed nest, so deeper text is refused before parsing.
const OVERLAY_MAX_DEPTH: usize = 8;

/// Refuses a dict argument too long or nested too deep to parse quickly.
fn check_overlay_shape(text: &str) -> Result<(), String> {
    if text.len() > OVERLAY_MAX_LEN {
        return Err(format!(
            "it is {} bytes long; at most {OVERLAY_MAX_LEN} are read",
            text.len()
        ));
    }
    // Brackets count outside strings only: a string is quoted with ' or ",
    // single or tripled (a prefix such as r or b changes nothing here), and a
    // backslash takes the next character along in any of them.
    let chars: Vec<char> = text.chars().collect();
    let (mut depth, mut i) = (0usize, 0);
    let mut quote: Option<(char, bool)> = None; // (quote, tripled)
    while i < chars.len() {
        let c = chars[i];
        let tripled = |q: char| chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q);
        match quote {
            Some(_) if c == '\\' => i += 1,
            Some((q, true)) if c == q && tripled(q) => {
                quote = None;
                i += 2;
            }
            Some((q, false)) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => {
                    let triple = tripled(c);
                    quote = Some((c, triple));
                    if triple {
                        i += 2;
                    }
                }
                '{' | '[' | '(' => {
                    depth += 1;
                    if depth > OVERLAY_MAX_DEPTH {
                        return Err(format!(
                            "it nests more than {OVERLAY_MAX_DEPTH} levels deep (at character {})",
                            i + 1
                        ));
                    }
                }
                '}' | ']' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        i += 1;
    }
    Ok(())
}

/// A Python literal as the YAML value PyYAML would have built from the same data.
fn python_to_yaml(literal: &py_literal::Value) -> Result<Value, String> {
    use py_literal::Value as Py;
    Ok(match literal {
        Py::None => Value::Null,
        Py::Boolean(b) => Value::Bool(*b),
        Py::String(s) => Value::String(s.clone()),
        Py::Float(f) => Value::Number((*f).into()),
        Py::Integer(n) => {
            let text = n.to_string();
            match text.parse::<i64>() {
                Ok(i) => Value::Number(i.into()),
                Err(_) => Value::Number(text.parse::<f64>().unwrap_or(f64::NAN).into()),
            }
        }
        Py::List(items) | Py::Tuple(items) => {
            Value::Sequence(items.iter().map(python_to_yaml).collect::<Result<_, _>>()?)
        }
        Py::Dict(pairs) => {
            let mut map = Mapping::new();
            for (k, v) in pairs {
                // Later keys win, as in a Python dict display.
                map.insert(python_to_yaml(k)?, python_to_yaml(v)?);
            }
            Value::Mapping(map)
        }
        Py::Bytes(_) => return Err("bytes (b'...') are not settings; use a string".to_owned()),
        Py::Complex(_) => return Err("complex numbers are not settings".to_owned()),
        Py::Set(_) => {
            return Err("sets ({...} without keys) are not settings; use a list".to_owned());
        }
    })
}

/// Changes applied to a profile as it is read: first the original's dict
/// argument, then each `--set` override (so `--set` has the last word).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edits {
    /// The original's dict argument.
    pub overlay: Option<Overlay>,
    /// `--set KEY=VALUE` overrides, in order.
    pub sets: Vec<Override>,
}

impl Edits {
    /// Only `--set` overrides.
    pub fn sets(overrides: &[Override]) -> Self {
        Edits {
            overlay: None,
            sets: overrides.to_vec(),
        }
    }
}

impl Profile {
    /// Reads a profile file.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        Self::load_edited(path, &Edits::default())
    }

    /// Reads a profile file and applies `--set` overrides before checking types.
    pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Self, ProfileError> {
        Self::load_edited(path, &Edits::sets(overrides))
    }

    /// Reads a profile file and applies `edits` before checking types.
    pub fn load_edited(path: &Path, edits: &Edits) -> Result<Self, ProfileError> {
        let text = fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_edited(&text, &path.display().to_string(), edits)
    }

    /// Parses profile text; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str, overrides: &[Override]) -> Result<Self, ProfileError> {
        Self::parse_edited(text, origin, &Edits::sets(overrides))
    }

    /// Parses profile text (scalars typed as PyYAML types them) and applies `edits`.
    pub fn parse_edited(text: &str, origin: &str, edits: &Edits) -> Result<Self, ProfileError> {
        let document = crate::yaml::parse(text).map_err(|e| ProfileError::Syntax {
            origin: origin.to_owned(),
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        Self::from_document(document, origin, edits)
    }

    /// A profile from an already parsed document (e.g. the one a run report holds).
    pub fn from_document(
        mut document: Value,
        origin: &str,
        edits: &Edits,
    ) -> Result<Self, ProfileError> {
        match &document {
            Value::Mapping(_) => {}
            Value::Null => document = Value::Mapping(Mapping::new()),
            other => {
                return Err(ProfileError::Invalid {
                    origin: origin.to_owned(),
                    key: "(top level)".to_owned(),
                    message: format!(
                        "a profile is a mapping of sections such as `analysis:`, found {}",
                        value_text(other)
                    ),
                });
            }
        }
        if let Some(overlay) = &edits.overlay {
            merge(&mut document, overlay.value.clone());
        }
        for o in &edits.sets {
            set_path(&mut document, &o.path, o.value.clone()).map_err(|message| {
                ProfileError::Override {
                    arg: o.arg.clone(),
                    message,
                }
            })?;
        }
        let safe_defaults = apply_safe_defaults(&mut document);
        let mut profile: Profile =
            serde_path_to_error::deserialize(document.clone()).map_err(|e| {
                ProfileError::Invalid {
                    origin: origin.to_owned(),
                    key: e.path().to_string(),
                    message: e.inner().to_string(),
                }
            })?;
        let known = serde_yaml::to_value(&profile).unwrap_or(Value::Null);
        profile.unknown = match subtract(document, &known) {
            Some(Value::Mapping(map)) => map,
            _ => Mapping::new(),
        };
        profile.safe_defaults = safe_defaults;
        Ok(profile)
    }

    /// The `parallel_processing` settings that were replaced by safe defaults
    /// when the profile was read.
    pub fn safe_defaults(&self) -> &[SafeDefault] {
        &self.safe_defaults
    }

    /// Forgets the safe-default note of `key` (its value was set since).
    pub fn clear_safe_default(&mut self, key: &str) {
        self.safe_defaults.retain(|d| d.key != key);
    }

    /// The whole document: stemzip's keys merged into the keys it kept aside.
    pub fn to_value(&self) -> Value {
        let mut document = Value::Mapping(self.unknown.clone());
        if let Ok(known) = serde_yaml::to_value(self) {
            merge(&mut document, known);
        }
        document
    }

    /// The profile as YAML text. Fails (rather than write something else)
    /// when a kept-aside value cannot be written back, e.g. an odd YAML tag.
    pub fn to_yaml(&self) -> Result<String, ProfileError> {
        crate::yaml::to_string(&self.to_value()).map_err(|e| ProfileError::Unwritable {
            message: e.to_string(),
        })
    }

    /// Writes the profile to `path`, atomically (a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let write_err = |source| ProfileError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut file = crate::temp::user_file_builder(".stemzip-profile-")
            .tempfile_in(dir)
            .map_err(write_err)?;
        let text = self.to_yaml()?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(write_err)?;
        // A profile saved over an existing one keeps that file's permissions
        // (a shared, group-writable profile stays so).
        if let Ok(existing) = std::fs::metadata(path) {
            file.as_file()
                .set_permissions(existing.permissions())
                .map_err(write_err)?;
        }
        file.as_file().sync_all().map_err(write_err)?;
        file.persist(path).map_err(|e| write_err(e.error))?;
        Ok(())
    }

    /// The top-level and nested keys of the loaded file that stemzip does not use.
    pub fn unknown_keys(&self) -> &Mapping {
        &self.unknown
    }
}

/// Python's truth rule (`bool(value)`): nothing, zero, empty text and empty
/// collections are false, anything else is true.
pub(crate) fn python_truth(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Sequence(items) => !items.is_empty(),
        Value::Mapping(map) => !map.is_empty(),
        Value::Tagged(t) => python_truth(&t.value),
    }
}

/// Replaces each `parallel_processing` value of the wrong type or out of
/// range by its safe default (the original's rule: invalid settings use safe
/// defaults) and says what was replaced. `max_workers` keeps its own
/// handling ([`Workers::Invalid`]).
fn apply_safe_defaults(document: &mut Value) -> Vec<SafeDefault> {
    let mut notes = Vec::new();
    let Value::Mapping(root) = document else {
        return notes;
    };
    let key = Value::String("parallel_processing".to_owned());
    let Some(section) = root.get_mut(&key) else {
        return notes;
    };
    if !matches!(section, Value::Mapping(_) | Value::Null) {
        notes.push(SafeDefault {
            key: "parallel_processing",
            written: value_text(section),
            using: "the defaults of every setting".to_owned(),
            reason: "is not a section",
        });
        *section = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(section) = section else {
        return notes;
    };
    type Rule = fn(&Value) -> Option<(Value, &'static str)>;
    let rules: [(&'static str, &'static str, Rule); 4] = [
        ("enabled", "parallel_processing.enabled", |v| {
            (!matches!(v, Value::Bool(_))).then(|| {
                (
                    Value::Bool(python_truth(v)),
                    "is not true or false (read by Python's truth rule)",
                )
            })
        }),
        (
            "timeout_per_file",
            "parallel_processing.timeout_per_file",
            |v| match v {
                Value::Null => None,
                Value::Number(n) if n.as_f64().is_some_and(|f| f.is_finite() && f > 0.0) => None,
                Value::Number(_) => Some((Value::Null, "is not a number of seconds above 0")),
                _ => Some((Value::Null, "is not a number of seconds")),
            },
        ),
        (
            "save_error_reports",
            "parallel_processing.save_error_reports",
            |v| {
                (!matches!(v, Value::Bool(_)))
                    .then_some((Value::Bool(false), "is not true or false"))
            },
        ),
        (
            "progress_reporting",
            "parallel_processing.progress_reporting",
            |v| {
                (!matches!(v, Value::Bool(_)))
                    .then_some((Value::Bool(true), "is not true or false"))
            },
        ),
    ];
    for (name, dotted, rule) in rules {
        let name = Value::String(name.to_owned());
        let Some(value) = section.get_mut(&name) else {
            continue;
        };
        if let Some((using, reason)) = rule(value) {
            notes.push(SafeDefault {
                key: dotted,
                written: value_text(value),
                using: match &using {
                    Value::Null => "no timeout".to_owned(),
                    other => value_text(other),
                },
                reason,
            });
            *value = using;
        }
    }
    notes
}

/// Sets `path` in `document` to `value`, creating sections as needed.
fn set_path(document: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".to_owned());
    };
    let mut node = document;
    for (i, part) in parents.iter().enumerate() {
        let Value::Mapping(map) = node else {
            return Err(format!("`{}` is not a section", path[..i].join(".")));
        };
        let key = Value::String(part.clone());
        if !matches!(map.get(&key), Some(Value::Mapping(_))) {
            map.insert(key.clone(), Value::Mapping(Mapping::new()));
        }
        node = map
            .get_mut(&key)
            .ok_or_else(|| format!("cannot create section `{part}`"))?;
    }
    match node {
        Value::Mapping(map) => {
            map.insert(Value::String(last.clone()), value);
            Ok(())
        }
        _ => Err(format!("`{}` is not a section", parents.join("."))),
    }
}

/// What is in `document` but not a key of `known`; `None` when nothing is left.
fn subtract(document: Value, known: &Value) -> Option<Value> {
    match (document, known) {
        (Value::Mapping(doc), Value::Mapping(known)) => {
            let mut rest = Mapping::new();
            for (k, v) in doc {
                // serde matches a field whatever YAML tag its key carries
                // (`!x filename` is `filename`), so the lookup ignores tags too.
                let plain = match &k {
                    Value::Tagged(tagged) => &tagged.value,
                    other => other,
                };
                match known.get(plain) {
                    Some(kv) => {
                        if let Some(left) = subtract(v, kv) {
                            // Under the plain key, so that saving merges it
                            // with the known section instead of repeating it.
                            rest.insert(plain.clone(), left);
                        }
                    }
                    None => {
                        rest.insert(k, v);
                    }
                }
            }
            (!rest.is_empty()).then_some(Value::Mapping(rest))
        }
        // A known leaf: the typed profile owns it.
        _ => None,
    }
}

/// Overlays `top` onto `base`: mappings merge key by key (keeping `base`'s
/// order), anything else in `top` replaces what `base` had.
fn merge(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Mapping(base), Value::Mapping(top)) => {
            for (k, v) in top {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_era_keys_survive_a_round_trip() {
        let text = "meta:\n  library: x\nbasename: zip_utilities\ndefault:\n  log_level: INFO\n  config:\n    overwrite:\n      output: True\nanalysis:\n  flag: True\n  input_directory: csv\n  filename:\n    extension: [csv]\n";
        let p = Profile::parse(text, "t", &[]).unwrap();
        assert_eq!(p.analysis.input_directory.as_deref(), Some("csv"));
        let again = Profile::parse(&p.to_yaml().unwrap(), "t", &[]).unwrap();
        assert_eq!(p, again);
        let yaml = again.to_yaml().unwrap();
        assert!(yaml.contains("log_level: INFO"), "{yaml}");
        assert!(yaml.contains("library: x"), "{yaml}");
        assert!(yaml.contains("flag: true"), "{yaml}");
    }

    #[test]
    fn a_tagged_value_in_an_unknown_key_is_saved_and_read_back_unchanged() {
        // Found by the fuzzer: a tagged value in an unknown key, which the
        // first YAML writer could not write back.
        let text = "libawerrrirtte:\r\n      !oumeta:meta libraryt: rformance basnam";
        let p = Profile::parse(text, "t", &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yml");
        p.save(&path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("libawerrrirtte")
        );
        let back = Profile::load(&path).unwrap();
        assert_eq!(back.to_value(), p.to_value());
    }

    #[test]
    fn a_known_key_with_a_yaml_tag_is_not_also_kept_as_unknown() {
        // Found by the fuzzer: `!t filename:` was both read as `filename`
        // and kept aside, so the saved file had `filename` twice.
        let text = "file_management:\n  !odd filename:\n    extension: [yml]\n    note: kept\n";
        let p = Profile::parse(text, "t", &[]).unwrap();
        assert_eq!(p.file_management.filename.extension, ["yml"]);
        let yaml = p.to_yaml().unwrap();
        let again = Profile::parse(&yaml, "t", &[]).unwrap();
        assert_eq!(again, p);
        assert!(yaml.contains("note: kept"), "{yaml}");
    }

    /// Found by the fuzzer: the literal parser's time doubles and more with
    /// each level of an unclosed nest (16 levels took minutes).
    #[test]
    fn a_deeply_nested_dict_argument_is_refused_at_once() {
        let started = std::time::Instant::now();
        let deep = "{'a':[".repeat(40);
        let err = deep.parse::<Overlay>().unwrap_err().to_string();
        assert!(err.contains("levels deep"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let fine = "{'a': {'b': {'c': [1, (2, {'d': [3]})]}}}".parse::<Overlay>();
        assert!(fine.is_ok(), "{fine:?}");
        // Brackets inside strings do not count…
        let quoted = format!("{{'a': '{}'}}", "{[(".repeat(20));
        assert!(quoted.parse::<Overlay>().is_ok());
        // …and a triple-quoted string with a quote inside does not hide the
        // brackets after it (found in review).
        let hidden = format!("{{'k': '''x'y''', 'a':{}", "[{'a':".repeat(20));
        let started = std::time::Instant::now();
        let err = hidden.parse::<Overlay>().unwrap_err().to_string();
        assert!(err.contains("levels deep"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn overrides_must_name_known_keys() {
        assert!("archive.compresion=deflate".parse::<Override>().is_err());
        let o: Override = "parallel_processing.max_workers=3".parse().unwrap();
        assert_eq!(o.value, Value::Number(3.into()));
    }
}
