//! Runs the ignition subcommands standalone: `cargo run -p nnedge-ignition --example
//! ignition -- render FILE` (the `nnedge` binary embeds the same commands).

use clap::Parser;
use nnedge_ignition::cli::{run, IgnitionCommand};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: IgnitionCommand,
}

fn main() {
    if let Err(error) = run(Cli::parse().command) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
