//! `nnedge run`: one WASI guest, start to exit, like the `wasmedge` CLI.
//!
//! Steps: read and check the file, instrument it with a call-depth limit, find (or make) its
//! AOT build, check its imports, create the host modules it needs (WASI, WASI-NN, logging),
//! instantiate, call `_start` on a thread with a large stack, and return the guest's exit
//! code, or say where it trapped.
//!
//! Call depth: WasmEdge 0.14.1 has no limit of its own. Unbounded recursion would overflow the
//! native stack in AOT code (SIGSEGV, exit 139, no message) and grow the interpreter's stack
//! without bound. So the module is rewritten first (see [`crate::instrument`]) to count nested
//! calls and trap past `--max-call-depth` ([`DEFAULT_MAX_CALL_DEPTH`] by default), in both
//! modes alike, and the guest runs on a thread that reserves [`GUEST_STACK_BYTES`] of stack
//! (pages are committed only when touched). The limit is lowered for a module whose largest
//! function could not nest that deep in the stack's [`FRAME_BUDGET_BYTES`].
//!
//! Known limit: a module that already carries WasmEdge native code (from `nnedge compile` or
//! `wasmedge compile`) runs as it is: rewriting it would throw its native code away. It gets
//! no call-depth limit (unbounded recursion crashes it as above) and its traps name no
//! function. Lifting this would take instrumenting in `nnedge compile` too, with the limit
//! recorded in the output for `nnedge run` to read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nnedge_wasi_nn_ggml::{ModelPreload, WasiNn};
use wasmedge_sdk::config::{CommonConfigOptions, Config, ConfigBuilder};
use wasmedge_sdk::vm::SyncInst;
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{AsInstance, Module, Store, Vm};

use crate::instrument::{self, InstrumentError, Instrumented};
use crate::wasi_options::{DirMapping, EnvVar};
use crate::{aot, cache_dir, guest_log, imports, nn_host, traps};

/// The first bytes of every WebAssembly binary module.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// How deep guest calls may nest unless `--max-call-depth` says otherwise: far deeper than
/// ordinary code goes (serde_json, for one, stops parsing at 128 levels of nesting), and
/// shallow enough that this many frames of a function with about 1,400 locals still fit in
/// [`FRAME_BUDGET_BYTES`].
pub const DEFAULT_MAX_CALL_DEPTH: u32 = 10_000;

/// The stack reserved for the thread that runs a guest. It is address space, not memory:
/// pages are committed only as deep calls touch them (a guest at the default limit with
/// small frames touches a few MiB).
pub const GUEST_STACK_BYTES: usize = 256 << 20;

/// The part of [`GUEST_STACK_BYTES`] for the guest's own frames. The rest is for WasmEdge's
/// frames and for host functions called at the deepest point (WASI, WASI-NN with llama.cpp).
pub const FRAME_BUDGET_BYTES: u64 = 224 << 20;

/// Everything `nnedge run` needs to know about one guest run.
#[derive(Debug, Clone)]
pub struct GuestRun {
    pub wasm: PathBuf,
    pub args: Vec<String>,
    pub dirs: Vec<DirMapping>,
    pub envs: Vec<EnvVar>,
    pub preloads: Vec<ModelPreload>,
    /// Run the module in WasmEdge's interpreter instead of its AOT build.
    pub interpreter: bool,
    /// How deep guest calls may nest before the guest traps.
    pub max_call_depth: u32,
}

impl GuestRun {
    /// Runs the guest to completion, on a thread with a stack of [`GUEST_STACK_BYTES`], and
    /// returns its exit code.
    pub fn run(&self) -> Result<u32> {
        let run = self.clone();
        let thread = std::thread::Builder::new()
            .name("guest".to_owned())
            .stack_size(GUEST_STACK_BYTES)
            .spawn(move || run.run_here())
            .context("failed to start a thread for the guest")?;
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs the guest on the calling thread.
    fn run_here(&self) -> Result<u32> {
        // Validate the module and its imports before spending time on compilation.
        let original = read_module(&self.wasm)?;
        let config = ConfigBuilder::new(CommonConfigOptions::default())
            .build()
            .context("failed to configure WasmEdge")?;
        let (module, instrumented) = self.load(&original, &config)?;
        let bytes = instrumented.as_ref().map_or(&original, |i| &i.bytes);
        let mut wasi = self.wasi_module()?;
        let wasi_functions = wasi.as_ref().func_names().unwrap_or_default();
        let needs = imports::check(&module, &wasi_functions)
            .with_context(|| format!("cannot run `{}`", self.wasm.display()))?;
        tracing::debug!(
            ?needs,
            interpreter = self.interpreter,
            "guest imports checked"
        );
        let module = match self.interpreter {
            true => module,
            false => {
                let compiled = aot::cached(&cache_dir::cache_root()?, &self.wasm, bytes)?;
                Module::from_file(Some(&config), &compiled).map_err(|e| {
                    anyhow::anyhow!("failed to load the AOT build `{}`: {e}", compiled.display())
                })?
            }
        };

        // The other host modules, each created only if the guest imports it.
        let mut nn = match needs.nn {
            true => Some(nn_host::import_object(WasiNn::new(self.preloads.clone()))?),
            false => None,
        };
        let guest = self
            .wasm
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut log = match needs.logging {
            true => Some(guest_log::import_object(guest_log::GuestLog { guest })?),
            false => None,
        };
        if !needs.nn && !self.preloads.is_empty() {
            tracing::warn!("--nn-preload given, but the guest does not import wasi_ephemeral_nn");
        }

        let mut instances: HashMap<String, &mut dyn SyncInst> = HashMap::new();
        instances.insert(imports::WASI_MODULE.to_owned(), wasi.as_mut());
        if let Some(nn) = nn.as_mut() {
            instances.insert(nnedge_wasi_nn_ggml::MODULE_NAME.to_owned(), nn);
        }
        if let Some(log) = log.as_mut() {
            instances.insert(guest_log::MODULE_NAME.to_owned(), log);
        }
        let store = Store::new(Some(&config), instances).context("failed to create the store")?;
        let mut vm = Vm::new(store);
        vm.register_module(None, module)
            .map_err(|e| anyhow::anyhow!("failed to instantiate `{}`: {e}", self.wasm.display()))?;

        let result = vm.run_func(None, "_start", []);
        let site = match (&result, &instrumented, vm.active_module()) {
            (Err(_), Some(i), Some(instance)) => traps::site(instance, bytes, i.max_call_depth),
            _ => None,
        };
        drop(vm);
        match result {
            Ok(_) => Ok(wasi.exit_code()),
            Err(err) => Err(traps::describe(&err, &self.wasm, site.as_ref())),
        }
    }

    /// Instruments the module (unless it carries native code) and has WasmEdge load and
    /// validate it.
    fn load(&self, original: &[u8], config: &Config) -> Result<(Module, Option<Instrumented>)> {
        let instrumented = match aot::is_precompiled(original) {
            true => None,
            false => Some(instrument::instrument(
                original,
                self.max_call_depth,
                FRAME_BUDGET_BYTES,
            )),
        };
        let bytes = match &instrumented {
            Some(Ok(instrumented)) => &instrumented.bytes,
            _ => original,
        };
        let module = Module::from_bytes(Some(config), bytes).map_err(|e| {
            anyhow::anyhow!(
                "`{}` is not a valid WebAssembly module: {e}",
                self.wasm.display()
            )
        })?;
        Ok((module, self.report(instrumented)))
    }

    /// Logs how instrumenting a module that WasmEdge accepted went (`None`: it carries native
    /// code), and returns the instrumented module if there is one.
    fn report(
        &self,
        outcome: Option<Result<Instrumented, InstrumentError>>,
    ) -> Option<Instrumented> {
        let wasm = self.wasm.display();
        match outcome {
            None => tracing::debug!(
                module = %wasm,
                "module carries native code: running it as it is, without a call-depth limit"
            ),
            Some(Ok(instrumented)) => {
                tracing::debug!(
                    module = %wasm,
                    max_call_depth = instrumented.max_call_depth,
                    largest_frame = instrumented.largest_frame,
                    "module instrumented with a call-depth limit"
                );
                return Some(instrumented);
            }
            Some(Err(InstrumentError::NoFunctions)) => {
                tracing::debug!(module = %wasm, "module defines no function to instrument")
            }
            Some(Err(err)) => tracing::warn!("running `{wasm}` without a call-depth limit: {err}"),
        }
        None
    }

    fn wasi_module(&self) -> Result<WasiModule> {
        // WASI's argv[0] is the module path, as the wasmedge CLI passes it.
        let mut args = vec![self.wasm.to_string_lossy().into_owned()];
        args.extend(self.args.iter().cloned());
        if let Some(bad) = args.iter().find(|a| a.contains('\0')) {
            bail!(
                "guest argument `{}` contains a NUL byte",
                bad.escape_default()
            );
        }
        let envs: Vec<String> = self
            .envs
            .iter()
            .map(|e| format!("{}={}", e.key, e.value))
            .collect();
        let dirs: Vec<String> = self.dirs.iter().map(DirMapping::to_wasmedge).collect();
        WasiModule::create(
            Some(args.iter().map(String::as_str).collect()),
            Some(envs.iter().map(String::as_str).collect()),
            Some(dirs.iter().map(String::as_str).collect()),
        )
        .context("failed to create the WASI module")
    }
}

/// Reads a module file, refusing anything that is not a WebAssembly binary.
pub fn read_module(path: &Path) -> Result<Vec<u8>> {
    let bytes = fs_err::read(path).context("failed to read the guest module")?;
    if !bytes.starts_with(WASM_MAGIC) {
        let hint = if bytes.starts_with(b"(module") || bytes.starts_with(b"(component") {
            " (it looks like WebAssembly text: compile it to binary first)"
        } else {
            ""
        };
        bail!(
            "`{}` is not a WebAssembly module: it does not start with `\\0asm`{hint}",
            path.display()
        );
    }
    Ok(bytes)
}
