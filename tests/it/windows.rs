//! What Windows users meet: names Windows reserves, and paths shown in the
//! ordinary form.

use stemzip::plan::windows_name_problem;

use crate::helpers::*;

#[test]
fn names_windows_reserves_are_recognised_whatever_their_case_and_extension() {
    for bad in [
        "CON.zip",
        "con.zip",
        "AUX.x.zip",
        "NUL.zip",
        "PRN.zip",
        "COM1.zip",
        "lpt9.zip",
        "COM¹.zip",
        "a?b.zip",
        "a:b.zip",
        "a|b.zip",
        "a*.zip",
        "tab\t.zip",
        "trailing.",
        "trailing ",
        "LPT0.zip",
        "a\\b.zip",
        "a/b.zip",
    ] {
        assert!(windows_name_problem(bad).is_some(), "{bad:?} passed");
    }
    for good in [
        "CONSOLE.zip",
        "caseA.zip",
        "COM10.zip",
        "LPT10.zip",
        "AUXILIARY.zip",
        "日本_run.zip",
        "a b.zip",
    ] {
        assert_eq!(windows_name_problem(good), None, "{good:?}");
    }
}

/// Linux can hold `CON.zip`; Windows users then cannot open or delete it.
/// The plan says so, and the zip is still written here.
#[cfg(not(windows))]
#[test]
fn a_stem_windows_cannot_name_is_warned_about_and_still_written_here() {
    let t = Tree::new();
    t.stems(&["CON", "AUX.x", "caseA"])
        .data(&["CON_1.csv", "AUX.x_1.csv", "caseA_1.csv"]);
    let p = t.profile("");
    let out = stemzip(&["run", p.to_str().unwrap(), "--dry-run"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for zip in ["CON.zip", "AUX.x.zip"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("warning: {zip}: `"))
                    && l.contains("reserved device name on Windows")),
            "{zip}: {err}"
        );
    }
    assert!(!err.contains("caseA.zip:"), "{err}");
    let out = stemzip(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(t.outputs(), ["AUX.x.zip", "CON.zip", "caseA.zip"]);
}

/// Windows' old limit is 260 characters; Rust's standard library passes
/// longer paths in the form that lifts it. Zips, their temporary files and
/// the folder flush all work at such a depth.
#[test]
fn an_output_folder_deeper_than_260_characters_is_written() {
    let t = Tree::new();
    t.stems(&["caseA"]).data(&["caseA_1.csv"]);
    let deep = (0..12)
        .map(|i| format!("level_{i:02}_of_a_deep_archive_tree"))
        .collect::<Vec<_>>()
        .join("/");
    let p = t.profile("").to_owned();
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "output_directory: zip",
        &format!("output_directory: {deep}"),
    );
    std::fs::write(&p, text).unwrap();
    let zip = t.path().join(&deep).join("caseA.zip");
    assert!(zip.to_string_lossy().len() > 300, "{}", zip.display());
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 1, "{summary:?}");
    assert_eq!(zip_names(&zip), ["caseA_1.csv"]);
}

/// Absolute folders in a profile: a drive-letter path with `\` on Windows
/// (`C:\Users\...`), a `/` path elsewhere.
#[test]
fn absolute_folders_in_the_systems_own_form_are_used_as_written() {
    let t = Tree::new();
    t.stems(&["caseA"]).data(&["caseA_1.csv"]);
    let abs = |dir: &str| t.path().join(dir).display().to_string();
    let text = format!(
        "analysis:\n  input_directory: '{}'\n  filename:\n    extension: [csv]\nfile_management:\n  input_directory: '{}'\n  output_directory: '{}'\n  filename:\n    extension: [yml]\n",
        abs("csv"),
        abs("yml"),
        abs("zip")
    );
    if cfg!(windows) {
        assert!(text.contains(":\\"), "{text}");
    }
    // The profile lives elsewhere, so only the absolute paths can find the folders.
    let elsewhere = tempfile::tempdir().unwrap();
    let p = elsewhere.path().join("profile.yml");
    std::fs::write(&p, text).unwrap();
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 1);
    assert_eq!(t.outputs(), ["caseA.zip"]);
}

/// Explorer's preview pane, 7-Zip or a virus scanner may hold the old zip
/// open without delete sharing; it cannot be replaced then. The rename is
/// tried again for a while: when the other program lets go the zip is
/// replaced, and when it does not, only that stem fails, saying why, with
/// the old zip intact and no temporary file left.
#[cfg(windows)]
#[test]
fn a_zip_another_program_holds_open_is_retried_then_reported() {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    let open_like_a_viewer = |zip: &std::path::Path| {
        std::fs::OpenOptions::new()
            .read(true)
            .share_mode(FILE_SHARE_READ)
            .open(zip)
            .unwrap()
    };
    let t = Tree::new();
    t.stems(&["caseA"]).data(&["caseA_1.csv"]);
    let p = t.profile("");
    let zip = t.out().join("caseA.zip");
    t.file("zip/caseA.zip", "the old zip");

    // Held for good: the stem fails after its patience, the old zip stays.
    let viewer = open_like_a_viewer(&zip);
    let started = std::time::Instant::now();
    let (events, summary) = execute(plan(&p));
    drop(viewer);
    assert_eq!(summary.failed, 1);
    match outcome(&events, "caseA") {
        stemzip::Event::Failed { error, .. } => {
            assert!(error.contains("another program has it open"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= std::time::Duration::from_secs(4));
    assert_eq!(std::fs::read(&zip).unwrap(), b"the old zip");
    assert_eq!(temp_files(&t.out()), Vec::<String>::new());

    // Let go after a second: the retry replaces it.
    let viewer = open_like_a_viewer(&zip);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(1));
        drop(viewer);
    });
    let (_, summary) = execute(plan(&p));
    release.join().unwrap();
    assert_eq!(summary.done, 1);
    assert_eq!(zip_names(&zip), ["caseA_1.csv"]);
}

/// Tests of what only Unix has. On Windows each is listed by name as
/// ignored, with the reason, so the Windows run says what it did not test.
#[cfg(windows)]
mod unix_only {
    #[test]
    #[ignore = "sends SIGINT; Windows has console control events instead"]
    fn ctrl_c_cancels_cleanly_with_status_130() {}

    #[test]
    #[ignore = "Unix permission bits and umask"]
    fn zips_reports_and_profiles_get_the_permissions_any_new_file_gets() {}

    #[test]
    #[ignore = "Unix permission bits"]
    fn saving_over_a_profile_keeps_its_permissions() {}

    #[test]
    #[ignore = "symbolic links need a privilege on Windows"]
    fn links_to_files_are_followed_and_links_to_folders_or_nowhere_are_skipped_with_a_warning() {}

    #[test]
    #[ignore = "kill -9 (SIGKILL) at chosen moments"]
    fn a_run_killed_at_any_moment_leaves_only_valid_zips_and_the_next_run_cleans_up() {}

    #[test]
    #[ignore = "chmod 000 to make a file unreadable"]
    fn an_unreadable_member_fails_only_its_stem_naming_the_file_and_the_os_error() {}

    #[test]
    #[ignore = "chmod to make a folder unwritable"]
    fn an_output_folder_that_is_not_writable_fails_the_stems_with_the_os_error() {}

    #[test]
    #[ignore = "a small tmpfs mounted as a full disk (Linux)"]
    fn a_full_disk_fails_the_stem_that_does_not_fit_and_the_others_are_written() {}

    #[test]
    #[ignore = "file names that are not valid UTF-8 (Linux; Windows names are UTF-16)"]
    fn a_member_name_that_is_not_utf8_fails_only_its_stem() {}
}
