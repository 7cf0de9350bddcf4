//! Turning a failed guest call into an error a person can act on: which trap, and in which
//! function.
//!
//! WasmEdge 0.14.1's C API reports neither a stack trace nor the failing function, so nnedge
//! reads the function from the globals its call-depth instrumentation keeps (see
//! [`crate::instrument`]) and names it from the module's name section.

use std::path::Path;

use wasmedge_sdk::error::WasmEdgeError;
use wasmedge_sdk::{AsInstance, Instance};

use crate::instrument::{self, CallState, STATE_EXPORT};

/// Where an instrumented guest was when it trapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapSite {
    /// The function, as the message shows it: "function `name`" or "function #N".
    pub function: String,
    /// The call-depth limit, when passing it was the trap.
    pub depth_exceeded: Option<u32>,
}

/// Reads the trap site from an instrumented guest's instance after its call failed.
/// `module` is the module's bytes (for its name section) and `max_call_depth` the limit built
/// into it. `None` when the global is missing or no function had been entered.
pub fn site(instance: &Instance, module: &[u8], max_call_depth: u32) -> Option<TrapSite> {
    let value = instance.get_global(STATE_EXPORT).ok()?.get_value().to_i64();
    let state = CallState::from_global(value);
    let index = state.function?;
    let function = match instrument::function_name(module, index) {
        Some(name) => format!("function `{name}`"),
        None => format!("function #{index}"),
    };
    Some(TrapSite {
        function,
        depth_exceeded: (state.depth > max_call_depth).then_some(max_call_depth),
    })
}

/// Describes why running the guest failed: a trap (which one, and where if `site` is known),
/// or a runtime error.
///
/// WasmEdge's own log (shown with `-v`) adds the instruction and its bytecode offset in
/// interpreter mode.
pub fn describe(err: &WasmEdgeError, wasm: &Path, site: Option<&TrapSite>) -> anyhow::Error {
    let guest = wasm.display();
    let place = site.map_or(String::new(), |s| format!(" in {}", s.function));
    match (err, site.and_then(|s| s.depth_exceeded)) {
        (WasmEdgeError::Core(_), Some(limit)) => anyhow::anyhow!(
            "guest `{guest}` trapped{place}: call stack exhausted (more than {limit} nested \
             calls; if the guest recurses this deep by design, raise the limit with \
             `nnedge run --max-call-depth N`)"
        ),
        (WasmEdgeError::Core(core), None) => anyhow::anyhow!(
            "guest `{guest}` trapped{place}: {core} (run with -v and --force-interpreter to see \
             WasmEdge's report of the instruction)"
        ),
        (WasmEdgeError::Vm(vm), _) => {
            anyhow::anyhow!("cannot run guest `{guest}`: {vm} (a command module exports `_start`)")
        }
        (other, _) => anyhow::anyhow!("guest `{guest}` failed{place}: {other}"),
    }
}
