//! One generation request in a slot: drives the backend and writes the HTTP response.
//!
//! A job runs its prompts one after another (a completion request with an array of prompts
//! has one choice per prompt). Each [`Job::advance`] generates one token and appends to the
//! connection's output whatever became safe to send: for a stream, the response head once
//! the prompt is processed (so a prompt that is too long still gets a 400), then one SSE
//! event per released piece; otherwise the whole JSON response at the end.
//!
//! Responses carry `timings` as llama.cpp's server does: `prompt_ms` is the wall time of each
//! prompt's first step (which processes the prompt), `predicted_ms` that of the later steps.
//! Both count only this job's own WASI-NN calls; when slots are batched, the step that
//! triggers a round's batched decode is charged for all of it, and the slot that steps first
//! changes every round. A client's latency minus these is what the server spent around the
//! computation (HTTP, queueing, other slots' turns).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::backend::{Backend, BackendError, Step, TokenCounts};
use crate::error::ApiError;
use crate::http::{self, Response};
use crate::openai::{Endpoint, GenerationSpec};
use crate::sse;
use crate::stop::StopFilter;

/// Identifies a client connection.
pub type ConnId = u64;

/// How a finished job ended, for metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The endpoint, as a metrics label.
    pub label: &'static str,
    /// The HTTP status sent.
    pub status: u16,
    /// Prompt and generated tokens of all choices.
    pub usage: TokenCounts,
    /// Seconds spent generating after the first prompt was processed.
    pub seconds: f64,
}

/// What a job wants after a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// It needs more steps.
    Running,
    /// It is done; the slot can be reset and reused.
    Finished(Outcome),
}

#[derive(Clone, Debug)]
struct Choice {
    text: String,
    finish_reason: &'static str,
}

/// A generation request bound to a connection.
#[derive(Debug)]
pub struct Job {
    /// The connection the response goes to.
    pub conn: ConnId,
    spec: GenerationSpec,
    id: String,
    created: u64,
    keep_alive: bool,
    chunked: bool,
    n_ctx: u32,
    prompt: usize,
    filter: StopFilter,
    head_sent: bool,
    choices: Vec<Choice>,
    usage: TokenCounts,
    first_token_at: Option<Instant>,
    timings: Timings,
}

/// Time spent in this job's WASI-NN steps.
#[derive(Clone, Copy, Debug, Default)]
struct Timings {
    prompt: Duration,
    predicted: Duration,
    /// Whether the current prompt's first step has run.
    prompt_done: bool,
}

impl Job {
    /// A job answering `spec` on `conn`; `n_ctx` is reported when a prompt is too long.
    pub fn new(
        conn: ConnId,
        spec: GenerationSpec,
        id: String,
        created: u64,
        keep_alive: bool,
        http11: bool,
        n_ctx: u32,
    ) -> Self {
        let filter = StopFilter::new(&spec.stops);
        Self {
            conn,
            spec,
            id,
            created,
            keep_alive,
            chunked: http11,
            n_ctx,
            prompt: 0,
            filter,
            head_sent: false,
            choices: Vec::new(),
            usage: TokenCounts::default(),
            first_token_at: None,
            timings: Timings::default(),
        }
    }

    /// Whether the connection stays open after this job.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive && (self.chunked || !self.spec.stream)
    }

    /// Hands the current prompt to the backend.
    pub fn begin(
        &mut self,
        backend: &mut impl Backend,
        slot: usize,
        out: &mut Vec<u8>,
    ) -> Progress {
        let prompt = &self.spec.prompts[self.prompt];
        match backend.start(slot, prompt, &self.spec.metadata) {
            Ok(()) => Progress::Running,
            Err(error) => self.fail(error, out),
        }
    }

    /// Generates one token and writes what became sendable.
    pub fn advance(
        &mut self,
        backend: &mut impl Backend,
        slot: usize,
        out: &mut Vec<u8>,
    ) -> Progress {
        let started = Instant::now();
        let step = backend.step(slot);
        let elapsed = started.elapsed();
        if self.timings.prompt_done {
            self.timings.predicted += elapsed;
        } else {
            self.timings.prompt += elapsed;
            self.timings.prompt_done = true;
        }
        let step = match step {
            Ok(step) => step,
            Err(error) => return self.fail(error, out),
        };
        self.first_token_at.get_or_insert_with(Instant::now);
        let (text, finish) = match step {
            Step::Piece(bytes) => {
                let released = self.filter.push(&bytes);
                (released.text, released.stopped.then_some("stop"))
            }
            Step::End => (self.filter.finish(), Some("")),
            Step::ContextFull => (self.filter.finish(), Some("length")),
        };
        self.send_text(&text, out);
        let Some(mut reason) = finish else {
            return Progress::Running;
        };

        // this prompt is done: record its choice, then start the next one or finish
        let counts = backend.counts(slot).unwrap_or_default();
        backend.reset(slot);
        if reason.is_empty() {
            let limit_reached = self
                .spec
                .max_tokens
                .is_some_and(|max| counts.output_tokens >= max);
            reason = if limit_reached { "length" } else { "stop" };
        }
        self.usage.input_tokens += counts.input_tokens;
        self.usage.output_tokens += counts.output_tokens;
        let text = std::mem::take(&mut self.filter).output().to_owned();
        self.choices.push(Choice {
            text,
            finish_reason: reason,
        });
        if self.spec.stream {
            let chunk = self.chunk(self.prompt, "", Some(reason));
            self.send_event(&chunk, out);
        }
        self.prompt += 1;
        if self.prompt < self.spec.prompts.len() {
            self.filter = StopFilter::new(&self.spec.stops);
            self.timings.prompt_done = false;
            return self.begin(backend, slot, out);
        }
        self.complete(out)
    }

    fn complete(&mut self, out: &mut Vec<u8>) -> Progress {
        if self.spec.stream {
            if self.spec.include_usage {
                let mut chunk = self.envelope(self.chunk_object());
                chunk["choices"] = json!([]);
                chunk["usage"] = usage_json(self.usage);
                chunk["timings"] = self.timings_json();
                self.send_event(&chunk, out);
            }
            self.send_raw(sse::DONE, out);
            if self.chunked {
                out.extend_from_slice(http::LAST_CHUNK);
            }
        } else {
            let body = self.full_response();
            out.extend(Response::json(200, &body).to_bytes(self.keep_alive()));
        }
        Progress::Finished(self.outcome(200))
    }

    /// Ends the job with an error: an error response, or an error event if streaming began.
    fn fail(&mut self, error: BackendError, out: &mut Vec<u8>) -> Progress {
        let api_error = match error {
            BackendError::PromptTooLong { input_tokens } => ApiError::invalid_with_code(
                "context_length_exceeded",
                format!(
                    "the prompt has n_prompt_tokens = {input_tokens} tokens, which does not fit \
                     the context window of n_ctx = {} tokens; shorten it or start the server with \
                     a larger --ctx-size",
                    self.n_ctx
                ),
            ),
            BackendError::InvalidArgument { .. } => ApiError::invalid(format!(
                "{error}; check `response_format` and the sampling parameters"
            )),
            other => ApiError::internal(other.to_string()),
        };
        if self.head_sent {
            self.send_event(&api_error.body(), out);
            self.send_raw(sse::DONE, out);
            if self.chunked {
                out.extend_from_slice(http::LAST_CHUNK);
            }
            self.keep_alive = self.keep_alive && self.chunked;
            return Progress::Finished(self.outcome(200));
        }
        out.extend(api_error.response().to_bytes(self.keep_alive()));
        Progress::Finished(self.outcome(api_error.status))
    }

    fn outcome(&self, status: u16) -> Outcome {
        let seconds = self
            .first_token_at
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        let label = match self.spec.endpoint {
            Endpoint::Chat => "chat",
            Endpoint::Completion => "completions",
        };
        Outcome {
            label,
            status,
            usage: self.usage,
            seconds,
        }
    }

    fn send_text(&mut self, text: &str, out: &mut Vec<u8>) {
        if !self.spec.stream {
            return;
        }
        if !self.head_sent && self.spec.endpoint == Endpoint::Chat {
            // OpenAI's first chat chunk announces the role.
            self.start_stream(out);
            let mut chunk = self.chunk(self.prompt, "", None);
            chunk["choices"][0]["delta"] = json!({"role": "assistant", "content": ""});
            self.send_event(&chunk, out);
        }
        if !text.is_empty() {
            let chunk = self.chunk(self.prompt, text, None);
            self.send_event(&chunk, out);
        }
    }

    fn start_stream(&mut self, out: &mut Vec<u8>) {
        if !self.head_sent {
            self.head_sent = true;
            out.extend(http::stream_head(
                "text/event-stream",
                self.chunked,
                self.keep_alive,
            ));
        }
    }

    fn send_event(&mut self, payload: &Value, out: &mut Vec<u8>) {
        self.send_raw(&sse::event(payload), out);
    }

    fn send_raw(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.start_stream(out);
        out.extend(http::stream_piece(data, self.chunked));
    }

    fn chunk_object(&self) -> &'static str {
        match self.spec.endpoint {
            Endpoint::Chat => "chat.completion.chunk",
            Endpoint::Completion => "text_completion",
        }
    }

    fn envelope(&self, object: &str) -> Value {
        let mut value = json!({
            "id": self.id,
            "object": object,
            "created": self.created,
            "model": self.spec.model,
            "system_fingerprint": null,
        });
        if self.spec.stream && self.spec.include_usage {
            value["usage"] = Value::Null;
        }
        value
    }

    fn chunk(&self, index: usize, text: &str, finish: Option<&str>) -> Value {
        let mut value = self.envelope(self.chunk_object());
        let choice = match self.spec.endpoint {
            Endpoint::Chat => {
                let delta = if finish.is_some() {
                    json!({})
                } else {
                    json!({"content": text})
                };
                json!({"index": index, "delta": delta, "logprobs": null, "finish_reason": finish})
            }
            Endpoint::Completion => {
                json!({"index": index, "text": text, "logprobs": null, "finish_reason": finish})
            }
        };
        value["choices"] = json!([choice]);
        value
    }

    fn full_response(&self) -> Value {
        let (object, choices): (&str, Vec<Value>) = match self.spec.endpoint {
            Endpoint::Chat => (
                "chat.completion",
                self.choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        json!({
                            "index": i,
                            "message": {"role": "assistant", "content": c.text},
                            "logprobs": null,
                            "finish_reason": c.finish_reason,
                        })
                    })
                    .collect(),
            ),
            Endpoint::Completion => (
                "text_completion",
                self.choices
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        json!({
                            "index": i,
                            "text": c.text,
                            "logprobs": null,
                            "finish_reason": c.finish_reason,
                        })
                    })
                    .collect(),
            ),
        };
        let mut value = self.envelope(object);
        value["choices"] = Value::Array(choices);
        value["usage"] = usage_json(self.usage);
        value["timings"] = self.timings_json();
        value
    }

    fn timings_json(&self) -> Value {
        let prompt_ms = self.timings.prompt.as_secs_f64() * 1000.0;
        let predicted_ms = self.timings.predicted.as_secs_f64() * 1000.0;
        // The first step samples a token too, so the later steps decode the other ones.
        let decoded = self.usage.output_tokens.saturating_sub(1);
        let per_second = if predicted_ms > 0.0 {
            decoded as f64 * 1000.0 / predicted_ms
        } else {
            0.0
        };
        json!({
            "prompt_n": self.usage.input_tokens,
            "prompt_ms": prompt_ms,
            "predicted_n": self.usage.output_tokens,
            "predicted_ms": predicted_ms,
            "predicted_per_second": per_second,
        })
    }
}

fn usage_json(usage: TokenCounts) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}
