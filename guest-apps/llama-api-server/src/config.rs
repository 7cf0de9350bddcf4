//! Command-line flags and the server configuration derived from them.
//!
//! The flags follow LlamaEdge's llama-api-server (`--model-name`, `--model-alias`,
//! `--ctx-size`, `--prompt-template`, `--socket-addr`, ...) so its users feel at home, plus
//! `--parallel`, `--queue-size` and `--max-body-size` for this server's scheduler and HTTP
//! layer. [`ServerConfig::from_args`] parses and validates them; the WASI-NN metadata each
//! graph is loaded with comes from [`ServerConfig::chat_graph_metadata`] and
//! [`ServerConfig::embedding_graph_metadata`].

use std::net::SocketAddr;

use clap::Parser;
use serde_json::{json, Map, Value};

use crate::templates::{ChatTemplate, PromptTemplate, UnknownTemplate};

/// The flags, as clap parses them.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "llama-api-server",
    version,
    about = "OpenAI-compatible API server on WASI-NN"
)]
pub struct Args {
    /// Model names reported by the API: chat model, then embedding model (comma-separated).
    #[arg(long, short = 'n', default_value = "default")]
    pub model_name: String,
    /// Preload aliases of the models (`--nn-preload ALIAS:...`): chat, then embedding.
    #[arg(long, short = 'a', default_value = "default")]
    pub model_alias: String,
    /// Context size in tokens (per model: chat,embedding; one value applies to both).
    #[arg(long, short = 'c', default_value = "4096")]
    pub ctx_size: String,
    /// Batch size for prompt processing (per model: chat,embedding).
    #[arg(long, short = 'b', default_value = "512")]
    pub batch_size: String,
    /// Prompt template: chatml, llama-3-chat, llama-2-chat, mistral-instruct, phi-3-chat,
    /// gemma-instruct or embedding (a second value names the embedding model's template).
    /// The host cannot pass the model's GGUF metadata to the guest, so the default is chatml.
    #[arg(long, short = 'p')]
    pub prompt_template: Option<String>,
    /// Text that ends generation (passed to WASI-NN as `reverse-prompt`).
    #[arg(long, short = 'r')]
    pub reverse_prompt: Option<String>,
    /// Tokens to generate when a request sets no limit; -1 until end of sequence.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub n_predict: i64,
    /// Threads for inference (default: the host's choice).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Default sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temp: f64,
    /// Default nucleus sampling threshold.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Repetition penalty (1 disables it).
    #[arg(long, default_value_t = 1.1)]
    pub repeat_penalty: f64,
    /// Default presence penalty.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub presence_penalty: f64,
    /// Default frequency penalty.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub frequency_penalty: f64,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8080", conflicts_with = "port")]
    pub socket_addr: SocketAddr,
    /// Port to listen on, on all interfaces (0.0.0.0), like LlamaEdge's `--port`.
    #[arg(long)]
    pub port: Option<u16>,
    /// API key clients must send as `Authorization: Bearer KEY` (default: env `API_KEY`).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Requests generated at once, each in a WASI-NN execution context of its own; on
    /// nnedge their decode steps are batched (continuous batching).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: u32,
    /// Requests that may wait for a free slot; beyond this the server answers 503.
    #[arg(long, default_value_t = 32)]
    pub queue_size: usize,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub max_body_size: usize,
}

/// Why the flags do not make a usable configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A prompt template name is not one this server knows.
    #[error(transparent)]
    Template(#[from] UnknownTemplate),
    /// A per-model list has more entries than there are models.
    #[error("`--{flag}` has {found} values; give one, or one per model (chat,embedding)")]
    TooManyValues {
        /// The flag.
        flag: &'static str,
        /// How many values it has.
        found: usize,
    },
    /// A number in a per-model list does not parse.
    #[error("`--{flag}` value `{value}` is not a positive integer")]
    NotANumber {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: String,
    },
    /// More than two models were named.
    #[error("`--model-alias` names at most two models (chat,embedding), got {found}")]
    TooManyModels {
        /// How many aliases were given.
        found: usize,
    },
}

/// One model the server loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// The name the API reports and requests may use.
    pub name: String,
    /// The WASI-NN preload alias.
    pub alias: String,
    /// Context size in tokens.
    pub ctx_size: u32,
    /// Batch size for prompt processing.
    pub batch_size: u32,
}

/// The validated configuration the server runs with.
#[derive(Clone)]
pub struct ServerConfig {
    /// The chat (generation) model.
    pub chat: ModelConfig,
    /// The embedding model, when `--model-alias` names two.
    pub embedding: Option<ModelConfig>,
    /// Template that turns chat messages into a prompt.
    pub template: PromptTemplate,
    /// Whether `--prompt-template` chose it (else the model's own may replace the default).
    pub template_given: bool,
    /// Reverse prompt handed to WASI-NN.
    pub reverse_prompt: Option<String>,
    /// Default generation limit.
    pub n_predict: i64,
    /// Inference threads, if set.
    pub threads: Option<u32>,
    /// Default sampling parameters.
    pub sampling: Sampling,
    /// Listening address.
    pub socket_addr: SocketAddr,
    /// The API key, if one is required.
    api_key: Option<String>,
    /// Number of generation slots.
    pub parallel: usize,
    /// Maximum number of waiting requests.
    pub queue_size: usize,
    /// Maximum request body in bytes.
    pub max_body_size: usize,
}

/// Sampling defaults; requests override them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Temperature.
    pub temp: f64,
    /// Nucleus threshold.
    pub top_p: f64,
    /// Repetition penalty.
    pub repeat_penalty: f64,
    /// Presence penalty.
    pub presence_penalty: f64,
    /// Frequency penalty.
    pub frequency_penalty: f64,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is a secret: show only whether one is set.
        f.debug_struct("ServerConfig")
            .field("chat", &self.chat)
            .field("embedding", &self.embedding)
            .field("template", &self.template)
            .field("socket_addr", &self.socket_addr)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("parallel", &self.parallel)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Validates parsed flags; `env_api_key` is the `API_KEY` environment variable.
    pub fn from_args(args: Args, env_api_key: Option<String>) -> Result<Self, ConfigError> {
        let aliases = split_list(&args.model_alias);
        if aliases.len() > 2 {
            return Err(ConfigError::TooManyModels {
                found: aliases.len(),
            });
        }
        let names = split_list(&args.model_name);
        let ctx = numbers("ctx-size", &args.ctx_size)?;
        let batch = numbers("batch-size", &args.batch_size)?;
        let model = |i: usize, default_name: &str| ModelConfig {
            name: names
                .get(i)
                .cloned()
                .unwrap_or_else(|| default_name.to_owned()),
            alias: aliases[i].clone(),
            ctx_size: *ctx.get(i).unwrap_or(&ctx[0]),
            batch_size: *batch.get(i).unwrap_or(&batch[0]),
        };
        let chat = model(0, "default");
        let embedding = (aliases.len() == 2).then(|| model(1, "embedding"));

        let template_given = args.prompt_template.is_some();
        let template = match args.prompt_template.as_deref().map(split_list) {
            Some(list) => list[0].parse()?,
            None => PromptTemplate::DEFAULT,
        };
        let socket_addr = match args.port {
            Some(port) => SocketAddr::from(([0, 0, 0, 0], port)),
            None => args.socket_addr,
        };
        let api_key = args.api_key.or(env_api_key).filter(|k| !k.is_empty());
        Ok(Self {
            chat,
            embedding,
            template,
            template_given,
            reverse_prompt: args.reverse_prompt.filter(|r| !r.is_empty()),
            n_predict: args.n_predict,
            threads: args.threads,
            sampling: Sampling {
                temp: args.temp,
                top_p: args.top_p,
                repeat_penalty: args.repeat_penalty,
                presence_penalty: args.presence_penalty,
                frequency_penalty: args.frequency_penalty,
            },
            socket_addr,
            api_key,
            parallel: args.parallel as usize,
            queue_size: args.queue_size,
            max_body_size: args.max_body_size,
        })
    }

    /// Whether `Authorization` header value `header` grants access.
    pub fn authorized(&self, header: Option<&str>) -> bool {
        let Some(key) = &self.api_key else {
            return true;
        };
        // the scheme is case-insensitive (RFC 9110 section 11.1)
        let Some((scheme, token)) = header.and_then(|h| h.trim_start().split_once(' ')) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        constant_time_eq(token.trim().as_bytes(), key.as_bytes())
    }

    /// Follows the model's own chat template (`jinja`, GGUF `tokenizer.chat_template`) unless
    /// `--prompt-template` was given. Returns a note for the log when the model's template
    /// is missing or of no known family and the default stays.
    pub fn adopt_model_template(&mut self, jinja: Option<&str>) -> Option<String> {
        if self.template_given {
            return None;
        }
        let Some(jinja) = jinja else {
            return Some(format!(
                "the model names no chat template; using {} (see --prompt-template)",
                self.template.name()
            ));
        };
        match ChatTemplate::from_model_template(jinja) {
            Some(template) => {
                self.template = PromptTemplate::Chat(template);
                None
            }
            None => Some(format!(
                "the model's chat template is of no family this server knows; using {} (see \
                 --prompt-template)",
                self.template.name()
            )),
        }
    }

    /// Whether clients must send an API key.
    pub fn requires_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// Metadata the chat graph is loaded with (`load_by_name_with_config`).
    pub fn chat_graph_metadata(&self) -> String {
        let mut map = self.common_metadata(&self.chat);
        let s = self.sampling;
        map.insert("n-predict".into(), json!(self.n_predict));
        // nnedge's key for one batched llama.cpp context shared by the slots' contexts.
        map.insert("parallel".into(), json!(self.parallel));
        map.insert("temp".into(), json!(s.temp));
        map.insert("top-p".into(), json!(s.top_p));
        map.insert("repeat-penalty".into(), json!(s.repeat_penalty));
        map.insert("presence-penalty".into(), json!(s.presence_penalty));
        map.insert("frequency-penalty".into(), json!(s.frequency_penalty));
        if let Some(reverse) = &self.reverse_prompt {
            map.insert("reverse-prompt".into(), json!(reverse));
        }
        Value::Object(map).to_string()
    }

    /// Metadata the embedding graph is loaded with, if there is one.
    pub fn embedding_graph_metadata(&self) -> Option<String> {
        let model = self.embedding.as_ref()?;
        let mut map = self.common_metadata(model);
        map.insert("embedding".into(), json!(true));
        Some(Value::Object(map).to_string())
    }

    fn common_metadata(&self, model: &ModelConfig) -> Map<String, Value> {
        let mut map = Map::new();
        // nnedge's key: load on a host thread and answer "busy" meanwhile, so the server
        // keeps answering (503 while loading); other runtimes ignore it.
        map.insert("background-load".into(), json!(true));
        map.insert("ctx-size".into(), json!(model.ctx_size));
        map.insert("batch-size".into(), json!(model.batch_size));
        if let Some(threads) = self.threads {
            map.insert("threads".into(), json!(threads));
        }
        map
    }
}

fn split_list(text: &str) -> Vec<String> {
    let list: Vec<String> = text.split(',').map(|s| s.trim().to_owned()).collect();
    if list.is_empty() {
        vec![String::new()]
    } else {
        list
    }
}

fn numbers(flag: &'static str, text: &str) -> Result<Vec<u32>, ConfigError> {
    let list = split_list(text);
    if list.len() > 2 {
        return Err(ConfigError::TooManyValues {
            flag,
            found: list.len(),
        });
    }
    list.into_iter()
        .map(|value| match value.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError::NotANumber { flag, value }),
        })
        .collect()
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> ServerConfig {
        let args =
            Args::try_parse_from(std::iter::once("llama-api-server").chain(args.iter().copied()))
                .expect("flags parse");
        ServerConfig::from_args(args, None).expect("flags are valid")
    }

    #[test]
    fn defaults_follow_llamaedge() {
        let config = config(&[]);
        assert_eq!(config.socket_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.chat.alias, "default");
        assert_eq!(config.chat.ctx_size, 4096);
        assert!(config.embedding.is_none());
        assert_eq!(config.template, PromptTemplate::DEFAULT);
        assert_eq!(config.parallel, 1);
    }

    #[test]
    fn two_aliases_load_an_embedding_model_with_its_own_sizes() {
        let config = config(&[
            "--model-alias",
            "chat,embed",
            "--model-name",
            "smol,minilm",
            "--ctx-size",
            "2048,512",
        ]);
        let embedding = config.embedding.as_ref().expect("embedding model");
        assert_eq!(
            (embedding.alias.as_str(), embedding.name.as_str()),
            ("embed", "minilm")
        );
        assert_eq!((config.chat.ctx_size, embedding.ctx_size), (2048, 512));
        assert_eq!(embedding.batch_size, 512);
        let metadata: Value =
            serde_json::from_str(&config.embedding_graph_metadata().unwrap()).unwrap();
        assert_eq!(
            metadata,
            json!({"ctx-size": 512, "batch-size": 512, "embedding": true, "background-load": true})
        );
    }

    #[test]
    fn port_binds_all_interfaces() {
        assert_eq!(
            config(&["--port", "9000"]).socket_addr,
            "0.0.0.0:9000".parse().unwrap()
        );
        let local = config(&["--socket-addr", "127.0.0.1:8123"]);
        assert_eq!(local.socket_addr, "127.0.0.1:8123".parse().unwrap());
    }

    #[test]
    fn chat_metadata_carries_defaults_and_reverse_prompt() {
        let config = config(&[
            "--threads",
            "2",
            "--reverse-prompt",
            "User:",
            "--n-predict",
            "64",
            "--parallel",
            "4",
        ]);
        let metadata: Value = serde_json::from_str(&config.chat_graph_metadata()).unwrap();
        assert_eq!(metadata["parallel"], 4);
        assert_eq!(metadata["background-load"], true);
        assert_eq!(metadata["threads"], 2);
        assert_eq!(metadata["reverse-prompt"], "User:");
        assert_eq!(metadata["n-predict"], 64);
        assert_eq!(metadata["ctx-size"], 4096);
    }

    #[test]
    fn the_models_template_replaces_the_default_but_not_a_chosen_one() {
        let llama3 = Some("{{ '<|start_header_id|>' + m['role'] }}");
        let mut server = config(&[]);
        assert_eq!(server.adopt_model_template(llama3), None);
        assert_eq!(server.template.name(), "llama-3-chat");

        let mut server = config(&[]);
        let note = server.adopt_model_template(Some("{{ m }}")).unwrap();
        assert!(note.contains("no family"), "{note}");
        assert_eq!(server.template, PromptTemplate::DEFAULT);
        assert!(server
            .adopt_model_template(None)
            .unwrap()
            .contains("no chat template"));

        let mut server = config(&["--prompt-template", "gemma-instruct"]);
        assert_eq!(server.adopt_model_template(llama3), None);
        assert_eq!(server.template.name(), "gemma-instruct");
    }

    #[test]
    fn api_key_from_flag_or_environment() {
        let args = Args::try_parse_from(["x"]).unwrap();
        let config = ServerConfig::from_args(args, Some("sekrit".into())).unwrap();
        assert!(config.requires_api_key());
        assert!(config.authorized(Some("Bearer sekrit")));
        assert!(!config.authorized(Some("Bearer wrong")));
        assert!(!config.authorized(Some("sekrit")));
        assert!(!config.authorized(None));
        assert!(
            !format!("{config:?}").contains("sekrit"),
            "the key must not appear in logs"
        );
        assert!(config_open().authorized(None));
    }

    fn config_open() -> ServerConfig {
        config(&[])
    }

    #[test]
    fn rejects_bad_lists_and_templates() {
        let parse = |a: &[&str]| {
            let args = Args::try_parse_from(std::iter::once("x").chain(a.iter().copied())).unwrap();
            ServerConfig::from_args(args, None)
        };
        assert!(matches!(
            parse(&["--model-alias", "a,b,c"]),
            Err(ConfigError::TooManyModels { found: 3 })
        ));
        assert!(matches!(
            parse(&["--ctx-size", "lots"]),
            Err(ConfigError::NotANumber { .. })
        ));
        assert!(matches!(
            parse(&["--prompt-template", "vicuna-9"]),
            Err(ConfigError::Template(_))
        ));
        assert!(Args::try_parse_from(["x", "--parallel", "0"]).is_err());
    }
}
