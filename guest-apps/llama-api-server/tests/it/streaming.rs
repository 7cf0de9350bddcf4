//! Server-sent events: framing, usage chunk, stop strings held back, UTF-8.

use crate::support::*;

fn stream(body: &str) -> Reply {
    let mut app = server(&[]);
    reply(&exchange(&mut app, 1, &post("/v1/chat/completions", body)))
}

fn deltas(events: &[String]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.as_str() != "[DONE]")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn chat_stream_framing_and_done() {
    let reply = stream(r#"{"messages":[{"role":"user","content":"say:To|kyo"}],"stream":true}"#);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
    let events = reply.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let first: serde_json::Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(deltas(&events).concat(), "Tokyo");
    let last: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last.get("usage").is_none(), "no usage unless asked for");
}

#[test]
fn include_usage_adds_a_final_usage_chunk() {
    let body = r#"{"messages":[{"role":"user","content":"say:a|b|c"}],"stream":true,
        "stream_options":{"include_usage":true},"max_tokens":2}"#;
    let events = stream(body).events();
    let usage: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 2);
    let finish: serde_json::Value = serde_json::from_str(&events[events.len() - 3]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    assert!(finish["usage"].is_null(), "other chunks carry usage: null");
    let timings = &usage["timings"];
    assert_eq!(timings["predicted_n"], 2);
    assert_eq!(timings["prompt_n"], usage["usage"]["prompt_tokens"]);
    assert!(timings["prompt_ms"].as_f64().unwrap() >= 0.0);
    assert!(timings["predicted_ms"].as_f64().unwrap() >= 0.0);
}

#[test]
fn a_possible_stop_string_is_not_sent_until_resolved() {
    let body = r####"{"messages":[{"role":"user","content":"say:Hi|##|#|more"}],"stream":true,"stop":"###"}"####;
    let events = stream(body).events();
    let sent = deltas(&events);
    assert!(
        !sent.concat().contains('#'),
        "the stop string and its prefix never reach the client: {sent:?}"
    );
    assert_eq!(sent.concat(), "Hi");
}

#[test]
fn a_false_alarm_is_released() {
    let body =
        r##"{"messages":[{"role":"user","content":"say:a|#|b"}],"stream":true,"stop":"#!"}"##;
    assert_eq!(deltas(&stream(body).events()).concat(), "a#b");
}

#[test]
fn unicode_survives_byte_exact_and_unsplit() {
    // the pieces split an emoji and two CJK characters between their bytes (percent-escaped)
    let script = "%F0%9F|%98%80|%E6%9D%B1%E4|%BA%AC|!";
    let body = format!(
        r#"{{"messages":[{{"role":"user","content":"say:{script}"}}],"stream":true,"stop":"京都"}}"#
    );
    let events = stream(&body).events();
    let sent = deltas(&events);
    assert!(
        sent.iter().all(|piece| !piece.contains('\u{FFFD}')),
        "no piece splits a character: {sent:?}"
    );
    assert_eq!(sent.concat(), "😀東京!");
}

#[test]
fn completions_stream_text_chunks() {
    let mut app = server(&[]);
    let body = r#"{"prompt":"say:p|q","stream":true}"#;
    let events = reply(&exchange(&mut app, 1, &post("/v1/completions", body))).events();
    let texts: Vec<String> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap())
        .inspect(|v| assert_eq!(v["object"], "text_completion"))
        .map(|v| v["choices"][0]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.concat(), "pq");
}

#[test]
fn http10_streams_without_chunking_and_closes() {
    let mut app = server(&[]);
    let body = r#"{"prompt":"say:p","stream":true}"#;
    let raw = format!(
        "POST /v1/completions HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let output = exchange(&mut app, 1, &raw);
    assert!(output.contains("Connection: close") && !output.contains("chunked"));
    assert!(output.ends_with("data: [DONE]\n\n"));
    assert!(app.should_close(1));
}
