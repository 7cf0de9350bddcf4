//! `cargo xtask`: everything between a fresh clone and a running, tested nnedge.
//!
//! - `setup`: Debian packages, the WasmEdge runtime sysroot and the guest toolchain, each into the cache directory (see [`cache`]) and each skipped when done;
//! - `guests`: builds `guest-apps/` for wasm32-wasip1;
//! - `build`: builds the `nnedge` binary against the runtime sysroot and lets it fetch the
//!   default model (`nnedge model pull`); `build --portable` builds the flavour that runs on
//!   any x86-64 CPU instead (see [`portable`]);
//! - `sysext`: bakes nnedge's sysext image from the portable flavour;
//! - `serve`: all of the above, then runs `nnedge serve` (the main job);
//! - `test`: all of the above, then formatting, lints, docs and every test;
//! - `env`: prints the environment a plain `cargo` needs, for `eval "$(cargo xtask env)"`.

mod apt;
mod cache;
mod guest_toolchain;
mod portable;
mod process;
mod runtime;
mod suites;
mod tasks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "nnedge build tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install everything the build needs (idempotent).
    Setup,
    /// Build the wasm32-wasip1 guests into the cache.
    Guests {
        /// Build only these guest packages (default: all).
        #[arg(short, long = "package")]
        packages: Vec<String>,
    },
    /// Build the nnedge binary (release).
    Build {
        /// Build the portable flavour instead, the one the sysext ships: no
        /// `target-cpu=native`; llama.cpp's CPU kernels built once per x86-64
        /// micro-architecture and chosen at start-up. It goes, with its libraries and
        /// modules, to $NNEDGE_CACHE/portable/{bin/nnedge,lib/nnedge/} (its own llama.cpp
        /// build in $NNEDGE_CACHE/target/portable; the first one takes 15-30 minutes).
        #[arg(long)]
        portable: bool,
    },
    /// Set up, build, and run `nnedge serve` with the given arguments.
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, build the portable flavour, and bake nnedge's sysext image from it.
    Sysext {
        /// Arguments for `nnedge sysext bake --preset nnedge` (e.g. --version 0.1.0
        /// --out-dir out/).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, build both flavours, and run formatting checks, clippy, doc builds and all
    /// tests.
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Print shell exports so that plain `cargo build`/`cargo test` work in this shell.
    Env {
        /// Exports for building the portable flavour (add `--features portable`).
        #[arg(long)]
        portable: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match tasks::run_task(cli.task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
