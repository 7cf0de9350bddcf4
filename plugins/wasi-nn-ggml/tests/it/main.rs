//! Integration tests: the WASI-NN ABI driven over a `Vec<u8>` "guest memory" with real models.

mod batching;
mod build;
mod chat;
mod embeddings;
mod generation;
mod robustness;
mod support;
