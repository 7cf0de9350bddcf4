//! Integration tests of nnedge-ignition: rendering Butane fixtures (snapshots), every
//! validation message, the node generator, the user-data limit, all checked against the
//! official Ignition JSON schemas.

mod cli;
mod limit;
mod node;
mod render;
mod schema;
mod validation;

use std::path::PathBuf;

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
