//! The scripts of a Slurm job array that zips a campaign in shards: one
//! array task per shard, reading one size-balanced split file written at
//! submission, and a final job (`--dependency=afterany`) that merges the
//! tasks' reports into one campaign report.
//!
//! Only text is built here; `stemzip slurm` writes it and may submit it.
//! Every path in the scripts is absolute and quoted as one shell word, and
//! nothing in them depends on the folder sbatch was called from; the
//! `#SBATCH` lines hold only values checked to need no quoting there.

use std::path::{Path, PathBuf};

/// What the scripts need to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// A name for the jobs (`stemzip-<name>`; characters other than
    /// letters, digits, `.`, `_` and `-` become `_`).
    pub name: String,
    /// The stemzip executable the tasks run (an absolute path on the
    /// cluster's shared file system).
    pub stemzip: PathBuf,
    /// The profile (absolute).
    pub profile: PathBuf,
    /// The folder the scripts, logs and task reports go in.
    pub dir: PathBuf,
    /// The split file every task reads (absolute; a new one per
    /// `stemzip slurm`, so a pending array keeps its own).
    pub split_file: PathBuf,
    /// The profile's output folder, where the campaign report goes.
    pub output_dir: PathBuf,
    /// Array tasks (shards).
    pub tasks: usize,
    /// CPUs per task (each task's workers).
    pub cpus_per_task: usize,
    /// `--time`, as Slurm writes it.
    pub time: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
}

/// The array script, under [`Job::dir`].
pub const ARRAY_SCRIPT: &str = "array.sbatch";
/// The merge job's script.
pub const MERGE_SCRIPT: &str = "merge.sbatch";
/// Submits both with the dependency (for users who submit by hand).
pub const SUBMIT_SCRIPT: &str = "submit.sh";
/// Where task output goes.
pub const LOG_DIR: &str = "logs";

/// Why the scripts cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// A path cannot be one shell word.
    #[error("{} cannot be written into a shell script (not UTF-8, or a NUL byte)", .0.display())]
    Unquotable(PathBuf),
    /// An sbatch option's value that an `#SBATCH` line cannot hold.
    #[error(
        "--{option} {value:?}: only letters, digits and - : . _ , are allowed in an sbatch option here"
    )]
    BadOption {
        /// The option (`time`, `partition`).
        option: &'static str,
        /// Its value.
        value: String,
    },
}

/// A path as one shell word.
fn word(path: &Path) -> Result<String, ScriptError> {
    path.to_str()
        .and_then(|text| shlex::try_quote(text).ok())
        .map(|q| q.into_owned())
        .ok_or_else(|| ScriptError::Unquotable(path.to_owned()))
}

/// Checks a value for an `#SBATCH` line, which sbatch reads with its own
/// rules: no spaces, quotes, `#` or control characters.
pub fn check_option(option: &'static str, value: &str) -> Result<(), ScriptError> {
    let fine = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-:._,".contains(c));
    if fine {
        Ok(())
    } else {
        Err(ScriptError::BadOption {
            option,
            value: value.to_owned(),
        })
    }
}

struct Words {
    stemzip: String,
    profile: String,
    dir: String,
    split: String,
    output_dir: String,
    logs: String,
}

impl Job {
    fn words(&self) -> Result<Words, ScriptError> {
        Ok(Words {
            stemzip: word(&self.stemzip)?,
            profile: word(&self.profile)?,
            dir: word(&self.dir)?,
            split: word(&self.split_file)?,
            output_dir: word(&self.output_dir)?,
            logs: word(&self.dir.join(LOG_DIR))?,
        })
    }

    /// The jobs' name, safe in an `#SBATCH` line.
    fn job_name(&self) -> String {
        let name: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("stemzip-{name}")
    }

    fn directives(&self) -> Result<String, ScriptError> {
        let mut text = String::new();
        if let Some(time) = &self.time {
            check_option("time", time)?;
            text.push_str(&format!("#SBATCH --time={time}\n"));
        }
        if let Some(partition) = &self.partition {
            check_option("partition", partition)?;
            text.push_str(&format!("#SBATCH --partition={partition}\n"));
        }
        Ok(text)
    }

    /// The array script: task K of N zips shard K.
    pub fn array_script(&self) -> Result<String, ScriptError> {
        let w = self.words()?;
        Ok(format!(
            r#"#!/bin/bash
# Written by `stemzip slurm`: one array task per shard of the campaign.
# Each task zips the stems the split file gives its shard, into the
# profile's output folder, and writes a report of every stem it ran into
# reports-<array job id>/ here. Submit with submit.sh (or `stemzip slurm
# --submit`), which also puts the logs in logs/ and queues the merge job.
# To zip some shards again, submit only their task ids, e.g.
#   sbatch --array=3,7 array.sbatch
#SBATCH --job-name={name}
#SBATCH --array=1-{tasks}
#SBATCH --cpus-per-task={cpus}
{directives}set -euo pipefail
# The whole array (--array=1-{tasks}, or 0-{last}): the task's position in it;
# some of its ids only (a rerun): the task id is the shard.
if [ "${{SLURM_ARRAY_TASK_COUNT:-}}" = {tasks} ]; then
    shard=auto
else
    shard="$SLURM_ARRAY_TASK_ID/{tasks}"
fi
reports={dir}/reports-"$SLURM_ARRAY_JOB_ID"
mkdir -p "$reports"
exec {stemzip} run {profile} --shard "$shard" --split {split} \
    --workers "${{SLURM_CPUS_PER_TASK:-1}}" --json \
    --report "$reports/stemzip-report-task-$SLURM_ARRAY_TASK_ID.yaml"
"#,
            name = self.job_name(),
            tasks = self.tasks,
            last = self.tasks.saturating_sub(1),
            cpus = self.cpus_per_task,
            directives = self.directives()?,
            dir = w.dir,
            stemzip = w.stemzip,
            profile = w.profile,
            split = w.split,
        ))
    }

    /// The merge job's script: its arguments are the array jobs whose
    /// reports it joins (the array, and any reruns of some of its shards).
    pub fn merge_script(&self) -> Result<String, ScriptError> {
        let w = self.words()?;
        Ok(format!(
            r#"#!/bin/bash
# Written by `stemzip slurm`: after every task of the array ended (however
# it ended), joins their reports into one campaign report in the output
# folder. Arguments: the array's job id, then those of any reruns.
#SBATCH --job-name={name}-merge
#SBATCH --cpus-per-task=1
{directives}set -euo pipefail
[ $# -ge 1 ] || {{ echo "usage: sbatch --dependency=afterany:JOB merge.sbatch JOB [RERUN_JOB...]" >&2; exit 2; }}
folders=()
for job in "$@"; do folders+=({dir}/reports-"$job"); done
exec {stemzip} report merge "${{folders[@]}}" \
    -o {output_dir}/stemzip-report-campaign-"$1".yaml
"#,
            name = self.job_name(),
            directives = self.directives()?,
            stemzip = w.stemzip,
            dir = w.dir,
            output_dir = w.output_dir,
        ))
    }

    /// The `sbatch` options that put a job's output in `logs/` (`pattern`:
    /// `%A_%a` for array tasks, `merge-%j` for the merge job).
    pub fn log_options(&self, pattern: &str) -> Vec<String> {
        // `%` starts a pattern in sbatch's file names: a literal one doubles.
        let logs = self.dir.join(LOG_DIR).to_string_lossy().replace('%', "%%");
        vec![
            format!("--chdir={}", self.dir.display()),
            format!("--output={logs}/{pattern}.out"),
            format!("--error={logs}/{pattern}.err"),
        ]
    }

    /// Submits the array, then the merge job after it.
    pub fn submit_script(&self) -> Result<String, ScriptError> {
        let w = self.words()?;
        let options = |pattern: &str| -> Result<String, ScriptError> {
            let words: Result<Vec<String>, ScriptError> = self
                .log_options(pattern)
                .iter()
                .map(|o| word(Path::new(o)))
                .collect();
            Ok(words?.join(" "))
        };
        Ok(format!(
            r#"#!/bin/bash
# Written by `stemzip slurm`: submits the array, then the merge job after it.
set -euo pipefail
mkdir -p {logs}
array=$(sbatch --parsable {array_options} {dir}/{array_script})
array=${{array%%;*}}
merge=$(sbatch --parsable --dependency=afterany:"$array" {merge_options} {dir}/{merge_script} "$array")
echo "array job $array ({tasks} tasks), merge job ${{merge%%;*}}"
"#,
            logs = w.logs,
            array_options = options("%A_%a")?,
            merge_options = options("merge-%j")?,
            dir = w.dir,
            array_script = ARRAY_SCRIPT,
            merge_script = MERGE_SCRIPT,
            tasks = self.tasks,
        ))
    }
}

// Slurm runs on Linux clusters: the scripts' paths are Unix paths.
#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            name: "my campaign".into(),
            stemzip: "/opt/stemzip/bin/stemzip".into(),
            profile: "/data/my campaign/profile.yml".into(),
            dir: "/data/my campaign/stemzip-slurm-profile".into(),
            split_file: "/data/my campaign/stemzip-slurm-profile/split-1.yaml".into(),
            output_dir: "/data/my campaign/zip".into(),
            tasks: 3,
            cpus_per_task: 4,
            time: Some("01:00:00".into()),
            partition: None,
        }
    }

    #[test]
    fn the_array_script_runs_every_shard_with_the_split_and_quotes_paths() {
        let text = job().array_script().unwrap();
        assert!(text.contains("#SBATCH --array=1-3\n"), "{text}");
        assert!(
            text.contains("#SBATCH --job-name=stemzip-my_campaign\n"),
            "{text}"
        );
        assert!(text.contains("#SBATCH --cpus-per-task=4\n"));
        assert!(text.contains("#SBATCH --time=01:00:00\n"));
        assert!(!text.contains("--partition"));
        assert!(text.contains("run '/data/my campaign/profile.yml' --shard \"$shard\" --split '/data/my campaign/stemzip-slurm-profile/split-1.yaml'"), "{text}");
        assert!(text.contains("--workers \"${SLURM_CPUS_PER_TASK:-1}\" --json"));
        let words = shlex::split(text.lines().last().unwrap_or("")).unwrap();
        assert_eq!(words.first().map(String::as_str), Some("--report"));
    }

    #[test]
    fn sbatch_option_values_that_need_quoting_are_refused() {
        let mut bad = job();
        bad.partition = Some("batch\n#SBATCH --mem=1".into());
        assert!(bad.array_script().is_err());
        bad.partition = Some("batch".into());
        bad.time = Some("1 day".into());
        assert!(bad.merge_script().is_err());
        bad.time = Some("1-00:00:00".into());
        assert!(bad.array_script().is_ok());
    }

    #[test]
    fn the_merge_script_merges_the_arrays_reports_into_the_output_folder() {
        let text = job().merge_script().unwrap();
        assert!(
            text.contains("folders+=('/data/my campaign/stemzip-slurm-profile'/reports-\"$job\")"),
            "{text}"
        );
        assert!(text.contains("-o '/data/my campaign/zip'/stemzip-report-campaign-\"$1\".yaml"));
        let submit = job().submit_script().unwrap();
        assert!(
            submit.contains("--dependency=afterany:\"$array\""),
            "{submit}"
        );
        assert!(
            submit.contains("'--output=/data/my campaign/stemzip-slurm-profile/logs/%A_%a.out'"),
            "{submit}"
        );
    }
}
