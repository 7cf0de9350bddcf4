//! Every robustness row of the WASI-NN issue: hostile or broken input returns the right code,
//! never panics, and leaves other contexts working.

use std::io::Write;

use nnedge_wasi_nn_ggml::{NnErrno, WasiNn};

use crate::support::{shared_model, Guest, OUTPUT_MAX};

const CONFIG: &str = r#"{"ctx-size": 128, "n-predict": 8, "temp": 0, "threads": 2}"#;
const INVALID_ARGUMENT: u32 = 1;
const INVALID_ENCODING: u32 = 2;
const TOO_LARGE: u32 = 7;
const NOT_FOUND: u32 = 8;
const CONTEXT_FULL: u32 = 101;
const PROMPT_TOO_LONG: u32 = 102;
const MODEL_NOT_FOUND: u32 = 103;

fn stories() -> Guest {
    Guest::with_model("stories", &shared_model("stories260K.gguf"))
}

/// A context that must still work after the hostile calls.
fn ready_context(guest: &mut Guest) -> u32 {
    let context = guest.context("stories", CONFIG);
    assert_eq!(guest.set_input(context, 0, b"Once upon a time"), 0);
    context
}

fn assert_still_works(guest: &mut Guest, context: u32) {
    assert_eq!(guest.nn.compute(context), 0);
    assert!(!guest.output(context, 0).unwrap().is_empty());
}

#[test]
fn out_of_bounds_and_huge_pointers_are_invalid_arguments() {
    let mut guest = stories();
    let context = ready_context(&mut guest);
    let size = u32::try_from(guest.memory.len()).unwrap();
    let name = guest.put(b"stories");
    let out = guest.alloc(4);
    let memory = &mut guest.memory;

    assert_eq!(
        guest.nn.load_by_name(memory, size - 2, 7, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.load_by_name(memory, name, u32::MAX, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.load_by_name(memory, u32::MAX, u32::MAX, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.load_by_name(memory, name, 7, size - 3),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest
            .nn
            .load_by_name_with_config(memory, name, 7, 0, u32::MAX, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.load(memory, size - 4, 1, 6, 0, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.load(memory, 0, u32::MAX, 6, 0, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.init_execution_context(memory, 0, size),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.set_input(memory, context, 0, size - 8),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.get_output(memory, context, 1, size - 1, 0, out),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.nn.get_output(memory, context, 1, out, 0, u32::MAX),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest
            .nn
            .get_output_single(memory, context, 1, u32::MAX, 0, out),
        INVALID_ARGUMENT
    );

    // A tensor whose data pointer or dimension array leaves memory.
    let bad_data = guest.put(&[0, 0, 0, 0, 3, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 16, 0, 0, 0]);
    let bad_tensor = guest.put(
        &[
            &bad_data.to_le_bytes()[..],
            &0u32.to_le_bytes(),
            &3u32.to_le_bytes(),
            &(size - 4).to_le_bytes(),
            &16u32.to_le_bytes(),
        ]
        .concat(),
    );
    assert_eq!(
        guest
            .nn
            .set_input(&mut guest.memory, context, 0, bad_tensor),
        INVALID_ARGUMENT
    );
    let bad_dims = guest.put(
        &[
            &(size - 2).to_le_bytes()[..],
            &4u32.to_le_bytes(),
            &3u32.to_le_bytes(),
            &bad_data.to_le_bytes(),
            &1u32.to_le_bytes(),
        ]
        .concat(),
    );
    assert_eq!(
        guest.nn.set_input(&mut guest.memory, context, 0, bad_dims),
        INVALID_ARGUMENT
    );

    assert_still_works(&mut guest, context);
}

#[test]
fn overlapping_pointers_are_handled_in_order() {
    let mut guest = stories();
    let context = ready_context(&mut guest);
    assert_eq!(guest.nn.compute(context), 0);
    let expected = guest.output(context, 1).unwrap();
    // The length word sits inside the output buffer: the output is written, then its length.
    let buffer = guest.alloc(4096);
    let code = guest
        .nn
        .get_output(&mut guest.memory, context, 1, buffer, 4096, buffer);
    assert_eq!(code, 0);
    assert_eq!(guest.read_u32(buffer) as usize, expected.len());
    // A tensor whose data overlaps its own header is read as it is.
    let tensor = guest.tensor(b"{}");
    let header = guest.put(
        &[
            &tensor.to_le_bytes()[..],
            &1u32.to_le_bytes(),
            &3u32.to_le_bytes(),
            &tensor.to_le_bytes(),
            &20u32.to_le_bytes(),
        ]
        .concat(),
    );
    assert_eq!(
        guest.nn.set_input(&mut guest.memory, context, 0, header),
        INVALID_ARGUMENT,
        "binary header bytes are not a UTF-8 prompt"
    );
    assert_still_works(&mut guest, context);
}

#[test]
fn unknown_and_stale_handles_are_invalid_arguments() {
    let mut guest = stories();
    let context = ready_context(&mut guest);
    let out = guest.alloc(4);
    assert_eq!(
        guest.nn.init_execution_context(&mut guest.memory, 999, out),
        INVALID_ARGUMENT
    );
    assert_eq!(guest.nn.compute(999), INVALID_ARGUMENT);
    assert_eq!(guest.nn.compute_single(u32::MAX), INVALID_ARGUMENT);
    assert_eq!(guest.nn.fini_single(12345), INVALID_ARGUMENT);
    assert_eq!(
        guest.nn.get_output(&mut guest.memory, 999, 0, out, 4, out),
        INVALID_ARGUMENT
    );
    assert_eq!(guest.nn.unload(999), INVALID_ARGUMENT);
    assert_eq!(guest.nn.finalize_execution_context(999), INVALID_ARGUMENT);

    // Use after unload / finalize.
    let graph = guest.load_by_name("stories", Some(CONFIG)).unwrap();
    assert_eq!(guest.nn.unload(graph), 0);
    assert_eq!(guest.init(graph), Err(INVALID_ARGUMENT));
    assert_eq!(guest.nn.unload(graph), INVALID_ARGUMENT);
    let doomed = guest.context("stories", CONFIG);
    assert_eq!(guest.nn.finalize_execution_context(doomed), 0);
    assert_eq!(guest.set_input(doomed, 0, b"hi"), INVALID_ARGUMENT);
    assert_eq!(guest.nn.compute(doomed), INVALID_ARGUMENT);
    assert_eq!(
        guest.nn.finalize_execution_context(doomed),
        INVALID_ARGUMENT
    );

    assert_still_works(&mut guest, context);
}

#[test]
fn bad_inputs_metadata_and_indices_are_rejected() {
    let mut guest = stories();
    let context = ready_context(&mut guest);
    assert_eq!(
        guest.set_input(context, 0, b"Once \xff\xfe upon"),
        INVALID_ARGUMENT
    );
    assert_eq!(guest.set_input(context, 1, b"{not json"), INVALID_ENCODING);
    assert_eq!(
        guest.set_input(context, 1, br#"{"ctx-size": "large"}"#),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.set_input(context, 1, br#"{"n-predict": -7}"#),
        INVALID_ARGUMENT
    );
    assert_eq!(
        guest.set_input(context, 1, br#"{"grammar": "root ::= ("}"#),
        0,
        "grammars are checked at compute"
    );
    assert_eq!(
        guest.nn.compute(context),
        INVALID_ARGUMENT,
        "an invalid grammar fails compute"
    );
    assert_eq!(guest.set_input(context, 1, br#"{"grammar": ""}"#), 0);
    assert_eq!(guest.set_input(context, 1, b"[]"), INVALID_ARGUMENT);
    assert_eq!(guest.set_input(context, 2, b"x"), INVALID_ARGUMENT);
    assert_eq!(
        guest.load_by_name("stories", Some("{]")),
        Err(INVALID_ENCODING)
    );
    assert_eq!(
        guest.load_by_name("stories", Some(r#"{"temp": "warm"}"#)),
        Err(INVALID_ARGUMENT)
    );

    let tensor = guest.tensor(b"hello");
    guest.memory[tensor as usize + 8] = 9; // tensor type 9 does not exist
    assert_eq!(
        guest.nn.set_input(&mut guest.memory, context, 0, tensor),
        INVALID_ARGUMENT
    );

    // Outputs 0 and 1 are WasmEdge's, 2 is nnedge's model description; 3 does not exist.
    let written = guest.alloc(4);
    for get in [WasiNn::get_output, WasiNn::get_output_single] {
        assert_eq!(
            get(&mut guest.nn, &mut guest.memory, context, 3, 0, 0, written),
            INVALID_ARGUMENT
        );
    }

    let fresh = guest.context("stories", CONFIG);
    assert_eq!(
        guest.nn.compute(fresh),
        INVALID_ARGUMENT,
        "compute before set_input"
    );
    assert_eq!(guest.nn.compute_single(fresh), INVALID_ARGUMENT);

    assert_still_works(&mut guest, context);
}

#[test]
fn output_buffer_sizes() {
    let mut guest = stories();
    let context = ready_context(&mut guest);
    assert_eq!(guest.nn.compute(context), 0);
    let text = guest.output(context, 0).unwrap();
    let (buffer, written) = (guest.alloc(256), guest.alloc(4));
    let len = u32::try_from(text.len()).unwrap();
    assert_eq!(
        guest
            .nn
            .get_output(&mut guest.memory, context, 0, buffer, len - 1, written),
        TOO_LARGE
    );
    assert_eq!(
        guest
            .nn
            .get_output(&mut guest.memory, context, 0, buffer, len, written),
        0
    );
    // out_max = 0: LlamaEdge's "size unknown"; the whole output is written.
    assert_eq!(
        guest
            .nn
            .get_output(&mut guest.memory, context, 0, buffer, 0, written),
        0
    );
    assert_eq!(guest.read_u32(written), len);
    assert_eq!(
        &guest.memory[buffer as usize..(buffer + len) as usize],
        text.as_slice()
    );
    assert!(OUTPUT_MAX > len);
}

#[test]
fn prompt_too_long_and_context_full() {
    let mut guest = stories();
    let small = r#"{"ctx-size": 16, "temp": 0, "threads": 2}"#;
    let context = guest.context("stories", small);
    let long_prompt =
        "Once upon a time there was a little girl who liked to play in the park with her dog";
    assert_eq!(guest.set_input(context, 0, long_prompt.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), PROMPT_TOO_LONG);
    assert_eq!(guest.nn.compute_single(context), PROMPT_TOO_LONG);

    assert_eq!(
        guest.set_input(context, 1, br#"{"ctx-size": 24, "n-predict": -1}"#),
        0
    );
    assert_eq!(guest.set_input(context, 0, b"Once upon a time"), 0);
    assert_eq!(guest.nn.compute(context), CONTEXT_FULL);
    let metadata = guest.metadata(context);
    let used =
        metadata["input_tokens"].as_u64().unwrap() + metadata["output_tokens"].as_u64().unwrap();
    assert_eq!(
        used, 25,
        "a full context still returns the text generated: {metadata}"
    );
    assert!(!guest.output(context, 0).unwrap().is_empty());
    let (_, code) = guest.stream(context);
    assert_eq!(code, CONTEXT_FULL);

    // n-predict = -2 asks to fill the context: that is a normal end.
    assert_eq!(guest.set_input(context, 1, br#"{"n-predict": -2}"#), 0);
    assert_eq!(guest.nn.compute(context), 0);
}

#[test]
fn missing_unknown_truncated_and_foreign_models() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.gguf");
    let truncated = dir.path().join("truncated.gguf");
    let foreign = dir.path().join("foreign.gguf");
    let model = std::fs::read(shared_model("stories260K.gguf")).unwrap();
    std::fs::File::create(&truncated)
        .unwrap()
        .write_all(&model[..model.len() / 2])
        .unwrap();
    std::fs::write(&foreign, b"this is not a GGUF file at all, just some text").unwrap();

    let mut guest = Guest::new(&[
        &format!(
            "stories:GGML:AUTO:{}",
            shared_model("stories260K.gguf").display()
        ),
        &format!("missing:GGML:CPU:{}", missing.display()),
        &format!("truncated:GGML:CPU:{}", truncated.display()),
        &format!("foreign:GGML:CPU:{}", foreign.display()),
    ]);
    let context = ready_context(&mut guest);
    assert_eq!(guest.load_by_name("missing", None), Err(MODEL_NOT_FOUND));
    assert_eq!(guest.load_by_name("truncated", None), Err(INVALID_ARGUMENT));
    assert_eq!(guest.load_by_name("foreign", None), Err(INVALID_ARGUMENT));
    assert_eq!(guest.load_by_name("nobody", None), Err(NOT_FOUND));

    // `load` with builders: model bytes, `preload:` paths, wrong encodings and targets.
    let out = guest.alloc(4);
    for (builder, expected) in [
        (model.clone(), 0),
        (b"garbage bytes".to_vec(), INVALID_ARGUMENT),
        (
            format!("preload:{}", missing.display()).into_bytes(),
            MODEL_NOT_FOUND,
        ),
        (
            format!("preload:{}", truncated.display()).into_bytes(),
            INVALID_ARGUMENT,
        ),
    ] {
        let data = guest.put(&builder);
        let array = guest.put(
            &[
                data.to_le_bytes(),
                u32::try_from(builder.len()).unwrap().to_le_bytes(),
            ]
            .concat(),
        );
        assert_eq!(
            guest.nn.load(&mut guest.memory, array, 1, 6, 0, out),
            expected
        );
    }
    let data = guest.put(b"preload:x");
    let array = guest.put(&[data.to_le_bytes(), 9u32.to_le_bytes()].concat());
    assert_eq!(
        guest.nn.load(&mut guest.memory, array, 1, 0, 0, out),
        INVALID_ENCODING,
        "OpenVINO"
    );
    assert_eq!(
        guest.nn.load(&mut guest.memory, array, 1, 99, 0, out),
        INVALID_ENCODING
    );
    assert_eq!(
        guest.nn.load(&mut guest.memory, array, 1, 6, 7, out),
        INVALID_ARGUMENT,
        "target 7"
    );
    assert_eq!(
        guest.nn.load(&mut guest.memory, array, 0, 6, 0, out),
        INVALID_ARGUMENT,
        "no builders"
    );

    assert_still_works(&mut guest, context);
}

#[test]
fn background_load_answers_busy_until_the_model_is_there() {
    let mut guest = Guest::with_model("stories", &shared_model("stories260K.gguf"));
    let config = r#"{"background-load": true, "ctx-size": 128}"#;
    // The first call starts the load and returns at once.
    assert_eq!(
        guest.load_by_name("stories", Some(config)),
        Err(NnErrno::Busy.code())
    );
    let started = std::time::Instant::now();
    let graph = loop {
        match guest.load_by_name("stories", Some(config)) {
            Ok(graph) => break graph,
            Err(code) => assert_eq!(code, NnErrno::Busy.code()),
        }
        assert!(started.elapsed().as_secs() < 60, "the load never finished");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let context = guest.init(graph).unwrap();
    assert_eq!(guest.set_input(context, 0, b"Once upon a time"), 0);
    assert_eq!(guest.set_input(context, 1, br#"{"n-predict": 4}"#), 0);
    assert_eq!(guest.nn.compute(context), 0);
    assert!(!guest.output(context, 0).unwrap().is_empty());
    // Loaded once: a blocking load of the same alias returns at once.
    assert!(guest.load_by_name("stories", None).is_ok());
}

#[test]
fn background_load_reports_a_missing_or_broken_model() {
    let missing = std::env::temp_dir().join("nnedge-no-such-model.gguf");
    let mut guest = Guest::with_model("gone", &missing);
    assert_eq!(
        guest.load_by_name("gone", Some(r#"{"background-load": true}"#)),
        Err(NnErrno::ModelNotFound.code())
    );

    let broken = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(broken.path(), b"GGUF but not really").unwrap();
    let mut guest = Guest::with_model("broken", broken.path());
    let config = Some(r#"{"background-load": true}"#);
    assert_eq!(
        guest.load_by_name("broken", config),
        Err(NnErrno::Busy.code())
    );
    let code = loop {
        match guest.load_by_name("broken", config) {
            Err(code) if code == NnErrno::Busy.code() => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other,
        }
    };
    assert_eq!(code, Err(NnErrno::InvalidArgument.code()));
}
