//! stories260K through the ABI against llama-cpp-2 called directly, greedy, token for token.

use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use nnedge_wasi_nn_ggml::backend::backend;

use crate::support::{shared_model, Guest};

const PROMPT: &str = "Once upon a time";
const N_PREDICT: usize = 48;
const CONFIG: &str = r#"{"ctx-size": 256, "batch-size": 256, "ubatch-size": 256, "n-predict": 48, "temp": 0, "threads": 2}"#;

/// Greedy generation with llama-cpp-2 directly: the per-token pieces and the prompt's tokens.
fn direct_pieces() -> (Vec<Vec<u8>>, usize) {
    let backend = backend().expect("llama backend");
    let model = LlamaModel::load_from_file(
        backend,
        shared_model("stories260K.gguf"),
        &LlamaModelParams::default(),
    )
    .unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(256))
        .with_n_batch(256)
        .with_n_ubatch(256)
        .with_n_threads(2)
        .with_n_threads_batch(2);
    let mut context = model.new_context(backend, params).unwrap();
    let prompt = model.vocab().tokenize(PROMPT.as_bytes(), true, true);

    let mut batch = LlamaBatch::new(256, 1);
    for (position, token) in prompt.iter().enumerate() {
        let last = position + 1 == prompt.len();
        batch
            .add(*token, i32::try_from(position).unwrap(), &[0], last)
            .unwrap();
    }
    context.decode(&mut batch).unwrap();
    let mut sampler = LlamaSampler::greedy();
    let mut index = batch.n_tokens() - 1;
    let mut position = prompt.len();
    let mut pieces = Vec::new();
    while pieces.len() < N_PREDICT {
        let token = sampler.sample(&context, index);
        if model.vocab().is_eog(token) {
            break;
        }
        pieces.push(model.vocab().token_to_piece(token, true, None));
        batch.clear();
        batch
            .add(token, i32::try_from(position).unwrap(), &[0], true)
            .unwrap();
        context.decode(&mut batch).unwrap();
        position += 1;
        index = 0;
    }
    (pieces, prompt.len())
}

#[test]
fn stories260k_greedy_matches_llama_cpp_2_token_for_token() {
    let (expected, prompt_tokens) = direct_pieces();
    assert!(
        expected.len() > 10,
        "the reference generated too little: {expected:?}"
    );

    let mut guest = Guest::with_model("stories", &shared_model("stories260K.gguf"));
    let context = guest.context("stories", CONFIG);
    assert_eq!(guest.set_input(context, 0, PROMPT.as_bytes()), 0);

    // compute: the whole text, and token counts in output index 1.
    assert_eq!(guest.nn.compute(context), 0);
    let text = guest.output(context, 0).unwrap();
    assert_eq!(
        text,
        expected.concat(),
        "compute text differs from llama-cpp-2"
    );
    let metadata = guest.metadata(context);
    assert_eq!(metadata["input_tokens"], prompt_tokens);
    assert_eq!(metadata["output_tokens"], expected.len());
    assert!(metadata["llama_build_number"].is_u64());
    assert!(metadata["llama_commit"].is_string());

    // compute_single: one piece per token (ASCII vocabulary: nothing is held back).
    let (pieces, code) = guest.stream(context);
    assert_eq!(code, 100, "the stream must end with end-of-sequence");
    assert_eq!(
        pieces, expected,
        "compute_single pieces differ from llama-cpp-2"
    );
    assert_eq!(guest.nn.fini_single(context), 0);
}

#[test]
fn n_predict_limits_and_stream_restarts_after_fini_single() {
    let mut guest = Guest::with_model("stories", &shared_model("stories260K.gguf"));
    let config = r#"{"ctx-size": 128, "n-predict": 5, "temp": 0, "threads": 2}"#;
    let context = guest.context("stories", config);
    assert_eq!(guest.set_input(context, 0, PROMPT.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), 0);
    assert_eq!(guest.metadata(context)["output_tokens"], 5);
    let text = guest.output(context, 0).unwrap();

    let (first, code) = guest.stream(context);
    assert_eq!((first.concat(), code), (text.clone(), 100));
    assert_eq!(
        guest.nn.compute_single(context),
        100,
        "an ended stream keeps returning 100"
    );
    assert_eq!(guest.nn.fini_single(context), 0);
    let (second, _) = guest.stream(context);
    assert_eq!(
        second.concat(),
        text,
        "after fini_single the stream starts afresh"
    );
}

#[test]
fn reverse_prompt_stops_compute_and_stream_without_the_prompt_itself() {
    let mut guest = Guest::with_model("stories", &shared_model("stories260K.gguf"));
    let context = guest.context("stories", CONFIG);
    assert_eq!(guest.set_input(context, 0, PROMPT.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), 0);
    let full = String::from_utf8(guest.output(context, 0).unwrap()).unwrap();
    // Stop at the second word of the free-running text.
    let word = full
        .split_whitespace()
        .nth(1)
        .expect("two words")
        .to_owned();
    let cut = full.find(&word).unwrap();

    let config = serde_json::json!({ "reverse-prompt": word }).to_string();
    assert_eq!(guest.set_input(context, 1, config.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), 0);
    let stopped = guest.output(context, 0).unwrap();
    assert_eq!(stopped, full.as_bytes()[..cut].to_vec());

    let (pieces, code) = guest.stream(context);
    assert_eq!(code, 100);
    assert_eq!(
        pieces.concat(),
        stopped,
        "the stream stops at the reverse prompt too"
    );
}

#[test]
fn each_context_keeps_its_own_state() {
    let mut guest = Guest::with_model("stories", &shared_model("stories260K.gguf"));
    let graph = guest.load_by_name("stories", Some(CONFIG)).unwrap();
    let (a, b) = (guest.init(graph).unwrap(), guest.init(graph).unwrap());
    assert_eq!(guest.set_input(a, 0, b"Once upon a time"), 0);
    assert_eq!(guest.set_input(b, 0, b"The little dog"), 0);
    // Interleave the two streams token by token.
    let (mut text_a, mut text_b) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        assert_eq!(guest.nn.compute_single(a), 0);
        text_a.extend(guest.output_single(a, 0).unwrap());
        assert_eq!(guest.nn.compute_single(b), 0);
        text_b.extend(guest.output_single(b, 0).unwrap());
    }
    let config = r#"{"n-predict": 8}"#;
    for (context, prompt, streamed) in [
        (a, "Once upon a time", &text_a),
        (b, "The little dog", &text_b),
    ] {
        assert_eq!(guest.set_input(context, 1, config.as_bytes()), 0);
        assert_eq!(guest.set_input(context, 0, prompt.as_bytes()), 0);
        assert_eq!(guest.nn.compute(context), 0);
        assert_eq!(&guest.output(context, 0).unwrap(), streamed);
    }
}
