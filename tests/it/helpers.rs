//! Shared helpers: temporary trees of stem sources and data files, running
//! the engine and the binary, reading zips back, checking them with real readers.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stemzip::{Event, Plan, Profile, Summary};

/// A temporary project folder: `yml/` (stem sources), `csv/` (data), `zip/` (output).
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("yml")).unwrap();
        fs::create_dir(dir.path().join("csv")).unwrap();
        Tree { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `rel` with `contents`, creating folders.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        path
    }

    /// Stem sources `yml/<stem>.yml` for each stem.
    pub fn stems(&self, stems: &[&str]) -> &Self {
        for s in stems {
            self.file(&format!("yml/{s}.yml"), format!("# {s}\n"));
        }
        self
    }

    /// Data files `csv/<name>` whose content is their own name.
    pub fn data(&self, names: &[&str]) -> &Self {
        for n in names {
            self.file(&format!("csv/{n}"), format!("data of {n}\n"));
        }
        self
    }

    /// Writes `profile.yml`: the Python example's shape plus `extra` YAML lines.
    pub fn profile(&self, extra: &str) -> PathBuf {
        let text = format!(
            "analysis:\n  input_directory: csv\n  filename:\n    extension: [csv]\nfile_management:\n  input_directory: yml\n  output_directory: zip\n  filename:\n    extension: [yml]\n{extra}"
        );
        self.file("profile.yml", text)
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("zip")
    }

    /// Names of the files in the output folder, sorted.
    pub fn outputs(&self) -> Vec<String> {
        list(&self.out())
    }
}

/// File names in `dir`, sorted; empty when it does not exist.
pub fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Loads and plans a profile file.
pub fn plan(profile: &Path) -> Plan {
    Plan::from_file(profile, &[]).unwrap()
}

/// Plans a profile with `--set`-style overrides.
pub fn plan_with(profile: &Path, sets: &[&str]) -> Plan {
    let overrides: Vec<_> = sets.iter().map(|s| s.parse().unwrap()).collect();
    Plan::from_file(profile, &overrides).unwrap()
}

/// Runs a plan to the end and returns every event and the summary.
pub fn execute(plan: Plan) -> (Vec<Event>, Summary) {
    let run = stemzip::engine::start(plan).unwrap();
    let events: Vec<Event> = run.events().iter().collect();
    let summary = match events.last() {
        Some(Event::RunFinished(s)) => s.clone(),
        other => panic!("last event is not RunFinished: {other:?}"),
    };
    (events, summary)
}

/// The terminal event of the stem called `name`.
pub fn outcome<'a>(events: &'a [Event], name: &str) -> &'a Event {
    events
        .iter()
        .find(|e| {
            e.status().is_some_and(|s| s.is_terminal())
                && matches!(e, Event::Finished { name: n, .. } | Event::Failed { name: n, .. }
                    | Event::UpToDate { name: n, .. }
                    | Event::TimedOut { name: n, .. } | Event::Skipped { name: n, .. }
                    | Event::Cancelled { name: n, .. } if n == name)
        })
        .unwrap_or_else(|| panic!("no terminal event for {name} in {events:?}"))
}

/// Entry names and contents of a zip, in archive order.
pub fn read_zip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().unwrap().into_owned(), data)
        })
        .collect()
}

/// Entry names of a zip, in archive order.
pub fn zip_names(path: &Path) -> Vec<String> {
    read_zip(path).into_iter().map(|(n, _)| n).collect()
}

/// Runs the `stemzip` binary.
pub fn stemzip(args: &[&str]) -> Output {
    stemzip_in(None, args)
}

/// Runs the `stemzip` binary in `dir` (the current folder when `None`).
///
/// Under Wine, starting a process while other tests start theirs now and
/// then fails with ERROR_INTERNAL_ERROR (1359) before the program runs (seen
/// once in CI); that start is tried again. Any other error fails the test.
pub fn stemzip_in(dir: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stemzip"));
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let mut tries = 0;
    loop {
        match command.output() {
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(1359) && tries < 3 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            result => return result.unwrap(),
        }
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Loads a profile from text (for model tests).
pub fn profile_from(text: &str) -> Profile {
    Profile::parse(text, "test", &[]).unwrap()
}

/// Tests `zip` with every external reader installed (Python `zipfile`,
/// Info-ZIP `unzip -t`, 7-Zip `7zz t`, libarchive `bsdtar -x`), each of which
/// checks every entry's CRC. A missing reader is skipped, unless
/// `STEMZIP_REQUIRE_READERS` is set (CI sets it).
pub fn check_with_readers(zip: &Path) {
    check_with(zip, &["python3", "unzip", "7zz", "bsdtar"]);
}

/// Tests a zip with zstd entries with the readers that support method 93.
pub fn check_zstd_with_readers(zip: &Path) {
    check_with(zip, &["7zz", "bsdtar"]);
}

fn check_with(zip: &Path, tools: &[&str]) {
    let require = std::env::var_os("STEMZIP_REQUIRE_READERS").is_some();
    let zip_arg = zip.to_str().unwrap();
    let readers: [(&str, Vec<&str>); 4] = [
        (
            "python3",
            vec![
                "-c",
                "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nbad = z.testzip()\nsys.exit(f'bad entry {bad}' if bad else 0)",
                zip_arg,
            ],
        ),
        ("unzip", vec!["-tqq", zip_arg]),
        ("7zz", vec!["t", "-bso0", "-bsp0", zip_arg]),
        ("bsdtar", vec!["-xOf", zip_arg]),
    ];
    for (tool, args) in readers.into_iter().filter(|(t, _)| tools.contains(t)) {
        let run = Command::new(tool).args(&args).output();
        match run {
            Ok(out) => assert!(
                out.status.success(),
                "{tool} rejects {}: {}{}",
                zip.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !require => {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    eprintln!(
                        "SKIPPED: the zip readers (python3, unzip, 7zz, bsdtar) are not all here \
                         (e.g. under Wine); each zip is still read back with the zip crate"
                    );
                });
            }
            Err(e) => panic!("cannot run {tool}: {e}"),
        }
    }
}

/// Every file in `dir` that is a stemzip temporary file.
pub fn temp_files(dir: &Path) -> Vec<String> {
    list(dir)
        .into_iter()
        .filter(|n| stemzip::temp::is_temp_name(n))
        .collect()
}

/// A run of stems `good` and `bad` with error reports on, where `bad`'s
/// only file vanishes after planning. Returns the profile and the report.
pub fn run_with_a_failed_stem(t: &Tree) -> (PathBuf, PathBuf) {
    t.stems(&["good", "bad"]).data(&["good_1.csv", "bad_1.csv"]);
    let p = t.profile("parallel_processing:\n  save_error_reports: true\n");
    let plan = plan(&p);
    fs::remove_file(t.path().join("csv/bad_1.csv")).unwrap();
    let (_, summary) = execute(plan);
    (p, summary.report.expect("a report path"))
}

/// Collects a run's events until stem `name` reports reading progress.
pub fn events_until_reading(run: &stemzip::Run, name: &str) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let e = run
            .events()
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap();
        let reading = matches!(&e, Event::Progress { name: n, .. } if n == name);
        events.push(e);
        if reading {
            return events;
        }
    }
}

/// Says on the terminal, past the test harness's capture, that the calling
/// test did not run its checks and why (a passing test that checked
/// nothing must not look like one that did).
#[track_caller]
pub fn skipped(why: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test} ({}): {why}",
        std::panic::Location::caller()
    );
}
