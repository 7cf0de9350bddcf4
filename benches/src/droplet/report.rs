//! The `bench droplet` report: per size, the droplet's machine as DigitalOcean describes it,
//! the `bench serve` report measured against it and each level's cost per million
//! generated tokens; as Markdown, CSV, JSON and an SVG of the costs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cost::{cheapest, LevelCost};
use crate::environment::{quantisation_of, Versions};
use crate::machine::Machine;
use crate::report::{csv_row, write_all};
use crate::serve::ServeReport;

/// A droplet as far as the API and the deployment tell: its size, price, region, image.
/// (The CPU model behind a size is not in the API; TODO(#8): ask the node for it.)
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropletMachine {
    /// Size slug (`s-2vcpu-4gb`).
    pub size: String,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Disk in GB.
    pub disk_gb: u64,
    /// US dollars per hour.
    pub price_hourly: f64,
    /// US dollars per month.
    pub price_monthly: f64,
    /// Region slug.
    pub region: String,
    /// The image it ran (name and id), as the API reports it.
    pub image: String,
    /// The droplet's id (deleted after the run).
    pub droplet_id: u64,
}

/// One size's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeResult {
    /// The droplet measured.
    pub droplet: DropletMachine,
    /// `bench serve` against it.
    pub serve: ServeReport,
    /// Each level, priced.
    pub costs: Vec<LevelCost>,
}

impl SizeResult {
    /// Prices every level of `serve` at the droplet's hourly price.
    pub fn new(droplet: DropletMachine, serve: ServeReport) -> Self {
        let costs = serve
            .levels
            .iter()
            .map(|level| LevelCost::of(level, droplet.price_hourly))
            .collect();
        Self {
            droplet,
            serve,
            costs,
        }
    }

    /// The cheapest level on this size.
    pub fn cheapest(&self) -> Option<&LevelCost> {
        cheapest(&self.costs)
    }
}

/// The cheapest size and level of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cheapest {
    /// Size slug.
    pub size: String,
    /// Concurrent streams.
    pub concurrency: usize,
    /// US dollars per million generated tokens.
    pub cost_per_million_tokens: f64,
}

/// Everything `bench droplet` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropletReport {
    /// The machine the load generator ran on (not a droplet).
    pub load_generator: Machine,
    /// Versions on the load generator's side.
    pub versions: Versions,
    /// The API the droplets were created through.
    pub api_url: String,
    /// Whether that API and the "droplets" were local stand-ins (a loopback API URL):
    /// such figures describe this machine, not DigitalOcean's.
    pub local_stand_in: bool,
    /// Region of every droplet.
    pub region: String,
    /// What ran on each node (preset, model, port; never URLs or keys).
    pub node: String,
    /// The quantisation in the model's file name, when the node flags name the model.
    pub quantisation: Option<String>,
    /// One entry per size, in the order given.
    pub sizes: Vec<SizeResult>,
    /// The cheapest size and level.
    pub cheapest: Option<Cheapest>,
}

impl DropletReport {
    /// A report of `sizes`, with the cheapest level found.
    pub fn new(context: ReportContext, sizes: Vec<SizeResult>) -> Self {
        let cheapest = sizes
            .iter()
            .filter_map(|s| Some((s, s.cheapest()?)))
            .filter_map(|(s, c)| Some((s, c, c.cost_per_million_tokens?)))
            .fold(None, |best: Option<Cheapest>, (s, c, cost)| match best {
                Some(b) if b.cost_per_million_tokens <= cost => Some(b),
                _ => Some(Cheapest {
                    size: s.droplet.size.clone(),
                    concurrency: c.concurrency,
                    cost_per_million_tokens: cost,
                }),
            });
        Self {
            load_generator: context.load_generator,
            versions: context.versions,
            local_stand_in: context.local_stand_in,
            api_url: context.api_url,
            region: context.region,
            quantisation: context.model_file.map(|f| quantisation_of(Path::new(&f))),
            node: context.node,
            sizes,
            cheapest,
        }
    }
}

/// What a report records besides its sizes.
#[derive(Debug, Clone)]
pub struct ReportContext {
    /// See [`DropletReport::load_generator`].
    pub load_generator: Machine,
    /// See [`DropletReport::versions`].
    pub versions: Versions,
    /// See [`DropletReport::api_url`].
    pub api_url: String,
    /// See [`DropletReport::local_stand_in`].
    pub local_stand_in: bool,
    /// See [`DropletReport::region`].
    pub region: String,
    /// See [`DropletReport::node`].
    pub node: String,
    /// The model file the node flags name.
    pub model_file: Option<String>,
}

/// Writes `droplet.{md,json,csv,svg}` into `dir`; returns the paths written.
pub fn write_droplet(dir: &Path, report: &DropletReport) -> anyhow::Result<Vec<PathBuf>> {
    let contents = [
        droplet_markdown(report),
        serde_json::to_string_pretty(report)?,
        droplet_csv(report),
        crate::plot::droplet_cost_bars(report)?,
    ];
    write_all(dir, "droplet", &contents)
}

fn money(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

/// The report as Markdown: where it ran, one row per size and level, the cheapest.
pub fn droplet_markdown(report: &DropletReport) -> String {
    let mut out = String::from("## nnedge bench droplet\n\n");
    if report.local_stand_in {
        out.push_str(
            "> Local stand-in: the DigitalOcean API was a fake on 127.0.0.1 and every \
             \"droplet\" was a server on this machine, priced as the size would be. These \
             are not droplet figures.\n\n",
        );
    }
    let _ = writeln!(out, "- DigitalOcean API: {}", report.api_url);
    let _ = writeln!(out, "- region: {}; node: {}", report.region, report.node);
    if let Some(quantisation) = &report.quantisation {
        let _ = writeln!(out, "- model quantisation: {quantisation}");
    }
    let _ = writeln!(out, "- load generator: {}", report.load_generator);
    let v = &report.versions;
    let _ = writeln!(
        out,
        "- versions (load generator): {}, WasmEdge {}, llama.cpp from {}, llama-cpp-2 {}",
        v.nnedge, v.wasmedge, v.llama_cpp, v.llama_cpp_2
    );
    if let Some(s) = report.sizes.first().map(|s| &s.serve.settings) {
        let _ = writeln!(
            out,
            "- requests: model `{}`, max_tokens {}, {} requests per stream per level, at \
             most {:.0} s per level",
            s.model, s.max_tokens, s.requests_per_stream, s.level_seconds
        );
    }
    let load = |l: Option<f64>| l.map_or_else(|| "?".to_owned(), |l| format!("{l:.2}"));
    for size in &report.sizes {
        let [before, after] = size.serve.load_average;
        let _ = writeln!(
            out,
            "- `{}`: droplet {}, image {}; load generator's load average {} before, {} after",
            size.droplet.size,
            size.droplet.droplet_id,
            size.droplet.image,
            load(before),
            load(after)
        );
    }

    out.push_str(
        "\n| size | vCPUs | memory | $/h | concurrency | aggregate t/s | TTFT p50 (ms) \
         | $ per 1M tokens |\n|---|---|---|---|---|---|---|---|\n",
    );
    for size in &report.sizes {
        let d = &size.droplet;
        for level in &size.costs {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} GiB | {:.5} | {} | {:.2} | {} | {} |",
                d.size,
                d.vcpus,
                d.memory_mib as f64 / 1024.0,
                d.price_hourly,
                level.concurrency,
                level.aggregate_tps,
                level
                    .ttft_p50_ms
                    .map_or_else(|| "-".to_owned(), |t| format!("{t:.0}")),
                money(level.cost_per_million_tokens),
            );
        }
    }

    out.push('\n');
    match &report.cheapest {
        Some(c) => {
            let _ = writeln!(
                out,
                "Cheapest: `{}` at concurrency {}, ${:.4} per million generated tokens.",
                c.size, c.concurrency, c.cost_per_million_tokens
            );
        }
        None => out.push_str("No level generated any tokens: nothing to price.\n"),
    }
    for size in &report.sizes {
        for level in size.serve.levels.iter().filter(|l| l.errors > 0) {
            let _ = writeln!(
                out,
                "\nerrors on `{}` at concurrency {}: {} of {} requests ({})",
                size.droplet.size,
                level.concurrency,
                level.errors,
                level.requests,
                level.error_examples.join("; ")
            );
        }
    }
    out
}

/// The report as CSV, one row per size and level.
pub fn droplet_csv(report: &DropletReport) -> String {
    let mut out = String::from(
        "size,vcpus,memory_mib,price_hourly,region,image,concurrency,requests,errors,\
         aggregate_tps,ttft_p50_ms,cost_per_million_tokens,local_stand_in,nnedge\n",
    );
    for size in &report.sizes {
        let d = &size.droplet;
        for level in &size.costs {
            let fields = [
                d.size.clone(),
                d.vcpus.to_string(),
                d.memory_mib.to_string(),
                format!("{}", d.price_hourly),
                d.region.clone(),
                d.image.clone(),
                level.concurrency.to_string(),
                level.requests.to_string(),
                level.errors.to_string(),
                format!("{:.3}", level.aggregate_tps),
                level
                    .ttft_p50_ms
                    .map_or_else(String::new, |t| format!("{t:.3}")),
                level
                    .cost_per_million_tokens
                    .map_or_else(String::new, |c| format!("{c:.6}")),
                report.local_stand_in.to_string(),
                report.versions.nnedge.clone(),
            ];
            csv_row(&mut out, &fields);
        }
    }
    out
}
