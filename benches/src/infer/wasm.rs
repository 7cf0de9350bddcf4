//! The Wasm side of `bench infer`: the `llama-bench` guest inside `nnedge run`, one process
//! per run, timing itself with its monotonic clock (see the guest's docs for what each figure
//! covers).
//!
//! The guest prints its result as one JSON line and, with `--hold`, waits for stdin to close;
//! meanwhile this side reads the process's `VmHWM`, so the peak RSS is the whole `nnedge run`
//! process's: WasmEdge, the guest, the model and llama.cpp's buffers.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::{rss, InferError, RunPlan, RunSample};

/// The guest's result line.
#[derive(Debug, Deserialize)]
struct GuestResult {
    load_ms: f64,
    pp: Timed,
    tg: Timed,
}

#[derive(Debug, Deserialize)]
struct Timed {
    tokens: u64,
    ms: f64,
}

/// The programs a Wasm run needs.
#[derive(Debug, Clone)]
pub struct WasmRunner<'a> {
    /// The `nnedge` binary.
    pub nnedge: &'a Path,
    /// The `llama-bench.wasm` guest.
    pub guest: &'a Path,
    /// Run in WasmEdge's interpreter instead of the cached AOT build.
    pub interpreter: bool,
}

impl WasmRunner<'_> {
    /// Measures one run of `plan` on `model` in a fresh `nnedge run` process.
    pub fn run(&self, model: &Path, plan: &RunPlan) -> Result<RunSample, InferError> {
        let mut command = Command::new(self.nnedge);
        command.arg("run");
        if self.interpreter {
            command.arg("--force-interpreter");
        }
        command
            .arg("--nn-preload")
            .arg(format!("default:GGML:CPU:{}", model.display()))
            .arg(self.guest)
            .args([
                "--pp-prompt",
                &plan.pp_prompt,
                "--tg-prompt",
                &plan.tg_prompt,
            ])
            .args(["--tg", &plan.tg.to_string()])
            .args(["--threads", &plan.threads.to_string()])
            .args(["--ctx-size", &plan.ctx_size.to_string()])
            .args(["--batch-size", &plan.batch_size.to_string()])
            .arg("--hold")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_error = |source| InferError::Spawn {
            program: self.nnedge.to_owned(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;

        // Drain stderr on a thread so a chatty log never blocks the guest.
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        });
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        let peak_rss_kib = rss::peak_kib_of(child.id());
        drop(child.stdin.take());
        let status = child.wait().map_err(spawn_error)?;
        let log = stderr
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default();

        let result: GuestResult = match serde_json::from_str(line.trim()) {
            Ok(result) if status.success() => result,
            _ => {
                return Err(InferError::Guest {
                    status: status.to_string(),
                    stderr: last_lines(&log, 5),
                })
            }
        };
        Ok(RunSample {
            load_ms: result.load_ms,
            pp_tokens: result.pp.tokens,
            pp_ms: result.pp.ms,
            tg_tokens: result.tg.tokens,
            tg_ms: result.tg.ms,
            peak_rss_kib,
        })
    }
}

/// The last `n` lines of a log, for an error message.
fn last_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
