//! The command line: `nnedge <command>`, parsed with clap.

use std::path::PathBuf;

use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use nnedge_wasi_nn_ggml::ModelPreload;

use crate::wasi_options::{DirMapping, EnvVar};

/// Run WebAssembly LLM apps on the WasmEdge runtime, from a laptop to a fleet of CPU machines.
#[derive(Debug, Parser)]
#[command(name = "nnedge", version, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Parses the command line; `version` is what `--version` prints after the name (it names
/// the CPU kernels chosen at run time, see `cpu_backend`).
pub fn parse(version: String) -> Cli {
    // clap keeps the text for the whole run; this runs once per process.
    let version: &'static str = Box::leak(version.into_boxed_str());
    let matches = Cli::command().version(version).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a WASI guest (wasm32-wasip1 command module) to completion.
    ///
    /// The exit code is the guest's exit code. nnedge's own failures exit with 1 (the guest
    /// could not be loaded, instantiated or trapped) or 2 (bad command line).
    Run(RunArgs),
    /// Compile a module ahead of time into a universal wasm file that runs natively.
    Compile(CompileArgs),
    /// Serve an OpenAI-compatible API (chat, completions, embeddings) on a model.
    ///
    /// With no options: the default model (fetched on first use) on 127.0.0.1:8080.
    Serve(crate::serve::ServeArgs),
    /// Manage the models nnedge knows by name.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Bake and inspect Flatcar system extension (sysext) images.
    #[command(subcommand)]
    Sysext(nnedge_sysext::cli::SysextCommand),
    /// Render Butane into Ignition JSON, or generate an LLM node's config.
    #[command(subcommand)]
    Ignition(nnedge_ignition::cli::IgnitionCommand),
    /// DigitalOcean resources: images, droplets, SSH keys, sizes (doctl style).
    Do {
        #[command(flatten)]
        global: nnedge_digitalocean::cli::GlobalArgs,
        #[command(subcommand)]
        command: nnedge_digitalocean::cli::DoCommand,
    },
    /// Benchmarks: inference speed (Wasm beside native llama.cpp) and serving load.
    #[command(subcommand)]
    Bench(nnedge_benches::cli::BenchCommand),
    /// Deploy LLM nodes on DigitalOcean, or destroy a deployment.
    Deploy {
        #[command(flatten)]
        global: nnedge_digitalocean::cli::GlobalArgs,
        #[command(subcommand)]
        command: nnedge_digitalocean::cli::DeployCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Fetch a known model into the cache (verifying its checksum) and print its path.
    Pull {
        /// The model's name.
        #[arg(default_value = crate::model::DEFAULT_MODEL.name)]
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Make a host directory visible to the guest, as `HOST[:GUEST]` (GUEST defaults to HOST).
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    pub dirs: Vec<DirMapping>,

    /// Set an environment variable in the guest.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub envs: Vec<EnvVar>,

    /// Register a model for WASI-NN under an alias, e.g. default:GGML:AUTO:model.gguf.
    #[arg(long = "nn-preload", value_name = "ALIAS:GGML:TARGET:PATH")]
    pub preloads: Vec<ModelPreload>,

    /// Run in WasmEdge's interpreter instead of the (cached) AOT-compiled native code.
    #[arg(long)]
    pub force_interpreter: bool,

    /// Trap when guest calls nest deeper than N (unbounded recursion stops with a message
    /// naming the function). Lowered for a module whose largest function could not nest
    /// that deep in nnedge's guest stack.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::run::DEFAULT_MAX_CALL_DEPTH,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_call_depth: u32,

    /// The guest module (.wasm), then the arguments passed to it. Everything after the module
    /// goes to the guest, flags included.
    #[arg(
        value_name = "APP.wasm [ARGS]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

impl RunArgs {
    /// The module path and the guest's arguments.
    pub fn wasm_and_args(&self) -> (PathBuf, Vec<String>) {
        let (wasm, args) = self
            .command
            .split_first()
            .map_or((String::new(), &[][..]), |(w, a)| (w.clone(), a));
        (PathBuf::from(wasm), args.to_vec())
    }
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The module to compile.
    pub input: PathBuf,
    /// Where to write the universal wasm file.
    pub output: PathBuf,
}
