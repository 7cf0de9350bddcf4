//! The WASI-NN backend: one execution context of the chat graph per slot, and one of the
//! embedding graph when a second model is configured.
//!
//! Graphs are loaded by preload alias with `load_by_name_with_config`, in the background on
//! nnedge (which answers busy until the model is there); each request sets its
//! prompt (input 0) and metadata (input 1), then generates with `compute_single` /
//! `get_output_single`, and `fini_single` frees the slot. Token counts come from output 1,
//! `{"input_tokens", "output_tokens", ...}`.

use llama_api_server::backend::{Backend, BackendError, Embedding, Step, TokenCounts};
use llama_api_server::config::ServerConfig;
use llama_api_server::embeddings;
use wasmedge_wasi_nn::{
    BackendError as NnError, Error, ExecutionTarget, Graph, GraphBuilder, GraphEncoding,
    GraphExecutionContext, TensorType,
};

/// Bytes reserved for one token's text.
const PIECE_BUFFER: usize = 4096;
/// Bytes reserved for the metadata output.
const METADATA_BUFFER: usize = 4096;
/// Bytes reserved for the model description (output 2), chat template included.
const MODEL_DESCRIPTION_BUFFER: usize = 256 * 1024;
/// Bytes reserved for an embedding as JSON (a 4096-dimension vector fits).
const EMBEDDING_BUFFER: usize = 1 << 20;

/// Loaded graphs and their execution contexts.
pub struct NnBackend {
    _chat: Graph,
    slots: Vec<GraphExecutionContext>,
    embedding: Option<(Graph, GraphExecutionContext)>,
}

impl std::fmt::Debug for NnBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NnBackend")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// Why the models could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} for model alias `{alias}`: {source}; check the `--nn-preload {alias}:GGML:AUTO:PATH` option of the host")]
pub struct LoadError {
    action: &'static str,
    alias: String,
    source: Error,
}

impl NnBackend {
    /// Loads the chat graph (and the embedding graph, if configured) and creates the slots,
    /// or returns `None` while the host is still loading a model in the background: call
    /// again later. Both models start loading on the first call.
    pub fn try_load(config: &ServerConfig) -> Result<Option<Self>, LoadError> {
        let alias = &config.chat.alias;
        let chat = load_graph(alias, config.chat_graph_metadata())
            .map_err(load_error("load the graph", alias))?;
        let embedding = match (&config.embedding, config.embedding_graph_metadata()) {
            (Some(model), Some(metadata)) => {
                let alias = &model.alias;
                let graph =
                    load_graph(alias, metadata).map_err(load_error("load the graph", alias))?;
                graph.map(Some)
            }
            _ => Some(None),
        };
        let (Some(chat), Some(embedding)) = (chat, embedding) else {
            return Ok(None);
        };

        let slots = (0..config.parallel)
            .map(|_| chat.init_execution_context())
            .collect::<Result<Vec<_>, _>>()
            .map_err(load_error("create an execution context", alias))?;
        let embedding = match (embedding, &config.embedding) {
            (Some(graph), Some(model)) => {
                let context = graph
                    .init_execution_context()
                    .map_err(load_error("create an execution context", &model.alias))?;
                Some((graph, context))
            }
            _ => None,
        };
        Ok(Some(Self {
            _chat: chat,
            slots,
            embedding,
        }))
    }
}

impl NnBackend {
    /// The chat model's own template (GGUF `tokenizer.chat_template`), from nnedge's output
    /// index 2; `None` if it has none or the runtime has no index 2.
    pub fn model_chat_template(&self) -> Option<String> {
        let mut buffer = vec![0u8; MODEL_DESCRIPTION_BUFFER];
        let n = self.slots.first()?.get_output(2, &mut buffer).ok()?;
        let description: serde_json::Value =
            serde_json::from_slice(&buffer[..n.min(buffer.len())]).ok()?;
        description["chat_template"].as_str().map(str::to_owned)
    }
}

fn load_error<'a>(action: &'static str, alias: &'a str) -> impl Fn(Error) -> LoadError + 'a {
    move |source| LoadError {
        action,
        alias: alias.to_owned(),
        source,
    }
}

/// The graph, or `None` while nnedge loads its model in the background (code 4, busy: the
/// metadata asks for `background-load`; runtimes without it load before returning).
fn load_graph(alias: &str, metadata: String) -> Result<Option<Graph>, Error> {
    match GraphBuilder::new(GraphEncoding::Ggml, ExecutionTarget::AUTO)
        .config(metadata)
        .build_from_cache(alias)
    {
        Ok(graph) => Ok(Some(graph)),
        Err(Error::BackendError(NnError::Busy)) => Ok(None),
        Err(error) => Err(error),
    }
}

fn set_text(context: &mut GraphExecutionContext, index: usize, text: &str) -> Result<(), Error> {
    context.set_input(index, TensorType::U8, &[1], text.as_bytes())
}

/// The backend's error code, for messages.
fn code(error: &Error) -> i32 {
    let Error::BackendError(error) = error else {
        return -1;
    };
    match error {
        NnError::InvalidArgument => 1,
        NnError::InvalidEncoding => 2,
        NnError::MissingMemory => 3,
        NnError::Busy => 4,
        NnError::RuntimeError => 5,
        NnError::UnsupportedOperation => 6,
        NnError::TooLarge => 7,
        NnError::NotFound => 8,
        NnError::EndOfSequence => 100,
        NnError::ContextFull => 101,
        NnError::PromptTooLong => 102,
        NnError::ModelNotFound => 103,
        NnError::UnknownError(code) => *code,
    }
}

fn failed(operation: &'static str) -> impl Fn(Error) -> BackendError {
    move |error| match error {
        Error::BackendError(NnError::InvalidArgument | NnError::InvalidEncoding) => {
            BackendError::InvalidArgument { operation }
        }
        other => BackendError::Failed {
            operation,
            code: code(&other),
        },
    }
}

fn read_counts(context: &GraphExecutionContext, single: bool) -> Result<TokenCounts, BackendError> {
    let mut buffer = vec![0u8; METADATA_BUFFER];
    let read = if single {
        context.get_output_single(1, &mut buffer)
    } else {
        context.get_output(1, &mut buffer)
    };
    let n = read.map_err(failed("get_output(1)"))?;
    let value: serde_json::Value =
        serde_json::from_slice(&buffer[..n.min(buffer.len())]).map_err(|_| {
            BackendError::Failed {
                operation: "parse output 1",
                code: 5,
            }
        })?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    };
    Ok(TokenCounts {
        input_tokens: field("input_tokens"),
        output_tokens: field("output_tokens"),
    })
}

impl Backend for NnBackend {
    fn slots(&self) -> usize {
        self.slots.len()
    }

    fn start(&mut self, slot: usize, prompt: &str, metadata: &str) -> Result<(), BackendError> {
        let context = &mut self.slots[slot];
        set_text(context, 1, metadata).map_err(failed("set_input(1)"))?;
        set_text(context, 0, prompt).map_err(failed("set_input(0)"))
    }

    fn step(&mut self, slot: usize) -> Result<Step, BackendError> {
        let context = &mut self.slots[slot];
        match context.compute_single() {
            Ok(()) => {}
            Err(Error::BackendError(NnError::EndOfSequence)) => return Ok(Step::End),
            Err(Error::BackendError(NnError::ContextFull)) => return Ok(Step::ContextFull),
            Err(Error::BackendError(NnError::PromptTooLong)) => {
                let counts = read_counts(context, true)?;
                return Err(BackendError::PromptTooLong {
                    input_tokens: counts.input_tokens,
                });
            }
            Err(error) => return Err(failed("compute_single")(error)),
        }
        let mut buffer = vec![0u8; PIECE_BUFFER];
        let n = context
            .get_output_single(0, &mut buffer)
            .map_err(failed("get_output_single(0)"))?;
        buffer.truncate(n);
        Ok(Step::Piece(buffer))
    }

    fn counts(&mut self, slot: usize) -> Result<TokenCounts, BackendError> {
        read_counts(&self.slots[slot], true)
    }

    fn reset(&mut self, slot: usize) {
        // An error here leaves nothing to clean up: the next request sets a new prompt.
        let _ = self.slots[slot].fini_single();
    }

    fn embed(&mut self, input: &str) -> Result<Embedding, BackendError> {
        let (_, context) = self
            .embedding
            .as_mut()
            .ok_or(BackendError::NoEmbeddingModel)?;
        set_text(context, 0, input).map_err(failed("set_input(0)"))?;
        match context.compute() {
            Ok(()) => {}
            Err(Error::BackendError(NnError::PromptTooLong)) => {
                let counts = read_counts(context, false)?;
                return Err(BackendError::PromptTooLong {
                    input_tokens: counts.input_tokens,
                });
            }
            Err(error) => return Err(failed("compute")(error)),
        }
        let mut buffer = vec![0u8; EMBEDDING_BUFFER];
        let n = context
            .get_output(0, &mut buffer)
            .map_err(failed("get_output(0)"))?;
        let vector = embeddings::parse_vector(&buffer[..n.min(buffer.len())]).ok_or(
            BackendError::Failed {
                operation: "parse the embedding",
                code: 5,
            },
        )?;
        let counts = read_counts(context, false)?;
        Ok(Embedding {
            vector,
            input_tokens: counts.input_tokens,
        })
    }
}
