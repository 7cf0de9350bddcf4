//! Where the benchmarks find their parts (the `nnedge` binary, guests, the default model) and
//! what every report records besides its numbers: the versions that produced them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

/// The llama-cpp-2 release nnedge is built on. Cargo gives a crate no way to read a
/// dependency's version, so it is written here; a test compares it with the root
/// `Cargo.toml`'s pin.
pub const LLAMA_CPP_2_VERSION: &str = "0.1.160";

/// The WasmEdge runtime nnedge embeds, used when the runtime's cache directory (whose name
/// carries the version) cannot be found.
pub const WASMEDGE_VERSION: &str = "0.14.1";

/// The model `bench infer` measures by default, a file in the cache's `models/`.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// nnedge's cache: `$NNEDGE_CACHE`, else `~/.cache/nnedge` (as `cargo xtask` lays it out).
pub fn cache_root() -> PathBuf {
    match std::env::var_os("NNEDGE_CACHE").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
            .join(".cache/nnedge"),
    }
}

/// The default `nnedge` binary: the release build `cargo xtask build` leaves in the cache.
pub fn default_nnedge() -> PathBuf {
    cache_root().join("target/host/release/nnedge")
}

/// The default directory of built guests: `$NNEDGE_GUEST_DIR`, else the cache's `guests/`.
pub fn guest_dir() -> PathBuf {
    std::env::var_os("NNEDGE_GUEST_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| cache_root().join("guests"), PathBuf::from)
}

/// The default model for `bench infer`.
pub fn default_model() -> PathBuf {
    cache_root().join("models").join(DEFAULT_MODEL_FILE)
}

/// Versions of everything that shapes a figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versions {
    /// `nnedge --version` of the binary measured (or of the benches crate, if none ran).
    pub nnedge: String,
    /// The WasmEdge runtime.
    pub wasmedge: String,
    /// The llama.cpp build (the sys crate that vendors it).
    pub llama_cpp: String,
    /// The llama-cpp-2 bindings.
    pub llama_cpp_2: String,
}

impl Versions {
    /// Versions with nnedge's read from `nnedge --version` when a binary is given.
    pub fn detect(nnedge: Option<&Path>) -> Self {
        let from_binary = nnedge.and_then(|bin| {
            let output = Command::new(bin).arg("--version").output().ok()?;
            let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            output.status.success().then_some(text)
        });
        Self {
            nnedge: from_binary.unwrap_or_else(|| format!("nnedge {}", env!("CARGO_PKG_VERSION"))),
            wasmedge: wasmedge_version(),
            llama_cpp: nnedge_wasi_nn_ggml::backend::LLAMA_COMMIT.to_owned(),
            llama_cpp_2: LLAMA_CPP_2_VERSION.to_owned(),
        }
    }
}

/// The runtime version from the cache's `runtime/wasmedge-<version>` directory.
fn wasmedge_version() -> String {
    let runtime = cache_root().join("runtime");
    std::fs::read_dir(runtime)
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("wasmedge-").map(str::to_owned)
        })
        .unwrap_or_else(|| WASMEDGE_VERSION.to_owned())
}

/// The 1-minute load average from `/proc/loadavg`, recorded before and after a benchmark so a
/// reader can tell a busy machine's figures from a quiet one's.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The quantisation named in a GGUF file name (`...Q4_1.gguf` → `Q4_1`), or `unknown`.
pub fn quantisation_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_uppercase())
        .unwrap_or_default();
    stem.rsplit(['.', '-'])
        .find(|part| {
            let numbered = |prefix: &str| {
                part.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            };
            numbered("Q") || numbered("IQ") || ["F16", "F32", "BF16"].contains(part)
        })
        .map(str::to_owned)
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantisation_comes_from_the_file_name() {
        for (name, quant) in [
            ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
            ("all-MiniLM-L6-v2-Q8_0.gguf", "Q8_0"),
            ("model-q4_k_m.gguf", "Q4_K_M"),
            ("tiny.F16.gguf", "F16"),
            ("stories260K.gguf", "unknown"),
        ] {
            assert_eq!(quantisation_of(Path::new(name)), quant, "{name}");
        }
    }

    #[test]
    fn llama_cpp_2_version_matches_the_workspace_pin() {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let text = std::fs::read_to_string(manifest).expect("the workspace manifest");
        let pin = format!("llama-cpp-2 = \"={LLAMA_CPP_2_VERSION}\"");
        assert!(text.contains(&pin), "root Cargo.toml does not pin {pin}");
    }
}
