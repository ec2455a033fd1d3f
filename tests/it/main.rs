//! Integration tests: one binary, shared helpers for temporary trees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod compat;
mod engine;
mod grouping;
#[cfg(feature = "gui")]
mod gui;
mod helpers;
mod layers;
mod moving;
mod profiles;
mod pyyaml;
mod reliability;
mod shards;
mod update;
mod windows;
