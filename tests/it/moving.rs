//! Move mode (`archive.delete_originals`, `--move`): data files are deleted
//! once their zip is complete, flushed and read back; never otherwise.

use std::collections::BTreeMap;
use std::fs;
use std::io::BufRead;
use std::process::{Command, Stdio};

use stemzip::{CancelToken, Event};

use crate::helpers::*;

/// The profile's `archive` section with `lines`; on Windows, which has no
/// folder flush, it accepts that, or move mode would keep every original
/// for zips it does not rename (`on_windows_a_write_through_rename_…`).
fn archive(lines: &str) -> String {
    let accept = if cfg!(windows) {
        "  accept_unflushed_folder: true\n"
    } else {
        ""
    };
    format!("archive:\n{accept}{lines}")
}

/// Every file under `csv/`, with its bytes.
fn snapshot(t: &Tree) -> BTreeMap<String, Vec<u8>> {
    list(&t.path().join("csv"))
        .into_iter()
        .map(|n| {
            let bytes = fs::read(t.path().join("csv").join(&n)).unwrap();
            (n, bytes)
        })
        .collect()
}

#[test]
fn a_move_run_deletes_the_files_of_zipped_stems_and_keeps_those_a_failed_stem_shares() {
    let t = Tree::new();
    // `run10_b.csv` belongs to both `run1` and `run10` (contains).
    t.stems(&["run1", "run10", "other"]);
    t.data(&["run1_a.csv", "run10_b.csv", "other_1.csv", "other_2.csv"]);
    let p = t.profile(&archive(""));
    // run10 fails: its zip's name is taken by a folder.
    fs::create_dir_all(t.out().join("run10.zip")).unwrap();
    let before = snapshot(&t);

    let report = t.path().join("report.yaml");
    let o = stemzip(&[
        "run",
        p.to_str().unwrap(),
        "--move",
        "--json",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let left = list(&t.path().join("csv"));
    // Deleted: run1's own file, and other's two. Kept: the file run10 (failed) shares.
    assert_eq!(left, ["run10_b.csv"]);
    // What went is in the zips, byte for byte.
    for (stem, files) in [
        ("run1", vec!["run10_b.csv", "run1_a.csv"]),
        ("other", vec!["other_1.csv", "other_2.csv"]),
    ] {
        let zip = read_zip(&t.out().join(format!("{stem}.zip")));
        let expected: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| ((*f).to_owned(), before[*f].clone()))
            .collect();
        assert_eq!(zip, expected, "{stem}");
    }
    let events: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let deleted: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e["event"] == "deleted")
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["files"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut deleted = deleted;
    deleted.sort();
    assert_eq!(deleted, [("other".to_owned(), 2), ("run1".to_owned(), 1)]);
    let summary = events.last().unwrap();
    assert_eq!(summary["files_deleted"], 3);
    let freed =
        before["run1_a.csv"].len() + before["other_1.csv"].len() + before["other_2.csv"].len();
    assert_eq!(summary["bytes_freed"].as_u64(), Some(freed as u64));
    let report = stemzip::report::Report::load(&report).unwrap();
    let other = report.stems.iter().find(|s| s.stem == "other").unwrap();
    assert_eq!(
        (other.files_deleted, other.bytes_freed),
        (
            2,
            (before["other_1.csv"].len() + before["other_2.csv"].len()) as u64
        )
    );
    // The stem sources are never touched.
    assert_eq!(list(&t.path().join("yml")).len(), 3);
}

#[test]
fn a_file_changed_after_it_was_zipped_is_kept_and_the_stem_says_so() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile(&archive(""));
    let plan = plan_with(&p, &["archive.delete_originals=true"]);
    assert!(plan.settings.verify, "move mode reads every zip back");
    let changed = t.path().join("csv/a_1.csv");
    let mut events = Vec::new();
    stemzip::engine::execute_with(plan, &CancelToken::new(), |e| {
        // Between the zip and the deletion: the simulation writes again.
        if let Event::Finished { name, .. } = &e
            && name == "a"
        {
            fs::write(&changed, "a longer, newer a_1.csv\n").unwrap();
        }
        events.push(e);
    });
    assert_eq!(fs::read(&changed).unwrap(), b"a longer, newer a_1.csv\n");
    assert!(!t.path().join("csv/b_1.csv").exists());
    let warning = events
        .iter()
        .find_map(|e| match e {
            Event::Warning { name, message, .. } if name == "a" => Some(message.clone()),
            _ => None,
        })
        .expect("a warning on a");
    assert!(
        warning.contains("a_1.csv kept: it changed since it was zipped"),
        "{warning}"
    );
    // The zip holds what was read, and the newer file is still there to zip again.
    assert_eq!(
        read_zip(&t.out().join("a.zip")),
        [("a_1.csv".to_owned(), b"data of a_1.csv\n".to_vec())]
    );
}

#[test]
fn when_no_zip_can_be_written_nothing_is_deleted() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile(&archive(""));
    // Planned, then the output folder's place is taken by a file.
    let plan = plan_with(&p, &["archive.delete_originals=true"]);
    fs::write(t.out(), "not a folder").unwrap();
    let (events, summary) = execute(plan);
    assert_eq!(
        (summary.failed, summary.files_deleted),
        (2, 0),
        "{events:?}"
    );
    assert_eq!(list(&t.path().join("csv")), ["a_1.csv", "b_1.csv"]);
    // Told before anything at the command line.
    let o = stemzip(&["run", p.to_str().unwrap(), "--move"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is a file, not a folder"),
        "{}",
        stderr(&o)
    );
    assert_eq!(list(&t.path().join("csv")), ["a_1.csv", "b_1.csv"]);
}

#[test]
#[cfg_attr(
    not(windows),
    ignore = "Windows has no folder flush; elsewhere the folder is flushed"
)]
fn on_windows_a_write_through_rename_stands_in_for_the_folder_flush() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("");
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 1);
    // Up to date: the zip's name cannot be made durable now (no folder
    // flush, and no rename), so its original stays unless accepted.
    let up = ["archive.update=true", "archive.delete_originals=true"];
    let (events, summary) = execute(plan_with(&p, &up));
    assert_eq!(
        (summary.up_to_date, summary.files_deleted),
        (1, 0),
        "{events:?}"
    );
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Warning { message, .. } if message.contains("originals kept"))
        ),
        "{events:?}"
    );
    let accepted = [up[0], up[1], "archive.accept_unflushed_folder=true"];
    let (_, summary) = execute(plan_with(&p, &accepted));
    assert_eq!(summary.files_deleted, 1);
    // A zip written now is renamed write-through: its file goes.
    t.stems(&["b"]).data(&["b_1.csv"]);
    let (events, summary) = execute(plan_with(&p, &["archive.delete_originals=true"]));
    assert_eq!(summary.files_deleted, 1, "{events:?}");
    assert!(!t.path().join("csv/b_1.csv").exists());
}

/// Rewrites `path` with other bytes of the same length and puts its
/// modification time back: a change no size or time can show.
fn rewrite_unseen(path: &std::path::Path) {
    let meta = fs::metadata(path).unwrap();
    let bytes: Vec<u8> = fs::read(path)
        .unwrap()
        .iter()
        .map(|b| b.to_ascii_uppercase())
        .collect();
    fs::write(path, bytes).unwrap();
    filetime::set_file_mtime(path, filetime::FileTime::from_last_modification_time(&meta)).unwrap();
}

#[test]
fn a_file_rewritten_unseen_after_its_zip_is_kept_or_zipped_again_never_lost() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile(&archive("  compression: deflate\n"));
    // Freshly zipped, then rewritten before the deletion: the last check
    // (the file's CRC against its entry) keeps it.
    let plan = plan_with(&p, &["archive.delete_originals=true"]);
    let a = t.path().join("csv/a_1.csv");
    let mut events = Vec::new();
    stemzip::engine::execute_with(plan, &CancelToken::new(), |e| {
        if let Event::Finished { name, .. } = &e
            && name == "a"
        {
            rewrite_unseen(&a);
        }
        events.push(e);
    });
    assert_eq!(fs::read(&a).unwrap(), b"DATA OF A_1.CSV\n");
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Warning { message, .. } if message.contains("bytes differ"))
        ),
        "{events:?}"
    );
    assert!(!t.path().join("csv/b_1.csv").exists());

    // Update mode: the zip looks up to date (same names, sizes, times),
    // but the file's bytes are not the zip's: it is zipped again, then
    // deleted, and the zip holds the new bytes.
    fs::write(t.path().join("csv/b_1.csv"), "data of b_1.csv\n").unwrap();
    let (events, summary) = execute(plan_with(
        &p,
        &["archive.update=true", "archive.delete_originals=true"],
    ));
    assert!(
        matches!(outcome(&events, "a"), Event::Finished { .. }),
        "{events:?}"
    );
    assert_eq!(summary.files_deleted, 2, "{events:?}");
    assert_eq!(
        read_zip(&t.out().join("a.zip")),
        [("a_1.csv".to_owned(), b"DATA OF A_1.CSV\n".to_vec())]
    );
    assert!(!a.exists());
}

#[test]
fn a_rerun_after_a_move_never_replaces_a_zip_that_is_the_only_copy_of_a_file() {
    let t = Tree::new();
    // run10_b.csv is shared with run10, which fails: it stays, while
    // run1_a.csv goes into run1.zip and is deleted.
    t.stems(&["run1", "run10"])
        .data(&["run1_a.csv", "run10_b.csv"]);
    let p = t.profile(&archive(""));
    fs::create_dir_all(t.out().join("run10.zip")).unwrap();
    let o = stemzip(&["run", p.to_str().unwrap(), "--move"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(list(&t.path().join("csv")), ["run10_b.csv"]);
    let run1 = fs::read(t.out().join("run1.zip")).unwrap();

    // A plain rerun (overwrite on): run1 now plans only run10_b.csv, and
    // replacing run1.zip would lose run1_a.csv. It fails instead.
    fs::remove_dir(t.out().join("run10.zip")).unwrap();
    let o = stemzip(&["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds run1_a.csv whose file is gone"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(t.out().join("run1.zip")).unwrap(), run1);
    // An update rerun in move mode: run1's zip is up to date (it keeps
    // run1_a.csv), run10 is zipped now, and run10_b.csv can go.
    let o = stemzip(&["run", p.to_str().unwrap(), "--update", "--move"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read(t.out().join("run1.zip")).unwrap(), run1);
    assert!(list(&t.path().join("csv")).is_empty());
    assert_eq!(zip_names(&t.out().join("run10.zip")), ["run10_b.csv"]);
}

#[test]
fn a_damaged_zip_that_is_the_only_copy_of_moved_files_is_kept_not_replaced() {
    let t = Tree::new();
    t.stems(&["caseA"])
        .data(&["caseA_part1.csv", "caseA_part2.csv"]);
    let p = t.profile(&archive(""));
    let o = stemzip(&["run", p.to_str().unwrap(), "--move"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(list(&t.path().join("csv")).is_empty());
    // The zip's end record is damaged (its entries are still there for a
    // repair tool), and a new part arrives.
    let zip = t.out().join("caseA.zip");
    let mut damaged = fs::read(&zip).unwrap();
    let end = damaged
        .windows(4)
        .rposition(|w| w == b"PK\x05\x06")
        .unwrap();
    damaged[end] = b'X';
    fs::write(&zip, &damaged).unwrap();
    t.data(&["caseA_part3.csv"]);
    for rerun in [&["--update"][..], &[], &["--move"]] {
        let mut args = vec!["run", p.to_str().unwrap()];
        args.extend_from_slice(rerun);
        let o = stemzip(&args);
        assert_eq!(o.status.code(), Some(1), "{rerun:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("holds caseA_part1.csv, caseA_part2.csv whose file is gone"),
            "{rerun:?}: {}",
            stderr(&o)
        );
        assert_eq!(fs::read(&zip).unwrap(), damaged, "{rerun:?}");
        assert_eq!(list(&t.path().join("csv")), ["caseA_part3.csv"]);
    }
    // Told to drop them, the run replaces it.
    let p = t.profile(&archive("  drop_missing_entries: true\n"));
    let o = stemzip(&["run", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(zip_names(&zip), ["caseA_part3.csv"]);
}

#[test]
fn a_damaged_zip_whose_files_all_exist_is_rebuilt_even_when_a_member_is_a_zip() {
    // A workbook is a zip: stored in caseA.zip, its own entries' headers
    // (`[Content_Types].xml`, `xl/workbook.xml`) are in caseA.zip's bytes.
    let mut book = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for name in ["[Content_Types].xml", "xl/workbook.xml"] {
        book.start_file(name, stored).unwrap();
        std::io::Write::write_all(&mut book, b"<xml/>").unwrap();
    }
    let book = book.finish().unwrap().into_inner();
    let t = Tree::new();
    t.stems(&["caseA"]).data(&["caseA_1.csv"]);
    t.file("csv/caseA_book.xlsx", &book);
    let p = t.file(
        "profile.yml",
        "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv, xlsx]\n\
         file_management:\n  input_directory: yml\n  output_directory: zip\n  \
         filename:\n    extension: [yml]\n",
    );
    let o = stemzip(&["run", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let zip = t.out().join("caseA.zip");
    assert_eq!(zip_names(&zip), ["caseA_1.csv", "caseA_book.xlsx"]);
    // Cut short, as by a full disk: the central directory is gone.
    let whole = fs::read(&zip).unwrap();
    let end = whole.len() - 22;
    assert_eq!(&whole[end..end + 4], b"PK\x05\x06");
    let directory = u32::from_le_bytes(whole[end + 16..end + 20].try_into().unwrap());
    fs::write(&zip, &whole[..directory as usize]).unwrap();
    // Every file is still there: the zip is rebuilt.
    let o = stemzip(&["run", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read(&zip).unwrap(), whole);
}

#[test]
fn a_stem_file_stays_when_its_folder_is_also_the_data_folder_written_another_way() {
    // One folder holds the stem files and the data, and the data includes
    // .yml files: caseA.yml is both caseA's stem file and a member. The
    // profile names the folder absolutely for the stems, relatively for the
    // data, and is run by a relative path.
    let t = Tree::new();
    t.file("runs/caseA.yml", "# caseA\n");
    t.file("runs/caseA_1.csv", "data\n");
    let runs = t.path().join("runs").canonicalize().unwrap();
    let p = t.file(
        "profile.yml",
        format!(
            "analysis:\n  input_directory: runs\n  filename:\n    extension: [csv, yml]\n\
             file_management:\n  input_directory: '{}'\n  output_directory: zip\n  \
             filename:\n    extension: [yml]\n{}",
            runs.display(),
            archive("")
        ),
    );
    assert!(p.ends_with("profile.yml"));
    let here = Some(t.path());
    let o = stemzip_in(
        here,
        &["run", "profile.yml", "--move", "--dry-run", "--json"],
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let delete: Vec<&str> = plan["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(
        delete.len() == 1 && delete[0].ends_with("caseA_1.csv"),
        "{plan}"
    );
    let o = stemzip_in(here, &["run", "profile.yml", "--move"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(list(&t.path().join("runs")), ["caseA.yml"]);
    assert_eq!(
        zip_names(&t.out().join("caseA.zip")),
        ["caseA.yml", "caseA_1.csv"]
    );
}

#[test]
fn a_shard_keeps_a_file_it_shares_with_a_stem_of_another_shard() {
    use stemzip::shard::hash_shard;
    // Two stems in different shards (by hash, of 2) that share a file:
    // "sN" is in "sNx_1.csv".
    let (a, b) = (0..100)
        .map(|i| (format!("s{i}"), format!("s{i}x")))
        .find(|(a, b)| hash_shard(a, 2) != hash_shard(b, 2))
        .unwrap();
    let t = Tree::new();
    t.stems(&[&a, &b]);
    t.data(&[&format!("{a}_1.csv"), &format!("{b}_1.csv")]);
    let p = t.profile(&archive(""));
    let shard = format!("{}/2", hash_shard(&a, 2));
    let o = stemzip(&["run", p.to_str().unwrap(), "--move", "--shard", &shard]);
    assert!(o.status.success(), "{}", stderr(&o));
    // a's own file went; the one b (in the other shard, not run yet) holds stayed.
    assert_eq!(list(&t.path().join("csv")), [format!("{b}_1.csv")]);
    assert_eq!(
        zip_names(&t.out().join(format!("{a}.zip"))),
        [format!("{a}_1.csv"), format!("{b}_1.csv")]
    );
    // The dry run of that shard says the same.
    let o = stemzip(&[
        "run",
        p.to_str().unwrap(),
        "--move",
        "--shard",
        &shard,
        "--dry-run",
        "--json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(plan["delete"].as_array().map(Vec::len), Some(0), "{plan}");
}

#[test]
fn with_overwrite_off_an_existing_zip_lets_its_files_go_only_if_it_holds_exactly_them() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile(&archive(""));
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 2);
    // b gains a file its zip does not hold.
    t.data(&["b_2.csv"]);
    let off = [
        "default.config.overwrite.output=false",
        "archive.delete_originals=true",
    ];
    let (events, summary) = execute(plan_with(&p, &off));
    assert!(
        matches!(outcome(&events, "a"), Event::UpToDate { .. }),
        "{events:?}"
    );
    assert!(
        matches!(outcome(&events, "b"), Event::Skipped { .. }),
        "{events:?}"
    );
    assert_eq!(summary.files_deleted, 1);
    assert_eq!(list(&t.path().join("csv")), ["b_1.csv", "b_2.csv"]);
    assert!(
        events.iter().any(|e| matches!(e, Event::Warning { name, message, .. } if name == "b" && message.contains("originals kept"))),
        "{events:?}"
    );
    assert_eq!(zip_names(&t.out().join("b.zip")), ["b_1.csv"]);
}

#[test]
fn dry_run_lists_every_file_move_mode_would_delete_and_deletes_none() {
    let t = Tree::new();
    t.stems(&["a", "b"])
        .data(&["a_1.csv", "b_1.csv", "b_2.csv"]);
    let p = t.profile(&archive(""));
    let o = stemzip(&["run", p.to_str().unwrap(), "--move", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("move mode: these 3 file(s) (48 B) are deleted"),
        "{out}"
    );
    for f in ["a_1.csv", "b_1.csv", "b_2.csv"] {
        let path = t.path().join("csv").join(f);
        assert!(
            out.contains(&path.display().to_string()),
            "{f} not listed:\n{out}"
        );
        assert!(path.exists());
    }
    assert!(t.outputs().is_empty());
}

#[test]
fn with_update_mode_an_up_to_date_zip_is_read_back_before_its_files_go() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let p = t.profile(&archive("  compression: deflate\n"));
    let (_, summary) = execute(plan(&p));
    assert_eq!(summary.done, 2);
    // b's zip keeps its central directory but its data is damaged.
    let zip = t.out().join("b.zip");
    let mut bytes = fs::read(&zip).unwrap();
    // The first entry's data starts after its local header (30 bytes), name
    // and extra field.
    let name_len = u16::from_le_bytes([bytes[26], bytes[27]]) as usize;
    let extra_len = u16::from_le_bytes([bytes[28], bytes[29]]) as usize;
    bytes[30 + name_len + extra_len + 2] ^= 0xff;
    fs::write(&zip, &bytes).unwrap();

    let (events, summary) = execute(plan_with(
        &p,
        &["archive.update=true", "archive.delete_originals=true"],
    ));
    assert_eq!((summary.up_to_date, summary.done), (1, 1), "{events:?}");
    assert!(matches!(outcome(&events, "a"), Event::UpToDate { .. }));
    // b was rebuilt (its read-back failed), then its file deleted.
    assert!(events.iter().any(|e| matches!(e, Event::Warning { name, message, .. } if name == "b" && message.contains("read-back failed"))), "{events:?}");
    assert_eq!(list(&t.path().join("csv")), Vec::<String>::new());
    assert_eq!(
        read_zip(&zip),
        [("b_1.csv".to_owned(), b"data of b_1.csv\n".to_vec())]
    );
}

/// Every data file of `before` is still there as it was, or inside its
/// stem's zip under the final name with its exact bytes; and every zip in
/// the output folder is complete.
fn nothing_is_lost(t: &Tree, before: &BTreeMap<String, Vec<u8>>) {
    for zip in list(&t.out()).iter().filter(|n| n.ends_with(".zip")) {
        read_zip(&t.out().join(zip));
    }
    for (name, bytes) in before {
        let path = t.path().join("csv").join(name);
        if path.exists() {
            assert_eq!(&fs::read(&path).unwrap(), bytes, "{name} changed");
            continue;
        }
        let stem = name.split('_').next().unwrap();
        let zip = t.out().join(format!("{stem}.zip"));
        assert!(zip.exists(), "{name} deleted, and {stem}.zip is not there");
        let entries = read_zip(&zip);
        assert!(
            entries.iter().any(|(n, b)| n == name && b == bytes),
            "{name} deleted, and not in {stem}.zip with its bytes"
        );
    }
}

fn restore(t: &Tree, before: &BTreeMap<String, Vec<u8>>) {
    let _ = fs::remove_dir_all(t.out());
    for (name, bytes) in before {
        let path = t.path().join("csv").join(name);
        if !path.exists() {
            fs::write(&path, bytes).unwrap();
        }
    }
}

#[test]
fn a_move_run_killed_at_twenty_moments_never_loses_a_file() {
    let t = Tree::new();
    let mut seed: u64 = 7;
    for i in 0..30 {
        let stem = format!("case{i:02}");
        t.stems(&[&stem]);
        for part in 0..3 {
            let len = 20_000 + (i * 7919 + part * 104_729) % 200_000;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    b"0123456789,.\n"[(seed >> 59) as usize % 13]
                })
                .collect();
            t.file(&format!("csv/{stem}_part{part}.csv"), bytes);
        }
    }
    let p = t.profile(&archive("  compression: deflate\n  level: 1\n"));
    let before = snapshot(&t);
    let run = |kill_after: Option<usize>| -> usize {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stemzip"))
            .args([
                "run",
                p.to_str().unwrap(),
                "--move",
                "--json",
                "--workers",
                "2",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        for line in lines {
            line.unwrap();
            seen += 1;
            if Some(seen) == kill_after {
                child.kill().unwrap(); // SIGKILL on Unix
                break;
            }
        }
        child.wait().unwrap();
        seen
    };
    // How many events a whole run reports; then kill at 20 moments spread
    // over them (the first 30 are the stems' `queued`).
    let total = run(None);
    nothing_is_lost(&t, &before);
    assert!(
        list(&t.path().join("csv")).is_empty(),
        "a whole run deletes every file"
    );
    let mut killed_mid_run = 0;
    for k in 0..20 {
        restore(&t, &before);
        let at = 30 + (total - 30) * k / 20 + 1;
        let seen = run(Some(at));
        killed_mid_run += usize::from(seen == at);
        nothing_is_lost(&t, &before);
    }
    assert!(
        killed_mid_run >= 15,
        "only {killed_mid_run} of 20 runs were killed before they ended"
    );
    // And a run after the last kill finishes the job: zips the killed run
    // completed are read back before their files go.
    let o = stemzip(&["run", p.to_str().unwrap(), "--move", "--update"]);
    assert!(o.status.success(), "{}", stderr(&o));
    nothing_is_lost(&t, &before);
    assert!(list(&t.path().join("csv")).is_empty());
    assert!(temp_files(&t.out()).is_empty());
}
