//! Shards: a campaign's stems split between tasks that run on different
//! machines with no coordination (a Slurm job array, GNU parallel over
//! hosts), all writing into one output folder.
//!
//! Every task computes the same split by itself:
//! - by **hash** (the default): a stem goes to shard `XXH3-64(name) mod N + 1`,
//!   XXH3-64 being the published, seedless 64-bit hash of the stem name's
//!   UTF-8 bytes. It depends on nothing but the name, so every task, machine,
//!   release and run agrees, whatever the files' sizes do meanwhile, and a new
//!   stem never moves the others;
//! - by **size**: stems largest first (ties by name), each to the shard with
//!   the fewest bytes so far (ties to the lowest shard). The heaviest shard
//!   then holds at most the mean plus the largest stem. Sizes can differ
//!   between tasks (files still growing, a shared file system's caches), so
//!   this split is computed once and written to a [`SplitFile`] that every
//!   task reads; a stem the file does not list goes by hash.
//!
//! A shard of a Slurm job array comes from the array's variables
//! ([`Shard::from_slurm`]).
//!
//! A layer of its own just above the lowest: it imports only [`crate::temp`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most shards a split may have (far more than any job array: Slurm's
/// default `MaxArraySize` is 1001).
pub const MAX_SHARDS: usize = 100_000;

/// Why a shard cannot be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not of the form `K/N`.
    #[error("expected K/N, e.g. 2/8 (shard 2 of 8), or auto")]
    NotKOfN,
    /// K or N is not a whole number.
    #[error("K and N in K/N must be whole numbers, e.g. 2/8")]
    NotNumbers,
    /// N is 0 or too large.
    #[error("N in K/N goes from 1 to {MAX_SHARDS}")]
    BadCount,
    /// K is outside 1..=N.
    #[error("K in K/N goes from 1 to N ({0})")]
    BadIndex(usize),
    /// Slurm's array variables are missing.
    #[error(
        "--shard auto needs the Slurm job array variables SLURM_ARRAY_TASK_ID, \
         SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_TASK_MIN (run it in a task of \
         `sbatch --array`); not set: {}", .0.join(", ")
    )]
    NotInArray(Vec<&'static str>),
    /// A Slurm variable is not a number.
    #[error("--shard auto: {name}={value:?} is not a whole number")]
    NotANumber {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The array's task ids are not a range, so tasks have no positions.
    #[error(
        "--shard auto: the array's task ids are not a range, so tasks have no \
         positions: SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_MIN={min}, \
         SLURM_ARRAY_TASK_STEP={step}, SLURM_ARRAY_TASK_COUNT={count}{max}. Submit \
         the array as a range (e.g. --array=0-{last} or --array=1-{count}), or give \
         each task --shard K/N"
    )]
    NotARange {
        /// `SLURM_ARRAY_TASK_ID`.
        id: u64,
        /// `SLURM_ARRAY_TASK_MIN`.
        min: u64,
        /// `SLURM_ARRAY_TASK_STEP` (1 when unset).
        step: u64,
        /// `SLURM_ARRAY_TASK_COUNT`.
        count: u64,
        /// `, SLURM_ARRAY_TASK_MAX=…` when set.
        max: String,
        /// `count - 1`.
        last: u64,
    },
}

/// One shard of a split into `count`: `index` from 1 to `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: usize,
    /// How many shards.
    pub count: usize,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The tag in a shard run's report name: `shard-K-of-N`.
    pub fn tag(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// The shard of a Slurm array task, from the variables Slurm sets in it:
    /// the task's position among `SLURM_ARRAY_TASK_COUNT` tasks numbered from
    /// `SLURM_ARRAY_TASK_MIN` in steps of `SLURM_ARRAY_TASK_STEP` (1 when
    /// unset). An array whose ids are not such a range (`--array=1,5,6`) has
    /// no positions: every task of it fails the same way.
    pub fn from_slurm(var: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
        const ID: &str = "SLURM_ARRAY_TASK_ID";
        const COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
        const MIN: &str = "SLURM_ARRAY_TASK_MIN";
        const MAX: &str = "SLURM_ARRAY_TASK_MAX";
        const STEP: &str = "SLURM_ARRAY_TASK_STEP";
        let missing: Vec<&'static str> = [ID, COUNT, MIN]
            .into_iter()
            .filter(|name| var(name).is_none_or(|v| v.trim().is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(ShardError::NotInArray(missing));
        }
        let number = |name: &'static str| -> Result<Option<u64>, ShardError> {
            match var(name) {
                None => Ok(None),
                Some(value) => value
                    .trim()
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| ShardError::NotANumber { name, value }),
            }
        };
        let (Some(id), Some(count), Some(min)) = (number(ID)?, number(COUNT)?, number(MIN)?) else {
            return Err(ShardError::NotInArray(vec![ID, COUNT, MIN]));
        };
        let step = number(STEP)?.unwrap_or(1);
        let max = number(MAX)?;
        let irregular = || ShardError::NotARange {
            id,
            min,
            step,
            count,
            max: max.map_or_else(String::new, |m| format!(", {MAX}={m}")),
            last: count.saturating_sub(1),
        };
        if count == 0 || step == 0 || id < min || (id - min) % step != 0 {
            return Err(irregular());
        }
        let position = (id - min) / step;
        let last = min.checked_add((count - 1).saturating_mul(step));
        if position >= count || max.is_some_and(|max| last != Some(max)) {
            return Err(irregular());
        }
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= MAX_SHARDS)
            .ok_or(ShardError::BadCount)?;
        let index = usize::try_from(position).map_err(|_| irregular())? + 1;
        Ok(Shard { index, count })
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N` with `1 <= K <= N <= MAX_SHARDS`.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let (k, n) = text.split_once('/').ok_or(ShardError::NotKOfN)?;
        let (Ok(index), Ok(count)) = (k.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(ShardError::NotNumbers);
        };
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::BadCount);
        }
        if index == 0 || index > count {
            return Err(ShardError::BadIndex(count));
        }
        Ok(Shard { index, count })
    }
}

/// How stems are split into shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardBy {
    /// A fixed hash of the stem name: every task agrees with no split file.
    #[default]
    Hash,
    /// Balanced bytes, computed once into a split file.
    Size,
}

impl ShardBy {
    /// The word used on the command line and in split files.
    pub fn name(self) -> &'static str {
        match self {
            ShardBy::Hash => "hash",
            ShardBy::Size => "size",
        }
    }
}

/// The shard (from 1) that `stem` goes to by hash, of `count` shards.
pub fn hash_shard(stem: &str, count: usize) -> usize {
    let count = count.clamp(1, MAX_SHARDS) as u64;
    // The remainder is below `count`, which came from a usize.
    (xxhash_rust::xxh3::xxh3_64(stem.as_bytes()) % count) as usize + 1
}

/// A split of stems into shards: each stem's shard, from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// How many shards.
    pub count: usize,
    /// How it was computed.
    pub by: ShardBy,
    shard_of: HashMap<String, usize>,
}

/// Where a stem's shard came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The split lists it.
    Listed(usize),
    /// The split does not list it (a stem found after the split file was
    /// written): it goes by hash.
    ByHash(usize),
}

impl Placement {
    /// The shard, from 1.
    pub fn shard(self) -> usize {
        match self {
            Placement::Listed(k) | Placement::ByHash(k) => k,
        }
    }
}

impl Split {
    /// Every stem (name, bytes) by hash.
    pub fn by_hash<'a>(stems: impl IntoIterator<Item = (&'a str, u64)>, count: usize) -> Split {
        let count = count.clamp(1, MAX_SHARDS);
        Split {
            count,
            by: ShardBy::Hash,
            shard_of: stems
                .into_iter()
                .map(|(name, _)| (name.to_owned(), hash_shard(name, count)))
                .collect(),
        }
    }

    /// Stems (name, bytes) balanced by bytes: largest first, ties by name,
    /// each to the shard with the fewest bytes so far (ties to the one with
    /// fewer stems, then the lowest: stems of no bytes spread evenly).
    pub fn by_size<'a>(stems: impl IntoIterator<Item = (&'a str, u64)>, count: usize) -> Split {
        let count = count.clamp(1, MAX_SHARDS);
        let mut order: Vec<(&str, u64)> = stems.into_iter().collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        // The lightest shard on top: (bytes, stems, shard), smallest first.
        let mut lightest: BinaryHeap<Reverse<(u64, usize, usize)>> =
            (1..=count).map(|k| Reverse((0, 0, k))).collect();
        let mut shard_of = HashMap::with_capacity(order.len());
        for (name, bytes) in order {
            if let Some(Reverse((load, stems, k))) = lightest.pop() {
                shard_of.insert(name.to_owned(), k);
                lightest.push(Reverse((load.saturating_add(bytes), stems + 1, k)));
            }
        }
        Split {
            count,
            by: ShardBy::Size,
            shard_of,
        }
    }

    /// The split `by` computes over `stems`.
    pub fn compute<'a>(
        by: ShardBy,
        stems: impl IntoIterator<Item = (&'a str, u64)>,
        count: usize,
    ) -> Split {
        match by {
            ShardBy::Hash => Split::by_hash(stems, count),
            ShardBy::Size => Split::by_size(stems, count),
        }
    }

    /// Where `stem` goes: the shard the split lists, or by hash.
    pub fn place(&self, stem: &str) -> Placement {
        match self.shard_of.get(stem) {
            Some(&k) => Placement::Listed(k),
            None => Placement::ByHash(hash_shard(stem, self.count)),
        }
    }

    /// How many stems the split lists.
    pub fn len(&self) -> usize {
        self.shard_of.len()
    }

    /// Whether the split lists no stem.
    pub fn is_empty(&self) -> bool {
        self.shard_of.is_empty()
    }

    /// Stems and bytes per shard, for the stems (name, bytes) given.
    pub fn loads<'a>(&self, stems: impl IntoIterator<Item = (&'a str, u64)>) -> Vec<ShardLoad> {
        let mut loads: Vec<ShardLoad> = (1..=self.count)
            .map(|shard| ShardLoad {
                shard,
                stems: Vec::new(),
                bytes: 0,
            })
            .collect();
        for (name, bytes) in stems {
            let slot = self.place(name).shard().checked_sub(1);
            if let Some(load) = slot.and_then(|i| loads.get_mut(i)) {
                load.stems.push(name.to_owned());
                load.bytes = load.bytes.saturating_add(bytes);
            }
        }
        loads
    }
}

/// One shard's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardLoad {
    /// Which shard, from 1.
    pub shard: usize,
    /// Its bytes (the members' sizes when it was computed).
    pub bytes: u64,
    /// Its stems, sorted by name.
    pub stems: Vec<String>,
}

/// A split written to a file, for every task to read the same split:
/// `stemzip run PROFILE --shard K/N --split FILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitFile {
    /// The format's version (1).
    pub stemzip_split: u32,
    /// When it was computed (UTC, RFC 3339).
    pub created: String,
    /// The profile it was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<PathBuf>,
    /// How it was computed.
    pub shard_by: ShardBy,
    /// How many shards.
    pub shards: usize,
    /// Each shard's stems and bytes.
    pub loads: Vec<ShardLoad>,
}

/// Why a split file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// Reading or writing it failed.
    #[error("split file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// It is not a split file, or not a consistent one.
    #[error("split file {}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl SplitFile {
    /// The file for `split` over `stems` (name, bytes).
    pub fn new<'a>(
        split: &Split,
        stems: impl IntoIterator<Item = (&'a str, u64)>,
        profile: Option<PathBuf>,
    ) -> SplitFile {
        let mut loads = split.loads(stems);
        for load in &mut loads {
            load.stems.sort();
        }
        SplitFile {
            stemzip_split: 1,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            profile,
            shard_by: split.by,
            shards: split.count,
            loads,
        }
    }

    /// Reads and checks a split file.
    pub fn load(path: &Path) -> Result<SplitFile, SplitError> {
        let format = |message: String| SplitError::Format {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| SplitError::Io {
            path: path.to_owned(),
            source,
        })?;
        let file: SplitFile = serde_yaml::from_str(&text)
            .map_err(|e| format(format!("not a stemzip split file: {e}")))?;
        if file.stemzip_split != 1 {
            return Err(format(format!(
                "format version {} is not one this stemzip reads (1)",
                file.stemzip_split
            )));
        }
        if file.shards == 0 || file.shards > MAX_SHARDS {
            return Err(format(format!("shards: must be from 1 to {MAX_SHARDS}")));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for load in &file.loads {
            if load.shard == 0 || load.shard > file.shards {
                return Err(format(format!(
                    "shard {} is outside 1 to {}",
                    load.shard, file.shards
                )));
            }
            for stem in &load.stems {
                if let Some(other) = seen.insert(stem, load.shard) {
                    return Err(format(format!(
                        "stem {stem:?} is in shard {other} and in shard {}",
                        load.shard
                    )));
                }
            }
        }
        Ok(file)
    }

    /// Writes the file (atomically).
    pub fn save(&self, path: &Path) -> Result<(), SplitError> {
        let io = |source| SplitError::Io {
            path: path.to_owned(),
            source,
        };
        let text = serde_yaml::to_string(self).map_err(|e| SplitError::Format {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut file = crate::temp::user_file_builder(".stemzip-split-")
            .tempfile_in(&dir)
            .map_err(io)?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        file.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// The split it holds.
    pub fn split(&self) -> Split {
        Split {
            count: self.shards,
            by: self.shard_by,
            shard_of: self
                .loads
                .iter()
                .flat_map(|l| l.stems.iter().map(|s| (s.clone(), l.shard)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn k_of_n_parses_and_rejects_what_is_not_a_shard() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/3", "", "1/100001"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_hash_is_xxh3_of_the_name_and_does_not_change() {
        // Reference values from the xxHash project's own `xxhsum -H3`
        // (printf caseA | xxhsum -H3): every release must keep placing
        // these stems in these shards.
        let reference: [(&str, u64, usize, usize); 4] = [
            ("caseA", 0x688b_1ef9_ef91_221b, 2, 4),
            ("caseB", 0xb36f_a385_28df_ae3a, 2, 3),
            ("caseC", 0x7955_6d9b_c4c7_35ef, 3, 8),
            ("caseD", 0x3944_4830_0a5e_b9d0, 2, 1),
        ];
        for (name, xxh3, of_3, of_8) in reference {
            assert_eq!(xxhash_rust::xxh3::xxh3_64(name.as_bytes()), xxh3, "{name}");
            assert_eq!(hash_shard(name, 3), of_3, "{name} of 3");
            assert_eq!(hash_shard(name, 8), of_8, "{name} of 8");
        }
    }

    #[test]
    fn adding_stems_never_moves_the_others_by_hash() {
        let before: Vec<String> = (0..200).map(|i| format!("case{i:03}")).collect();
        let mut after = before.clone();
        after.extend((200..260).map(|i| format!("case{i:03}")));
        let a = Split::by_hash(before.iter().map(|s| (s.as_str(), 1)), 7);
        let b = Split::by_hash(after.iter().map(|s| (s.as_str(), 99)), 7);
        for s in &before {
            assert_eq!(a.place(s), b.place(s), "{s} moved");
        }
    }

    #[test]
    fn the_size_split_keeps_the_heaviest_shard_under_the_mean_plus_the_largest_stem() {
        let stems: Vec<(String, u64)> = (0..300u64)
            .map(|i| (format!("s{i}"), 1 + (i * 7919) % 1000 * (1 + i % 97)))
            .collect();
        for n in [2, 3, 4, 8, 16] {
            let split = Split::by_size(stems.iter().map(|(s, b)| (s.as_str(), *b)), n);
            let loads = split.loads(stems.iter().map(|(s, b)| (s.as_str(), *b)));
            let total: u64 = stems.iter().map(|s| s.1).sum();
            let largest = stems.iter().map(|s| s.1).max().unwrap();
            let heaviest = loads.iter().map(|l| l.bytes).max().unwrap();
            assert!(heaviest as f64 <= total as f64 / n as f64 + largest as f64);
            assert_eq!(loads.iter().map(|l| l.stems.len()).sum::<usize>(), 300);
        }
    }

    #[test]
    fn the_size_split_is_largest_first_ties_by_name() {
        let split = Split::by_size([("b", 5), ("a", 5), ("c", 10), ("d", 1)], 2);
        // c (10) → 1; a (5) → 2; b (5) → 2 (5 < 10); d (1) → 1 (10 = 10, lowest).
        assert_eq!(split.place("c"), Placement::Listed(1));
        assert_eq!(split.place("a"), Placement::Listed(2));
        assert_eq!(split.place("b"), Placement::Listed(2));
        assert_eq!(split.place("d"), Placement::Listed(1));
        assert_eq!(split.place("new"), Placement::ByHash(hash_shard("new", 2)));
        // Stems with no bytes (nothing matched yet) spread by count.
        let empty: Vec<String> = (0..9).map(|i| format!("e{i}")).collect();
        let split = Split::by_size(empty.iter().map(|s| (s.as_str(), 0)), 3);
        let loads = split.loads(empty.iter().map(|s| (s.as_str(), 0)));
        let counts: Vec<usize> = loads.iter().map(|l| l.stems.len()).collect();
        assert_eq!(counts, [3, 3, 3]);
    }

    #[test]
    fn slurm_arrays_from_zero_from_one_and_in_steps_map_to_positions() {
        let shard = |id: &str, count: &str, min: &str, max: &str, step: Option<&str>| {
            let mut vars = vec![
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_COUNT", count),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_MAX", max),
            ];
            if let Some(step) = step {
                vars.push(("SLURM_ARRAY_TASK_STEP", step));
            }
            Shard::from_slurm(env(&vars))
        };
        assert_eq!(
            shard("0", "3", "0", "2", None),
            Ok(Shard { index: 1, count: 3 })
        );
        assert_eq!(
            shard("2", "3", "0", "2", Some("1")),
            Ok(Shard { index: 3, count: 3 })
        );
        assert_eq!(
            shard("1", "3", "1", "3", None),
            Ok(Shard { index: 1, count: 3 })
        );
        assert_eq!(
            shard("5", "3", "1", "9", Some("4")),
            Ok(Shard { index: 2, count: 3 })
        );
        assert_eq!(
            shard("9", "3", "1", "9", Some("4")),
            Ok(Shard { index: 3, count: 3 })
        );
        // --array=1,5,6: no positions, whatever step Slurm reports.
        for id in ["1", "5", "6"] {
            for step in [None, Some("1"), Some("4")] {
                let e = shard(id, "3", "1", "6", step).unwrap_err().to_string();
                assert!(e.contains("not a range"), "{e}");
                assert!(e.contains(&format!("SLURM_ARRAY_TASK_ID={id},")), "{e}");
            }
        }
    }

    #[test]
    fn missing_slurm_variables_are_named() {
        let e = Shard::from_slurm(env(&[("SLURM_ARRAY_TASK_ID", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN"),
            "{e}"
        );
        let e = Shard::from_slurm(env(&[])).unwrap_err().to_string();
        assert!(e.contains("not set: SLURM_ARRAY_TASK_ID"), "{e}");
    }

    #[test]
    fn a_split_file_round_trips_and_rejects_a_stem_in_two_shards() {
        let dir = tempfile::tempdir().unwrap();
        let stems = [("a", 10), ("b", 20), ("c", 30)];
        let split = Split::by_size(stems, 2);
        let file = SplitFile::new(&split, stems, None);
        let path = dir.path().join("split.yaml");
        file.save(&path).unwrap();
        let back = SplitFile::load(&path).unwrap();
        assert_eq!(back.split(), split);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("- a", "- b");
        std::fs::write(&path, text).unwrap();
        let e = SplitFile::load(&path).unwrap_err().to_string();
        assert!(e.contains("\"b\" is in shard"), "{e}");
    }
}
