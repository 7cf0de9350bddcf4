//! SVG plots of the reports, drawn with `plotters`' SVG backend (no bitmap or font-file
//! features: text goes into the SVG as `<text>` and the viewer's fonts render it).
//!
//! - [`infer_bars`]: Wasm vs native tokens/s, one panel per test (pp, tg), a pair of bars per
//!   model and thread count, with ± one standard deviation as a whisker;
//! - [`serve_lines`]: aggregate and per-stream tokens/s against concurrency;
//! - [`droplet_cost_bars`]: dollars per million generated tokens, a group of bars per droplet
//!   size and a bar per concurrency level.

use plotters::prelude::*;

use crate::droplet::DropletReport;
use crate::infer::InferReport;
use crate::report::{pairs, tests};
use crate::serve::ServeReport;

/// Size of every plot in pixels.
const SIZE: (u32, u32) = (960, 480);

const WASM_COLOUR: RGBColor = RGBColor(0x4c, 0x72, 0xb0);
const NATIVE_COLOUR: RGBColor = RGBColor(0xdd, 0x84, 0x52);

/// Colours of the concurrency levels in [`droplet_cost_bars`], in turn.
const LEVEL_COLOURS: [RGBColor; 6] = [
    WASM_COLOUR,
    NATIVE_COLOUR,
    RGBColor(0x55, 0xa8, 0x68),
    RGBColor(0xc4, 0x4e, 0x52),
    RGBColor(0x81, 0x72, 0xb3),
    RGBColor(0x93, 0x78, 0x60),
];

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("failed to draw the plot: {reason}")]
pub struct PlotError {
    /// plotters' message.
    reason: String,
}

fn plot_error<E: std::fmt::Display>(error: E) -> PlotError {
    PlotError {
        reason: error.to_string(),
    }
}

/// Bars of Wasm and native tokens/s for each test, model and thread count.
pub fn infer_bars(report: &InferReport) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let pairs = pairs(report);
        let panels = root.split_evenly((1, 2));
        for (panel_index, panel) in panels.iter().enumerate() {
            // (label, wasm mean, wasm sd, native mean, native sd) per group.
            let groups: Vec<(String, [(f64, f64); 2])> = pairs
                .iter()
                .filter_map(|(wasm, native)| {
                    let (test, w) = tests(report, wasm)[panel_index].clone();
                    let (_, n) = tests(report, native)[panel_index].clone();
                    let (w, n) = (w?, n?);
                    let label = format!("{} t{} {test}", short(&wasm.model), wasm.threads);
                    Some((label, [(w.mean, w.stddev), (n.mean, n.stddev)]))
                })
                .collect();
            draw_bar_panel(panel, panel_index, &groups)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn draw_bar_panel(
    panel: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    panel_index: usize,
    groups: &[(String, [(f64, f64); 2])],
) -> Result<(), PlotError> {
    let top = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|(mean, sd)| mean + sd))
        .fold(1.0_f64, f64::max)
        * 1.35;
    let caption = if panel_index == 0 {
        "prompt processing (t/s)"
    } else {
        "generation (t/s)"
    };
    let count = groups.len().max(1);
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..count as f64, 0.0..top)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("tokens/s")
        .draw()
        .map_err(plot_error)?;
    // Group labels sit inside the plot, above each pair of bars: plotters' numeric axis
    // cannot promise a tick at each group's centre.
    chart
        .draw_series(groups.iter().enumerate().map(|(i, (label, _))| {
            Text::new(
                label.clone(),
                (i as f64 + 0.1, top * 0.97),
                ("sans-serif", 13),
            )
        }))
        .map_err(plot_error)?;

    for (series, colour, name) in [(0, WASM_COLOUR, "wasm"), (1, NATIVE_COLOUR, "native")] {
        let left = |i: usize| i as f64 + 0.1 + 0.4 * series as f64;
        chart
            .draw_series(groups.iter().enumerate().map(|(i, (_, bars))| {
                let (mean, _) = bars[series];
                Rectangle::new([(left(i), 0.0), (left(i) + 0.38, mean)], colour.filled())
            }))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
        chart
            .draw_series(groups.iter().enumerate().map(|(i, (_, bars))| {
                let (mean, sd) = bars[series];
                let x = left(i) + 0.19;
                PathElement::new(vec![(x, mean - sd), (x, mean + sd)], BLACK.stroke_width(2))
            }))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(plot_error)
}

/// Lines of aggregate and mean per-stream tokens/s against concurrency.
pub fn serve_lines(report: &ServeReport) -> Result<String, PlotError> {
    let aggregate: Vec<(f64, f64)> = report
        .levels
        .iter()
        .map(|l| (l.concurrency as f64, l.aggregate_tps))
        .collect();
    let per_stream: Vec<(f64, f64)> = report
        .levels
        .iter()
        .filter_map(|l| Some((l.concurrency as f64, l.stream_tps?.mean)))
        .collect();
    let max_x = aggregate.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_y = aggregate
        .iter()
        .chain(&per_stream)
        .map(|p| p.1)
        .fold(1.0, f64::max)
        * 1.15;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let caption = format!("tokens/s vs concurrency ({})", report.settings.model);
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..max_x + 1.0, 0.0..max_y)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x| format!("{x:.0}"))
            .x_desc("concurrent streams")
            .y_desc("tokens/s")
            .draw()
            .map_err(plot_error)?;
        for (points, colour, name) in [
            (&aggregate, WASM_COLOUR, "aggregate"),
            (&per_stream, NATIVE_COLOUR, "per stream (mean)"),
        ] {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Bars of dollars per million generated tokens: a group per droplet size (labelled with its
/// slug and hourly price), a bar per concurrency level; unpriced levels have no bar.
pub fn droplet_cost_bars(report: &DropletReport) -> Result<String, PlotError> {
    let mut levels: Vec<usize> = report
        .sizes
        .iter()
        .flat_map(|s| s.costs.iter().map(|c| c.concurrency))
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let top = report
        .sizes
        .iter()
        .flat_map(|s| s.costs.iter().filter_map(|c| c.cost_per_million_tokens))
        .fold(0.0_f64, f64::max)
        .max(1e-6)
        * 1.35;
    let groups = report.sizes.len().max(1);
    let width = 0.8 / levels.len().max(1) as f64;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("cost per million generated tokens", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..groups as f64, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("$ per 1M tokens")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(report.sizes.iter().enumerate().map(|(i, size)| {
                let label = format!(
                    "{} (${:.4}/h)",
                    size.droplet.size, size.droplet.price_hourly
                );
                Text::new(label, (i as f64 + 0.1, top * 0.97), ("sans-serif", 13))
            }))
            .map_err(plot_error)?;

        for (index, &concurrency) in levels.iter().enumerate() {
            let colour = LEVEL_COLOURS[index % LEVEL_COLOURS.len()];
            let left = |i: usize| i as f64 + 0.1 + width * index as f64;
            let bars = report.sizes.iter().enumerate().filter_map(|(i, size)| {
                let cost = size
                    .costs
                    .iter()
                    .find(|c| c.concurrency == concurrency)?
                    .cost_per_million_tokens?;
                let right = left(i) + width * 0.95;
                Some(Rectangle::new(
                    [(left(i), 0.0), (right, cost)],
                    colour.filled(),
                ))
            });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(format!("concurrency {concurrency}"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A model file name without its extension, cut for an axis label.
fn short(file: &str) -> String {
    let stem = file.strip_suffix(".gguf").unwrap_or(file);
    crate::serve::sse::truncate(stem, 28)
}
