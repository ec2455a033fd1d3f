//! stemzip: zip files by stem, in parallel.
//!
//! Simulation runs leave one stem-source file per load case (`yml/caseA.yml`)
//! and many result files (`csv/caseA_part1.csv`, …). stemzip writes one zip per
//! stem (`zip/caseA.zip`) holding every result file that belongs to it.
//!
//! The library is the whole job, with no window in it. Its modules form
//! layers; each imports only from the layers below it, never back up:
//!
//! 1. shared pieces that import nothing of stemzip's: [`cancel`] (the cancel
//!    token), [`temp`] (temporary zips, atomic writes through a temporary
//!    name, report file names), [`yaml`] (YAML read and written the way the
//!    Python original's PyYAML reads it), [`example`] (the bundled example,
//!    embedded for a first launch);
//! 2. [`shard`]: splitting a campaign's stems between tasks (by hash of
//!    the name or by bytes), split files, Slurm array positions;
//! 3. [`profile`]: the YAML profile as written (a superset of the Python
//!    `assetutilities` configuration), loading, saving, overrides;
//! 4. [`plan`]: a profile checked and turned into stems and their members;
//! 5. [`archive`]: one stem's zip, written to a temporary file and renamed;
//! 6. [`event`]: what a run reports (events, statuses, the summary);
//! 7. [`report`]: the run report built from them, and reports merged;
//!    [`slurm`]: the scripts of a Slurm job array over shards;
//! 8. [`engine`]: a plan run on stem threads (deflate chunks on a rayon
//!    pool, commits on their own threads), reporting [`Event`]s, and
//!    writing the error report;
//! 9. `gui` (feature `gui`, on by default): the desktop window, a thin
//!    front end over the engine; nothing else depends on egui;
//! 10. [`cli`]: `stemzip run` / `gui` / `verify` / `report merge` /
//!     `slurm`, and the window's start.
//!
//! `tests/it/layers.rs` reads the sources and fails when a module imports
//! one at or above its own layer.

pub mod archive;
pub mod cancel;
pub mod cli;
pub mod engine;
pub mod event;
pub mod example;
#[cfg(feature = "gui")]
pub mod gui;
pub mod plan;
pub mod profile;
pub mod report;
pub mod shard;
pub mod slurm;
pub mod temp;
pub mod yaml;

pub use cancel::CancelToken;
pub use engine::Run;
pub use event::{Event, StemStatus, Summary};
pub use plan::{LoadError as Error, Plan};
pub use profile::Profile;
