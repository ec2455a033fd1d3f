//! The window, driven through its AccessKit labels with egui_kittest: the
//! real app state, the real engine, a fixture profile.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use stemzip::StemStatus;
use stemzip::gui::{AppOptions, Command, Dialogs, StemzipApp};

use crate::helpers::*;
use crate::profiles::fixture;

fn window<'a>(config: &Path, profile: Option<&Path>) -> Harness<'a, StemzipApp> {
    window_with(config, profile, None)
}

/// The window as `stemzip gui PROFILE OVERRIDES` opens it.
fn window_with<'a>(
    config: &Path,
    profile: Option<&Path>,
    overrides: Option<&str>,
) -> Harness<'a, StemzipApp> {
    window_asking(config, profile, overrides, Dialogs::Scripted)
}

/// The window with the given kind of file dialogs.
fn window_asking<'a>(
    config: &Path,
    profile: Option<&Path>,
    overrides: Option<&str>,
    dialogs: Dialogs,
) -> Harness<'a, StemzipApp> {
    let options = AppOptions {
        config_dir: Some(config.to_owned()),
        profile: profile.map(Path::to_owned),
        run_now: false,
        overlay: overrides.map(|o| o.parse().unwrap()),
        dialogs,
        desktop_notifications: false,
    };
    Harness::builder()
        .with_size([1280.0, 900.0])
        .build_eframe(move |cc| StemzipApp::new(Some(cc.egui_ctx.clone()), None, options))
}

/// The window opened on `profile` with a fresh config folder, settled.
fn opened<'a>(profile: &Path) -> (tempfile::TempDir, Harness<'a, StemzipApp>) {
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), Some(profile));
    settled(&mut h);
    (config, h)
}

/// Steps the window until `done` holds (background threads answer meanwhile).
fn step_until(h: &mut Harness<'_, StemzipApp>, what: &str, done: impl Fn(&StemzipApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(2);
}

/// Waits until file work and the preview are done.
fn settled(h: &mut Harness<'_, StemzipApp>) {
    h.step();
    step_until(h, "files and the preview", |app| {
        !app.is_busy_with_files() && !app.is_planning()
    });
}

fn status_of(h: &Harness<'_, StemzipApp>, stem: &str) -> String {
    // A status cell reads "<stem> status: <status>" to assistive technology.
    let prefix = format!("{stem} status: ");
    let node = h.get_by(|n| n.value().is_some_and(|v| v.starts_with(&prefix)));
    let text = node.accesskit_node().value().unwrap_or_default();
    text[prefix.len()..].to_owned()
}

#[test]
fn run_the_fixture_profile_and_read_every_status_from_the_table() {
    let dir = fixture("assetutilities-tests");
    let config = tempfile::tempdir().unwrap();
    let mut h = window(
        config.path(),
        Some(&dir.path().join("test_zip_by_stem.yml")),
    );
    settled(&mut h);
    assert!(h.state().title().contains("test_zip_by_stem.yml"));
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the run", |app| {
        !app.is_running() && !app.rows().is_empty()
    });
    assert_eq!(status_of(&h, "FST2F_FST1F_LWL_000deg"), "done");
    assert_eq!(status_of(&h, "FST2L_FST1L_HWL_345deg"), "skipped");
    assert_eq!(
        zip_names(&dir.path().join("zip/FST2F_FST1F_LWL_000deg.zip")).len(),
        12
    );
}

#[test]
fn the_update_checkbox_reruns_to_up_to_date_stems_in_their_own_word() {
    let t = Tree::new();
    t.stems(&["n1", "n2"]).data(&["n1_1.csv", "n2_1.csv"]);
    let p = t.profile("");
    let (_config, mut h) = opened(&p);
    let run = |h: &mut Harness<'_, StemzipApp>| {
        h.get_by_label("▶ Run").click();
        h.step();
        step_until(h, "the run", |app| {
            !app.is_running() && app.rows().iter().all(|r| r.status().is_terminal())
        });
    };
    run(&mut h);
    assert_eq!(status_of(&h, "n1"), "done");
    h.get_by_label("Update: rewrite only zips whose files changed")
        .click();
    h.step();
    assert!(h.state().doc.profile.archive.update);
    fs::write(t.path().join("csv/n2_1.csv"), "changed, and longer").unwrap();
    run(&mut h);
    assert_eq!(status_of(&h, "n1"), "up to date");
    assert_eq!(status_of(&h, "n2"), "done");
    assert_eq!(
        read_zip(&t.out().join("n2.zip"))[0].1,
        b"changed, and longer"
    );
}

#[test]
fn move_mode_asks_once_with_what_would_go_and_deletes_only_after_yes() {
    let t = Tree::new();
    t.stems(&["n1", "n2"])
        .data(&["n1_1.csv", "n2_1.csv", "n2_2.csv"]);
    let accept = if cfg!(windows) {
        "  accept_unflushed_folder: true\n"
    } else {
        ""
    };
    let p = t.profile(&format!("archive:\n  delete_originals: true\n{accept}"));
    let (_config, mut h) = opened(&p);
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the question", |app| app.move_question().is_some());
    assert_eq!(h.state().move_question(), Some((3, 3 * 17)));
    h.get_by_label("Cancel").click();
    h.step();
    assert!(h.state().move_question().is_none());
    assert!(!h.state().is_running());
    assert_eq!(
        list(&t.path().join("csv")).len(),
        3,
        "a cancelled question deletes nothing"
    );
    assert!(t.outputs().is_empty());

    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the question", |app| app.move_question().is_some());
    h.get_by_label("Zip and delete").click();
    h.step();
    step_until(&mut h, "the run", |app| {
        !app.is_running() && app.rows().iter().all(|r| r.status().is_terminal())
    });
    assert_eq!(status_of(&h, "n2"), "done");
    assert!(list(&t.path().join("csv")).is_empty());
    assert_eq!(zip_names(&t.out().join("n2.zip")), ["n2_1.csv", "n2_2.csv"]);
    let notice = h
        .state()
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default();
    assert!(notice.contains("3 original file(s) deleted"), "{notice}");
}

#[test]
fn first_launch_loads_the_bundled_example_and_it_runs() {
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    assert!(config.path().join("example/input.yml").is_file());
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the run", |app| {
        !app.is_running() && !app.rows().is_empty()
    });
    assert_eq!(status_of(&h, "caseA"), "done");
    assert_eq!(status_of(&h, "caseB"), "done");
    assert!(config.path().join("example/zip/caseA.zip").is_file());
}

#[test]
fn a_missing_folder_shows_its_error_and_disables_run() {
    let t = Tree::new();
    t.stems(&["alpha"]).data(&["alpha_1.csv"]);
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), Some(&t.profile("")));
    settled(&mut h);
    assert!(!h.get_by_label("▶ Run").accesskit_node().is_disabled());

    let field = h.get_by_label("Data folder");
    field.focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Data folder").type_text("nowhere");
    h.step();
    step_until(&mut h, "the check", |app| {
        !app.is_planning() && app.run_blocked_reason().is_some()
    });
    h.get_by(|n| {
        n.role() == egui::Role::Label && n.value().is_some_and(|v| v.contains("does not exist"))
    });
    assert!(h.get_by_label("▶ Run").accesskit_node().is_disabled());
    assert!(h.state().title().ends_with(" *"), "{}", h.state().title());
}

#[test]
fn save_then_open_gives_the_same_profile_and_keeps_unknown_keys() {
    let dir = fixture("assetutilities-example");
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), Some(&dir.path().join("input.yml")));
    settled(&mut h);
    h.get_by_label("Verify each zip after writing").click();
    h.get_by_label("Save error reports").click();
    h.run_steps(2);
    let edited = h.state().doc.profile.clone();
    assert!(edited.archive.verify && edited.parallel_processing.save_error_reports);
    assert!(h.state().doc.is_dirty());

    let saved = dir.path().join("saved.yml");
    h.state_mut().command(Command::SaveAs(saved.clone()));
    settled(&mut h);
    assert!(!h.state().doc.is_dirty());
    h.state_mut().command(Command::OpenProfile(saved.clone()));
    settled(&mut h);
    assert_eq!(h.state().doc.profile, edited);
    assert_eq!(h.state().doc.path.as_deref(), Some(saved.as_path()));
    let text = fs::read_to_string(&saved).unwrap();
    assert!(text.contains("basename: zip_utilities"), "{text}");
    // And the command line runs what the window saved.
    let out = stemzip(&["run", saved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn unsaved_changes_are_asked_about_before_opening_another_profile() {
    let dir = fixture("assetutilities-example");
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), Some(&dir.path().join("input.yml")));
    settled(&mut h);
    h.get_by_label("Verify each zip after writing").click();
    h.run_steps(2);
    let other = dir.path().join("other.yml");
    fs::copy(dir.path().join("input.yml"), &other).unwrap();
    h.state_mut().command(Command::OpenProfile(other.clone()));
    h.run_steps(2);
    // A new window area is measured on its first frame and shown on the next.
    h.run_steps(2);
    h.get_by(|n| n.role() == egui::Role::Label && n.value().as_deref() == Some("Unsaved changes"));
    assert_eq!(
        h.state().doc.path.as_deref(),
        Some(dir.path().join("input.yml").as_path())
    );
    h.get_by_label("Don't save").click();
    h.step();
    settled(&mut h);
    assert_eq!(h.state().doc.path.as_deref(), Some(other.as_path()));
    assert!(!h.state().doc.profile.archive.verify);
}

/// Choosing Save in the unsaved-changes question on an untitled profile
/// asks where to save it, saves it there, then does what the user was
/// doing (opening another profile). Cancelling that Save as… saves and
/// opens nothing.
#[test]
fn save_in_the_unsaved_question_on_an_untitled_profile_saves_then_goes_on() {
    let dir = fixture("assetutilities-example");
    let other = dir.path().join("input.yml");
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    h.state_mut().command(Command::NewProfile);
    settled(&mut h);
    assert_eq!(h.state().doc.path, None);
    let edit = |h: &mut Harness<'_, StemzipApp>| {
        h.get_by_label("Verify each zip after writing").click();
        h.run_steps(2);
    };
    let ask_to_open_and_save = |h: &mut Harness<'_, StemzipApp>| {
        h.state_mut().command(Command::OpenProfile(other.clone()));
        // A new window area is measured on its first frame and shown on the next.
        h.run_steps(4);
        h.get_by(|n| n.role() == egui::Role::Button && n.label().as_deref() == Some("Save"))
            .click();
        h.run_steps(2);
        step_until(h, "the Save as dialog", StemzipApp::is_asking);
    };

    // Cancelled: nothing saved, nothing opened, and nothing left waiting.
    edit(&mut h);
    ask_to_open_and_save(&mut h);
    h.state_mut().answer_dialog(None);
    h.run_steps(3);
    assert_eq!(h.state().doc.path, None);
    assert!(h.state().doc.is_dirty());

    // Saved: the file holds the edit, then the other profile is open.
    ask_to_open_and_save(&mut h);
    let saved = dir.path().join("untitled.yml");
    h.state_mut().answer_dialog(Some(saved.clone()));
    h.step();
    step_until(&mut h, "the other profile", |app| {
        app.doc.path.as_deref() == Some(other.as_path())
    });
    settled(&mut h);
    let written = stemzip::Profile::load(&saved).unwrap();
    assert!(written.archive.verify, "the edit was not saved");
}

/// A tree with a stem too big to finish (64 GiB, sparse) and a small one,
/// one worker: the big stem runs first and the small one waits.
fn big_and_small() -> (Tree, std::path::PathBuf) {
    let t = Tree::new();
    t.stems(&["big", "small"]).data(&["small_1.csv"]);
    fs::File::create(t.path().join("csv/big_1.csv"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let p = t.profile(
        "parallel_processing:\n  max_workers: 1\narchive:\n  compression: deflate\n  level: 1\n",
    );
    (t, p)
}

/// Waits until the big stem of [`big_and_small`] is running.
fn until_big_runs(h: &mut Harness<'_, StemzipApp>) {
    step_until(h, "the big stem to start", |app| {
        app.rows()
            .iter()
            .any(|r| r.stem() == "big" && r.status() == StemStatus::Running)
    });
}

/// Clicks Run, waits for the big stem of [`big_and_small`] to run, clicks
/// Cancel and waits for the run to stop.
fn run_then_cancel(h: &mut Harness<'_, StemzipApp>) {
    h.get_by_label("▶ Run").click();
    h.step();
    until_big_runs(h);
    h.get_by_label("■ Cancel").click();
    h.step();
    step_until(h, "the run to stop", |app| !app.is_running());
}

#[test]
fn cancel_stops_a_run() {
    let (t, p) = big_and_small();
    let (_config, mut h) = opened(&p);
    run_then_cancel(&mut h);
    assert_eq!(status_of(&h, "big"), "cancelled");
    assert_eq!(status_of(&h, "small"), "cancelled");
    assert!(t.outputs().is_empty(), "{:?}", t.outputs());
}

/// "Save run report…" writes the engine's report of the run that ran: a
/// cancelled run is marked cancelled, the profile is the one that ran (not
/// the form as edited since), the output folder is the engine's, and a
/// reopened report shows each stem's planned input, also for a stem that
/// read nothing.
#[test]
fn the_saved_run_report_is_the_engines_report_of_the_run_that_ran() {
    let (t, p) = big_and_small();
    let (_config, mut h) = opened(&p);
    run_then_cancel(&mut h);
    // Edited after the run: not what ran.
    h.state_mut().doc.profile.archive.level = Some(9);

    let saved = t.path().join("saved-report.yaml");
    h.state_mut().command(Command::SaveReport(saved.clone()));
    h.step();
    step_until(&mut h, "the report to be saved", |_| saved.exists());
    let report = stemzip::report::Report::load(&saved).unwrap();
    assert!(report.summary.was_cancelled, "{:?}", report.summary);
    assert_eq!(report.summary.cancelled, 2);
    assert_eq!(report.profile["archive"]["level"].as_i64(), Some(1));
    assert_eq!(
        fs::canonicalize(&report.output_directory).ok(),
        fs::canonicalize(t.out()).ok()
    );

    // Reopened in a new window (this one has unsaved edits).
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    h.state_mut().command(Command::OpenReport(saved));
    settled(&mut h);
    step_until(&mut h, "the report to open", |app| {
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.starts_with("opened report"))
    });
    let small = h
        .state()
        .rows()
        .iter()
        .find(|r| r.stem() == "small")
        .cloned();
    let planned = fs::metadata(t.path().join("csv/small_1.csv"))
        .unwrap()
        .len();
    assert_eq!(small.map(|r| r.bytes_total), Some(planned));
}

#[test]
fn opening_a_saved_error_report_lists_its_failed_stems_for_retry() {
    let t = Tree::new();
    let (p, report) = run_with_a_failed_stem(&t);

    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    h.state_mut().command(Command::OpenReport(report));
    settled(&mut h);
    assert_eq!(status_of(&h, "bad"), "failed");
    assert_eq!(h.state().doc.path.as_deref(), Some(p.as_path()));
    let retry = h.get_by_label("Retry failed");
    assert!(!retry.accesskit_node().is_disabled());

    // The file is back: retrying runs only the failed stem, against the report's profile.
    fs::write(t.path().join("csv/bad_1.csv"), "now here").unwrap();
    h.get_by_label("Retry failed").click();
    h.step();
    step_until(&mut h, "the retry", |app| {
        !app.is_running() && app.rows().iter().all(|r| r.status() != StemStatus::Failed)
    });
    assert_eq!(status_of(&h, "bad"), "done");
    assert_eq!(zip_names(&t.out().join("bad.zip")), ["bad_1.csv"]);
}

#[test]
fn shard_reports_picked_together_open_as_one_table_and_retry_failed_reruns_its_failures() {
    let t = Tree::new();
    let stems = ["n1", "n2", "n3", "n4", "n5", "n6"];
    t.stems(&stems);
    for s in stems {
        t.data(&[&format!("{s}_1.csv")]);
    }
    let p = t.profile("");
    // Stem n3 fails in its shard: its zip's name is taken by a folder.
    fs::create_dir_all(t.out().join("n3.zip")).unwrap();
    let reports: Vec<std::path::PathBuf> = (1..=2)
        .map(|k| {
            let report = t.path().join(format!("shard{k}.yaml"));
            let o = stemzip(&[
                "run",
                p.to_str().unwrap(),
                "--shard",
                &format!("{k}/2"),
                "--report",
                report.to_str().unwrap(),
            ]);
            // 1 for the shard with the failed stem.
            assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
            report
        })
        .collect();

    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    h.state_mut().command(Command::OpenReportDialog);
    h.step();
    assert!(h.state().is_asking());
    h.state_mut().answer_dialog_with(reports);
    settled(&mut h);
    step_until(&mut h, "the reports to open", |app| {
        app.notice
            .as_ref()
            .is_some_and(|n| n.text.starts_with("opened 2 reports as one"))
    });
    let mut listed: Vec<String> = h
        .state()
        .rows()
        .iter()
        .map(|r| r.stem().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, stems);
    assert_eq!(status_of(&h, "n3"), "failed");
    assert_eq!(status_of(&h, "n1"), "done");

    fs::remove_dir(t.out().join("n3.zip")).unwrap();
    h.get_by_label("Retry failed").click();
    h.step();
    step_until(&mut h, "the retry", |app| {
        !app.is_running() && app.rows().iter().all(|r| r.status() != StemStatus::Failed)
    });
    assert_eq!(status_of(&h, "n3"), "done");
    assert_eq!(zip_names(&t.out().join("n3.zip")), ["n3_1.csv"]);
}

#[test]
fn a_table_of_100000_stems_draws_only_the_rows_in_view_and_filters_problems() {
    use stemzip::report::{Report, StemOutcome};
    let dir = tempfile::tempdir().unwrap();
    let stems = (0..100_000)
        .map(|i| StemOutcome {
            stem: format!("case{i:06}"),
            status: if i % 1000 == 7 {
                StemStatus::Failed
            } else {
                StemStatus::Done
            },
            error: (i % 1000 == 7).then(|| "cannot read it".to_owned()),
            reason: None,
            zip: None,
            members: Vec::new(),
            bytes_planned: i,
            bytes_in: i,
            bytes_out: i / 2,
            seconds: 0.01,
            warnings: Vec::new(),
            files_deleted: 0,
            bytes_freed: 0,
        })
        .collect();
    let report = Report {
        stemzip_version: "test".into(),
        created: "2026-11-28T00:00:00Z".into(),
        profile_path: None,
        output_directory: dir.path().join("zip"),
        summary: Default::default(),
        stems,
        profile: stemzip::Profile::default().to_value(),
        ..Default::default()
    };
    let path = dir.path().join("big-report.yaml");
    report.save(&path).unwrap();

    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    h.state_mut().command(Command::OpenReport(path));
    settled(&mut h);
    assert_eq!(h.state().rows().len(), 100_000);
    let drawn = |h: &Harness<'_, StemzipApp>| -> Vec<String> {
        h.query_all_by(|n| {
            n.role() == egui::Role::Label && n.value().is_some_and(|v| v.contains(" status: "))
        })
        .map(|n| n.accesskit_node().value().unwrap_or_default())
        .collect()
    };
    let rows = drawn(&h);
    assert!(
        !rows.is_empty() && rows.len() < 200,
        "{} rows drawn",
        rows.len()
    );
    assert_eq!(rows[0], "case000000 status: done");

    // Sorting by stem again reverses the order: the last stem comes first.
    h.get_by_label("Stem ⏶").click();
    h.run_steps(2);
    assert_eq!(drawn(&h)[0], "case099999 status: done");

    h.get_by_label("Problems only").click();
    h.run_steps(2);
    // The 100 failed stems, still newest first, still only those in view.
    let rows = drawn(&h);
    assert!(!rows.is_empty() && rows.len() <= 100, "{rows:?}");
    assert_eq!(rows[0], "case099007 status: failed");
    assert!(
        rows.iter().all(|r| r.ends_with("status: failed")),
        "{rows:?}"
    );
}

#[test]
fn the_command_lines_dict_shows_as_unsaved_changes_and_save_leaves_the_shared_file_alone() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let shared = fs::read_to_string(&p).unwrap();
    let config = tempfile::tempdir().unwrap();
    let mut h = window_with(
        config.path(),
        Some(&p),
        Some(
            "{'meta': {'label': 'run 3'}, 'file_management': {'output_directory': 'scenario_zip'}}",
        ),
    );
    settled(&mut h);
    assert_eq!(
        h.state()
            .doc
            .profile
            .file_management
            .output_directory
            .as_deref(),
        Some("scenario_zip")
    );
    assert!(h.state().doc.is_dirty());
    assert!(h.state().title().ends_with(" *"), "{}", h.state().title());
    // Save does not write the merged profile over the shared file.
    h.state_mut().command(Command::Save);
    settled(&mut h);
    h.run_steps(3);
    assert_eq!(fs::read_to_string(&p).unwrap(), shared);
    // The run uses the merged values.
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the run", |app| {
        !app.is_running() && !app.rows().is_empty()
    });
    assert_eq!(status_of(&h, "a"), "done");
    assert_eq!(list(&t.path().join("scenario_zip")), ["a.zip"]);
    // Save as writes the merged profile where the user chose, keys and all.
    let copy = t.path().join("scenario.yml");
    h.state_mut().command(Command::SaveAs(copy.clone()));
    settled(&mut h);
    let text = fs::read_to_string(&copy).unwrap();
    assert!(
        text.contains("output_directory: scenario_zip") && text.contains("label: run 3"),
        "{text}"
    );
    assert!(!h.state().doc.is_dirty());
}

#[test]
fn a_loaded_invalid_parallel_setting_shows_its_safe_default_beside_its_field() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p =
        t.profile("parallel_processing:\n  enabled: \"invalid\"\n  save_error_reports: maybe\n");
    let (_config, mut h) = opened(&p);
    let note = |h: &Harness<'_, StemzipApp>, key: &str| {
        h.query_all_by(|n| {
            n.role() == egui::Role::Label
                && n.value()
                    .is_some_and(|v| v.starts_with(&format!("⚠ {key}:")))
        })
        .map(|n| n.accesskit_node().value().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
    };
    let enabled = note(&h, "parallel_processing.enabled");
    assert!(
        enabled.len() == 1 && enabled[0].contains("using `true`"),
        "{enabled:?}"
    );
    assert_eq!(note(&h, "parallel_processing.save_error_reports").len(), 1);
    assert!(h.state().doc.profile.parallel_processing.enabled);
    assert!(!h.get_by_label("▶ Run").accesskit_node().is_disabled());
    // Setting the field replaces the note.
    h.get_by_label("Save error reports").click();
    h.run_steps(2);
    assert!(note(&h, "parallel_processing.save_error_reports").is_empty());
    assert_eq!(note(&h, "parallel_processing.enabled").len(), 1);
}

/// On Windows, `canonicalize` gives `\\?\D:\...`, which users do not
/// recognise and other programs may refuse: the window shows ordinary paths.
#[test]
fn the_window_shows_ordinary_paths_not_verbatim_ones() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let (_config, mut h) = opened(&p);
    let path = h.state().doc.path.clone().unwrap();
    assert!(
        !path.to_string_lossy().starts_with(r"\\?\"),
        "{}",
        path.display()
    );
    assert!(path.is_file());
    let status = h.state().notice.clone().unwrap().text;
    assert!(!status.contains(r"\\?\"), "{status}");
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the run", |app| {
        !app.is_running() && !app.rows().is_empty()
    });
    assert_eq!(status_of(&h, "a"), "done");
}

/// Regression: list fields were split on spaces as well as commas, so any
/// edit turned `not_contains: ["old run"]` into `["old", "run"]` and the run
/// left out the wrong stems.
#[test]
fn a_list_item_with_a_space_stays_one_item_after_an_edit() {
    let t = Tree::new();
    t.stems(&["a_run1", "b_old run", "c_draft"]).data(&[
        "a_run1_x.csv",
        "b_old run_x.csv",
        "c_draft_x.csv",
    ]);
    let p = t.profile("    filters:\n      not_contains: [old run]\n");
    let (_config, mut h) = opened(&p);
    let field = h.get_by_label("Stem does not contain");
    field.focus();
    h.key_press(egui::Key::End);
    h.get_by_label("Stem does not contain").type_text(", draft");
    h.run_steps(2);
    assert_eq!(
        h.state()
            .doc
            .profile
            .file_management
            .filename
            .filters
            .not_contains,
        ["old run", "draft"]
    );
    // The items are shown as they will be used: `old run` whole, not `old`.
    let shown = |h: &Harness<'_, StemzipApp>, item: &str| {
        h.query_all_by(|n| {
            n.role() == egui::Role::Label
                && (n.label().is_some_and(|l| l == item) || n.value().is_some_and(|v| v == item))
        })
        .count()
    };
    assert!(shown(&h, "old run") > 0 && shown(&h, "draft") > 0);
    assert_eq!(shown(&h, "old"), 0);
    settled(&mut h);
    h.get_by_label("▶ Run").click();
    h.step();
    step_until(&mut h, "the run", |app| {
        !app.is_running() && !app.rows().is_empty()
    });
    assert_eq!(status_of(&h, "a_run1"), "done");
    assert_eq!(t.outputs(), ["a_run1.zip"]);
}

/// Regression: a number field that did not parse showed an error but left
/// ▶ Run enabled, and the run used the previous value.
#[test]
fn a_number_field_that_does_not_parse_blocks_run_until_corrected() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let (_config, mut h) = opened(&p);
    assert!(!h.get_by_label("▶ Run").accesskit_node().is_disabled());
    h.get_by_label("Timeout per stem (s)").focus();
    h.get_by_label("Timeout per stem (s)").type_text("12a");
    h.run_steps(2);
    assert!(h.get_by_label("▶ Run").accesskit_node().is_disabled());
    let reason = h.state().run_blocked_reason().unwrap_or_default();
    assert!(
        reason.contains("timeout_per_file") && reason.contains("`12a` is not a number"),
        "{reason}"
    );
    // Run asked for anyway (a shortcut, a script) does not start.
    h.state_mut().command(Command::Run);
    h.run_steps(3);
    assert!(!h.state().is_running());
    assert!(
        h.state()
            .rows()
            .iter()
            .all(|r| r.outcome.status != StemStatus::Done)
    );
    assert!(!t.out().join("a.zip").exists());
    // Corrected, it runs with the value shown.
    h.get_by_label("Timeout per stem (s)").focus();
    h.key_press(egui::Key::Backspace);
    h.run_steps(2);
    assert!(!h.get_by_label("▶ Run").accesskit_node().is_disabled());
    assert_eq!(
        h.state().doc.profile.parallel_processing.timeout_per_file,
        Some(12.0)
    );
}

/// Ctrl+R runs and Esc cancels the run, the title shows the run's progress,
/// Ctrl+S saves the profile, and the menus show those shortcuts.
#[test]
fn keyboard_shortcuts_run_cancel_and_save_and_the_title_shows_progress() {
    use egui::{Key, Modifiers};
    let (_tree, p) = big_and_small();
    let (_config, mut h) = opened(&p);
    h.key_press_modifiers(Modifiers::COMMAND, Key::R);
    h.step();
    until_big_runs(&mut h);
    step_until(&mut h, "the progress in the title", |app| {
        app.title().contains("% — stemzip")
    });
    h.key_press(Key::Escape);
    h.step();
    step_until(&mut h, "the run to stop", |app| !app.is_running());
    assert_eq!(status_of(&h, "big"), "cancelled");
    assert!(!h.state().title().contains('%'), "{}", h.state().title());

    h.get_by_label("Verify each zip after writing").click();
    h.run_steps(2);
    assert!(h.state().doc.is_dirty());
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.step();
    step_until(&mut h, "the save", |app| !app.doc.is_dirty());
    assert!(stemzip::Profile::load(&p).unwrap().archive.verify);

    // The Run menu shows its shortcuts.
    h.get_by_label("Run").click();
    h.run_steps(3);
    let shows = |text: &str| {
        h.query_by(|n| {
            n.label().is_some_and(|l| l.contains(text))
                || n.value().is_some_and(|v| v.contains(text))
        })
        .is_some()
    };
    assert!(
        shows("Ctrl+R") && shows("Esc"),
        "no shortcuts in the Run menu"
    );
}

/// The theme chosen in the View menu is used at once and kept for the
/// next launch.
#[test]
fn the_theme_chosen_in_the_view_menu_is_used_and_remembered() {
    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    settled(&mut h);
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Dark").click();
    h.run_steps(2);
    assert_eq!(
        h.ctx.options(|o| o.theme_preference),
        egui::ThemePreference::Dark
    );
    assert_eq!(h.state().remembered.theme, stemzip::gui::ThemeChoice::Dark);
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Light").click();
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    // Remembered between launches with the rest of the window's memory.
    let saved = serde_json::to_string(&h.state().remembered).unwrap();
    let back: stemzip::gui::Remembered = serde_json::from_str(&saved).unwrap();
    assert_eq!(back.theme, stemzip::gui::ThemeChoice::Light);
}

/// Stem names in Chinese, Japanese, Korean and Arabic are drawn with the
/// system's fonts (eframe's `system_fonts`, installed here as the window
/// installs it), not as boxes. Needs such fonts (Debian: fonts-noto-cjk,
/// fonts-noto-core); CI installs them.
#[test]
#[cfg_attr(
    windows,
    ignore = "Wine's fonts have no CJK or Arabic; Windows' own fonts are found through DirectWrite"
)]
fn stem_names_in_cjk_and_arabic_are_drawn_with_system_fonts() {
    use stemzip::report::{Report, StemOutcome};
    let names = ["日本_run", "中文_run", "한국_run", "عربي_run"];
    let covered = |ctx: &egui::Context, text: &str| {
        ctx.fonts_mut(|f| f.has_glyphs(&egui::FontId::proportional(14.0), text))
    };
    let dir = tempfile::tempdir().unwrap();
    let stems = names
        .iter()
        .map(|name| StemOutcome {
            stem: (*name).to_owned(),
            status: StemStatus::Done,
            error: None,
            reason: None,
            zip: None,
            members: Vec::new(),
            bytes_planned: 1,
            bytes_in: 1,
            bytes_out: 1,
            seconds: 0.1,
            warnings: Vec::new(),
            files_deleted: 0,
            bytes_freed: 0,
        })
        .collect();
    let report = Report {
        stemzip_version: "test".to_owned(),
        created: "2026-11-29T00:00:00Z".to_owned(),
        profile_path: None,
        output_directory: dir.path().to_owned(),
        summary: Default::default(),
        stems,
        profile: serde_yaml::Value::Null,
        ..Default::default()
    };
    let path = dir.path().join("stemzip-report-scripts.yaml");
    report.save(&path).unwrap();

    let config = tempfile::tempdir().unwrap();
    let mut h = window(config.path(), None);
    assert!(
        !covered(&h.ctx, "日本한국عربي"),
        "the built-in fonts cover these scripts: the test would prove nothing"
    );
    h.ctx.add_font_provider(std::sync::Arc::new(
        egui_system_font_provider::SystemFontProvider::new(),
    ));
    settled(&mut h);
    h.state_mut().command(Command::OpenReport(path));
    settled(&mut h);
    h.run_steps(4);
    for name in names {
        assert!(
            h.query_all_by_label_contains(name).next().is_some(),
            "{name} is not in the table"
        );
    }
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !covered(&h.ctx, name))
        .collect();
    if missing.len() == names.len() && std::env::var_os("CI").is_none() {
        skipped(
            "no CJK or Arabic system fonts installed (apt-get install fonts-noto-cjk fonts-noto-core)",
        );
        return;
    }
    assert!(missing.is_empty(), "drawn as boxes: {missing:?}");
}

/// Browse… picks a folder in the window's own browser where the system has
/// no file dialog: the field changes, and a cancel changes nothing.
fn browse_picks_a_folder_in_the_window(dialogs: Dialogs) {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    fs::create_dir_all(t.path().join("elsewhere")).unwrap();
    let p = t.profile("");
    let config = tempfile::tempdir().unwrap();
    let mut h = window_asking(config.path(), Some(&p), None, dialogs);
    settled(&mut h);
    let output = |h: &Harness<'_, StemzipApp>| {
        h.state()
            .doc
            .profile
            .file_management
            .output_directory
            .clone()
    };
    let before = output(&h);
    let browse_output = |h: &mut Harness<'_, StemzipApp>| {
        // Stem sources, data, output: the third Browse… button.
        h.get_all_by_label("Browse…").nth(2).unwrap().click();
        h.run_steps(2);
        let deadline = Instant::now() + Duration::from_secs(30);
        while h.query_by_label("🗀 elsewhere").is_none() {
            assert!(Instant::now() < deadline, "no folder browser in the window");
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    browse_output(&mut h);
    h.get_by_label("Cancel").click();
    h.run_steps(3);
    assert!(!h.state().is_asking());
    assert_eq!(output(&h), before);

    browse_output(&mut h);
    h.get_by_label("🗀 elsewhere").click();
    h.run_steps(2);
    h.get_by_label("Open").click();
    h.run_steps(3);
    step_until(&mut h, "the field to change", |app| !app.is_asking());
    assert_eq!(output(&h).as_deref(), Some("elsewhere"));
}

#[test]
fn browse_picks_a_folder_in_the_windows_own_browser() {
    browse_picks_a_folder_in_the_window(Dialogs::InWindow);
}

/// Without a desktop portal (no D-Bus session, as in CI) the system's
/// dialog never opens: the window notices and uses its own browser.
#[cfg(target_os = "linux")]
#[test]
fn without_a_desktop_portal_browse_falls_back_to_the_windows_own_browser() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        skipped("a D-Bus session is running: the system's dialog could really open");
        return;
    }
    browse_picks_a_folder_in_the_window(Dialogs::System);
}

/// A run of more than a few seconds that ends while the window is not
/// focused asks for the user's attention (the taskbar; a desktop
/// notification where there is a service); one that ends in front of the
/// user does not.
#[test]
fn a_long_run_ending_while_the_window_is_away_asks_for_attention() {
    let (_tree, p) = big_and_small();
    let (_config, mut h) = opened(&p);
    let asks_attention = |h: &Harness<'_, StemzipApp>| {
        h.output().viewport_output.values().any(|v| {
            v.commands
                .iter()
                .any(|c| matches!(c, egui::ViewportCommand::RequestUserAttention(_)))
        })
    };
    let run_and_cancel = |h: &mut Harness<'_, StemzipApp>, focused: bool, wait: Duration| {
        h.get_by_label("▶ Run").click();
        h.step();
        until_big_runs(h);
        h.input_mut().focused = focused;
        let started = Instant::now();
        while started.elapsed() < wait {
            h.step();
            std::thread::sleep(Duration::from_millis(50));
        }
        h.state_mut().command(Command::Cancel);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut asked = false;
        while h.state().is_running() {
            assert!(Instant::now() < deadline, "the run did not stop");
            h.step();
            asked |= asks_attention(h);
        }
        h.input_mut().focused = true;
        h.run_steps(2);
        asked
    };
    // Short, or in front of the user: nothing.
    assert!(!run_and_cancel(&mut h, false, Duration::ZERO));
    assert!(!run_and_cancel(&mut h, true, Duration::from_secs(6)));
    assert_eq!(h.state().runs_told_away(), 0);
    // Long, and the user looked away.
    assert!(run_and_cancel(&mut h, false, Duration::from_secs(6)));
    assert_eq!(h.state().runs_told_away(), 1);
}

/// During a run the chart gathers throughput and stems ended over time;
/// its last point counts every stem that ended.
#[test]
fn the_run_chart_shows_throughput_and_stems_ended_over_time() {
    let (_tree, p) = big_and_small();
    let (_config, mut h) = opened(&p);
    h.get_by_label("▶ Run").click();
    h.step();
    until_big_runs(&mut h);
    step_until(&mut h, "the chart to show reading", |app| {
        app.chart().len() >= 3 && app.chart().iter().any(|s| s.mb_per_s > 0.0)
    });
    let times: Vec<f64> = h.state().chart().iter().map(|s| s.seconds).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    h.state_mut().command(Command::Cancel);
    h.step();
    step_until(&mut h, "the run to stop", |app| !app.is_running());
    let last = h.state().chart().last().copied().unwrap();
    assert_eq!(last.stems_ended, 2, "{last:?}");
}
