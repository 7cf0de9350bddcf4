//! `bench infer`: llama-bench-style prompt processing (pp) and generation (tg) speed through
//! a Wasm guest in `nnedge run` and through llama-cpp-2 directly, on the same model, threads
//! and context, interleaved so machine drift hits both.
//!
//! Each repetition is one fresh run per backend — load the model, warm up, time one pp and
//! one tg — in alternating order (Wasm first on even repetitions, native first on odd ones).
//! Tokens/s is tokens over time per run; the report gives mean ± sample standard deviation
//! over the repetitions, the model load time and the peak RSS of the measuring process.
//! [`wasm`] and [`native`] say exactly what each timed region covers.

pub mod native;
pub mod rss;
pub mod wasm;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::environment::{load_average, quantisation_of, Versions};
use crate::machine::Machine;
use crate::stats::Summary;
pub use wasm::WasmRunner;

/// The prompt generation starts from: a count the model continues, so greedy decoding keeps
/// producing tokens well past 128 instead of ending its answer.
pub const TG_PROMPT: &str = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,";

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// llama.cpp's backend could not be initialised in this process.
    #[error("the llama.cpp backend could not be initialised")]
    Backend,
    /// A llama-cpp-2 call failed.
    #[error("failed to {action}: {reason}")]
    Native {
        /// What was being done.
        action: &'static str,
        /// llama-cpp-2's message.
        reason: String,
    },
    /// A program could not be started or waited for.
    #[error("failed to run `{}`: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The guest run failed or printed no result.
    #[error("the llama-bench guest failed ({status}); its last log lines:\n{stderr}")]
    Guest {
        /// The process's exit status.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The model ended its answer before the first generated token.
    #[error("the model ended its answer at once; generation cannot be timed")]
    EndedEarly,
    /// No prompt of the asked size could be built from the model's vocabulary.
    #[error("could not build a prompt of {wanted} tokens (closest: {got}); try another size")]
    PromptSize {
        /// Tokens asked for.
        wanted: usize,
        /// Tokens of the last attempt.
        got: usize,
    },
    /// A file the benchmark needs does not exist.
    #[error("{what} `{}` does not exist; {hint}", path.display())]
    MissingFile {
        /// What the file is.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// How to get it.
        hint: &'static str,
    },
}

/// What `bench infer` measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferSettings {
    /// Model files.
    pub models: Vec<PathBuf>,
    /// Thread counts, each measured in turn.
    pub threads: Vec<u32>,
    /// Prompt tokens of the pp test.
    pub pp: u32,
    /// Generated tokens of the tg test.
    pub tg: u32,
    /// Repetitions per backend.
    pub reps: usize,
    /// Context window in tokens.
    pub ctx_size: u32,
    /// Logical and physical batch size.
    pub batch_size: u32,
    /// Whether the guest ran in WasmEdge's interpreter (otherwise its cached AOT build).
    pub interpreter: bool,
}

/// One run's inputs, shared by both backends.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The pp prompt (exactly `pp` tokens).
    pub pp_prompt: String,
    /// The prompt tg starts from.
    pub tg_prompt: String,
    /// Tokens to generate.
    pub tg: u32,
    /// Threads.
    pub threads: u32,
    /// Context window.
    pub ctx_size: u32,
    /// Batch size.
    pub batch_size: u32,
}

/// One run's measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunSample {
    /// Model load time.
    pub load_ms: f64,
    /// Prompt tokens processed.
    pub pp_tokens: u64,
    /// Time to process them.
    pub pp_ms: f64,
    /// Tokens generated in the timed region.
    pub tg_tokens: u64,
    /// Time to generate them.
    pub tg_ms: f64,
    /// Peak RSS of the measuring process.
    pub peak_rss_kib: u64,
}

/// Which path ran the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The llama-bench guest in `nnedge run`, through WASI-NN.
    Wasm,
    /// llama-cpp-2 called directly.
    Native,
}

impl Backend {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wasm => "wasm",
            Self::Native => "native",
        }
    }
}

/// A model as reports describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// File name.
    pub file: String,
    /// Quantisation, from the file name.
    pub quantisation: String,
    /// Size of the weights in bytes.
    pub size_bytes: u64,
    /// Parameters.
    pub params: u64,
}

impl ModelInfo {
    /// Describes the model file at `path`.
    pub fn new(path: &Path, size_bytes: u64, params: u64) -> Self {
        Self {
            file: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            ),
            quantisation: quantisation_of(path),
            size_bytes,
            params,
        }
    }
}

/// All runs of one model, backend and thread count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferResult {
    /// The model's file name.
    pub model: String,
    /// The path measured.
    pub backend: Backend,
    /// Threads.
    pub threads: u32,
    /// Every run, in order.
    pub runs: Vec<RunSample>,
}

impl InferResult {
    /// Prompt processing tokens/s over the runs.
    pub fn pp_tps(&self) -> Option<Summary> {
        Summary::of(&rates(&self.runs, |r| (r.pp_tokens, r.pp_ms)))
    }

    /// Generation tokens/s over the runs.
    pub fn tg_tps(&self) -> Option<Summary> {
        Summary::of(&rates(&self.runs, |r| (r.tg_tokens, r.tg_ms)))
    }

    /// Model load time over the runs.
    pub fn load_ms(&self) -> Option<Summary> {
        Summary::of(&self.runs.iter().map(|r| r.load_ms).collect::<Vec<_>>())
    }

    /// The largest peak RSS of any run, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let kib = self.runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
        kib as f64 / 1024.0
    }
}

fn rates(runs: &[RunSample], pick: impl Fn(&RunSample) -> (u64, f64)) -> Vec<f64> {
    runs.iter()
        .map(pick)
        .filter(|(_, ms)| *ms > 0.0)
        .map(|(tokens, ms)| tokens as f64 * 1000.0 / ms)
        .collect()
}

/// Everything `bench infer` measured, with what it was measured on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InferReport {
    /// The machine.
    pub machine: Machine,
    /// Versions of nnedge, WasmEdge and llama.cpp.
    pub versions: Versions,
    /// llama.cpp's CPU feature line.
    pub llama_system_info: String,
    /// The 1-minute load average before and after the runs.
    pub load_average: [Option<f64>; 2],
    /// What was asked for.
    pub settings: InferSettings,
    /// The models measured.
    pub models: Vec<ModelInfo>,
    /// One entry per model, thread count and backend.
    pub results: Vec<InferResult>,
}

/// Runs `settings` through `runner` and natively, interleaved.
pub fn run(settings: &InferSettings, runner: &WasmRunner<'_>) -> Result<InferReport, InferError> {
    for (what, path, hint) in [
        (
            "the nnedge binary",
            runner.nnedge,
            "build it with `cargo xtask build`",
        ),
        (
            "the guest",
            runner.guest,
            "build it with `cargo xtask guests`",
        ),
    ] {
        if !path.exists() {
            return Err(InferError::MissingFile {
                what,
                path: path.to_owned(),
                hint,
            });
        }
    }
    let mut report = InferReport {
        machine: Machine::detect(),
        versions: Versions::detect(Some(runner.nnedge)),
        llama_system_info: String::new(),
        load_average: [load_average(), None],
        settings: settings.clone(),
        models: Vec::new(),
        results: Vec::new(),
    };
    for model in &settings.models {
        if !model.exists() {
            return Err(InferError::MissingFile {
                what: "the model",
                path: model.clone(),
                hint: "fetch the default one with `nnedge model pull`",
            });
        }
        report.models.push(native::describe(model)?);
        let pp_prompt = native::pp_prompt(model, settings.pp)?;
        for &threads in &settings.threads {
            let plan = RunPlan {
                pp_prompt: pp_prompt.clone(),
                tg_prompt: TG_PROMPT.to_owned(),
                tg: settings.tg,
                threads,
                ctx_size: settings.ctx_size,
                batch_size: settings.batch_size,
            };
            report
                .results
                .extend(measure(model, &plan, settings.reps, runner)?);
        }
    }
    report.llama_system_info = nnedge_wasi_nn_ggml::backend::system_info();
    report.load_average[1] = load_average();
    Ok(report)
}

/// `reps` interleaved runs of each backend on one model and thread count.
fn measure(
    model: &Path,
    plan: &RunPlan,
    reps: usize,
    runner: &WasmRunner<'_>,
) -> Result<[InferResult; 2], InferError> {
    // An untimed guest run first: it fills the AOT cache and the page cache.
    runner.run(model, plan)?;

    let file = ModelInfo::new(model, 0, 0).file;
    let mut results = [Backend::Wasm, Backend::Native].map(|backend| InferResult {
        model: file.clone(),
        backend,
        threads: plan.threads,
        runs: Vec::new(),
    });
    for rep in 0..reps {
        let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            let sample = match results[index].backend {
                Backend::Wasm => runner.run(model, plan)?,
                Backend::Native => native::run(model, plan)?,
            };
            progress(&results[index], rep, &sample);
            results[index].runs.push(sample);
        }
    }
    Ok(results)
}

/// One line per run on stderr, when it is a terminal.
fn progress(result: &InferResult, rep: usize, sample: &RunSample) {
    tracing::debug!(
        backend = result.backend.name(),
        rep,
        ?sample,
        "run measured"
    );
    if std::io::stderr().is_terminal() {
        eprintln!(
            "{} t{} rep {}: pp {} tok in {:.1} ms, tg {} tok in {:.1} ms",
            result.backend.name(),
            result.threads,
            rep + 1,
            sample.pp_tokens,
            sample.pp_ms,
            sample.tg_tokens,
            sample.tg_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pp_ms: f64, tg_ms: f64, rss: u64) -> RunSample {
        RunSample {
            load_ms: 100.0,
            pp_tokens: 512,
            pp_ms,
            tg_tokens: 128,
            tg_ms,
            peak_rss_kib: rss,
        }
    }

    #[test]
    fn rates_are_tokens_over_seconds_per_run() {
        let result = InferResult {
            model: "m.gguf".into(),
            backend: Backend::Native,
            threads: 2,
            runs: vec![sample(512.0, 1000.0, 2048), sample(256.0, 500.0, 4096)],
        };
        let pp = result.pp_tps().expect("two runs");
        assert_eq!((pp.mean, pp.min), (1500.0, 1000.0));
        let tg = result.tg_tps().expect("two runs");
        assert_eq!((tg.mean, tg.median), (192.0, 192.0));
        assert_eq!(result.peak_rss_mib(), 4.0);
    }
}
