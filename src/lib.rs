//! stemzip: zip files by stem, in parallel.
//!
//! Simulation runs leave one stem-source file per load case (`yml/caseA.yml`)
//! and many result files (`csv/caseA_part1.csv`, …). stemzip writes one zip per
//! stem (`zip/caseA.zip`) holding every result file that belongs to it.
//!
//! The library is the whole job, with no window in it:
//! - [`profile`]: the YAML profile as written (a superset of the Python
//!   `assetutilities` configuration), loading, saving, `--set` overrides;
//! - [`plan`]: a profile checked and turned into stems and their members;
//! - [`engine`]: a plan run on stem threads (deflate chunks on a rayon pool,
//!   commits on their own threads), reporting [`engine::Event`]s;
//! - [`archive`]: one stem's zip, written to a temporary file and renamed;
//! - [`report`]: the run report written for failed stems;
//! - [`yaml`]: YAML read and written the way the Python original's PyYAML
//!   reads it (YAML 1.1 scalars);
//! - [`cli`]: the `stemzip run` / `gui` / `verify` command line;
//! - [`example`]: the bundled example, embedded for a first launch;
//! - `gui` (feature `gui`, on by default): the desktop window, a second thin
//!   front end over the same engine. Nothing else depends on egui.

pub mod archive;
pub mod cli;
pub mod engine;
pub mod example;
#[cfg(feature = "gui")]
pub mod gui;
pub mod plan;
pub mod profile;
pub mod report;
pub mod yaml;

pub use engine::{CancelToken, Event, Run, StemStatus, Summary};
pub use plan::Plan;
pub use profile::Profile;

/// Why a profile could not become a plan.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile could not be read or parsed.
    #[error(transparent)]
    Profile(#[from] profile::ProfileError),
    /// The profile's settings are wrong or a folder could not be listed.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
}
