//! The portable flavour: nnedge for any x86-64 CPU, with llama.cpp's CPU kernels built once
//! per micro-architecture and chosen at start-up.
//!
//! cargo builds it into `$NNEDGE_CACHE/target/portable` (a llama.cpp build of its own; the
//! host flavour's target dir is never touched) with clang-19, without `target-cpu=native`,
//! with nnedge's `portable` feature. Then [`build`] collects what it needs into one
//! relocatable folder, replacing the previous one:
//!
//! ```text
//! $NNEDGE_CACHE/portable/
//!   bin/nnedge -> ../lib/nnedge/nnedge
//!   lib/nnedge/nnedge                        the binary; RPATH: the runtime sysroot, $ORIGIN
//!   lib/nnedge/libllama.so*, libggml*.so*    the libraries it links (symlinks kept)
//!   lib/nnedge/libggml-cpu-<variant>.so      ggml's CPU backend: x64, sse42, ..., haswell,
//!                                            skylakex, ..., sapphirerapids
//! ```
//!
//! The binary loads the modules from its own folder (see `host/src/cpu_backend.rs`), so the
//! folder works wherever it is copied, and the sysext preset bundles it as it is.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::process::{run_output, Cmd};

/// nnedge's cargo feature that selects the portable flavour.
pub const FEATURE: &str = "portable";

/// The build script output folder of llama-cpp-sys-2 and the nnedge executable, as cargo
/// reported them.
#[derive(Debug, Default)]
struct BuildOutput {
    llama_out_dir: Option<PathBuf>,
    executable: Option<PathBuf>,
}

/// Builds the flavour with `cargo` (a cargo command with the flavour's environment) and
/// collects it into `layout`; checks that it needs no library but its own and those of the
/// runtime sysroot's library folder `runtime_libs`; returns the binary's path in the layout.
pub fn build(cargo: Cmd, layout: &Path, runtime_libs: &Path) -> Result<PathBuf> {
    let messages = run_output(cargo.args([
        "build",
        "--release",
        "--package",
        "nnedge",
        "--features",
        FEATURE,
        "--message-format=json-render-diagnostics",
    ]))
    .context("failed to build the portable flavour")?;
    let output = parse_messages(&messages);
    let out_dir = output
        .llama_out_dir
        .context("cargo did not report llama-cpp-sys-2's build script output folder")?;
    let executable = output
        .executable
        .context("cargo did not report the nnedge executable")?;

    collect(&executable, &out_dir, layout)?;
    check_libraries(&layout.join("lib/nnedge"), runtime_libs).context(
        "if cmake configured llama.cpp with a library of the build machine, rebuild it: \
         `eval \"$(cargo xtask env --portable)\"; cargo clean --release -p llama-cpp-sys-2`, \
         then `cargo xtask build --portable`",
    )?;
    let binary = layout.join("bin/nnedge");
    let version = run_output(Cmd::new(&binary).arg("--version"))
        .context("the collected portable nnedge does not start")?;
    eprintln!(
        "xtask: portable flavour in {}: {}",
        layout.display(),
        version.trim()
    );
    Ok(binary)
}

/// Picks what [`build`] needs out of cargo's JSON messages, one per line.
fn parse_messages(messages: &str) -> BuildOutput {
    let mut output = BuildOutput::default();
    for message in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(message) else {
            continue;
        };
        let text = |key: &str| message.get(key).and_then(|v| v.as_str());
        match text("reason") {
            Some("build-script-executed")
                if text("package_id").is_some_and(|id| id.contains("llama-cpp-sys-2")) =>
            {
                output.llama_out_dir = text("out_dir").map(PathBuf::from);
            }
            Some("compiler-artifact")
                if message["target"]["name"] == "nnedge"
                    && message["target"]["kind"] == serde_json::json!(["bin"]) =>
            {
                output.executable = text("executable").map(PathBuf::from);
            }
            _ => {}
        }
    }
    output
}

/// Lays out the binary, llama.cpp's shared libraries (`OUT_DIR/lib`) and ggml's backend
/// modules (`OUT_DIR/backends`) in a fresh folder, then swaps it in for `layout`.
fn collect(executable: &Path, out_dir: &Path, layout: &Path) -> Result<()> {
    let staging = layout.with_extension("new");
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    let lib = staging.join("lib/nnedge");
    fs_err::create_dir_all(&lib)?;
    fs_err::create_dir_all(staging.join("bin"))?;

    fs_err::copy(executable, lib.join("nnedge"))?;
    symlink("../lib/nnedge/nnedge", staging.join("bin/nnedge"))
        .with_context(|| format!("failed to link {}/bin/nnedge", staging.display()))?;
    let libraries = copy_shared_objects(&out_dir.join("lib"), &lib)?;
    let modules = copy_shared_objects(&out_dir.join("backends"), &lib)?;
    anyhow::ensure!(
        libraries > 0 && modules > 0,
        "llama.cpp's build in {} has no shared libraries or no backend modules; was it built \
         with the `dynamic-backends` feature?",
        out_dir.display()
    );

    if layout.exists() {
        fs_err::remove_dir_all(layout)?;
    }
    fs_err::rename(&staging, layout)?;
    Ok(())
}

/// Checks that every file in `lib` needs only libraries in `lib` or `runtime_libs`: the
/// layout must run wherever it is copied, with the sysroot alone (`patchelf --print-needed`).
fn check_libraries(lib: &Path, runtime_libs: &Path) -> Result<()> {
    for entry in fs_err::read_dir(lib)? {
        let path = entry?.path();
        if fs_err::symlink_metadata(&path)?.is_symlink() {
            continue;
        }
        let needed = run_output(Cmd::new("patchelf").arg("--print-needed").arg(&path))?;
        for library in needed.lines() {
            anyhow::ensure!(
                lib.join(library).exists() || runtime_libs.join(library).exists(),
                "`{}` needs `{library}`, which is neither beside it nor in the runtime sysroot \
                 ({})",
                path.display(),
                runtime_libs.display()
            );
        }
    }
    Ok(())
}

/// Copies every `*.so` / `*.so.N...` file of `from` into `to`, symlinks as symlinks; returns
/// how many entries it copied.
fn copy_shared_objects(from: &Path, to: &Path) -> Result<usize> {
    let mut count = 0;
    for entry in fs_err::read_dir(from)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default();
        if !name.to_string_lossy().contains(".so") {
            continue;
        }
        let metadata = fs_err::symlink_metadata(&path)?;
        if metadata.is_symlink() {
            let target = fs_err::read_link(&path)?;
            symlink(&target, to.join(name))
                .with_context(|| format!("failed to link {}", to.join(name).display()))?;
        } else {
            fs_err::copy(&path, to.join(name))?;
        }
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_messages_name_the_llama_build_and_the_binary() {
        let messages = [
            r#"{"reason":"build-script-executed","package_id":"registry+https://x#ring@0.17.14","out_dir":"/t/ring/out"}"#,
            r#"{"reason":"build-script-executed","package_id":"registry+https://x#llama-cpp-sys-2@0.1.161","out_dir":"/t/llama/out"}"#,
            "not json: a line cargo printed itself",
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"nnedge"},"executable":null}"#,
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"nnedge"},"executable":"/t/release/nnedge"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        let output = parse_messages(&messages);
        assert_eq!(output.llama_out_dir, Some(PathBuf::from("/t/llama/out")));
        assert_eq!(output.executable, Some(PathBuf::from("/t/release/nnedge")));
    }

    #[test]
    fn collecting_keeps_symlinks_and_swaps_the_layout_in() {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        for dir in ["lib", "backends"] {
            fs_err::create_dir_all(out.join(dir)).unwrap();
        }
        fs_err::write(out.join("lib/libggml-base.so.0.26.0"), b"base").unwrap();
        symlink("libggml-base.so.0.26.0", out.join("lib/libggml-base.so.0")).unwrap();
        fs_err::write(out.join("lib/ggml.pc"), b"not a library").unwrap();
        fs_err::write(out.join("backends/libggml-cpu-x64.so"), b"x64").unwrap();
        let executable = work.path().join("nnedge");
        fs_err::write(&executable, b"binary").unwrap();
        let layout = work.path().join("portable");
        fs_err::create_dir_all(layout.join("stale")).unwrap();

        collect(&executable, &out, &layout).unwrap();
        let lib = layout.join("lib/nnedge");
        assert_eq!(fs_err::read(layout.join("bin/nnedge")).unwrap(), b"binary");
        assert_eq!(
            fs_err::read_link(lib.join("libggml-base.so.0")).unwrap(),
            Path::new("libggml-base.so.0.26.0")
        );
        assert_eq!(
            fs_err::read(lib.join("libggml-cpu-x64.so")).unwrap(),
            b"x64"
        );
        assert!(!lib.join("ggml.pc").exists());
        assert!(!layout.join("stale").exists());
    }
}
