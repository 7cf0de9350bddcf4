//! The server without sockets: connections as byte buffers, requests, jobs and responses.
//!
//! The event loop (the WebAssembly binary) feeds [`App`] the bytes each connection
//! receives, calls [`App::tick`] to let the slots generate, and writes back what
//! [`App::output`] holds. Everything the server decides happens here, so it runs natively
//! in tests with a scripted backend.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::backend::{Backend, BackendError};
use crate::config::ServerConfig;
use crate::embeddings;
use crate::error::ApiError;
use crate::http::{self, ReadOutcome, Request, RequestReader, Response};
use crate::job::{ConnId, Job};
use crate::metrics::Metrics;
use crate::openai::{self, GenerationSpec};
use crate::router::{self, Route};
use crate::scheduler::Scheduler;

/// The chat page served at `GET /`, when `src/chat.html` existed at build time.
#[cfg(chat_page)]
const CHAT_PAGE: Option<&str> = Some(include_str!("chat.html"));
#[cfg(not(chat_page))]
const CHAT_PAGE: Option<&str> = None;

#[derive(Debug)]
struct Connection {
    reader: RequestReader,
    out: Vec<u8>,
    busy: bool,
    closing: bool,
}

/// The server state: configuration, backend (once loaded), scheduler, connections, metrics.
#[derive(Debug)]
pub struct App<B> {
    config: ServerConfig,
    backend: Option<B>,
    scheduler: Scheduler,
    metrics: Metrics,
    connections: BTreeMap<ConnId, Connection>,
    next_id: u64,
}

impl<B: Backend> App<B> {
    /// A server that answers 503 until [`App::ready`] hands it a loaded backend.
    pub fn new(config: ServerConfig) -> Self {
        let scheduler = Scheduler::new(config.parallel, config.queue_size);
        Self {
            config,
            backend: None,
            scheduler,
            metrics: Metrics::default(),
            connections: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The model is loaded: start serving.
    pub fn ready(&mut self, backend: B) {
        self.scheduler = Scheduler::new(backend.slots(), self.config.queue_size);
        self.backend = Some(backend);
    }

    /// Renders chat requests with `template` from now on (the model's own, found at load).
    pub fn set_template(&mut self, template: crate::templates::PromptTemplate) {
        self.config.template = template;
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// A new connection.
    pub fn accept(&mut self, conn: ConnId) {
        let reader = RequestReader::new(self.config.max_body_size);
        self.connections.insert(
            conn,
            Connection {
                reader,
                out: Vec::new(),
                busy: false,
                closing: false,
            },
        );
    }

    /// Whether the event loop should read more from `conn`: until it closes, and while less
    /// than one whole request of the largest allowed size is buffered (so a busy connection's
    /// pipelined requests wait in the socket, but every allowed request can arrive).
    pub fn wants_read(&self, conn: ConnId) -> bool {
        let limit = http::MAX_HEAD_SIZE + self.config.max_body_size;
        self.connections
            .get(&conn)
            .is_some_and(|c| !c.closing && c.reader.buffered() < limit)
    }

    /// Bytes received on `conn`.
    pub fn receive(&mut self, conn: ConnId, bytes: &[u8]) {
        if let Some(connection) = self.connections.get_mut(&conn) {
            connection.reader.extend(bytes);
            self.serve_buffered(conn);
        }
    }

    /// The client closed `conn` or it failed: drop it and free its slot.
    pub fn hang_up(&mut self, conn: ConnId) {
        if self.connections.remove(&conn).is_some() {
            if let Some(backend) = self.backend.as_mut() {
                self.scheduler.cancel(conn, backend);
            }
        }
    }

    /// Whether generations are running or waiting (the event loop must not block).
    pub fn has_work(&self) -> bool {
        self.scheduler.has_work()
    }

    /// Bytes waiting to be sent on `conn`.
    pub fn output(&self, conn: ConnId) -> &[u8] {
        self.connections
            .get(&conn)
            .map_or(&[], |c| c.out.as_slice())
    }

    /// `n` bytes of `conn`'s output were sent.
    pub fn sent(&mut self, conn: ConnId, n: usize) {
        if let Some(connection) = self.connections.get_mut(&conn) {
            connection.out.drain(..n.min(connection.out.len()));
        }
    }

    /// Whether `conn` has sent everything and should now be closed.
    pub fn should_close(&self, conn: ConnId) -> bool {
        self.connections
            .get(&conn)
            .is_none_or(|c| c.closing && c.out.is_empty())
    }

    /// Generates one token in every busy slot and routes the output to connections.
    pub fn tick(&mut self) {
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        for emitted in self.scheduler.tick(backend) {
            let Some(connection) = self.connections.get_mut(&emitted.conn) else {
                continue;
            };
            connection.out.extend(emitted.bytes);
            let Some((outcome, keep_alive)) = emitted.finished else {
                continue;
            };
            connection.busy = false;
            connection.closing |= !keep_alive;
            let usage = outcome.usage;
            self.metrics
                .generation(usage.input_tokens, usage.output_tokens, outcome.seconds);
            self.metrics.request(outcome.label, outcome.status);
            self.serve_buffered(emitted.conn);
        }
    }

    /// Serves the requests buffered on `conn`, stopping at one that starts a generation.
    fn serve_buffered(&mut self, conn: ConnId) {
        loop {
            let Some(connection) = self.connections.get_mut(&conn) else {
                return;
            };
            if connection.busy || connection.closing {
                return;
            }
            match connection.reader.next_request() {
                Ok(ReadOutcome::Incomplete) => return,
                Ok(ReadOutcome::SendContinue) => connection.out.extend_from_slice(http::CONTINUE),
                Ok(ReadOutcome::Request(request)) => self.handle(conn, request),
                Err(error) => {
                    let api_error = ApiError::from_status(error.status(), error.to_string());
                    connection.out.extend(api_error.response().to_bytes(false));
                    connection.closing = true;
                    self.metrics.request("http", error.status());
                }
            }
        }
    }

    fn handle(&mut self, conn: ConnId, request: Request) {
        let route = router::route(&request.method, &request.path, CHAT_PAGE.is_some());
        let label = route.as_ref().map_or("other", Route::label);
        let response = match route {
            Ok(route) => self.dispatch(conn, &request, route),
            Err(error) if error.status == 405 => Some(
                error
                    .response()
                    .header("Allow", router::allowed_methods(&request.path)),
            ),
            Err(error) => Some(error.response()),
        };
        let Some(response) = response else { return }; // a job will answer
        self.metrics.request(label, response.status);
        if let Some(connection) = self.connections.get_mut(&conn) {
            connection.out.extend(response.to_bytes(request.keep_alive));
            connection.closing |= !request.keep_alive;
        }
    }

    /// Answers a routed request, or returns `None` when a generation job will answer it.
    fn dispatch(&mut self, conn: ConnId, request: &Request, route: Route) -> Option<Response> {
        let generation = match route {
            Route::Chat => Some(openai::chat_request(&request.body, &self.config)),
            Route::Completions => Some(openai::completion_request(&request.body, &self.config)),
            _ => None,
        };
        if route.needs_key() && !self.config.authorized(request.header("authorization")) {
            return Some(ApiError::unauthorized().response());
        }
        let loading = self.backend.is_none();
        let result = match route {
            Route::Preflight => Ok(preflight()),
            Route::ChatPage => Ok(Response::with_body(
                200,
                "text/html; charset=utf-8",
                CHAT_PAGE.unwrap_or_default(),
            )),
            Route::Health if loading => {
                Ok(Response::json(503, &json!({"status": "loading"})).header("Retry-After", "1"))
            }
            Route::Health => Ok(Response::json(200, &json!({"status": "ok"}))),
            _ if loading => Err(ApiError::unavailable(
                "model_loading",
                "the model is still loading; retry shortly",
                1,
            )),
            Route::Metrics => {
                let text = self.metrics.render(self.scheduler.load());
                Ok(Response::with_body(200, "text/plain; version=0.0.4", text))
            }
            Route::Models => Ok(Response::json(200, &self.models())),
            Route::Model(id) => self.model(&id),
            Route::Embeddings => self.embeddings(&request.body),
            Route::Chat | Route::Completions => match generation {
                Some(Ok(spec)) => match self.submit(conn, request, spec) {
                    Ok(()) => return None,
                    Err(error) => Err(error),
                },
                Some(Err(error)) => Err(error),
                None => Err(ApiError::internal("generation request was not parsed")),
            },
        };
        Some(result.unwrap_or_else(|error| error.response()))
    }

    fn models(&self) -> serde_json::Value {
        let created = unix_time();
        let data: Vec<_> = std::iter::once(&self.config.chat)
            .chain(&self.config.embedding)
            .map(|m| json!({"id": m.name, "object": "model", "created": created, "owned_by": "nnedge"}))
            .collect();
        json!({"object": "list", "data": data})
    }

    fn model(&self, id: &str) -> Result<Response, ApiError> {
        let models = self.models();
        let found = models["data"]
            .as_array()
            .and_then(|list| list.iter().find(|m| m["id"] == id))
            .cloned();
        found.map(|m| Response::json(200, &m)).ok_or_else(|| {
            ApiError::not_found("model_not_found", format!("model `{id}` does not exist"))
        })
    }

    /// Checks the model name, then queues a generation job, which will answer the request.
    fn submit(
        &mut self,
        conn: ConnId,
        request: &Request,
        spec: GenerationSpec,
    ) -> Result<(), ApiError> {
        self.check_chat_model(&spec.model)?;
        let created = unix_time();
        self.next_id += 1;
        let prefix = match spec.endpoint {
            openai::Endpoint::Chat => "chatcmpl",
            openai::Endpoint::Completion => "cmpl",
        };
        let id = format!("{prefix}-{created:x}{:06x}", self.next_id);
        let n_ctx = self.config.chat.ctx_size;
        let job = Job::new(
            conn,
            spec,
            id,
            created,
            request.keep_alive,
            request.http11,
            n_ctx,
        );
        if self.scheduler.submit(job).is_err() {
            return Err(ApiError::unavailable(
                "server_busy",
                format!(
                    "all {} slots are busy and {} requests are waiting; retry later",
                    self.config.parallel, self.config.queue_size
                ),
                1,
            ));
        }
        if let Some(connection) = self.connections.get_mut(&conn) {
            connection.busy = true;
        }
        Ok(())
    }

    /// With one model loaded any name is accepted (clients often send their own default,
    /// such as `gpt-4o-mini`); with two, a chat request must name the chat model.
    fn check_chat_model(&self, model: &str) -> Result<(), ApiError> {
        if self.config.embedding.is_none() || model == self.config.chat.name {
            return Ok(());
        }
        Err(ApiError::not_found(
            "model_not_found",
            format!(
                "model `{model}` is not a chat model here; use `{}`",
                self.config.chat.name
            ),
        ))
    }

    fn embeddings(&mut self, body: &[u8]) -> Result<Response, ApiError> {
        let spec = openai::embedding_request(body)?;
        let Some(model) = self.config.embedding.clone() else {
            return Err(ApiError::not_found(
                "model_not_found",
                "no embedding model is loaded; with `nnedge serve`, pass `--embedding-model PATH`; \
                 when running this server directly, start it with \
                 `--model-alias chat,embedding` and preload both models",
            ));
        };
        if spec.model.as_deref().is_some_and(|m| m != model.name) {
            return Err(ApiError::not_found(
                "model_not_found",
                format!(
                    "model `{}` is not an embedding model here; use `{}`",
                    spec.model.unwrap_or_default(),
                    model.name
                ),
            ));
        }
        let backend = self
            .backend
            .as_mut()
            .ok_or_else(|| ApiError::unavailable("model_loading", "loading", 1))?;

        // TODO(#4): embeddings run synchronously and pause the generation slots meanwhile.
        let mut vectors = Vec::with_capacity(spec.inputs.len());
        let mut tokens = 0;
        for input in &spec.inputs {
            let embedding = backend.embed(input).map_err(|error| match error {
                BackendError::PromptTooLong { input_tokens } => ApiError::invalid_with_code(
                    "context_length_exceeded",
                    format!(
                        "an input has n_prompt_tokens = {input_tokens} tokens, more than the embedding \
                         model accepts (n_ctx = {})",
                        model.ctx_size
                    ),
                ),
                other => ApiError::internal(other.to_string()),
            })?;
            tokens += embedding.input_tokens;
            vectors.push(embedding.vector);
        }
        self.metrics.prompt_only(tokens);
        Ok(Response::json(
            200,
            &embeddings::response(&model.name, &vectors, spec.base64, tokens),
        ))
    }
}

fn preflight() -> Response {
    Response::with_body(204, "text/plain", Vec::new())
        .header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        .header(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type",
        )
        .header("Access-Control-Max-Age", "86400")
}

fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
