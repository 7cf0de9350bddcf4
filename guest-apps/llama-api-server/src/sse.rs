//! Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then
//! `data: [DONE]\n\n`.

/// One event carrying a JSON payload.
pub fn event(payload: &serde_json::Value) -> Vec<u8> {
    format!("data: {payload}\n\n").into_bytes()
}

/// The event that ends a stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_json_on_one_line() {
        let bytes = event(&serde_json::json!({"text": "a\nb"}));
        assert_eq!(bytes, b"data: {\"text\":\"a\\nb\"}\n\n");
    }
}
