//! Why a WASI-NN call failed, and which error code the guest receives for it.

use std::path::PathBuf;

use crate::abi::NnErrno;
use crate::config::ConfigError;
use crate::memory::OutOfBounds;

/// A failed WASI-NN call. [`NnError::errno`] gives the code the guest sees; the message is
/// logged on the host, since the ABI has no way to carry it to the guest.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A pointer or length points outside the guest's memory.
    #[error(transparent)]
    Memory(#[from] OutOfBounds),
    /// The graph encoding number is not defined by the ABI.
    #[error("unknown graph encoding {value}; nnedge supports GGML (6)")]
    UnknownEncoding {
        /// The number the guest passed.
        value: u32,
    },
    /// The graph encoding is defined but not implemented here.
    #[error("graph encoding {encoding} is not supported; nnedge supports GGML (6)")]
    UnsupportedEncoding {
        /// The encoding's name.
        encoding: &'static str,
    },
    /// The execution target number is not defined by the ABI.
    #[error("unknown execution target {value}; use CPU (0), GPU (1), TPU (2) or AUTO (3)")]
    UnknownTarget {
        /// The number the guest passed.
        value: u32,
    },
    /// `load` got an empty graph-builder array.
    #[error("load needs at least one graph builder (the model bytes or `preload:<path>`)")]
    NoBuilders,
    /// A model name or `preload:` path is not UTF-8.
    #[error("the model name or path is not valid UTF-8")]
    NameNotUtf8,
    /// A metadata document was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No `--nn-preload` registered this alias.
    #[error("no model is registered as `{name}`; register one with --nn-preload {name}:GGML:AUTO:<path>")]
    UnknownModelName {
        /// The alias the guest asked for.
        name: String,
    },
    /// The model is still loading in the background (`background-load`); ask again later.
    #[error("model `{alias}` is still loading; call load_by_name again later")]
    ModelLoading {
        /// The alias being loaded.
        alias: String,
    },
    /// The model file does not exist.
    #[error("model file `{path}` does not exist")]
    ModelNotFound {
        /// The host path.
        path: PathBuf,
    },
    /// llama.cpp could not load the model file (truncated, not GGUF, unsupported).
    #[error("llama.cpp could not load model `{path}` (is it a complete GGUF file?): {reason}")]
    ModelLoad {
        /// The host path.
        path: PathBuf,
        /// llama-cpp-2's error.
        reason: String,
    },
    /// Writing guest-supplied model bytes to a temporary file failed.
    #[error("could not stage the model bytes in a temporary file: {source}")]
    StageModel {
        /// The I/O error.
        source: std::io::Error,
    },
    /// The graph handle is unknown or was unloaded.
    #[error("unknown graph handle {graph} (never loaded, or unloaded)")]
    UnknownGraph {
        /// The handle.
        graph: u32,
    },
    /// The execution context handle is unknown or was finalized.
    #[error("unknown execution context handle {context} (never created, or finalized)")]
    UnknownContext {
        /// The handle.
        context: u32,
    },
    /// `set_input` index other than 0 (prompt) or 1 (metadata).
    #[error("input index {index} is not defined; use 0 for the prompt or 1 for metadata")]
    UnknownInputIndex {
        /// The index.
        index: u32,
    },
    /// `get_output` index other than 0 (text) or 1 (metadata).
    #[error("output index {index} is not defined; use 0 for the output or 1 for metadata")]
    UnknownOutputIndex {
        /// The index.
        index: u32,
    },
    /// The tensor type number is not defined by the ABI.
    #[error("unknown tensor type {value}; prompts and metadata are U8 (3)")]
    UnknownTensorType {
        /// The number the guest passed.
        value: u32,
    },
    /// The prompt bytes are not UTF-8.
    #[error("the prompt is not valid UTF-8 (first bad byte at offset {offset})")]
    PromptNotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// `compute` before `set_input` index 0, or a prompt with no tokens.
    #[error("no prompt is set: call set_input with index 0 and a non-empty prompt first")]
    PromptNotSet,
    /// The prompt does not fit in the context window.
    #[error("the prompt has {tokens} tokens but at most {limit} fit; shorten it or raise `{key}`")]
    PromptTooLong {
        /// Tokens in the prompt.
        tokens: usize,
        /// The most that fit.
        limit: usize,
        /// The metadata key that sets the limit.
        key: &'static str,
    },
    /// The guest's output buffer is too small.
    #[error("the output has {len} bytes but the guest buffer holds {max}")]
    OutputTooLarge {
        /// Output size.
        len: usize,
        /// Buffer size.
        max: u32,
    },
    /// `compute_single` on a graph in embedding mode.
    #[error("streaming (compute_single) is not available in embedding mode; use compute")]
    StreamingEmbedding,
    /// The grammar (or converted JSON schema) was rejected by llama.cpp.
    #[error("llama.cpp rejected the grammar: {reason}")]
    Grammar {
        /// llama-cpp-2's error.
        reason: String,
    },
    /// The llama.cpp backend is unavailable.
    #[error("the llama.cpp backend could not be initialised")]
    Backend,
    /// llama.cpp failed at run time.
    #[error("llama.cpp failed to {action}: {reason}")]
    Runtime {
        /// What was being done.
        action: &'static str,
        /// llama-cpp-2's error.
        reason: String,
    },
    /// A bug: a panic was caught at the ABI boundary.
    #[error("internal error (panic) in {function}: {message}")]
    Panic {
        /// The ABI function.
        function: &'static str,
        /// The panic message.
        message: String,
    },
}

impl NnError {
    /// The code the guest receives.
    pub fn errno(&self) -> NnErrno {
        match self {
            Self::Memory(_)
            | Self::UnknownTarget { .. }
            | Self::NoBuilders
            | Self::NameNotUtf8
            | Self::ModelLoad { .. }
            | Self::UnknownGraph { .. }
            | Self::UnknownContext { .. }
            | Self::UnknownInputIndex { .. }
            | Self::UnknownOutputIndex { .. }
            | Self::UnknownTensorType { .. }
            | Self::PromptNotUtf8 { .. }
            | Self::PromptNotSet
            | Self::Grammar { .. } => NnErrno::InvalidArgument,
            // WasmEdge's plugin answers metadata that does not parse as JSON this way.
            Self::Config(ConfigError::NotJson { .. }) => NnErrno::InvalidEncoding,
            Self::Config(_) => NnErrno::InvalidArgument,
            Self::UnknownEncoding { .. } | Self::UnsupportedEncoding { .. } => {
                NnErrno::InvalidEncoding
            }
            Self::UnknownModelName { .. } => NnErrno::NotFound,
            Self::ModelLoading { .. } => NnErrno::Busy,
            Self::ModelNotFound { .. } => NnErrno::ModelNotFound,
            Self::PromptTooLong { .. } => NnErrno::PromptTooLong,
            Self::OutputTooLarge { .. } => NnErrno::TooLarge,
            Self::StreamingEmbedding => NnErrno::UnsupportedOperation,
            Self::StageModel { .. } | Self::Backend | Self::Runtime { .. } | Self::Panic { .. } => {
                NnErrno::RuntimeError
            }
        }
    }
}
