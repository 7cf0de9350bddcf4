//! Non-streaming endpoints: chat, completions, embeddings, models, health, metrics.

use crate::support::*;

const SEED_REQUEST: &str = r#"{"model":"default","messages":[
    {"role":"system","content":"You are a helpful assistant. Reply in short sentence"},
    {"role":"user","content":"What is the capital of Japan? say:Tokyo| is| the capital."}]}"#;

#[test]
fn the_seeds_request_returns_a_chat_completion() {
    let mut app = server(&[]);
    let reply = reply(&exchange(
        &mut app,
        1,
        &post("/v1/chat/completions", SEED_REQUEST),
    ));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "default");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Tokyo is the capital."
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["completion_tokens"], 3);
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 10);
    assert_eq!(
        usage["total_tokens"],
        usage["prompt_tokens"].as_u64().unwrap() + 3
    );
}

#[test]
fn max_tokens_ends_with_length() {
    let mut app = server(&[]);
    let body = r#"{"messages":[{"role":"user","content":"say:a|b|c|d|e|f|g"}],"max_tokens":5}"#;
    let json = reply(&exchange(&mut app, 1, &post("/v1/chat/completions", body))).json();
    assert_eq!(json["choices"][0]["message"]["content"], "abcde");
    assert_eq!(json["choices"][0]["finish_reason"], "length");
    assert_eq!(json["usage"]["completion_tokens"], 5);
}

#[test]
fn stop_strings_cut_the_output() {
    let mut app = server(&[]);
    let body =
        r#"{"messages":[{"role":"user","content":"say:one|,|two|END|three"}],"stop":["EN","zz"]}"#;
    let json = reply(&exchange(&mut app, 1, &post("/v1/chat/completions", body))).json();
    assert_eq!(json["choices"][0]["message"]["content"], "one,two");
    assert_eq!(json["choices"][0]["finish_reason"], "stop");
}

/// Regression: chatml replies ran on into a made-up `<|im_start|>user` turn.
#[test]
fn chat_output_stops_at_the_templates_turn_markers() {
    // `%3C%7C` is `<|`: the scripted backend cuts its script at a literal `<|im_end|>`
    let run_on = "say:Paris.|\\n%3C%7Cim_start%7C>user|\\nAnd Spain?";
    let cases = [
        (&[][..], run_on.to_owned(), "Paris.\n"),
        (
            &[][..],
            "say:Rome.|%3C%7Cim_end%7C>|\\nmore".to_owned(),
            "Rome.",
        ),
        (
            &["--prompt-template", "gemma-instruct"][..],
            "say:Oslo.|<start_of_turn>|user".to_owned(),
            "Oslo.",
        ),
    ];
    for (args, content, expected) in cases {
        let mut app = server(args);
        let body = format!(r#"{{"messages":[{{"role":"user","content":"{content}"}}]}}"#);
        let json = reply(&exchange(&mut app, 1, &post("/v1/chat/completions", &body))).json();
        assert_eq!(
            json["choices"][0]["message"]["content"], expected,
            "{content}"
        );
        assert_eq!(json["choices"][0]["finish_reason"], "stop", "{content}");
    }

    // streamed: no fragment of a marker is sent before it is cut
    let mut app = server(&[]);
    let body = r#"{"messages":[{"role":"user","content":"say:Paris.|%3C%7Cim_|start%7C>user"}],
        "stream":true}"#;
    let events = reply(&exchange(&mut app, 1, &post("/v1/chat/completions", body))).events();
    let text: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| {
            let json: serde_json::Value = serde_json::from_str(e).unwrap();
            json["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Paris.");
    assert!(events
        .iter()
        .any(|e| e.contains(r#""finish_reason":"stop""#)));

    // text completions have no template, so the markers are ordinary text there
    let mut app = server(&[]);
    let body = r#"{"prompt":"say:a|%3C%7Cim_end%7C>|b"}"#;
    let json = reply(&exchange(&mut app, 1, &post("/v1/completions", body))).json();
    assert_eq!(json["choices"][0]["text"], "a<|im_end|>b");
}

/// Regression: without an embedding model, the error named only the guest's own flag.
#[test]
fn missing_embedding_model_error_names_the_nnedge_serve_flag() {
    let mut app = server(&[]);
    let json = reply(&exchange(
        &mut app,
        1,
        &post("/v1/embeddings", r#"{"input":"hi"}"#),
    ))
    .json();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("--embedding-model PATH") && message.contains("nnedge serve"),
        "{message}"
    );
}

#[test]
fn completions_give_one_choice_per_prompt() {
    let mut app = server(&[]);
    let body = r#"{"prompt":["say:x|y","say:z"],"max_tokens":10}"#;
    let json = reply(&exchange(&mut app, 1, &post("/v1/completions", body))).json();
    assert_eq!(json["object"], "text_completion");
    assert_eq!(json["choices"][0]["text"], "xy");
    assert_eq!(json["choices"][1]["text"], "z");
    assert_eq!(json["choices"][1]["index"], 1);
    assert_eq!(json["usage"]["completion_tokens"], 3);
}

#[test]
fn embeddings_need_a_second_model() {
    let mut app = server(&[]);
    let without = reply(&exchange(
        &mut app,
        1,
        &post("/v1/embeddings", r#"{"input":"hi"}"#),
    ));
    assert_eq!(without.status, 404);
    assert!(without.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--model-alias"));

    let mut app = server(&["--model-alias", "chat,embed", "--model-name", "smol,minilm"]);
    let body = r#"{"model":"minilm","input":["a b","cde"]}"#;
    let json = reply(&exchange(&mut app, 1, &post("/v1/embeddings", body))).json();
    assert_eq!(json["object"], "list");
    assert_eq!(json["data"][1]["embedding"], serde_json::json!([3.0, 0.5]));
    assert_eq!(json["usage"]["prompt_tokens"], 3);
    let wrong = reply(&exchange(
        &mut app,
        2,
        &post("/v1/embeddings", r#"{"model":"smol","input":"x"}"#),
    ));
    assert_eq!(wrong.status, 404);
}

#[test]
fn model_names_are_checked_only_with_two_models() {
    let mut app = server(&[]);
    let any = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(
        reply(&exchange(&mut app, 1, &post("/v1/chat/completions", any))).status,
        200
    );

    let mut app = server(&["--model-alias", "chat,embed", "--model-name", "smol,minilm"]);
    assert_eq!(
        reply(&exchange(&mut app, 1, &post("/v1/chat/completions", any))).status,
        404
    );
    let models = reply(&exchange(&mut app, 2, &get("/v1/models"))).json();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["smol", "minilm"]);
    assert_eq!(
        reply(&exchange(&mut app, 3, &get("/v1/models/minilm"))).status,
        200
    );
    assert_eq!(
        reply(&exchange(&mut app, 4, &get("/v1/models/nope"))).status,
        404
    );
}

#[test]
fn health_is_503_while_loading_then_200() {
    let mut app = loading_server(&[]);
    let loading = reply(&exchange(&mut app, 1, &get("/health")));
    assert_eq!(
        (loading.status, loading.json()["status"].as_str()),
        (503, Some("loading"))
    );
    let chat = reply(&exchange(
        &mut app,
        2,
        &post("/v1/chat/completions", SEED_REQUEST),
    ));
    assert_eq!((chat.status, chat.header("retry-after")), (503, Some("1")));

    let mut app = server(&[]);
    assert_eq!(reply(&exchange(&mut app, 1, &get("/health"))).status, 200);
}

#[test]
fn metrics_count_requests_and_tokens() {
    let mut app = server(&["--parallel", "2"]);
    exchange(&mut app, 1, &post("/v1/chat/completions", SEED_REQUEST));
    let text = reply(&exchange(&mut app, 2, &get("/metrics"))).body;
    assert!(
        text.contains("nnedge_requests_total{endpoint=\"chat\",status=\"200\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("nnedge_generated_tokens_total 3\n"), "{text}");
    assert!(text.contains("nnedge_slots 2\n"), "{text}");
    assert!(text.contains("nnedge_queue_length 0\n"), "{text}");
}

#[test]
fn keep_alive_serves_pipelined_requests_in_order() {
    let mut app = server(&[]);
    let raw = format!(
        "{}{}{}",
        post(
            "/v1/chat/completions",
            r#"{"messages":[{"role":"user","content":"say:first"}]}"#
        ),
        get("/health"),
        post("/v1/completions", r#"{"prompt":"say:second"}"#)
    );
    let all = replies(&exchange(&mut app, 1, &raw));
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].json()["choices"][0]["message"]["content"], "first");
    assert_eq!(all[1].json()["status"], "ok");
    assert_eq!(all[2].json()["choices"][0]["text"], "second");
    assert!(!app.should_close(1), "HTTP/1.1 keeps the connection open");
}

#[test]
fn expect_continue_is_answered_before_the_body() {
    let mut app = server(&[]);
    app.accept(1);
    let body = r#"{"prompt":"say:ok"}"#;
    let head = format!(
        "POST /v1/completions HTTP/1.1\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    app.receive(1, head.as_bytes());
    assert_eq!(take_output(&mut app, 1), "HTTP/1.1 100 Continue\r\n\r\n");
    app.receive(1, body.as_bytes());
    run_until_idle(&mut app);
    assert_eq!(
        reply(&take_output(&mut app, 1)).json()["choices"][0]["text"],
        "ok"
    );
}
