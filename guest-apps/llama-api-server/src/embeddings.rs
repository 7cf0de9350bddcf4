//! `/v1/embeddings` responses: vectors as JSON numbers or base64 little-endian f32.

use serde_json::{json, Value};

/// The response body for `vectors` (one per input) computed by `model`.
pub fn response(model: &str, vectors: &[Vec<f32>], base64: bool, prompt_tokens: u64) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                Value::String(encode_base64(&le_bytes(vector)))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    })
}

/// Parses the host's embedding output: a JSON array, or an object with an `embedding` array.
pub fn parse_vector(bytes: &[u8]) -> Option<Vec<f32>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let array = match &value {
        Value::Array(_) => &value,
        Value::Object(map) => map.get("embedding")?,
        _ => return None,
    };
    array
        .as_array()?
        .iter()
        .map(|x| x.as_f64().map(|x| x as f32))
        .collect()
}

fn le_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Standard base64 with padding.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(encode_base64(b""), "");
        assert_eq!(encode_base64(b"f"), "Zg==");
        assert_eq!(encode_base64(b"fo"), "Zm8=");
        assert_eq!(encode_base64(b"foo"), "Zm9v");
        assert_eq!(encode_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_base64(&1.0f32.to_le_bytes()), "AACAPw==");
    }

    #[test]
    fn parses_both_host_shapes() {
        assert_eq!(parse_vector(b"[0.5,-1]"), Some(vec![0.5, -1.0]));
        assert_eq!(
            parse_vector(br#"{"n_embedding":2,"embedding":[1,2]}"#),
            Some(vec![1.0, 2.0])
        );
        assert_eq!(parse_vector(b"{}"), None);
        assert_eq!(parse_vector(b"[\"x\"]"), None);
    }

    #[test]
    fn response_shape() {
        let body = response("m", &[vec![1.0], vec![2.0]], false, 7);
        assert_eq!(body["data"][1]["embedding"], json!([2.0]));
        assert_eq!(body["data"][1]["index"], 1);
        assert_eq!(body["usage"]["prompt_tokens"], 7);
        assert_eq!(
            response("m", &[vec![1.0]], true, 1)["data"][0]["embedding"],
            "AACAPw=="
        );
    }
}
