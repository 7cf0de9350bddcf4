//! Error statuses in OpenAI's JSON shape.

use crate::support::*;

fn error_of(
    app: &mut llama_api_server::app::App<ScriptedBackend>,
    raw: &str,
) -> (u16, serde_json::Value) {
    let reply = reply(&exchange(app, 1, raw));
    let json = reply.json();
    assert!(
        json["error"]["message"].is_string(),
        "OpenAI error shape: {json}"
    );
    assert!(
        json["error"]["type"].is_string(),
        "OpenAI error shape: {json}"
    );
    assert!(
        json["error"].get("code").is_some(),
        "OpenAI error shape: {json}"
    );
    (reply.status, json)
}

#[test]
fn invalid_json_is_400() {
    let (status, json) = error_of(&mut server(&[]), &post("/v1/chat/completions", "{nope"));
    assert_eq!(status, 400);
    assert_eq!(json["error"]["code"], "invalid_json");
}

#[test]
fn unknown_route_is_404_and_wrong_method_405() {
    assert_eq!(error_of(&mut server(&[]), &get("/v2/everything")).0, 404);
    // `GET /` serves the chat page only when the build found `src/chat.html`
    let page = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/chat.html"));
    if page.exists() {
        let reply = reply(&exchange(&mut server(&[]), 1, &get("/")));
        assert_eq!(
            (reply.status, reply.header("content-type")),
            (200, Some("text/html; charset=utf-8"))
        );
    } else {
        assert_eq!(
            error_of(&mut server(&[]), &get("/")).0,
            404,
            "no chat page in this build"
        );
    }
    let mut app = server(&[]);
    let reply = reply(&exchange(&mut app, 1, &get("/v1/chat/completions")));
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
}

#[test]
fn body_over_the_limit_is_413_and_closes() {
    let mut app = server(&["--max-body-size", "100"]);
    let body = format!(r#"{{"prompt":"{}"}}"#, "a".repeat(200));
    let (status, json) = error_of(&mut app, &post("/v1/completions", &body));
    assert_eq!(status, 413);
    assert_eq!(json["error"]["code"], "request_too_large");
    assert!(app.should_close(1));
}

#[test]
fn n_other_than_one_is_400() {
    let body = r#"{"messages":[{"role":"user","content":"hi"}],"n":3}"#;
    let (status, json) = error_of(&mut server(&[]), &post("/v1/chat/completions", body));
    assert_eq!(status, 400);
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`n` = 3"));
}

#[test]
fn a_prompt_over_the_context_is_400_with_counts_and_the_server_keeps_serving() {
    let mut app = server(&["--ctx-size", "64"]);
    let long = "word ".repeat(100);
    let body = format!(r#"{{"prompt":"{long}","stream":true}}"#);
    let (status, json) = error_of(&mut app, &post("/v1/completions", &body));
    assert_eq!(status, 400);
    assert_eq!(json["error"]["code"], "context_length_exceeded");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("n_prompt_tokens = 100") && message.contains("n_ctx = 64"),
        "{message}"
    );
    assert_eq!(
        reply(&exchange(
            &mut app,
            2,
            &post("/v1/completions", r#"{"prompt":"say:ok"}"#)
        ))
        .status,
        200
    );
}

#[test]
fn api_key_is_required_when_set() {
    let args = ["--api-key", "k3y"];
    let chat = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, json) = error_of(&mut server(&args), &post("/v1/chat/completions", chat));
    assert_eq!(status, 401);
    assert_eq!(json["error"]["code"], "invalid_api_key");
    assert!(
        !json.to_string().contains("k3y"),
        "the key never appears in responses"
    );

    let wrong = post("/v1/chat/completions", chat).replacen(
        "Host: t",
        "Host: t\r\nAuthorization: Bearer nope",
        1,
    );
    assert_eq!(error_of(&mut server(&args), &wrong).0, 401);
    let right = post("/v1/chat/completions", chat).replacen(
        "Host: t",
        "Host: t\r\nAuthorization: Bearer k3y",
        1,
    );
    assert_eq!(reply(&exchange(&mut server(&args), 1, &right)).status, 200);
    assert_eq!(error_of(&mut server(&args), &get("/v1/models")).0, 401);
    assert_eq!(
        reply(&exchange(&mut server(&args), 1, &get("/health"))).status,
        200,
        "health stays open"
    );
}

/// Regression: `Authorization: bearer KEY` was 401; the auth scheme is case-insensitive.
#[test]
fn lower_case_bearer_scheme_is_accepted() {
    let args = ["--api-key", "k3y"];
    let chat = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let request = post("/v1/chat/completions", chat).replacen(
            "Host: t",
            &format!("Host: t\r\nAuthorization: {scheme} k3y"),
            1,
        );
        assert_eq!(
            reply(&exchange(&mut server(&args), 1, &request)).status,
            200,
            "{scheme}"
        );
    }
    let other = post("/v1/chat/completions", chat).replacen(
        "Host: t",
        "Host: t\r\nAuthorization: Basic k3y",
        1,
    );
    assert_eq!(error_of(&mut server(&args), &other).0, 401);
}

/// Regression: `{"input":""}` on `/v1/embeddings` was a 500 server_error instead of a 400.
#[test]
fn empty_embedding_input_is_400_saying_it_is_empty() {
    let mut app = server(&["--model-alias", "chat,embed", "--model-name", "smol,minilm"]);
    for body in [r#"{"input":""}"#, r#"{"input":["a",""]}"#] {
        let (status, json) = error_of(&mut app, &post("/v1/embeddings", body));
        assert_eq!(status, 400, "{body}");
        assert_eq!(json["error"]["type"], "invalid_request_error", "{body}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`input") && message.contains("empty"),
            "{message}"
        );
    }
}

/// Regression: `{"prompt":""}` on `/v1/completions` blamed response_format and sampling.
#[test]
fn empty_completion_prompt_is_400_saying_the_prompt_is_empty() {
    let (status, json) = error_of(
        &mut server(&[]),
        &post("/v1/completions", r#"{"prompt":""}"#),
    );
    assert_eq!(status, 400);
    assert_eq!(json["error"]["type"], "invalid_request_error");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`prompt`") && message.contains("empty"),
        "{message}"
    );
    assert!(!message.contains("response_format"), "{message}");
}

#[test]
fn malformed_http_is_400_and_closes() {
    let mut app = server(&[]);
    let (status, _) = error_of(&mut app, "BLAH\0\r\n\r\n");
    assert_eq!(status, 400);
    assert!(app.should_close(1));
}

#[test]
fn regression_a_body_over_one_mib_but_under_the_limit_is_read_and_answered() {
    // The event loop reads only while `wants_read`; it used to stop at 1 MiB buffered, so a
    // 1-8 MiB body never arrived and the client waited forever. Feed it as the loop does.
    let mut app = server(&[]);
    let body = format!(r#"{{"prompt": 1, "pad": "{}"}}"#, "a".repeat(3 << 20));
    let request = post("/v1/completions", &body);
    app.accept(1);
    let mut sent = 0;
    while sent < request.len() {
        assert!(
            app.wants_read(1),
            "stopped reading after {sent} of {} bytes",
            request.len()
        );
        let end = (sent + 64 * 1024).min(request.len());
        app.receive(1, &request.as_bytes()[sent..end]);
        sent = end;
    }
    run_until_idle(&mut app);
    let reply = reply(&take_output(&mut app, 1));
    assert_eq!(reply.status, 400, "{}", reply.body);
}
