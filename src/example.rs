//! The bundled example (profile, stem sources and data), embedded in the
//! binary so a first launch can run it from any folder, installed or not.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The example's files, by path relative to its folder.
const FILES: &[(&str, &str)] = &[
    ("input.yml", include_str!("../assets/example/input.yml")),
    (
        "yml/caseA.yml",
        include_str!("../assets/example/yml/caseA.yml"),
    ),
    (
        "yml/caseB.yml",
        include_str!("../assets/example/yml/caseB.yml"),
    ),
    (
        "csv/caseA_part1.csv",
        include_str!("../assets/example/csv/caseA_part1.csv"),
    ),
    (
        "csv/caseA_part2.csv",
        include_str!("../assets/example/csv/caseA_part2.csv"),
    ),
    (
        "csv/caseB_part1.csv",
        include_str!("../assets/example/csv/caseB_part1.csv"),
    ),
    (
        "csv/caseB_part2.csv",
        include_str!("../assets/example/csv/caseB_part2.csv"),
    ),
];

/// The example profile's file name inside its folder.
pub const PROFILE: &str = "input.yml";

/// Writes the example into `dir` (files already there are left as they are)
/// and returns the path of its profile.
pub fn install(dir: &Path) -> io::Result<PathBuf> {
    for (rel, contents) in FILES {
        let path = dir.join(rel);
        if path.exists() {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, contents)?;
    }
    Ok(dir.join(PROFILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_example_plans_two_stems_of_two_files() {
        let dir = tempfile::tempdir().unwrap();
        let profile = install(dir.path()).unwrap();
        let plan = crate::Plan::from_file(&profile, &[]).unwrap();
        let stems: Vec<(&str, usize)> = plan
            .stems
            .iter()
            .map(|s| (s.name.as_str(), s.members.len()))
            .collect();
        assert_eq!(stems, [("caseA", 2), ("caseB", 2)]);
    }
}
