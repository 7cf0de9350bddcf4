//! Shared helpers: finding the binary, guests and models; running nnedge.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A command for the `nnedge` binary under test.
pub fn nnedge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nnedge"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// Skips the current test (returns `None`) when a prerequisite is missing; fails under CI.
pub fn prerequisite(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{what} not found at {}; run `cargo xtask test`",
        path.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    None
}

/// The cache directory `cargo xtask` uses.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("NNEDGE_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/nnedge"),
    }
}

/// A built guest, e.g. `guest("hello")`.
pub fn guest(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("NNEDGE_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("guests"));
    prerequisite(dir.join(format!("{name}.wasm")), &format!("guest {name}"))
}

/// A test model from the shared models directory beside the repository.
pub fn shared_model(file: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models");
    prerequisite(root.join(file), &format!("test model {file}"))
}

/// The default chat model in the cache.
pub fn default_model() -> Option<PathBuf> {
    prerequisite(
        cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        "default model",
    )
}

/// stdout and stderr as text, for assertions.
pub fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs nnedge with `args` and returns (exit code, stdout, stderr).
pub fn run_nnedge(args: &[&str]) -> (i32, String, String) {
    let output = nnedge()
        .args(args)
        .output()
        .expect("failed to start nnedge");
    let (out, err) = texts(&output);
    (output.status.code().unwrap_or(-1), out, err)
}
