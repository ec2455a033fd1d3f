//! `stemzip run --shard K/N|auto [--shard-by HOW] [--split FILE]`: which
//! stems this task zips; and `--dry-run --shards N`: the whole split as a
//! table, written to a split file on request.

use std::io::Write;
use std::process::ExitCode;

use indicatif::BinaryBytes;

use super::{EXIT_BAD_INPUT, EXIT_OK, RunArgs};
use crate::plan::Plan;
use crate::shard::{Shard, ShardBy, Split, SplitFile};

/// The value of `--shard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    /// `K/N`.
    Fixed(Shard),
    /// `auto`: from the Slurm job array's variables.
    Auto,
}

/// Parses `--shard`'s value (clap names the flag and the value on error).
pub fn parse_shard(text: &str) -> Result<ShardArg, String> {
    if text.eq_ignore_ascii_case("auto") {
        Ok(ShardArg::Auto)
    } else {
        text.parse()
            .map(ShardArg::Fixed)
            .map_err(|e: crate::shard::ShardError| e.to_string())
    }
}

/// Parses a shard count (`--shards`, `stemzip slurm --tasks`).
pub fn parse_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=crate::shard::MAX_SHARDS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number from 1 to {}",
            crate::shard::MAX_SHARDS
        )),
    }
}

/// The value of `--shard-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShardByArg {
    /// A fixed hash of the stem name: every task agrees with no split file.
    Hash,
    /// Balanced bytes, computed once into a split file.
    Size,
}

impl From<ShardByArg> for ShardBy {
    fn from(arg: ShardByArg) -> ShardBy {
        match arg {
            ShardByArg::Hash => ShardBy::Hash,
            ShardByArg::Size => ShardBy::Size,
        }
    }
}

/// `--shard-by`, as the library's kind.
fn shard_by(args: &RunArgs) -> Option<ShardBy> {
    args.shard_by.map(ShardBy::from)
}

/// The split the arguments ask for over `plan`'s stems into `count`
/// shards: the `--split` file's, or computed here.
fn split_for(args: &RunArgs, plan: &Plan, count: usize) -> Result<(Split, Option<String>), String> {
    if let Some(path) = &args.split {
        let file = SplitFile::load(path).map_err(|e| format!("--split: {e}"))?;
        if shard_by(args) == Some(ShardBy::Hash) {
            return Err(format!(
                "--shard-by hash needs no split file, and --split {} holds a {} split",
                path.display(),
                file.shard_by.name()
            ));
        }
        if file.shards != count {
            return Err(format!(
                "--split {} splits into {} shards, but --shard has N = {count}",
                path.display(),
                file.shards
            ));
        }
        return Ok((file.split(), None));
    }
    let by = shard_by(args).unwrap_or_default();
    let warning = (by == ShardBy::Size).then(|| {
        "--shard-by size without --split: the split comes from the sizes this task sees now; \
         every task must see the same sizes, or a stem may be zipped by two tasks or none. \
         Write a split file once (--dry-run --shards N --split FILE) and give it to every task"
            .to_owned()
    });
    Ok((Split::compute(by, plan.stem_sizes(), count), warning))
}

/// Keeps only this task's shard of `plan`'s stems, when `--shard` is given;
/// a shard's run writes a report of every stem. The error names the flag
/// and the value that is wrong.
pub fn keep_shard(args: &RunArgs, plan: &mut Plan) -> Result<(), String> {
    let Some(arg) = args.shard else {
        if args.split.is_some() {
            return Err(
                "--split needs --shard K/N (to read it) or --dry-run --shards N (to write it)"
                    .to_owned(),
            );
        }
        if args.shard_by.is_some() {
            return Err("--shard-by needs --shard K/N or --dry-run --shards N".to_owned());
        }
        return Ok(());
    };
    let shard = match arg {
        ShardArg::Fixed(shard) => shard,
        ShardArg::Auto => {
            Shard::from_slurm(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?
        }
    };
    let (split, warning) = split_for(args, plan, shard.count)?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let by_hash = plan.keep_shard(shard, &split);
    if let (Some(path), true) = (&args.split, by_hash > 0) {
        eprintln!(
            "warning: {by_hash} stem(s) of shard {shard} are not in the split file {} \
             (found after it was written); they went by hash, so no task drops or repeats them",
            path.display()
        );
    }
    plan.settings.full_report = true;
    Ok(())
}

/// `--dry-run --shards N`: the split as a table (or JSON), written to
/// `--split FILE` when given.
pub fn print_split(args: &RunArgs, plan: &Plan, count: usize) -> ExitCode {
    if args.split.is_some() && shard_by(args) == Some(ShardBy::Hash) {
        eprintln!("error: --split writes a size split; --shard-by hash needs no split file");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let by = if args.split.is_some() {
        ShardBy::Size
    } else {
        shard_by(args).unwrap_or_default()
    };
    let split = Split::compute(by, plan.stem_sizes(), count);
    if let Some(path) = &args.split {
        let file = SplitFile::new(&split, plan.stem_sizes(), plan.profile_path.clone());
        if let Err(e) = file.save(path) {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        eprintln!("split written to {}", path.display());
    }
    let loads = split.loads(plan.stem_sizes());
    let total = plan.total_size();
    let mean = total as f64 / count as f64;
    let heaviest = loads.iter().map(|l| l.bytes).max().unwrap_or(0);
    let largest = plan.stem_sizes().map(|(_, b)| b).max().unwrap_or(0);
    let ratio = if mean > 0.0 {
        heaviest as f64 / mean
    } else {
        1.0
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "shards": count,
            "shard_by": by.name(),
            "stems": plan.stems.len(),
            "bytes": total,
            "largest_stem_bytes": largest,
            "max_over_mean": ratio,
            "loads": loads.iter().map(|l| serde_json::json!({
                "shard": l.shard, "stems": l.stems.len(), "bytes": l.bytes,
            })).collect::<Vec<_>>(),
        });
        let _ = writeln!(out, "{value}");
        return ExitCode::from(EXIT_OK);
    }
    let _ = writeln!(out, "{:>5}  {:>8}  {:>12}", "shard", "stems", "bytes");
    for l in &loads {
        let _ = writeln!(
            out,
            "{:>5}  {:>8}  {:>12}",
            l.shard,
            l.stems.len(),
            BinaryBytes(l.bytes).to_string()
        );
    }
    let _ = writeln!(
        out,
        "split by {} into {count}: {} stems, {}; heaviest shard {} = {ratio:.2} × the mean \
         (bound for size: mean + largest stem = {})",
        by.name(),
        plan.stems.len(),
        BinaryBytes(total),
        BinaryBytes(heaviest),
        BinaryBytes((mean as u64).saturating_add(largest)),
    );
    ExitCode::from(EXIT_OK)
}
