//! Shared test plumbing: the fake, a fast `RunEnv`, a CLI parser, a local `/health` server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use nnedge_digitalocean::cli::{
    run_deploy_with, run_do_with, DeployCommand, DoCommand, GlobalArgs,
};
use nnedge_digitalocean::client::parse_api_url;
use nnedge_digitalocean::fake::{FakeDigitalOcean, FakeOptions, DEFAULT_SPEC_PATH};
use nnedge_digitalocean::output::OutputSink;
use nnedge_digitalocean::retry::RetryPolicy;
use nnedge_digitalocean::session::{RunEnv, Tuning};
use nnedge_digitalocean::wait::{Interrupt, InterruptTrigger, PollPolicy};
use nnedge_digitalocean::ApiToken;

/// Starts a fake, or skips (returns `None`) when the API description is missing — unless
/// `CI` is set, where a missing prerequisite is a failure.
pub fn fake(options: FakeOptions) -> Option<FakeDigitalOcean> {
    if !Path::new(DEFAULT_SPEC_PATH).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "missing {DEFAULT_SPEC_PATH}"
        );
        eprintln!("skipping: the DigitalOcean API description {DEFAULT_SPEC_PATH} is missing");
        return None;
    }
    Some(FakeDigitalOcean::start(options).expect("fake API starts"))
}

/// Timings that keep every wait in the milliseconds.
pub fn fast_tuning() -> Tuning {
    let poll = |ms, secs| PollPolicy {
        interval: Duration::from_millis(ms),
        timeout: Duration::from_secs(secs),
    };
    Tuning {
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 3,
            backoff_base: Duration::from_millis(5),
            max_wait: Duration::from_secs(2),
            retry_after_unit: Duration::from_millis(20),
        },
        droplet_wait: poll(5, 5),
        image_wait: poll(5, 5),
        health_wait: poll(10, 2),
        health_probe_timeout: Duration::from_millis(500),
    }
}

/// The command line of the `nnedge` binary, as far as this crate is concerned.
#[derive(Debug, Parser)]
#[command(name = "nnedge")]
pub struct TestCli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Top,
}

#[derive(Debug, clap::Subcommand)]
enum Top {
    #[command(subcommand)]
    Do(DoCommand),
    #[command(subcommand)]
    Deploy(DeployCommand),
}

/// One run: what it printed on stdout and how it ended.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub result: anyhow::Result<()>,
}

impl Run {
    /// The error chain as `main` prints it (`{:#}`), or empty.
    pub fn error(&self) -> String {
        self.result
            .as_ref()
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
    }

    /// Panics unless the run succeeded.
    #[track_caller]
    pub fn ok(&self) -> &str {
        if let Err(e) = &self.result {
            panic!("command failed: {e:#}\nstdout:\n{}", self.stdout);
        }
        &self.stdout
    }

    /// Asserts the token shows up neither on stdout nor in the error (both renderings).
    #[track_caller]
    pub fn assert_token_absent(&self, token: &str) {
        assert!(
            !self.stdout.contains(token),
            "token on stdout:\n{}",
            self.stdout
        );
        if let Err(e) = &self.result {
            assert!(!format!("{e:#}").contains(token), "token in error");
            assert!(!format!("{e:?}").contains(token), "token in error debug");
        }
    }
}

/// A `RunEnv` aimed at `fake`, with the fake's token and fast timings.
pub fn env_for(
    fake: &FakeDigitalOcean,
    interrupt: Interrupt,
) -> (RunEnv, nnedge_digitalocean::output::SharedBuffer) {
    let (out, buffer) = OutputSink::buffer();
    let env = RunEnv {
        api_url: parse_api_url(&fake.url()).expect("fake URL is loopback"),
        token: Some(ApiToken::new(fake.token(), "test").expect("token")),
        out,
        interrupt,
        tuning: fast_tuning(),
    };
    (env, buffer)
}

/// Runs `nnedge ARGS...` (without the program name) against `fake`.
pub async fn run(fake: &FakeDigitalOcean, args: &[&str]) -> Run {
    let (interrupt, _trigger) = Interrupt::manual();
    run_with(fake, args, interrupt, |env| env).await
}

/// Like [`run`], with an interrupt and a chance to adjust the environment.
pub async fn run_with(
    fake: &FakeDigitalOcean,
    args: &[&str],
    interrupt: Interrupt,
    adjust: impl FnOnce(RunEnv) -> RunEnv,
) -> Run {
    let cli = TestCli::try_parse_from(std::iter::once("nnedge").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("arguments {args:?} do not parse: {e}"));
    let (env, buffer) = env_for(fake, interrupt);
    let env = adjust(env);
    let result = match &cli.command {
        Top::Do(command) => run_do_with(&cli.global, command, env).await,
        Top::Deploy(command) => run_deploy_with(&cli.global, command, env).await,
    };
    Run {
        stdout: buffer.contents(),
        result,
    }
}

/// A manual interrupt, for tests that press Ctrl-C.
pub fn interrupt() -> (Interrupt, InterruptTrigger) {
    Interrupt::manual()
}

/// Parses a run's JSON stdout.
#[track_caller]
pub fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}"))
}

/// A tiny HTTP server on 127.0.0.1 that answers `GET /health` with `status`, standing in
/// for `nnedge serve` on a droplet. Stops when dropped.
#[derive(Debug)]
pub struct HealthServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthServer {
    pub fn start(status: u16) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("address");
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(serve_health(listener, status, stop));
        });
        Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn serve_health(
    listener: std::net::TcpListener,
    status: u16,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = &mut stop => return,
        };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| answer(request, status));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            let _ = connection.await;
        });
    }
}

async fn answer(
    request: http::Request<hyper::body::Incoming>,
    status: u16,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let code = if request.uri().path() == "/health" {
        status
    } else {
        404
    };
    let mut response = http::Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    *response.status_mut() = http::StatusCode::from_u16(code).expect("status");
    Ok(response)
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Writes `text` to a temp file and returns it (kept alive by the caller).
pub fn temp_file(text: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

/// A small Ignition config with the characters that broke the seed's `sed` escaping.
pub fn tricky_ignition() -> String {
    let contents = "data:,line%201%0A%22quoted%22%20back%5Cslash";
    format!(
        concat!(
            "{{\"ignition\":{{\"version\":\"3.4.0\"}},\"storage\":{{\"files\":[{{",
            "\"path\":\"/etc/nnedge/note\",\"contents\":{{\"source\":\"{}\"}},",
            "\"mode\":420}}]}},\"passwd\":{{\"users\":[{{\"name\":\"core\",",
            "\"gecos\":\"Tab\\there \\\"quotes\\\" back\\\\slash\\nnewline\"}}]}}}}\n"
        ),
        contents
    )
}

/// `nnedge do droplet create` with a region, size and image the fake knows.
const CREATE: [&str; 9] = [
    "do",
    "droplet",
    "create",
    "--region",
    "fra1",
    "--size",
    "s-1vcpu-1gb",
    "--image",
    "ubuntu-24-04-x64",
];

/// [`CREATE`] followed by `extra` (droplet names and further flags).
pub fn create_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    CREATE
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}
