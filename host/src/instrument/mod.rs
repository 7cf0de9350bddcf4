//! Call-depth instrumentation: rewrites a guest module so that it keeps count of its own
//! nesting and records which function it is in, before WasmEdge loads it.
//!
//! WasmEdge 0.14.1 reports neither the function a guest trapped in nor a stack overflow:
//! unbounded recursion kills the process with SIGSEGV in AOT code, and grows the interpreter's
//! stack without bound. So every function defined in the module gets a prologue and an
//! epilogue (imported host functions are left alone), around one global, the call state
//! (the depth in its high 32 bits, the current function's index in its low 32 bits):
//!
//! - prologue: save the call state in a new local, store one level deeper and this function's
//!   index, and trap with `unreachable` if the saved depth had reached the limit;
//! - the original body, inside a block with the function's results, each `return` turned
//!   into a branch out of that block;
//! - epilogue: restore the saved call state, which is the caller's depth and index.
//!
//! Every way into a function (a call, `call_indirect` through a table, an export called by
//! the host, the start function) runs its prologue, and no function index changes. The global
//! is appended after the module's own and exported as [`STATE_EXPORT`], so after a trap the
//! host reads where the guest was; the depth is above the limit only when the limit was the
//! trap. One packed global rather than two (depth, function) costs one load and two stores a
//! call; on a naive recursive Fibonacci in AOT code, where calls are nearly all the work, it
//! brought the compute time from about 2.2x to about 1.6x the uninstrumented module's.
//!
//! Steps: [`survey`] validates the module and estimates the largest native stack frame of its
//! functions (which bounds the limit, see [`instrument`]); [`rewrite`] re-encodes it with the
//! new code; [`names`] reads the name section to name a function after a trap.
//!
//! Known limits: a tail call (`return_call*`) runs the epilogue before it jumps, so it stays
//! a tail call; an exception thrown out of a function would skip its epilogue, but nnedge's
//! WasmEdge configuration does not enable the exception-handling proposal, so such modules do
//! not load at all.

mod names;
mod rewrite;
mod survey;
#[cfg(test)]
mod tests;

pub use names::function_name;

/// Export name of the instrumentation's call-state global, a mutable `i64`: the call depth in
/// its high 32 bits, the index of the function the guest is in (in the function index space)
/// in its low 32 bits.
pub const STATE_EXPORT: &str = "nnedge:call-state";

/// The call state before any function is entered: depth 0, and all function bits set.
const NO_FUNCTION: i64 = u32::MAX as i64;

/// The call state of an instrumented guest, read back from its [`STATE_EXPORT`] global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallState {
    /// How many instrumented calls are nested; above the limit only in the trap that enforces
    /// it.
    pub depth: u32,
    /// The function the guest is in (its index in the function index space), if any.
    pub function: Option<u32>,
}

impl CallState {
    /// Unpacks the global's value.
    pub fn from_global(value: i64) -> Self {
        let bits = value as u64;
        let function = (bits & 0xffff_ffff) as u32;
        CallState {
            depth: (bits >> 32) as u32,
            function: (i64::from(function) != NO_FUNCTION).then_some(function),
        }
    }
}

/// A module rewritten by [`instrument`].
#[derive(Debug, Clone)]
pub struct Instrumented {
    /// The rewritten module.
    pub bytes: Vec<u8>,
    /// The call-depth limit built into it: a call that would nest deeper traps.
    pub max_call_depth: u32,
    /// The largest native stack frame estimated for any of its functions, in bytes.
    pub largest_frame: u64,
}

/// Why a module was not instrumented. The caller runs it as it is.
#[derive(Debug, thiserror::Error)]
pub enum InstrumentError {
    /// The module does not parse or validate (with wasmparser's default features).
    #[error("the module does not validate: {source}")]
    Invalid {
        #[from]
        source: wasmparser::BinaryReaderError,
    },
    /// Re-encoding the module failed.
    #[error("the module could not be re-encoded: {source}")]
    Reencode {
        #[from]
        source: wasm_encoder::reencode::Error,
    },
    /// The module already exports a name the instrumentation needs.
    #[error("the module already exports `{name}`, a name nnedge's instrumentation uses")]
    ExportNameTaken { name: String },
    /// A defined function's type is not a function type (the survey's validation rules it
    /// out).
    #[error("function #{function} does not have a function type")]
    NotAFunctionType { function: u32 },
    /// The module defines no function, so there is nothing to count.
    #[error("the module defines no function")]
    NoFunctions,
}

/// Rewrites `bytes` with a call-depth limit of `max_call_depth`, lowered where needed so that
/// that many frames of the module's largest function fit in `stack_budget` bytes of native
/// stack. The limit is at least 1.
///
/// The frame estimate is deliberately generous (see [`survey`]): AOT code must reach the limit
/// before it can overflow the native stack, whichever functions recurse.
pub fn instrument(
    bytes: &[u8],
    max_call_depth: u32,
    stack_budget: u64,
) -> Result<Instrumented, InstrumentError> {
    let survey = survey::survey(bytes)?;
    if survey.function_types.is_empty() {
        return Err(InstrumentError::NoFunctions);
    }
    let fits = (stack_budget / survey.largest_frame.max(1)).max(1);
    let limit = u64::from(max_call_depth).min(fits).max(1);
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let bytes = rewrite::rewrite(bytes, &survey, limit)?;
    Ok(Instrumented {
        bytes,
        max_call_depth: limit,
        largest_frame: survey.largest_frame,
    })
}
