//! A scripted backend and helpers that drive the app and decode its HTTP output.

use std::collections::VecDeque;

use llama_api_server::app::App;
use llama_api_server::backend::{Backend, BackendError, Embedding, Step, TokenCounts};
use llama_api_server::config::{Args, ServerConfig};
use llama_api_server::job::ConnId;

use clap::Parser;

/// A model stand-in: each slot replies with the pieces its prompt asks for.
///
/// A prompt containing `say:A|B|C` yields the pieces `A`, `B`, `C` (`%XX` escapes a byte);
/// otherwise the reply is
/// `Hello`, `!`. Prompt tokens are whitespace-separated words; a prompt with more words than
/// `n_ctx` fails as too long. `n-predict` from the metadata limits the pieces.
#[derive(Debug)]
pub struct ScriptedBackend {
    pub n_ctx: u64,
    slots: Vec<Slot>,
    /// Calls in order, e.g. `step 0`, `reset 1`.
    pub log: Vec<String>,
}

#[derive(Debug, Default)]
struct Slot {
    pending: VecDeque<Vec<u8>>,
    input_tokens: u64,
    output_tokens: u64,
    limit: Option<u64>,
    active: bool,
}

impl ScriptedBackend {
    pub fn new(slots: usize) -> Self {
        Self {
            n_ctx: 64,
            slots: (0..slots).map(|_| Slot::default()).collect(),
            log: Vec::new(),
        }
    }
}

impl Backend for ScriptedBackend {
    fn slots(&self) -> usize {
        self.slots.len()
    }

    fn start(&mut self, slot: usize, prompt: &str, metadata: &str) -> Result<(), BackendError> {
        self.log.push(format!("start {slot}"));
        let metadata: serde_json::Value = serde_json::from_str(metadata).expect("metadata is JSON");
        let script = prompt
            .split("say:")
            .nth(1)
            .map(|s| s.split("<|im_end|>").next().unwrap_or(""));
        let pieces: VecDeque<Vec<u8>> = match script {
            Some(script) => script.split('|').map(unescape).collect(),
            None => VecDeque::from([b"Hello".to_vec(), b"!".to_vec()]),
        };
        self.slots[slot] = Slot {
            pending: pieces,
            input_tokens: prompt.split_whitespace().count() as u64,
            output_tokens: 0,
            limit: metadata["n-predict"].as_u64(),
            active: true,
        };
        Ok(())
    }

    fn step(&mut self, slot: usize) -> Result<Step, BackendError> {
        self.log.push(format!("step {slot}"));
        let n_ctx = self.n_ctx;
        let state = &mut self.slots[slot];
        assert!(state.active, "step on an idle slot {slot}");
        if state.input_tokens > n_ctx {
            return Err(BackendError::PromptTooLong {
                input_tokens: state.input_tokens,
            });
        }
        if state
            .limit
            .is_some_and(|limit| state.output_tokens >= limit)
        {
            return Ok(Step::End);
        }
        match state.pending.pop_front() {
            Some(piece) => {
                state.output_tokens += 1;
                Ok(Step::Piece(piece))
            }
            None => Ok(Step::End),
        }
    }

    fn counts(&mut self, slot: usize) -> Result<TokenCounts, BackendError> {
        let state = &self.slots[slot];
        Ok(TokenCounts {
            input_tokens: state.input_tokens,
            output_tokens: state.output_tokens,
        })
    }

    fn reset(&mut self, slot: usize) {
        self.log.push(format!("reset {slot}"));
        self.slots[slot].active = false;
    }

    fn embed(&mut self, input: &str) -> Result<Embedding, BackendError> {
        Ok(Embedding {
            vector: vec![input.len() as f32, 0.5],
            input_tokens: input.split_whitespace().count() as u64,
        })
    }
}

/// A server with flags `args`, loaded with a scripted backend of `--parallel` slots.
pub fn server(args: &[&str]) -> App<ScriptedBackend> {
    let mut app = loading_server(args);
    let slots = app.config().parallel;
    app.ready(ScriptedBackend::new(slots));
    app
}

/// A server still loading its model.
pub fn loading_server(args: &[&str]) -> App<ScriptedBackend> {
    let args =
        Args::try_parse_from(std::iter::once("llama-api-server").chain(args.iter().copied()))
            .expect("flags");
    App::new(ServerConfig::from_args(args, None).expect("config"))
}

/// A piece's bytes, with `%XX` escapes decoded (to split characters between pieces).
fn unescape(piece: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut rest = piece.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).expect("ASCII escape");
            bytes.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    bytes
}

/// Sends raw bytes on a new connection `conn` and runs the slots until idle; returns what
/// the server wrote.
pub fn exchange(app: &mut App<ScriptedBackend>, conn: ConnId, raw: &str) -> String {
    app.accept(conn);
    app.receive(conn, raw.as_bytes());
    run_until_idle(app);
    take_output(app, conn)
}

pub fn run_until_idle(app: &mut App<ScriptedBackend>) {
    for _ in 0..1000 {
        if !app.has_work() {
            return;
        }
        app.tick();
    }
    panic!("the server did not become idle");
}

pub fn take_output(app: &mut App<ScriptedBackend>, conn: ConnId) -> String {
    let output = String::from_utf8(app.output(conn).to_vec()).expect("UTF-8 output");
    app.sent(conn, output.len());
    output
}

/// A POST request with a JSON body.
pub fn post(path: &str, body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// A GET request.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n")
}

/// A parsed response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    /// The `data:` payloads of an SSE body.
    pub fn events(&self) -> Vec<String> {
        assert!(
            self.body.ends_with("\n\n"),
            "events end with a blank line: {:?}",
            self.body
        );
        self.body
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                e.strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data event: {e:?}"))
                    .to_owned()
            })
            .collect()
    }
}

/// Splits `output` into responses, decoding chunked bodies.
pub fn replies(output: &str) -> Vec<Reply> {
    let mut rest = output;
    let mut replies = Vec::new();
    while !rest.is_empty() {
        let (head, after) = rest.split_once("\r\n\r\n").expect("a complete head");
        let status = head[9..12].parse().expect("status code");
        let header = |name: &str| {
            head.lines().find_map(|l| {
                l.split_once(": ")
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
        };
        let (body, remaining) = if let Some(length) = header("content-length") {
            let length: usize = length.parse().expect("length");
            (after[..length].to_owned(), &after[length..])
        } else if header("transfer-encoding") == Some("chunked") {
            decode_chunked(after)
        } else {
            (after.to_owned(), "")
        };
        replies.push(Reply {
            status,
            head: head.to_owned(),
            body,
        });
        rest = remaining;
    }
    replies
}

/// The one response in `output`.
pub fn reply(output: &str) -> Reply {
    let mut all = replies(output);
    assert_eq!(all.len(), 1, "expected one response in {output:?}");
    all.remove(0)
}

fn decode_chunked(mut text: &str) -> (String, &str) {
    let mut body = String::new();
    loop {
        let (size, after) = text.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size, 16).expect("hex chunk size");
        if size == 0 {
            return (body, after.strip_prefix("\r\n").expect("final CRLF"));
        }
        body.push_str(&after[..size]);
        text = after[size..].strip_prefix("\r\n").expect("chunk CRLF");
    }
}
