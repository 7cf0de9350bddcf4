//! `nnedge run`: one WASI guest, start to exit, like the `wasmedge` CLI.
//!
//! Steps: read and check the file, find (or make) its AOT build, check its imports, create
//! the host modules it needs (WASI, WASI-NN, logging), instantiate, call `_start`, and
//! return the guest's exit code.
//!
//! Known limit: a guest that recurses without end is not stopped cleanly. Its AOT code
//! overflows the native stack and the process dies with SIGSEGV (exit 139, no message), and
//! WasmEdge 0.14.1's interpreter grows its own stack in memory without a bound. Fixing it
//! needs a call-depth limit in the runtime, or running the guest on a thread of its own with
//! a guarded stack and turning the fault into a trap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nnedge_wasi_nn_ggml::{ModelPreload, WasiNn};
use wasmedge_sdk::config::{CommonConfigOptions, ConfigBuilder};
use wasmedge_sdk::vm::SyncInst;
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{AsInstance, Module, Store, Vm};

use crate::wasi_options::{DirMapping, EnvVar};
use crate::{aot, cache_dir, guest_log, imports, nn_host, traps};

/// The first bytes of every WebAssembly binary module.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

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
}

// TODO(#2): turn unbounded guest recursion into a trap instead of a crash (see above).
impl GuestRun {
    /// Runs the guest to completion and returns its exit code.
    pub fn run(&self) -> Result<u32> {
        // Validate the module and its imports before spending time on compilation.
        let bytes = read_module(&self.wasm)?;
        let config = ConfigBuilder::new(CommonConfigOptions::default())
            .build()
            .context("failed to configure WasmEdge")?;
        let module = Module::from_bytes(Some(&config), &bytes).map_err(|e| {
            anyhow::anyhow!(
                "`{}` is not a valid WebAssembly module: {e}",
                self.wasm.display()
            )
        })?;
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
                let compiled = aot::cached(&cache_dir::cache_root()?, &self.wasm, &bytes)?;
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
        drop(vm);
        match result {
            Ok(_) => Ok(wasi.exit_code()),
            Err(err) => Err(traps::describe(&err, &self.wasm)),
        }
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
