//! Integration tests of the server logic: real HTTP bytes in, real HTTP bytes out, through
//! [`llama_api_server::app::App`] with a scripted backend standing in for WASI-NN (which
//! exists only inside a WebAssembly host; the end-to-end tests with a real model run the
//! built guest under nnedge).

mod endpoints;
mod errors;
mod scheduling;
mod streaming;
mod support;
