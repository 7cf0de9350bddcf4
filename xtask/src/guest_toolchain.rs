//! The `wasm32-wasip1` guest toolchain, from Debian's `rustc-web` packages.
//!
//! rustup cannot download targets here, so the guests are built with Debian's rustc-web
//! (which carries the wasm32 targets' std sources) and `-Zbuild-std`. The packages are
//! unpacked into a prefix of their own; nothing is installed system-wide.
//!
//! Rust's std references `pthread_join`, `pthread_detach` and `realpath`, which bookworm's
//! wasi-libc lacks; a tiny C object (`guest-apps/support/wasi-stubs.c`) provides them as
//! failing stubs and is linked into every guest.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::apt;
use crate::cache::{self, Cache};
use crate::process::{run, Cmd};

/// The unpacked toolchain and how to drive it.
#[derive(Debug, Clone)]
pub struct GuestToolchain {
    pub root: PathBuf,
}

impl GuestToolchain {
    pub fn new(cache: &Cache) -> Self {
        Self {
            root: cache.guest_toolchain(),
        }
    }

    fn usr(&self) -> PathBuf {
        self.root.join("prefix/usr")
    }

    pub fn rustc(&self) -> PathBuf {
        self.usr().join("bin/rustc")
    }

    pub fn cargo(&self) -> PathBuf {
        self.usr().join("bin/cargo")
    }

    /// The object that defines the libc functions bookworm's wasi-libc lacks.
    pub fn stubs_object(&self) -> PathBuf {
        self.root.join("wasi-stubs.o")
    }

    fn wasm_ld(&self) -> Result<PathBuf> {
        let lib = self.usr().join("lib");
        for entry in fs_err::read_dir(&lib)? {
            let candidate = entry?.path().join("bin/wasm-ld");
            if candidate.exists() {
                return Ok(candidate);
            }
        }
        bail!("no llvm-*/bin/wasm-ld under {}", lib.display())
    }

    /// A `cargo` command that builds for wasm32-wasip1 with this toolchain.
    pub fn cargo_command(&self) -> Result<Cmd> {
        let rustflags = format!("-C link-arg={}", self.stubs_object().display());
        Ok(Cmd::new(self.cargo())
            .env("LD_LIBRARY_PATH", self.usr().join("lib/x86_64-linux-gnu"))
            .env("RUSTC", self.rustc())
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_WASM32_WASIP1_LINKER", self.wasm_ld()?)
            .env("CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS", rustflags)
            .env_remove("RUSTFLAGS")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO_TARGET_DIR"))
    }
}

/// Downloads and unpacks the toolchain unless it is already complete.
pub fn setup(cache: &Cache, stubs_source: &Path) -> Result<GuestToolchain> {
    let toolchain = GuestToolchain::new(cache);
    cache::once(
        &toolchain.root,
        "guest toolchain (rustc-web, wasm32-wasip1)",
        |dir| {
            let debs = dir.join("debs");
            apt::download(&package_list()?, &debs)?;
            apt::extract_all(&debs, &dir.join("prefix"))?;
            install_wasi_libc(&toolchain)?;
            compile_stubs(&toolchain, stubs_source)?;
            fs_err::remove_dir_all(debs)?;
            Ok(())
        },
    )?;
    Ok(toolchain)
}

/// rustc-web and what it needs to run, with version-dependent names read from apt.
fn package_list() -> Result<Vec<String>> {
    let libstd = depends_matching("libstd-rust-web-dev", "libstd-rust-web-")?;
    let llvm = depends_matching(&libstd, "libllvm")?;
    let llvm_major = llvm.trim_start_matches("libllvm");
    let mut list: Vec<String> = [
        "rustc-web",
        "cargo-web",
        "libstd-rust-web-dev",
        "rust-web-src",
        "wasi-libc",
        "libgit2-1.5",
        "libhttp-parser2.9",
        "libmbedcrypto7",
        "libmbedtls14",
        "libmbedx509-1",
    ]
    .map(String::from)
    .to_vec();
    list.extend([libstd.clone(), llvm.clone(), format!("lld-{llvm_major}")]);
    Ok(list)
}

/// The first dependency of `package` whose name starts with `prefix`.
///
/// A new machine's package lists may be empty or stale: if apt does not know the package,
/// the lists are refreshed once and the question asked again.
fn depends_matching(package: &str, prefix: &str) -> Result<String> {
    let fields = match apt::show(package) {
        Ok(fields) if fields.contains("Depends:") => fields,
        _ => {
            run(Cmd::new("apt-get").args(["update", "-q"]))?;
            apt::show(package)?
        }
    };
    let depends = fields
        .lines()
        .find_map(|l| l.strip_prefix("Depends:"))
        .with_context(|| format!("apt-cache shows no Depends for {package}; run apt-get update"))?;
    depends
        .split(',')
        .map(|d| d.split_whitespace().next().unwrap_or(""))
        .find(|name| name.starts_with(prefix))
        .map(str::to_owned)
        .with_context(|| format!("{package} depends on no {prefix}* package"))
}

/// rustc looks for the target's C runtime in `self-contained/`; Debian ships it elsewhere.
fn install_wasi_libc(toolchain: &GuestToolchain) -> Result<()> {
    let from = toolchain.usr().join("lib/wasm32-wasi");
    let to = toolchain
        .usr()
        .join("lib/rustlib/wasm32-wasip1/lib/self-contained");
    fs_err::create_dir_all(&to)?;
    for entry in fs_err::read_dir(&from)? {
        let path = entry?.path();
        if path.is_file() {
            fs_err::copy(&path, to.join(path.file_name().unwrap_or_default()))?;
        }
    }
    Ok(())
}

fn compile_stubs(toolchain: &GuestToolchain, source: &Path) -> Result<()> {
    let include = toolchain.usr().join("include/wasm32-wasi");
    run(Cmd::new("clang-19")
        .args(["--target=wasm32-wasi", "-O2", "-c", "-nostdlibinc"])
        .arg("-isystem")
        .arg(&include)
        .arg(source)
        .arg("-o")
        .arg(toolchain.stubs_object()))
    .context("failed to compile the wasi-libc stubs with clang-19")
}
