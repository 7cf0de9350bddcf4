//! The native side of `bench infer`: the same model, threads and context driven directly
//! through llama-cpp-2 in this process, as a program using the bindings would.
//!
//! Each run loads the model, creates a context, warms up, then times pp (KV cache cleared,
//! prompt decoded in `batch_size` chunks, logits for the last token only) and tg (prefill of
//! the tg prompt and its first token untimed, then `tg` steps of greedy sampling with
//! llama.cpp's `llama_sampler_sample`, `token_to_piece` and a one-token decode). That is the
//! work the Wasm guest asks the WASI-NN host for, minus the guest and the ABI.

use std::num::NonZeroU32;
use std::path::Path;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;

use super::{rss, InferError, ModelInfo, RunPlan, RunSample};

/// Loads `model` and measures one run of `plan` natively.
pub fn run(model: &Path, plan: &RunPlan) -> Result<RunSample, InferError> {
    let backend = nnedge_wasi_nn_ggml::backend::backend().ok_or(InferError::Backend)?;
    rss::reset_own_peak();

    let start = Instant::now();
    let params = LlamaModelParams::default().with_use_mmap(true);
    let loaded =
        LlamaModel::load_from_file(backend, model, &params).map_err(|e| InferError::Native {
            action: "load the model",
            reason: e.to_string(),
        })?;
    let load_ms = elapsed_ms(start);

    let threads = i32::try_from(plan.threads).unwrap_or(i32::MAX);
    let context_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(plan.ctx_size))
        .with_n_batch(plan.batch_size)
        .with_n_ubatch(plan.batch_size)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut context = loaded
        .new_context(backend, context_params)
        .map_err(native("create a context"))?;

    let pp_tokens = loaded
        .vocab()
        .tokenize(plan.pp_prompt.as_bytes(), true, true);
    prompt_processing(&mut context, &pp_tokens, plan.batch_size)?;
    generation(&loaded, &mut context, plan, 2)?;
    let pp_ms = prompt_processing(&mut context, &pp_tokens, plan.batch_size)?;
    let (tg_tokens, tg_ms) = generation(&loaded, &mut context, plan, plan.tg)?;

    Ok(RunSample {
        load_ms,
        pp_tokens: pp_tokens.len() as u64,
        pp_ms,
        tg_tokens,
        tg_ms,
        peak_rss_kib: rss::own_peak_kib(),
    })
}

/// The size, parameter count and quantisation of `model`, read by loading it once.
pub fn describe(model: &Path) -> Result<ModelInfo, InferError> {
    let backend = nnedge_wasi_nn_ggml::backend::backend().ok_or(InferError::Backend)?;
    let params = LlamaModelParams::default().with_use_mmap(true);
    let loaded =
        LlamaModel::load_from_file(backend, model, &params).map_err(|e| InferError::Native {
            action: "load the model",
            reason: e.to_string(),
        })?;
    Ok(ModelInfo::new(model, loaded.size(), loaded.n_params()))
}

/// A prompt of exactly `tokens` tokens, as the WASI-NN host tokenises it (special tokens
/// added and parsed): common English words, one token each in most vocabularies, adjusted
/// until the count is exact.
pub fn pp_prompt(model: &Path, tokens: u32) -> Result<String, InferError> {
    const WORDS: [&str; 9] = [
        "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
    ];
    let backend = nnedge_wasi_nn_ggml::backend::backend().ok_or(InferError::Backend)?;
    let params = LlamaModelParams::default().with_vocab_only(true);
    let loaded =
        LlamaModel::load_from_file(backend, model, &params).map_err(|e| InferError::Native {
            action: "load the model's vocabulary",
            reason: e.to_string(),
        })?;
    let vocab = loaded.vocab();
    let text = |words: usize| -> String {
        let words: Vec<&str> = WORDS.iter().copied().cycle().take(words).collect();
        words.join(" ")
    };

    let wanted = tokens as usize;
    let mut words = wanted;
    let mut got = 0;
    for _ in 0..32 {
        got = vocab.tokenize(text(words).as_bytes(), true, true).len();
        if got == wanted {
            return Ok(text(words));
        }
        words = (words + wanted).saturating_sub(got).max(1);
    }
    Err(InferError::PromptSize { wanted, got })
}

/// Clears the KV cache and decodes `tokens`; returns the time taken in milliseconds.
fn prompt_processing(
    context: &mut LlamaContext<'_>,
    tokens: &[llama_cpp_2::token::LlamaToken],
    batch_size: u32,
) -> Result<f64, InferError> {
    let chunk_size = usize::try_from(batch_size).unwrap_or(usize::MAX).max(1);
    let mut batch = LlamaBatch::new(chunk_size, 1);
    let start = Instant::now();
    context.clear_kv_cache();
    for (number, chunk) in tokens.chunks(chunk_size).enumerate() {
        batch.clear();
        for (offset, token) in chunk.iter().enumerate() {
            let position = number * chunk_size + offset;
            let last = position + 1 == tokens.len();
            batch
                .add(*token, position as i32, &[0], last)
                .map_err(native("fill the batch"))?;
        }
        context
            .decode(&mut batch)
            .map_err(native("decode the prompt"))?;
    }
    Ok(elapsed_ms(start))
}

/// Prefills the tg prompt and its first token, then times `tokens` sample-and-decode steps;
/// returns the tokens generated (fewer only if the model ended its answer) and the time.
fn generation(
    model: &LlamaModel,
    context: &mut LlamaContext<'_>,
    plan: &RunPlan,
    tokens: u32,
) -> Result<(u64, f64), InferError> {
    let prompt = model
        .vocab()
        .tokenize(plan.tg_prompt.as_bytes(), true, true);
    prompt_processing(context, &prompt, plan.batch_size)?;
    let mut sampler = LlamaSampler::greedy();
    let mut logits_index = prompt.len() as i32 - 1;
    let mut position = prompt.len() as i32;
    let mut batch = LlamaBatch::new(1, 1);
    let mut step = |context: &mut LlamaContext<'_>, index: i32| -> Result<bool, InferError> {
        let token = sampler.sample(context, index);
        if model.vocab().is_eog(token) {
            return Ok(false);
        }
        let _piece = model.vocab().token_to_piece(token, true, None);
        batch.clear();
        batch
            .add(token, position, &[0], true)
            .map_err(native("fill the batch"))?;
        context
            .decode(&mut batch)
            .map_err(native("decode a token"))?;
        position += 1;
        Ok(true)
    };
    if !step(context, logits_index)? {
        return Err(InferError::EndedEarly);
    }
    logits_index = 0;

    let start = Instant::now();
    let mut produced = 0u64;
    while produced < u64::from(tokens) && step(context, logits_index)? {
        produced += 1;
    }
    Ok((produced, elapsed_ms(start)))
}

/// Turns a llama-cpp-2 error into an [`InferError`] saying what was being done.
pub(crate) fn native<E: std::fmt::Display>(action: &'static str) -> impl Fn(E) -> InferError {
    move |error| InferError::Native {
        action,
        reason: error.to_string(),
    }
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
