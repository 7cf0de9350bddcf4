//! Finding the guests that ship with nnedge (the API server, the chat CLI, ...).
//!
//! Looked up, in order: `$NNEDGE_GUEST_DIR` (the sysext's launcher sets it), `guests/` beside
//! the binary's `lib/nnedge/` (an installed layout: `bin/nnedge`, `lib/nnedge/guests/`), and
//! `$NNEDGE_CACHE/guests` (where `cargo xtask guests` puts them in development).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The directories searched for bundled guests, in order.
fn search_path(cache: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("NNEDGE_GUEST_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned))
    {
        dirs.push(bin_dir.join("../lib/nnedge/guests"));
    }
    dirs.push(cache.join("guests"));
    dirs
}

/// The path of the bundled guest `name` (e.g. `llama-api-server.wasm`).
pub fn find(cache: &Path, name: &str) -> Result<PathBuf> {
    let dirs = search_path(cache);
    if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
        return Ok(found);
    }
    let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "the bundled guest `{name}` is not in {}; build the guests with `cargo xtask guests` or \
         point NNEDGE_GUEST_DIR at a directory that has it",
        searched.join(", ")
    )
}
