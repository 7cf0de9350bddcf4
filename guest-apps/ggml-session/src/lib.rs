//! What the llama guests share: the model options they accept on the command line
//! ([`ModelOptions`], turned into the WASI-NN GGML metadata JSON), and a [`Session`] that loads
//! a preloaded model by alias and generates text from a prompt, whole or token by token.
//!
//! The `wasmedge-wasi-nn` crate links its imports only on wasm32-wasi; on other targets its
//! calls panic, so native tests cover [`options`] and leave [`session`] to the guests' end to
//! end tests.

pub mod options;
pub mod session;

pub use options::ModelOptions;
pub use session::{Session, SessionError, StreamEnd};
