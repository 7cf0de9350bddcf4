//! The private WasmEdge 0.14.1 runtime sysroot, built from Debian 13 (trixie) packages.
//!
//! Trixie's WasmEdge needs a newer glibc and libstdc++ than the build machine has, so the
//! library and its whole closure (libc included) are unpacked into a directory of their own.
//! `nnedge` is then linked to use that directory's dynamic loader and libraries (see
//! `host/build.rs`), and never loads the host's copies.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::apt::{self, PrivateApt};
use crate::cache::{self, Cache};
use crate::process::{run_output, Cmd};

/// The WasmEdge release nnedge embeds; `wasmedge-sys` 0.19.4 binds exactly this C API.
pub const WASMEDGE_VERSION: &str = "0.14.1";

/// libwasmedge0 and its runtime closure in trixie, plus the headers and the CLI (the CLI is
/// kept as a reference to compare nnedge against).
const PACKAGES: &[&str] = &[
    "libwasmedge0",
    "libwasmedge-dev",
    "wasmedge",
    "libc6",
    "libstdc++6",
    "libgcc-s1",
    "libllvm19",
    "libfmt10",
    "libspdlog1.15",
    "libzstd1",
    "zlib1g",
    "liblzma5",
    "libxml2",
    "libz3-4",
    "libedit2",
    "libffi8",
    "libtinfo6",
    "libbsd0",
    "libmd0",
];

/// Libraries that libLLVM looks up through its own `$ORIGIN/../lib` search path: without these
/// links in `usr/lib/lib` the loader silently takes the host's copies.
const LLVM_ORIGIN_LINKS: &[&str] = &["libffi.so.8", "libedit.so.2", "libz3.so.4", "libxml2.so.2"];

/// Where the parts of an installed runtime are.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub root: PathBuf,
}

impl Runtime {
    pub fn new(cache: &Cache) -> Self {
        Self {
            root: cache.runtime(),
        }
    }

    /// The unpacked filesystem tree.
    pub fn sysroot(&self) -> PathBuf {
        self.root.join("sysroot")
    }

    /// The sysroot's library directory (loader, libc, libwasmedge, libLLVM ...).
    pub fn lib_dir(&self) -> PathBuf {
        self.sysroot().join("usr/lib/x86_64-linux-gnu")
    }

    /// The sysroot's dynamic loader.
    pub fn loader(&self) -> PathBuf {
        self.lib_dir().join("ld-linux-x86-64.so.2")
    }

    /// WasmEdge's C headers, for `WASMEDGE_INCLUDE_DIR`.
    pub fn include_dir(&self) -> PathBuf {
        self.sysroot().join("usr/include")
    }

    /// A directory holding only `libwasmedge.so`, for `WASMEDGE_LIB_DIR`.
    ///
    /// wasmedge-sys puts that directory on the build's `LD_LIBRARY_PATH`; pointing it at the
    /// sysroot's lib directory would make the host's rustc load trixie's libc and crash.
    pub fn link_dir(&self) -> PathBuf {
        self.root.join("link")
    }

    /// Runs a program from the sysroot (e.g. the reference `wasmedge` CLI) with its loader.
    pub fn command(&self, program: &str) -> Cmd {
        Cmd::new(self.loader())
            .arg("--library-path")
            .arg(self.lib_dir())
            .arg(self.sysroot().join("usr/bin").join(program))
    }
}

/// Downloads and unpacks the runtime unless it is already complete.
pub fn setup(cache: &Cache) -> Result<Runtime> {
    let runtime = Runtime::new(cache);
    cache::once(&runtime.root, "WasmEdge runtime sysroot", |dir| {
        let apt = PrivateApt::create(&dir.join("apt"), "trixie")?;
        let packages: Vec<String> = PACKAGES.iter().map(|p| p.to_string()).collect();
        apt.download(&packages, &dir.join("debs"))?;
        apt::extract_all(&dir.join("debs"), &runtime.sysroot())?;
        link_llvm_origin_libs(&runtime)?;
        make_link_dir(&runtime)?;
        check_version(&runtime)?;
        fs_err::remove_dir_all(dir.join("apt"))?;
        Ok(())
    })?;
    Ok(runtime)
}

fn link_llvm_origin_libs(runtime: &Runtime) -> Result<()> {
    let dir = runtime.sysroot().join("usr/lib/lib");
    fs_err::create_dir_all(&dir)?;
    for name in LLVM_ORIGIN_LINKS {
        let target = Path::new("../x86_64-linux-gnu").join(name);
        if !runtime.lib_dir().join(name).exists() {
            bail!("the sysroot has no {name}; the trixie package list is incomplete");
        }
        fs_err::os::unix::fs::symlink(target, dir.join(name))?;
    }
    Ok(())
}

fn make_link_dir(runtime: &Runtime) -> Result<()> {
    let lib = runtime.lib_dir().join("libwasmedge.so.0");
    if !lib.exists() {
        bail!("libwasmedge0 did not unpack {}", lib.display());
    }
    fs_err::create_dir_all(runtime.link_dir())?;
    fs_err::os::unix::fs::symlink(&lib, runtime.link_dir().join("libwasmedge.so"))?;
    Ok(())
}

fn check_version(runtime: &Runtime) -> Result<()> {
    let out = run_output(runtime.command("wasmedge").arg("--version"))?;
    if !out.contains(WASMEDGE_VERSION) {
        bail!(
            "trixie's wasmedge reports `{}`, nnedge needs {WASMEDGE_VERSION}",
            out.trim()
        );
    }
    Ok(())
}
