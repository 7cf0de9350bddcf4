//! `nnedge serve`: the bundled OpenAI-compatible API server guest on a real model, in one
//! command.
//!
//! Steps: resolve the model (fetching the default one on first use), find the
//! `llama-api-server.wasm` guest, make sure the port is free (so a clash is a one-line error,
//! not a guest failure), start a watcher that prints one ready line once `/health` answers,
//! and run the guest with the model preloaded as `default` (and `embedding`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use nnedge_wasi_nn_ggml::{ExecutionTarget, GraphEncoding, ModelPreload};

use crate::run::GuestRun;
use crate::wasi_options::EnvVar;
use crate::{cache_dir, gguf, guests, model};

/// The guest that serves the API.
const SERVER_GUEST: &str = "llama-api-server.wasm";

/// Options of `nnedge serve`; anything after `--` goes to the guest unchanged.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The chat model: a path to a .gguf file or a known model name.
    #[arg(long, default_value = model::DEFAULT_MODEL.name, value_name = "PATH_OR_NAME")]
    pub model: String,

    /// An embedding model (.gguf) served by /v1/embeddings beside the chat model.
    #[arg(long, value_name = "PATH")]
    pub embedding_model: Option<PathBuf>,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// The port to listen on.
    #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// Context size in tokens per request slot; `CHAT,EMBEDDING` sets both models.
    #[arg(long, value_name = "N[,N]", value_parser = parse_sizes)]
    pub ctx_size: Option<String>,

    /// How many requests are served at once.
    #[arg(long)]
    pub parallel: Option<u32>,

    /// CPU threads for inference (default: the machine's available parallelism).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// The chat template (chatml, llama-3-chat, llama-2-chat, mistral-instruct, phi-3-chat,
    /// gemma-instruct); default: the family of the model's own template (the guest reads it
    /// through WASI-NN), else chatml.
    #[arg(long)]
    pub prompt_template: Option<String>,

    /// Require this API key as a bearer token. Prefer the environment variable, which does
    /// not show in the process list.
    #[arg(long, env = "NNEDGE_API_KEY", hide_env_values = true, value_parser = parse_api_key)]
    pub api_key: Option<String>,

    /// Run the guest in WasmEdge's interpreter instead of its AOT build.
    #[arg(long)]
    pub force_interpreter: bool,

    /// Further llama-api-server flags, after `--`.
    #[arg(last = true)]
    pub guest_args: Vec<String>,
}

/// Runs the server until the guest exits; returns its exit code.
pub fn serve(args: ServeArgs) -> Result<u32> {
    let cache = cache_dir::cache_root()?;
    let chat_model = model::resolve(&cache, &args.model)?;
    let mut preloads = vec![preload("default", chat_model.clone())];
    let mut aliases = String::from("default");
    if let Some(path) = &args.embedding_model {
        model::check_gguf(path)
            .with_context(|| format!("--embedding-model `{}`", path.display()))?;
        preloads.push(preload("embedding", path.clone()));
        aliases.push_str(",embedding");
    }
    let wasm = guests::find(&cache, SERVER_GUEST)?;
    let address = format!("{}:{}", args.host, args.port);
    ensure_port_free(&address)?;

    let mut guest_args = vec![
        "--model-alias".to_owned(),
        aliases,
        "--socket-addr".to_owned(),
        address.clone(),
    ];
    guest_args.extend([
        "--model-name".to_owned(),
        model_names(&chat_model, args.embedding_model.as_deref()),
    ]);
    let threads = args.threads.unwrap_or_else(default_threads);
    guest_args.extend(["--threads".to_owned(), threads.to_string()]);
    // Walk the whole GGUF metadata now, so a truncated or corrupt model is a one-line error
    // before the guest starts. The guest follows the model's own chat template by itself.
    gguf::check_metadata(&chat_model)
        .with_context(|| format!("model `{}` is corrupt or truncated", chat_model.display()))?;
    let template = args.prompt_template.clone();
    for (flag, value) in [
        ("--ctx-size", args.ctx_size.clone()),
        ("--parallel", args.parallel.map(|v| v.to_string())),
        ("--prompt-template", template),
    ] {
        if let Some(value) = value {
            guest_args.extend([flag.to_owned(), value]);
        }
    }
    guest_args.extend(args.guest_args.iter().cloned());
    tracing::debug!(model = %chat_model.display(), threads, ?guest_args, "starting the API server guest");

    // The key reaches the guest through its own environment, never its argument list.
    let envs = args
        .api_key
        .iter()
        .map(|key| EnvVar {
            key: "API_KEY".to_owned(),
            value: key.clone(),
        })
        .collect();
    announce_when_ready(&args.host, args.port, args.api_key.is_some());
    GuestRun {
        wasm,
        args: guest_args,
        dirs: Vec::new(),
        envs,
        preloads,
        interpreter: args.force_interpreter,
        max_call_depth: crate::run::DEFAULT_MAX_CALL_DEPTH,
    }
    .run()
}

/// Refuses an empty key: it would silently serve without authentication. The message never
/// repeats the value.
fn parse_api_key(value: &str) -> Result<String, String> {
    match value.trim().is_empty() {
        true => Err(
            "the API key is empty; give a key, or unset NNEDGE_API_KEY and leave out \
                     --api-key to serve without one"
                .to_owned(),
        ),
        false => Ok(value.to_owned()),
    }
}

/// Accepts `N` or `N,M` (positive integers), as llama-api-server's per-model flags do.
fn parse_sizes(value: &str) -> Result<String, String> {
    let valid = value.split(',').count() <= 2
        && value
            .split(',')
            .all(|n| n.parse::<u32>().is_ok_and(|n| n > 0));
    match valid {
        true => Ok(value.to_owned()),
        false => Err(format!(
            "expected N or CHAT,EMBEDDING (positive integers), got `{value}`"
        )),
    }
}

fn preload(alias: &str, path: PathBuf) -> ModelPreload {
    ModelPreload {
        alias: alias.to_owned(),
        encoding: GraphEncoding::Ggml,
        target: ExecutionTarget::Auto,
        path,
    }
}

/// The names `/v1/models` shows: the model files' stems.
fn model_names(chat: &std::path::Path, embedding: Option<&std::path::Path>) -> String {
    let stem = |p: &std::path::Path| {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        name.strip_suffix(".gguf").unwrap_or(&name).to_owned()
    };
    match embedding {
        Some(e) => format!("{},{}", stem(chat), stem(e)),
        None => stem(chat),
    }
}

fn default_threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Binds and releases the address, so that a clash is reported before the guest starts.
fn ensure_port_free(address: &str) -> Result<()> {
    match TcpListener::bind(address) {
        Ok(listener) => {
            drop(listener);
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
            "cannot listen on {address}: the address is in use; stop the other server or pick \
             another port with --port"
        ),
        Err(err) => Err(anyhow::Error::new(err).context(format!("cannot listen on {address}"))),
    }
}

/// Prints one line on stdout, with a `curl` to try, as soon as `/health` answers 200.
fn announce_when_ready(host: &str, port: u16, with_key: bool) {
    let connect_host = if host == "0.0.0.0" {
        "127.0.0.1".to_owned()
    } else {
        host.to_owned()
    };
    let url_host = if connect_host.contains(':') {
        format!("[{connect_host}]")
    } else {
        connect_host.clone()
    };
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(600);
        while Instant::now() < deadline {
            if health_ok(&connect_host, port) {
                let auth = if with_key {
                    " -H \"Authorization: Bearer $NNEDGE_API_KEY\""
                } else {
                    ""
                };
                println!(
                    "nnedge serve: ready on http://{url_host}:{port} — try: curl \
                     http://{url_host}:{port}/v1/chat/completions{auth} -H 'Content-Type: \
                     application/json' -d '{{\"messages\":[{{\"role\":\"user\",\"content\":\"What \
                     is the capital of France?\"}}]}}'"
                );
                let _ = std::io::stdout().flush();
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
}

/// One `GET /health`; true on a 200 answer.
fn health_ok(host: &str, port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((host, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    matches!(stream.read(&mut head), Ok(n) if head[..n].starts_with(b"HTTP/1.1 200"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_one_or_two_positive_integers() {
        assert_eq!(parse_sizes("4096"), Ok("4096".to_owned()));
        assert_eq!(parse_sizes("2048,512"), Ok("2048,512".to_owned()));
        for bad in ["", "0", "-1", "1,2,3", "lots", "512,"] {
            assert!(parse_sizes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn model_names_are_file_stems() {
        let chat = std::path::Path::new("/m/SmolLM2-135M-Instruct.Q4_1.gguf");
        let embed = std::path::Path::new("/m/all-MiniLM-L6-v2-Q8_0.gguf");
        assert_eq!(model_names(chat, None), "SmolLM2-135M-Instruct.Q4_1");
        assert_eq!(
            model_names(chat, Some(embed)),
            "SmolLM2-135M-Instruct.Q4_1,all-MiniLM-L6-v2-Q8_0"
        );
    }
}
