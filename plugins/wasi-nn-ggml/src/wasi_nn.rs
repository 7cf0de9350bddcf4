//! [`WasiNn`]: the state behind one `wasi_ephemeral_nn` host module, with one method per ABI
//! function.
//!
//! Each method takes the calling instance's linear memory and the raw parameters, and returns
//! the error code for the guest. Failures are logged with their reason (the ABI has no way to
//! carry a message), and a panic inside a call is caught and reported as a runtime error, so
//! no guest input can abort the host.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::abi::{read_builders, GuestTensor, NnErrno, TensorType};
use crate::batch::PoolStats;
use crate::config::Options;
use crate::context::ExecutionContext;
use crate::error::NnError;
use crate::graph::{panic_message, Graph, GraphRegistry, LoadedModel};
use crate::memory::GuestMemory;
use crate::preload::ModelPreload;
use crate::target::{ExecutionTarget, GraphEncoding};

/// The state of the WASI-NN module for one guest: graphs and execution contexts by handle.
///
/// The host owns one per guest instance and calls one method per import, from the guest's
/// thread (it is not `Send`: execution contexts share batched llama.cpp contexts by `Rc`).
#[derive(Debug)]
pub struct WasiNn {
    graphs: GraphRegistry,
    contexts: HashMap<u32, ExecutionContext>,
    next_context: u32,
}

impl WasiNn {
    /// A module that serves these preloaded models by alias.
    pub fn new(preloads: impl IntoIterator<Item = ModelPreload>) -> Self {
        Self {
            graphs: GraphRegistry::new(preloads),
            contexts: HashMap::new(),
            next_context: 0,
        }
    }

    /// The aliases guests can pass to `load_by_name`.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.graphs.aliases()
    }

    /// `load(builder_array_ptr, builder_array_len, encoding, target, out_graph_ptr)`:
    /// builder 0 is the model bytes or `preload:<host path>`, builder 1 optional metadata.
    pub fn load(
        &mut self,
        memory: &mut [u8],
        builders_ptr: u32,
        builders_len: u32,
        encoding: u32,
        target: u32,
        graph_out: u32,
    ) -> u32 {
        guard("load", || {
            let mut memory = GuestMemory::new(memory);
            memory.check_writable(graph_out, 4)?;
            check_encoding(encoding)?;
            let target = ExecutionTarget::from_abi(target)
                .ok_or(NnError::UnknownTarget { value: target })?;
            let builders = read_builders(&memory, builders_ptr, builders_len)?;
            let (model_builder, metadata) = match builders.as_slice() {
                [] => return Err(NnError::NoBuilders),
                [model] => (model, None),
                [model, metadata, ..] => (model, Some(metadata)),
            };

            let mut options = Options::default();
            if let Some(metadata) = metadata {
                options.apply_json(metadata)?;
            }
            let model = match model_builder.strip_prefix(b"preload:") {
                Some(path) => {
                    let path = std::str::from_utf8(path).map_err(|_| NnError::NameNotUtf8)?;
                    LoadedModel::load(std::path::Path::new(path), &options)?
                }
                None => LoadedModel::load_bytes(model_builder, &options)?,
            };
            let graph = Graph::new(Arc::new(model), options, target);
            self.add_graph(&mut memory, graph, graph_out)
        })
    }

    /// `load_by_name(name_ptr, name_len, out_graph_ptr)`.
    pub fn load_by_name(
        &mut self,
        memory: &mut [u8],
        name_ptr: u32,
        name_len: u32,
        graph_out: u32,
    ) -> u32 {
        guard("load_by_name", || {
            let mut memory = GuestMemory::new(memory);
            self.load_named(&mut memory, name_ptr, name_len, None, graph_out)
        })
    }

    /// `load_by_name_with_config(name_ptr, name_len, config_ptr, config_len, out_graph_ptr)`.
    pub fn load_by_name_with_config(
        &mut self,
        memory: &mut [u8],
        name_ptr: u32,
        name_len: u32,
        config_ptr: u32,
        config_len: u32,
        graph_out: u32,
    ) -> u32 {
        guard("load_by_name_with_config", || {
            let mut memory = GuestMemory::new(memory);
            let config = memory.read(config_ptr, config_len)?.to_vec();
            self.load_named(&mut memory, name_ptr, name_len, Some(&config), graph_out)
        })
    }

    fn load_named(
        &mut self,
        memory: &mut GuestMemory<'_>,
        name_ptr: u32,
        name_len: u32,
        config: Option<&[u8]>,
        graph_out: u32,
    ) -> Result<NnErrno, NnError> {
        memory.check_writable(graph_out, 4)?;
        let name = std::str::from_utf8(memory.read(name_ptr, name_len)?)
            .map_err(|_| NnError::NameNotUtf8)?
            .to_owned();
        let mut options = Options::default();
        if let Some(config) = config {
            options.apply_json(config)?;
        }
        let (model, target) = self.graphs.preloaded_model(&name, &options)?;
        if target != ExecutionTarget::Cpu {
            tracing::debug!(%target, "this build runs on the CPU");
        }
        self.add_graph(memory, Graph::new(model, options, target), graph_out)
    }

    fn add_graph(
        &mut self,
        memory: &mut GuestMemory<'_>,
        graph: Graph,
        graph_out: u32,
    ) -> Result<NnErrno, NnError> {
        let handle = self.graphs.insert(graph);
        if let Err(error) = memory.write_u32(graph_out, handle) {
            let _ = self.graphs.remove(handle);
            return Err(error.into());
        }
        tracing::debug!(graph = handle, "graph loaded");
        Ok(NnErrno::Success)
    }

    /// `init_execution_context(graph, out_ctx_ptr)`.
    pub fn init_execution_context(
        &mut self,
        memory: &mut [u8],
        graph: u32,
        context_out: u32,
    ) -> u32 {
        guard("init_execution_context", || {
            let mut memory = GuestMemory::new(memory);
            memory.check_writable(context_out, 4)?;
            let context = ExecutionContext::new(self.graphs.get(graph)?);
            let handle = self.next_context;
            memory.write_u32(context_out, handle)?;
            self.next_context = self.next_context.wrapping_add(1);
            self.contexts.insert(handle, context);
            tracing::debug!(graph, context = handle, "execution context created");
            Ok(NnErrno::Success)
        })
    }

    /// `set_input(ctx, index, tensor_ptr)`: index 0 the prompt, index 1 metadata JSON.
    pub fn set_input(
        &mut self,
        memory: &mut [u8],
        context: u32,
        index: u32,
        tensor_ptr: u32,
    ) -> u32 {
        guard("set_input", || {
            let memory = GuestMemory::new(memory);
            let execution = self.context(context)?;
            let tensor = GuestTensor::read(&memory, tensor_ptr)?;
            match TensorType::from_abi(tensor.tensor_type) {
                None => {
                    return Err(NnError::UnknownTensorType {
                        value: tensor.tensor_type,
                    })
                }
                Some(TensorType::U8) => {}
                Some(other) => tracing::debug!(?other, "non-U8 input tensor read as bytes"),
            }
            match index {
                0 => execution.set_prompt(&tensor.data)?,
                1 => execution.set_metadata(&tensor.data)?,
                _ => return Err(NnError::UnknownInputIndex { index }),
            }
            Ok(NnErrno::Success)
        })
    }

    /// `compute(ctx)`.
    pub fn compute(&mut self, context: u32) -> u32 {
        guard("compute", || self.context(context)?.compute())
    }

    /// `get_output(ctx, index, out_ptr, out_max, out_written_ptr)`.
    ///
    /// `out_max = 0` means "size unknown": LlamaEdge's guests pass a buffer with capacity but
    /// length 0, and WasmEdge's plugin ignores the size, so the whole output is written,
    /// checked against the guest's memory instead of `out_max`.
    pub fn get_output(
        &mut self,
        memory: &mut [u8],
        context: u32,
        index: u32,
        out_ptr: u32,
        out_max: u32,
        written_ptr: u32,
    ) -> u32 {
        guard("get_output", || {
            let output = self.context(context)?.output(index)?;
            write_output(
                &mut GuestMemory::new(memory),
                &output,
                out_ptr,
                out_max,
                written_ptr,
            )
        })
    }

    /// `compute_single(ctx)`: one token per call; 100 once the sequence has ended.
    pub fn compute_single(&mut self, context: u32) -> u32 {
        guard("compute_single", || self.context(context)?.compute_single())
    }

    /// `get_output_single(ctx, index, out_ptr, out_max, out_written_ptr)`; `out_max = 0` as
    /// in [`WasiNn::get_output`].
    pub fn get_output_single(
        &mut self,
        memory: &mut [u8],
        context: u32,
        index: u32,
        out_ptr: u32,
        out_max: u32,
        written_ptr: u32,
    ) -> u32 {
        guard("get_output_single", || {
            let output = self.context(context)?.output_single(index)?;
            write_output(
                &mut GuestMemory::new(memory),
                &output,
                out_ptr,
                out_max,
                written_ptr,
            )
        })
    }

    /// `fini_single(ctx)`: ends a stream so the next `compute_single` starts afresh.
    pub fn fini_single(&mut self, context: u32) -> u32 {
        guard("fini_single", || {
            self.context(context)?.fini_single();
            Ok(NnErrno::Success)
        })
    }

    /// `unload(graph)`.
    pub fn unload(&mut self, graph: u32) -> u32 {
        guard("unload", || {
            self.graphs.remove(graph)?;
            tracing::debug!(graph, "graph unloaded");
            Ok(NnErrno::Success)
        })
    }

    /// `finalize_execution_context(ctx)`.
    pub fn finalize_execution_context(&mut self, context: u32) -> u32 {
        guard("finalize_execution_context", || {
            self.contexts
                .remove(&context)
                .ok_or(NnError::UnknownContext { context })?;
            tracing::debug!(context, "execution context finalized");
            Ok(NnErrno::Success)
        })
    }

    /// For tests and benchmarks: whether the context decodes in its graph's shared pool, and
    /// the decode counters of the pool it last used; `None` for an unknown handle.
    pub fn pool_stats(&self, context: u32) -> Option<(bool, Option<PoolStats>)> {
        let context = self.contexts.get(&context)?;
        Some((context.is_shared(), context.pool_stats()))
    }

    fn context(&mut self, context: u32) -> Result<&mut ExecutionContext, NnError> {
        self.contexts
            .get_mut(&context)
            .ok_or(NnError::UnknownContext { context })
    }
}

fn check_encoding(value: u32) -> Result<(), NnError> {
    match GraphEncoding::from_abi(value) {
        Some(GraphEncoding::Ggml) => Ok(()),
        Some(other) => Err(NnError::UnsupportedEncoding {
            encoding: other.name(),
        }),
        None => Err(NnError::UnknownEncoding { value }),
    }
}

/// Copies an output to the guest and stores its length at `written_ptr`.
fn write_output(
    memory: &mut GuestMemory<'_>,
    output: &[u8],
    out_ptr: u32,
    out_max: u32,
    written_ptr: u32,
) -> Result<NnErrno, NnError> {
    let len = u32::try_from(output.len()).map_err(|_| NnError::OutputTooLarge {
        len: output.len(),
        max: out_max,
    })?;
    if out_max != 0 && len > out_max {
        return Err(NnError::OutputTooLarge {
            len: output.len(),
            max: out_max,
        });
    }
    memory.check_writable(written_ptr, 4)?;
    memory.write(out_ptr, output)?;
    memory.write_u32(written_ptr, len)?;
    Ok(NnErrno::Success)
}

/// Runs one ABI call: logs a failure with its reason and turns it (or a panic) into a code.
fn guard(function: &'static str, call: impl FnOnce() -> Result<NnErrno, NnError>) -> u32 {
    let result = catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        let message = panic_message(panic.as_ref());
        Err(NnError::Panic { function, message })
    });
    match result {
        Ok(code) => {
            if code != NnErrno::Success {
                tracing::debug!(function, code = code.code(), "returning {code:?}");
            }
            code.code()
        }
        Err(error) => {
            let code = error.errno();
            if code == NnErrno::Busy {
                tracing::debug!(function, code = code.code(), "wasi-nn: {error}");
            } else if code == NnErrno::RuntimeError {
                tracing::error!(function, code = code.code(), "wasi-nn: {error}");
            } else {
                tracing::warn!(function, code = code.code(), "wasi-nn: {error}");
            }
            code.code()
        }
    }
}
