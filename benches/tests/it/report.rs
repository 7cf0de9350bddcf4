//! Report generation: Markdown, CSV and JSON of fixed reports, as snapshots, and the files
//! `--out` writes.

use nnedge_benches::report;

use crate::fixtures::{infer_report, serve_report};

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
