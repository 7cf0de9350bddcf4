//! Report generation: Markdown, CSV and JSON of fixed reports, as snapshots, the files
//! `--out` writes, and the droplet costs of a known report.

use nnedge_benches::droplet::report as droplet;
use nnedge_benches::report;

use crate::fixtures::{droplet_report, infer_report, serve_report};

#[test]
fn infer_markdown_has_llama_bench_columns_ratios_and_costs() {
    insta::assert_snapshot!(report::infer_markdown(&infer_report()));
}

#[test]
fn infer_csv_has_one_row_per_backend_and_test() {
    let csv = report::infer_csv(&infer_report());
    assert_eq!(csv.lines().count(), 5, "header and four rows:\n{csv}");
    insta::assert_snapshot!(csv);
}

#[test]
fn infer_json_records_machine_versions_model_and_runs() {
    insta::assert_json_snapshot!(infer_report());
}

#[test]
fn serve_markdown_and_csv_report_each_level_and_its_errors() {
    let report = serve_report();
    insta::assert_snapshot!("serve_markdown", report::serve_markdown(&report));
    insta::assert_snapshot!("serve_csv", report::serve_csv(&report));
}

#[test]
fn out_dir_gets_every_format() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let infer = report::write_infer(dir.path(), &infer_report()).expect("infer report written");
    let serve = report::write_serve(dir.path(), &serve_report()).expect("serve report written");
    for path in infer.iter().chain(&serve) {
        let text = std::fs::read_to_string(path).expect("a written report");
        assert!(!text.is_empty(), "{} is empty", path.display());
    }
    let names: Vec<String> = infer
        .iter()
        .chain(&serve)
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "infer.md",
            "infer.json",
            "infer.csv",
            "infer.svg",
            "serve.md",
            "serve.json",
            "serve.csv",
            "serve.svg"
        ]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&infer[1]).unwrap_or_default())
            .expect("infer.json is JSON");
    assert_eq!(json["versions"]["wasmedge"], "0.14.1");
}

#[test]
fn a_wide_spread_warns_that_the_machine_was_busy() {
    let quiet = report::infer_markdown(&infer_report());
    assert!(!quiet.contains("probably busy"), "{quiet}");

    let mut busy = infer_report();
    busy.results[1].runs[0].tg_ms *= 5.0;
    let markdown = report::infer_markdown(&busy);
    assert!(markdown.contains("probably busy"), "{markdown}");
}

/// Costs of a known report: price / (aggregate t/s × 3600) × 1e6, by hand.
#[test]
fn droplet_costs_of_a_known_report() {
    let report = droplet_report();
    let costs: Vec<Vec<(usize, f64, Option<f64>)>> = report
        .sizes
        .iter()
        .map(|size| {
            let levels = size.costs.iter();
            levels
                .map(|c| (c.concurrency, c.aggregate_tps, c.cost_per_million_tokens))
                .collect()
        })
        .collect();
    // s-1vcpu-1gb: 90 tokens in 10 s = 9 t/s = 32,400 an hour at $0.00893; 180 in 12 s = 15.
    // c-2: 200 tokens in 4 s = 50 t/s = 180,000 an hour at $0.0625; 400 in 5 s = 80.
    let expected = [
        [
            (1, 9.0, 0.275_617_283_950_617_3),
            (2, 15.0, 0.165_370_370_370_370_4),
        ],
        [
            (1, 50.0, 0.347_222_222_222_222_2),
            (2, 80.0, 0.217_013_888_888_888_9),
        ],
    ];
    for (size, wanted) in costs.iter().zip(expected) {
        for (&(concurrency, tps, cost), (want_concurrency, want_tps, want_cost)) in
            size.iter().zip(wanted)
        {
            assert_eq!((concurrency, tps), (want_concurrency, want_tps));
            let cost = cost.expect("priced");
            assert!((cost - want_cost).abs() < 1e-12, "{cost} != {want_cost}");
        }
    }
    let cheapest = report.cheapest.expect("a cheapest level");
    assert_eq!(
        (cheapest.size.as_str(), cheapest.concurrency),
        ("s-1vcpu-1gb", 2)
    );
}

#[test]
fn droplet_markdown_and_csv_have_a_row_per_size_and_level() {
    let report = droplet_report();
    insta::assert_snapshot!("droplet_markdown", droplet::droplet_markdown(&report));
    insta::assert_snapshot!("droplet_csv", droplet::droplet_csv(&report));
}

#[test]
fn droplet_out_dir_gets_every_format() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let paths = droplet::write_droplet(dir.path(), &droplet_report()).expect("report written");
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["droplet.md", "droplet.json", "droplet.csv", "droplet.svg"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths[1]).unwrap_or_default())
            .expect("droplet.json is JSON");
    assert_eq!(json["sizes"][1]["droplet"]["size"], "c-2");
    assert_eq!(json["cheapest"]["size"], "s-1vcpu-1gb");
    assert_eq!(json["quantisation"], "Q4_1");
}
