//! Profiles: Python-era files run unchanged, bad input is refused clearly
//! with nothing written, and a profile survives saving.

use std::fs;
use std::path::Path;

use stemzip::Profile;
use stemzip::profile::{Compression, StemMatch, Workers};

use crate::helpers::*;

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fixture folder copied into a temporary folder (the fixture stays clean).
pub fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        dir.path(),
    );
    dir
}

#[test]
fn the_originals_test_profile_writes_the_originals_zip() {
    let dir = fixture("assetutilities-tests");
    let out = stemzip(&[
        "run",
        dir.path().join("test_zip_by_stem.yml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ours = read_zip(&dir.path().join("zip/FST2F_FST1F_LWL_000deg.zip"));
    let expected = read_zip(&dir.path().join("expected/FST2F_FST1F_LWL_000deg.zip"));
    assert_eq!(ours.len(), 12);
    assert_eq!(ours, expected);
    // The stem without data files is skipped, not zipped.
    assert_eq!(
        list(&dir.path().join("zip")),
        ["FST2F_FST1F_LWL_000deg.zip"]
    );
    let mut archive = zip::ZipArchive::new(
        fs::File::open(dir.path().join("zip/FST2F_FST1F_LWL_000deg.zip")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        archive.by_index(0).unwrap().compression(),
        zip::CompressionMethod::Stored
    );
    check_with_readers(&dir.path().join("zip/FST2F_FST1F_LWL_000deg.zip"));
}

#[test]
fn the_originals_example_and_base_config_load_with_their_values() {
    let dir = fixture("assetutilities-example");
    let p = Profile::load(&dir.path().join("input.yml")).unwrap();
    assert_eq!(
        p.parallel_processing.max_workers,
        Workers::Count(4.try_into().unwrap())
    );
    assert!(p.default.config.overwrite.output);
    assert_eq!(p.file_management.output_directory.as_deref(), Some("zip"));
    assert_eq!(p.file_management.filename.pattern, None);
    let out = stemzip(&["run", dir.path().join("input.yml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(list(&dir.path().join("zip")), ["caseA.zip", "caseB.zip"]);

    let base = Profile::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/assetutilities-base-config.yml"),
    )
    .unwrap();
    assert_eq!(base.parallel_processing.timeout_per_file, Some(3600.0));
    assert_eq!(
        base.parallel_processing.max_workers,
        Workers::Count(30.try_into().unwrap())
    );
}

#[test]
fn missing_sections_take_their_defaults() {
    let p = profile_from("analysis:\n  input_directory: csv\n");
    assert!(p.parallel_processing.enabled);
    assert_eq!(p.parallel_processing.max_workers, Workers::Auto);
    assert!(!p.parallel_processing.save_error_reports);
    assert!(p.parallel_processing.progress_reporting);
    assert!(p.default.config.overwrite.output);
    assert_eq!(p.archive.stem_match, StemMatch::Contains);
    assert_eq!(p.archive.compression, Compression::Stored);
}

#[test]
fn default_folders_are_the_profiles_folder_and_results() {
    let t = Tree::new();
    t.file("a.yml", "");
    t.data(&["a_1.csv"]);
    let p = t.file(
        "profile.yml",
        "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv]\nfile_management:\n  filename:\n    extension: [yml]\n",
    );
    let plan = plan(&p);
    // profile.yml itself is a .yml in the profile's folder: a stem with no members.
    assert_eq!(
        plan.stems
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["a", "profile"]
    );
    assert_eq!(plan.output_dir, t.path().join("results"));
}

#[test]
fn windows_style_relative_paths_run_here() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.file(
        "profiles/p.yml",
        "analysis:\n  input_directory: ..\\csv\n  filename:\n    extension: [csv]\nfile_management:\n  input_directory: ..\\yml\n  output_directory: ..\\out\\zips\n  filename:\n    extension: [yml]\n",
    );
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 1);
    assert_eq!(list(&t.path().join("out/zips")), ["a.zip"]);
}

/// Regression: saving replaced the file with a new one with the default
/// permissions (owner-only at first), so a shared, group-writable profile
/// lost its group's write access.
#[cfg(unix)]
#[test]
fn saving_over_a_profile_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tree::new();
    let p = t.profile("");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o664)).unwrap();
    let mut profile = Profile::load(&p).unwrap();
    profile.archive.level = Some(3);
    profile.save(&p).unwrap();
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o664
    );
    assert_eq!(Profile::load(&p).unwrap().archive.level, Some(3));
}

#[test]
fn a_profile_survives_save_and_load_with_unknown_keys() {
    let dir = fixture("assetutilities-example");
    let mut p = Profile::load(&dir.path().join("input.yml")).unwrap();
    p.archive.compression = Compression::Deflate;
    p.archive.level = Some(9);
    p.parallel_processing.timeout_per_file = Some(12.5);
    let saved = dir.path().join("saved.yml");
    p.save(&saved).unwrap();
    let again = Profile::load(&saved).unwrap();
    assert_eq!(again, p);
    let text = fs::read_to_string(&saved).unwrap();
    for kept in [
        "meta:",
        "basename: zip_utilities",
        "log_level: INFO",
        "analysis_settings:",
        "type: zip_by_stem",
    ] {
        assert!(text.contains(kept), "{kept} lost:\n{text}");
    }
    // And the saved profile runs.
    let out = stemzip(&["run", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_invalid_worker_count_warns_and_uses_every_core() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("parallel_processing:\n  max_workers: many\n");
    let plan = plan(&p);
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(plan.settings.workers.get(), cores);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.to_string().contains("max_workers"))
    );
    let out = stemzip(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("max_workers: `many`"),
        "{}",
        stderr(&out)
    );
}

/// Each bad profile: exit status 2, a message naming the key (and the line
/// for syntax errors), and nothing written.
#[test]
fn bad_profiles_are_refused_naming_the_key_and_nothing_is_written() {
    let cases: &[(&str, &str)] = &[
        ("archive:\n  compression: rar\n", "archive.compression"),
        (
            "archive:\n  compression: deflate\n  level: 12\n",
            "archive.level",
        ),
        (
            "default:\n  config:\n    overwrite:\n      output: [1]\n",
            "default.config.overwrite.output",
        ),
        ("archive:\n  stem_match: fuzzy\n", "archive.stem_match"),
        (
            "    filters:\n      regex: '(unclosed'\n",
            "file_management.filename.filters.regex",
        ),
        (
            "    filters:\n      min_size_kb: -1\n",
            "file_management.filename.filters.min_size_kb",
        ),
    ];
    for (extra, key) in cases {
        let t = Tree::new();
        t.stems(&["a"]).data(&["a_1.csv"]);
        let p = t.profile(extra);
        let out = stemzip(&["run", p.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra}: {err}");
        assert!(
            err.contains(key),
            "{extra}: message does not name {key}: {err}"
        );
        assert!(!t.out().exists(), "{extra}: output written");
    }
}

#[test]
fn missing_folders_and_files_in_place_of_folders_are_refused() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "analysis:\n  input_directory: nowhere\n",
            "analysis.input_directory",
            "does not exist",
        ),
        (
            "analysis:\n  filename:\n    extension: [csv]\n",
            "analysis.input_directory",
            "required",
        ),
        (
            "file_management:\n  input_directory: profile.yml\n",
            "file_management.input_directory",
            "not a folder",
        ),
        (
            "file_management:\n  output_directory: profile.yml\n",
            "file_management.output_directory",
            "not a folder",
        ),
        (
            "analysis:\n  input_directory: csv\n",
            "analysis.filename.extension",
            "no extensions",
        ),
    ];
    for (text, key, what) in cases {
        let t = Tree::new();
        t.stems(&["a"]).data(&["a_1.csv"]);
        let p = t.file("profile.yml", *text);
        let out = stemzip(&["run", p.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(key) && err.contains(what), "{text}: {err}");
        assert_eq!(
            list(t.path()),
            ["csv", "profile.yml", "yml"],
            "{text}: something written"
        );
    }
}

#[test]
fn a_yaml_syntax_error_names_the_line() {
    let t = Tree::new();
    let p = t.file(
        "profile.yml",
        "analysis:\n  input_directory: csv\n  filename: [unclosed\n",
    );
    let out = stemzip(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("syntax") && err.contains("line "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_yaml_alias_bomb_is_refused_not_expanded() {
    let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let this = (b'a' + i) as char;
        text.push_str(&format!(
            "{this}: &{this} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    let t = Tree::new();
    let p = t.file("profile.yml", text);
    let out = stemzip(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn set_overrides_any_key_and_rejects_unknown_ones() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let plan = plan_with(
        &p,
        &[
            "archive.compression=deflate",
            "archive.level=1",
            "parallel_processing.max_workers=1",
        ],
    );
    assert_eq!(plan.settings.compression, Compression::Deflate);
    assert_eq!(plan.settings.level, Some(1));
    assert_eq!(plan.settings.workers.get(), 1);

    let out = stemzip(&[
        "run",
        p.to_str().unwrap(),
        "--set",
        "archive.compresion=deflate",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("archive.compresion"),
        "{}",
        stderr(&out)
    );
    assert!(!t.out().exists());
}
