//! Fuzzes the profile loader (YAML text, the original's dict argument and
//! `--set` overrides), saving, and
//! the planner over a small fixed tree: none of them may panic, whatever the
//! input.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stemzip::profile::{Edits, Overlay, Override, Profile};

/// A small tree with stem sources and data files for the planner to list.
fn tree() -> &'static PathBuf {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("stemzip-fuzz-{}", std::process::id()));
        for (rel, body) in [
            ("yml/caseA.yml", ""),
            ("yml/caseB.YML", ""),
            ("yml/dotted.name.yml", ""),
            ("csv/caseA_1.csv", "1,2"),
            ("csv/caseB_1.csv", "3,4"),
            ("csv/dotted.name_x.csv", "5"),
        ] {
            let path = dir.join(rel);
            let _ = std::fs::create_dir_all(path.parent().unwrap_or(&dir));
            let _ = std::fs::write(path, body);
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is tried as a `--set KEY=VALUE`, the whole text as a profile.
    let overrides: Vec<Override> = text
        .lines()
        .next()
        .and_then(|line| line.parse().ok())
        .into_iter()
        .collect();
    // The second line is tried as the original's dict argument.
    let overlay = text.lines().nth(1).and_then(|line| line.parse::<Overlay>().ok());
    let edits = Edits {
        overlay,
        sets: overrides,
    };
    let Ok(profile) = Profile::parse_edited(text, "fuzz", &edits) else {
        return;
    };
    // Saving either fails cleanly or writes text that loads back the same.
    if let Ok(saved) = profile.to_yaml() {
        let again = Profile::parse(&saved, "fuzz", &[]).expect("a saved profile loads");
        assert_eq!(again.to_yaml().ok(), Some(saved), "saving is not stable");
    }
    let base = tree();
    let _ = stemzip::plan::check(&profile, base);
    let _ = stemzip::Plan::build(&profile, base);
});
