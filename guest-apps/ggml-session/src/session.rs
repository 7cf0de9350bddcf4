//! A model loaded through WASI-NN's GGML backend, with one execution context.
//!
//! [`Session::generate`] runs `compute` and reads the whole text (output 0);
//! [`Session::stream`] runs `compute_single` / `get_output_single` token by token and ends
//! with `fini_single`, so the next prompt starts fresh.

use wasmedge_wasi_nn::{
    BackendError, Error as NnError, ExecutionTarget, Graph, GraphBuilder, GraphEncoding,
    GraphExecutionContext, TensorType,
};

use crate::ModelOptions;

/// First size of the buffer for the whole generated text; it doubles while the host answers
/// "too large", up to [`MAX_OUTPUT`].
const FIRST_OUTPUT_BUFFER: usize = 16 * 1024;

/// First size of the buffer for one streamed piece (a token's text, usually a few bytes).
const FIRST_PIECE_BUFFER: usize = 1024;

/// The largest output a guest accepts: far beyond any context window's text.
const MAX_OUTPUT: usize = 64 * 1024 * 1024;

/// A failed WASI-NN call.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No model is registered under the alias.
    #[error(
        "no model is preloaded as `{alias}` (run the guest with --nn-preload \
         {alias}:GGML:AUTO:PATH, or pick another --model-alias)"
    )]
    UnknownAlias {
        /// The alias asked for.
        alias: String,
    },
    /// The alias is registered but the host cannot find its model file.
    #[error(
        "the model file preloaded as `{alias}` is missing (check the PATH given to --nn-preload)"
    )]
    ModelFileMissing {
        /// The alias asked for.
        alias: String,
    },
    /// The model could not be loaded for another reason (bad metadata, unreadable model).
    #[error("failed to load the model `{alias}`: {error}")]
    Load {
        /// The alias asked for.
        alias: String,
        /// The backend's error.
        error: NnError,
    },
    /// The prompt does not fit in the context window.
    #[error("the prompt does not fit in the context window (try a larger --ctx-size)")]
    PromptTooLong,
    /// A WASI-NN call failed.
    #[error("WASI-NN `{call}` failed: {error}")]
    Call {
        /// The function called.
        call: &'static str,
        /// The backend's error (its message already includes the backend's cause).
        error: NnError,
    },
    /// The host reported more bytes written than the buffer holds.
    #[error("WASI-NN `{call}` reported {written} bytes written into a {capacity}-byte buffer")]
    OutputOverrun {
        /// The function called.
        call: &'static str,
        /// Bytes the host says it wrote.
        written: usize,
        /// The buffer's size.
        capacity: usize,
    },
}

/// Why a stream ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The model finished (end of sequence, `n-predict` or reverse prompt reached).
    EndOfSequence,
    /// The context window filled up before the model finished.
    ContextFull,
}

/// A loaded model and one execution context on it.
pub struct Session {
    alias: String,
    // Kept so the graph outlives the context; the host frees both when the guest exits.
    _graph: Graph,
    context: GraphExecutionContext,
    n_predict: Option<i32>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("alias", &self.alias)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Loads the model `options.model_alias` with `options` as its metadata and opens an
    /// execution context.
    pub fn open(options: &ModelOptions) -> Result<Self, SessionError> {
        let alias = options.model_alias.clone();
        let graph = GraphBuilder::new(GraphEncoding::Ggml, ExecutionTarget::AUTO)
            .config(options.metadata().to_string())
            .build_from_cache(&alias)
            .map_err(|error| load_error(&alias, error))?;
        let context = graph
            .init_execution_context()
            .map_err(|error| SessionError::Call {
                call: "init_execution_context",
                error,
            })?;
        Ok(Self {
            alias,
            _graph: graph,
            context,
            n_predict: options.n_predict,
        })
    }

    /// The alias the model was loaded by.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The model's own chat template (GGUF `tokenizer.chat_template`), from nnedge's output
    /// index 2; `None` if the model has none or the runtime has no index 2 (WasmEdge's
    /// plugin).
    pub fn model_chat_template(&self) -> Option<String> {
        let context = &self.context;
        let description = read_output("get_output", FIRST_OUTPUT_BUFFER, |buf| {
            context.get_output(2, buf)
        })
        .ok()?;
        let description: serde_json::Value = serde_json::from_slice(&description).ok()?;
        description["chat_template"].as_str().map(str::to_owned)
    }

    /// Generates the whole answer to `prompt`: its bytes (UTF-8 unless the model cut a
    /// character at `n-predict`) and why generation ended.
    ///
    /// A host may report a full context window as errno 101 from `compute`; the text
    /// generated until then is still returned, with [`StreamEnd::ContextFull`].
    pub fn generate(&mut self, prompt: &str) -> Result<(Vec<u8>, StreamEnd), SessionError> {
        self.set_prompt(prompt)?;
        let end = match self.context.compute() {
            Ok(()) => StreamEnd::EndOfSequence,
            Err(NnError::BackendError(BackendError::ContextFull)) => StreamEnd::ContextFull,
            Err(error) => return Err(call_error("compute", error)),
        };

        let context = &self.context;
        let text = read_output("get_output", FIRST_OUTPUT_BUFFER, |buf| {
            context.get_output(0, buf)
        })?;
        Ok((text, end))
    }

    /// Generates the answer to `prompt` token by token, handing each piece of text to
    /// `on_piece` as it comes; stops early when `on_piece` fails.
    pub fn stream<E>(
        &mut self,
        prompt: &str,
        mut on_piece: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<StreamEnd, E>, SessionError> {
        self.set_prompt(prompt)?;
        let outcome = self.stream_pieces(&mut on_piece);

        // Reset the context whatever happened, so it can take the next prompt.
        let reset = self.context.fini_single();
        let outcome = outcome?;
        reset.map_err(|source| call_error("fini_single", source))?;
        Ok(outcome)
    }

    fn stream_pieces<E>(
        &mut self,
        on_piece: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Result<StreamEnd, E>, SessionError> {
        let mut pieces = 0i64;
        loop {
            // The host enforces n-predict too; counting here keeps the stream bounded even if
            // a host only applies it to `compute`.
            if self
                .n_predict
                .is_some_and(|n| n >= 0 && pieces >= i64::from(n))
            {
                return Ok(Ok(StreamEnd::EndOfSequence));
            }
            match self.context.compute_single() {
                Ok(()) => {}
                Err(NnError::BackendError(BackendError::EndOfSequence)) => {
                    return Ok(Ok(StreamEnd::EndOfSequence))
                }
                Err(NnError::BackendError(BackendError::ContextFull)) => {
                    return Ok(Ok(StreamEnd::ContextFull))
                }
                Err(source) => return Err(call_error("compute_single", source)),
            }
            pieces += 1;

            let context = &self.context;
            let piece = read_output("get_output_single", FIRST_PIECE_BUFFER, |buf| {
                context.get_output_single(0, buf)
            })?;
            if let Err(err) = on_piece(&piece) {
                return Ok(Err(err));
            }
        }
    }

    fn set_prompt(&mut self, prompt: &str) -> Result<(), SessionError> {
        self.context
            .set_input(0, TensorType::U8, &[1], prompt.as_bytes())
            .map_err(|source| call_error("set_input", source))
    }
}

/// Maps a failed load, singling out the causes a user fixes on the host's command line.
fn load_error(alias: &str, error: NnError) -> SessionError {
    let alias = alias.to_owned();
    match error {
        NnError::BackendError(BackendError::NotFound) => SessionError::UnknownAlias { alias },
        NnError::BackendError(BackendError::ModelNotFound) => {
            SessionError::ModelFileMissing { alias }
        }
        error => SessionError::Load { alias, error },
    }
}

/// Maps a failed call, singling out the errors a caller can act on.
fn call_error(call: &'static str, error: NnError) -> SessionError {
    match error {
        NnError::BackendError(BackendError::PromptTooLong) => SessionError::PromptTooLong,
        error => SessionError::Call { call, error },
    }
}

/// Calls `get` with a buffer that doubles while the host answers "too large" (errno 7).
fn read_output(
    call: &'static str,
    first_size: usize,
    mut get: impl FnMut(&mut [u8]) -> Result<usize, NnError>,
) -> Result<Vec<u8>, SessionError> {
    let mut buf = vec![0u8; first_size];
    loop {
        match get(&mut buf) {
            Ok(written) if written <= buf.len() => {
                buf.truncate(written);
                return Ok(buf);
            }
            Ok(written) => {
                return Err(SessionError::OutputOverrun {
                    call,
                    written,
                    capacity: buf.len(),
                })
            }
            Err(NnError::BackendError(BackendError::TooLarge)) if buf.len() < MAX_OUTPUT => {
                buf.resize(buf.len() * 2, 0);
            }
            Err(source) => return Err(call_error(call, source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_errors_name_what_to_fix() {
        let unknown = load_error("smol", NnError::BackendError(BackendError::NotFound));
        assert!(
            unknown
                .to_string()
                .contains("--nn-preload smol:GGML:AUTO:PATH"),
            "{unknown}"
        );
        let missing = load_error("smol", NnError::BackendError(BackendError::ModelNotFound));
        assert!(
            matches!(missing, SessionError::ModelFileMissing { .. }),
            "{missing:?}"
        );
        let other = load_error("smol", NnError::BackendError(BackendError::InvalidArgument));
        assert!(matches!(other, SessionError::Load { .. }), "{other:?}");
    }

    #[test]
    fn read_output_grows_the_buffer_until_the_output_fits() {
        let output = vec![b'x'; 5000];
        let mut sizes = Vec::new();
        let read = read_output("get_output", 1024, |buf| {
            sizes.push(buf.len());
            if buf.len() < output.len() {
                return Err(NnError::BackendError(BackendError::TooLarge));
            }
            buf[..output.len()].copy_from_slice(&output);
            Ok(output.len())
        })
        .expect("the output fits eventually");
        assert_eq!(read, output);
        assert_eq!(sizes, [1024, 2048, 4096, 8192]);
    }

    #[test]
    fn read_output_refuses_a_written_size_past_the_buffer() {
        let err = read_output("get_output", 16, |_| Ok(17)).unwrap_err();
        assert!(
            matches!(
                err,
                SessionError::OutputOverrun {
                    written: 17,
                    capacity: 16,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn read_output_gives_up_at_the_limit() {
        let err = read_output("get_output", MAX_OUTPUT, |_| {
            Err(NnError::BackendError(BackendError::TooLarge))
        })
        .unwrap_err();
        assert!(
            matches!(
                err,
                SessionError::Call {
                    call: "get_output",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
