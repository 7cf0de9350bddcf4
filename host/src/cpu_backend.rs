//! Which llama.cpp CPU kernels this process runs, and, in the portable flavour, loading them.
//!
//! The native flavour has ggml's CPU backend compiled in, tuned for the build machine
//! (`-C target-cpu=native`). The portable flavour (feature `portable`) ships it as one
//! module per x86-64 micro-architecture (`libggml-cpu-x64.so`, `-haswell`, `-skylakex`, ...)
//! in the folder of the nnedge binary itself, beside `libllama.so` and `libggml*.so`. At
//! start-up [`load`]:
//!
//! 1. finds that folder from the file this code is mapped from, which also holds when the
//!    sysext's launcher starts nnedge through the bundled dynamic loader (then
//!    `/proc/self/exe` names the loader, not nnedge);
//! 2. has the WASI-NN plugin initialise llama.cpp with it, so ggml scores every module
//!    against the running CPU and keeps the best;
//! 3. reads back which module the process kept, for the log and `nnedge --version`.

use std::fmt;
use std::path::{Path, PathBuf};

/// The CPU kernels of this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuBackend {
    /// Compiled into the binary (the native flavour).
    #[cfg_attr(
        feature = "portable",
        expect(dead_code, reason = "the portable flavour always loads a module")
    )]
    BuiltIn,
    /// A module ggml chose for this CPU at start-up (the portable flavour).
    #[cfg_attr(
        not(feature = "portable"),
        expect(dead_code, reason = "only the portable flavour loads modules")
    )]
    Module {
        /// The micro-architecture the module was built for (`x64`, `haswell`, ...).
        variant: String,
        /// The module's file.
        path: PathBuf,
    },
}

impl CpuBackend {
    /// Says in the debug log which kernels run.
    pub fn log(&self) {
        match self {
            Self::BuiltIn => tracing::debug!("ggml CPU backend built in"),
            Self::Module { variant, path } => {
                tracing::debug!(%variant, path = %path.display(), "ggml CPU backend chosen");
            }
        }
    }
}

impl fmt::Display for CpuBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("ggml CPU backend built in"),
            Self::Module { variant, .. } => write!(f, "portable, ggml CPU backend {variant}"),
        }
    }
}

/// The text of `nnedge --version` after the name: the package version and the CPU kernels.
pub fn version_text(backend: &anyhow::Result<CpuBackend>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match backend {
        Ok(backend) => format!("{version} ({backend})"),
        Err(_) => format!("{version} (portable, no ggml CPU backend loaded)"),
    }
}

/// The native flavour: nothing to load.
#[cfg(not(feature = "portable"))]
pub fn load() -> anyhow::Result<CpuBackend> {
    Ok(CpuBackend::BuiltIn)
}

/// Loads the CPU backend modules from the binary's own folder (or from
/// `$NNEDGE_GGML_BACKENDS_DIR` when set) and names the one ggml kept.
///
/// When none of them registers, llama.cpp falls back to searching other folders (the build
/// machine's module folder, the loader's, the current directory): the folder is checked for
/// modules first, and the module in use must come from it, or nnedge refuses to start.
///
/// Must run before any other thread starts: it sets an environment variable for the plugin
/// for the duration of the call.
#[cfg(feature = "portable")]
pub fn load() -> anyhow::Result<CpuBackend> {
    use nnedge_wasi_nn_ggml::backend::{backend, BACKENDS_DIR_ENV};

    // An explicit folder wins; otherwise lend the plugin ours for its one initialisation, so
    // that child processes (other nnedge binaries) do not inherit it.
    let chosen = std::env::var_os(BACKENDS_DIR_ENV).filter(|d| !d.is_empty());
    let dir = match &chosen {
        Some(dir) => PathBuf::from(dir),
        None => own_binary()?
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
    };
    let none_loaded = || {
        let prefix = maps::MODULE_PREFIX;
        anyhow::anyhow!(
            "no ggml CPU backend could be loaded from `{}`: that folder must hold nnedge's \
             {prefix}*.so modules (at least {prefix}x64.so); reinstall nnedge or set \
             {BACKENDS_DIR_ENV} to the folder that has them",
            dir.display()
        )
    };
    let mut entries = std::fs::read_dir(&dir).into_iter().flatten().flatten();
    let has_modules = entries.any(|entry| maps::variant_of(&entry.path()).is_some());
    if !has_modules {
        return Err(none_loaded());
    }

    if chosen.is_none() {
        std::env::set_var(BACKENDS_DIR_ENV, &dir);
    }
    let initialised = backend().is_some();
    if chosen.is_none() {
        std::env::remove_var(BACKENDS_DIR_ENV);
    }
    anyhow::ensure!(initialised, "llama.cpp could not be initialised");

    let dir = std::fs::canonicalize(&dir).map_err(|_| none_loaded())?;
    let path = maps::ggml_cpu_modules()
        .into_iter()
        .find(|module| module.parent() == Some(dir.as_path()))
        .ok_or_else(none_loaded)?;
    let variant = maps::variant_of(&path).unwrap_or_default().to_owned();
    Ok(CpuBackend::Module { variant, path })
}

/// The nnedge binary of this process.
#[cfg(feature = "portable")]
fn own_binary() -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let here = own_binary as fn() -> anyhow::Result<PathBuf> as usize;
    maps::file_at(here)
        .or_else(|| std::env::current_exe().ok())
        .context("cannot tell where the nnedge binary is (is /proc mounted?)")
}

/// The binary the nnedge sysext preset ships unless told otherwise: a portable build, which
/// runs on any x86-64 CPU. This is the running binary in the portable flavour.
#[cfg(feature = "portable")]
pub fn shipped_binary(_cache: &Path) -> anyhow::Result<PathBuf> {
    own_binary()
}

/// The binary the nnedge sysext preset ships unless told otherwise: a portable build, which
/// runs on any x86-64 CPU; from the native flavour, the one in the cache.
#[cfg(not(feature = "portable"))]
pub fn shipped_binary(cache: &Path) -> anyhow::Result<PathBuf> {
    // Where `cargo xtask build --portable` puts it; its libraries and modules sit beside it.
    const PORTABLE_BINARY: &str = "portable/lib/nnedge/nnedge";
    let binary = cache.join(PORTABLE_BINARY);
    anyhow::ensure!(
        binary.is_file(),
        "the nnedge preset ships the portable build, and there is none at `{}`: run `cargo \
         xtask build --portable`, or pass --binary to ship another build (this one is tuned for \
         this machine's CPU and may crash on others)",
        binary.display()
    );
    Ok(binary)
}

/// Reading `/proc/self/maps`: which files this process has mapped, and where.
#[cfg(any(feature = "portable", test))]
mod maps {
    use std::ops::Range;
    use std::path::{Path, PathBuf};

    /// The prefix of ggml's CPU backend modules; the variant follows
    /// (`libggml-cpu-haswell.so`).
    pub const MODULE_PREFIX: &str = "libggml-cpu-";

    /// The file mapped at `address`.
    pub fn file_at(address: usize) -> Option<PathBuf> {
        mapped_files()
            .into_iter()
            .find(|(range, _)| range.contains(&address))
            .map(|(_, path)| path)
    }

    /// The ggml CPU backend modules mapped into this process, in the order of their mappings.
    ///
    /// ggml opens every module to score it and closes all but the best, so after loading
    /// this is the one module in use. (A module that cannot be unloaded, e.g. one built by gcc
    /// with `STB_GNU_UNIQUE` symbols, would stay mapped too; clang, which builds these, emits
    /// none.)
    pub fn ggml_cpu_modules() -> Vec<PathBuf> {
        let mut modules: Vec<PathBuf> = Vec::new();
        for (_, path) in mapped_files() {
            if variant_of(&path).is_some() && !modules.contains(&path) {
                modules.push(path);
            }
        }
        modules
    }

    /// The variant a module file was built for: `libggml-cpu-haswell.so` → `haswell`.
    pub fn variant_of(path: &Path) -> Option<&str> {
        let name = path.file_name()?.to_str()?;
        name.strip_prefix(MODULE_PREFIX)?.strip_suffix(".so")
    }

    /// Every file-backed mapping of this process: address range and path.
    fn mapped_files() -> Vec<(Range<usize>, PathBuf)> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        maps.lines().filter_map(parse_mapping).collect()
    }

    /// One line of `/proc/self/maps`: `start-end perms offset dev inode    path`, where only
    /// the path may contain spaces (it is padded, and absent for anonymous mappings).
    pub fn parse_mapping(line: &str) -> Option<(Range<usize>, PathBuf)> {
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        let path = fields.nth(4)?.trim_start();
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        path.starts_with('/')
            .then(|| (start..end, PathBuf::from(path)))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::maps::{file_at, ggml_cpu_modules, parse_mapping, variant_of};

    #[test]
    fn maps_lines_give_ranges_and_paths_with_spaces() {
        let line = "7f1c2a000000-7f1c2a0e1000 r-xp 00022000 fd:01 1234        \
                    /opt/my apps/lib/nnedge/libggml-cpu-haswell.so";
        let (range, path) = parse_mapping(line).expect("a file mapping");
        assert_eq!(range, 0x7f1c_2a00_0000..0x7f1c_2a0e_1000);
        assert_eq!(
            path,
            Path::new("/opt/my apps/lib/nnedge/libggml-cpu-haswell.so")
        );
        assert_eq!(variant_of(&path), Some("haswell"));

        let anonymous = "7ffd5e3f0000-7ffd5e411000 rw-p 00000000 00:00 0 ";
        assert_eq!(parse_mapping(anonymous), None);
        let stack = "7ffd5e3f0000-7ffd5e411000 rw-p 00000000 00:00 0          [stack]";
        assert_eq!(parse_mapping(stack), None);
    }

    #[test]
    fn only_cpu_backend_modules_have_a_variant() {
        assert_eq!(variant_of(Path::new("/x/libggml-cpu-x64.so")), Some("x64"));
        assert_eq!(variant_of(Path::new("/x/libggml-base.so")), None);
        assert_eq!(variant_of(Path::new("/x/libggml-cpu-x64.so.1")), None);
    }

    #[test]
    fn libraries_that_are_not_cpu_modules_do_not_count() {
        // This test binary maps libc, libstdc++, libwasmedge (and, portable, libggml*), and
        // no CPU backend module: nothing loads one in unit tests.
        assert_eq!(ggml_cpu_modules(), Vec::<std::path::PathBuf>::new());
    }

    #[test]
    fn the_running_binary_is_found_from_its_own_code() {
        let here = only_cpu_backend_modules_have_a_variant as fn() as usize;
        let exe = std::env::current_exe().expect("current exe");
        assert_eq!(file_at(here).as_deref(), Some(exe.as_path()));
    }
}
