//! WASI-NN (`wasi_ephemeral_nn`) GGML backend for nnedge, on llama.cpp through llama-cpp-2.
//!
//! Guests written for WasmEdge's WASI-NN GGML plugin (LlamaEdge's apps, anything built with
//! the `wasmedge-wasi-nn` crate) call these functions unmodified. The crate knows nothing of
//! WasmEdge: the host registers the functions listed in [`abi::IMPORTS`] under
//! [`abi::MODULE_NAME`] and forwards each call, with the caller's linear memory as a byte
//! slice, to the [`WasiNn`] method of the same name.
//!
//! Layout: [`abi`] (codes and guest structures), [`memory`] (bounds-checked guest memory),
//! [`config`] (metadata JSON), [`preload`] (`--nn-preload`), [`graph`] (models and aliases),
//! [`session`] (a llama.cpp context owning its model share), [`generation`] and [`stream`]
//! (sampling, stop conditions and UTF-8-safe streaming), [`context`] (execution contexts),
//! [`backend`] (llama.cpp initialisation and logs).
//!
//! # Execution contexts and continuous batching
//!
//! Each execution context owns a llama.cpp context (its own KV cache), so contexts of one
//! graph never disturb each other, at the cost of one KV cache each and one decode call per
//! context per token. The sampling and stopping logic lives in [`generation::Generation`],
//! which only reads the logits at a batch index and names the token to decode next; it never
//! owns the llama.cpp context. Continuous batching fits on top without changing it: a graph
//! holds one llama.cpp context with `n_seq_max` sequences, each execution context becomes a
//! sequence id, and a scheduler collects the next token of every active `Generation` into one
//! batch (each with its own position and sequence id), decodes once, and steps each
//! `Generation` at its batch index.
// TODO(#4): share one llama.cpp context per graph and batch the decode steps of its
// execution contexts (sequence ids per context, a scheduler that owns the decode loop).

pub mod abi;
pub mod backend;
pub mod config;
pub mod context;
pub mod error;
pub mod generation;
pub mod graph;
pub mod memory;
pub mod preload;
pub mod session;
pub mod stream;
pub mod target;
mod wasi_nn;

pub use abi::{NnErrno, IMPORTS, MODULE_NAME};
pub use error::NnError;
pub use preload::{ModelPreload, PreloadError, PRELOAD_FORM};
pub use target::{ExecutionTarget, GraphEncoding};
pub use wasi_nn::WasiNn;
