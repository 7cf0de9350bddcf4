//! Graphs: loaded models with their options, and the registry of preloaded aliases.
//!
//! A preloaded model (`--nn-preload alias:GGML:TARGET:path`) is loaded lazily, on the first
//! `load_by_name*` for its alias (on a thread of its own if the guest asks for
//! `background-load`), and then kept for the life of the process: every later graph
//! of that alias shares it through an `Arc`, as does every execution context created from
//! those graphs (each context has a KV cache of its own). Models loaded with `load` are not
//! cached.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use crate::backend::backend;
use crate::batch::{SequencePool, SharedPool};
use crate::config::Options;
use crate::error::NnError;
use crate::preload::ModelPreload;
use crate::target::ExecutionTarget;

/// A model loaded by llama.cpp.
#[derive(Debug)]
pub struct LoadedModel {
    /// The llama-cpp-2 model.
    pub model: LlamaModel,
    /// Where it was loaded from (a temporary path for models passed as bytes).
    pub path: PathBuf,
}

impl LoadedModel {
    /// Loads the GGUF file at `path`.
    pub fn load(path: &Path, options: &Options) -> Result<Self, NnError> {
        if !path.is_file() {
            return Err(NnError::ModelNotFound {
                path: path.to_owned(),
            });
        }
        let backend = backend().ok_or(NnError::Backend)?;
        let params = LlamaModelParams::default().with_use_mmap(options.use_mmap);

        let started = std::time::Instant::now();
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|error| {
            NnError::ModelLoad {
                path: path.to_owned(),
                reason: error.to_string(),
            }
        })?;
        tracing::debug!(
            path = %path.display(),
            parameters = model.n_params(),
            n_ctx_train = model.n_ctx_train(),
            elapsed_ms = started.elapsed().as_millis(),
            "model loaded"
        );
        Ok(Self {
            model,
            path: path.to_owned(),
        })
    }

    /// Loads a model that the guest passed as bytes, staged in a temporary file that is
    /// removed again once llama.cpp has read (or mapped) it.
    pub fn load_bytes(bytes: &[u8], options: &Options) -> Result<Self, NnError> {
        use std::io::Write;
        let stage = |source| NnError::StageModel { source };
        let mut file = tempfile::Builder::new()
            .prefix("nnedge-model-")
            .suffix(".gguf")
            .tempfile()
            .map_err(stage)?;
        file.write_all(bytes).map_err(stage)?;
        file.flush().map_err(stage)?;
        Self::load(file.path(), options)
    }
}

/// A graph: a model plus the options its execution contexts start from.
#[derive(Clone, Debug)]
pub struct Graph {
    /// The shared model.
    pub model: Arc<LoadedModel>,
    /// Options from the graph's metadata; contexts copy them.
    pub options: Options,
    /// The target the guest asked for (informational: this build runs on the CPU).
    pub target: ExecutionTarget,
    /// With `parallel` > 1: the batched llama.cpp context whose sequences the graph's
    /// execution contexts lease.
    pub pool: Option<SharedPool>,
}

impl Graph {
    /// A graph of `model`; `options.parallel` > 1 gives it a pool of that many sequences.
    pub fn new(model: Arc<LoadedModel>, options: Options, target: ExecutionTarget) -> Self {
        let pool =
            (options.parallel > 1).then(|| SequencePool::new(Arc::clone(&model), options.parallel));
        Self {
            model,
            options,
            target,
            pool,
        }
    }
}

/// A preloaded model: loading on a background thread, or loaded.
#[derive(Debug)]
enum ModelState {
    Loading(std::thread::JoinHandle<Result<LoadedModel, NnError>>),
    Ready(Arc<LoadedModel>),
}

/// Preloaded aliases, their lazily loaded models, and the live graphs by handle.
#[derive(Debug, Default)]
pub struct GraphRegistry {
    preloads: HashMap<String, ModelPreload>,
    models: HashMap<String, ModelState>,
    graphs: HashMap<u32, Graph>,
    next_handle: u32,
}

impl GraphRegistry {
    /// A registry with these aliases; a later preload of the same alias replaces an earlier.
    pub fn new(preloads: impl IntoIterator<Item = ModelPreload>) -> Self {
        let mut registry = Self::default();
        for preload in preloads {
            tracing::debug!(%preload, "model registered");
            registry.preloads.insert(preload.alias.clone(), preload);
        }
        registry
    }

    /// The registered aliases.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.preloads.keys().map(String::as_str)
    }

    /// The model registered as `alias`, loading it on first use.
    ///
    /// With `options.background_load` the load runs on a thread of its own, and this
    /// answers [`NnError::ModelLoading`] until it has finished; without it, this waits for
    /// the load (also for one a background caller started).
    pub fn preloaded_model(
        &mut self,
        alias: &str,
        options: &Options,
    ) -> Result<(Arc<LoadedModel>, ExecutionTarget), NnError> {
        let preload = self
            .preloads
            .get(alias)
            .ok_or_else(|| NnError::UnknownModelName {
                name: alias.to_owned(),
            })?;
        let (path, target) = (preload.path.clone(), preload.target);
        let loaded = match self.models.remove(alias) {
            Some(ModelState::Ready(model)) => model,
            Some(ModelState::Loading(handle)) => {
                if options.background_load && !handle.is_finished() {
                    self.models
                        .insert(alias.to_owned(), ModelState::Loading(handle));
                    return Err(NnError::ModelLoading {
                        alias: alias.to_owned(),
                    });
                }
                let result = handle.join().unwrap_or_else(|panic| {
                    Err(NnError::Panic {
                        function: "load_by_name",
                        message: panic_message(panic.as_ref()),
                    })
                });
                Arc::new(result?)
            }
            None if options.background_load => {
                if !path.is_file() {
                    return Err(NnError::ModelNotFound { path });
                }
                let options = options.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("load {alias}"))
                    .spawn(move || LoadedModel::load(&path, &options))
                    .map_err(|error| NnError::Runtime {
                        action: "start a loading thread",
                        reason: error.to_string(),
                    })?;
                tracing::debug!(alias, "loading the model in the background");
                self.models
                    .insert(alias.to_owned(), ModelState::Loading(handle));
                return Err(NnError::ModelLoading {
                    alias: alias.to_owned(),
                });
            }
            None => Arc::new(LoadedModel::load(&path, options)?),
        };
        self.models
            .insert(alias.to_owned(), ModelState::Ready(Arc::clone(&loaded)));
        Ok((loaded, target))
    }

    /// Adds a graph and returns its handle. Handles are never reused, so a stale handle is
    /// always detected.
    pub fn insert(&mut self, graph: Graph) -> u32 {
        let handle = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1);
        self.graphs.insert(handle, graph);
        handle
    }

    /// The graph with this handle.
    pub fn get(&self, handle: u32) -> Result<&Graph, NnError> {
        self.graphs
            .get(&handle)
            .ok_or(NnError::UnknownGraph { graph: handle })
    }

    /// Removes a graph. Contexts created from it keep their model until they are finalized;
    /// a preloaded model stays loaded for later `load_by_name` calls.
    pub fn remove(&mut self, handle: u32) -> Result<Graph, NnError> {
        self.graphs
            .remove(&handle)
            .ok_or(NnError::UnknownGraph { graph: handle })
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
