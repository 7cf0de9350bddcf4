//! The cache directory outside the repository, where set-up puts everything expensive.
//!
//! Layout under `$NNEDGE_CACHE` (default `~/.cache/nnedge`):
//!
//! ```text
//! runtime/wasmedge-0.14.1/    private runtime sysroot (Debian 13 packages)
//! guest-toolchain/rust-web/   wasm32-wasip1 toolchain (Debian's rustc-web)
//! models/                     the default chat model
//! guests/                     built guest .wasm files
//! target/                     cargo target dirs (host, portable and guests), so a fresh
//!                             clone reuses the llama.cpp builds
//! portable/                   the portable flavour, collected: bin/nnedge, lib/nnedge/
//! venv/                       Python virtualenv for API client tests
//! ```
//!
//! Every step writes a `.complete` stamp last, so an interrupted step is redone and a
//! finished one is skipped.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The root of the cache and the well-known places inside it.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Finds the cache from `NNEDGE_CACHE`, else `$HOME/.cache/nnedge`, and creates it.
    pub fn locate() -> Result<Self> {
        let root = match std::env::var_os("NNEDGE_CACHE") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => {
                let home = std::env::var_os("HOME").context(
                    "neither NNEDGE_CACHE nor HOME is set; set NNEDGE_CACHE to a directory",
                )?;
                PathBuf::from(home).join(".cache/nnedge")
            }
        };
        fs_err::create_dir_all(&root)?;
        let root = fs_err::canonicalize(&root)?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn runtime(&self) -> PathBuf {
        self.root.join("runtime/wasmedge-0.14.1")
    }

    pub fn guest_toolchain(&self) -> PathBuf {
        self.root.join("guest-toolchain/rust-web")
    }

    pub fn guests(&self) -> PathBuf {
        self.root.join("guests")
    }

    pub fn target(&self, which: &str) -> PathBuf {
        self.root.join("target").join(which)
    }

    /// The portable flavour's collected layout (see `portable`).
    pub fn portable(&self) -> PathBuf {
        self.root.join("portable")
    }

    pub fn venv(&self) -> PathBuf {
        self.root.join("venv")
    }
}

/// Runs `step` unless `dir/.complete` exists; writes the stamp when the step succeeds.
///
/// A step that fails half-way leaves no stamp, so the next run starts it again; steps must
/// therefore tolerate leftovers of an earlier attempt (they clear their own directory).
pub fn once(dir: &Path, what: &str, step: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let stamp = dir.join(".complete");
    if stamp.exists() {
        eprintln!("xtask: {what}: already set up in {}", dir.display());
        return Ok(());
    }
    eprintln!("xtask: {what}: setting up in {}", dir.display());
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    step(dir).with_context(|| format!("failed to set up {what}"))?;
    fs_err::write(&stamp, b"")?;
    Ok(())
}
