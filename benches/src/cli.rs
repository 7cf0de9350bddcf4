//! The `bench` command line: `infer`, `serve` and `droplet`, as a clap [`BenchCommand`] and
//! [`run`], for the `nnedge-bench` binary and for embedding as `nnedge bench`. stdout carries
//! the Markdown report; `--out DIR` also writes it with JSON, CSV and SVG; progress and logs
//! go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

pub use crate::droplet::DropletArgs;
use crate::environment;
use crate::infer::{self, InferSettings, WasmRunner};
use crate::report;
use crate::serve::{self, ServeSettings};

/// Benchmarks: inference speed (Wasm vs native) and serving load.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Prompt processing and generation tokens/s through a Wasm guest and natively
    /// (llama-bench style, interleaved), with model load time and peak RSS.
    Infer(InferArgs),
    /// Load an OpenAI-compatible endpoint with streaming chat requests at several
    /// concurrency levels; reports TTFT, tokens/s, latency percentiles and errors.
    Serve(ServeArgs),
    /// For each DigitalOcean droplet size in turn: deploy a node, wait for its /health,
    /// run `bench serve` against it, delete it; reports cost per million generated tokens.
    Droplet(Box<DropletArgs>),
    /// Aggregate generation tokens/s when N sequences decode together natively: the ceiling
    /// of the API server's continuous batching on this machine.
    Batched(BatchedArgs),
}

/// Arguments of `bench batched`.
#[derive(Debug, Args)]
pub struct BatchedArgs {
    /// GGUF model file [default: the cache's SmolLM2 Q4_1].
    #[arg(short, long)]
    pub model: Option<PathBuf>,

    /// Sequence counts to measure (comma-separated).
    #[arg(short, long, value_delimiter = ',', default_value = "1,2,4,8",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub sequences: Vec<u32>,

    /// Decode threads.
    #[arg(short, long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: u32,

    /// Rounds timed (tokens per sequence).
    #[arg(short = 'n', long, default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub tg: u32,

    /// Context window per sequence.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(64..))]
    pub ctx_size: u32,

    /// Repetitions per sequence count (interleaved).
    #[arg(short, long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub reps: u64,

    /// Also write batched.{md,json} into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl BatchedArgs {
    /// The settings these arguments ask for, defaults filled in.
    pub fn settings(&self) -> crate::batched::BatchedSettings {
        crate::batched::BatchedSettings {
            model: self
                .model
                .clone()
                .unwrap_or_else(environment::default_model),
            sequences: self.sequences.clone(),
            threads: self.threads,
            tg: self.tg,
            ctx_size: self.ctx_size,
            reps: usize::try_from(self.reps).unwrap_or(usize::MAX),
        }
    }
}

/// Arguments of `bench infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// GGUF model files (comma-separated or repeated) [default: the cache's SmolLM2 Q4_1].
    #[arg(short, long = "model", value_delimiter = ',')]
    pub models: Vec<PathBuf>,

    /// Thread counts to measure (comma-separated).
    #[arg(short, long, value_delimiter = ',', default_value = "2",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Vec<u32>,

    /// Prompt tokens of the pp test.
    #[arg(short, long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub pp: u32,

    /// Generated tokens of the tg test.
    #[arg(short = 'n', long, default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub tg: u32,

    /// Runs per backend.
    #[arg(short, long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub reps: u64,

    /// Context window in tokens (must hold the pp prompt and the tg run).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(16..))]
    pub ctx_size: u32,

    /// Logical and physical batch size.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,

    /// The nnedge binary that runs the guest [default: the cache's release build].
    #[arg(long, env = "NNEDGE_BIN")]
    pub nnedge: Option<PathBuf>,

    /// The llama-bench guest [default: llama-bench.wasm in the guest directory].
    #[arg(long)]
    pub guest: Option<PathBuf>,

    /// Run the guest in WasmEdge's interpreter instead of its cached AOT build.
    #[arg(long)]
    pub force_interpreter: bool,

    /// Also write infer.{md,json,csv,svg} into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Arguments of `bench serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The server, e.g. http://127.0.0.1:8080 (the path defaults to /v1/chat/completions).
    #[arg(long)]
    pub url: String,

    /// What to send, how often, for how long.
    #[command(flatten)]
    pub load: LoadArgs,

    /// API key sent as a bearer token.
    #[arg(long, env = "NNEDGE_BENCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Also write serve.{md,json,csv,svg} into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The load `bench serve` and `bench droplet` put on a server: requests, concurrency
/// levels and limits.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The `model` field of the requests.
    #[arg(long, default_value = "default")]
    pub model: String,

    /// Concurrent streams per level (comma-separated).
    #[arg(short, long, value_delimiter = ',', default_value = "1,2,4,8",
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: Vec<u64>,

    /// Requests per concurrent stream in each level.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub requests_per_stream: u64,

    /// `max_tokens` of each request.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: u32,

    /// Stop starting requests in a level after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    pub level_seconds: f64,

    /// Give up on one request after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
}

impl InferArgs {
    /// The settings these arguments ask for, defaults filled in.
    pub fn settings(&self) -> InferSettings {
        let models = if self.models.is_empty() {
            vec![environment::default_model()]
        } else {
            self.models.clone()
        };
        InferSettings {
            models,
            threads: self.threads.clone(),
            pp: self.pp,
            tg: self.tg,
            reps: usize::try_from(self.reps).unwrap_or(usize::MAX),
            ctx_size: self.ctx_size,
            batch_size: self.batch_size,
            interpreter: self.force_interpreter,
        }
    }
}

impl ServeArgs {
    /// The settings these arguments ask for.
    pub fn settings(&self) -> ServeSettings {
        self.load.settings(&self.url)
    }
}

impl LoadArgs {
    /// The settings of a load on the server at `url`.
    pub fn settings(&self, url: &str) -> ServeSettings {
        ServeSettings {
            url: url.to_owned(),
            model: self.model.clone(),
            concurrency: self
                .concurrency
                .iter()
                .map(|&c| usize::try_from(c).unwrap_or(1))
                .collect(),
            requests_per_stream: usize::try_from(self.requests_per_stream).unwrap_or(1),
            level_seconds: self.level_seconds.max(0.0),
            request_timeout_seconds: self.timeout.max(0.001),
            max_tokens: self.max_tokens,
        }
    }
}

/// Runs a `bench` command.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Infer(args) => {
            let nnedge = args
                .nnedge
                .clone()
                .unwrap_or_else(environment::default_nnedge);
            let guest = args
                .guest
                .clone()
                .unwrap_or_else(|| environment::guest_dir().join("llama-bench.wasm"));
            let runner = WasmRunner {
                nnedge: &nnedge,
                guest: &guest,
                interpreter: args.force_interpreter,
            };
            let report = infer::run(&args.settings(), &runner).context("bench infer failed")?;
            print!("{}", report::infer_markdown(&report));
            if let Some(dir) = &args.out {
                report::write_infer(dir, &report).with_context(|| {
                    format!("failed to write the report to `{}`", dir.display())
                })?;
            }
        }
        BenchCommand::Droplet(args) => crate::droplet::run_blocking(&args)?,
        BenchCommand::Batched(args) => {
            let report = crate::batched::run(&args.settings()).context("bench batched failed")?;
            print!("{}", crate::batched::markdown(&report));
            if let Some(dir) = &args.out {
                crate::batched::write(dir, &report).with_context(|| {
                    format!("failed to write the report to `{}`", dir.display())
                })?;
            }
        }
        BenchCommand::Serve(args) => {
            let report = serve::run(&args.settings(), args.api_key.as_deref())?;
            print!("{}", report::serve_markdown(&report));
            if let Some(dir) = &args.out {
                report::write_serve(dir, &report).with_context(|| {
                    format!("failed to write the report to `{}`", dir.display())
                })?;
            }
            if let Some((concurrency, error)) = report.all_failed() {
                anyhow::bail!(
                    "every request failed at concurrency {concurrency} ({error}); check --url, \
                     --model and the API key"
                );
            }
        }
    }
    Ok(())
}
