//! WASI-NN through the real host: `nnedge run --nn-preload` with the llama guests on real
//! models, compared with llama-cpp-2 called directly; the nn-probe guest's robustness cases;
//! embeddings through the API server guest; and bad model files named in the error.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::num::NonZeroU32;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;

use crate::support::{default_model, guest, nnedge, run_nnedge, shared_model, texts};

fn path(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// `--nn-preload` for `model` under `alias`, on the CPU target.
fn preload(alias: &str, model: &Path) -> String {
    format!("{alias}:GGML:CPU:{}", path(model))
}

/// A host that panicked or died of a signal shows here: every run must end with an exit code.
fn assert_no_crash(code: i32, err: &str) {
    assert!(code >= 0, "nnedge died of a signal: {err}");
    assert!(!err.contains("panicked"), "nnedge panicked: {err}");
}

/// Settings shared by the stories260K runs through the guest and through llama-cpp-2.
const STORIES_PROMPT: &str = "Once upon a time";
const STORIES_CTX: u32 = 256;
const STORIES_N_PREDICT: usize = 48;
const THREADS: i32 = 2;

/// Greedy generation with llama-cpp-2 directly, with what the host does for llama-simple:
/// the plugin's default batch sizes (512), BOS added and special tokens parsed in the prompt,
/// one decode for the whole prompt, stop at end of generation or `n_predict` tokens.
fn direct_greedy_text(model_path: &Path, prompt: &str, n_ctx: u32, n_predict: usize) -> Vec<u8> {
    let backend = nnedge_wasi_nn_ggml::backend::backend().expect("llama.cpp backend");
    let model = LlamaModel::load_from_file(backend, model_path, &LlamaModelParams::default())
        .expect("load the model directly");
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(512)
        .with_n_ubatch(512)
        .with_n_threads(THREADS)
        .with_n_threads_batch(THREADS);
    let mut context = model.new_context(backend, params).expect("context");
    let tokens = model.vocab().tokenize(prompt.as_bytes(), true, true);

    // Decode the prompt with logits for its last token only.
    let mut batch = LlamaBatch::new(512, 1);
    for (position, token) in tokens.iter().enumerate() {
        let last = position + 1 == tokens.len();
        let position = i32::try_from(position).expect("short prompt");
        batch.add(*token, position, &[0], last).expect("batch");
    }
    context.decode(&mut batch).expect("decode the prompt");

    // Sample greedily, decoding one token at a time.
    let mut sampler = LlamaSampler::greedy();
    let (mut index, mut position) = (batch.n_tokens() - 1, tokens.len());
    let mut text = Vec::new();
    for _ in 0..n_predict {
        let token = sampler.sample(&context, index);
        if model.vocab().is_eog(token) {
            break;
        }
        text.extend(model.vocab().token_to_piece(token, true, None));
        batch.clear();
        let at = i32::try_from(position).expect("short text");
        batch.add(token, at, &[0], true).expect("batch");
        context.decode(&mut batch).expect("decode a token");
        (index, position) = (0, position + 1);
    }
    text
}

#[test]
fn stories260k_greedy_through_llama_simple_matches_llama_cpp_2() {
    let Some(simple) = guest("llama-simple") else {
        return;
    };
    let Some(model) = shared_model("stories260K.gguf") else {
        return;
    };
    let expected = direct_greedy_text(&model, STORIES_PROMPT, STORIES_CTX, STORIES_N_PREDICT);
    assert!(
        expected.len() > 40,
        "too little reference text: {expected:?}"
    );

    let output = nnedge()
        .args(["run", "--nn-preload", &preload("default", &model)])
        .arg(&simple)
        .args(["--prompt", STORIES_PROMPT, "--temp", "0"])
        .args(["--ctx-size", &STORIES_CTX.to_string()])
        .args(["--n-predict", &STORIES_N_PREDICT.to_string()])
        .args(["--threads", &THREADS.to_string()])
        .output()
        .expect("failed to start nnedge");
    let (_, err) = texts(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&expected),
        "the guest's text differs from llama-cpp-2's"
    );
}

/// The question as one ChatML user turn with no system prompt, cueing the assistant: what
/// llama-chat's default template renders for it.
const FRANCE: &str = "What is the capital of France?";
const FRANCE_CHATML: &str =
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";

/// Model flags shared by the SmolLM2 runs: greedy, short, small context, two threads.
const SMOL_FLAGS: &[&str] = &[
    "--temp",
    "0",
    "--n-predict",
    "32",
    "--ctx-size",
    "512",
    "--threads",
    "2",
];

#[test]
fn smollm2_knows_paris_through_compute_and_the_chat_stream() {
    let (Some(simple), Some(chat)) = (guest("llama-simple"), guest("llama-chat")) else {
        return;
    };
    let Some(model) = default_model() else { return };
    let preload = preload("default", &model);

    // llama-simple: `compute`, then the whole text from `get_output`.
    let output = nnedge()
        .args(["run", "--nn-preload", &preload])
        .arg(&simple)
        .args(["--prompt", FRANCE_CHATML])
        .args(SMOL_FLAGS)
        .output()
        .expect("failed to start nnedge");
    let (computed, err) = texts(&output);
    assert!(output.status.success(), "{err}");
    assert!(computed.contains("Paris"), "{computed:?}");

    // llama-chat: `compute_single` token by token, the question piped in.
    let mut child = nnedge()
        .args(["run", "--nn-preload", &preload])
        .arg(&chat)
        .args(SMOL_FLAGS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start nnedge");
    let mut stdin = child.stdin.take().expect("piped stdin");
    writeln!(stdin, "{FRANCE}\n/exit").expect("write to the chat");
    drop(stdin);
    let output = child.wait_with_output().expect("chat output");
    let (streamed, err) = texts(&output);
    assert!(output.status.success(), "{err}");
    assert_eq!(
        streamed,
        format!("{computed}\n"),
        "the streamed answer differs from the computed one"
    );
}

/// What each nn-probe case must report (error codes of the WASI-NN GGML ABI).
const PROBE_EXPECTED: &[(&str, i32)] = &[
    ("unknown-alias", 8),
    ("invalid-json-config", 2),
    ("wrong-config-types", 1),
    ("non-gguf-model", 1),
    ("truncated-gguf", 1),
    ("invalid-encoding", 2),
    ("oob-name-pointer", 1),
    ("negative-pointer", 1),
    ("oob-handle-pointer", 1),
    ("huge-name-length", 1),
    ("huge-builder-array", 1),
    ("huge-tensor-length", 1),
    ("oob-tensor-pointer", 1),
    ("oob-output-buffer", 1),
    // The length word inside the output buffer is written after the output: allowed.
    ("overlapping-pointers", 0),
    ("unknown-graph", 1),
    ("unknown-context", 1),
    ("use-after-unload", 1),
    ("double-unload", 1),
    ("use-after-finalize", 1),
    ("invalid-utf8-prompt", 1),
    ("invalid-json-metadata", 2),
    ("wrong-metadata-types", 1),
    // As in WasmEdge's plugin, the tensor type of a prompt is not checked: bytes are bytes.
    ("wrong-tensor-type", 0),
    ("bad-input-index", 1),
    ("bad-output-index", 1),
    ("out-max-too-small", 7),
    ("stream-to-end", 100),
    ("normal-inference", 0),
];

/// The text nn-probe printed to stderr for `case` (`nn-probe: <case>: "<text>"`).
fn probe_note<'a>(err: &'a str, case: &str) -> Option<&'a str> {
    let prefix = format!("nn-probe: {case}: ");
    err.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
}

#[test]
fn nn_probe_gets_every_error_code_and_still_infers() {
    let Some(probe) = guest("nn-probe") else {
        return;
    };
    let Some(model) = shared_model("stories260K.gguf") else {
        return;
    };

    // Every case the probe knows has an expectation here.
    let (code, listed, err) = run_nnedge(&["run", path(&probe), "--list"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let expected: Vec<&str> = PROBE_EXPECTED.iter().map(|(case, _)| *case).collect();
    assert_eq!(listed, expected, "nn-probe's cases changed");

    // All cases in one process, sharing one graph and context.
    let (code, out, err) = run_nnedge(&[
        "run",
        "--nn-preload",
        &preload("default", &model),
        path(&probe),
    ]);
    assert_no_crash(code, &err);
    assert_eq!(code, 0, "{out}\n{err}");
    let got: BTreeMap<&str, i32> = out
        .lines()
        .filter_map(|line| {
            let (case, errno) = line.strip_prefix("case ")?.split_once(": errno ")?;
            Some((case, errno.parse().ok()?))
        })
        .collect();
    let wanted: BTreeMap<&str, i32> = PROBE_EXPECTED.iter().copied().collect();
    assert_eq!(got, wanted, "{out}");

    // The last, normal inference produced text, the same greedy text as the stream.
    let normal = probe_note(&err, "normal-inference").expect("normal-inference text");
    assert!(normal.len() > 10, "{normal}");
    assert_eq!(probe_note(&err, "stream-to-end"), Some(normal));
}

/// Kills the server guest when the test ends, passing or failing.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Waits until the server accepts connections on `port`; fails if it exits first.
fn wait_until_listening(server: &mut Server, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if let Some(status) = server.0.try_wait().expect("server status") {
            let mut err = String::new();
            if let Some(stderr) = server.0.stderr.as_mut() {
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("the API server exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "the API server never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`post_json`], again while the server answers 503 because its models are still loading
/// in the background (for up to two minutes).
fn post_when_loaded(port: u16, target: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, response) = post_json(port, target, body);
        let loading = status == 503 && response["error"]["code"] == "model_loading";
        if !loading || Instant::now() > deadline {
            return (status, response);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One HTTP/1.1 POST with a JSON body; returns the status code and the body as JSON.
fn post_json(port: u16, target: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let body = body.to_string();
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let request = format!(
        "POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("receive");

    let response = String::from_utf8(response).expect("UTF-8 response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, serde_json::from_str(body).expect("JSON body"))
}

fn floats(value: &serde_json::Value) -> Vec<f64> {
    let array = value.as_array().expect("an array of numbers");
    array
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Neither llama-simple nor nn-probe has an embedding mode (nn-probe embeds only its fixed
/// prompt), so the embeddings go through the API server guest's `/v1/embeddings`, with
/// stories260K as its (unused) chat model.
#[test]
fn minilm_embeddings_through_the_api_server_match_the_reference() {
    let Some(server) = guest("llama-api-server") else {
        return;
    };
    let (Some(chat), Some(embed)) = (
        shared_model("stories260K.gguf"),
        shared_model("all-MiniLM-L6-v2-Q8_0.gguf"),
    ) else {
        return;
    };
    let Some(reference) = shared_model("all-MiniLM-L6-v2.reference-embeddings.json") else {
        return;
    };
    let reference: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(reference).unwrap()).unwrap();
    let vectors = reference["vectors"].as_array().expect("reference vectors");

    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_nnedge"))
        .env_remove("RUST_LOG")
        .args(["run", "--nn-preload", &preload("default", &chat)])
        .args(["--nn-preload", &preload("embed", &embed)])
        .arg(&server)
        .args([
            "--model-alias",
            "default,embed",
            "--model-name",
            "stories,minilm",
        ])
        .args(["--ctx-size", "256,512", "--threads", "2"])
        .args(["--socket-addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start nnedge");
    let mut server = Server(child);
    wait_until_listening(&mut server, port);

    let inputs: Vec<&str> = vectors.iter().filter_map(|v| v["input"].as_str()).collect();
    let request = serde_json::json!({ "model": "minilm", "input": inputs });
    let (status, response) = post_when_loaded(port, "/v1/embeddings", &request);
    assert_eq!(status, 200, "{response}");
    let data = response["data"].as_array().expect("data");
    assert_eq!(data.len(), vectors.len(), "{response}");

    let mut tokens = 0;
    for (item, vector) in data.iter().zip(vectors) {
        let (got, want) = (floats(&item["embedding"]), floats(&vector["embedding"]));
        assert_eq!(got.len(), want.len());
        let similarity = cosine(&got, &want);
        assert!(
            similarity >= 0.999,
            "{}: cosine {similarity}",
            vector["input"]
        );
        tokens += vector["token_ids"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(response["usage"]["prompt_tokens"], tokens, "{response}");
}

#[test]
fn missing_or_broken_model_files_are_named_and_fail_cleanly() {
    let Some(simple) = guest("llama-simple") else {
        return;
    };
    let Some(stories) = shared_model("stories260K.gguf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let not_gguf = dir.path().join("notes.gguf");
    fs_err::write(&not_gguf, "this is a text file, not a model\n").unwrap();
    let truncated = dir.path().join("half.gguf");
    let bytes = fs_err::read(&stories).unwrap();
    fs_err::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    for model in [dir.path().join("no-such-model.gguf"), not_gguf, truncated] {
        let (code, out, err) = run_nnedge(&[
            "run",
            "--nn-preload",
            &preload("default", &model),
            path(&simple),
            "--prompt",
            STORIES_PROMPT,
        ]);
        assert_no_crash(code, &err);
        assert_eq!(code, 1, "{}: {err}", model.display());
        assert!(out.is_empty(), "{}: {out}", model.display());
        assert!(err.contains(path(&model)), "the path is not named: {err}");
        assert!(err.contains("llama-simple: error: "), "{err}");
    }
}
