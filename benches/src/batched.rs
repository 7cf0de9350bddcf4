//! `bench batched`: how much generation speeds up when several sequences decode together,
//! natively through llama-cpp-2 (in the spirit of llama.cpp's `llama-batched-bench`).
//!
//! This is the ceiling of continuous batching on a machine: the API server's `--parallel`
//! slots decode their next tokens in one llama.cpp batch, so its aggregate tokens/s at N
//! streams can at best approach what N sequences reach here. For each sequence count N and
//! repetition, one context with N sequences (each with its own KV cache, as the server uses)
//! decodes a short prompt per sequence, then `tg` rounds in which every sequence gets one
//! token, with logits for each (as sampling needs). Only the rounds are timed; the tokens fed
//! back are fixed, so the work does not depend on what the model would sample.

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;

use crate::environment::{load_average, quantisation_of, Versions};
use crate::infer::native::native;
use crate::infer::{InferError, TG_PROMPT};
use crate::machine::Machine;
use crate::stats::Summary;

/// What `bench batched` measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchedSettings {
    /// The GGUF model.
    pub model: PathBuf,
    /// Sequence counts to measure.
    pub sequences: Vec<u32>,
    /// Decode threads.
    pub threads: u32,
    /// Rounds (tokens per sequence) timed.
    pub tg: u32,
    /// Context window per sequence.
    pub ctx_size: u32,
    /// Repetitions per sequence count.
    pub reps: usize,
}

/// One sequence count's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchedResult {
    /// Sequences decoded together.
    pub sequences: u32,
    /// Tokens/s over all sequences, per repetition summarised.
    pub aggregate_tps: Option<Summary>,
    /// Mean aggregate over the mean of one sequence (1.0 for one sequence).
    pub speedup: Option<f64>,
}

/// Everything `bench batched` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchedReport {
    /// Where it ran.
    pub machine: Machine,
    /// Versions that shape the figures.
    pub versions: Versions,
    /// 1-minute load average before and after.
    pub load_average: [Option<f64>; 2],
    /// The model's quantisation, from its file name.
    pub quantisation: String,
    /// What was measured.
    pub settings: BatchedSettings,
    /// One entry per sequence count.
    pub results: Vec<BatchedResult>,
}

/// Measures every sequence count of `settings`, repetitions interleaved across the counts so
/// machine drift hits all of them alike.
pub fn run(settings: &BatchedSettings) -> Result<BatchedReport, InferError> {
    let before = load_average();
    let backend = nnedge_wasi_nn_ggml::backend::backend().ok_or(InferError::Backend)?;
    let model = LlamaModel::load_from_file(
        backend,
        &settings.model,
        &LlamaModelParams::default().with_use_mmap(true),
    )
    .map_err(native("load the model"))?;

    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); settings.sequences.len()];
    for _ in 0..settings.reps {
        for (i, &n) in settings.sequences.iter().enumerate() {
            samples[i].push(aggregate_tps(&model, settings, n)?);
        }
    }
    let single = settings
        .sequences
        .iter()
        .position(|&n| n == 1)
        .and_then(|i| Summary::of(&samples[i]))
        .map(|s| s.mean);
    let results = settings
        .sequences
        .iter()
        .zip(&samples)
        .map(|(&sequences, samples)| {
            let aggregate_tps = Summary::of(samples);
            BatchedResult {
                sequences,
                aggregate_tps,
                speedup: aggregate_tps.zip(single).map(|(s, one)| s.mean / one),
            }
        })
        .collect();
    Ok(BatchedReport {
        machine: Machine::detect(),
        versions: Versions::detect(None),
        load_average: [before, load_average()],
        quantisation: quantisation_of(&settings.model),
        settings: settings.clone(),
        results,
    })
}

/// One timed run with `n` sequences: tokens over all sequences per second.
fn aggregate_tps(
    model: &LlamaModel,
    settings: &BatchedSettings,
    n: u32,
) -> Result<f64, InferError> {
    let backend = nnedge_wasi_nn_ggml::backend::backend().ok_or(InferError::Backend)?;
    let threads = i32::try_from(settings.threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(settings.ctx_size.saturating_mul(n)))
        .with_n_seq_max(n)
        .with_kv_unified(false)
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = model
        .new_context(backend, params)
        .map_err(native("create a context"))?;
    let prompt = model.vocab().tokenize(TG_PROMPT.as_bytes(), true, true);
    let seqs = i32::try_from(n).unwrap_or(i32::MAX);
    let capacity = (prompt.len() * n as usize).max(n as usize);
    let mut batch = LlamaBatch::new(capacity, 1);
    for seq in 0..seqs {
        for (position, token) in (0..).zip(&prompt) {
            batch
                .add(*token, position, &[seq], false)
                .map_err(native("fill the batch"))?;
        }
    }
    context
        .decode(&mut batch)
        .map_err(native("decode the prompts"))?;

    let first = i32::try_from(prompt.len()).unwrap_or(i32::MAX);
    // A fixed token fed back each round: the same work whatever the model would sample.
    let fed = prompt.last().copied().unwrap_or(LlamaToken(0));
    let start = Instant::now();
    for round in 0..i32::try_from(settings.tg).unwrap_or(i32::MAX) {
        batch.clear();
        for seq in 0..seqs {
            batch
                .add(fed, first + round, &[seq], true)
                .map_err(native("fill the batch"))?;
        }
        context
            .decode(&mut batch)
            .map_err(native("decode a round"))?;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(f64::from(settings.tg) * f64::from(n) / seconds.max(f64::EPSILON))
}

/// The report as Markdown.
pub fn markdown(report: &BatchedReport) -> String {
    let s = &report.settings;
    let mut out = String::from("## nnedge bench batched\n\n");
    crate::report::environment_lines(
        &mut out,
        &report.machine,
        &report.versions,
        report.load_average,
    );
    let _ = writeln!(
        out,
        "- model: {} ({}), {} threads, {} rounds, ctx {} per sequence, {} repetitions\n",
        s.model.display(),
        report.quantisation,
        s.threads,
        s.tg,
        s.ctx_size,
        s.reps
    );
    out.push_str("| sequences | aggregate t/s | t/s per sequence | speed-up vs 1 |\n");
    out.push_str("|---|---|---|---|\n");
    for result in &report.results {
        let (aggregate, per_sequence) = result.aggregate_tps.map_or_else(
            || ("-".to_owned(), "-".to_owned()),
            |a| {
                (
                    format!("{:.1} ± {:.1}", a.mean, a.stddev),
                    format!("{:.1}", a.mean / f64::from(result.sequences)),
                )
            },
        );
        let speedup = result
            .speedup
            .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x"));
        let _ = writeln!(
            out,
            "| {} | {aggregate} | {per_sequence} | {speedup} |",
            result.sequences
        );
    }
    out
}

/// Writes `batched.md` and `batched.json` into `dir`.
pub fn write(dir: &Path, report: &BatchedReport) -> anyhow::Result<Vec<PathBuf>> {
    fs_err::create_dir_all(dir)?;
    let md = dir.join("batched.md");
    let json = dir.join("batched.json");
    fs_err::write(&md, markdown(report))?;
    fs_err::write(&json, serde_json::to_string_pretty(report)?)?;
    Ok(vec![md, json])
}
