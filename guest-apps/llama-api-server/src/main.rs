//! `llama-api-server`: the OpenAI-compatible API server guest.
//!
//! ```text
//! nnedge run --nn-preload default:GGML:AUTO:model.gguf llama-api-server.wasm \
//!     --socket-addr 127.0.0.1:8080 [--parallel N] [--prompt-template chatml] ...
//! ```
//!
//! The WebAssembly build runs a single-threaded event loop ([`net`]) over WasmEdge's socket
//! extensions and generates with WASI-NN ([`nn`]). Built natively it only explains that it
//! is a WebAssembly program.

#[cfg(target_arch = "wasm32")]
mod net;
#[cfg(target_arch = "wasm32")]
mod nn;

use std::process::ExitCode;

use clap::Parser;
use llama_api_server::config::{Args, ServerConfig};

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match ServerConfig::from_args(args, std::env::var("API_KEY").ok()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("llama-api-server: {error}");
            return ExitCode::from(2);
        }
    };
    run(config)
}

#[cfg(target_arch = "wasm32")]
fn run(config: ServerConfig) -> ExitCode {
    match net::serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("llama-api-server: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run(_config: ServerConfig) -> ExitCode {
    eprintln!("llama-api-server is a WebAssembly program: build it with `cargo xtask guests` and run it with `nnedge run`");
    ExitCode::FAILURE
}
