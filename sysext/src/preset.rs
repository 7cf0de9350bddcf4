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
//!   development machine's libraries. A binary that needs libraries the sysroot lacks (the
//!   portable build's `libllama.so`, `libggml*.so`) gets them from its own folder, bundled
//!   beside it, and its RPATH becomes `$ORIGIN`, which only reaches inside the image.
//! - `lib/nnedge/libggml-cpu-*.so`: with such a binary, ggml's CPU backend modules from the
//!   same folder, one per x86-64 micro-architecture; nnedge loads them from its own folder.
//! - `lib/nnedge/sysroot/`: the runtime sysroot, symlinks kept; absolute symlinks are
//!   rewritten relative to the sysroot so they cannot reach the host's libraries.
//! - `lib/nnedge/guests/*.wasm`: the bundled guests.
//! - `lib/systemd/system/nnedge.service`: runs `/usr/bin/nnedge serve`. It is enabled only
//!   on request, by a drop-in `multi-user.target.d/10-nnedge-service.conf` with
//!   `Upholds=nnedge.service` (how Flatcar's sysext bakery starts services, since
//!   `systemctl enable` cannot write into a read-only `/usr`); the image then also says
//!   `EXTENSION_RELOAD_MANAGER=1` so a merge at run time picks the unit up.

use std::collections::BTreeMap;
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
        self.add_sysroot(&mut tree)?;

        let libraries = self.bundled_libraries()?;
        let rpath = if libraries.is_empty() {
            RpathChange::Remove
        } else {
            RpathChange::Origin
        };
        let binary = patch_rpath(&self.binary, rpath)?;
        tree.insert_file(format!("{LIB_DIR}/nnedge"), bytes(&binary), true)?;
        for (name, path) in libraries {
            let inner = Path::new(LIB_DIR).join(name);
            tree.insert_file(inner, FileSource::Path(path), false)?;
        }
        self.add_guests(&mut tree)?;

        tree.insert_file(SERVICE_PATH, bytes(SERVICE_UNIT.as_bytes()), false)?;
        if self.enable_service {
            tree.insert_file(SERVICE_ENABLE_PATH, bytes(SERVICE_ENABLE.as_bytes()), false)?;
        }
        Ok(tree)
    }

    /// What the image must carry beside the binary, by file name: every library it needs
    /// (directly or through another bundled one) that the sysroot lacks, and, when that
    /// includes ggml, its CPU backend modules. All come from the binary's own folder.
    fn bundled_libraries(&self) -> Result<BTreeMap<String, PathBuf>> {
        let binary = fs::canonicalize(&self.binary)?;
        let search = LibrarySearch {
            folder: binary.parent().unwrap_or(Path::new("/")).to_owned(),
            sysroot_libs: self
                .sysroot
                .join("usr/lib")
                .join(self.architecture.multiarch()),
            binary: binary.clone(),
        };
        let mut bundled = BTreeMap::new();
        search.add_needs(&binary, &mut bundled)?;

        // ggml built with loadable backends finds no CPU kernels without its modules.
        if bundled.keys().any(|name| name.starts_with("libggml")) {
            for (name, path) in search.cpu_modules()? {
                search.add_needs(&path, &mut bundled)?;
                bundled.insert(name, path);
            }
        }
        debug!(libraries = ?bundled.keys().collect::<Vec<_>>(), "bundled beside the binary");
        Ok(bundled)
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

/// The file name prefix of ggml's CPU backend modules (`libggml-cpu-haswell.so`, ...).
const CPU_MODULE_PREFIX: &str = "libggml-cpu-";

/// Where the preset looks for the libraries a binary needs.
#[derive(Debug)]
struct LibrarySearch {
    /// The binary, for errors.
    binary: PathBuf,
    /// The sysroot's library folder: what is there needs no bundling.
    sysroot_libs: PathBuf,
    /// The binary's own folder, where the rest must be.
    folder: PathBuf,
}

impl LibrarySearch {
    /// Adds to `bundled` what `elf` needs from the binary's folder, transitively.
    fn add_needs(&self, elf: &Path, bundled: &mut BTreeMap<String, PathBuf>) -> Result<()> {
        let mut pending = needed_libraries(elf)?;
        while let Some(name) = pending.pop() {
            if bundled.contains_key(&name) || self.sysroot_libs.join(&name).exists() {
                continue;
            }
            let path = self.folder.join(&name);
            if !path.is_file() {
                return Err(SysextError::MissingLibrary {
                    binary: self.binary.clone(),
                    library: name,
                    searched: vec![self.sysroot_libs.clone(), self.folder.clone()],
                });
            }
            pending.extend(needed_libraries(&path)?);
            bundled.insert(name, path);
        }
        Ok(())
    }

    /// ggml's CPU backend modules in the binary's folder; at least one.
    fn cpu_modules(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut modules = Vec::new();
        for entry in fs::read_dir(&self.folder)? {
            let (name, path) = entry.map(|e| (e.file_name(), e.path()))?;
            let name = name.to_string_lossy().into_owned();
            if name.starts_with(CPU_MODULE_PREFIX) && path.is_file() {
                modules.push((name, path));
            }
        }
        if modules.is_empty() {
            let dir = self.folder.clone();
            return Err(SysextError::NoCpuBackendModules { dir });
        }
        modules.sort();
        Ok(modules)
    }
}

/// What becomes of the binary's RPATH in the image.
#[derive(Debug, Clone, Copy)]
enum RpathChange {
    /// None at all: everything comes from the launcher's `--library-path`.
    Remove,
    /// `$ORIGIN` only, as a DT_RPATH (it also serves the bundled libraries' own needs).
    Origin,
}

/// The binary's bytes with its RPATH changed, via `patchelf` on a copy.
fn patch_rpath(binary: &Path, change: RpathChange) -> Result<Vec<u8>> {
    let scratch = tempfile::tempdir()?;
    let copy = scratch.path().join("nnedge");
    fs::copy(binary, &copy)?;
    let args: &[&str] = match change {
        RpathChange::Remove => &["--remove-rpath"],
        RpathChange::Origin => &["--force-rpath", "--set-rpath", "$ORIGIN"],
    };
    patchelf(binary, args, &copy)?;
    Ok(fs::read(&copy)?)
}

/// The DT_NEEDED entries of an ELF file.
fn needed_libraries(elf: &Path) -> Result<Vec<String>> {
    let listing = patchelf(elf, &["--print-needed"], elf)?;
    Ok(listing.lines().map(str::to_owned).collect())
}

/// Runs `patchelf ARGS FILE`; `path` is the file errors name. Returns stdout.
fn patchelf(path: &Path, args: &[&str], file: &Path) -> Result<String> {
    let failed = |reason: String| SysextError::Patchelf {
        path: path.to_owned(),
        args: args.join(" "),
        reason,
    };
    let output = Command::new("patchelf")
        .args(args)
        .arg(file)
        .output()
        .map_err(|err| failed(err.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failed(format!("{}: {stderr}", output.status)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
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
