//! Execution contexts: a prompt, options, a sequence to decode in, and outputs.
//!
//! `compute` runs a whole generation (or one embedding); `compute_single` runs the same
//! generation one token per call, and `get_output_single` returns the text that call
//! released. Both paths use [`Generation`], so a stream's pieces concatenate to exactly the
//! text `compute` produces.
//!
//! A context decodes in a sequence of its graph's shared pool when the graph has one
//! (`parallel` > 1), so that its tokens are batched with the other contexts' (see
//! [`crate::batch`]); otherwise, or when the pool is full or runs other context parameters,
//! in a pool of its own. Either way each context has its own KV cache.

use std::io::Write;
use std::sync::Arc;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::abi::NnErrno;
use crate::backend::{LLAMA_BUILD_NUMBER, LLAMA_COMMIT};
use crate::batch::{Lease, SequencePool};
use crate::config::{Options, PredictLimit};
use crate::error::NnError;
use crate::generation::{Finish, Generation, Step};
use crate::graph::{Graph, LoadedModel};
use crate::session::{Session, SessionParams};

/// Which sequence a generation runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seat {
    /// A sequence of the graph's shared, batched pool.
    Shared,
    /// The context's own pool of one.
    Own,
}

impl Seat {
    /// The lease of this seat among a context's two (the fields are passed apart, so a
    /// caller can hold its stream mutably meanwhile).
    fn lease<'a>(
        self,
        shared: &'a Option<Lease>,
        own: &'a Option<Lease>,
    ) -> Result<&'a Lease, NnError> {
        match self {
            Seat::Shared => shared.as_ref(),
            Seat::Own => own.as_ref(),
        }
        .ok_or(NnError::PromptNotSet)
    }
}

/// A `compute_single` stream in progress.
#[derive(Debug)]
struct Stream {
    generation: Generation,
    seat: Seat,
    /// Once the stream has ended: the code every further `compute_single` returns.
    ended: Option<NnErrno>,
}

/// One execution context of a graph.
#[derive(Debug)]
pub struct ExecutionContext {
    model: Arc<LoadedModel>,
    options: Options,
    /// A sequence of the graph's pool, when it has one with a free sequence.
    shared: Option<Lease>,
    /// A private pool of one, made when needed (no shared sequence, or other parameters).
    own: Option<Lease>,
    /// The llama.cpp context of embedding mode.
    embedding_session: Option<Session>,
    prompt: Vec<LlamaToken>,
    output: Vec<u8>,
    output_tokens: usize,
    stream: Option<Stream>,
    last_piece: Vec<u8>,
}

impl ExecutionContext {
    /// A context starting from the graph's model and options, with a sequence of the
    /// graph's pool if one is free.
    pub fn new(graph: &Graph) -> Self {
        let shared = graph.pool.as_ref().and_then(SequencePool::lease);
        if graph.pool.is_some() && shared.is_none() {
            tracing::debug!(
                parallel = graph.options.parallel,
                "every shared sequence is taken; this context decodes on its own"
            );
        }
        Self {
            model: Arc::clone(&graph.model),
            options: graph.options.clone(),
            shared,
            own: None,
            embedding_session: None,
            prompt: Vec::new(),
            output: Vec::new(),
            output_tokens: 0,
            stream: None,
            last_piece: Vec::new(),
        }
    }

    /// Whether this context runs as a sequence of its graph's shared pool.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Decode counters of the pool this context's sequences live in (shared if any).
    pub fn pool_stats(&self) -> Option<crate::batch::PoolStats> {
        self.shared.as_ref().or(self.own.as_ref()).map(Lease::stats)
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
            tracing::debug!("model and graph options apply when a graph is loaded; ignored here");
        }
        Ok(())
    }

    /// The text output (index 0), the metadata JSON (index 1) or the model's description
    /// (index 2: `{"chat_template", "n_ctx_train", "n_vocab"}` of the model).
    pub fn output(&self, index: u32) -> Result<Vec<u8>, NnError> {
        match index {
            0 => Ok(self.output.clone()),
            1 => Ok(self.output_metadata()),
            2 => Ok(self.model_description()),
            _ => Err(NnError::UnknownOutputIndex { index }),
        }
    }

    /// The piece released by the last `compute_single` (index 0), or indices 1 and 2 as in
    /// [`ExecutionContext::output`].
    pub fn output_single(&self, index: u32) -> Result<Vec<u8>, NnError> {
        match index {
            0 => Ok(self.last_piece.clone()),
            1 => Ok(self.output_metadata()),
            2 => Ok(self.model_description()),
            _ => Err(NnError::UnknownOutputIndex { index }),
        }
    }

    /// nnedge's output index 2: what a guest needs to know about the model before its first
    /// prompt, `{"chat_template", "n_ctx_train", "n_vocab"}`, so a chat guest can follow the
    /// model's own template (`tokenizer.chat_template` from the GGUF; `null` if it has none).
    /// WasmEdge's plugin has no index 2 and answers it with an error.
    fn model_description(&self) -> Vec<u8> {
        let model = &self.model.model;
        let template = model.meta_val_str("tokenizer.chat_template").ok();
        let description = serde_json::json!({
            "chat_template": template,
            "n_ctx_train": model.n_ctx_train(),
            "n_vocab": model.n_vocab(),
        });
        description.to_string().into_bytes()
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
        let (mut generation, seat) = self.start_generation()?;
        let result = self.run_to_end(&mut generation, seat);
        self.output = generation.text().to_vec();
        self.output_tokens = generation.output_tokens();
        result?;
        Ok(finish_code(
            self.options.n_predict,
            generation.finish(),
            NnErrno::Success,
        ))
    }

    fn run_to_end(&mut self, generation: &mut Generation, seat: Seat) -> Result<(), NnError> {
        let lease = self.lease(seat)?;
        loop {
            let step = step(&self.model, lease, generation)?;
            print_piece(self.options.stream_stdout, &step.piece);
            if step.finish.is_some() {
                return Ok(());
            }
        }
    }

    /// The lease a generation in `seat` decodes in.
    fn lease(&self, seat: Seat) -> Result<&Lease, NnError> {
        seat.lease(&self.shared, &self.own)
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
            let (generation, seat) = self.start_generation()?;
            self.stream = Some(Stream {
                generation,
                seat,
                ended: None,
            });
        }
        self.last_piece.clear();
        let stream = self.stream.as_mut().ok_or(NnError::PromptNotSet)?;
        if let Some(code) = stream.ended {
            return Ok(code);
        }
        let lease = stream.seat.lease(&self.shared, &self.own)?;
        let result = step(&self.model, lease, &mut stream.generation);
        self.output = stream.generation.text().to_vec();
        self.output_tokens = stream.generation.output_tokens();
        let step = result?;
        let has_text = !step.piece.is_empty();
        self.last_piece = step.piece;
        print_piece(self.options.stream_stdout, &self.last_piece);

        let Some(finish) = step.finish else {
            return Ok(NnErrno::Success);
        };
        let code = finish_code(self.options.n_predict, Some(finish), NnErrno::EndOfSequence);
        stream.ended = Some(code);
        Ok(if has_text { NnErrno::Success } else { code })
    }

    /// Ends a stream: clears its output and KV cache so the context can start afresh.
    pub fn fini_single(&mut self) {
        self.stream = None;
        self.output.clear();
        self.output_tokens = 0;
        self.last_piece.clear();
        for lease in [&self.shared, &self.own].into_iter().flatten() {
            lease.reset();
        }
    }

    /// Checks the prompt against the context size and queues it in this context's sequence
    /// (shared if the pool takes these parameters, else its own); returns the generation.
    fn start_generation(&mut self) -> Result<(Generation, Seat), NnError> {
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

        let seat = match &self.shared {
            Some(lease) if lease.accepts(params) => Seat::Shared,
            shared => {
                if shared.is_some() {
                    tracing::debug!(
                        ?params,
                        "the shared context runs other parameters; decoding on its own"
                    );
                }
                Seat::Own
            }
        };
        if seat == Seat::Own && self.own.is_none() {
            let pool = SequencePool::new(Arc::clone(&self.model), 1);
            self.own = SequencePool::lease(&pool);
        }
        let lease = self.lease(seat)?;
        lease.start(params, &self.prompt)?;
        let n_past = u32::try_from(self.prompt.len()).unwrap_or(u32::MAX);
        let generation = Generation::new(&self.model.model, &self.options, n_past, params.n_ctx)?;
        if generation.finish().is_some() {
            // Nothing will be sampled (`n-predict` 0), so no step would ask for logits: decode
            // the prompt now, as a prompt-processing call expects.
            lease.logits()?;
        }
        Ok((generation, seat))
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

        let session =
            Session::reuse_or_create(&mut self.embedding_session, &self.model, params, 1)?;
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

/// Samples the next token of `generation` and queues it for decoding in `lease`.
fn step(model: &LoadedModel, lease: &Lease, generation: &mut Generation) -> Result<Step, NnError> {
    let logits = if generation.finish().is_some() {
        Vec::new()
    } else {
        lease.logits()?
    };
    let step = generation.step(&model.model, &logits)?;
    if let Some(token) = step.decode {
        lease.push(token, generation.n_past());
        generation.decoded();
    }
    Ok(step)
}

/// The code a finished generation reports: `normal` for an ordinary end, 101 when the
/// context filled up unless `n-predict` = -2 (`limit`) asked for exactly that.
fn finish_code(limit: PredictLimit, finish: Option<Finish>, normal: NnErrno) -> NnErrno {
    match finish {
        Some(Finish::ContextFull) if limit != PredictLimit::UntilContextFull => {
            NnErrno::ContextFull
        }
        _ => normal,
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
