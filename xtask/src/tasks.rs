//! The tasks themselves, composed from the set-up steps.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cache::Cache;
use crate::guest_toolchain::{self, GuestToolchain};
use crate::process::{run, Cmd};
use crate::runtime::{self, Runtime};
use crate::{apt, portable, suites, Task};

/// Everything set up, ready to build with.
struct Setup {
    cache: Cache,
    runtime: Runtime,
    toolchain: GuestToolchain,
}

/// Which nnedge build: tuned for this machine's CPU (development, tests, benchmarks here) or
/// for any x86-64 CPU (what the sysext ships; see [`portable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Native,
    Portable,
}

impl Flavour {
    fn from_flag(portable: bool) -> Self {
        if portable {
            Self::Portable
        } else {
            Self::Native
        }
    }
}

pub fn run_task(task: Task) -> Result<()> {
    match task {
        Task::Setup => setup().map(drop),
        Task::Guests { packages } => build_guests(&setup()?, &packages),
        Task::Build { portable: false } => build_all(&setup()?),
        Task::Build { portable: true } => {
            let s = setup()?;
            build_guests(&s, &[])?;
            build_portable(&s).map(drop)
        }
        Task::Serve { args } => {
            let s = setup()?;
            build_all(&s)?;
            Err(host_env(&s, Cmd::new(nnedge_binary(&s)).arg("serve").args(args)).exec())
        }
        Task::Sysext { args } => {
            let s = setup()?;
            build_guests(&s, &[])?;
            let nnedge = build_portable(&s)?;
            let bake = Cmd::new(nnedge).args(["sysext", "bake", "--preset", "nnedge"]);
            run(host_env(&s, bake.args(args)))
        }
        Task::Test { args } => {
            let s = setup()?;
            build_all(&s)?;
            build_portable(&s)?;
            check_and_test(&s, &args)
        }
        Task::Env { portable } => {
            let s = setup()?;
            for (key, value) in build_vars(&s, Flavour::from_flag(portable)) {
                println!("export {key}='{}'", value.display());
            }
            Ok(())
        }
    }
}

fn workspace_root() -> PathBuf {
    // xtask/ sits directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_owned()
}

fn setup() -> Result<Setup> {
    let cache = Cache::locate()?;
    apt::install_system_packages()?;
    let runtime = runtime::setup(&cache)?;
    let stubs = workspace_root().join("guest-apps/support/wasi-stubs.c");
    let toolchain = guest_toolchain::setup(&cache, &stubs)?;
    Ok(Setup {
        cache,
        runtime,
        toolchain,
    })
}

/// Builds every guest and copies the `.wasm` files to the cache's `guests/`.
fn build_guests(s: &Setup, packages: &[String]) -> Result<()> {
    let target_dir = s.cache.target("guests");
    let manifest = workspace_root().join("guest-apps/Cargo.toml");
    run(s
        .toolchain
        .cargo_command()?
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-Zbuild-std=std,panic_abort",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(packages.iter().flat_map(|p| ["--package", p]))
        .arg("--target-dir")
        .arg(&target_dir))
    .context("failed to build the guests")?;

    let built = target_dir.join("wasm32-wasip1/release");
    fs_err::create_dir_all(s.cache.guests())?;
    for entry in fs_err::read_dir(&built)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path.file_name().unwrap_or_default();
            fs_err::copy(&path, s.cache.guests().join(name))?;
        }
    }
    Ok(())
}

/// The host build's target dir: the caller's `CARGO_TARGET_DIR`, else one in the cache, so a
/// fresh clone reuses the llama.cpp build.
fn host_target_dir(s: &Setup) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| s.cache.target("host"))
}

/// The variables every host-side cargo command needs.
fn host_vars(s: &Setup) -> Vec<(&'static str, PathBuf)> {
    build_vars(s, Flavour::Native)
}

/// The variables a cargo command building `flavour` needs.
fn build_vars(s: &Setup, flavour: Flavour) -> Vec<(&'static str, PathBuf)> {
    let (target, rustflags) = match flavour {
        // Tuned for this CPU, which the llama-cpp-sys-2 build script only does when it sees
        // target-cpu=native.
        Flavour::Native => (host_target_dir(s), "-C target-cpu=native"),
        // Baseline x86-64 everywhere but in ggml's per-CPU modules; always its own target
        // dir, whatever CARGO_TARGET_DIR says, so the two llama.cpp builds never mix. Empty
        // (not unset) so that no configured rustflags apply either.
        Flavour::Portable => (s.cache.target("portable"), ""),
    };
    let mut vars = vec![
        ("NNEDGE_CACHE", s.cache.root().to_owned()),
        ("WASMEDGE_INCLUDE_DIR", s.runtime.include_dir()),
        ("WASMEDGE_LIB_DIR", s.runtime.link_dir()),
        ("NNEDGE_RUNTIME_LIB_DIR", s.runtime.lib_dir()),
        ("NNEDGE_GUEST_DIR", s.cache.guests()),
        ("CARGO_TARGET_DIR", target),
        // llama.cpp: clang-19, because gcc 12 with -march=native miscompiles ggml's AMX path
        // (a crash on the first decode on CPUs with AMX), and the portable flavour builds an
        // AMX variant too.
        ("CC", PathBuf::from("clang-19")),
        ("CXX", PathBuf::from("clang++-19")),
        ("RUSTFLAGS", PathBuf::from(rustflags)),
    ];
    if flavour == Flavour::Portable {
        // llama.cpp's shared common library would link the build machine's OpenSSL (for
        // model downloads nnedge never makes), which the runtime sysroot does not carry.
        // (A static libllama-common, as in the native flavour, leaves those parts out.)
        vars.push(("CMAKE_DISABLE_FIND_PACKAGE_OpenSSL", PathBuf::from("ON")));
    }
    vars
}

fn host_env(s: &Setup, cmd: Cmd) -> Cmd {
    flavour_env(s, Flavour::Native, cmd)
}

/// `cmd` with the variables a build of `flavour` needs.
fn flavour_env(s: &Setup, flavour: Flavour, mut cmd: Cmd) -> Cmd {
    for (key, value) in build_vars(s, flavour) {
        cmd = cmd.env(key, value);
    }
    cmd
}

/// A cargo command in the workspace root, set up to build `flavour`.
fn cargo_for(s: &Setup, flavour: Flavour) -> Cmd {
    let cargo = Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    flavour_env(s, flavour, cargo).current_dir(workspace_root())
}

fn cargo(s: &Setup) -> Cmd {
    cargo_for(s, Flavour::Native)
}

/// A cargo command for the portable flavour.
fn portable_cargo(s: &Setup) -> Cmd {
    // It would win over RUSTFLAGS.
    cargo_for(s, Flavour::Portable).env_remove("CARGO_ENCODED_RUSTFLAGS")
}

/// Builds the portable flavour into `$NNEDGE_CACHE/portable`; returns its `bin/nnedge`.
fn build_portable(s: &Setup) -> Result<PathBuf> {
    let layout = s.cache.portable();
    portable::build(portable_cargo(s), &layout, &s.runtime.lib_dir())
}

fn nnedge_binary(s: &Setup) -> PathBuf {
    host_target_dir(s).join("release/nnedge")
}

/// Builds the guests and the host, then lets the host fetch the default model.
fn build_all(s: &Setup) -> Result<()> {
    build_guests(s, &[])?;
    run(cargo(s).args(["build", "--release", "--package", "nnedge"]))?;
    run(host_env(
        s,
        Cmd::new(nnedge_binary(s)).args(["model", "pull"]),
    ))
}

fn check_and_test(s: &Setup, args: &[String]) -> Result<()> {
    run(cargo(s).args(["fmt", "--all", "--check"]))?;
    run(cargo(s)
        .args(["fmt", "--all", "--check", "--manifest-path"])
        .arg(workspace_root().join("guest-apps/Cargo.toml")))?;
    run(cargo(s).args([
        "clippy",
        "--release",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The portable flavour's own code (behind its feature), in its target dir.
    run(portable_cargo(s).args([
        "clippy",
        "--release",
        "--package",
        "nnedge",
        "--features",
        portable::FEATURE,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo(s)
        .args(["doc", "--release", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    run(cargo(s)
        .args(["test", "--release", "--workspace"])
        .args(args))?;
    if !args.is_empty() {
        // A filter names cargo tests; the other suites run only in a full test run.
        return Ok(());
    }
    let root = workspace_root();
    suites::guest_native_tests(&root, &s.cache)?;
    let mut envs = host_vars(s);
    envs.push(("NNEDGE_BIN", nnedge_binary(s)));
    suites::api_tests(&root, &s.cache, &envs)?;
    suites::browser_tests(&root, &envs)
}
