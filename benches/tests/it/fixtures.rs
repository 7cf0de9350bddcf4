//! Reports with fixed contents, so generated artifacts can be compared with snapshots.

use std::path::PathBuf;

use nnedge_benches::droplet::report::DropletMachine;
use nnedge_benches::droplet::{DropletReport, ReportContext, SizeResult};
use nnedge_benches::environment::Versions;
use nnedge_benches::infer::{
    Backend, InferReport, InferResult, InferSettings, ModelInfo, RunSample,
};
use nnedge_benches::machine::Machine;
use nnedge_benches::serve::{LevelResult, RequestOutcome, ServeReport, ServeSettings};

pub fn machine() -> Machine {
    Machine {
        cpu_model: "Test CPU, 2 cores".into(),
        logical_cpus: 2,
        memory_gib: 24.0,
        kernel: "6.1.0".into(),
    }
}

pub fn versions() -> Versions {
    Versions {
        nnedge: "nnedge 0.1.0".into(),
        wasmedge: "0.14.1".into(),
        llama_cpp: "llama-cpp-sys-2 0.1.161".into(),
        llama_cpp_2: "0.1.160".into(),
    }
}

fn run(pp_ms: f64, tg_ms: f64, rss_mib: u64) -> RunSample {
    RunSample {
        load_ms: 120.0 + pp_ms / 10.0,
        pp_tokens: 512,
        pp_ms,
        tg_tokens: 128,
        tg_ms,
        peak_rss_kib: rss_mib * 1024,
    }
}

pub fn infer_report() -> InferReport {
    let file = "SmolLM2-135M-Instruct.Q4_1.gguf";
    let result = |backend, runs| InferResult {
        model: file.into(),
        backend,
        threads: 2,
        runs,
    };
    InferReport {
        machine: machine(),
        versions: versions(),
        llama_system_info: "CPU : AVX2 = 1 | AVX512 = 1 |".into(),
        load_average: [Some(0.25), Some(1.5)],
        settings: InferSettings {
            models: vec![PathBuf::from("/models").join(file)],
            threads: vec![2],
            pp: 512,
            tg: 128,
            reps: 3,
            ctx_size: 1024,
            batch_size: 512,
            interpreter: false,
        },
        models: vec![ModelInfo {
            file: file.into(),
            quantisation: "Q4_1".into(),
            size_bytes: 96_575_232,
            params: 134_515_008,
        }],
        results: vec![
            result(
                Backend::Wasm,
                vec![
                    run(400.0, 640.0, 260),
                    run(410.0, 650.0, 262),
                    run(390.0, 630.0, 261),
                ],
            ),
            result(
                Backend::Native,
                vec![
                    run(395.0, 620.0, 150),
                    run(400.0, 640.0, 151),
                    run(405.0, 600.0, 150),
                ],
            ),
        ],
    }
}

fn outcome(ttft: f64, latency: f64, tokens: u64) -> RequestOutcome {
    RequestOutcome {
        error: None,
        ttft_ms: Some(ttft),
        latency_ms: latency,
        completion_tokens: tokens,
        decode_ms: Some(latency - ttft),
        server_compute_ms: Some(latency - 1.5),
    }
}

pub fn serve_report() -> ServeReport {
    let failed = RequestOutcome {
        error: Some("HTTP 503: {\"error\":{\"message\":\"busy, retry\"}}".into()),
        ttft_ms: None,
        latency_ms: 2.0,
        completion_tokens: 0,
        decode_ms: None,
        server_compute_ms: None,
    };
    ServeReport {
        machine: machine(),
        versions: versions(),
        load_average: [Some(0.5), None],
        settings: ServeSettings {
            url: "http://127.0.0.1:8080".into(),
            model: "default".into(),
            concurrency: vec![1, 2],
            requests_per_stream: 2,
            level_seconds: 60.0,
            request_timeout_seconds: 60.0,
            max_tokens: 64,
        },
        levels: vec![
            LevelResult::of(
                1,
                &[outcome(50.0, 650.0, 61), outcome(70.0, 670.0, 61)],
                1.4,
            ),
            LevelResult::of(
                2,
                &[
                    outcome(80.0, 880.0, 65),
                    outcome(90.0, 990.0, 64),
                    outcome(100.0, 1000.0, 64),
                    failed,
                ],
                2.0,
            ),
        ],
    }
}

/// `n` successful requests of `tokens` tokens each.
fn successes(n: usize, tokens: u64) -> Vec<RequestOutcome> {
    (0..n).map(|_| outcome(100.0, 1000.0, tokens)).collect()
}

/// A serve report at two levels: `(tokens per request, wall seconds)` for 2 and 4 requests.
fn levels_report(url: &str, first: (u64, f64), second: (u64, f64)) -> ServeReport {
    let mut report = serve_report();
    report.settings.url = url.to_owned();
    report.levels = vec![
        LevelResult::of(1, &successes(2, first.0), first.1),
        LevelResult::of(2, &successes(4, second.0), second.1),
    ];
    report
}

/// Two sizes priced like the fake's: s-1vcpu-1gb at 9 and 15 t/s, c-2 at 50 and 80 t/s.
pub fn droplet_report() -> DropletReport {
    let droplet = |size: &str, vcpus, memory_mib, price_hourly, droplet_id| DropletMachine {
        size: size.into(),
        vcpus,
        memory_mib,
        disk_gb: 25,
        price_hourly,
        price_monthly: 0.0,
        region: "fra1".into(),
        image: "flatcar-stable-4081.2.0 (id 1002)".into(),
        droplet_id,
    };
    let context = ReportContext {
        load_generator: machine(),
        versions: versions(),
        api_url: "http://127.0.0.1:40000/".into(),
        local_stand_in: true,
        region: "fra1".into(),
        node: "preset nnedge, model SmolLM2-135M-Instruct.Q4_1.gguf, ctx 2048, port 8080".into(),
        model_file: Some("SmolLM2-135M-Instruct.Q4_1.gguf".into()),
    };
    let sizes = vec![
        SizeResult::new(
            droplet("s-1vcpu-1gb", 1, 1024, 0.00893, 1003),
            levels_report("http://127.0.0.1:8080/", (45, 10.0), (45, 12.0)),
        ),
        SizeResult::new(
            droplet("c-2", 2, 4096, 0.0625, 1005),
            levels_report("http://127.0.0.1:8080/", (100, 4.0), (100, 5.0)),
        ),
    ];
    DropletReport::new(context, sizes)
}
