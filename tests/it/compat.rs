//! The original's real workflows run unchanged: its batch command line with a
//! dict argument, its safe defaults for bad parallel settings, its lookup of
//! relative folders, its routing keys.

use std::fs;
use std::path::Path;

use crate::helpers::*;

/// The original's base configuration, shared by every line of a batch script
/// (as in its documentation: `max_workers: 30`, `pattern: NULL`, empty
/// filter lists, folders filled in by each line's dict).
const SHARED_CONFIG: &str = "\
meta:
  library: assetutilities
  basename: zip_utilities
  label: NULL
default:
  log_level: INFO
  config:
    overwrite:
      output: True
parallel_processing:
  enabled: true
  max_workers: 30
  timeout_per_file: 3600
  save_error_reports: false
  progress_reporting: true
analysis_settings:
  flag: True
  type: zip_by_stem
  by: stem
analysis:
  flag: True
  type: zip_by_stem
  by: stem
  input_directory: NULL
  filename:
    extension: [csv]
file_management:
  flag: True
  input_directory: NULL
  output_directory: NULL
  filename:
    extension: [yml]
    pattern: NULL
    filters:
      contains: []
      not_contains: []
";

/// The original's batch script: one line per scenario, all sharing one file.
const BATCH: &str = r#"
python -m assetutilities zip_config.yml "{'meta': {'label': '03c_100yr'}, 'analysis': {'input_directory': '../output/csv/03c_100yr'}, 'file_management': {'input_directory': '../03c_100yr', 'output_directory': '../output/zip/03c_100yr'}}"
python -m assetutilities zip_config.yml "{'meta': {'label': '04a_1yr'}, 'analysis': {'input_directory': '../output/csv/04a_1yr'}, 'file_management': {'input_directory': '../04a_1yr', 'output_directory': '../output/zip/04a_1yr'}}"
"#;

/// Runs each line of a batch script with `python -m assetutilities` replaced
/// by `stemzip run`, from `dir` (where the batch file lives).
fn run_batch(dir: &Path, script: &str) {
    for line in script.lines().filter(|l| !l.trim().is_empty()) {
        let rest = line.strip_prefix("python -m assetutilities ").unwrap();
        let (config, dict) = rest.split_once(' ').unwrap();
        let out = stemzip_in(Some(dir), &["run", config, dict.trim_matches('"')]);
        assert_eq!(out.status.code(), Some(0), "{line}\n{}", stderr(&out));
    }
}

#[test]
fn the_originals_batch_script_runs_unchanged_with_dict_overrides() {
    let t = Tree::new();
    let config = t.file("scripts/zip_config.yml", SHARED_CONFIG);
    for stem in ["caseA", "caseB"] {
        t.file(&format!("03c_100yr/{stem}.yml"), "");
    }
    t.file("04a_1yr/caseC.yml", "");
    for csv in ["caseA_1.csv", "caseA_2.csv", "caseB_1.csv"] {
        t.file(&format!("output/csv/03c_100yr/{csv}"), csv);
    }
    t.file("output/csv/04a_1yr/caseC_1.csv", "c");
    // A stray file of the other scenario's name must not leak in.
    t.file("output/csv/04a_1yr/caseA_9.csv", "not this scenario's");

    run_batch(&t.path().join("scripts"), BATCH);

    let zips = t.path().join("output/zip");
    assert_eq!(list(&zips.join("03c_100yr")), ["caseA.zip", "caseB.zip"]);
    assert_eq!(list(&zips.join("04a_1yr")), ["caseC.zip"]);
    assert_eq!(
        read_zip(&zips.join("03c_100yr/caseA.zip")),
        [
            ("caseA_1.csv".to_owned(), b"caseA_1.csv".to_vec()),
            ("caseA_2.csv".to_owned(), b"caseA_2.csv".to_vec())
        ]
    );
    assert_eq!(
        zip_names(&zips.join("03c_100yr/caseB.zip")),
        ["caseB_1.csv"]
    );
    assert_eq!(zip_names(&zips.join("04a_1yr/caseC.zip")), ["caseC_1.csv"]);
    // The shared file is never written back.
    assert_eq!(fs::read_to_string(&config).unwrap(), SHARED_CONFIG);
}

#[test]
fn set_options_apply_after_the_dict_and_dry_run_shows_the_values_in_effect() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let out = stemzip(&[
        "run",
        p.to_str().unwrap(),
        "{'archive': {'compression': 'deflate', 'level': 2}, 'parallel_processing': {'timeout_per_file': 90.5}, 'file_management': {'output_directory': 'zips'}}",
        "--set",
        "archive.level=7",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("compression       deflate level 7"), "{text}");
    assert!(text.contains("timeout per stem  90.5 s"), "{text}");
    assert!(
        text.contains(&format!("{}", t.path().join("zips").display())),
        "{text}"
    );
    assert!(!t.path().join("zips").exists());
}

#[test]
fn the_run_report_records_the_profile_with_the_dict_applied() {
    let t = Tree::new();
    t.stems(&["good", "bad"]).data(&["good_1.csv", "bad_1.csv"]);
    let p = t.profile("");
    let edits = stemzip::profile::Edits {
        overlay: Some(
            "{'meta': {'label': 'scenario 7'}, 'parallel_processing': {'save_error_reports': True}}"
                .parse()
                .unwrap(),
        ),
        sets: Vec::new(),
    };
    let plan = stemzip::Plan::from_file_edited(&p, &edits).unwrap();
    fs::remove_file(t.path().join("csv/bad_1.csv")).unwrap();
    let (_, summary) = execute(plan);
    let report = stemzip::report::Report::load(&summary.report.expect("a report")).unwrap();
    let profile = report.profile().unwrap();
    assert!(profile.parallel_processing.save_error_reports);
    let yaml = profile.to_yaml().unwrap();
    assert!(yaml.contains("label: scenario 7"), "{yaml}");
    // The shared profile itself is unchanged.
    assert!(!fs::read_to_string(&p).unwrap().contains("scenario"));
}

#[test]
fn a_malformed_dict_is_refused_pointing_at_the_position() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    for (dict, at) in [
        ("{'meta': {'label': 'x'}", "--> 1:"),
        ("{'meta': {'label': x}}", "--> 1:"),
        ("['not', 'a dict']", "expected a dict"),
    ] {
        let out = stemzip(&["run", p.to_str().unwrap(), dict]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{dict}: {err}");
        assert!(
            err.contains("override argument") && err.contains(at),
            "{dict}: {err}"
        );
        assert!(!t.out().exists(), "{dict}: something written");
    }
}

#[test]
fn invalid_parallel_settings_warn_and_use_safe_defaults() {
    let cores = std::thread::available_parallelism().unwrap().get();
    // (setting, what the warning names, workers, timeout, reports, progress)
    let cases: &[(&str, &str, usize, bool, bool, bool)] = &[
        (
            "enabled: \"invalid\"",
            "`invalid`",
            cores,
            false,
            false,
            true,
        ),
        ("enabled: maybe", "`maybe`", cores, false, false, true),
        ("enabled: ''", "using `false`", 1, false, false, true),
        ("enabled: 0", "using `false`", 1, false, false, true),
        ("enabled: null", "using `false`", 1, false, false, true),
        (
            "timeout_per_file: soon",
            "using no timeout",
            cores,
            false,
            false,
            true,
        ),
        ("timeout_per_file: -5", "above 0", cores, false, false, true),
        ("timeout_per_file: 0", "above 0", cores, false, false, true),
        (
            "save_error_reports: maybe",
            "using `false`",
            cores,
            false,
            false,
            true,
        ),
        (
            "save_error_reports: 1",
            "using `false`",
            cores,
            false,
            false,
            true,
        ),
        (
            "progress_reporting: \"off\"",
            "using `true`",
            cores,
            false,
            false,
            true,
        ),
        (
            "progress_reporting: []",
            "using `true`",
            cores,
            false,
            false,
            true,
        ),
    ];
    for &(setting, named, workers, timeout, reports, progress) in cases {
        let t = Tree::new();
        t.stems(&["a"]).data(&["a_1.csv"]);
        let p = t.profile(&format!(
            "parallel_processing:\n  max_workers: {cores}\n  {setting}\n"
        ));
        let plan = plan(&p);
        assert_eq!(plan.settings.workers.get(), workers, "{setting}");
        assert_eq!(plan.settings.timeout.is_some(), timeout, "{setting}");
        assert_eq!(plan.settings.save_error_reports, reports, "{setting}");
        assert_eq!(plan.settings.progress_reporting, progress, "{setting}");
        let out = stemzip(&["run", p.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{setting}: {err}");
        let key = setting.split(':').next().unwrap();
        let warning = err
            .lines()
            .find(|l| l.starts_with("warning:") && l.contains(key))
            .unwrap_or_else(|| panic!("{setting}: no warning naming {key}: {err}"));
        assert!(warning.contains(named), "{setting}: {warning}");
        assert_eq!(t.outputs(), ["a.zip"], "{setting}");
    }
}

#[test]
fn relative_folders_are_looked_up_next_to_the_profile_then_in_the_current_folder() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    // The profile lives elsewhere; `csv` and `yml` are only in the current folder.
    let p = t.file(
        "profiles/p.yml",
        "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv]\nfile_management:\n  input_directory: yml\n  output_directory: zip\n  filename:\n    extension: [yml]\n",
    );
    let run = |dir: &Path, extra: &[&str]| {
        let mut args = vec!["run", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        stemzip_in(Some(dir), &args)
    };
    let out = run(t.path(), &["--dry-run"]);
    let (err, text) = (stderr(&out), stdout(&out));
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("analysis.input_directory: not found next to the profile; using"),
        "{err}"
    );
    assert!(
        text.contains(&t.path().join("csv").display().to_string()),
        "{text}"
    );
    // An output folder found in neither place is made next to the profile…
    let out = run(t.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(list(&t.path().join("profiles/zip")), ["a.zip"]);
    assert!(!t.out().exists());
    // …and one that only the current folder has is used there.
    fs::remove_dir_all(t.path().join("profiles/zip")).unwrap();
    fs::create_dir(t.out()).unwrap();
    let out = run(t.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("file_management.output_directory: not found next to the profile")
    );
    assert_eq!(t.outputs(), ["a.zip"]);
    assert!(!t.path().join("profiles/zip").exists());

    // Found in neither place: the message names both.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(elsewhere.path(), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&t.path().join("profiles").join("csv").display().to_string())
            && err.contains(&elsewhere.path().join("csv").display().to_string()),
        "{err}"
    );
}

#[test]
fn routing_keys_that_send_the_profile_elsewhere_are_warned_about() {
    for (section, warned) in [
        (
            "analysis_settings:\n  flag: false\n  by: stem\n",
            Some("analysis_settings.flag"),
        ),
        (
            "analysis_settings:\n  flag: true\n  by: file\n",
            Some("analysis_settings.by"),
        ),
        ("analysis_settings:\n  flag: True\n  by: stem\n", None),
        ("", None),
    ] {
        let t = Tree::new();
        t.stems(&["a"]).data(&["a_1.csv"]);
        let plan = plan(&t.profile(section));
        let found: Vec<String> = plan
            .warnings
            .iter()
            .map(ToString::to_string)
            .filter(|w| w.contains("analysis_settings"))
            .collect();
        match warned {
            Some(key) => assert!(
                found.len() == 1 && found[0].starts_with(key) && found[0].contains("would not"),
                "{section}: {found:?}"
            ),
            None => assert!(found.is_empty(), "{section}: {found:?}"),
        }
    }
}
