//! Guards on how llama.cpp was built.
//!
//! ggml built by gcc 12 with `-march=native` segfaults in its AMX matmul (`ldtilecfg`) on the
//! first decode on CPUs with AMX; a build without CPU tuning runs but is several times slower.
//! These tests run a real quantised decode in a child process (so a crash is reported, not
//! fatal to the test binary) and check that the kernels match the CPU's features.

use std::process::Command;

use nnedge_wasi_nn_ggml::backend::system_info;

use crate::support::{default_model, shared_model, Guest};

const PROBE_ENV: &str = "NNEDGE_DECODE_PROBE";
const FIX: &str = "build llama.cpp with CC=clang-19 CXX=clang++-19 (gcc 12 miscompiles AMX), \
                   then `cargo clean -p llama-cpp-sys-2`";

fn cpu_flags() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo
        .lines()
        .find(|line| line.starts_with("flags"))
        .unwrap_or_default();
    flags.split_whitespace().map(str::to_owned).collect()
}

/// Decodes quantised models (Q8_0 embeddings, and the Q4_1 chat model when present): the
/// matrix types ggml runs through AMX tiles.
#[test]
#[ignore = "run in a child process by regression_gcc12_amx_build_crashes_on_first_decode"]
fn decode_probe() {
    let mut guest = Guest::with_model("embed", &shared_model("all-MiniLM-L6-v2-Q8_0.gguf"));
    let context = guest.context("embed", r#"{"embedding": true, "threads": 2}"#);
    let sentence = "The quick brown fox jumps over the lazy dog. ".repeat(8);
    assert_eq!(guest.set_input(context, 0, sentence.as_bytes()), 0);
    assert_eq!(guest.nn.compute(context), 0);

    if let Some(path) = default_model() {
        let mut guest = Guest::with_model("default", &path);
        let context = guest.context("default", r#"{"n-predict": 8, "temp": 0, "threads": 2}"#);
        let prompt = "Tell me about the history of Paris. ".repeat(12);
        assert_eq!(guest.set_input(context, 0, prompt.as_bytes()), 0);
        assert_eq!(guest.nn.compute(context), 0);
    }
    println!("decode probe ok");
}

/// Regression: gcc-12 + `-march=native` builds of ggml crash in the AMX matmul on the first
/// quantised decode.
#[test]
fn regression_gcc12_amx_build_crashes_on_first_decode() {
    if std::env::var_os(PROBE_ENV).is_some() {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "build::decode_probe",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("decode probe ok"),
        "a real decode crashed or failed ({}); {FIX}.\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );
}

/// The kernels use the CPU's vector units: a build without CPU tuning (baseline x86-64) is
/// several times slower, and one with AMX disabled is ~4x slower at prompt processing.
#[test]
fn kernels_match_the_cpu_features() {
    let _ = Guest::new(&[]);
    let info = system_info();
    let _ = nnedge_wasi_nn_ggml::backend::backend();
    let info = if info.is_empty() { system_info() } else { info };
    println!("llama.cpp system info: {info}");
    let flags = cpu_flags();
    for (cpu_flag, ggml_feature) in [
        ("avx2", "AVX2 = 1"),
        ("fma", "FMA = 1"),
        ("amx_int8", "AMX_INT8 = 1"),
    ] {
        if flags.iter().any(|f| f == cpu_flag) {
            assert!(
                info.contains(ggml_feature),
                "the CPU has {cpu_flag} but llama.cpp was built without it ({info}); build with \
                 RUSTFLAGS=\"-C target-cpu=native\" CC=clang-19 CXX=clang++-19"
            );
        }
    }
}
