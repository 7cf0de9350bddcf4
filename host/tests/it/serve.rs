//! `nnedge serve` refusals that must happen before the guest starts: one line, non-zero exit.

use crate::support::{nnedge, run_nnedge, texts};

/// An empty NNEDGE_API_KEY used to start a server without authentication, silently.
#[test]
fn regression_empty_api_key_is_refused() {
    for (flag, env) in [(Some(""), None), (None, Some("  "))] {
        let mut cmd = nnedge();
        cmd.args(["serve", "--port", "1"]);
        if let Some(value) = flag {
            cmd.args(["--api-key", value]);
        }
        if let Some(value) = env {
            cmd.env("NNEDGE_API_KEY", value);
        }
        let output = cmd.output().unwrap();
        let (_, err) = texts(&output);
        assert_eq!(output.status.code(), Some(2), "{err}");
        assert!(err.contains("the API key is empty"), "{err}");
    }
}

/// `--port 0` made the guest listen on a random port that nothing reported.
#[test]
fn regression_port_zero_and_zero_threads_are_usage_errors() {
    for args in [
        &["serve", "--port", "0"][..],
        &["serve", "--threads", "0"][..],
    ] {
        let (code, _, err) = run_nnedge(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("0 is not in 1.."), "{args:?}: {err}");
    }
}

/// A GGUF file cut off inside its metadata used to fail inside the guest with a long,
/// misleading message.
#[test]
fn regression_truncated_gguf_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cut.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(0u64.to_le_bytes());
    bytes.extend(5u64.to_le_bytes()); // five key/value pairs promised, none present
    fs_err::write(&model, bytes).unwrap();
    let (code, out, err) =
        run_nnedge(&["serve", "--port", "1", "--model", model.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("is corrupt or truncated"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn compile_checks_its_paths_first() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("m.wasm");
    fs_err::write(&input, wat::parse_str("(module)").unwrap()).unwrap();
    let cases = [
        (
            dir.path().join("missing/out.wasm"),
            "does not exist; create it first",
        ),
        (dir.path().to_owned(), "is a directory"),
    ];
    for (output, expected) in cases {
        let (code, _, err) =
            run_nnedge(&["compile", input.to_str().unwrap(), output.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(expected), "{err}");
    }
    let (code, _, err) = run_nnedge(&["compile", "/no/such.wasm", "/tmp/x.wasm"]);
    assert_eq!(code, 1);
    assert!(err.contains("/no/such.wasm"), "{err}");
    let leftovers: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the input should remain: {leftovers:?}"
    );
}
