//! A short real `bench infer` run: the llama-bench guest in the real `nnedge run` and native
//! llama-cpp-2 on the default model. Skipped (failing under CI) when a part is missing.

use nnedge_benches::environment;
use nnedge_benches::infer::{self, Backend, InferSettings, WasmRunner};

#[test]
fn a_short_interleaved_run_measures_both_backends() {
    let nnedge =
        std::env::var_os("NNEDGE_BIN").map_or_else(environment::default_nnedge, Into::into);
    let guest = environment::guest_dir().join("llama-bench.wasm");
    let model = environment::default_model();
    for (what, path) in [("nnedge", &nnedge), ("guest", &guest), ("model", &model)] {
        if !path.exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{what} missing: {}",
                path.display()
            );
            eprintln!(
                "skipped: {what} missing at {} (cargo xtask build / guests)",
                path.display()
            );
            return;
        }
    }
    let settings = InferSettings {
        models: vec![model],
        threads: vec![2],
        pp: 32,
        tg: 8,
        reps: 2,
        ctx_size: 256,
        batch_size: 64,
        interpreter: false,
    };
    let runner = WasmRunner {
        nnedge: &nnedge,
        guest: &guest,
        interpreter: false,
    };
    let report = infer::run(&settings, &runner).expect("both backends run");

    assert_eq!(report.results.len(), 2);
    for (result, backend) in report.results.iter().zip([Backend::Wasm, Backend::Native]) {
        assert_eq!(result.backend, backend);
        assert_eq!(result.runs.len(), 2);
        for run in &result.runs {
            assert_eq!(
                (run.pp_tokens, run.tg_tokens),
                (32, 8),
                "{backend:?}: {run:?}"
            );
            assert!(run.pp_ms > 0.0 && run.tg_ms > 0.0 && run.load_ms > 0.0);
            assert!(run.peak_rss_kib > 0, "{backend:?} has no peak RSS");
        }
    }
    assert_eq!(report.models[0].quantisation, "Q4_1");
    assert!(report.models[0].params > 100_000_000);
}
