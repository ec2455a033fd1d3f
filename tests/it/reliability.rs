//! Guarantees under faults, kills and odd input: every zip under its final
//! name is complete, every failure stays with its stem and names its cause.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))] // used by the Unix-only tests

use std::fs;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use stemzip::Event;

use crate::helpers::*;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Makes every folder on the way to `dir` and everything in it usable by
/// an unprivileged user.
#[cfg(unix)]
fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Some(dir);
    while let Some(d) = p {
        if d == Path::new("/") {
            break;
        }
        let mode = fs::metadata(d).unwrap().permissions().mode();
        fs::set_permissions(d, fs::Permissions::from_mode(mode | 0o755)).unwrap();
        p = d.parent();
    }
    Command::new("chmod")
        .args(["-R", "a+rwX"])
        .arg(dir)
        .status()
        .unwrap();
}

/// Runs the binary as the unprivileged user `nobody`.
fn stemzip_as_nobody(args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_stemzip"))
        .args(args)
        .output()
        .unwrap()
}

fn every_zip_is_valid(dir: &Path) -> usize {
    let zips: Vec<String> = list(dir)
        .into_iter()
        .filter(|n| n.ends_with(".zip"))
        .collect();
    for z in &zips {
        check_with_readers(&dir.join(z));
    }
    zips.len()
}

#[test]
fn verify_reports_each_zip_and_fails_on_a_damaged_one() {
    let t = Tree::new();
    t.stems(&["alpha", "bravo"])
        .data(&["alpha_1.csv", "bravo_1.csv"]);
    execute(plan(&t.profile("")));
    let out = stemzip(&["verify", t.out().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("2 zip(s) tested, 0 damaged"),
        "{}",
        stdout(&out)
    );

    // Flip one byte of bravo_1.csv's stored data.
    let zip = t.out().join("bravo.zip");
    let mut raw = fs::read(&zip).unwrap();
    let at = raw.windows(4).position(|w| w == b"data").unwrap();
    raw[at] ^= 0x20;
    fs::write(&zip, raw).unwrap();
    let out = stemzip(&[
        "verify",
        t.out().join("alpha.zip").to_str().unwrap(),
        zip.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("ok       ") && text.contains("alpha.zip"),
        "{text}"
    );
    assert!(
        text.contains("DAMAGED  ") && text.contains("bravo.zip"),
        "{text}"
    );

    let out = stemzip(&["verify", t.path().join("nowhere").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[cfg(unix)]
#[test]
fn a_run_killed_at_any_moment_leaves_only_valid_zips_and_the_next_run_cleans_up() {
    let t = Tree::new();
    let stems: Vec<String> = (0..6).map(|i| format!("load{i}")).collect();
    for s in &stems {
        t.file(&format!("yml/{s}.yml"), "");
        t.file(&format!("csv/{s}_part0.csv"), format!("{s} header\n"));
        fs::File::create(t.path().join(format!("csv/{s}_part1.csv")))
            .unwrap()
            .set_len(192 << 20)
            .unwrap();
        t.file(&format!("csv/{s}_part2.csv"), format!("{s} footer\n"));
    }
    let p = t.profile("archive:\n  compression: deflate\n  level: 1\n");
    // Killed before any zip, then after the 1st, 3rd and 5th zip was
    // reported finished (so with zips done and others being written).
    for finished_before_kill in [0, 1, 3, 5] {
        for zip in list(&t.out()).iter().filter(|n| n.ends_with(".zip")) {
            fs::remove_file(t.out().join(zip)).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_stemzip"))
            .args(["run", p.to_str().unwrap(), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reported = Vec::new();
        if finished_before_kill == 0 {
            std::thread::sleep(Duration::from_millis(100));
        } else {
            let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
            for line in lines {
                let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
                if event["event"] == "finished" {
                    reported.push(event["name"].as_str().unwrap().to_owned());
                    if reported.len() == finished_before_kill {
                        break;
                    }
                }
            }
            assert_eq!(reported.len(), finished_before_kill, "the run ended first");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let zips = every_zip_is_valid(&t.out());
        assert!(zips >= reported.len(), "{zips} zips, {reported:?} reported");
        for name in &reported {
            assert_eq!(zip_names(&t.out().join(format!("{name}.zip"))).len(), 3);
        }
        assert!(
            zips < 6,
            "killed after {finished_before_kill}: the run had ended"
        );
    }
    let out = stemzip(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(every_zip_is_valid(&t.out()), 6);
    assert!(temp_files(&t.out()).is_empty(), "{:?}", t.outputs());
    for s in &stems {
        let names = zip_names(&t.out().join(format!("{s}.zip")));
        assert_eq!(names.len(), 3, "{s}");
    }
}

/// Runs stems `changing` (one sparse 8 GiB member) and `steady` with
/// `archive`; once `changing` is being read, `change` alters its member.
/// Asserts that `changing` fails naming the file and `steady` is zipped.
fn a_member_changed_while_read_fails_its_stem(archive: &str, change: impl FnOnce(&fs::File)) {
    let t = Tree::new();
    t.stems(&["changing", "steady"]).data(&["steady_1.csv"]);
    let big = t.path().join("csv/changing_1.csv");
    fs::File::create(&big).unwrap().set_len(8 << 30).unwrap();
    let p = t.profile(&format!(
        "parallel_processing:\n  max_workers: 2\narchive:\n{archive}"
    ));
    let run = stemzip::engine::start(plan(&p)).unwrap();
    let mut events = events_until_reading(&run, "changing");
    change(&fs::OpenOptions::new().write(true).open(&big).unwrap());
    events.extend(run.events().iter());
    match outcome(&events, "changing") {
        Event::Failed { error, .. } => {
            assert!(error.contains("changed while it was being read"), "{error}");
            assert!(error.contains("changing_1.csv"), "{error}");
        }
        other => panic!("changing did not fail: {other:?}"),
    }
    assert!(matches!(outcome(&events, "steady"), Event::Finished { .. }));
    assert_eq!(t.outputs(), ["steady.zip"]);
}

/// Resizes `f` and puts its modification time back, so that only the size
/// and the bytes read can tell.
fn resize_keeping_time(f: &fs::File, len: u64) {
    let modified = f.metadata().unwrap().modified().unwrap();
    f.set_len(len).unwrap();
    f.set_modified(modified).unwrap();
}

#[test]
fn a_member_that_grows_while_read_fails_its_stem() {
    a_member_changed_while_read_fails_its_stem("  compression: deflate\n  level: 1\n", |f| {
        f.set_len((8 << 30) + 1).unwrap()
    });
}

#[test]
fn a_streamed_member_that_grows_with_its_time_put_back_fails_its_stem() {
    a_member_changed_while_read_fails_its_stem("  compression: zstd\n", |f| {
        resize_keeping_time(f, (8 << 30) + 1)
    });
}

#[test]
fn a_member_that_shrinks_with_its_time_put_back_fails_its_stem() {
    a_member_changed_while_read_fails_its_stem("  compression: deflate\n  level: 1\n", |f| {
        resize_keeping_time(f, 4 << 30)
    });
}

#[cfg(unix)]
#[test]
fn an_unreadable_member_fails_only_its_stem_naming_the_file_and_the_os_error() {
    if !is_root() {
        skipped("needs root to run stemzip as an unprivileged user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = Tree::new();
    t.stems(&["open", "locked"])
        .data(&["open_1.csv", "locked_1.csv", "locked_2.csv"]);
    let p = t.profile("parallel_processing:\n  save_error_reports: true\n");
    open_up(t.path());
    let locked = t.path().join("csv/locked_2.csv");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let out = stemzip_as_nobody(&["run", p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("locked_2.csv") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(zip_names(&t.out().join("open.zip")), ["open_1.csv"]);
    let outputs = t.outputs();
    assert!(!outputs.contains(&"locked.zip".to_owned()), "{outputs:?}");
    assert!(temp_files(&t.out()).is_empty(), "{outputs:?}");
    let report = outputs
        .iter()
        .find(|n| n.starts_with("stemzip-report-"))
        .unwrap();
    let report = stemzip::report::Report::load(&t.out().join(report)).unwrap();
    assert_eq!(report.failed_stems(), ["locked"]);
}

#[cfg(unix)]
#[test]
fn an_output_folder_that_is_not_writable_fails_the_stems_with_the_os_error() {
    if !is_root() {
        skipped("needs root to run stemzip as an unprivileged user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = Tree::new();
    t.stems(&["alpha"]).data(&["alpha_1.csv"]);
    let p = t.profile("");
    open_up(t.path());
    fs::create_dir(t.out()).unwrap();
    fs::set_permissions(t.out(), fs::Permissions::from_mode(0o555)).unwrap();
    let out = stemzip_as_nobody(&["run", p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("FAILED alpha") && err.contains("Permission denied"),
        "{err}"
    );
    assert!(t.outputs().is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_fails_the_stem_that_does_not_fit_and_the_others_are_written() {
    let t = Tree::new();
    fs::create_dir(t.out()).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "stemzip-test",
            t.out().to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        skipped("cannot mount a small tmpfs here (needs root and mount rights)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&t.out());
    t.stems(&["huge", "small1", "small2"]);
    t.file("csv/huge_1.csv", vec![b'7'; 3 << 20]);
    t.data(&["small1_1.csv", "small2_1.csv"]);
    // One worker: the largest stem goes first and its temporary file is gone
    // before the small ones start, so only the stem that cannot fit fails.
    let p = t.profile("parallel_processing:\n  max_workers: 1\n");
    let out = stemzip(&["run", p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("FAILED huge") && err.contains("No space left"),
        "{err}"
    );
    // One clear line per failure, nothing from the zip library's clean-up.
    assert!(!err.contains("ZipWriter"), "{err}");
    assert_eq!(t.outputs(), ["small1.zip", "small2.zip"]);
    every_zip_is_valid(&t.out());

    // In move mode the stem that did not fit keeps its file; the others go.
    for zip in t.outputs() {
        fs::remove_file(t.out().join(zip)).unwrap();
    }
    let out = stemzip(&["run", p.to_str().unwrap(), "--move"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(list(&t.path().join("csv")), ["huge_1.csv"]);
    assert_eq!(t.outputs(), ["small1.zip", "small2.zip"]);
    every_zip_is_valid(&t.out());
}

#[cfg(target_os = "linux")]
#[test]
fn a_member_name_that_is_not_utf8_fails_only_its_stem() {
    use std::os::unix::ffi::OsStrExt;
    let t = Tree::new();
    t.stems(&["odd", "plain"])
        .data(&["odd_1.csv", "plain_1.csv"]);
    let name = std::ffi::OsStr::from_bytes(b"odd_\xff\xfe.csv");
    fs::write(t.path().join("csv").join(name), "latin-1 name").unwrap();
    let (events, summary) = execute(plan(&t.profile("")));
    match outcome(&events, "odd") {
        Event::Failed { error, .. } => assert!(error.contains("not valid UTF-8"), "{error}"),
        other => panic!("odd did not fail: {other:?}"),
    }
    assert_eq!((summary.done, summary.failed), (1, 1));
    assert_eq!(t.outputs(), ["plain.zip"]);
}

#[test]
fn a_member_over_4_gib_makes_a_zip64_entry_every_reader_accepts() {
    let t = Tree::new();
    t.stems(&["huge"]);
    let size = (4u64 << 30) + 12_345;
    let f = fs::File::create(t.path().join("csv/huge_1.csv")).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    t.file("csv/huge_2.csv", "after the big one");
    let (_, summary) = execute(plan(
        &t.profile("archive:\n  compression: deflate\n  level: 1\n"),
    ));
    assert_eq!(summary.done, 1);
    let zip = t.out().join("huge.zip");
    let mut archive = zip::ZipArchive::new(fs::File::open(&zip).unwrap()).unwrap();
    assert_eq!(archive.by_index(0).unwrap().size(), size);
    check_with_readers(&zip);
}

#[test]
fn a_profile_path_that_is_a_folder_is_refused() {
    let t = Tree::new();
    let out = stemzip(&["run", t.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read profile"),
        "{}",
        stderr(&out)
    );
}

/// 2,000 stems of 5 files, run twice in parallel (the second over the first's
/// zips): exactly the planned zips with exactly their members, no temporary file.
#[test]
fn soak_two_thousand_stems_twice() {
    let t = Tree::new();
    for i in 0..2000 {
        let stem = format!("case{i:04}");
        fs::write(t.path().join(format!("yml/{stem}.yml")), "").unwrap();
        for part in 0..5 {
            fs::write(
                t.path().join(format!("csv/{stem}_p{part}.csv")),
                format!("{stem},{part}\n"),
            )
            .unwrap();
        }
    }
    let p = t.profile("archive:\n  stem_match: prefix\n");
    for round in 0..2 {
        let out = stemzip(&["run", p.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            stderr(&out)
        );
        let outputs = t.outputs();
        assert_eq!(outputs.len(), 2000, "round {round}");
        for (i, name) in outputs.iter().enumerate() {
            let stem = format!("case{i:04}");
            assert_eq!(*name, format!("{stem}.zip"));
            let entries = read_zip(&t.out().join(name));
            let expected: Vec<(String, Vec<u8>)> = (0..5)
                .map(|part| {
                    (
                        format!("{stem}_p{part}.csv"),
                        format!("{stem},{part}\n").into_bytes(),
                    )
                })
                .collect();
            assert_eq!(entries, expected, "round {round}");
        }
    }
    check_with_readers(&t.out().join("case1999.zip"));
}

/// In a shared output folder (sticky, writable by all), another user's
/// leftover temporary file cannot be deleted: it stays, and the run still
/// writes every zip (it used to fail every stem).
#[cfg(unix)]
#[test]
fn another_users_leftover_temporary_file_in_a_shared_folder_does_not_stop_the_run() {
    if !is_root() {
        skipped("needs root to run stemzip as an unprivileged user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile("");
    fs::create_dir(t.out()).unwrap();
    let leftover = t.out().join(".stemzip-AAAAAAAAAAAA.partial");
    fs::write(&leftover, "a killed run's bytes").unwrap();
    open_up(t.path());
    // Root's file in a sticky folder: nobody may not delete it.
    fs::set_permissions(t.out(), fs::Permissions::from_mode(0o1777)).unwrap();
    let out = stemzip_as_nobody(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(zip_names(&t.out().join("a.zip")), ["a_1.csv"]);
    assert_eq!(zip_names(&t.out().join("b.zip")), ["b_1.csv"]);
    assert!(leftover.exists());
}
