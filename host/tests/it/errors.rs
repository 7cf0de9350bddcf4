//! Bad input to `nnedge run`: each gets a clear message and a non-zero exit, never a crash.

use crate::support::{guest, run_nnedge};

/// A module with one import, written as WebAssembly text.
fn module_importing(module: &str, name: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (import "{module}" "{name}" (func)) (func (export "_start")))"#
    ))
    .unwrap()
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".wasm").tempfile().unwrap();
    fs_err::write(file.path(), bytes).unwrap();
    file
}

fn run_file(file: &tempfile::NamedTempFile) -> (i32, String) {
    let (code, _, err) = run_nnedge(&["run", file.path().to_str().unwrap()]);
    (code, err)
}

#[test]
fn missing_file_names_the_path() {
    let (code, _, err) = run_nnedge(&["run", "/no/such/app.wasm"]);
    assert_eq!(code, 1);
    assert!(err.contains("/no/such/app.wasm"), "{err}");
}

#[test]
fn file_that_is_not_wasm_is_refused() {
    let file = write_temp(b"#!/bin/sh\necho hi\n");
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("is not a WebAssembly module"), "{err}");
}

#[test]
fn wasm_text_gets_a_hint() {
    let file = write_temp(b"(module)");
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("WebAssembly text"), "{err}");
}

#[test]
fn truncated_module_is_refused() {
    let Some(hello) = guest("hello") else { return };
    let bytes = fs_err::read(hello).unwrap();
    let file = write_temp(&bytes[..bytes.len() / 2]);
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("is not a valid WebAssembly module"), "{err}");
}

#[test]
fn unknown_import_module_is_named_with_what_nnedge_provides() {
    let file = write_temp(&module_importing("wasi_ephemeral_crypto", "hash"));
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("`wasi_ephemeral_crypto`.`hash`"), "{err}");
    assert!(err.contains("wasi_ephemeral_nn"), "{err}");
}

#[test]
fn unknown_wasi_nn_function_is_named() {
    let file = write_temp(&module_importing("wasi_ephemeral_nn", "load_by_magic"));
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("`wasi_ephemeral_nn`.`load_by_magic`"), "{err}");
    assert!(err.contains("load_by_name_with_config"), "{err}");
}

/// A missing WASI function was reported only as WasmEdge's bare "unknown import".
#[test]
fn regression_unknown_wasi_function_is_named() {
    let file = write_temp(&module_importing("wasi_snapshot_preview1", "no_such_fn"));
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(
        err.contains("`wasi_snapshot_preview1`.`no_such_fn`"),
        "{err}"
    );
    assert!(
        err.contains("sock_accept") && err.contains("fd_write"),
        "{err}"
    );
}

#[test]
fn preview2_imports_get_a_hint() {
    let file = write_temp(&module_importing(
        "wasi:cli/environment@0.2.0",
        "get-environment",
    ));
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("wasm32-wasip1"), "{err}");
}

#[test]
fn module_without_start_is_refused() {
    let file = write_temp(&wat::parse_str("(module)").unwrap());
    let (code, err) = run_file(&file);
    assert_eq!(code, 1);
    assert!(err.contains("_start"), "{err}");
}

#[test]
fn malformed_dir_env_and_preload_are_usage_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["--dir", ":/data"], "expected HOST[:GUEST]"),
        (&["--dir", "/no/such/dir:/data"], "does not exist"),
        (&["--env", "NOVALUE"], "expected KEY=VALUE"),
        (&["--env", "=x"], "expected KEY=VALUE"),
        (
            &["--nn-preload", "default:GGML:AUTO"],
            "ALIAS:GGML:AUTO|CPU|GPU|TPU:PATH",
        ),
        (&["--nn-preload", "default:ONNX:CPU:m.onnx"], "only GGML"),
        (
            &["--nn-preload", "default:GGML:FPGA:m.gguf"],
            "unknown target",
        ),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.push("app.wasm");
        let (code, _, err) = run_nnedge(&args);
        assert_eq!(code, 2, "{flags:?}: {err}");
        assert!(err.contains(expected), "{flags:?}: {err}");
    }
}
