//! `bench batched` on a real model with a short run: the harness, not the figures.

use std::path::PathBuf;

use nnedge_benches::batched::{self, BatchedSettings};

use crate::stand_in::SMALL_MODEL;

#[test]
fn a_short_run_measures_every_sequence_count_and_reports_it() {
    let settings = BatchedSettings {
        model: PathBuf::from(SMALL_MODEL),
        sequences: vec![1, 3],
        threads: 2,
        tg: 8,
        ctx_size: 64,
        reps: 2,
    };
    let report = batched::run(&settings).unwrap();
    assert_eq!(report.results.len(), 2);
    for result in &report.results {
        let aggregate = result.aggregate_tps.expect("measured");
        assert_eq!(aggregate.count, 2);
        assert!(aggregate.mean > 0.0);
    }
    assert_eq!(report.results[0].speedup, Some(1.0));
    assert!(report.results[1].speedup.is_some());

    let markdown = batched::markdown(&report);
    assert!(
        markdown.contains("| sequences | aggregate t/s"),
        "{markdown}"
    );
    assert!(markdown.contains("| 3 |"), "{markdown}");
    assert!(markdown.contains("stories260K.gguf"), "{markdown}");

    let dir = tempfile::tempdir().unwrap();
    let written = batched::write(dir.path(), &report).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&written[1]).unwrap()).unwrap();
    assert_eq!(json["settings"]["sequences"], serde_json::json!([1, 3]));
    assert_eq!(json["results"][1]["sequences"], 3);
}
