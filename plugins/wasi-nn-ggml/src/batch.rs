//! Sequence pools: execution contexts as sequences of a shared llama.cpp context, with their
//! decode steps batched (continuous batching).
//!
//! A [`SequencePool`] owns one llama.cpp context with room for `n_seq` sequences, each with a
//! KV cache of its own of the per-sequence context size. An execution context takes a
//! sequence with [`SequencePool::lease`] and talks to the pool through its [`Lease`]:
//! [`Lease::start`] queues a prompt, [`Lease::push`] queues one sampled token, and
//! [`Lease::logits`] returns the logits to sample from next.
//!
//! Decoding is lazy. Tokens wait in their sequence's queue until some sequence asks for
//! logits it does not have yet; then [`SequencePool`] decodes every queued token of every
//! sequence in as few llama.cpp batches as `n_batch` allows, and keeps a copy of the logits
//! of each sequence whose queue it emptied. A guest that steps its streams in turn (as the
//! API server does, one token per stream per round) therefore gets one decode per round
//! for all of its streams, and a new request's prompt is decoded together with the others'
//! next tokens. The copies make the order of the guest's calls irrelevant: a sequence's
//! logits stay valid however many batches other sequences decode before it samples.
//!
//! A pool of one sequence is an ordinary private context: that is what every execution
//! context gets when its graph was not loaded with `parallel` > 1, or when the shared pool
//! is full or was created for different context parameters.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;

use crate::error::NnError;
use crate::graph::LoadedModel;
use crate::session::{Session, SessionParams};

/// Counters of a pool's decode calls, for logs, tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// `llama_decode` calls.
    pub decodes: u64,
    /// Tokens decoded by those calls.
    pub tokens: u64,
    /// Decode calls that carried tokens of more than one sequence.
    pub shared_decodes: u64,
}

/// What one sequence of the pool holds between calls.
#[derive(Debug, Default)]
struct Sequence {
    leased: bool,
    /// Tokens waiting to be decoded, and the position of the first of them.
    queued: Vec<LlamaToken>,
    first_position: u32,
    /// Logits of the last decoded token, once decoded and until the next token is queued.
    logits: Option<Vec<f32>>,
    /// Why the last decode of this sequence failed; cleared by the next start.
    failure: Option<String>,
}

impl Sequence {
    fn clear(&mut self) {
        self.queued.clear();
        self.first_position = 0;
        self.logits = None;
        self.failure = None;
    }
}

/// A llama.cpp context shared by up to `n_seq` execution contexts of one model.
#[derive(Debug)]
pub struct SequencePool {
    model: Arc<LoadedModel>,
    /// Created on the first start, for that start's per-sequence parameters.
    session: Option<Session>,
    sequences: Vec<Sequence>,
    stats: PoolStats,
}

/// A pool as the execution contexts that lease its sequences hold it.
pub type SharedPool = Rc<RefCell<SequencePool>>;

impl SequencePool {
    /// A pool of `n_seq` sequences (at least one) for `model`.
    pub fn new(model: Arc<LoadedModel>, n_seq: u32) -> SharedPool {
        let sequences = (0..n_seq.max(1)).map(|_| Sequence::default()).collect();
        Rc::new(RefCell::new(Self {
            model,
            session: None,
            sequences,
            stats: PoolStats::default(),
        }))
    }

    /// A free sequence of `pool`, or `None` when all are leased.
    pub fn lease(pool: &SharedPool) -> Option<Lease> {
        let mut this = pool.borrow_mut();
        let seq = this.sequences.iter().position(|s| !s.leased)?;
        this.sequences[seq].leased = true;
        Some(Lease {
            pool: Rc::clone(pool),
            seq,
        })
    }

    /// Decode counters since the pool was made.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Whether a sequence can start with per-sequence `params`: the context is made for
    /// them on first use, and re-made for other parameters only while no other sequence is
    /// leased.
    fn accepts(&self, params: SessionParams, seq: usize) -> bool {
        match self.session.as_ref().map(Session::params) {
            None => true,
            Some(current) if current == params => true,
            Some(_) => self
                .sequences
                .iter()
                .enumerate()
                .all(|(i, s)| i == seq || !s.leased),
        }
    }

    /// Decodes every queued token of every sequence, `n_batch` tokens per llama.cpp call.
    /// Single tokens (streams in progress) go first so they share one call; prompts fill the
    /// rest. A failed call fails the sequences it carried and leaves the others queued.
    fn flush(&mut self) -> Result<(), NnError> {
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        let n_batch = usize::try_from(session.params().n_batch)
            .unwrap_or(usize::MAX)
            .max(1);
        let mut order: Vec<usize> = (0..self.sequences.len())
            .filter(|&s| !self.sequences[s].queued.is_empty())
            .collect();
        order.sort_by_key(|&s| self.sequences[s].queued.len());
        let mut done = vec![0usize; self.sequences.len()];
        let mut batch = LlamaBatch::new(n_batch, 1);

        loop {
            batch.clear();
            // (sequence, batch index of its last token's logits if this call ends its queue)
            let mut carried: Vec<(usize, Option<i32>)> = Vec::new();
            for &seq in &order {
                let sequence = &self.sequences[seq];
                if sequence.failure.is_some() || done[seq] == sequence.queued.len() {
                    continue;
                }
                let room = n_batch - usize::try_from(batch.n_tokens()).unwrap_or(n_batch);
                if room == 0 {
                    break;
                }
                let take = room.min(sequence.queued.len() - done[seq]);
                let mut logits_at = None;
                for offset in done[seq]..done[seq] + take {
                    let last = offset + 1 == sequence.queued.len();
                    let position = sequence.first_position as usize + offset;
                    if last {
                        logits_at = Some(batch.n_tokens());
                    }
                    batch
                        .add(
                            sequence.queued[offset],
                            i32::try_from(position).unwrap_or(i32::MAX),
                            &[i32::try_from(seq).unwrap_or(i32::MAX)],
                            last,
                        )
                        .map_err(|error| NnError::Runtime {
                            action: "fill the batch",
                            reason: error.to_string(),
                        })?;
                }
                done[seq] += take;
                carried.push((seq, logits_at));
            }
            if carried.is_empty() {
                break;
            }

            self.stats.decodes += 1;
            self.stats.tokens += u64::try_from(batch.n_tokens()).unwrap_or(0);
            if carried.len() > 1 {
                self.stats.shared_decodes += 1;
            }
            let context = session.context();
            match context.decode(&mut batch) {
                Ok(()) => {
                    for &(seq, logits_at) in &carried {
                        if let Some(index) = logits_at {
                            let sequence = &mut self.sequences[seq];
                            sequence.logits = Some(context.get_logits_ith(index).to_vec());
                            sequence.first_position +=
                                u32::try_from(sequence.queued.len()).unwrap_or(u32::MAX);
                            sequence.queued.clear();
                            done[seq] = 0;
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(%error, sequences = carried.len(), "batched decode failed");
                    for &(seq, _) in &carried {
                        clear_sequence(context, seq);
                        let sequence = &mut self.sequences[seq];
                        sequence.queued.clear();
                        sequence.failure = Some(error.to_string());
                    }
                }
            }
        }
        Ok(())
    }
}

/// One sequence of a [`SequencePool`], held by an execution context. Dropping it frees the
/// sequence and its KV cache for the next context.
#[derive(Debug)]
pub struct Lease {
    pool: SharedPool,
    seq: usize,
}

impl Lease {
    /// Whether this sequence can run with per-sequence `params`.
    pub fn accepts(&self, params: SessionParams) -> bool {
        self.pool.borrow().accepts(params, self.seq)
    }

    /// The pool's decode counters.
    pub fn stats(&self) -> PoolStats {
        self.pool.borrow().stats()
    }

    /// Empties the sequence's KV cache and queues `prompt` from position 0.
    pub fn start(&self, params: SessionParams, prompt: &[LlamaToken]) -> Result<(), NnError> {
        let mut pool = self.pool.borrow_mut();
        let pool = &mut *pool;
        let n_seq = u32::try_from(pool.sequences.len()).unwrap_or(u32::MAX);
        let session = Session::reuse_or_create(&mut pool.session, &pool.model, params, n_seq)?;
        clear_sequence(session.context(), self.seq);
        let sequence = &mut pool.sequences[self.seq];
        sequence.clear();
        sequence.queued.extend_from_slice(prompt);
        Ok(())
    }

    /// Queues `token` at `position`, the position after the last queued or decoded token.
    pub fn push(&self, token: LlamaToken, position: u32) {
        let mut pool = self.pool.borrow_mut();
        let sequence = &mut pool.sequences[self.seq];
        if sequence.queued.is_empty() {
            sequence.first_position = position;
        }
        sequence.queued.push(token);
        sequence.logits = None;
    }

    /// The logits after the last queued token, decoding whatever the pool has queued if
    /// they are not there yet. They are taken: the next call needs a new token first.
    pub fn logits(&self) -> Result<Vec<f32>, NnError> {
        let mut pool = self.pool.borrow_mut();
        if pool.sequences[self.seq].logits.is_none() && pool.sequences[self.seq].failure.is_none() {
            pool.flush()?;
        }
        let sequence = &mut pool.sequences[self.seq];
        if let Some(reason) = &sequence.failure {
            return Err(NnError::Runtime {
                action: "decode",
                reason: reason.clone(),
            });
        }
        sequence.logits.take().ok_or(NnError::Runtime {
            action: "decode",
            reason: "no logits: nothing was queued for this sequence".to_owned(),
        })
    }

    /// Forgets the sequence's tokens, queued and decoded.
    pub fn reset(&self) {
        let mut pool = self.pool.borrow_mut();
        if let Some(session) = pool.session.as_mut() {
            clear_sequence(session.context(), self.seq);
        }
        pool.sequences[self.seq].clear();
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.reset();
        self.pool.borrow_mut().sequences[self.seq].leased = false;
    }
}

/// Removes sequence `seq`'s tokens from the KV cache of `context`.
fn clear_sequence(context: &mut LlamaContext<'_>, seq: usize) {
    let seq_id = u32::try_from(seq).ok();
    if let Err(error) = context.clear_kv_cache_seq(seq_id, None, None) {
        tracing::debug!(%error, seq, "could not clear the sequence's KV cache");
    }
}
