//! Turning a failed guest call into an error a person can act on.

use std::path::Path;

use wasmedge_sdk::error::WasmEdgeError;

/// Describes why running the guest failed: a trap (which one), or a runtime error.
///
/// The message names the trap. WasmEdge's own log (shown with `-v`) adds the instruction and
/// its bytecode offset in interpreter mode.
// TODO(#2): name the trapping function. WasmEdge 0.14.1's C API reports neither a stack
// trace nor the failing function; its log (interpreter mode only) has the bytecode offset,
// which the module's name section could map to a function, but the log goes to stdout with no
// callback to capture it.
pub fn describe(err: &WasmEdgeError, wasm: &Path) -> anyhow::Error {
    let guest = wasm.display();
    match err {
        WasmEdgeError::Core(core) => anyhow::anyhow!(
            "guest `{guest}` trapped: {core} (run with -v and --force-interpreter to see \
             WasmEdge's report of the instruction)"
        ),
        WasmEdgeError::Vm(vm) => {
            anyhow::anyhow!("cannot run guest `{guest}`: {vm} (a command module exports `_start`)")
        }
        other => anyhow::anyhow!("guest `{guest}` failed: {other}"),
    }
}
