//! Graph and context options from the metadata JSON guests pass to `load`,
//! `load_by_name_with_config` and `set_input` index 1.
//!
//! The keys follow WasmEdge's GGML plugin (`ctx-size`, `n-predict`, `reverse-prompt`, ...).
//! Every key is optional; a later document overrides only the keys it names. Unknown keys are
//! logged at debug level and ignored, `null` values are ignored, and a value of the wrong type
//! is an error ([`ConfigError::WrongType`]) so that a guest's typo does not pass silently.
//!
//! Two keys are nnedge's own, for graph metadata only; WasmEdge's plugin ignores them as
//! unknown keys. `parallel` asks for a graph whose execution contexts share one llama.cpp
//! context as that many sequences, with their decode steps batched (see [`crate::batch`]).
//! `background-load` makes `load_by_name_with_config` return at once with code 4 (busy)
//! while a preloaded model loads on a thread of its own, so a single-threaded guest can go
//! on answering (for example `503` to health checks) and ask again.

use serde_json::{Map, Value};

/// How many tokens `compute` may generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredictLimit {
    /// At most this many tokens (`n-predict` ≥ 0).
    Tokens(u64),
    /// Until an end-of-generation token; a full context is an error (`n-predict` = -1).
    UntilEnd,
    /// Until the context is full, which then is the expected end (`n-predict` = -2).
    UntilContextFull,
}

/// All options a guest can set through metadata, with llama.cpp-like defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Context window in tokens (`ctx-size`); 0 takes the model's training context.
    pub ctx_size: u32,
    /// Logical batch size for prompt processing (`batch-size`).
    pub batch_size: u32,
    /// Physical batch size (`ubatch-size`).
    pub ubatch_size: u32,
    /// Threads for generation and prompt processing (`threads`).
    pub threads: u32,
    /// Generation limit (`n-predict`).
    pub n_predict: PredictLimit,
    /// Accepted for compatibility; this CPU build offloads nothing (`n-gpu-layers`).
    pub n_gpu_layers: i64,
    /// Sampling temperature; 0 or less samples greedily (`temp`).
    pub temp: f32,
    /// Nucleus sampling threshold (`top-p`).
    pub top_p: f32,
    /// Top-k sampling; 0 disables it (`top-k`).
    pub top_k: i32,
    /// Min-p sampling threshold (`min-p`).
    pub min_p: f32,
    /// Repetition penalty; 1 disables it (`repeat-penalty`).
    pub repeat_penalty: f32,
    /// Presence penalty; 0 disables it (`presence-penalty`).
    pub presence_penalty: f32,
    /// Frequency penalty; 0 disables it (`frequency-penalty`).
    pub frequency_penalty: f32,
    /// Sampling seed (`seed`); `u32::MAX` picks a random seed, as in llama.cpp.
    pub seed: u32,
    /// Text that ends generation when produced; it is not part of the output (`reverse-prompt`).
    pub reverse_prompt: Option<String>,
    /// GBNF grammar constraining the output (`grammar`, or `json-schema` converted to GBNF).
    pub grammar: Option<String>,
    /// Compute a sentence embedding instead of generating text (`embedding`).
    pub embedding: bool,
    /// Memory-map the model file (`use-mmap`); applies when the model is first loaded.
    pub use_mmap: bool,
    /// Load a preloaded model on a background thread and answer busy until it is loaded
    /// (`background-load`).
    pub background_load: bool,
    /// Log timings at info level (`enable-log`).
    pub enable_log: bool,
    /// Log each step at info level (`enable-debug-log`).
    pub enable_debug_log: bool,
    /// Also print generated text to the host's stdout (`stream-stdout`).
    pub stream_stdout: bool,
    /// Execution contexts of the graph that share one batched llama.cpp context
    /// (`parallel`, 1 to [`MAX_PARALLEL`]); applies when the graph is loaded.
    pub parallel: u32,
}

/// The most sequences one llama.cpp context holds.
pub const MAX_PARALLEL: u32 = 256;

impl Default for Options {
    fn default() -> Self {
        Self {
            ctx_size: 4096,
            batch_size: 512,
            ubatch_size: 512,
            threads: default_threads(),
            n_predict: PredictLimit::UntilEnd,
            n_gpu_layers: 0,
            temp: 0.8,
            top_p: 0.95,
            top_k: 40,
            min_p: 0.05,
            repeat_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: u32::MAX,
            reverse_prompt: None,
            grammar: None,
            embedding: false,
            use_mmap: true,
            background_load: false,
            enable_log: false,
            enable_debug_log: false,
            stream_stdout: false,
            parallel: 1,
        }
    }
}

/// Why a metadata document was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The bytes are not UTF-8 JSON.
    #[error("metadata is not valid JSON: {source}")]
    NotJson {
        /// The parser's error.
        source: serde_json::Error,
    },
    /// The document is JSON but not an object.
    #[error("metadata must be a JSON object, got {found}")]
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// A key has a value of the wrong JSON type or range.
    #[error("metadata key `{key}` must be {expected}, got {found}")]
    WrongType {
        /// The key.
        key: String,
        /// What the key needs.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// `json-schema` could not be turned into a grammar.
    #[error("metadata key `{key}` holds a JSON schema llama.cpp cannot convert: {reason}")]
    InvalidSchema {
        /// The key (`json-schema` or `json_schema`).
        key: String,
        /// llama.cpp's reason.
        reason: String,
    },
}

/// What a metadata document changed, beyond the values themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// A key that only matters when a model or graph is loaded (`use-mmap`, `n-gpu-layers`,
    /// `parallel`).
    pub model_keys: bool,
}

impl Options {
    /// Applies a metadata document to these options. On error the options are unchanged.
    pub fn apply_json(&mut self, bytes: &[u8]) -> Result<Changes, ConfigError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|source| ConfigError::NotJson { source })?;
        let Value::Object(map) = value else {
            return Err(ConfigError::NotAnObject {
                found: json_type(&value),
            });
        };
        let mut updated = self.clone();
        let changes = updated.apply_map(&map)?;
        *self = updated;
        Ok(changes)
    }

    fn apply_map(&mut self, map: &Map<String, Value>) -> Result<Changes, ConfigError> {
        let mut changes = Changes::default();
        for (key, value) in map {
            if value.is_null() {
                tracing::debug!(key, "ignoring metadata key with a null value");
                continue;
            }
            self.apply_key(key, value, &mut changes)?;
        }
        Ok(changes)
    }

    fn apply_key(
        &mut self,
        key: &str,
        value: &Value,
        changes: &mut Changes,
    ) -> Result<(), ConfigError> {
        let v = Field { key, value };
        match key {
            "ctx-size" => self.ctx_size = v.unsigned()?,
            "batch-size" => self.batch_size = v.positive()?,
            "ubatch-size" => self.ubatch_size = v.positive()?,
            "threads" => self.threads = v.positive()?,
            "n-predict" => self.n_predict = v.predict_limit()?,
            "n-gpu-layers" => {
                self.n_gpu_layers = v.integer()?;
                changes.model_keys = true;
                tracing::debug!(
                    n_gpu_layers = self.n_gpu_layers,
                    "accepted; this build runs on the CPU"
                );
            }
            "temp" => self.temp = v.float()?,
            "top-p" => self.top_p = v.float()?,
            "top-k" => self.top_k = v.integer()?,
            "min-p" => self.min_p = v.float()?,
            "repeat-penalty" => self.repeat_penalty = v.positive_float()?,
            "presence-penalty" => self.presence_penalty = v.float()?,
            "frequency-penalty" => self.frequency_penalty = v.float()?,
            "seed" => self.seed = v.seed()?,
            "reverse-prompt" => self.reverse_prompt = Some(v.string()?).filter(|s| !s.is_empty()),
            "grammar" => self.grammar = Some(v.string()?).filter(|s| !s.is_empty()),
            "json-schema" | "json_schema" => self.grammar = Some(v.schema_grammar()?),
            "embedding" => self.embedding = v.boolean()?,
            "use-mmap" => {
                self.use_mmap = v.boolean()?;
                changes.model_keys = true;
            }
            "background-load" => {
                self.background_load = v.boolean()?;
                changes.model_keys = true;
            }
            "enable-log" => self.enable_log = v.boolean()?,
            "enable-debug-log" => self.enable_debug_log = v.boolean()?,
            "stream-stdout" => self.stream_stdout = v.boolean()?,
            "parallel" => {
                self.parallel = v.positive()?;
                if self.parallel > MAX_PARALLEL {
                    return Err(v.wrong("an integer from 1 to 256"));
                }
                changes.model_keys = true;
            }
            _ => tracing::debug!(key, "ignoring unknown metadata key"),
        }
        Ok(())
    }
}

/// One metadata key and its value, with typed accessors that name the key in errors.
struct Field<'a> {
    key: &'a str,
    value: &'a Value,
}

impl Field<'_> {
    fn wrong(&self, expected: &'static str) -> ConfigError {
        let mut found = self.value.to_string();
        if found.len() > 80 {
            found = format!("{}...", found.chars().take(80).collect::<String>());
        }
        ConfigError::WrongType {
            key: self.key.to_owned(),
            expected,
            found,
        }
    }

    fn integer<T: TryFrom<i64>>(&self) -> Result<T, ConfigError> {
        let number = self
            .value
            .as_i64()
            .ok_or_else(|| self.wrong("an integer"))?;
        T::try_from(number).map_err(|_| self.wrong("an integer in range"))
    }

    fn unsigned(&self) -> Result<u32, ConfigError> {
        let number = self
            .value
            .as_u64()
            .ok_or_else(|| self.wrong("a non-negative integer"))?;
        u32::try_from(number).map_err(|_| self.wrong("an integer below 2^32"))
    }

    fn positive(&self) -> Result<u32, ConfigError> {
        match self.unsigned()? {
            0 => Err(self.wrong("a positive integer")),
            n => Ok(n),
        }
    }

    fn predict_limit(&self) -> Result<PredictLimit, ConfigError> {
        match self.value.as_i64() {
            Some(-1) => Ok(PredictLimit::UntilEnd),
            Some(-2) => Ok(PredictLimit::UntilContextFull),
            Some(n) => u64::try_from(n)
                .map(PredictLimit::Tokens)
                .map_err(|_| self.wrong("a token count, -1 or -2")),
            None => self
                .value
                .as_u64()
                .map(PredictLimit::Tokens)
                .ok_or_else(|| self.wrong("a token count, -1 or -2")),
        }
    }

    fn seed(&self) -> Result<u32, ConfigError> {
        match self.value.as_i64() {
            // -1 asks for a random seed, like llama.cpp's command line.
            Some(-1) => Ok(u32::MAX),
            Some(n) => u32::try_from(n).map_err(|_| self.wrong("a seed from 0 to 2^32-1, or -1")),
            None => Err(self.wrong("an integer seed")),
        }
    }

    fn float(&self) -> Result<f32, ConfigError> {
        let number = self.value.as_f64().ok_or_else(|| self.wrong("a number"))?;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "sampling parameters are f32"
        )]
        let number = number as f32;
        if !number.is_finite() {
            return Err(self.wrong("a finite number"));
        }
        Ok(number)
    }

    fn positive_float(&self) -> Result<f32, ConfigError> {
        let number = self.float()?;
        if number <= 0.0 {
            return Err(self.wrong("a number above 0"));
        }
        Ok(number)
    }

    fn boolean(&self) -> Result<bool, ConfigError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.wrong("true or false"))
    }

    fn string(&self) -> Result<String, ConfigError> {
        self.value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.wrong("a string"))
    }

    /// A JSON schema, given as a JSON string (WasmEdge) or as an object, converted to GBNF.
    fn schema_grammar(&self) -> Result<String, ConfigError> {
        let schema = match self.value {
            Value::String(text) => text.clone(),
            Value::Object(_) => self.value.to_string(),
            _ => return Err(self.wrong("a JSON schema (string or object)")),
        };
        llama_cpp_2::json_schema_to_grammar(&schema).map_err(|error| ConfigError::InvalidSchema {
            key: self.key.to_owned(),
            reason: error.to_string(),
        })
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The default thread count: the number of physical cores, as llama.cpp's tools choose, since
/// hyper-threads slow matrix kernels down. Falls back to the logical CPU count.
pub fn default_threads() -> u32 {
    let logical = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let physical = physical_cores().unwrap_or(logical).clamp(1, logical);
    u32::try_from(physical).unwrap_or(1)
}

/// Counts distinct (package, core) pairs in sysfs.
fn physical_cores() -> Option<usize> {
    let mut cores = std::collections::HashSet::new();
    for entry in std::fs::read_dir("/sys/devices/system/cpu").ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("cpu") || !name[3..].bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let topology = entry.path().join("topology");
        let read = |file: &str| std::fs::read_to_string(topology.join(file)).ok();
        let (Some(package), Some(core)) = (read("physical_package_id"), read("core_id")) else {
            continue;
        };
        cores.insert((package.trim().to_owned(), core.trim().to_owned()));
    }
    (!cores.is_empty()).then_some(cores.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_known_keys_and_keeps_the_rest() {
        let mut options = Options::default();
        let json = br#"{"ctx-size": 1024, "n-predict": 16, "temp": 0, "reverse-prompt": "User:",
            "threads": 2, "seed": 42, "embedding": false, "unknown-key": [1, 2], "grammar": null}"#;
        options.apply_json(json).unwrap();
        assert_eq!(options.ctx_size, 1024);
        assert_eq!(options.n_predict, PredictLimit::Tokens(16));
        assert_eq!(options.temp, 0.0);
        assert_eq!(options.reverse_prompt.as_deref(), Some("User:"));
        assert_eq!(options.seed, 42);
        assert_eq!(options.batch_size, 512);
    }

    #[test]
    fn parallel_is_between_one_and_the_sequence_limit() {
        let mut options = Options::default();
        assert_eq!(options.parallel, 1);
        let changes = options.apply_json(br#"{"parallel": 4}"#).unwrap();
        assert_eq!(options.parallel, 4);
        assert!(changes.model_keys);
        for bad in [
            &br#"{"parallel": 0}"#[..],
            br#"{"parallel": 257}"#,
            br#"{"parallel": "4"}"#,
        ] {
            let error = options.apply_json(bad).unwrap_err().to_string();
            assert!(error.contains("`parallel`"), "{error}");
        }
        assert_eq!(options.parallel, 4);
    }

    #[test]
    fn n_predict_accepts_minus_one_and_minus_two() {
        let mut options = Options::default();
        options.apply_json(br#"{"n-predict": -2}"#).unwrap();
        assert_eq!(options.n_predict, PredictLimit::UntilContextFull);
        options.apply_json(br#"{"n-predict": -1}"#).unwrap();
        assert_eq!(options.n_predict, PredictLimit::UntilEnd);
        assert!(options.apply_json(br#"{"n-predict": -3}"#).is_err());
    }

    #[test]
    fn wrong_types_are_rejected_and_leave_options_unchanged() {
        let mut options = Options::default();
        let bad = [
            &br#"{"ctx-size": "big"}"#[..],
            br#"{"ctx-size": -5}"#,
            br#"{"threads": 0}"#,
            br#"{"temp": "hot"}"#,
            br#"{"embedding": 1}"#,
            br#"{"reverse-prompt": 3}"#,
            br#"{"repeat-penalty": 0}"#,
            br#"{"seed": 1.5}"#,
        ];
        for json in bad {
            let error = options.apply_json(json).unwrap_err();
            assert!(matches!(error, ConfigError::WrongType { .. }), "{error}");
        }
        let error = options
            .apply_json(br#"{"ctx-size": 8, "temp": "x"}"#)
            .unwrap_err();
        assert!(error.to_string().contains("`temp`"), "{error}");
        assert_eq!(options, Options::default());
    }

    #[test]
    fn malformed_documents_are_rejected() {
        let mut options = Options::default();
        assert!(matches!(
            options.apply_json(b"{"),
            Err(ConfigError::NotJson { .. })
        ));
        assert!(matches!(
            options.apply_json(b"\xff\xfe"),
            Err(ConfigError::NotJson { .. })
        ));
        assert!(matches!(
            options.apply_json(b"[1]"),
            Err(ConfigError::NotAnObject { .. })
        ));
    }

    #[test]
    fn json_schema_becomes_a_grammar() {
        let mut options = Options::default();
        let schema =
            br#"{"json_schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}"#;
        options.apply_json(schema).unwrap();
        assert!(options
            .grammar
            .as_deref()
            .unwrap_or_default()
            .contains("root"));
    }

    #[test]
    fn default_threads_is_at_least_one() {
        assert!(default_threads() >= 1);
    }
}
