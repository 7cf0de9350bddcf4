//! Continuous batching: execution contexts of a graph loaded with `parallel` share one
//! llama.cpp context, decode together, and still each produce exactly their own text.

use nnedge_wasi_nn_ggml::NnErrno;

use crate::support::{shared_model, Guest};

const N_PREDICT: usize = 24;
const PROMPTS: [&str; 4] = [
    "Once upon a time",
    "The little dog",
    "Lily and Ben went to the park",
    "One day, a big red ball",
];

fn config(parallel: u32) -> String {
    format!(
        r#"{{"ctx-size": 256, "batch-size": 256, "n-predict": {N_PREDICT}, "temp": 0,
            "threads": 2, "parallel": {parallel}}}"#
    )
}

fn stories() -> Guest {
    Guest::with_model("stories", &shared_model("stories260K.gguf"))
}

/// What each prompt generates alone, in a graph without sharing.
fn solo_texts() -> Vec<Vec<u8>> {
    let mut guest = stories();
    PROMPTS
        .iter()
        .map(|prompt| {
            let context = guest.context("stories", &config(1));
            assert_eq!(guest.set_input(context, 0, prompt.as_bytes()), 0);
            assert_eq!(guest.nn.compute(context), 0);
            guest.output(context, 0).unwrap()
        })
        .collect()
}

/// Steps every unfinished stream once, in order; returns whether any is still running.
fn round(guest: &mut Guest, streams: &mut [(u32, Vec<u8>, bool)]) -> bool {
    for (context, text, done) in streams.iter_mut().filter(|(_, _, done)| !*done) {
        let code = guest.nn.compute_single(*context);
        if code == NnErrno::Success.code() {
            text.extend(guest.output_single(*context, 0).unwrap());
        } else {
            assert_eq!(code, NnErrno::EndOfSequence.code());
            *done = true;
        }
    }
    streams.iter().any(|(_, _, done)| !*done)
}

#[test]
fn interleaved_streams_match_their_solo_runs_and_share_decodes() {
    let solo = solo_texts();
    let mut guest = stories();
    let graph = guest.load_by_name("stories", Some(&config(4))).unwrap();
    let mut streams: Vec<(u32, Vec<u8>, bool)> = PROMPTS
        .iter()
        .map(|prompt| {
            let context = guest.init(graph).unwrap();
            assert_eq!(guest.set_input(context, 0, prompt.as_bytes()), 0);
            (context, Vec::new(), false)
        })
        .collect();
    while round(&mut guest, &mut streams) {}

    for ((_, text, _), expected) in streams.iter().zip(&solo) {
        assert_eq!(
            String::from_utf8_lossy(text),
            String::from_utf8_lossy(expected)
        );
    }
    let (shared, stats) = guest.nn.pool_stats(streams[0].0).unwrap();
    assert!(shared);
    let stats = stats.unwrap();
    // In the first round each stream's prompt is decoded when it starts (with the tokens the
    // streams before it queued); after that, one decode per round: never one per stream and
    // token, which would be 4 x 24.
    assert!(
        stats.decodes <= (N_PREDICT + PROMPTS.len()) as u64,
        "{stats:?}: the streams' steps were not batched"
    );
    assert!(stats.shared_decodes >= N_PREDICT as u64 - 1, "{stats:?}");
    // Every prompt token and every generated token but the last was decoded exactly once.
    let mut tokens = 0;
    for (context, _, _) in &streams {
        let metadata = guest.metadata(*context);
        assert_eq!(metadata["output_tokens"], N_PREDICT);
        tokens += metadata["input_tokens"].as_u64().unwrap() + N_PREDICT as u64 - 1;
    }
    assert_eq!(stats.tokens, tokens, "{stats:?}");
}

#[test]
fn a_request_joining_mid_stream_and_a_whole_compute_leave_the_others_intact() {
    let solo = solo_texts();
    let mut guest = stories();
    let graph = guest.load_by_name("stories", Some(&config(3))).unwrap();
    let mut streams = Vec::new();
    for prompt in &PROMPTS[..2] {
        let context = guest.init(graph).unwrap();
        assert_eq!(guest.set_input(context, 0, prompt.as_bytes()), 0);
        streams.push((context, Vec::new(), false));
    }
    for _ in 0..5 {
        round(&mut guest, &mut streams);
    }
    // A third stream's prompt is decoded together with the first two's next tokens.
    let joining = guest.init(graph).unwrap();
    assert_eq!(guest.set_input(joining, 0, PROMPTS[2].as_bytes()), 0);
    streams.push((joining, Vec::new(), false));
    for _ in 0..5 {
        round(&mut guest, &mut streams);
    }
    // A whole generation in a fourth context (beyond `parallel`, so in a context of its own)
    // and in a reused shared one, while the streams are half-way.
    let extra = guest.init(graph).unwrap();
    assert!(
        !guest.nn.pool_stats(extra).unwrap().0,
        "beyond `parallel`: a context of its own"
    );
    assert_eq!(guest.set_input(extra, 0, PROMPTS[3].as_bytes()), 0);
    assert_eq!(guest.nn.compute(extra), 0);
    assert_eq!(guest.output(extra, 0).unwrap(), solo[3]);
    while round(&mut guest, &mut streams) {}

    for ((_, text, _), expected) in streams.iter().zip(&solo) {
        assert_eq!(
            String::from_utf8_lossy(text),
            String::from_utf8_lossy(expected)
        );
    }
}

#[test]
fn a_stream_cut_off_frees_its_sequence_for_the_next_context() {
    let solo = solo_texts();
    let mut guest = stories();
    let graph = guest.load_by_name("stories", Some(&config(2))).unwrap();
    let first = guest.init(graph).unwrap();
    let second = guest.init(graph).unwrap();
    assert!(guest.nn.pool_stats(first).unwrap().0);
    assert!(guest.nn.pool_stats(second).unwrap().0);
    for (context, prompt) in [(first, PROMPTS[0]), (second, PROMPTS[1])] {
        assert_eq!(guest.set_input(context, 0, prompt.as_bytes()), 0);
    }
    for _ in 0..3 {
        for context in [first, second] {
            assert_eq!(guest.nn.compute_single(context), 0);
        }
    }
    // The client of `first` goes away: its stream ends and its context is finalized.
    assert_eq!(guest.nn.fini_single(first), 0);
    assert_eq!(guest.nn.finalize_execution_context(first), 0);
    let third = guest.init(graph).unwrap();
    assert!(
        guest.nn.pool_stats(third).unwrap().0,
        "the freed sequence is reused"
    );
    assert_eq!(guest.set_input(third, 0, PROMPTS[2].as_bytes()), 0);

    let (pieces, code) = guest.stream(third);
    assert_eq!(code, NnErrno::EndOfSequence.code());
    assert_eq!(pieces.concat(), solo[2]);
    let (_, code) = guest.stream(second);
    assert_eq!(code, NnErrno::EndOfSequence.code());
    assert_eq!(guest.output(second, 0).unwrap(), solo[1]);
}

#[test]
fn other_context_parameters_fall_back_to_a_private_context() {
    let solo = solo_texts();
    let mut guest = stories();
    let graph = guest.load_by_name("stories", Some(&config(2))).unwrap();
    let streaming = guest.init(graph).unwrap();
    let other = guest.init(graph).unwrap();
    assert_eq!(guest.set_input(streaming, 0, PROMPTS[0].as_bytes()), 0);
    assert_eq!(guest.nn.compute_single(streaming), 0);
    // A larger context window than the shared context was made for.
    assert_eq!(guest.set_input(other, 1, br#"{"ctx-size": 512}"#), 0);
    assert_eq!(guest.set_input(other, 0, PROMPTS[1].as_bytes()), 0);
    assert_eq!(guest.nn.compute(other), 0);
    assert_eq!(guest.output(other, 0).unwrap(), solo[1]);
    let (_, code) = guest.stream(streaming);
    assert_eq!(code, NnErrno::EndOfSequence.code());
    assert_eq!(guest.output(streaming, 0).unwrap(), solo[0]);
}

#[test]
fn regression_n_predict_zero_still_processes_the_prompt() {
    // `compute` with `n-predict` 0 is how a guest times prompt processing (llama-bench's pp):
    // the prompt must be decoded even though no token is sampled.
    for parallel in [1, 2] {
        let mut guest = stories();
        let graph = guest
            .load_by_name("stories", Some(&config(parallel)))
            .unwrap();
        let context = guest.init(graph).unwrap();
        assert_eq!(guest.set_input(context, 1, br#"{"n-predict": 0}"#), 0);
        assert_eq!(guest.set_input(context, 0, PROMPTS[2].as_bytes()), 0);
        assert_eq!(guest.nn.compute(context), 0);
        assert!(guest.output(context, 0).unwrap().is_empty());
        let input_tokens = guest.metadata(context)["input_tokens"].as_u64().unwrap();
        let (_, stats) = guest.nn.pool_stats(context).unwrap();
        let stats = stats.unwrap();
        assert_eq!(
            (stats.decodes, stats.tokens),
            (1, input_tokens),
            "parallel {parallel}"
        );
    }
}
