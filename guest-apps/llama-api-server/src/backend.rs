//! What the server needs from an inference backend, independent of WASI-NN.
//!
//! The WebAssembly build implements [`Backend`] with WASI-NN execution contexts, one per
//! slot (`compute_single` / `get_output_single` / `fini_single`); tests implement it with a
//! scripted model. Keeping the trait this small is what lets the scheduler, HTTP handling
//! and response shapes be tested natively.

/// Token counts the backend reports for a slot's current generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Tokens in the prompt.
    pub input_tokens: u64,
    /// Tokens generated so far.
    pub output_tokens: u64,
}

/// The result of one generation step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Text released by this step (never a split UTF-8 character, except at the very end).
    Piece(Vec<u8>),
    /// The generation ended: end of sequence, token limit or reverse prompt.
    End,
    /// The generation ended because the context window is full.
    ContextFull,
}

/// A computed embedding.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// The vector.
    pub vector: Vec<f32>,
    /// Tokens in the input.
    pub input_tokens: u64,
}

/// Why the backend could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The prompt does not fit the context window.
    #[error("the prompt has {input_tokens} tokens, more than the context window allows")]
    PromptTooLong {
        /// Tokens in the prompt.
        input_tokens: u64,
    },
    /// The backend rejected an argument (for example a JSON schema it cannot turn into a
    /// grammar).
    #[error("the inference backend rejected the request ({operation})")]
    InvalidArgument {
        /// The operation that failed.
        operation: &'static str,
    },
    /// Any other failure, with the backend's error code.
    #[error("inference failed in {operation} (error code {code})")]
    Failed {
        /// The operation that failed.
        operation: &'static str,
        /// The backend's error code.
        code: i32,
    },
    /// No embedding model is loaded.
    #[error("no embedding model is loaded")]
    NoEmbeddingModel,
}

/// An inference backend with a fixed number of generation slots.
pub trait Backend {
    /// Number of slots (concurrent generations).
    fn slots(&self) -> usize;

    /// Sets a slot's prompt and per-request metadata JSON; generation starts on the next
    /// [`Backend::step`].
    fn start(&mut self, slot: usize, prompt: &str, metadata: &str) -> Result<(), BackendError>;

    /// Generates one token in a slot (the first step also processes the prompt).
    fn step(&mut self, slot: usize) -> Result<Step, BackendError>;

    /// The token counts of a slot's current generation.
    fn counts(&mut self, slot: usize) -> Result<TokenCounts, BackendError>;

    /// Ends a slot's generation and frees what it holds, ready for the next request.
    fn reset(&mut self, slot: usize);

    /// Embeds `input` with the embedding model.
    fn embed(&mut self, input: &str) -> Result<Embedding, BackendError>;
}
