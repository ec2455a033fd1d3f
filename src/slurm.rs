//! The scripts of a Slurm job array that zips a campaign in shards: one
//! array task per shard, reading one size-balanced split file written at
//! submission, and a final job (`--dependency=afterany`) that merges the
//! tasks' reports into one campaign report.
//!
//! Only text is built here; `stemzip slurm` writes it and may submit it.

use std::path::{Path, PathBuf};

/// What the scripts need to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// A name for the jobs (`stemzip-<name>`).
    pub name: String,
    /// The stemzip executable the tasks run (an absolute path on the
    /// cluster's shared file system).
    pub stemzip: PathBuf,
    /// The profile (absolute).
    pub profile: PathBuf,
    /// The folder the scripts, the split file, logs and task reports go in.
    pub dir: PathBuf,
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

/// The files of a job, under [`Job::dir`].
pub const SPLIT_FILE: &str = "split.yaml";
/// The array script.
pub const ARRAY_SCRIPT: &str = "array.sbatch";
/// The merge job's script.
pub const MERGE_SCRIPT: &str = "merge.sbatch";
/// Submits both with the dependency (for users who submit by hand).
pub const SUBMIT_SCRIPT: &str = "submit.sh";
/// Where task output goes.
pub const LOG_DIR: &str = "logs";

/// A path as one shell word; `None` when it cannot be one (a NUL byte, a
/// name that is not UTF-8).
fn word(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    shlex::try_quote(text).ok().map(|q| q.into_owned())
}

/// Why the scripts cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("{} cannot be written into a shell script (not UTF-8, or a NUL byte)", .0.display())]
pub struct Unquotable(pub PathBuf);

impl Job {
    fn words(&self) -> Result<Words, Unquotable> {
        let q = |p: &Path| word(p).ok_or_else(|| Unquotable(p.to_owned()));
        Ok(Words {
            stemzip: q(&self.stemzip)?,
            profile: q(&self.profile)?,
            dir: q(&self.dir)?,
            split: q(&self.dir.join(SPLIT_FILE))?,
            output_dir: q(&self.output_dir)?,
            logs: q(&self.dir.join(LOG_DIR))?,
            name: shlex::try_quote(&format!("stemzip-{}", self.name))
                .map_err(|_| Unquotable(PathBuf::from(&self.name)))?
                .into_owned(),
        })
    }

    fn common_directives(&self) -> String {
        let mut text = String::new();
        if let Some(time) = &self.time {
            text.push_str(&format!("#SBATCH --time={time}\n"));
        }
        if let Some(partition) = &self.partition {
            text.push_str(&format!("#SBATCH --partition={partition}\n"));
        }
        text
    }

    /// The array script: task K of N zips shard K.
    pub fn array_script(&self) -> Result<String, Unquotable> {
        let w = self.words()?;
        Ok(format!(
            r#"#!/bin/bash
# Written by `stemzip slurm`: one array task per shard of the campaign.
# Each task zips the stems the split file gives its shard, into the
# profile's output folder, and writes a report of every stem it ran.
# Submit it from this folder (logs go to logs/ here): see submit.sh.
#SBATCH --job-name={name}
#SBATCH --array=1-{tasks}
#SBATCH --cpus-per-task={cpus}
#SBATCH --output={logs}/%A_%a.out
#SBATCH --error={logs}/%A_%a.err
{directives}set -euo pipefail
reports={dir}/reports-"$SLURM_ARRAY_JOB_ID"
mkdir -p "$reports"
exec {stemzip} run {profile} --shard auto --split {split} \
    --workers "${{SLURM_CPUS_PER_TASK:-1}}" --json \
    --report "$reports/stemzip-report-shard-$SLURM_ARRAY_TASK_ID-of-$SLURM_ARRAY_TASK_COUNT.yaml"
"#,
            name = w.name,
            tasks = self.tasks,
            cpus = self.cpus_per_task,
            logs = LOG_DIR,
            directives = self.common_directives(),
            dir = w.dir,
            stemzip = w.stemzip,
            profile = w.profile,
            split = w.split,
        ))
    }

    /// The merge job's script: its one argument is the array's job id.
    pub fn merge_script(&self) -> Result<String, Unquotable> {
        let w = self.words()?;
        Ok(format!(
            r#"#!/bin/bash
# Written by `stemzip slurm`: after every task of the array ended (however
# it ended), joins their reports into one campaign report in the output folder.
#SBATCH --job-name={name}-merge
#SBATCH --cpus-per-task=1
#SBATCH --output={logs}/merge-%j.out
{directives}set -euo pipefail
array_job="${{1:?usage: sbatch --dependency=afterany:ARRAY_JOB merge.sbatch ARRAY_JOB}}"
exec {stemzip} report merge {dir}/reports-"$array_job" \
    -o {output_dir}/stemzip-report-campaign-"$array_job".yaml
"#,
            name = w.name,
            logs = LOG_DIR,
            directives = self.common_directives(),
            stemzip = w.stemzip,
            dir = w.dir,
            output_dir = w.output_dir,
        ))
    }

    /// Submits the array, then the merge job after it.
    pub fn submit_script(&self) -> Result<String, Unquotable> {
        let w = self.words()?;
        Ok(format!(
            r#"#!/bin/bash
# Written by `stemzip slurm`: submits the array, then the merge job after it.
set -euo pipefail
cd {dir}
mkdir -p {logs}
array=$(sbatch --parsable {array})
array=${{array%%;*}}
merge=$(sbatch --parsable --dependency=afterany:"$array" {merge} "$array")
echo "array job $array ({tasks} tasks), merge job ${{merge%%;*}}"
"#,
            dir = w.dir,
            logs = w.logs,
            array = ARRAY_SCRIPT,
            merge = MERGE_SCRIPT,
            tasks = self.tasks,
        ))
    }
}

struct Words {
    stemzip: String,
    profile: String,
    dir: String,
    split: String,
    output_dir: String,
    logs: String,
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            name: "campaign".into(),
            stemzip: "/opt/stemzip/bin/stemzip".into(),
            profile: "/data/my campaign/profile.yml".into(),
            dir: "/data/my campaign/stemzip-slurm-profile".into(),
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
        assert!(text.contains("#SBATCH --cpus-per-task=4\n"));
        assert!(text.contains("#SBATCH --time=01:00:00\n"));
        assert!(!text.contains("--partition"));
        assert!(text.contains("run '/data/my campaign/profile.yml' --shard auto --split '/data/my campaign/stemzip-slurm-profile/split.yaml'"), "{text}");
        assert!(text.contains("--workers \"${SLURM_CPUS_PER_TASK:-1}\" --json"));
        let words = shlex::split(text.lines().last().unwrap_or("")).unwrap();
        assert_eq!(words.first().map(String::as_str), Some("--report"));
    }

    #[test]
    fn the_merge_script_merges_the_arrays_reports_into_the_output_folder() {
        let text = job().merge_script().unwrap();
        assert!(text.contains(
            "report merge '/data/my campaign/stemzip-slurm-profile'/reports-\"$array_job\""
        ));
        assert!(
            text.contains("-o '/data/my campaign/zip'/stemzip-report-campaign-\"$array_job\".yaml")
        );
        let submit = job().submit_script().unwrap();
        assert!(submit.contains("--dependency=afterany:\"$array\" merge.sbatch \"$array\""));
    }
}
