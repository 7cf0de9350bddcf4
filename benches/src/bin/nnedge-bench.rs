//! `nnedge-bench`: the `bench` commands of nnedge as a standalone program, for running them
//! before (or without) the `nnedge bench` wiring. `nnedge-bench infer` measures pp/tg tokens/s
//! through the llama-bench guest and natively; `nnedge-bench serve --url URL` loads an
//! OpenAI-compatible endpoint. See `--help` and BENCHMARKS.md.

use std::process::ExitCode;

use clap::Parser;
use nnedge_benches::cli::{run, BenchCommand};

/// Benchmarks of nnedge: inference (Wasm vs native) and serving load.
#[derive(Debug, Parser)]
#[command(name = "nnedge-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,llama-cpp-2=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
