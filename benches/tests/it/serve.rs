//! `bench serve` against a stub OpenAI-style server on 127.0.0.1 that streams a fixed number
//! of chunked SSE tokens, with small pauses, so TTFT and rates are real measurements.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nnedge_benches::serve::{self, ServeSettings};

/// Tokens the stub streams per request.
const TOKENS: u64 = 6;
const KEY: &str = "stub-key-123";

/// A stub server; counts the requests that carried the right key.
struct Stub {
    url: String,
    authorised: Arc<AtomicUsize>,
}

fn start_stub() -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let authorised = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&authorised);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || answer(stream, &counter));
        }
    });
    Stub { url, authorised }
}

fn answer(stream: TcpStream, authorised: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let (mut length, mut key_ok, mut path) = (0usize, false, String::new());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let text = line.trim_end().to_owned();
        line.clear();
        if text.is_empty() {
            break;
        }
        if let Some(rest) = text.strip_prefix("POST ") {
            path = rest.split_whitespace().next().unwrap_or("").to_owned();
        }
        if let Some((name, value)) = text.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => key_ok = value.trim() == format!("Bearer {KEY}"),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut out = stream;

    if path != "/v1/chat/completions" || !key_ok || request["stream"] != true {
        let body = r#"{"error":{"message":"invalid API key","type":"authentication_error"}}"#;
        let _ = write!(
            out,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    authorised.fetch_add(1, Ordering::SeqCst);
    let _ = out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let mut events: Vec<String> = (0..TOKENS)
        .map(|i| {
            format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t{i} \"}}}}]}}\n\n"
            )
        })
        .collect();
    events.push(format!(
        "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":9,\"completion_tokens\":{TOKENS}}}}}\n\n"
    ));
    let truncated = request["model"] == "truncated";
    if !truncated {
        events.push("data: [DONE]\n\n".to_owned());
    }
    for event in events {
        std::thread::sleep(Duration::from_millis(5));
        // Split each event over two HTTP chunks, as a server flushing mid-event would.
        let (head, tail) = event.split_at(event.len() / 2);
        for part in [head, tail] {
            let _ = write!(out, "{:x}\r\n{part}\r\n", part.len());
        }
        let _ = out.flush();
    }
    let _ = out.write_all(b"0\r\n\r\n");
}

fn settings(url: &str, model: &str, concurrency: Vec<usize>) -> ServeSettings {
    ServeSettings {
        url: url.to_owned(),
        model: model.to_owned(),
        concurrency,
        requests_per_stream: 2,
        level_seconds: 30.0,
        request_timeout_seconds: 10.0,
        max_tokens: 16,
    }
}

#[test]
fn levels_measure_ttft_latency_and_tokens_against_a_stub() {
    let stub = start_stub();
    let report = serve::run(&settings(&stub.url, "default", vec![1, 2]), Some(KEY))
        .expect("the stub answers");
    assert_eq!(report.levels.len(), 2);
    assert_eq!(report.all_failed(), None, "every request succeeded");
    for (level, requests) in report.levels.iter().zip([2, 4]) {
        assert_eq!((level.requests, level.errors), (requests, 0), "{level:?}");
        assert_eq!(level.completion_tokens, requests as u64 * TOKENS);
        let ttft = level.ttft_ms.expect("a first token was timed");
        let latency = level.latency_ms.expect("latencies were timed");
        assert!(
            ttft.p50 >= 5.0 && latency.p50 > ttft.p50,
            "{ttft:?} {latency:?}"
        );
        assert!(level.stream_tps.is_some() && level.aggregate_tps > 0.0);
    }
    assert_eq!(stub.authorised.load(Ordering::SeqCst), 6);
}

#[test]
fn refused_requests_are_counted_as_errors_without_the_key() {
    let stub = start_stub();
    let report = serve::run(
        &settings(&stub.url, "default", vec![2]),
        Some("wrong-secret"),
    )
    .expect("a refusal is a result, not a failure");
    let level = &report.levels[0];
    assert_eq!((level.requests, level.errors), (4, 4));
    assert_eq!(level.error_examples.len(), 1, "{:?}", level.error_examples);
    assert!(level.error_examples[0].starts_with("HTTP 401"));
    assert!(
        !format!("{report:?}").contains("wrong-secret"),
        "the key leaked"
    );
}

#[test]
fn a_stream_without_done_is_an_error() {
    let stub = start_stub();
    let report = serve::run(&settings(&stub.url, "truncated", vec![1]), Some(KEY))
        .expect("the stub answers");
    let level = &report.levels[0];
    assert_eq!(level.errors, 2);
    assert!(
        level.error_examples[0].contains("[DONE]"),
        "{:?}",
        level.error_examples
    );
}

#[test]
fn a_level_starts_no_request_after_its_time_is_up() {
    let stub = start_stub();
    let mut settings = settings(&stub.url, "default", vec![4]);
    settings.level_seconds = 0.0;
    let report = serve::run(&settings, Some(KEY)).expect("nothing to send");
    assert_eq!(report.levels[0].requests, 0);
    assert_eq!(stub.authorised.load(Ordering::SeqCst), 0);
}

#[test]
fn a_closed_port_is_a_connection_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let report = serve::run(
        &settings(&format!("http://127.0.0.1:{port}"), "default", vec![1]),
        None,
    )
    .expect("errors are counted");
    assert_eq!(report.levels[0].errors, 2);
    assert!(report.levels[0].error_examples[0].starts_with("failed to connect"));
    // A run where nothing succeeded used to exit 0; the CLI now fails on it.
    let (concurrency, error) = report.all_failed().expect("every request failed");
    assert_eq!(concurrency, 1);
    assert!(error.starts_with("failed to connect"), "{error}");
}
