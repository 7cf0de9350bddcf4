//! llama-bench: times prompt processing (pp) and generation (tg) through WASI-NN GGML, for
//! `nnedge bench infer`, which compares the figures with direct llama.cpp on the same model.
//!
//! ```text
//! nnedge run --nn-preload default:GGML:AUTO:model.gguf llama-bench.wasm \
//!     --pp-prompt "TEXT OF N TOKENS" --tg-prompt "1, 2, 3," --tg 128 --threads 2 [--hold]
//! ```
//!
//! Steps, timed with the guest's monotonic clock (WASI `clock_time_get`, i.e. the host's):
//! 1. load: `load_by_name_with_config`, which loads the preloaded model (the host loads it
//!    lazily, on this first call) — the model load time;
//! 2. warm-up: one untimed pp and a two-token tg, so the llama.cpp context exists and the
//!    caches are warm, as llama-bench does;
//! 3. pp: `compute` with `n-predict` 0 on the pp prompt: the KV cache is cleared and the
//!    prompt decoded in batches; tokenisation happens in `set_input`, outside the timing;
//! 4. tg: `compute_single` once (prefill of the short tg prompt and the first token), then
//!    `--tg` timed calls of `compute_single` + `get_output_single`, each sampling one token
//!    greedily and decoding it — a streaming client's per-token path.
//!
//! stdout gets one JSON line: `{"load_ms","pp":{"tokens","ms"},"tg":{"tokens","ms"}}`, with
//! the token counts the host reports (pp) or the calls that produced a token (tg; fewer than
//! `--tg` only if the model ended its answer). With `--hold` the guest then reads stdin to
//! its end before exiting, so the caller can read the process's peak RSS while it still
//! exists. Exit codes: 0 success, 1 a WASI-NN call failed, 2 bad arguments.

use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use serde_json::{json, Value};
use wasmedge_wasi_nn::{
    BackendError, Error as NnError, ExecutionTarget, GraphBuilder, GraphEncoding,
    GraphExecutionContext, TensorType,
};

/// Times prompt processing and generation of a preloaded model through WASI-NN.
#[derive(Debug, Parser)]
#[command(name = "llama-bench", version, about)]
struct Cli {
    /// Alias of the preloaded model.
    #[arg(short = 'a', long, default_value = "default")]
    model_alias: String,

    /// The prompt whose processing is timed (its length in tokens is the pp size).
    #[arg(long)]
    pp_prompt: String,

    /// The prompt generation starts from.
    #[arg(long)]
    tg_prompt: String,

    /// Tokens to generate in the timed tg run.
    #[arg(long, default_value_t = 128)]
    tg: u32,

    /// Threads the host uses.
    #[arg(long, default_value_t = 2)]
    threads: u32,

    /// Context window in tokens.
    #[arg(long, default_value_t = 1024)]
    ctx_size: u32,

    /// Logical and physical batch size for prompt processing.
    #[arg(long, default_value_t = 512)]
    batch_size: u32,

    /// After printing the result, wait for stdin to close before exiting.
    #[arg(long)]
    hold: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(result) => {
            println!("{result}");
            if cli.hold {
                // Any read error also means the caller is gone: exit either way.
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("llama-bench: error: {err}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<Value, String> {
    // Greedy sampling, so the guest and native llama.cpp generate the same tokens.
    let config = json!({
        "ctx-size": cli.ctx_size,
        "batch-size": cli.batch_size,
        "ubatch-size": cli.batch_size,
        "threads": cli.threads,
        "temp": 0.0,
        "n-predict": 0,
    });
    let start = Instant::now();
    let graph = GraphBuilder::new(GraphEncoding::Ggml, ExecutionTarget::CPU)
        .config(config.to_string())
        .build_from_cache(&cli.model_alias)
        .map_err(|e| format!("failed to load model `{}`: {e}", cli.model_alias))?;
    let load_ms = elapsed_ms(start);
    let mut context = graph
        .init_execution_context()
        .map_err(|e| format!("init_execution_context: {e}"))?;

    prompt_processing(&mut context, &cli.pp_prompt)?;
    generation(&mut context, &cli.tg_prompt, 2)?;
    let (pp_tokens, pp_ms) = prompt_processing(&mut context, &cli.pp_prompt)?;
    let (tg_tokens, tg_ms) = generation(&mut context, &cli.tg_prompt, cli.tg)?;
    Ok(json!({
        "load_ms": load_ms,
        "pp": { "tokens": pp_tokens, "ms": pp_ms },
        "tg": { "tokens": tg_tokens, "ms": tg_ms },
    }))
}

/// Decodes `prompt` with nothing generated; returns the prompt's tokens and the time taken.
fn prompt_processing(
    context: &mut GraphExecutionContext,
    prompt: &str,
) -> Result<(u64, f64), String> {
    set_metadata(context, &json!({ "n-predict": 0 }))?;
    set_prompt(context, prompt)?;
    let start = Instant::now();
    context.compute().map_err(|e| format!("compute: {e}"))?;
    let ms = elapsed_ms(start);

    let mut buf = vec![0u8; 4096];
    let written = context
        .get_output(1, &mut buf)
        .map_err(|e| format!("get_output(1): {e}"))?;
    let metadata: Value = buf
        .get(..written)
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .ok_or("get_output(1) did not return JSON")?;
    let tokens = metadata["input_tokens"]
        .as_u64()
        .ok_or("the output metadata has no `input_tokens`")?;
    Ok((tokens, ms))
}

/// Prefills `prompt` and its first token untimed, then times `tokens` streamed tokens.
fn generation(
    context: &mut GraphExecutionContext,
    prompt: &str,
    tokens: u32,
) -> Result<(u64, f64), String> {
    // Two more than timed: the first call prefills, and the call that reaches the limit
    // samples without decoding; every timed call then samples and decodes one token.
    set_metadata(context, &json!({ "n-predict": tokens + 2 }))?;
    set_prompt(context, prompt)?;
    let mut piece = vec![0u8; 1024];
    if !next_token(context, &mut piece)? {
        return Err("the model ended its answer before the first token".to_owned());
    }

    let start = Instant::now();
    let mut produced = 0u64;
    while produced < u64::from(tokens) && next_token(context, &mut piece)? {
        produced += 1;
    }
    let ms = elapsed_ms(start);
    context
        .fini_single()
        .map_err(|e| format!("fini_single: {e}"))?;
    Ok((produced, ms))
}

/// One `compute_single` and its `get_output_single`; false once the stream has ended.
fn next_token(context: &mut GraphExecutionContext, piece: &mut [u8]) -> Result<bool, String> {
    match context.compute_single() {
        Ok(()) => {}
        Err(NnError::BackendError(BackendError::EndOfSequence)) => return Ok(false),
        Err(e) => return Err(format!("compute_single: {e}")),
    }
    context
        .get_output_single(0, piece)
        .map_err(|e| format!("get_output_single: {e}"))?;
    Ok(true)
}

fn set_prompt(context: &mut GraphExecutionContext, prompt: &str) -> Result<(), String> {
    context
        .set_input(0, TensorType::U8, &[1], prompt.as_bytes())
        .map_err(|e| format!("set_input(0): {e}"))
}

fn set_metadata(context: &mut GraphExecutionContext, metadata: &Value) -> Result<(), String> {
    context
        .set_input(1, TensorType::U8, &[1], metadata.to_string().as_bytes())
        .map_err(|e| format!("set_input(1): {e}"))
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_required_and_defaults_match_the_host_bench() {
        assert!(Cli::try_parse_from(["llama-bench"]).is_err());
        let cli = Cli::try_parse_from(["llama-bench", "--pp-prompt", "a", "--tg-prompt", "b"])
            .expect("valid arguments");
        assert_eq!((cli.tg, cli.threads, cli.ctx_size), (128, 2, 1024));
        assert!(!cli.hold);
    }
}
