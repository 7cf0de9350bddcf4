//! Integration tests of the `nnedge` binary: the real WasmEdge runtime running real guests.
//!
//! Guests come from `$NNEDGE_GUEST_DIR` (set by `cargo xtask test`). A test whose guest or
//! model is missing is skipped with a message, and fails when `CI` is set.

mod errors;
mod portable;
mod run;
mod serve;
mod support;
mod sysext;
mod traps;
mod wasi_nn;
