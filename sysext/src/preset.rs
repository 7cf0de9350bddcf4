//! The `nnedge` preset: the nnedge binary, the runtime sysroot it runs on, the bundled
//! guests and a systemd unit, laid out so the binary runs on any Flatcar host whatever
//! glibc that host has.
//!
//! Layout (all under `usr/`):
//! - `bin/nnedge`: a bash launcher that finds its own location (`readlink -f "$0"`), sets
//!   `NNEDGE_GUEST_DIR` unless already set, and runs the real binary through the sysroot's
//!   own dynamic loader with `--library-path` on the sysroot's library folder. Nothing in
//!   it names an absolute path, so an unpacked copy runs from anywhere.
//! - `lib/nnedge/nnedge`: the binary with RPATH/RUNPATH removed (`patchelf
//!   --remove-rpath` on a copy): a DT_RPATH would beat `--library-path` and load the
//!   development machine's libraries.
//! - `lib/nnedge/sysroot/`: the runtime sysroot, symlinks kept; absolute symlinks are
//!   rewritten relative to the sysroot so they cannot reach the host's libraries.
//! - `lib/nnedge/guests/*.wasm`: the bundled guests.
//! - `lib/systemd/system/nnedge.service`: runs `/usr/bin/nnedge serve`. It is enabled only
//!   on request, by a drop-in `multi-user.target.d/10-nnedge-service.conf` with
//!   `Upholds=nnedge.service` (how Flatcar's sysext bakery starts services, since
//!   `systemctl enable` cannot write into a read-only `/usr`); the image then also says
//!   `EXTENSION_RELOAD_MANAGER=1` so a merge at run time picks the unit up.

use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use fs_err as fs;
use tracing::debug;

use crate::arch::Architecture;
use crate::bake::BakeSpec;
use crate::error::{Result, SysextError};
use crate::tree::{FileSource, Tree, TreeEntry};

/// The extension name of the preset's image.
pub const NNEDGE_NAME: &str = "nnedge";

/// Where the preset puts its private files.
pub const LIB_DIR: &str = "usr/lib/nnedge";

/// The unit that runs the server.
pub const SERVICE_PATH: &str = "usr/lib/systemd/system/nnedge.service";

/// The drop-in that starts the unit with multi-user.target (only with `enable_service`).
pub const SERVICE_ENABLE_PATH: &str =
    "usr/lib/systemd/system/multi-user.target.d/10-nnedge-service.conf";

/// The inputs of the nnedge preset.
#[derive(Debug, Clone)]
pub struct NnedgePreset {
    /// The built nnedge binary.
    pub binary: PathBuf,
    /// The runtime sysroot (holds `usr/lib/<multiarch>/` with the loader and libraries).
    pub sysroot: PathBuf,
    /// A folder of `.wasm` guests to bundle.
    pub guests: PathBuf,
    /// Start `nnedge.service` with multi-user.target.
    pub enable_service: bool,
    /// The architecture of the binary and sysroot.
    pub architecture: Architecture,
}

impl NnedgePreset {
    /// The bake spec the preset implies: name `nnedge`, `EXTENSION_RELOAD_MANAGER=1`
    /// when the service is enabled.
    pub fn spec(&self, version: &str) -> BakeSpec {
        let mut spec = BakeSpec::new(NNEDGE_NAME, version, self.architecture);
        spec.reload_manager = self.enable_service;
        spec
    }

    /// Lays out the preset's tree (see the module documentation).
    pub fn tree(&self) -> Result<Tree> {
        let mut tree = Tree::new();
        let launcher = render_launcher(self.architecture);
        tree.insert_file("usr/bin/nnedge", bytes(&launcher), true)?;
        tree.insert_file(
            format!("{LIB_DIR}/nnedge"),
            bytes(&remove_rpath(&self.binary)?),
            true,
        )?;
        self.add_sysroot(&mut tree)?;
        self.add_guests(&mut tree)?;

        tree.insert_file(SERVICE_PATH, bytes(SERVICE_UNIT.as_bytes()), false)?;
        if self.enable_service {
            tree.insert_file(SERVICE_ENABLE_PATH, bytes(SERVICE_ENABLE.as_bytes()), false)?;
        }
        Ok(tree)
    }

    fn add_sysroot(&self, tree: &mut Tree) -> Result<()> {
        let prefix = Path::new(LIB_DIR).join("sysroot");
        let mut sysroot = Tree::new();
        sysroot.add_dir("", &self.sysroot)?;

        // Re-root every entry under the prefix, turning absolute symlinks relative.
        for (path, entry) in sysroot.entries() {
            let inner = prefix.join(path);
            match entry {
                TreeEntry::Dir => tree.insert_dir(&inner)?,
                TreeEntry::File { source, executable } => {
                    tree.insert_file(&inner, source.clone(), *executable)?
                }
                TreeEntry::Symlink { target } if target.is_absolute() => {
                    debug!(link = %path.display(), target = %target.display(), "relativising");
                    tree.insert_symlink(&inner, relative_target(path, target))?
                }
                TreeEntry::Symlink { target } => tree.insert_symlink(&inner, target.clone())?,
            }
        }

        let loader = Path::new("usr/lib")
            .join(self.architecture.multiarch())
            .join(self.architecture.loader());
        if sysroot
            .get(&loader)
            .is_none_or(|entry| matches!(entry, TreeEntry::Dir))
        {
            let sysroot = self.sysroot.clone();
            return Err(SysextError::SysrootWithoutLoader { sysroot, loader });
        }
        Ok(())
    }

    fn add_guests(&self, tree: &mut Tree) -> Result<()> {
        let mut guests: Vec<_> = fs::read_dir(&self.guests)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        guests.retain(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file());
        guests.sort();
        if guests.is_empty() {
            return Err(SysextError::NoGuests {
                dir: self.guests.clone(),
            });
        }
        for guest in guests {
            let name = guest.file_name().unwrap_or_default();
            let inner = Path::new(LIB_DIR).join("guests").join(name);
            tree.insert_file(inner, FileSource::Path(guest.clone()), false)?;
        }
        Ok(())
    }
}

/// The launcher script for `arch`.
pub fn render_launcher(arch: Architecture) -> String {
    let (multiarch, loader) = (arch.multiarch(), arch.loader());
    format!(
        r#"#!/bin/bash
# Runs nnedge with the C library and shared libraries bundled in this system extension,
# whatever glibc the host has. Paths are found from this script's own location, so the
# tree works wherever it is merged or unpacked.
set -euo pipefail
self="$(readlink -f "$0")"
usr="$(dirname "$(dirname "$self")")"
lib="$usr/lib/nnedge"
libs="$lib/sysroot/usr/lib/{multiarch}"
export NNEDGE_GUEST_DIR="${{NNEDGE_GUEST_DIR:-$lib/guests}}"
exec "$libs/{loader}" --library-path "$libs" --argv0 "$0" "$lib/nnedge" "$@"
"#
    )
}

/// The systemd unit for `nnedge serve`.
pub const SERVICE_UNIT: &str = "\
[Unit]
Description=nnedge WebAssembly LLM server
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/nnedge serve
Restart=on-failure
RestartSec=5s

[Install]
WantedBy=multi-user.target
";

/// The drop-in that makes multi-user.target keep `nnedge.service` running.
pub const SERVICE_ENABLE: &str = "\
[Unit]
Upholds=nnedge.service
";

fn bytes(data: impl AsRef<[u8]>) -> FileSource {
    FileSource::Bytes(Arc::from(data.as_ref()))
}

/// The binary's bytes with RPATH and RUNPATH removed, via `patchelf` on a copy.
fn remove_rpath(binary: &Path) -> Result<Vec<u8>> {
    let scratch = tempfile::tempdir()?;
    let copy = scratch.path().join("nnedge");
    fs::copy(binary, &copy)?;
    let failed = |reason: String| SysextError::Patchelf {
        path: binary.to_owned(),
        reason,
    };
    let output = Command::new("patchelf")
        .arg("--remove-rpath")
        .arg(&copy)
        .output()
        .map_err(|err| failed(err.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failed(format!("{}: {stderr}", output.status)));
    }
    Ok(fs::read(&copy)?)
}

/// The relative form of absolute `target` for a symlink at `link`, both inside one root.
fn relative_target(link: &Path, target: &Path) -> PathBuf {
    let link_dir: Vec<_> = link
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    let mut normal = Vec::new();
    for component in target.components() {
        match component {
            Component::Normal(part) => normal.push(Component::Normal(part)),
            Component::ParentDir => {
                normal.pop();
            }
            _ => {}
        }
    }
    let target = normal;
    let common = link_dir
        .iter()
        .zip(&target)
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative: PathBuf = std::iter::repeat_n("..", link_dir.len() - common).collect();
    relative.extend(target[common..].iter().map(|c| c.as_os_str()));
    if relative.as_os_str().is_empty() {
        relative.push(".");
    }
    relative
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_sysroot_links_become_relative() {
        let cases = [
            (
                "usr/lib64/ld.so",
                "/usr/lib/x86_64-linux-gnu/ld.so",
                "../lib/x86_64-linux-gnu/ld.so",
            ),
            ("usr/lib/x/libz.so", "/usr/lib/x/libz.so.1", "libz.so.1"),
            ("lib", "/usr/lib", "usr/lib"),
            ("usr/bin/sh", "/bin/dash", "../../bin/dash"),
        ];
        for (link, target, expected) in cases {
            assert_eq!(
                relative_target(Path::new(link), Path::new(target)),
                Path::new(expected)
            );
        }
    }
}
