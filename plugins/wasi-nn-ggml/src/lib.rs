//! WASI-NN (`wasi_ephemeral_nn`) GGML backend for nnedge, on llama.cpp through llama-cpp-2.
//! (In progress: the `--nn-preload` parser comes first.)

pub mod preload;
pub mod target;

pub use preload::{ModelPreload, PreloadError, PRELOAD_FORM};
pub use target::{ExecutionTarget, GraphEncoding};
