//! SmolLM2-135M-Instruct (the default model): a real chat answer through `compute` and
//! through the `compute_single` stream, and token counts against the tokenizer.

use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use nnedge_wasi_nn_ggml::backend::backend;

use crate::support::{default_model, shared_model, Guest};

/// A ChatML user turn without a system turn (with SmolLM2's default system prompt the model
/// answers with Paris landmarks instead of naming the capital).
const QUESTION: &str =
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
const CONFIG: &str = r#"{"ctx-size": 512, "n-predict": 64, "temp": 0, "threads": 2}"#;

#[test]
fn smollm2_answers_paris_via_compute_and_stream_identically() {
    let Some(path) = default_model() else { return };
    let mut guest = Guest::with_model("default", &path);
    let context = guest.context("default", CONFIG);
    assert_eq!(guest.set_input(context, 0, QUESTION.as_bytes()), 0);

    assert_eq!(guest.nn.compute(context), 0);
    let answer = String::from_utf8(guest.output(context, 0).unwrap()).unwrap();
    assert!(answer.contains("Paris"), "answer: {answer:?}");
    assert!(
        !answer.contains("<|im_end|>"),
        "the end-of-turn token is not text: {answer:?}"
    );

    let (pieces, code) = guest.stream(context);
    assert_eq!(code, 100);
    for piece in &pieces {
        assert!(
            std::str::from_utf8(piece).is_ok(),
            "a piece splits a character: {piece:?}"
        );
    }
    assert_eq!(String::from_utf8(pieces.concat()).unwrap(), answer);
    assert_eq!(guest.nn.fini_single(context), 0);
}

#[test]
fn token_counts_match_the_tokenizer() {
    let Some(path) = default_model() else { return };
    let mut guest = Guest::with_model("default", &path);
    let context = guest.context("default", CONFIG);
    assert_eq!(guest.set_input(context, 0, QUESTION.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), 0);
    let answer = guest.output(context, 0).unwrap();
    let metadata = guest.metadata(context);

    let model = LlamaModel::load_from_file(backend().unwrap(), &path, &LlamaModelParams::default())
        .unwrap();
    let prompt_tokens = model.vocab().tokenize(QUESTION.as_bytes(), true, true);
    let answer_tokens = model.vocab().tokenize(&answer, false, false);
    assert_eq!(metadata["input_tokens"], prompt_tokens.len());
    assert_eq!(
        metadata["output_tokens"],
        answer_tokens.len(),
        "answer: {:?}",
        String::from_utf8_lossy(&answer)
    );

    // The same counts after a stream.
    let _ = guest.stream(context);
    assert_eq!(
        guest
            .output_single(context, 1)
            .map(|m| serde_json::from_slice::<serde_json::Value>(&m).unwrap())
            .unwrap(),
        metadata
    );
}

#[test]
fn json_schema_constrains_the_output() {
    let Some(path) = default_model() else { return };
    let mut guest = Guest::with_model("default", &path);
    let schema = r#"{"type":"object","properties":{"capital":{"type":"string","maxLength":20}},"required":["capital"]}"#;
    let config = serde_json::json!({"ctx-size": 512, "n-predict": 48, "temp": 0, "threads": 2, "json-schema": schema}).to_string();
    let context = guest.context("default", &config);
    assert_eq!(guest.set_input(context, 0, QUESTION.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), 0);
    let output = guest.output(context, 0).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output)));
    assert!(value["capital"].is_string(), "{value}");
}

#[test]
fn output_two_describes_the_model_with_its_own_chat_template() {
    let Some(path) = default_model() else { return };
    let mut guest = Guest::with_model("default", &path);
    let context = guest.context("default", CONFIG);
    // Readable before any prompt, through both output calls.
    let description: serde_json::Value =
        serde_json::from_slice(&guest.output(context, 2).unwrap()).unwrap();
    let template = description["chat_template"].as_str().unwrap();
    assert!(template.contains("<|im_start|>"), "{template}");
    assert_eq!(description["n_ctx_train"], 8192);
    assert_eq!(description["n_vocab"], 49152);
    assert_eq!(
        guest.output_single(context, 2).unwrap(),
        guest.output(context, 2).unwrap()
    );

    // A model without a template says so.
    let mut guest = Guest::with_model("stories", &shared_model("stories260K.gguf"));
    let context = guest.context("stories", CONFIG);
    let description: serde_json::Value =
        serde_json::from_slice(&guest.output(context, 2).unwrap()).unwrap();
    assert!(description["chat_template"].is_null(), "{description}");
}
