//! Running child processes with their command line in every error.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// A command under construction; a thin wrapper so that errors can name it.
#[derive(Debug)]
pub struct Cmd(Command);

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self(Command::new(program))
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.0.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.0.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.0.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.0.env_remove(key);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.0.current_dir(dir);
        self
    }

    fn describe(&self) -> String {
        let mut text = self.0.get_program().to_string_lossy().into_owned();
        for arg in self.0.get_args() {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        text
    }

    /// Replaces this process with the command (Unix `exec`); returns only on failure.
    pub fn exec(mut self) -> anyhow::Error {
        use std::os::unix::process::CommandExt;
        let what = self.describe();
        anyhow::Error::new(self.0.exec()).context(format!("failed to run `{what}`"))
    }
}

/// Runs a command with inherited stdio and fails unless it exits with status 0.
pub fn run(mut cmd: Cmd) -> Result<()> {
    let what = cmd.describe();
    let status = cmd
        .0
        .status()
        .with_context(|| format!("failed to start `{what}`"))?;
    if !status.success() {
        bail!("`{what}` failed with {status}");
    }
    Ok(())
}

/// Runs a command and returns its stdout; stderr is passed through.
pub fn run_output(mut cmd: Cmd) -> Result<String> {
    let what = cmd.describe();
    let out = cmd
        .0
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("failed to start `{what}`"))?;
    if !out.status.success() {
        bail!("`{what}` failed with {}", out.status);
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{what}` printed non-UTF-8 output"))
}
