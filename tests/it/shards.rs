//! A campaign past one machine: shards that share an output folder,
//! split files, the Slurm helper's scripts, and reports merged into one.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use stemzip::StemStatus;
use stemzip::report::Report;

use crate::helpers::*;

/// `n` stems of 1 to 3 files each, of sizes spread over two orders of
/// magnitude, compressible but not trivially.
fn campaign(n: usize) -> Tree {
    let t = Tree::new();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..n {
        let stem = format!("case{i:03}");
        t.stems(&[&stem]);
        for part in 0..(1 + i % 3) {
            let len = 200 * (1 + (i * 37) % 100);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    b"0123456789,.\n "[(seed >> 59) as usize % 14]
                })
                .collect();
            t.file(&format!("csv/{stem}_part{part}.csv"), bytes);
        }
    }
    t
}

fn stem_names(n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("case{i:03}")).collect()
}

/// The zips in `dir` with their bytes.
fn zips(dir: &Path) -> Vec<(String, Vec<u8>)> {
    list(dir)
        .into_iter()
        .filter(|n| n.ends_with(".zip"))
        .map(|n| {
            let bytes = fs::read(dir.join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

/// A one-machine run of `profile` into `zip-one/`: what the shards together
/// must give, byte for byte.
fn one_machine_zips(t: &Tree, profile: &Path) -> Vec<(String, Vec<u8>)> {
    let p = profile.to_str().unwrap();
    let o = stemzip(&[
        "run",
        p,
        "--set",
        "file_management.output_directory=zip-one",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    zips(&t.path().join("zip-one"))
}

fn reports_in(dir: &Path) -> Vec<String> {
    list(dir)
        .into_iter()
        .filter(|n| stemzip::report::is_report_name(n))
        .collect()
}

#[test]
fn shards_writing_into_one_folder_at_once_give_exactly_the_one_machine_zips() {
    let n = 90;
    let t = campaign(n);
    let p = t.profile("archive:\n  compression: deflate\n");
    // Left by a killed run two hours ago: the first task to start removes
    // it, while the live tasks' own temporary files are never touched.
    fs::create_dir_all(t.out()).unwrap();
    let stale = t.out().join(".stemzip-AAAAAAAAAAAA.partial");
    fs::write(&stale, "stale").unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    filetime::set_file_mtime(&stale, filetime::FileTime::from_system_time(two_hours_ago)).unwrap();
    let expected = one_machine_zips(&t, &p);
    assert_eq!(expected.len(), n);

    let shards = 4;
    let tasks: Vec<_> = (1..=shards)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_stemzip"))
                .args(["run", p.to_str().unwrap(), "--workers", "2"])
                .args(["--shard", &format!("{k}/{shards}")])
                .output_async()
        })
        .collect();
    for task in tasks {
        let o = task.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }

    assert_eq!(
        zips(&t.out()),
        expected,
        "the shards' zips differ from one run's"
    );
    assert_eq!(temp_files(&t.out()), Vec::<String>::new());
    // One report per shard, apart, each listing every stem of its shard.
    let reports = reports_in(&t.out());
    assert_eq!(reports.len(), shards, "{reports:?}");
    let mut seen = BTreeSet::new();
    for k in 1..=shards {
        let tag = format!("-shard-{k}-of-{shards}.yaml");
        let name = reports.iter().find(|r| r.ends_with(&tag)).expect(&tag);
        let report = Report::load(&t.out().join(name)).unwrap();
        assert!(report.complete);
        assert_eq!(report.shard.map(|s| (s.index, s.count)), Some((k, shards)));
        for s in &report.stems {
            assert_eq!(s.status, StemStatus::Done, "{s:?}");
            assert!(seen.insert(s.stem.clone()), "{} in two shards", s.stem);
        }
    }
    assert_eq!(seen, stem_names(n));
}

fn dry_run_json(args: &[&str]) -> serde_json::Value {
    let o = stemzip(args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn planned_stems(value: &serde_json::Value) -> Vec<String> {
    value["stems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stem"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_size_split_file_gives_every_task_the_same_shards_and_new_stems_go_by_hash() {
    let n = 60;
    let t = campaign(n);
    let p = t.profile("");
    let p = p.to_str().unwrap();
    let split = t.path().join("split.yaml");
    let split = split.to_str().unwrap();
    let table = dry_run_json(&[
        "run",
        p,
        "--dry-run",
        "--shards",
        "3",
        "--split",
        split,
        "--json",
    ]);
    assert_eq!(table["shard_by"], "size");
    let loads: Vec<u64> = table["loads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["bytes"].as_u64().unwrap())
        .collect();
    let total: u64 = loads.iter().sum();
    let largest = table["largest_stem_bytes"].as_u64().unwrap();
    assert!(
        *loads.iter().max().unwrap() <= total / 3 + largest,
        "{loads:?}"
    );

    // The files grow after the split was written, and a stem is added:
    // the tasks still agree, by the file and then by hash.
    fs::write(t.path().join("csv/case000_part0.csv"), vec![b'x'; 500_000]).unwrap();
    t.stems(&["late"]).data(&["late_1.csv"]);
    let mut all = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let value = dry_run_json(&[
            "run",
            p,
            "--dry-run",
            "--json",
            "--shard",
            &shard,
            "--split",
            split,
        ]);
        assert_eq!(value["shard"]["index"], k);
        let stems = planned_stems(&value);
        let listed = table["loads"][k - 1]["stems"].as_u64().unwrap() as usize;
        let late = usize::from(stems.iter().any(|s| s == "late"));
        assert_eq!(stems.len(), listed + late, "shard {k}: {stems:?}");
        all.extend(stems);
    }
    all.sort();
    let mut expected: Vec<String> = stem_names(n).into_iter().collect();
    expected.push("late".to_owned());
    assert_eq!(all, expected, "every stem exactly once over the shards");

    // The file's N must be the shard's.
    let o = stemzip(&["run", p, "--shard", "1/4", "--split", split]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("splits into 3 shards, but --shard has N = 4"),
        "{}",
        stderr(&o)
    );
    assert!(t.outputs().is_empty());
}

#[test]
fn bad_shard_arguments_name_the_flag_and_the_value_and_write_nothing() {
    let t = campaign(3);
    let p = t.profile("");
    let p = p.to_str().unwrap();
    for (args, says) in [
        (vec!["--shard", "0/3"], "'0/3' for '--shard"),
        (vec!["--shard", "4/3"], "'4/3' for '--shard"),
        (vec!["--shard", "3"], "'3' for '--shard"),
        (vec!["--shard", "a/b"], "'a/b' for '--shard"),
        (
            vec!["--shard", "1/3", "--shard-by", "weight"],
            "'weight' for '--shard-by",
        ),
        (vec!["--split", "nowhere.yaml"], "--split needs --shard"),
        (
            vec!["--shard", "1/3", "--split", "nowhere.yaml"],
            "nowhere.yaml",
        ),
    ] {
        let mut all = vec!["run", p];
        all.extend(&args);
        let o = stemzip(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert!(t.outputs().is_empty());
}

fn stemzip_with_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stemzip"));
    command.args(args);
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_STEP",
    ] {
        command.env_remove(var);
    }
    command.envs(vars.iter().copied());
    command.output().unwrap()
}

#[test]
fn shard_auto_takes_the_position_in_a_slurm_array_and_refuses_what_has_none() {
    let t = campaign(30);
    let p = t.profile("");
    let p = p.to_str().unwrap();
    let dry = ["run", p, "--dry-run", "--json", "--shard", "auto"];
    // --array=1-9:4 → ids 1, 5, 9: shards 1, 2, 3 of 3, the same as K/3.
    for (id, k) in [("1", 1), ("5", 2), ("9", 3)] {
        let vars = [
            ("SLURM_ARRAY_TASK_ID", id),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "9"),
            ("SLURM_ARRAY_TASK_STEP", "4"),
        ];
        let o = stemzip_with_env(&dry, &vars);
        assert!(o.status.success(), "{}", stderr(&o));
        let auto: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let fixed = dry_run_json(&[
            "run",
            p,
            "--dry-run",
            "--json",
            "--shard",
            &format!("{k}/3"),
        ]);
        assert_eq!(planned_stems(&auto), planned_stems(&fixed), "task {id}");
    }
    // --array=1,5,6 has no positions; no variables at all names them.
    let irregular = [
        ("SLURM_ARRAY_TASK_ID", "5"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_MAX", "6"),
    ];
    let o = stemzip_with_env(&dry, &irregular);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a range"), "{}", stderr(&o));
    let o = stemzip_with_env(&dry, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SLURM_ARRAY_TASK_ID"), "{}", stderr(&o));
}

#[test]
fn merge_takes_the_latest_run_of_a_retried_shard_and_says_what_it_superseded() {
    let t = campaign(12);
    let p = t.profile("");
    let p = p.to_str().unwrap();
    // One stem of shard 1 fails: its zip's name is taken by a folder.
    let first = dry_run_json(&["run", p, "--dry-run", "--json", "--shard", "1/2"]);
    let victim = planned_stems(&first)[0].clone();
    fs::create_dir_all(t.out().join(format!("{victim}.zip"))).unwrap();
    let reports = t.path().join("reports");
    let report = |name: &str| reports.join(name).to_str().unwrap().to_owned();
    let merge = |inputs: &[&str], out: &Path| {
        let mut args = vec!["report", "merge"];
        args.extend_from_slice(inputs);
        args.extend(["-o", out.to_str().unwrap()]);
        stemzip(&args)
    };

    let o = stemzip(&["run", p, "--shard", "1/2", "--report", &report("1a.yaml")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = stemzip(&["run", p, "--shard", "2/2", "--report", &report("2.yaml")]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Merged before the retry: the failure shows, and the exit says so.
    let merged = t.path().join("merged.yaml");
    let o = merge(&[&report("1a.yaml"), &report("2.yaml")], &merged);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = Report::load(&merged).unwrap();
    assert_eq!(
        (m.summary.stems, m.summary.done, m.summary.failed),
        (12, 11, 1)
    );

    // Retried after the fix; given in any order, the latest run wins.
    fs::remove_dir(t.out().join(format!("{victim}.zip"))).unwrap();
    let o = stemzip(&["run", p, "--shard", "1/2", "--report", &report("1b.yaml")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = merge(
        &[&report("1b.yaml"), &report("2.yaml"), &report("1a.yaml")],
        &merged,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("superseded: {victim} (failed in")),
        "{}",
        stderr(&o)
    );
    let m = Report::load(&merged).unwrap();
    assert_eq!(
        (m.summary.stems, m.summary.done, m.summary.failed),
        (12, 12, 0)
    );
    let names: Vec<&str> = m.stems.iter().map(|s| s.stem.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "a stem listed twice");
    let superseded: Vec<(&str, StemStatus)> = m
        .superseded
        .iter()
        .filter(|s| s.stem == victim)
        .map(|s| (s.stem.as_str(), s.status))
        .collect();
    assert_eq!(superseded, [(victim.as_str(), StemStatus::Failed)]);
    assert_eq!(m.superseded.len(), first["stems"].as_array().unwrap().len());
    assert_eq!(m.merged_from.len(), 3);

    // A merged report merged again with a later retry: the retry wins, and
    // the shards the merged report covered are not missing.
    let early = t.path().join("early.yaml");
    let o = merge(&[&report("1a.yaml"), &report("2.yaml")], &early);
    assert_eq!(o.status.code(), Some(1));
    let o = merge(&[&report("1b.yaml"), early.to_str().unwrap()], &merged);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = Report::load(&merged).unwrap();
    assert_eq!(
        (m.summary.stems, m.summary.done, m.summary.failed),
        (12, 12, 0)
    );

    // A shard that never reported is named, and the exit says so.
    let o = merge(&[&report("2.yaml")], &merged);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no report of shard(s) 1 was given"),
        "{}",
        stderr(&o)
    );
}

/// The helper's scripts, run as Slurm would run them (each array task
/// with the variables Slurm sets in it, side by side, then the merge job):
/// what a cluster runs, on a machine without one. CI also runs them on a
/// real Slurm (`.ci/slurm`).
#[test]
#[cfg_attr(
    not(unix),
    ignore = "runs the helper's bash scripts, which run on Linux clusters"
)]
fn the_slurm_helpers_scripts_zip_every_stem_once_and_merge_one_report() {
    let n = 40;
    let t = campaign(n);
    let p = t.profile("");
    let expected = one_machine_zips(&t, &p);
    let job = t.path().join("slurm job");
    let o = stemzip(&[
        "slurm",
        p.to_str().unwrap(),
        "--tasks",
        "3",
        "--cpus-per-task",
        "1",
        "--time",
        "10:00",
        "--dir",
        job.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let array = fs::read_to_string(job.join("array.sbatch")).unwrap();
    assert!(array.contains("#SBATCH --array=1-3\n"), "{array}");
    assert!(array.contains("#SBATCH --time=10:00\n"), "{array}");
    let split_files: Vec<String> = list(&job)
        .into_iter()
        .filter(|n| n.starts_with("split-") && n.ends_with(".yaml"))
        .collect();
    assert_eq!(split_files.len(), 1, "{split_files:?}");
    let split = stemzip::shard::SplitFile::load(&job.join(&split_files[0])).unwrap();
    assert_eq!(split.shard_by, stemzip::shard::ShardBy::Size);

    // Each task as Slurm starts it: its id, and the array's variables.
    let task = |array_job: &str, ids: &[usize], id: usize| {
        let (min, max) = (ids[0], ids[ids.len() - 1]);
        Command::new("bash")
            .arg(job.join("array.sbatch"))
            .envs([
                ("SLURM_ARRAY_JOB_ID", array_job.to_owned()),
                ("SLURM_ARRAY_TASK_ID", id.to_string()),
                ("SLURM_ARRAY_TASK_COUNT", ids.len().to_string()),
                ("SLURM_ARRAY_TASK_MIN", min.to_string()),
                ("SLURM_ARRAY_TASK_MAX", max.to_string()),
                ("SLURM_ARRAY_TASK_STEP", "1".to_owned()),
                ("SLURM_CPUS_PER_TASK", "1".to_owned()),
            ])
            .output_async()
    };
    let merge = |jobs: &[&str]| {
        let o = Command::new("bash")
            .arg(job.join("merge.sbatch"))
            .args(jobs)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    };
    let tasks: Vec<_> = (1..=3).map(|id| task("4242", &[1, 2, 3], id)).collect();
    for running in tasks {
        let o = running.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    merge(&["4242"]);

    assert_eq!(zips(&t.out()), expected);
    assert_eq!(temp_files(&t.out()), Vec::<String>::new());
    let campaign = t.out().join("stemzip-report-campaign-4242.yaml");
    let merged = Report::load(&campaign).unwrap();
    let names: Vec<String> = merged.stems.iter().map(|s| s.stem.clone()).collect();
    assert_eq!(names, stem_names(n).into_iter().collect::<Vec<_>>());
    assert_eq!(merged.summary.done, n);
    assert_eq!(merged.merged_from.len(), 3);

    // Shard 2 zipped again, the README's way (`sbatch --array=2`): a
    // one-task array whose task id is the shard; merged with the first run.
    let o = task("4343", &[2], 2).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    merge(&["4242", "4343"]);
    let merged = Report::load(&campaign).unwrap();
    assert_eq!(merged.summary.done, n);
    assert_eq!(merged.merged_from.len(), 4);
    let shard_2 = split.loads.iter().find(|l| l.shard == 2).unwrap();
    assert_eq!(merged.superseded.len(), shard_2.stems.len());
    assert_eq!(zips(&t.out()), expected);
}

trait OutputAsync {
    fn output_async(&mut self) -> std::process::Child;
}

impl OutputAsync for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}
