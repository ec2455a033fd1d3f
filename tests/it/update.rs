//! Update mode (`archive.update`, `--update`): a rerun leaves the zips that
//! already hold exactly their stem's files and rebuilds the others.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use stemzip::Event;

use crate::helpers::*;

/// When a file was last written, and its bytes: a zip left alone keeps both.
fn stamp(path: &Path) -> (SystemTime, Vec<u8>) {
    (
        fs::metadata(path).unwrap().modified().unwrap(),
        fs::read(path).unwrap(),
    )
}

fn set_mtime(path: &Path, when: SystemTime) {
    filetime::set_file_mtime(path, filetime::FileTime::from_system_time(when)).unwrap();
}

/// Five stems zipped once; then `same` untouched, `edited` rewritten with
/// the same size, `grown` given a new file, `shrunk` a file removed, and
/// `broken`'s zip damaged.
fn rerun_tree() -> (Tree, std::path::PathBuf) {
    let t = Tree::new();
    t.stems(&["same", "edited", "grown", "shrunk", "broken"]);
    t.data(&[
        "same_1.csv",
        "edited_1.csv",
        "grown_1.csv",
        "shrunk_1.csv",
        "shrunk_2.csv",
        "broken_1.csv",
    ]);
    let p = t.profile("archive:\n  compression: deflate\n");
    let o = stemzip(&["run", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let edited = t.path().join("csv/edited_1.csv");
    let before = fs::metadata(&edited).unwrap().modified().unwrap();
    fs::write(&edited, "DATA OF edited_1.csv\n").unwrap();
    set_mtime(&edited, before + Duration::from_secs(10));
    t.data(&["grown_2.csv"]);
    fs::remove_file(t.path().join("csv/shrunk_2.csv")).unwrap();
    fs::write(t.out().join("broken.zip"), "not a zip any more").unwrap();
    (t, p)
}

#[test]
fn dry_run_says_which_zips_are_up_to_date_and_why_the_others_are_rebuilt() {
    let (t, p) = rerun_tree();
    let o = stemzip(&["run", p.to_str().unwrap(), "--update", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for expected in [
        "same  (1 files, 19 B)  up to date",
        "edited  (1 files, 21 B)  rebuild: edited_1.csv was modified since it was zipped",
        "grown  (2 files, 40 B)  rebuild: grown_2.csv is not in the zip",
        "shrunk  (1 files, 21 B)  up to date",
        "broken  (1 files, 21 B)  rebuild: the zip cannot be read",
        "dry run: 5 stems, 2 up to date, 3 zips",
    ] {
        assert!(out.contains(expected), "{expected:?} not in:\n{out}");
    }
    // Nothing was written.
    assert_eq!(
        fs::read(t.out().join("broken.zip")).unwrap(),
        b"not a zip any more"
    );
}

#[test]
fn an_update_run_leaves_up_to_date_zips_alone_and_rebuilds_the_rest() {
    let (t, p) = rerun_tree();
    let same = stamp(&t.out().join("same.zip"));
    let edited = stamp(&t.out().join("edited.zip"));
    std::thread::sleep(Duration::from_millis(20));

    let o = stemzip(&["run", p.to_str().unwrap(), "--update", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ended = |stem: &str| -> String {
        events
            .iter()
            .filter(|e| e["name"] == stem)
            .filter(|e| {
                !["queued", "started", "progress", "warning"]
                    .contains(&e["event"].as_str().unwrap())
            })
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(ended("same"), "up_to_date");
    for stem in ["edited", "grown", "broken"] {
        assert_eq!(ended(stem), "finished", "{stem}");
    }
    // shrunk_2.csv is gone: its zip is its only copy, and stays as it is.
    assert_eq!(ended("shrunk"), "up_to_date");
    let warning = events
        .iter()
        .find(|e| e["event"] == "warning")
        .expect("a warning for the damaged zip");
    assert_eq!(warning["name"], "broken");
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{warning}"
    );
    let summary = events.last().unwrap();
    assert_eq!(
        (summary["up_to_date"].as_u64(), summary["done"].as_u64()),
        (Some(2), Some(3))
    );

    // Left alone: the same bytes, not even rewritten.
    assert_eq!(stamp(&t.out().join("same.zip")), same);
    assert_ne!(stamp(&t.out().join("edited.zip")).1, edited.1);
    assert_eq!(
        read_zip(&t.out().join("edited.zip")),
        [(
            "edited_1.csv".to_owned(),
            b"DATA OF edited_1.csv\n".to_vec()
        )]
    );
    assert_eq!(
        zip_names(&t.out().join("grown.zip")),
        ["grown_1.csv", "grown_2.csv"]
    );
    assert_eq!(
        zip_names(&t.out().join("shrunk.zip")),
        ["shrunk_1.csv", "shrunk_2.csv"]
    );
    assert_eq!(zip_names(&t.out().join("broken.zip")), ["broken_1.csv"]);
    assert_eq!(temp_files(&t.out()), Vec::<String>::new());

    let (_, summary) = execute(plan_with(&p, &["archive.update=true"]));
    assert_eq!((summary.up_to_date, summary.done), (5, 0));
    // A plain rerun would replace the zip without the entry: the stem
    // fails instead, unless told to drop it.
    let (events, summary) = execute(plan(&p));
    assert_eq!((summary.failed, summary.done), (1, 4));
    assert!(
        matches!(outcome(&events, "shrunk"), Event::Failed { error, .. } if error.contains("holds shrunk_2.csv whose file is gone")),
        "{events:?}"
    );
    assert_eq!(
        zip_names(&t.out().join("shrunk.zip")),
        ["shrunk_1.csv", "shrunk_2.csv"]
    );
    let (_, summary) = execute(plan_with(&p, &["archive.drop_missing_entries=true"]));
    assert_eq!(summary.done, 5);
    assert_eq!(zip_names(&t.out().join("shrunk.zip")), ["shrunk_1.csv"]);
}

#[test]
fn a_change_of_compression_method_rebuilds_and_a_zip_another_tool_wrote_is_rewritten_once() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile("archive:\n  compression: stored\n");
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 2);

    let (events, summary) = execute(plan_with(
        &p,
        &["archive.update=true", "archive.compression=deflate"],
    ));
    assert_eq!(summary.done, 2, "{events:?}");
    let (_, summary) = execute(plan_with(
        &p,
        &["archive.update=true", "archive.compression=deflate"],
    ));
    assert_eq!(summary.up_to_date, 2);

    // A zip with the right entries but only DOS times (as Python's
    // zipfile writes them): its times cannot be compared to the second.
    let zip = t.out().join("a.zip");
    let mut writer = zip::ZipWriter::new(fs::File::create(&zip).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("a_1.csv", options).unwrap();
    std::io::Write::write_all(
        &mut writer,
        &fs::read(t.path().join("csv/a_1.csv")).unwrap(),
    )
    .unwrap();
    writer.finish().unwrap();
    let (events, summary) = execute(plan_with(
        &p,
        &["archive.update=true", "archive.compression=deflate"],
    ));
    assert_eq!((summary.done, summary.up_to_date), (1, 1));
    assert!(matches!(outcome(&events, "a"), Event::Finished { .. }));
}

/// An entry whose file is gone keeps its zip, in a plain run and in
/// update mode, also when something that is not a file now has the name
/// (a folder), and when the zip has bytes after its end record (padding
/// from a transfer), which every zip reader accepts: the entry is not
/// "still on disk", and the zip's own directory still tells its entries,
/// including one another tool added.
#[test]
fn entries_whose_files_are_gone_are_kept_when_a_folder_has_the_name_or_the_zip_is_padded() {
    let t = Tree::new();
    t.stems(&["folder", "padded"])
        .data(&["folder_1.csv", "folder_2.csv", "padded_1.csv"]);
    let p = t.profile("");
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 2);
    // A folder in place of a zipped file.
    fs::remove_file(t.path().join("csv/folder_2.csv")).unwrap();
    fs::create_dir(t.path().join("csv/folder_2.csv")).unwrap();
    // An entry another tool added (the file is not in the data folder),
    // then one byte after the end record.
    let padded = t.out().join("padded.zip");
    let mut zip = zip::ZipWriter::new_append(
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&padded)
            .unwrap(),
    )
    .unwrap();
    zip.start_file("notes.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"my notes").unwrap();
    zip.finish().unwrap();
    let mut bytes = fs::read(&padded).unwrap();
    bytes.push(b'X');
    fs::write(&padded, &bytes).unwrap();

    for sets in [&[][..], &["archive.update=true"][..]] {
        let (events, summary) = execute(plan_with(&p, sets));
        assert_eq!(summary.done, 0, "{sets:?}: {events:?}");
        assert!(
            matches!(outcome(&events, "folder"), Event::Failed { error, .. } if error.contains("holds folder_2.csv whose file is gone"))
                || matches!(outcome(&events, "folder"), Event::UpToDate { .. }),
            "{sets:?}: {events:?}"
        );
        assert_eq!(
            zip_names(&t.out().join("folder.zip")),
            ["folder_1.csv", "folder_2.csv"],
            "{sets:?}"
        );
        assert!(
            zip_names(&padded).contains(&"notes.txt".to_owned()),
            "{sets:?}: {events:?}"
        );
        assert_eq!(fs::read(&padded).unwrap(), bytes, "{sets:?}");
    }
}

/// Files dated before 1970 (or after 2106), which the extended timestamp
/// cannot hold, are zipped once and then up to date, not rebuilt on every
/// update run.
#[test]
fn files_dated_outside_what_a_zip_can_hold_are_up_to_date_after_one_run() {
    let t = Tree::new();
    t.stems(&["old", "future"])
        .data(&["old_1.csv", "future_1.csv"]);
    let set = |name: &str, time: SystemTime| {
        fs::File::options()
            .write(true)
            .open(t.path().join("csv").join(name))
            .unwrap()
            .set_modified(time)
            .unwrap();
    };
    let year = Duration::from_secs(365 * 86_400);
    set("old_1.csv", SystemTime::UNIX_EPOCH - 5 * year);
    set("future_1.csv", SystemTime::UNIX_EPOCH + 200 * year);
    let p = t.profile("");
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 2);
    let (events, summary) = execute(plan_with(&p, &["archive.update=true"]));
    assert_eq!((summary.up_to_date, summary.done), (2, 0), "{events:?}");
}

/// With verify on, an update run reads an up-to-date zip back in full: a
/// zip whose data was damaged (its central directory intact) is rebuilt,
/// with a warning, where without verify the directory alone decides.
#[test]
fn with_verify_on_an_update_run_rebuilds_a_zip_whose_data_is_damaged() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 1);
    let zip = t.out().join("a.zip");
    let good = fs::read(&zip).unwrap();
    let mut bad = good.clone();
    let at = good
        .windows(b"data of a_1.csv".len())
        .position(|w| w == b"data of a_1.csv")
        .unwrap();
    bad[at] ^= 0x20;
    fs::write(&zip, &bad).unwrap();

    let (_, summary) = execute(plan_with(&p, &["archive.update=true"]));
    assert_eq!(
        summary.up_to_date, 1,
        "without verify the directory decides"
    );
    assert_eq!(fs::read(&zip).unwrap(), bad);

    let (events, summary) = execute(plan_with(
        &p,
        &["archive.update=true", "archive.verify=true"],
    ));
    assert_eq!((summary.up_to_date, summary.done), (0, 1), "{events:?}");
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Warning { message, .. } if message.contains("read-back failed"))
        ),
        "{events:?}"
    );
    assert_eq!(
        read_zip(&zip),
        [("a_1.csv".to_owned(), b"data of a_1.csv\n".to_vec())]
    );
}

/// The dry run says what the run will do with a zip that differs but also
/// holds an entry whose file is gone: keep it and fail the stem (not
/// "rebuild"), and it counts no zip to write for it.
#[test]
fn the_dry_run_foresees_a_kept_zip_whose_entry_files_are_gone() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv", "a_2.csv"]);
    let p = t.profile("");
    let p = p.to_str().unwrap();
    assert_eq!(stemzip(&["run", p]).status.code(), Some(0));
    fs::remove_file(t.path().join("csv/a_2.csv")).unwrap();
    fs::write(t.path().join("csv/a_1.csv"), "edited, and longer\n").unwrap();
    let before = fs::read(t.out().join("a.zip")).unwrap();

    let out = stemzip(&["run", p, "--update", "--dry-run"]);
    let text = stdout(&out);
    assert!(
        text.contains("fails, the zip kept: it holds a_2.csv whose file is gone"),
        "{text}"
    );
    assert!(
        text.contains("1 to fail (zips kept), 0 zips (0 B)"),
        "{text}"
    );

    let out = stemzip(&["run", p, "--update"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(fs::read(t.out().join("a.zip")).unwrap(), before);
}
