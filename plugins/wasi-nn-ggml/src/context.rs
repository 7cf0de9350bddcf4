//! Execution contexts: a prompt, options, a llama.cpp context of their own, and outputs.
//!
//! `compute` runs a whole generation (or one embedding); `compute_single` runs the same
//! generation one token per call, and `get_output_single` returns the text that call
//! released. Both paths use [`Generation`], so a stream's pieces concatenate to exactly the
//! text `compute` produces.

use std::io::Write;
use std::sync::Arc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::abi::NnErrno;
use crate::backend::{LLAMA_BUILD_NUMBER, LLAMA_COMMIT};
use crate::config::{Options, PredictLimit};
use crate::error::NnError;
use crate::generation::{Finish, Generation};
use crate::graph::{Graph, LoadedModel};
use crate::session::{Session, SessionParams};

/// A `compute_single` stream in progress.
#[derive(Debug)]
struct Stream {
    generation: Generation,
    /// Batch index of the logits the next step samples from.
    logits_index: i32,
    /// Once the stream has ended: the code every further `compute_single` returns.
    ended: Option<NnErrno>,
}

/// One execution context of a graph.
#[derive(Debug)]
pub struct ExecutionContext {
    model: Arc<LoadedModel>,
    options: Options,
    session: Option<Session>,
    prompt: Vec<LlamaToken>,
    output: Vec<u8>,
    output_tokens: usize,
    stream: Option<Stream>,
    last_piece: Vec<u8>,
}

impl ExecutionContext {
    /// A context starting from the graph's model and options.
    pub fn new(graph: &Graph) -> Self {
        Self {
            model: Arc::clone(&graph.model),
            options: graph.options.clone(),
            session: None,
            prompt: Vec::new(),
            output: Vec::new(),
            output_tokens: 0,
            stream: None,
            last_piece: Vec::new(),
        }
    }

    /// Sets the prompt (input index 0) and ends any stream in progress.
    pub fn set_prompt(&mut self, bytes: &[u8]) -> Result<(), NnError> {
        let text = std::str::from_utf8(bytes).map_err(|error| NnError::PromptNotUtf8 {
            offset: error.valid_up_to(),
        })?;
        self.prompt = self
            .model
            .model
            .vocab()
            .tokenize(text.as_bytes(), true, true);
        self.stream = None;
        tracing::debug!(tokens = self.prompt.len(), "prompt set");
        Ok(())
    }

    /// Applies metadata (input index 1) on top of this context's options.
    pub fn set_metadata(&mut self, bytes: &[u8]) -> Result<(), NnError> {
        let changes = self.options.apply_json(bytes)?;
        if changes.model_keys {
            tracing::debug!("model options apply when a model is first loaded; ignored here");
        }
        Ok(())
    }

    /// The text output (index 0) or the metadata JSON (index 1).
    pub fn output(&self, index: u32) -> Result<Vec<u8>, NnError> {
        match index {
            0 => Ok(self.output.clone()),
            1 => Ok(self.output_metadata()),
            _ => Err(NnError::UnknownOutputIndex { index }),
        }
    }

    /// The piece released by the last `compute_single` (index 0) or the metadata (index 1).
    pub fn output_single(&self, index: u32) -> Result<Vec<u8>, NnError> {
        match index {
            0 => Ok(self.last_piece.clone()),
            1 => Ok(self.output_metadata()),
            _ => Err(NnError::UnknownOutputIndex { index }),
        }
    }

    fn output_metadata(&self) -> Vec<u8> {
        let metadata = serde_json::json!({
            "input_tokens": self.prompt.len(),
            "output_tokens": self.output_tokens,
            "llama_build_number": LLAMA_BUILD_NUMBER,
            "llama_commit": LLAMA_COMMIT,
        });
        metadata.to_string().into_bytes()
    }

    /// Runs a whole generation, or computes the embedding in embedding mode.
    pub fn compute(&mut self) -> Result<NnErrno, NnError> {
        self.stream = None;
        if self.options.embedding {
            return self.compute_embedding();
        }
        let (mut generation, mut index) = self.start_generation()?;
        let result = self.run_to_end(&mut generation, &mut index);
        self.output = generation.text().to_vec();
        self.output_tokens = generation.output_tokens();
        result?;
        Ok(self.finish_code(generation.finish(), NnErrno::Success))
    }

    fn run_to_end(&mut self, generation: &mut Generation, index: &mut i32) -> Result<(), NnError> {
        loop {
            let session = self.session.as_mut().ok_or(NnError::PromptNotSet)?;
            let (model, context) = session.parts();
            let step = generation.step(&model.model, context, *index)?;
            print_piece(self.options.stream_stdout, &step.piece);
            let Some(token) = step.decode else {
                return Ok(());
            };
            decode_token(context, token, generation.n_past())?;
            generation.decoded();
            *index = 0;
        }
    }

    /// Runs one generation step: the first call after `set_input` decodes the prompt too.
    /// Returns 100 (end of sequence) once the generation has ended; the call that ends it
    /// returns success if it still released text, so no text is lost for guests that stop
    /// reading at 100.
    pub fn compute_single(&mut self) -> Result<NnErrno, NnError> {
        if self.options.embedding {
            return Err(NnError::StreamingEmbedding);
        }
        if self.stream.is_none() {
            let (generation, logits_index) = self.start_generation()?;
            self.stream = Some(Stream {
                generation,
                logits_index,
                ended: None,
            });
        }
        self.last_piece.clear();
        let stream = self.stream.as_mut().ok_or(NnError::PromptNotSet)?;
        if let Some(code) = stream.ended {
            return Ok(code);
        }

        let session = self.session.as_mut().ok_or(NnError::PromptNotSet)?;
        let (model, context) = session.parts();
        let step = stream
            .generation
            .step(&model.model, context, stream.logits_index)?;
        if let Some(token) = step.decode {
            decode_token(context, token, stream.generation.n_past())?;
            stream.generation.decoded();
            stream.logits_index = 0;
        }
        self.output = stream.generation.text().to_vec();
        self.output_tokens = stream.generation.output_tokens();
        let finish = step.finish;
        let has_text = !step.piece.is_empty();
        self.last_piece = step.piece;
        print_piece(self.options.stream_stdout, &self.last_piece);

        let Some(finish) = finish else {
            return Ok(NnErrno::Success);
        };
        let code = self.finish_code(Some(finish), NnErrno::EndOfSequence);
        if let Some(stream) = self.stream.as_mut() {
            stream.ended = Some(code);
        }
        Ok(if has_text { NnErrno::Success } else { code })
    }

    /// Ends a stream: clears its output and KV cache so the context can start afresh.
    pub fn fini_single(&mut self) {
        self.stream = None;
        self.output.clear();
        self.output_tokens = 0;
        self.last_piece.clear();
        if let Some(session) = self.session.as_mut() {
            session.context().clear_kv_cache();
        }
    }

    /// The code a finished generation reports: `normal` for an ordinary end, 101 when the
    /// context filled up unless `n-predict` = -2 asked for exactly that.
    fn finish_code(&self, finish: Option<Finish>, normal: NnErrno) -> NnErrno {
        match finish {
            Some(Finish::ContextFull)
                if self.options.n_predict != PredictLimit::UntilContextFull =>
            {
                NnErrno::ContextFull
            }
            _ => normal,
        }
    }

    /// Prepares the llama.cpp context and decodes the prompt; returns the generation and the
    /// batch index of the logits to sample from first.
    fn start_generation(&mut self) -> Result<(Generation, i32), NnError> {
        self.output.clear();
        self.output_tokens = 0;
        self.last_piece.clear();
        if self.prompt.is_empty() {
            return Err(NnError::PromptNotSet);
        }
        let params = self.session_params(false);
        let limit = usize::try_from(params.n_ctx.saturating_sub(1)).unwrap_or(usize::MAX);
        if self.prompt.len() > limit {
            let tokens = self.prompt.len();
            return Err(NnError::PromptTooLong {
                tokens,
                limit,
                key: "ctx-size",
            });
        }

        let session = session_for(&mut self.session, &self.model, params)?;
        session.context().clear_kv_cache();
        let index = decode_prompt(session.context(), &self.prompt, params.n_batch)?;
        let n_past = u32::try_from(self.prompt.len()).unwrap_or(u32::MAX);
        let generation = Generation::new(&self.model.model, &self.options, n_past, params.n_ctx)?;
        Ok((generation, index))
    }

    fn compute_embedding(&mut self) -> Result<NnErrno, NnError> {
        self.output.clear();
        self.output_tokens = 0;
        if self.prompt.is_empty() {
            return Err(NnError::PromptNotSet);
        }
        let params = self.session_params(true);
        let tokens = self.prompt.len();
        if tokens > params.n_ctx as usize {
            return Err(NnError::PromptTooLong {
                tokens,
                limit: params.n_ctx as usize,
                key: "ctx-size",
            });
        }
        if tokens > params.n_batch as usize {
            return Err(NnError::PromptTooLong {
                tokens,
                limit: params.n_batch as usize,
                key: "batch-size",
            });
        }

        let session = session_for(&mut self.session, &self.model, params)?;
        let context = session.context();
        context.clear_kv_cache();
        let mut batch = LlamaBatch::new(tokens, 1);
        batch
            .add_sequence(&self.prompt, 0, true)
            .map_err(runtime("fill the batch"))?;
        context
            .decode(&mut batch)
            .map_err(runtime("decode the input"))?;
        let last = i32::try_from(tokens - 1).unwrap_or(i32::MAX);
        let embedding = match context.embeddings_seq_ith(0) {
            Ok(embedding) => embedding.to_vec(),
            Err(_) => context
                .embeddings_ith(last)
                .map_err(runtime("read the embedding"))?
                .to_vec(),
        };
        context.clear_kv_cache();

        let embedding = normalize(&embedding);
        let output = serde_json::json!({ "n_embedding": embedding.len(), "embedding": embedding });
        self.output = output.to_string().into_bytes();
        Ok(NnErrno::Success)
    }

    /// The llama.cpp context parameters the options ask for.
    fn session_params(&self, embedding: bool) -> SessionParams {
        let n_ctx_train = self.model.model.n_ctx_train();
        let mut n_ctx = match self.options.ctx_size {
            0 => n_ctx_train,
            n => n,
        };
        if embedding {
            // Encoders have absolute positions: nothing beyond the training context exists.
            n_ctx = n_ctx.min(n_ctx_train.max(1));
        }
        let n_batch = self.options.batch_size.min(n_ctx).max(1);
        let n_ubatch = if embedding {
            n_batch
        } else {
            self.options.ubatch_size.min(n_batch)
        };
        SessionParams {
            n_ctx,
            n_batch,
            n_ubatch,
            threads: self.options.threads,
            embedding,
        }
    }
}

/// The llama.cpp context in `slot`, created or re-created for `params`.
fn session_for<'a>(
    slot: &'a mut Option<Session>,
    model: &Arc<LoadedModel>,
    params: SessionParams,
) -> Result<&'a mut Session, NnError> {
    if slot.as_ref().is_some_and(|s| s.params() != params) {
        tracing::debug!("context parameters changed; re-creating the llama.cpp context");
        *slot = None;
    }
    match slot {
        Some(session) => Ok(session),
        empty => Ok(empty.insert(Session::new(Arc::clone(model), params)?)),
    }
}

/// Prints a piece to the host's stdout when the guest asked for `stream-stdout`.
fn print_piece(enabled: bool, piece: &[u8]) {
    if enabled && !piece.is_empty() {
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout.write_all(piece).and_then(|()| stdout.flush()) {
            tracing::debug!(%error, "stream-stdout: could not write to stdout");
        }
    }
}

/// Decodes `tokens` from position 0 in chunks of `n_batch`; returns the batch index of the
/// last token's logits.
fn decode_prompt(
    context: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    n_batch: u32,
) -> Result<i32, NnError> {
    let chunk_size = usize::try_from(n_batch).unwrap_or(usize::MAX).max(1);
    let mut batch = LlamaBatch::new(chunk_size, 1);
    let mut last_index = 0;
    for (chunk_number, chunk) in tokens.chunks(chunk_size).enumerate() {
        batch.clear();
        let first = chunk_number * chunk_size;
        for (offset, token) in chunk.iter().enumerate() {
            let position = i32::try_from(first + offset).unwrap_or(i32::MAX);
            let is_last = first + offset + 1 == tokens.len();
            batch
                .add(*token, position, &[0], is_last)
                .map_err(runtime("fill the batch"))?;
        }
        context
            .decode(&mut batch)
            .map_err(runtime("decode the prompt"))?;
        last_index = i32::try_from(chunk.len() - 1).unwrap_or(0);
    }
    Ok(last_index)
}

/// Decodes one sampled token at `position`.
fn decode_token(
    context: &mut LlamaContext<'_>,
    token: LlamaToken,
    position: u32,
) -> Result<(), NnError> {
    let mut batch = LlamaBatch::new(1, 1);
    let position = i32::try_from(position).unwrap_or(i32::MAX);
    batch
        .add(token, position, &[0], true)
        .map_err(runtime("fill the batch"))?;
    context
        .decode(&mut batch)
        .map_err(runtime("decode a token"))
}

fn runtime<E: std::fmt::Display>(action: &'static str) -> impl Fn(E) -> NnError {
    move |error| NnError::Runtime {
        action,
        reason: error.to_string(),
    }
}

/// The vector scaled to unit length (as WasmEdge's plugin and sentence-transformers do).
fn normalize(vector: &[f32]) -> Vec<f32> {
    let norm = vector
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return vector.to_vec();
    }
    #[expect(clippy::cast_possible_truncation, reason = "embeddings are f32")]
    vector
        .iter()
        .map(|x| (f64::from(*x) / norm) as f32)
        .collect()
}
