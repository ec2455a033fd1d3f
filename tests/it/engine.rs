//! The engine: events, parallel equals sequential, overwrite, timeout,
//! cancel, error isolation, no partial files, Zip64, error reports.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use stemzip::report::Report;
use stemzip::{Event, StemStatus};

use crate::helpers::*;

/// Plans `p` twice, for comparing worker counts: into `one/` with the
/// override `one`, into `many/` with the override `many`.
fn plans_into_one_and_many(
    p: &std::path::Path,
    one: &str,
    many: &str,
) -> (stemzip::Plan, stemzip::Plan) {
    let into = |set: &str, dir: &str| {
        plan_with(
            p,
            &[set, &format!("file_management.output_directory={dir}")],
        )
    };
    (into(one, "one"), into(many, "many"))
}

/// Makes `rel` a sparse file of `size` bytes: slow to archive, cheap to create.
fn sparse(t: &Tree, rel: &str, size: u64) {
    let f = fs::File::create(t.path().join(rel)).unwrap();
    f.set_len(size).unwrap();
}

/// A simulated time series: eight channels that wander, four decimals
/// (about 2.3x compressible with deflate, like simulation output).
fn random_walk_csv(seed: u64, size: usize) -> String {
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as f64 / f64::from(1u32 << 31) - 0.5
    };
    let mut values = [0.0f64; 8];
    let mut text = String::from("time,tension,shear,fx,fy,fz,x,y,z\n");
    let mut t = 0.0;
    while text.len() < size {
        t += 0.1;
        text.push_str(&format!("{t:.1}"));
        for v in &mut values {
            *v += next() * 6.0;
            text.push_str(&format!(",{v:.4}"));
        }
        text.push('\n');
    }
    text
}

fn csv_rows(seed: u64, rows: usize) -> String {
    let mut s = String::from("time,tension,shear\n");
    for r in 0..rows {
        let x = (seed * 7919 + r as u64 * 104_729) % 100_000;
        s.push_str(&format!(
            "{:.1},{}.{:03},{}\n",
            r as f64 * 0.1,
            x / 1000,
            x % 1000,
            x * 3 % 977
        ));
    }
    s
}

#[test]
fn every_stem_gets_one_queued_and_one_terminal_event_and_the_summary_comes_last() {
    let t = Tree::new();
    t.stems(&["a", "b", "c", "empty"])
        .data(&["a_1.csv", "a_2.csv", "b_1.csv", "c_1.csv"]);
    let (events, summary) = execute(plan(&t.profile("")));
    let mut queued: HashMap<usize, usize> = HashMap::new();
    let mut terminal: HashMap<usize, usize> = HashMap::new();
    let mut started: HashMap<usize, usize> = HashMap::new();
    for e in &events[..events.len() - 1] {
        let i = e.stem().expect("only the last event is the summary");
        match e.status().unwrap() {
            StemStatus::Queued => *queued.entry(i).or_default() += 1,
            StemStatus::Running => {
                if matches!(e, Event::Started { .. }) {
                    *started.entry(i).or_default() += 1;
                }
                assert!(
                    !terminal.contains_key(&i),
                    "event after the end of stem {i}"
                );
            }
            _ => *terminal.entry(i).or_default() += 1,
        }
    }
    for i in 0..4 {
        assert_eq!(queued.get(&i), Some(&1));
        assert_eq!(terminal.get(&i), Some(&1));
        assert!(started.get(&i).copied().unwrap_or(0) <= 1);
    }
    assert_eq!((summary.stems, summary.done, summary.skipped), (4, 3, 1));
    assert!(summary.bytes_in > 0 && summary.bytes_out > summary.bytes_in);
}

#[test]
fn sequential_and_parallel_runs_write_byte_identical_zips() {
    let t = Tree::new();
    let stems: Vec<String> = (0..12).map(|i| format!("case{i:02}")).collect();
    for (i, s) in stems.iter().enumerate() {
        t.file(&format!("yml/{s}.yml"), "");
        for part in 0..3 {
            t.file(
                &format!("csv/{s}_part{part}.csv"),
                csv_rows(i as u64 * 10 + part, 400 * (i + 1)),
            );
        }
    }
    let p = t.profile("archive:\n  compression: deflate\n");
    let (one, many) = plans_into_one_and_many(
        &p,
        "parallel_processing.enabled=false",
        "parallel_processing.max_workers=4",
    );
    assert_eq!(one.settings.workers.get(), 1);
    assert_eq!(execute(one).1.done, 12);
    assert_eq!(execute(many).1.done, 12);
    for s in &stems {
        let a = fs::read(t.path().join(format!("one/{s}.zip"))).unwrap();
        let b = fs::read(t.path().join(format!("many/{s}.zip"))).unwrap();
        assert!(a == b, "{s}.zip differs between 1 and 4 workers");
    }
    check_with_readers(&t.path().join("many/case11.zip"));
}

/// Regression: with reused compressors, chunks compressed on different
/// threads came out differently; members of several chunks pin it.
#[test]
fn members_of_several_chunks_deflate_to_the_same_bytes_with_any_worker_count() {
    let t = Tree::new();
    t.stems(&["big"]);
    for part in 0..3u64 {
        t.file(
            &format!("csv/big_part{part}.csv"),
            random_walk_csv(part, 4 << 20),
        );
    }
    let p = t.profile("archive:\n  compression: deflate\n  verify: true\n");
    let (one, many) = plans_into_one_and_many(
        &p,
        "parallel_processing.max_workers=1",
        "parallel_processing.max_workers=3",
    );
    assert_eq!(execute(one).1.done, 1);
    assert_eq!(execute(many).1.done, 1);
    let a = fs::read(t.path().join("one/big.zip")).unwrap();
    let b = fs::read(t.path().join("many/big.zip")).unwrap();
    assert!(a == b, "big.zip differs between 1 and 3 workers");
    check_with_readers(&t.path().join("many/big.zip"));
}

/// Small zips are built in memory and written whole (directly to disk where
/// the file system allows it); with `verify` on, zips stream through a
/// temporary file to be read back. Both ways give the same bytes.
#[test]
fn small_zips_built_in_memory_match_zips_streamed_to_disk_byte_for_byte() {
    for compression in ["stored", "deflate", "zstd"] {
        let t = Tree::new();
        t.stems(&["tiny", "mid", "edge"]);
        t.file("csv/tiny_1.csv", "t,x\n0,1\n");
        t.file("csv/tiny_2.csv", "");
        t.file("csv/mid_1.csv", csv_rows(1, 300));
        t.file("csv/mid_2.csv", csv_rows(2, 900));
        let edge = csv_rows(3, 14_500);
        assert!(
            (200 << 10..256 << 10).contains(&edge.len()),
            "{}",
            edge.len()
        );
        t.file("csv/edge_1.csv", edge);
        let p = t.profile(&format!("archive:\n  compression: {compression}\n"));
        let (memory, streamed) =
            plans_into_one_and_many(&p, "archive.verify=false", "archive.verify=true");
        assert_eq!(execute(memory).1.done, 3);
        assert_eq!(execute(streamed).1.done, 3);
        for s in ["tiny", "mid", "edge"] {
            let a = fs::read(t.path().join(format!("one/{s}.zip"))).unwrap();
            let b = fs::read(t.path().join(format!("many/{s}.zip"))).unwrap();
            assert!(a == b, "{s}.zip ({compression}) differs");
            if compression == "zstd" {
                check_zstd_with_readers(&t.path().join(format!("one/{s}.zip")));
            } else {
                check_with_readers(&t.path().join(format!("one/{s}.zip")));
            }
        }
        assert_eq!(temp_files(&t.path().join("one")), Vec::<String>::new());
    }
}

/// A member that grew between planning and the run is archived whole: a
/// zip planned small (built in memory) that outgrows the in-memory limit
/// while it is built moves to a temporary file without losing a byte.
#[test]
fn a_member_that_grew_after_planning_is_archived_whole() {
    for compression in ["stored", "deflate", "zstd"] {
        let t = Tree::new();
        t.stems(&["s"]);
        t.file("csv/s_1.csv", "t,x\n0,1\n");
        t.file("csv/s_2.csv", csv_rows(7, 100));
        let planned = plan(&t.profile(&format!("archive:\n  compression: {compression}\n")));
        let grown = csv_rows(8, 60_000);
        assert!(grown.len() > 512 << 10);
        t.file("csv/s_2.csv", &grown);
        let (_, summary) = execute(planned);
        assert_eq!(summary.done, 1, "{compression}");
        let entries = read_zip(&t.out().join("s.zip"));
        assert_eq!(entries.len(), 2);
        assert!(
            entries[1] == ("s_2.csv".to_owned(), grown.into_bytes()),
            "{compression}"
        );
        assert_eq!(temp_files(&t.out()), Vec::<String>::new());
    }
}

#[test]
fn every_compression_round_trips_the_exact_bytes() {
    for compression in ["stored", "deflate", "zstd"] {
        let t = Tree::new();
        t.stems(&["s"]);
        let data = csv_rows(3, 5000);
        t.file("csv/s_1.csv", &data);
        t.file("csv/s_2.csv", "");
        let p = t.profile(&format!(
            "archive:\n  compression: {compression}\n  verify: true\n"
        ));
        let (_, summary) = execute(plan(&p));
        assert_eq!(summary.done, 1, "{compression}");
        let entries = read_zip(&t.out().join("s.zip"));
        assert_eq!(
            entries[0],
            ("s_1.csv".to_owned(), data.into_bytes()),
            "{compression}"
        );
        assert_eq!(
            entries[1],
            ("s_2.csv".to_owned(), Vec::new()),
            "{compression}"
        );
        if compression == "deflate" {
            assert!(summary.bytes_out < summary.bytes_in / 2);
        }
        if compression == "zstd" {
            check_zstd_with_readers(&t.out().join("s.zip"));
        } else {
            check_with_readers(&t.out().join("s.zip"));
        }
    }
}

#[test]
fn overwrite_off_leaves_an_existing_zip_alone_and_skips_its_stem() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    t.file("zip/a.zip", "the user's old zip");
    let p = t.profile("default:\n  config:\n    overwrite:\n      output: false\n");
    let (events, summary) = execute(plan(&p));
    assert!(
        matches!(outcome(&events, "a"), Event::Skipped { reason, .. } if reason.contains("exists"))
    );
    assert_eq!(
        fs::read(t.out().join("a.zip")).unwrap(),
        b"the user's old zip"
    );
    assert_eq!(zip_names(&t.out().join("b.zip")), ["b_1.csv"]);
    assert_eq!((summary.done, summary.skipped), (1, 1));
}

#[test]
fn overwrite_on_replaces_an_existing_zip() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    t.file("zip/a.zip", "old");
    execute(plan(&t.profile("")));
    assert_eq!(zip_names(&t.out().join("a.zip")), ["a_1.csv"]);
}

#[test]
fn zips_whose_names_differ_only_in_case_are_warned_about_and_never_replace_each_other() {
    let t = Tree::new();
    // Stem sources and data files whose names differ in more than case, so
    // that they are distinct files in a folder that ignores case too.
    t.file("yml/caseA.yml", "");
    t.file("yml/casea.yaml", "");
    t.file("yml/CASEA.txt", "");
    t.data(&["caseA_1.csv", "casea_2.csv"]);
    fs::create_dir_all(t.out()).unwrap();
    let p = t.file(
        "profile.yml",
        "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv]\nfile_management:\n  input_directory: yml\n  output_directory: zip\n  filename:\n    extension: [yml, yaml, txt]\n",
    );
    let plan = plan(&p);
    // CASEA has no data files: it writes no zip, so it clashes with nothing.
    let clashes: Vec<_> = plan
        .warnings
        .iter()
        .filter(|w| matches!(w, stemzip::plan::Warning::CaseClash { .. }))
        .collect();
    assert_eq!(
        clashes,
        [&stemzip::plan::Warning::CaseClash {
            zips: vec!["caseA.zip".into(), "casea.zip".into()]
        }]
    );
    // Where the folder ignores case (Windows, macOS; told to the run here,
    // so the branch runs on every system): one file for both names. The
    // first stem in name order is written, the other fails naming the zip
    // it would replace.
    let case_blind = |p: &Path| {
        let mut plan = crate::helpers::plan(p);
        plan.settings.folder_ignores_case = Some(true);
        plan
    };
    for round in 0..2 {
        let (events, summary) = execute(case_blind(&p));
        assert!(matches!(outcome(&events, "caseA"), Event::Finished { .. }));
        match outcome(&events, "casea") {
            Event::Failed { error, .. } => {
                assert!(error.contains("same file as caseA.zip"), "{error}")
            }
            other => panic!("casea did not fail: {other:?}"),
        }
        assert_eq!((summary.done, summary.failed), (1, 1), "round {round}");
        assert_eq!(zip_names(&t.out().join("caseA.zip")), ["caseA_1.csv"]);
        assert!(!t.out().join("casea.zip").exists() || case_blind_fs(&t.out()));
    }
    if stemzip::temp::ignores_case(&t.out()).unwrap() {
        return;
    }
    for zip in ["caseA.zip", "casea.zip"] {
        let _ = fs::remove_file(t.out().join(zip));
    }
    // Here the two names are two files: every run writes (and with
    // overwrite on, replaces) both.
    for round in 0..2 {
        t.file("csv/casea_2.csv", format!("round {round}"));
        let (events, summary) = execute(crate::helpers::plan(&p));
        assert!(matches!(outcome(&events, "caseA"), Event::Finished { .. }));
        assert!(matches!(outcome(&events, "casea"), Event::Finished { .. }));
        assert_eq!(summary.done, 2, "round {round}");
        assert_eq!(
            read_zip(&t.out().join("casea.zip")),
            [(
                "casea_2.csv".to_owned(),
                format!("round {round}").into_bytes()
            )]
        );
    }
    assert_eq!(zip_names(&t.out().join("caseA.zip")), ["caseA_1.csv"]);
}

/// Regression: zips, reports and saved profiles were created owner-only
/// (0600), unreadable for colleagues on a shared folder; the Python
/// original's zips got 0666 less the umask, like any new file.
#[cfg(unix)]
#[test]
fn zips_reports_and_profiles_get_the_permissions_any_new_file_gets() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tree::new();
    let (p, report) = run_with_a_failed_stem(&t);
    let saved = t.path().join("saved.yml");
    stemzip::Profile::load(&p).unwrap().save(&saved).unwrap();
    let reference = t.file("new-file.txt", "");
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    if mode(&reference) == 0o600 {
        skipped("with umask 077 new files are owner-only anyway");
        return;
    }
    for made in [t.out().join("good.zip"), report, saved] {
        assert_eq!(mode(&made), mode(&reference), "{}", made.display());
    }
}

#[test]
fn a_failing_stem_does_not_stop_the_others_and_leaves_no_partial_file() {
    let t = Tree::new();
    t.stems(&["alpha", "bravo", "charlie"]).data(&[
        "alpha_1.csv",
        "bravo_1.csv",
        "bravo_2.csv",
        "charlie_1.csv",
    ]);
    // An earlier, complete bravo.zip must survive the failed attempt untouched.
    t.file("zip/bravo.zip", "previous complete zip");
    let p = t.profile("");
    let plan = plan(&p);
    // bravo_2 vanishes after planning: bravo fails after bravo_1 went into its temporary zip.
    fs::remove_file(t.path().join("csv/bravo_2.csv")).unwrap();
    let (events, summary) = execute(plan);
    match outcome(&events, "bravo") {
        Event::Failed { error, .. } => {
            assert!(error.contains("bravo_2.csv"), "{error}");
            // The system's own words for a missing file (they differ between systems).
            assert!(error.contains("(os error 2)"), "{error}");
        }
        other => panic!("bravo did not fail: {other:?}"),
    }
    assert_eq!((summary.done, summary.failed), (2, 1));
    assert_eq!(zip_names(&t.out().join("alpha.zip")), ["alpha_1.csv"]);
    assert_eq!(zip_names(&t.out().join("charlie.zip")), ["charlie_1.csv"]);
    assert_eq!(
        fs::read(t.out().join("bravo.zip")).unwrap(),
        b"previous complete zip"
    );
    assert_eq!(t.outputs(), ["alpha.zip", "bravo.zip", "charlie.zip"]);
}

#[test]
fn a_stem_over_its_timeout_is_stopped_promptly_and_the_others_finish() {
    let t = Tree::new();
    t.stems(&["big", "small"]).data(&["small_1.csv"]);
    sparse(&t, "csv/big_1.csv", 64 << 30);
    let p = t.profile(
        "parallel_processing:\n  max_workers: 2\n  timeout_per_file: 0.5\narchive:\n  compression: deflate\n  level: 1\n",
    );
    let (events, summary) = execute(plan(&p));
    match outcome(&events, "big") {
        Event::TimedOut { seconds, .. } => assert!(*seconds < 1.5, "stopped after {seconds} s"),
        other => panic!("big did not time out: {other:?}"),
    }
    assert!(matches!(outcome(&events, "small"), Event::Finished { .. }));
    assert_eq!((summary.done, summary.timed_out), (1, 1));
    assert_eq!(t.outputs(), ["small.zip"]);
}

/// A run of two stems on one worker, returned once the first, `big` (a
/// sparse 64 GiB file, the largest, so it starts first), is being written;
/// `small` waits. With the events so far.
fn a_run_writing_a_big_stem() -> (Tree, stemzip::Run, Vec<Event>) {
    let t = Tree::new();
    t.stems(&["big", "small"]).data(&["small_1.csv"]);
    sparse(&t, "csv/big_1.csv", 64 << 30);
    let p = t.profile(
        "parallel_processing:\n  max_workers: 1\narchive:\n  compression: deflate\n  level: 1\n",
    );
    let run = stemzip::engine::start(plan(&p)).unwrap();
    let events = events_until_reading(&run, "big");
    (t, run, events)
}

#[test]
fn cancel_stops_running_stems_starts_no_new_ones_and_leaves_no_temporary_files() {
    let (t, run, mut events) = a_run_writing_a_big_stem();
    run.cancel();
    let cancelled_at = std::time::Instant::now();
    events.extend(run.events().iter());
    assert!(cancelled_at.elapsed() < Duration::from_secs(1));
    assert!(matches!(outcome(&events, "big"), Event::Cancelled { .. }));
    assert!(matches!(outcome(&events, "small"), Event::Cancelled { .. }));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Started { name, .. } if name == "small"))
    );
    let Some(Event::RunFinished(summary)) = events.last() else {
        panic!()
    };
    assert!(summary.was_cancelled);
    assert_eq!(summary.cancelled, 2);
    assert!(t.outputs().is_empty(), "{:?}", t.outputs());
}

/// A run dropped mid-way (its window closed, or ended by a signal) is
/// cancelled and waited for: when the drop returns, no temporary file is
/// left, though the process may exit right after.
#[test]
fn a_run_dropped_mid_way_leaves_no_temporary_files_when_the_drop_returns() {
    let (t, run, _) = a_run_writing_a_big_stem();
    assert_eq!(temp_files(&t.out()).len(), 1, "big is being written");
    let dropped_at = std::time::Instant::now();
    drop(run);
    assert!(dropped_at.elapsed() < Duration::from_secs(5));
    assert!(t.outputs().is_empty(), "{:?}", t.outputs());
}

/// Regression: with more stems in flight than the memory budget has
/// chunks (32 workers, 40 stems of several chunks), every stem's writer
/// held one chunk's room while waiting for a chunk its reader could not
/// get room for, and the run stopped for good. Every event must now come
/// within a minute and every zip be complete.
#[test]
fn more_stems_in_flight_than_the_budget_has_chunks_all_finish() {
    let t = Tree::new();
    let names: Vec<String> = (0..40).map(|i| format!("case{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        t.file(&format!("yml/{name}.yml"), "");
        t.file(
            &format!("csv/{name}_1.csv"),
            random_walk_csv(i as u64, 3 << 20),
        );
    }
    let p = t.profile(
        "parallel_processing:\n  max_workers: 32\narchive:\n  compression: deflate\n  level: 1\n",
    );
    let run = stemzip::engine::start(plan(&p)).unwrap();
    let mut events = Vec::new();
    loop {
        let event = run
            .events()
            .recv_timeout(Duration::from_secs(60))
            .expect("the run stopped making progress");
        let last = matches!(event, Event::RunFinished(_));
        events.push(event);
        if last {
            break;
        }
    }
    let Some(Event::RunFinished(summary)) = events.last() else {
        panic!()
    };
    assert_eq!(summary.done, 40, "{summary:?}");
    for name in &names {
        check_with_readers(&t.out().join(format!("{name}.zip")));
    }
}

/// With 32 workers, every stem reading and chunks queued for compression
/// everywhere, a cancel still lands within a second: queued chunks are
/// dropped, not compressed.
#[test]
fn cancel_lands_within_a_second_with_32_workers_busy() {
    let t = Tree::new();
    let names: Vec<String> = (0..32).map(|i| format!("big{i:02}")).collect();
    for name in &names {
        t.file(&format!("yml/{name}.yml"), "");
        sparse(&t, &format!("csv/{name}_1.csv"), 64 << 30);
    }
    let p = t.profile(
        "parallel_processing:\n  max_workers: 32\narchive:\n  compression: deflate\n  level: 1\n",
    );
    let run = stemzip::engine::start(plan(&p)).unwrap();
    // Wait until every stem has started and the last one is reading.
    let mut events = Vec::new();
    let mut started = std::collections::HashSet::new();
    while started.len() < names.len() {
        let e = run.events().recv_timeout(Duration::from_secs(60)).unwrap();
        if let Event::Started { name, .. } = &e {
            started.insert(name.clone());
        }
        events.push(e);
    }
    events.extend(events_until_reading(&run, "big31"));
    run.cancel();
    let cancelled_at = std::time::Instant::now();
    events.extend(run.events().iter());
    let took = cancelled_at.elapsed();
    assert!(took < Duration::from_secs(1), "the cancel took {took:?}");
    for name in &names {
        assert!(
            matches!(outcome(&events, name), Event::Cancelled { .. }),
            "{name}: {:?}",
            outcome(&events, name)
        );
    }
    assert!(t.outputs().is_empty(), "{:?}", t.outputs());
}

#[test]
#[cfg_attr(
    windows,
    ignore = "creating 65,600 files under Wine takes many minutes; Linux runs it"
)]
fn more_than_65535_members_make_a_zip64_archive() {
    let t = Tree::new();
    t.stems(&["many"]);
    let n = 65_600;
    for i in 0..n {
        fs::write(t.path().join(format!("csv/many_{i:05}.csv")), i.to_string()).unwrap();
    }
    let (_, summary) = execute(plan(&t.profile("")));
    assert_eq!(summary.done, 1);
    let zip = t.out().join("many.zip");
    let archive = zip::ZipArchive::new(fs::File::open(&zip).unwrap()).unwrap();
    assert_eq!(archive.len(), n);
    let raw = fs::read(&zip).unwrap();
    // Zip64 end of central directory record signature.
    assert!(
        raw.windows(4).any(|w| w == [0x50, 0x4b, 0x06, 0x06]),
        "no Zip64 end record"
    );
    check_with_readers(&zip);
}

#[test]
fn a_killed_runs_temporary_files_are_removed_by_the_next_run_and_user_files_are_not() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    t.file("zip/.stemzip-Ab3dE5gH9jK1.partial", "left by a killed run");
    t.file("zip/.stemzip-notes.partial", "the user's");
    t.file("zip/mine.partial", "the user's");
    execute(plan(&t.profile("")));
    assert_eq!(
        t.outputs(),
        [".stemzip-notes.partial", "a.zip", "mine.partial"]
    );
}

#[test]
fn save_error_reports_writes_a_report_listing_each_failed_stem() {
    let t = Tree::new();
    let (p, path) = run_with_a_failed_stem(&t);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("stemzip-report-") && name.ends_with("Z.yaml"),
        "{name}"
    );
    let report = Report::load(&path).unwrap();
    assert_eq!(report.stems.len(), 1);
    let bad = &report.stems[0];
    assert_eq!((bad.stem.as_str(), bad.status), ("bad", StemStatus::Failed));
    assert!(bad.error.as_deref().unwrap().contains("bad_1.csv"));
    assert!(bad.members[0].ends_with("csv/bad_1.csv"));
    assert_eq!(report.failed_stems(), ["bad"]);
    assert_eq!(report.summary.failed, 1);
    assert_eq!(
        report.profile().unwrap(),
        stemzip::Profile::load(&p).unwrap()
    );
    assert_eq!(report.profile_path.as_deref(), Some(p.as_path()));
}

#[test]
fn no_report_is_written_when_every_stem_succeeds() {
    let t = Tree::new();
    t.stems(&["good"]).data(&["good_1.csv"]);
    let (_, summary) = execute(plan(
        &t.profile("parallel_processing:\n  save_error_reports: true\n"),
    ));
    assert_eq!(summary.report, None);
    assert_eq!(t.outputs(), ["good.zip"]);
}

/// Whether `dir` ignores letter case (as the run's own probe finds).
fn case_blind_fs(dir: &Path) -> bool {
    stemzip::temp::ignores_case(dir).unwrap()
}

/// A receiver that found no event waiting is woken by the run when the
/// next one is sent (the window sleeps between frames instead of polling):
/// a whole run is received here by waiting only for wake-ups.
#[test]
fn a_run_wakes_its_receiver_when_the_next_event_arrives() {
    let t = Tree::new();
    let names: Vec<String> = (0..20).map(|i| format!("case{i:02}")).collect();
    for name in &names {
        t.file(&format!("yml/{name}.yml"), "");
        t.file(&format!("csv/{name}_1.csv"), csv_rows(1, 200));
    }
    let (woken, wake_ups) = std::sync::mpsc::channel();
    let run = stemzip::engine::start_waking(
        plan(&t.profile("")),
        stemzip::CancelToken::new(),
        move || {
            let _ = woken.send(());
        },
    )
    .unwrap();
    let mut events = Vec::new();
    loop {
        match run.try_event() {
            Ok(event) => {
                let last = matches!(event, Event::RunFinished(_));
                events.push(event);
                if last {
                    break;
                }
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => wake_ups
                .recv_timeout(Duration::from_secs(30))
                .expect("an event came and the receiver was not woken"),
            Err(e) => panic!("{e}"),
        }
    }
    let Some(Event::RunFinished(summary)) = events.last() else {
        panic!()
    };
    assert_eq!(summary.done, 20);
}

/// Letter case folds as NTFS folds it, one letter for one: Straße.zip and
/// STRASSE.zip are two files there (ß has no one-letter upper case), so
/// they are no clash; ΟΔΟΣ.zip and οδος.zip (final sigma) are one.
#[test]
fn case_clashes_fold_one_letter_for_one_as_windows_does() {
    let t = Tree::new();
    t.file("yml/Straße.yml", "");
    t.file("yml/STRASSE.yaml", "");
    t.file("yml/ΟΔΟΣ.yml", "");
    t.file("yml/οδος.yaml", "");
    // Data files named apart in any folder, case-blind ones too.
    t.data(&["Straße_1.csv", "STRASSE_2.csv", "ΟΔΟΣ_1.csv", "οδος_2.csv"]);
    let p = t.file(
        "profile.yml",
        "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv]\nfile_management:\n  input_directory: yml\n  output_directory: zip\n  filename:\n    extension: [yml, yaml]\n",
    );
    let clashes: Vec<_> = plan(&p)
        .warnings
        .into_iter()
        .filter(|w| matches!(w, stemzip::plan::Warning::CaseClash { .. }))
        .collect();
    assert_eq!(
        clashes,
        [stemzip::plan::Warning::CaseClash {
            zips: vec!["ΟΔΟΣ.zip".into(), "οδος.zip".into()]
        }]
    );
}
