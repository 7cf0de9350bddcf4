//! One sequence's generation state: sampler, limits, stop conditions and released text.
//!
//! [`Generation`] does not own a llama.cpp context. Each [`Generation::step`] samples from
//! the logits it is given and says which token must be decoded next; the caller queues it in
//! the sequence's [`crate::batch::Lease`], which decodes it, batched with other sequences'
//! tokens, when the next logits are asked for.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

use crate::config::{Options, PredictLimit};
use crate::error::NnError;
use crate::stream::TextStream;

/// How many recent tokens the repetition penalties look at (llama.cpp's default).
const PENALTY_LAST_N: i32 = 64;

/// Why a generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// The model produced an end-of-generation token.
    EndOfGeneration,
    /// The reverse prompt appeared in the output.
    ReversePrompt,
    /// `n-predict` tokens were generated.
    Limit,
    /// No room is left in the context window.
    ContextFull,
}

/// The result of one [`Generation::step`].
#[derive(Debug)]
pub struct Step {
    /// Text released by this step (never splits a UTF-8 character, except the final flush).
    pub piece: Vec<u8>,
    /// The sampled token to decode next, or `None` once finished.
    pub decode: Option<LlamaToken>,
    /// Set when this step ended the generation.
    pub finish: Option<Finish>,
}

/// The state of one sequence being generated.
pub struct Generation {
    sampler: LlamaSampler,
    limit: PredictLimit,
    stream: TextStream,
    output_tokens: usize,
    n_past: u32,
    n_ctx: u32,
    finish: Option<Finish>,
}

impl std::fmt::Debug for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generation")
            .field("output_tokens", &self.output_tokens)
            .field("n_past", &self.n_past)
            .field("finish", &self.finish)
            .finish_non_exhaustive()
    }
}

impl Generation {
    /// A generation whose prompt (`n_past` tokens) is already decoded in a context of
    /// `n_ctx` tokens.
    pub fn new(
        model: &LlamaModel,
        options: &Options,
        n_past: u32,
        n_ctx: u32,
    ) -> Result<Self, NnError> {
        let sampler = build_sampler(model, options)?;
        let stream = TextStream::new(options.reverse_prompt.as_deref());
        let finish = (options.n_predict == PredictLimit::Tokens(0)).then_some(Finish::Limit);
        Ok(Self {
            sampler,
            limit: options.n_predict,
            stream,
            output_tokens: 0,
            n_past,
            n_ctx,
            finish,
        })
    }

    /// Tokens generated so far (an end-of-generation token is not counted).
    pub fn output_tokens(&self) -> usize {
        self.output_tokens
    }

    /// The whole output so far.
    pub fn text(&self) -> &[u8] {
        self.stream.text()
    }

    /// Why the generation ended, once it has.
    pub fn finish(&self) -> Option<Finish> {
        self.finish
    }

    /// The position the next decoded token takes.
    pub fn n_past(&self) -> u32 {
        self.n_past
    }

    /// Records that the token returned by the last step was decoded.
    pub fn decoded(&mut self) {
        self.n_past += 1;
    }

    /// Samples the next token from `logits` (one per vocabulary entry, after the last
    /// decoded token). A finished generation ignores them and releases what it held back.
    pub fn step(&mut self, model: &LlamaModel, logits: &[f32]) -> Result<Step, NnError> {
        if let Some(finish) = self.finish {
            return Ok(Step {
                piece: self.stream.finish().to_vec(),
                decode: None,
                finish: Some(finish),
            });
        }

        // Sample without llama.cpp's implicit accept, then accept through the wrapper that
        // turns a C++ exception from the grammar into an error.
        let mut candidates = LlamaTokenDataArray::from_iter(
            (0_i32..)
                .zip(logits)
                .map(|(id, &logit)| LlamaTokenData::new(LlamaToken(id), logit, 0.0)),
            false,
        );
        candidates.apply_sampler(&mut self.sampler);
        let token = candidates
            .selected_token()
            .ok_or_else(|| NnError::Runtime {
                action: "sample a token",
                reason: "no candidate was selected".to_owned(),
            })?;
        self.sampler
            .try_accept(token)
            .map_err(|error| NnError::Runtime {
                action: "accept the sampled token",
                reason: error.to_string(),
            })?;

        if model.vocab().is_eog(token) {
            return Ok(self.end(Finish::EndOfGeneration, Vec::new()));
        }
        self.output_tokens += 1;
        let piece = model.vocab().token_to_piece(token, true, None);
        tracing::trace!(token = token.0, piece = %String::from_utf8_lossy(&piece), "sampled");
        let released = self.stream.push(&piece);
        let (released_bytes, stopped) = (released.bytes.to_vec(), released.stopped);

        if stopped {
            return Ok(self.end(Finish::ReversePrompt, released_bytes));
        }
        if matches!(self.limit, PredictLimit::Tokens(n) if self.output_tokens as u64 >= n) {
            return Ok(self.end(Finish::Limit, released_bytes));
        }
        if self.n_past >= self.n_ctx {
            return Ok(self.end(Finish::ContextFull, released_bytes));
        }
        Ok(Step {
            piece: released_bytes,
            decode: Some(token),
            finish: None,
        })
    }

    fn end(&mut self, finish: Finish, mut piece: Vec<u8>) -> Step {
        self.finish = Some(finish);
        piece.extend_from_slice(self.stream.finish());
        Step {
            piece,
            decode: None,
            finish: Some(finish),
        }
    }
}

/// The sampler chain for `options`: grammar, penalties, then greedy selection at
/// temperature ≤ 0, or top-k, top-p, min-p, temperature and a seeded draw.
fn build_sampler(model: &LlamaModel, options: &Options) -> Result<LlamaSampler, NnError> {
    let mut chain = Vec::new();
    if let Some(grammar) = &options.grammar {
        let sampler =
            LlamaSampler::grammar(model, grammar, "root").map_err(|error| NnError::Grammar {
                reason: error.to_string(),
            })?;
        chain.push(sampler);
    }
    let penalised = options.repeat_penalty != 1.0
        || options.frequency_penalty != 0.0
        || options.presence_penalty != 0.0;
    if penalised {
        chain.push(LlamaSampler::penalties(
            model.n_vocab(),
            PENALTY_LAST_N,
            options.repeat_penalty,
            options.frequency_penalty,
            options.presence_penalty,
        ));
    }
    if options.temp <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if options.top_k > 0 {
            chain.push(LlamaSampler::top_k(options.top_k));
        }
        chain.push(LlamaSampler::top_p(options.top_p, 1));
        chain.push(LlamaSampler::min_p(options.min_p, 1));
        chain.push(LlamaSampler::temp(options.temp));
        chain.push(LlamaSampler::dist(options.seed));
    }
    Ok(LlamaSampler::chain_simple(chain))
}
