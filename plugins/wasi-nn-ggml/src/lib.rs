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
//! [`session`] (a llama.cpp context owning its model share), [`batch`] (sequences of a shared
//! context, decoded together), [`generation`] and [`stream`]
//! (sampling, stop conditions and UTF-8-safe streaming), [`context`] (execution contexts),
//! [`backend`] (llama.cpp initialisation and logs).
//!
//! # Execution contexts and continuous batching
//!
//! Every execution context has a KV cache of its own, so contexts never disturb each other.
//! A graph loaded with nnedge's `parallel` metadata key (N > 1) owns one llama.cpp context
//! with N sequences ([`batch::SequencePool`]); its execution contexts each lease a sequence,
//! and their decode steps run together: tokens are queued and decoded in one batch when any
//! of them needs its next logits. A guest that steps N streams in turn thus pays one decode
//! per round instead of N. Without `parallel`, or once its sequences are taken, a context
//! runs in a pool of one (an ordinary private llama.cpp context).

pub mod abi;
pub mod backend;
pub mod batch;
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
