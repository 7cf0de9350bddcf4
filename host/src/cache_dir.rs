//! Where nnedge keeps what it computes or downloads once: `$NNEDGE_CACHE`, by default
//! `~/.cache/nnedge` (the same directory `cargo xtask` sets up).

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The cache root, created if missing.
pub fn cache_root() -> Result<PathBuf> {
    let root = match std::env::var_os("NNEDGE_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME")
                .context("neither NNEDGE_CACHE nor HOME is set; set NNEDGE_CACHE to a directory")?;
            PathBuf::from(home).join(".cache/nnedge")
        }
    };
    fs_err::create_dir_all(&root)?;
    Ok(root)
}
