//! What `bench droplet` tests run against instead of DigitalOcean: the fake API on
//! 127.0.0.1 (whose droplets all have the public IPv4 127.0.0.1), a real `nnedge serve` on
//! 127.0.0.1 or a small stub node, and environments that can only aim at loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use nnedge_benches::cli::{BenchCommand, DropletArgs};
use nnedge_benches::environment;
use nnedge_digitalocean::client::{parse_api_url, API_URL_ENV};
use nnedge_digitalocean::fake::{FakeDigitalOcean, FakeOptions, DEFAULT_SPEC_PATH};
use nnedge_digitalocean::output::{OutputSink, SharedBuffer};
use nnedge_digitalocean::retry::RetryPolicy;
use nnedge_digitalocean::session::{RunEnv, Tuning};
use nnedge_digitalocean::wait::{Interrupt, PollPolicy};
use nnedge_digitalocean::ApiToken;

/// The small model the real server runs in tests.
pub const SMALL_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/models/stories260K.gguf"
);

/// Skips (returns `false`) when `path` is missing; fails under CI.
pub fn present(path: &Path, what: &str) -> bool {
    if path.exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} missing: {}",
        path.display()
    );
    eprintln!("skipped: {what} missing at {}", path.display());
    false
}

/// The fake API with a Flatcar image in fra1, or `None` (skip) without the API description.
pub fn fake(options: FakeOptions) -> Option<FakeDigitalOcean> {
    if !present(
        Path::new(DEFAULT_SPEC_PATH),
        "the DigitalOcean API description",
    ) {
        return None;
    }
    let fake = FakeDigitalOcean::start(options).expect("the fake API starts");
    fake.add_image("flatcar-stable-4081.2.0", "fra1", &["flatcar", "nnedge"]);
    Some(fake)
}

/// Panics unless `api_url` is on this machine: a test never falls back to, or aims at, the
/// real API.
#[track_caller]
pub fn assert_loopback(api_url: &str) -> url::Url {
    let url = parse_api_url(api_url).unwrap_or_else(|e| panic!("not an API URL: {e}"));
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    assert!(
        loopback,
        "tests aim only at the fake on 127.0.0.1, not {url}"
    );
    url
}

/// A `RunEnv` aimed at the API at `api_url` (which must be loopback), with `token`, fast
/// timings and stdout captured.
pub fn env_for(api_url: &str, token: &str, interrupt: Interrupt) -> (RunEnv, SharedBuffer) {
    let api_url = assert_loopback(api_url);
    let poll = |ms, secs| PollPolicy {
        interval: Duration::from_millis(ms),
        timeout: Duration::from_secs(secs),
    };
    let tuning = Tuning {
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 2,
            backoff_base: Duration::from_millis(5),
            max_wait: Duration::from_secs(1),
            retry_after_unit: Duration::from_millis(20),
        },
        droplet_wait: poll(5, 5),
        image_wait: poll(5, 5),
        health_wait: poll(10, 2),
        health_probe_timeout: Duration::from_millis(500),
    };
    let (out, buffer) = OutputSink::buffer();
    let env = RunEnv {
        api_url,
        token: Some(ApiToken::new(token, "test").expect("a token")),
        out,
        interrupt,
        tuning,
    };
    (env, buffer)
}

/// `bench droplet ARGS...` as parsed by the command line.
pub fn droplet_args(args: &[&str]) -> DropletArgs {
    #[derive(Debug, Parser)]
    struct Bench {
        #[command(subcommand)]
        command: BenchCommand,
    }
    let argv = ["nnedge-bench", "droplet"].iter().chain(args).copied();
    match Bench::try_parse_from(argv) {
        Ok(Bench {
            command: BenchCommand::Droplet(args),
        }) => *args,
        Ok(other) => panic!("not `bench droplet`: {other:?}"),
        Err(e) => panic!("arguments {args:?} do not parse: {e}"),
    }
}

/// `nnedge-bench` aimed at the API at `api_url`, which must be loopback.
pub fn bench_command(api_url: &str) -> Command {
    assert_loopback(api_url);
    let mut command = Command::new(env!("CARGO_BIN_EXE_nnedge-bench"));
    command
        .env(API_URL_ENV, api_url)
        .env_remove("RUST_LOG")
        .env_remove("NNEDGE_API_KEY")
        .env_remove("NNEDGE_BENCH_API_KEY");
    command
}

/// Runs `command`, but only if it carries a loopback API URL override: without one it
/// would talk to DigitalOcean, so the test fails instead.
#[track_caller]
pub fn run_guarded(command: &mut Command) -> std::process::Output {
    let api_url = command
        .get_envs()
        .find(|(key, _)| *key == API_URL_ENV)
        .and_then(|(_, value)| value)
        .map(|value| value.to_string_lossy().into_owned());
    let Some(api_url) = api_url else {
        panic!("{API_URL_ENV} is not set: the command would use the real API");
    };
    assert_loopback(&api_url);
    command.output().expect("nnedge-bench runs")
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1");
    listener.local_addr().expect("an address").port()
}

/// A real `nnedge serve` on 127.0.0.1 with the small model. Killed when dropped.
#[derive(Debug)]
pub struct LocalServe {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    _log_dir: tempfile::TempDir,
}

impl LocalServe {
    /// Starts it on `model` and waits for `/health`; `None` (skip) when a part is missing.
    pub fn start(model: &Path) -> Option<Self> {
        let nnedge: PathBuf =
            std::env::var_os("NNEDGE_BIN").map_or_else(environment::default_nnedge, Into::into);
        let guest = environment::guest_dir().join("llama-api-server.wasm");
        if !present(&nnedge, "the nnedge binary (cargo xtask build)")
            || !present(&guest, "the llama-api-server guest (cargo xtask build)")
            || !present(model, "the model")
        {
            return None;
        }
        let model = model.to_str().expect("a UTF-8 model path");
        let port = free_port();
        let log_dir = tempfile::tempdir().expect("a temporary directory");
        let log_path = log_dir.path().join("serve.log");
        let log = std::fs::File::create(&log_path).expect("a log file");
        let port_text = port.to_string();
        let args = [
            "serve",
            "--port",
            &port_text,
            "--model",
            model,
            "--threads",
            "2",
        ];
        let child = Command::new(&nnedge)
            .args(args)
            .env_remove("NNEDGE_API_KEY")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nnedge serve starts");
        let mut server = Self {
            child,
            port,
            _log_dir: log_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while !health_ok(port) {
            let exited = server.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("nnedge serve did not become healthy ({exited:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }
}

impl Drop for LocalServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health_ok(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

/// How a [`StubNode`] answers chat requests (`/health` always answers 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    /// A short valid stream of four tokens with usage and `[DONE]`.
    Stream,
    /// 404 Not Found.
    Refuse,
    /// Reads the request and never answers (until the stub is dropped).
    Stall,
}

/// A stand-in node on 127.0.0.1, for flows that need no real server. Stops when dropped.
#[derive(Debug)]
pub struct StubNode {
    /// The port it listens on.
    pub port: u16,
    chats: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl StubNode {
    /// Starts it.
    pub fn start(chat: Chat) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("an address").port();
        let (chats, stop) = (Arc::default(), Arc::new(AtomicBool::new(false)));
        let (counter, stopped) = (Arc::clone(&chats), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (counter, stopped) = (Arc::clone(&counter), Arc::clone(&stopped));
                        std::thread::spawn(move || answer(stream, chat, &counter, &stopped));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { port, chats, stop }
    }

    /// Chat requests received so far.
    pub fn chats(&self) -> usize {
        self.chats.load(Ordering::SeqCst)
    }
}

impl Drop for StubNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn answer(stream: TcpStream, chat: Chat, chats: &AtomicUsize, stop: &AtomicBool) {
    let _ = stream.set_nonblocking(false);
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let (mut request_line, mut length, mut line) = (String::new(), 0usize, String::new());
    let _ = reader.read_line(&mut request_line);
    while reader.read_line(&mut line).unwrap_or(0) > 0 && line.trim_end() != "" {
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let _ = reader.read_exact(&mut vec![0; length]);
    let mut out = stream;

    if request_line.starts_with("GET /health ") {
        let body = r#"{"status":"ok"}"#;
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    chats.fetch_add(1, Ordering::SeqCst);
    match chat {
        Chat::Refuse => {
            let head = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n";
            let _ = write!(out, "{head}\r\nnot found");
        }
        Chat::Stall => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Chat::Stream => {
            let _ = out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
            );
            for token in ["Once", " upon", " a", " time"] {
                std::thread::sleep(Duration::from_millis(2));
                let delta = serde_json::json!({ "choices": [{ "delta": { "content": token } }] });
                let _ = write!(out, "data: {delta}\n\n");
            }
            let usage = "data: {\"choices\":[],\"usage\":{\"completion_tokens\":4}}\n\n";
            let _ = out.write_all(usage.as_bytes());
            let _ = out.write_all(b"data: [DONE]\n\n");
        }
    }
}
