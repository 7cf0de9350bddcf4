//! nn-probe: a test guest that calls the raw `wasi_ephemeral_nn` imports with bad arguments
//! (pointers outside memory, overlapping pointers, huge lengths, unknown or stale handles,
//! invalid UTF-8 and JSON, a non-GGUF model, a too small output buffer) and finally runs a
//! normal inference on the same context, so a host test can check every error code and that
//! nothing broke.
//!
//! ```text
//! nnedge run --nn-preload default:GGML:AUTO:stories260K.gguf nn-probe.wasm [CASE]...
//! nn-probe --list
//! ```
//!
//! With no case named it runs them all, in the order `--list` shows, ending with
//! `normal-inference`. For each case stdout gets exactly one line `case <name>: errno <n>`;
//! generated text and notes go to stderr. A case whose preparing call fails prints
//! `case <name>: setup failed: <call> errno <n>`. Exit codes: 0 every case ran, 1 a case
//! could not be prepared, 2 bad arguments.
//!
//! The probe declares `finalize_execution_context` too (WASI-NN's, not used by
//! `wasmedge-wasi-nn`), so a host must provide it to instantiate the probe.

mod cases;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod probe;

use std::process::ExitCode;

use clap::Parser;

use crate::cases::Case;

/// Drives the raw WASI-NN imports through bad arguments and reports each errno.
#[derive(Debug, Parser)]
#[command(name = "nn-probe", version, about)]
struct Cli {
    /// Alias of the model the host preloaded.
    #[arg(short = 'a', long, default_value = "default")]
    model_alias: String,

    /// Metadata JSON for the shared graph (small and greedy, so runs are quick and repeatable).
    #[arg(
        long,
        default_value = r#"{"n-predict": 16, "ctx-size": 256, "temp": 0.0}"#
    )]
    config: String,

    /// List the cases and what each one reports, then exit.
    #[arg(long)]
    list: bool,

    /// Cases to run, in order (default: all).
    cases: Vec<Case>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list {
        for case in Case::ALL {
            println!("{:<22} {}", case.name(), case.about());
        }
        return ExitCode::SUCCESS;
    }
    let cases = if cli.cases.is_empty() {
        Case::ALL.to_vec()
    } else {
        cli.cases.clone()
    };
    run(&cli, &cases)
}

#[cfg(target_arch = "wasm32")]
fn run(cli: &Cli, cases: &[Case]) -> ExitCode {
    let mut probe = probe::Probe::new(cli.model_alias.clone(), cli.config.clone());
    let mut code = ExitCode::SUCCESS;
    for &case in cases {
        match probe.run(case) {
            Ok(errno) => println!("case {case}: errno {errno}"),
            Err(err) => {
                println!(
                    "case {case}: setup failed: {} errno {}",
                    err.call, err.errno
                );
                code = ExitCode::from(1);
            }
        }
    }
    code
}

/// Outside a Wasm guest there are no WASI-NN imports to probe.
#[cfg(not(target_arch = "wasm32"))]
fn run(_cli: &Cli, _cases: &[Case]) -> ExitCode {
    eprintln!("nn-probe: runs only as a wasm32-wasip1 guest of a host with WASI-NN");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_come_from_argv_in_order() {
        let cli = Cli::try_parse_from(["nn-probe", "out-max-too-small", "normal-inference"])
            .expect("valid cases");
        assert_eq!(cli.cases, [Case::OutMaxTooSmall, Case::NormalInference]);
        assert_eq!(cli.model_alias, "default");
    }

    #[test]
    fn an_unknown_case_is_a_usage_error() {
        let err = Cli::try_parse_from(["nn-probe", "segfault"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn the_default_config_is_json() {
        let cli = Cli::try_parse_from(["nn-probe"]).expect("no arguments are valid");
        assert!(
            cli.config.starts_with('{') && cli.config.ends_with('}'),
            "{}",
            cli.config
        );
    }
}
