//! A fake guest: a byte vector as linear memory, a bump allocator, and ABI call helpers.

use std::path::PathBuf;

use nnedge_wasi_nn_ggml::{ModelPreload, NnErrno, WasiNn};

/// Size of the fake linear memory.
const MEMORY_SIZE: usize = 16 << 20;
/// Where the output buffer starts, and its size.
const OUTPUT_AT: u32 = 8 << 20;
pub const OUTPUT_MAX: u32 = 4 << 20;

/// The shared test models directory.
pub fn shared_model(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/models"
    ))
    .join(name)
}

/// The default chat model in the nnedge cache, if present. Without it the test is skipped,
/// unless `CI` is set, in which case it fails.
pub fn default_model() -> Option<PathBuf> {
    let cache = std::env::var_os("NNEDGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/nnedge")));
    let path = cache?.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "default model missing at {} (CI is set): run the project's set-up first",
        path.display()
    );
    eprintln!("skipping: default model missing at {}", path.display());
    None
}

/// Routes the crate's tracing output to the test's captured stderr (once).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,llama-cpp-2=off".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A guest instance: linear memory plus the WASI-NN state.
pub struct Guest {
    pub memory: Vec<u8>,
    pub nn: WasiNn,
    next: u32,
}

impl Guest {
    pub fn new(preloads: &[&str]) -> Self {
        init_logs();
        let preloads = preloads
            .iter()
            .map(|spec| spec.parse::<ModelPreload>().unwrap());
        Self {
            memory: vec![0; MEMORY_SIZE],
            nn: WasiNn::new(preloads),
            next: 64,
        }
    }

    /// A guest with `alias` preloaded from `path`.
    pub fn with_model(alias: &str, path: &std::path::Path) -> Self {
        Self::new(&[&format!("{alias}:GGML:AUTO:{}", path.display())])
    }

    /// Copies `bytes` into fresh guest memory and returns their address.
    pub fn put(&mut self, bytes: &[u8]) -> u32 {
        let at = self.alloc(u32::try_from(bytes.len()).unwrap());
        let start = at as usize;
        self.memory[start..start + bytes.len()].copy_from_slice(bytes);
        at
    }

    pub fn alloc(&mut self, len: u32) -> u32 {
        let at = self.next;
        self.next = (self.next + len + 7) & !7;
        assert!(self.next < OUTPUT_AT, "fake guest heap exhausted");
        at
    }

    pub fn read_u32(&self, at: u32) -> u32 {
        let at = at as usize;
        u32::from_le_bytes(self.memory[at..at + 4].try_into().unwrap())
    }

    /// Writes a U8 tensor structure for `data` and returns its address.
    pub fn tensor(&mut self, data: &[u8]) -> u32 {
        let dims = self.put(&1u32.to_le_bytes());
        let data_ptr = self.put(data);
        let words = [dims, 1, 3, data_ptr, u32::try_from(data.len()).unwrap()];
        self.put(
            &words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
    }

    pub fn load_by_name(&mut self, name: &str, config: Option<&str>) -> Result<u32, u32> {
        let name_ptr = self.put(name.as_bytes());
        let out = self.alloc(4);
        let name_len = u32::try_from(name.len()).unwrap();
        let code = match config {
            None => self
                .nn
                .load_by_name(&mut self.memory, name_ptr, name_len, out),
            Some(config) => {
                let config_ptr = self.put(config.as_bytes());
                let config_len = u32::try_from(config.len()).unwrap();
                self.nn.load_by_name_with_config(
                    &mut self.memory,
                    name_ptr,
                    name_len,
                    config_ptr,
                    config_len,
                    out,
                )
            }
        };
        if code == 0 {
            Ok(self.read_u32(out))
        } else {
            Err(code)
        }
    }

    pub fn init(&mut self, graph: u32) -> Result<u32, u32> {
        let out = self.alloc(4);
        match self.nn.init_execution_context(&mut self.memory, graph, out) {
            0 => Ok(self.read_u32(out)),
            code => Err(code),
        }
    }

    /// Loads `alias` with `config` and creates a context, panicking on failure.
    pub fn context(&mut self, alias: &str, config: &str) -> u32 {
        let graph = self
            .load_by_name(alias, Some(config))
            .expect("load_by_name_with_config");
        self.init(graph).expect("init_execution_context")
    }

    pub fn set_input(&mut self, context: u32, index: u32, data: &[u8]) -> u32 {
        let tensor = self.tensor(data);
        self.nn.set_input(&mut self.memory, context, index, tensor)
    }

    pub fn output(&mut self, context: u32, index: u32) -> Result<Vec<u8>, u32> {
        let written = self.alloc(4);
        match self.nn.get_output(
            &mut self.memory,
            context,
            index,
            OUTPUT_AT,
            OUTPUT_MAX,
            written,
        ) {
            0 => Ok(self.read_output(written)),
            code => Err(code),
        }
    }

    pub fn output_single(&mut self, context: u32, index: u32) -> Result<Vec<u8>, u32> {
        let written = self.alloc(4);
        match self.nn.get_output_single(
            &mut self.memory,
            context,
            index,
            OUTPUT_AT,
            OUTPUT_MAX,
            written,
        ) {
            0 => Ok(self.read_output(written)),
            code => Err(code),
        }
    }

    fn read_output(&self, written: u32) -> Vec<u8> {
        let len = self.read_u32(written) as usize;
        self.memory[OUTPUT_AT as usize..OUTPUT_AT as usize + len].to_vec()
    }

    /// Output index 1 parsed as JSON.
    pub fn metadata(&mut self, context: u32) -> serde_json::Value {
        serde_json::from_slice(&self.output(context, 1).unwrap()).unwrap()
    }

    /// Streams with `compute_single` until it stops returning success; returns the pieces
    /// and the final code. `fini_single` is not called.
    pub fn stream(&mut self, context: u32) -> (Vec<Vec<u8>>, u32) {
        let mut pieces = Vec::new();
        for _ in 0..10_000 {
            let code = self.nn.compute_single(context);
            if code != NnErrno::Success.code() {
                return (pieces, code);
            }
            pieces.push(self.output_single(context, 0).unwrap());
        }
        panic!("compute_single never ended");
    }
}
