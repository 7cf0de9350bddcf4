//! Server-sent events of an OpenAI-style streaming chat completion: `data: {json}` events
//! separated by blank lines, ending with `data: [DONE]`.
//!
//! [`EventParser`] takes bytes as they arrive (any split, `\n` or `\r\n` line ends) and yields
//! each event's data; [`interpret`] reads what a load generator needs from a chunk: whether
//! it carries generated text, the usage's completion tokens and llama.cpp-style `timings`
//! when the server sends them.

/// Splits a byte stream into the `data` fields of its events.
#[derive(Debug, Default)]
pub struct EventParser {
    buffer: Vec<u8>,
    data: Vec<String>,
}

impl EventParser {
    /// Feeds `bytes`; returns the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    events.push(self.data.join("\n"));
                    self.data.clear();
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                self.data
                    .push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
            // Comments (`:`) and other fields (`event:`, `id:`) carry nothing we count.
        }
        events
    }
}

/// What one event says.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// The end of the stream (`[DONE]`).
    Done,
    /// A completion chunk.
    Delta {
        /// Bytes of generated text it carries (content, or reasoning content).
        text_bytes: usize,
        /// `usage.completion_tokens`, when present.
        completion_tokens: Option<u64>,
        /// `timings.prompt_ms + timings.predicted_ms` (llama-server, nnedge), when present:
        /// the server's own account of its compute time for the request.
        compute_ms: Option<f64>,
    },
    /// An error object the server sent inside the stream.
    Error(String),
}

/// Reads one event's data.
pub fn interpret(data: &str) -> Chunk {
    if data.trim() == "[DONE]" {
        return Chunk::Done;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
        return Chunk::Error(format!("an event is not JSON: {}", truncate(data, 80)));
    };
    if let Some(error) = value.get("error") {
        let message = error["message"].as_str().unwrap_or("no message");
        return Chunk::Error(truncate(message, 120));
    }
    let text_bytes = value["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|choice| {
            let delta = &choice["delta"];
            let text = |key: &str| delta[key].as_str().map_or(0, str::len);
            text("content") + text("reasoning_content")
        })
        .sum();
    let timings = &value["timings"];
    let compute_ms = timings["prompt_ms"]
        .as_f64()
        .zip(timings["predicted_ms"].as_f64())
        .map(|(prompt, predicted)| prompt + predicted);
    Chunk::Delta {
        text_bytes,
        completion_tokens: value["usage"]["completion_tokens"].as_u64(),
        compute_ms,
    }
}

/// `text` cut to at most `max` characters.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_split_and_crlf() {
        let stream = b"data: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n";
        for split in 0..stream.len() {
            let mut parser = EventParser::default();
            let mut events = parser.push(&stream[..split]);
            events.extend(parser.push(&stream[split..]));
            assert_eq!(events, ["{\"a\":1}", "[DONE]"], "split at {split}");
        }
    }

    #[test]
    fn chunks_give_text_usage_and_errors() {
        let delta = r#"{"choices":[{"index":0,"delta":{"content":"Paris"}}]}"#;
        assert_eq!(
            interpret(delta),
            Chunk::Delta {
                text_bytes: 5,
                completion_tokens: None,
                compute_ms: None,
            }
        );
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12},
            "timings":{"prompt_n":9,"prompt_ms":12.5,"predicted_n":12,"predicted_ms":80.25}}"#;
        assert_eq!(
            interpret(usage),
            Chunk::Delta {
                text_bytes: 0,
                completion_tokens: Some(12),
                compute_ms: Some(92.75),
            }
        );
        assert_eq!(interpret(" [DONE]"), Chunk::Done);
        assert_eq!(
            interpret(r#"{"error":{"message":"context full"}}"#),
            Chunk::Error("context full".into())
        );
        assert!(matches!(interpret("{oops"), Chunk::Error(_)));
    }
}
