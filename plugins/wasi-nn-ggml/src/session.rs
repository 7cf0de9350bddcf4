//! A llama.cpp context (KV cache and compute buffers) that owns a share of its model.
//!
//! llama-cpp-2 ties a `LlamaContext<'a>` to a borrowed `&'a LlamaModel`. Execution contexts
//! outlive any borrow (they are kept in a map between ABI calls), so [`Session`] holds the
//! model's `Arc` next to the context and erases the borrow's lifetime. This module is the only
//! place that does so.

use std::num::NonZeroU32;
use std::sync::Arc;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;

use crate::backend::backend;
use crate::error::NnError;
use crate::graph::LoadedModel;

/// The parameters a llama.cpp context is created with; a change needs a new context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionParams {
    /// Context window in tokens.
    pub n_ctx: u32,
    /// Logical batch size.
    pub n_batch: u32,
    /// Physical batch size.
    pub n_ubatch: u32,
    /// Threads for generation and batches.
    pub threads: u32,
    /// Whether the context computes embeddings.
    pub embedding: bool,
}

/// A llama.cpp context together with the model it was created from.
pub struct Session {
    // Field order matters: fields drop in declaration order, so `context`, which points into
    // the model, is freed before this share of `model` is released.
    context: LlamaContext<'static>,
    model: Arc<LoadedModel>,
    params: SessionParams,
    n_seq: u32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Creates a llama.cpp context for `model` with `n_seq` sequences of `params.n_ctx`
    /// tokens each. Sequences get KV caches of their own (llama.cpp's non-unified cache),
    /// which suits streams that share no prefix.
    pub fn new(
        model: Arc<LoadedModel>,
        params: SessionParams,
        n_seq: u32,
    ) -> Result<Self, NnError> {
        let backend = backend().ok_or(NnError::Backend)?;
        let threads = i32::try_from(params.threads).unwrap_or(i32::MAX);
        let n_seq = n_seq.max(1);
        let context_params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(params.n_ctx.saturating_mul(n_seq)))
            .with_n_seq_max(n_seq)
            .with_kv_unified(false)
            .with_n_batch(params.n_batch)
            .with_n_ubatch(params.n_ubatch)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            .with_embeddings(params.embedding);

        let context = model
            .model
            .new_context(backend, context_params)
            .map_err(|error| NnError::Runtime {
                action: "create a context",
                reason: error.to_string(),
            })?;
        // SAFETY: the context borrows the `LlamaModel` inside the `Arc` allocation, which
        // never moves and stays alive while `self.model` holds its share. `Session` never
        // hands out the model borrow with the erased lifetime, and its field order drops
        // `context` before `model`, so the borrow never outlives the model.
        let context: LlamaContext<'static> = unsafe { std::mem::transmute(context) };
        tracing::debug!(?params, n_seq, "llama.cpp context created");
        Ok(Self {
            context,
            model,
            params,
            n_seq,
        })
    }

    /// The context in `slot` if it was made for `params` and `n_seq` sequences, else a new
    /// one in its place (the old one, and its KV cache, is dropped).
    pub fn reuse_or_create<'a>(
        slot: &'a mut Option<Session>,
        model: &Arc<LoadedModel>,
        params: SessionParams,
        n_seq: u32,
    ) -> Result<&'a mut Session, NnError> {
        if slot
            .as_ref()
            .is_some_and(|s| s.params != params || s.n_seq != n_seq.max(1))
        {
            tracing::debug!("context parameters changed; re-creating the llama.cpp context");
            *slot = None;
        }
        match slot {
            Some(session) => Ok(session),
            empty => Ok(empty.insert(Session::new(Arc::clone(model), params, n_seq)?)),
        }
    }

    /// The parameters this context was created with.
    pub fn params(&self) -> SessionParams {
        self.params
    }

    /// The model.
    pub fn model(&self) -> &Arc<LoadedModel> {
        &self.model
    }

    /// The llama.cpp context.
    pub fn context(&mut self) -> &mut LlamaContext<'static> {
        &mut self.context
    }

    /// The model and the context at once (the sampler needs both).
    pub fn parts(&mut self) -> (&LoadedModel, &mut LlamaContext<'static>) {
        (&self.model, &mut self.context)
    }
}
