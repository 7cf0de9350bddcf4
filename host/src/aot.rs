//! Ahead-of-time compilation with WasmEdge's LLVM compiler, and the cache that makes it
//! transparent for `nnedge run`.
//!
//! A compiled module is a "universal" wasm file: the module plus a custom section of native
//! code, which WasmEdge runs natively when it loads the file. The cache keys it by the SHA-256
//! of the bytes compiled (for `nnedge run`, the module after its call-depth instrumentation,
//! so the key changes with the instrumentation and its limit) and the WasmEdge version, so a
//! new runtime never runs code compiled by an old one. Entries are written to a temporary
//! file and renamed into place, so concurrent runs never see a half-written entry.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmedge_sdk::config::{CommonConfigOptions, CompilerConfigOptions, ConfigBuilder};
use wasmedge_sdk::{CompilerOptimizationLevel, CompilerOutputFormat};

/// The WasmEdge release nnedge is built against; part of every AOT cache key.
pub const WASMEDGE_VERSION: &str = "0.14.1";

/// Compiles `input` into the universal wasm file `output`.
pub fn compile(input: &Path, output: &Path) -> Result<()> {
    compile_as(input, output, input)
}

/// [`compile`], naming the module `shown` in errors (the input may be a temporary copy).
fn compile_as(input: &Path, output: &Path, shown: &Path) -> Result<()> {
    let config = ConfigBuilder::new(CommonConfigOptions::default())
        .with_compiler_config(
            CompilerConfigOptions::default()
                .out_format(CompilerOutputFormat::Wasm)
                .optimization_level(CompilerOptimizationLevel::O2),
        )
        .build()
        .context("failed to configure WasmEdge's compiler")?;
    let compiler = wasmedge_sdk::Compiler::new(Some(&config))
        .context("failed to create WasmEdge's AOT compiler")?;

    // The SDK names its output `<dir>/<name>.so`; compile there, then move into place.
    let dir = output.parent().unwrap_or(Path::new("."));
    let name = format!(
        ".{}.{}.partial",
        output.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    );
    let partial = dir.join(format!("{name}.so"));
    let written = compiler.compile_from_file(input, &name, dir);
    let moved = written
        .map_err(|e| anyhow::anyhow!("failed to AOT-compile `{}`: {e}", shown.display()))
        .and_then(|written| Ok(fs_err::rename(&written, output)?));
    if moved.is_err() {
        // Never leave a half-written file behind.
        let _ = fs_err::remove_file(&partial);
    }
    moved
}

/// `nnedge compile`: checks the input and the output's place first, so a mistake is a plain
/// message rather than one from the compiler's linker.
pub fn compile_command(input: &Path, output: &Path) -> Result<()> {
    crate::run::read_module(input)?;
    if output.is_dir() {
        anyhow::bail!(
            "`{}` is a directory; give the path of the file to write",
            output.display()
        );
    }
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        anyhow::bail!(
            "the directory `{}` does not exist; create it first",
            parent.display()
        );
    }
    compile(input, output)
}

/// The custom section WasmEdge's compiler adds to a universal wasm file.
const AOT_SECTION: &str = "wasmedge";

/// Whether `bytes` already carry WasmEdge native code (made by `nnedge compile` or
/// `wasmedge compile`): a custom section named [`AOT_SECTION`]. Malformed bytes do not.
pub fn is_precompiled(bytes: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(section)) if section.name() == AOT_SECTION => {
                return true
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Returns the cached AOT build of the module in `bytes` (made from `source`), compiling it
/// first if the cache has none. A module that already carries native code is used as it is,
/// from `source`.
pub fn cached(cache_root: &Path, source: &Path, bytes: &[u8]) -> Result<PathBuf> {
    if is_precompiled(bytes) {
        tracing::debug!(module = %source.display(), "module is already AOT-compiled");
        return Ok(source.to_owned());
    }
    let key = hex::encode(Sha256::new().chain_update(bytes).finalize());
    let dir = cache_root
        .join("aot")
        .join(format!("wasmedge-{WASMEDGE_VERSION}"));
    let entry = dir.join(format!("{key}.wasm"));
    if entry.exists() {
        tracing::debug!(entry = %entry.display(), "AOT cache hit");
        return Ok(entry);
    }
    fs_err::create_dir_all(&dir)?;
    tracing::info!(module = %source.display(), "AOT-compiling (once per module and runtime version)");
    // The compiler reads a file: hand it these bytes, which may differ from `source`'s.
    let mut input = tempfile::Builder::new()
        .prefix(".input.")
        .suffix(".wasm")
        .tempfile_in(&dir)
        .with_context(|| format!("failed to create a file in `{}`", dir.display()))?;
    std::io::Write::write_all(&mut input, bytes)
        .with_context(|| format!("failed to write `{}`", input.path().display()))?;
    compile_as(input.path(), &entry, source)?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_modules_are_not_precompiled() {
        let plain = wat::parse_str("(module (func (export \"_start\")))").unwrap();
        assert!(!is_precompiled(&plain));
        assert!(!is_precompiled(b"\0asm\x01\0\0\0\0\xff\xff")); // truncated section size
    }

    #[test]
    fn a_wasmedge_custom_section_marks_native_code() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend([0, 10, 8]); // custom section, 10 bytes, name of 8 bytes
        module.extend(b"wasmedge\x00");
        assert!(is_precompiled(&module));
    }
}
