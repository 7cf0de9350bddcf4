//! Test suites outside cargo's own: the guests' target-independent tests (run natively),
//! the OpenAI-client API tests (Python) and the chat page in a real browser (Node).
//!
//! Each needs the built `nnedge` binary and guests, so they run after `cargo test`.

use std::path::Path;

use anyhow::{Context, Result};

use crate::cache::Cache;
use crate::process::{run, Cmd};

/// Python packages of the API tests, pinned so a new client release cannot turn CI red.
const API_TEST_REQUIREMENTS: &str = "host/tests/api/requirements.txt";

/// `cargo test` over the guest workspace with the ordinary host toolchain: the guests keep
/// their protocol logic free of wasm-only imports so it can be tested this way.
pub fn guest_native_tests(root: &Path, cache: &Cache) -> Result<()> {
    run(
        Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["test", "--workspace", "--manifest-path"])
            .arg(root.join("guest-apps/Cargo.toml"))
            .env("CARGO_TARGET_DIR", cache.target("guest-native"))
            .env_remove("RUSTFLAGS"),
    )
    .context("the guests' native tests failed")
}

/// The API tests with the official `openai` Python client, in a virtualenv in the cache.
pub fn api_tests(root: &Path, cache: &Cache, envs: &[(&str, std::path::PathBuf)]) -> Result<()> {
    let requirements = root.join(API_TEST_REQUIREMENTS);
    if !requirements.exists() {
        return Ok(());
    }
    let venv = cache.venv();
    let python = venv.join("bin/python");
    if !python.exists() {
        run(Cmd::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    // Reinstall only when the requirements change.
    let wanted = fs_err::read_to_string(&requirements)?;
    let stamp = venv.join("requirements.installed");
    if fs_err::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(Cmd::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements))?;
        fs_err::write(&stamp, &wanted)?;
    }
    let mut cmd = Cmd::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("host/tests/api"))
        .current_dir(root);
    for (key, value) in envs {
        cmd = cmd.env(key, value);
    }
    run(cmd).context("the API tests failed")
}

/// The chat page in Debian's Chromium, driven by Playwright (which never downloads a
/// browser here: only `playwright-core` is installed).
pub fn browser_tests(root: &Path, envs: &[(&str, std::path::PathBuf)]) -> Result<()> {
    let dir = root.join("host/tests/browser");
    if !dir.join("package.json").exists() {
        return Ok(());
    }
    run(Cmd::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            "--prefix",
        ])
        .arg(&dir))?;
    let mut cmd = Cmd::new("node").args(["--test", "--test-concurrency=1"]);
    for entry in fs_err::read_dir(&dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".test.mjs") {
            cmd = cmd.arg(path);
        }
    }
    for (key, value) in envs {
        cmd = cmd.env(key, value);
    }
    run(cmd.current_dir(root)).context("the browser tests failed")
}
