//! The SVG plots: well-formed SVG with the series and labels a reader needs.

use nnedge_benches::plot;

use crate::fixtures::{droplet_report, infer_report, serve_report};

fn assert_svg(svg: &str) {
    assert!(svg.starts_with("<svg"), "not an SVG document");
    assert!(svg.trim_end().ends_with("</svg>"), "unterminated SVG");
}

#[test]
fn infer_bars_show_wasm_and_native_for_both_tests() {
    let svg = plot::infer_bars(&infer_report()).expect("plot drawn");
    assert_svg(&svg);
    for text in [
        "prompt processing",
        "generation",
        "wasm",
        "native",
        "t2 pp512",
        "t2 tg128",
    ] {
        assert!(svg.contains(text), "the plot lacks `{text}`");
    }
    // Two panels, each with one Wasm and one native bar in the series colours.
    assert_eq!(
        svg.matches("fill=\"#4C72B0\"").count(),
        2 + 2,
        "wasm bars and legend marks"
    );
    assert_eq!(
        svg.matches("fill=\"#DD8452\"").count(),
        2 + 2,
        "native bars and legend marks"
    );
}

#[test]
fn serve_lines_plot_tokens_per_second_against_concurrency() {
    let svg = plot::serve_lines(&serve_report()).expect("plot drawn");
    assert_svg(&svg);
    for text in [
        "concurrent streams",
        "aggregate",
        "per stream (mean)",
        "tokens/s",
    ] {
        assert!(svg.contains(text), "the plot lacks `{text}`");
    }
    assert!(svg.contains("<polyline"), "no line drawn");
}

#[test]
fn droplet_cost_bars_show_a_bar_per_size_and_level() {
    let svg = plot::droplet_cost_bars(&droplet_report()).expect("plot drawn");
    assert_svg(&svg);
    for text in [
        "cost per million generated tokens",
        "$ per 1M tokens",
        "s-1vcpu-1gb ($0.0089/h)",
        "c-2 ($0.0625/h)",
        "concurrency 1",
        "concurrency 2",
    ] {
        assert!(svg.contains(text), "the plot lacks `{text}`");
    }
    // Two sizes with two levels each, plus one legend mark per level.
    assert_eq!(
        svg.matches("fill=\"#4C72B0\"").count(),
        2 + 1,
        "concurrency 1"
    );
    assert_eq!(
        svg.matches("fill=\"#DD8452\"").count(),
        2 + 1,
        "concurrency 2"
    );
}
