//! An OpenAI-compatible API server for WasmEdge-style WebAssembly hosts.
//!
//! This library is the target-independent part of the `llama-api-server` guest: HTTP
//! parsing and framing ([`http`]), routing ([`router`]), OpenAI request and response shapes
//! ([`openai`], [`job`], [`embeddings`], [`error`]), chat templates ([`templates`]), stop
//! strings ([`stop`]), server-sent events ([`sse`]), the generation slots and their queue
//! ([`scheduler`]), metrics ([`metrics`]) and flags ([`config`]). [`app::App`] ties them
//! together on byte buffers. The binary adds the two target-specific pieces: a
//! single-threaded event loop over WasmEdge's socket extensions and a WASI-NN
//! implementation of [`backend::Backend`].

pub mod app;
pub mod backend;
pub mod config;
pub mod embeddings;
pub mod error;
pub mod http;
pub mod job;
pub mod metrics;
pub mod openai;
pub mod router;
pub mod scheduler;
pub mod sse;
pub mod stop;
pub mod templates;
