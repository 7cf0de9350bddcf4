//! Which imports nnedge provides, and a clear refusal for any it does not.
//!
//! WasmEdge itself reports a missing import as `unknown import, Code: 0x302` without saying
//! what would provide it. nnedge checks the module's import list first and names the module,
//! the function and the fix.

use nnedge_wasi_nn_ggml::IMPORTS as NN_FUNCTIONS;
use wasmedge_sdk::Module;

use crate::guest_log;

/// WASI preview 1 as WasmEdge implements it, socket extensions included.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// What the guest needs from nnedge, read from its import section.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GuestNeeds {
    pub wasi: bool,
    pub nn: bool,
    pub logging: bool,
}

/// An import that nnedge cannot satisfy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error(
        "the module imports `{module}`.`{name}`, which nnedge does not provide; nnedge provides \
         `{WASI_MODULE}` (WASI preview 1 with WasmEdge's socket extensions), \
         `wasi_ephemeral_nn` (WASI-NN, GGML backend) and `wasi:logging/logging`{hint}"
    )]
    UnknownModule {
        module: String,
        name: String,
        hint: &'static str,
    },
    #[error(
        "the module imports `{module}`.`{name}`, which nnedge's {module} does not have; it has: \
         {available}"
    )]
    UnknownFunction {
        module: String,
        name: String,
        available: String,
    },
}

/// Checks every import of `module` and says which host modules to register.
///
/// `wasi_functions` are the names WasmEdge's WASI module exports (read from the instance, so
/// the list always matches the runtime).
pub fn check(module: &Module, wasi_functions: &[String]) -> Result<GuestNeeds, ImportError> {
    let mut needs = GuestNeeds::default();
    for import in module.imports() {
        let (module_name, name) = (import.module_name(), import.name());
        match module_name.as_ref() {
            WASI_MODULE => {
                if !wasi_functions.iter().any(|f| *f == name) {
                    return Err(ImportError::UnknownFunction {
                        module: module_name.into_owned(),
                        name: name.into_owned(),
                        available: wasi_functions.join(", "),
                    });
                }
                needs.wasi = true;
            }
            nnedge_wasi_nn_ggml::MODULE_NAME => {
                if !NN_FUNCTIONS.iter().any(|(f, _)| *f == name) {
                    let available: Vec<&str> = NN_FUNCTIONS.iter().map(|(f, _)| *f).collect();
                    return Err(ImportError::UnknownFunction {
                        module: module_name.into_owned(),
                        name: name.into_owned(),
                        available: available.join(", "),
                    });
                }
                needs.nn = true;
            }
            guest_log::MODULE_NAME => {
                if name != "log" {
                    return Err(ImportError::UnknownFunction {
                        module: module_name.into_owned(),
                        name: name.into_owned(),
                        available: "log".to_owned(),
                    });
                }
                needs.logging = true;
            }
            other => {
                return Err(ImportError::UnknownModule {
                    module: other.to_owned(),
                    name: name.into_owned(),
                    hint: hint_for(other),
                })
            }
        }
    }
    Ok(needs)
}

/// A pointer for the modules people most often meet.
fn hint_for(module: &str) -> &'static str {
    match module {
        "wasi_unstable" => "; the module targets the old `wasi_unstable`: rebuild it for wasm32-wasip1",
        m if m.starts_with("wasi:") => {
            "; WASI preview 2 components are not supported: build the guest for wasm32-wasip1"
        }
        "env" => "; `env` imports come from a C toolchain's unresolved symbols: link them into the module",
        _ => "",
    }
}
