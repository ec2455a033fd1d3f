//! The command line: exit statuses, JSON Lines, dry runs, Ctrl-C.
#![cfg_attr(not(unix), allow(unused_imports, dead_code))] // used by the Unix-only tests

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "a_2.csv"]);
    let p = t.profile("");
    let out = stemzip(&["run", p.to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("a  (2 files"), "{text}");
    assert!(text.contains("    a_2.csv"), "{text}");
    assert!(
        stderr(&out).contains("stem b has no data files"),
        "{}",
        stderr(&out)
    );
    assert!(!t.out().exists());
}

#[test]
fn json_prints_one_event_per_line_ending_with_the_summary() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    let out = stemzip(&["run", t.profile("").to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "queued").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "finished").count(), 2);
    assert_eq!(*kinds.last().unwrap(), "run_finished");
    assert_eq!(lines.last().unwrap()["done"], 2);
    let finished = lines.iter().find(|v| v["event"] == "finished").unwrap();
    assert!(finished["zip"].as_str().unwrap().ends_with(".zip"));
    assert_eq!(finished["files"], 1);
}

#[test]
fn exit_status_is_1_when_a_stem_fails_and_the_rest_are_written() {
    let t = Tree::new();
    t.stems(&["a", "b"]).data(&["a_1.csv", "b_1.csv"]);
    // A folder named b.zip where b's zip must go: b cannot be renamed into place.
    std::fs::create_dir_all(t.out().join("b.zip/inside")).unwrap();
    let out = stemzip(&["run", t.profile("").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("FAILED b"), "{}", stderr(&out));
    assert_eq!(zip_names(&t.out().join("a.zip")), ["a_1.csv"]);
    assert!(temp_files(&t.out()).is_empty());
}

#[test]
fn workers_flag_sets_the_worker_count() {
    let t = Tree::new();
    t.stems(&["a"]).data(&["a_1.csv"]);
    let p = t.profile("parallel_processing:\n  max_workers: 5\n");
    let p = p.to_str().unwrap();
    let workers = |extra: &[&str]| {
        let mut args = vec!["run", p, "--dry-run", "--json"];
        args.extend_from_slice(extra);
        let out = stemzip(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let line = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v.get("settings").is_some())
            .unwrap_or_else(|| panic!("no settings in {text}"));
        line["settings"]["workers"].as_u64().unwrap()
    };
    assert_eq!(workers(&[]), 5, "the profile's max_workers");
    assert_eq!(workers(&["--workers", "3"]), 3, "the flag wins");
    let out = stemzip(&["run", p, "--workers", "0"]);
    assert_eq!(out.status.code(), Some(2), "0 workers must be refused");
    assert!(stderr(&out).contains("--workers"), "{}", stderr(&out));
}

#[test]
fn help_lists_the_run_and_gui_commands() {
    let out = stemzip(&["--help"]);
    let text = stdout(&out);
    assert!(text.contains("run") && text.contains("gui"), "{text}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_cancels_cleanly_with_status_130() {
    let t = Tree::new();
    t.stems(&["big"]);
    std::fs::File::create(t.path().join("csv/big_1.csv"))
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    let p = t.profile("archive:\n  compression: deflate\n  level: 1\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzip"))
        .args(["run", p.to_str().unwrap(), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the stem is being written.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    use std::io::BufRead;
    while !line.contains("\"started\"") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "no started event");
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let asked = Instant::now();
    let rest: Vec<String> = stdout.lines().map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "took {:?}",
        asked.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    assert!(rest.iter().any(|l| l.contains("\"cancelled\"")), "{rest:?}");
    assert!(t.outputs().is_empty(), "{:?}", t.outputs());
}

/// Output that nobody reads any more (`stemzip run p.yml 2>&1 | head -1`,
/// or `| tee log` ended by the same Ctrl-C) does not stop the run half-way:
/// every zip is written and no temporary file is left.
#[test]
fn a_run_whose_output_pipes_are_closed_still_finishes_its_zips() {
    let t = Tree::new();
    let names: Vec<String> = (0..40).map(|i| format!("s{i:02}")).collect();
    let stems: Vec<&str> = names.iter().map(String::as_str).collect();
    t.stems(&stems);
    for n in &names {
        t.file(&format!("csv/{n}_1.csv"), vec![b'x'; 64 * 1024]);
    }
    let p = t.profile("parallel_processing:\n  max_workers: 2\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stemzip"))
        .args(["run", p.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(t.outputs().len(), 40, "{:?}", t.outputs());
    assert!(temp_files(&t.out()).is_empty());
}
