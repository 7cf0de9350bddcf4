//! `bench serve`: a load generator for any OpenAI-compatible chat-completions endpoint
//! (nnedge, llama-server, Ollama, LlamaEdge), streaming.
//!
//! For each concurrency level, that many workers send requests from a fixed prompt set, each
//! starting its next request when the last one ends, until the level's request budget is
//! spent or its time is up (requests in flight then finish, bounded by the request timeout).
//! Every request streams (`stream: true`, usage requested) and records:
//! - time to first token (TTFT): from sending to the first chunk carrying text;
//! - latency: from sending to the end of the stream;
//! - completion tokens: the server's `usage.completion_tokens`, else the text chunks counted;
//! - per-stream decode rate: (tokens − 1) / (last text chunk − first text chunk);
//! - overhead beyond compute, when the server reports `timings` (llama-server, nnedge): the
//!   latency minus the server's `prompt_ms + predicted_ms`, i.e. what HTTP, queueing and the
//!   server's event loop add to the request. Under concurrency it also holds the time the
//!   server spent on other streams between this one's steps.
//!
//! A level's aggregate rate is all completion tokens over the level's wall time.

pub mod http;
pub mod sse;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::environment::{load_average, Versions};
use crate::machine::Machine;
use crate::stats::{percentile, Summary};
pub use http::{Endpoint, HttpError};

/// The prompts requests cycle through: short questions with answers of a few sentences.
pub const PROMPTS: [&str; 8] = [
    "What is the capital of France? Answer in one sentence.",
    "Explain in two sentences why the sky is blue.",
    "Write a haiku about a lighthouse.",
    "List three uses of a paperclip.",
    "What does a compiler do? Keep it short.",
    "Give one tip for sleeping better.",
    "Describe a cat to someone who has never seen one.",
    "Why do leaves change colour in autumn?",
];

/// How many error messages a level keeps as examples.
const ERROR_EXAMPLES: usize = 3;

/// What `bench serve` sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeSettings {
    /// The endpoint URL (no credentials).
    pub url: String,
    /// The `model` field of each request.
    pub model: String,
    /// Concurrent streams per level.
    pub concurrency: Vec<usize>,
    /// Requests per level, per concurrent stream.
    pub requests_per_stream: usize,
    /// Longest a level keeps starting requests.
    pub level_seconds: f64,
    /// Longest one request may take.
    pub request_timeout_seconds: f64,
    /// `max_tokens` of each request.
    pub max_tokens: u32,
}

/// One request's measurements.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestOutcome {
    /// The error, if it failed.
    pub error: Option<String>,
    /// Time to the first text chunk.
    pub ttft_ms: Option<f64>,
    /// Time to the end of the stream.
    pub latency_ms: f64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Time from the first to the last text chunk.
    pub decode_ms: Option<f64>,
    /// The server's own compute time for the request (`timings`), when it reports one.
    pub server_compute_ms: Option<f64>,
}

impl RequestOutcome {
    /// Latency beyond the server's reported compute time.
    pub fn overhead_ms(&self) -> Option<f64> {
        self.server_compute_ms
            .map(|compute| (self.latency_ms - compute).max(0.0))
    }
}

/// p50, p95, p99 and mean of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// The percentiles of `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Self> {
        Some(Self {
            p50: percentile(samples, 50.0)?,
            p95: percentile(samples, 95.0)?,
            p99: percentile(samples, 99.0)?,
            mean: Summary::of(samples)?.mean,
        })
    }
}

impl ServeReport {
    /// The first level at which every request failed, with one of its errors: such a run
    /// measured nothing, and `bench serve` says so with a failing exit status.
    pub fn all_failed(&self) -> Option<(usize, &str)> {
        self.levels
            .iter()
            .find(|l| l.requests > 0 && l.errors == l.requests)
            .map(|l| {
                let example = l
                    .error_examples
                    .first()
                    .map_or("no message", String::as_str);
                (l.concurrency, example)
            })
    }
}

/// One concurrency level's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelResult {
    /// Concurrent streams.
    pub concurrency: usize,
    /// Requests sent.
    pub requests: usize,
    /// Requests that failed.
    pub errors: usize,
    /// A few of the error messages.
    pub error_examples: Vec<String>,
    /// Wall time of the level.
    pub wall_seconds: f64,
    /// Completion tokens of the successful requests.
    pub completion_tokens: u64,
    /// Time to first token.
    pub ttft_ms: Option<Percentiles>,
    /// Request latency.
    pub latency_ms: Option<Percentiles>,
    /// Latency beyond the server's reported compute time (servers that report `timings`).
    pub overhead_ms: Option<Percentiles>,
    /// Decode tokens/s per stream.
    pub stream_tps: Option<Summary>,
    /// Completion tokens/s over all streams.
    pub aggregate_tps: f64,
}

impl LevelResult {
    /// Summarises the outcomes of a level that took `wall_seconds`.
    pub fn of(concurrency: usize, outcomes: &[RequestOutcome], wall_seconds: f64) -> Self {
        let ok: Vec<&RequestOutcome> = outcomes.iter().filter(|o| o.error.is_none()).collect();
        let ttft: Vec<f64> = ok.iter().filter_map(|o| o.ttft_ms).collect();
        let latency: Vec<f64> = ok.iter().map(|o| o.latency_ms).collect();
        let overhead: Vec<f64> = ok.iter().filter_map(|o| o.overhead_ms()).collect();
        let stream_tps: Vec<f64> = ok
            .iter()
            .filter_map(|o| {
                let ms = o.decode_ms.filter(|ms| *ms > 0.0)?;
                (o.completion_tokens > 1).then(|| (o.completion_tokens - 1) as f64 * 1000.0 / ms)
            })
            .collect();
        let completion_tokens = ok.iter().map(|o| o.completion_tokens).sum();
        let mut error_examples: Vec<String> = Vec::new();
        for message in outcomes.iter().filter_map(|o| o.error.as_ref()) {
            if error_examples.len() < ERROR_EXAMPLES && !error_examples.contains(message) {
                error_examples.push(message.clone());
            }
        }
        Self {
            concurrency,
            requests: outcomes.len(),
            errors: outcomes.len() - ok.len(),
            error_examples,
            wall_seconds,
            completion_tokens,
            ttft_ms: Percentiles::of(&ttft),
            latency_ms: Percentiles::of(&latency),
            overhead_ms: Percentiles::of(&overhead),
            stream_tps: Summary::of(&stream_tps),
            aggregate_tps: if wall_seconds > 0.0 {
                completion_tokens as f64 / wall_seconds
            } else {
                0.0
            },
        }
    }
}

/// Everything `bench serve` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeReport {
    /// The machine the load generator ran on (the server's, when it is local).
    pub machine: Machine,
    /// Versions on this side.
    pub versions: Versions,
    /// The 1-minute load average before and after the levels.
    pub load_average: [Option<f64>; 2],
    /// What was sent.
    pub settings: ServeSettings,
    /// One entry per concurrency level.
    pub levels: Vec<LevelResult>,
}

/// Runs every concurrency level of `settings` against its URL.
pub fn run(settings: &ServeSettings, api_key: Option<&str>) -> Result<ServeReport, HttpError> {
    let endpoint = Endpoint::parse(&settings.url)?;
    let load_before = load_average();
    let mut levels = Vec::new();
    for &concurrency in &settings.concurrency {
        let level = run_level(&endpoint, settings, concurrency.max(1), api_key);
        tracing::debug!(concurrency, errors = level.errors, "level done");
        levels.push(level);
    }
    Ok(ServeReport {
        machine: Machine::detect(),
        versions: Versions::detect(None),
        load_average: [load_before, load_average()],
        settings: settings.clone(),
        levels,
    })
}

fn run_level(
    endpoint: &Endpoint,
    settings: &ServeSettings,
    concurrency: usize,
    api_key: Option<&str>,
) -> LevelResult {
    let budget = concurrency * settings.requests_per_stream.max(1);
    let deadline = Instant::now() + Duration::from_secs_f64(settings.level_seconds.max(0.0));
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(budget));

    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= budget || Instant::now() >= deadline {
                    return;
                }
                let outcome = request(endpoint, settings, PROMPTS[index % PROMPTS.len()], api_key);
                if let Ok(mut all) = outcomes.lock() {
                    all.push(outcome);
                }
            });
        }
    });
    let wall_seconds = start.elapsed().as_secs_f64();
    let outcomes = outcomes.into_inner().unwrap_or_default();
    LevelResult::of(concurrency, &outcomes, wall_seconds)
}

/// Sends one streaming chat request and times it.
pub fn request(
    endpoint: &Endpoint,
    settings: &ServeSettings,
    prompt: &str,
    api_key: Option<&str>,
) -> RequestOutcome {
    let body = json!({
        "model": settings.model,
        "messages": [{ "role": "user", "content": prompt }],
        "max_tokens": settings.max_tokens,
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    let timeout = Duration::from_secs_f64(settings.request_timeout_seconds.max(0.001));
    let start = Instant::now();
    let mut parser = sse::EventParser::default();
    let (mut first, mut last, mut chunks, mut usage) = (None, None, 0u64, None);
    let mut server_compute_ms = None;
    let mut stream_error = None;
    let mut done = false;
    let result = http::post_streaming(
        endpoint,
        body.to_string().as_bytes(),
        api_key,
        timeout,
        |bytes| {
            for data in parser.push(bytes) {
                match sse::interpret(&data) {
                    sse::Chunk::Done => done = true,
                    sse::Chunk::Error(message) => stream_error = Some(message),
                    sse::Chunk::Delta {
                        text_bytes,
                        completion_tokens,
                        compute_ms,
                    } => {
                        server_compute_ms = compute_ms.or(server_compute_ms);
                        if text_bytes > 0 {
                            let now = start.elapsed();
                            first.get_or_insert(now);
                            last = Some(now);
                            chunks += 1;
                        }
                        usage = completion_tokens.or(usage);
                    }
                }
            }
        },
    );
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;

    let error = match (result, stream_error) {
        (Err(error), _) => Some(error.to_string()),
        (Ok(()), Some(message)) => Some(format!("error event: {message}")),
        (Ok(()), None) if !done => Some("the stream ended without [DONE]".to_owned()),
        (Ok(()), None) => None,
    };
    RequestOutcome {
        error,
        ttft_ms: first.map(|t| t.as_secs_f64() * 1000.0),
        latency_ms,
        completion_tokens: usage.unwrap_or(chunks),
        decode_ms: first
            .zip(last)
            .map(|(first, last)| (last - first).as_secs_f64() * 1000.0),
        server_compute_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ttft: f64, latency: f64, tokens: u64, decode: f64) -> RequestOutcome {
        RequestOutcome {
            error: None,
            ttft_ms: Some(ttft),
            latency_ms: latency,
            completion_tokens: tokens,
            decode_ms: Some(decode),
            server_compute_ms: Some(latency - 2.0),
        }
    }

    #[test]
    fn a_level_summarises_successes_and_keeps_distinct_errors() {
        let failed = RequestOutcome {
            error: Some("HTTP 503: busy".into()),
            ttft_ms: None,
            latency_ms: 1.0,
            completion_tokens: 0,
            decode_ms: None,
            server_compute_ms: None,
        };
        let outcomes = [
            ok(100.0, 1100.0, 11, 1000.0),
            ok(300.0, 2300.0, 21, 2000.0),
            failed.clone(),
            failed,
        ];
        let level = LevelResult::of(2, &outcomes, 4.0);
        assert_eq!((level.requests, level.errors), (4, 2));
        assert_eq!(level.error_examples, ["HTTP 503: busy"]);
        assert_eq!(level.completion_tokens, 32);
        assert_eq!(level.aggregate_tps, 8.0);
        assert_eq!(level.ttft_ms.map(|p| p.p50), Some(200.0));
        assert_eq!(level.stream_tps.map(|s| s.mean), Some(10.0));
        assert_eq!(level.overhead_ms.map(|p| (p.p50, p.p99)), Some((2.0, 2.0)));
    }
}
