//! Reports of `bench infer` and `bench serve`: a Markdown table for people (llama-bench's
//! columns for inference), JSON and CSV for machines, and the SVG plots of [`crate::plot`].
//! Each format records the machine, the versions and, for inference, the model and
//! quantisation, the threads and the settings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::environment::Versions;
use crate::infer::{Backend, InferReport, InferResult, ModelInfo};
use crate::machine::Machine;
use crate::serve::ServeReport;
use crate::stats::Summary;

/// The files [`write_infer`], [`write_serve`] and `bench droplet` produce, by extension.
pub const EXTENSIONS: [&str; 4] = ["md", "json", "csv", "svg"];

/// Writes `infer.{md,json,csv,svg}` into `dir`; returns the paths written.
pub fn write_infer(dir: &Path, report: &InferReport) -> anyhow::Result<Vec<PathBuf>> {
    let contents = [
        infer_markdown(report),
        serde_json::to_string_pretty(report)?,
        infer_csv(report),
        crate::plot::infer_bars(report)?,
    ];
    write_all(dir, "infer", &contents)
}

/// Writes `serve.{md,json,csv,svg}` into `dir`; returns the paths written.
pub fn write_serve(dir: &Path, report: &ServeReport) -> anyhow::Result<Vec<PathBuf>> {
    let contents = [
        serve_markdown(report),
        serde_json::to_string_pretty(report)?,
        serve_csv(report),
        crate::plot::serve_lines(report)?,
    ];
    write_all(dir, "serve", &contents)
}

pub(crate) fn write_all(
    dir: &Path,
    stem: &str,
    contents: &[String; 4],
) -> anyhow::Result<Vec<PathBuf>> {
    fs_err::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for (extension, text) in EXTENSIONS.iter().zip(contents) {
        let path = dir.join(format!("{stem}.{extension}"));
        fs_err::write(&path, text)?;
        paths.push(path);
    }
    Ok(paths)
}

/// A spread (standard deviation over mean) above which a report warns that the machine was
/// probably busy.
pub const NOISY_SPREAD: f64 = 0.10;

/// The header lines every Markdown report starts with.
pub(crate) fn environment_lines(
    out: &mut String,
    machine: &Machine,
    versions: &Versions,
    load: [Option<f64>; 2],
) {
    let _ = writeln!(out, "- machine: {machine}");
    let show = |l: Option<f64>| l.map_or_else(|| "?".to_owned(), |l| format!("{l:.2}"));
    let _ = writeln!(
        out,
        "- load average (1 min): {} before, {} after",
        show(load[0]),
        show(load[1])
    );
    let _ = writeln!(
        out,
        "- versions: {}, WasmEdge {}, llama.cpp from {}, llama-cpp-2 {}",
        versions.nnedge, versions.wasmedge, versions.llama_cpp, versions.llama_cpp_2
    );
}

/// The inference report as Markdown: settings, llama-bench's table, the Wasm / native
/// ratios, and load time and peak RSS.
pub fn infer_markdown(report: &InferReport) -> String {
    let s = &report.settings;
    let mut out = String::from("## nnedge bench infer\n\n");
    environment_lines(
        &mut out,
        &report.machine,
        &report.versions,
        report.load_average,
    );
    let _ = writeln!(
        out,
        "- llama.cpp CPU features: {}",
        report.llama_system_info.trim()
    );
    let _ = writeln!(
        out,
        "- settings: pp {}, tg {}, {} runs per backend (interleaved), ctx {}, batch {}, guest {}\n",
        s.pp,
        s.tg,
        s.reps,
        s.ctx_size,
        s.batch_size,
        if s.interpreter { "interpreted" } else { "AOT" }
    );

    out.push_str("| model | size | params | backend | threads | test | t/s |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for result in &report.results {
        let model = model_info(report, &result.model);
        for (test, summary) in tests(report, result) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                result.model,
                model.map_or_else(|| "?".into(), |m| mib(m.size_bytes)),
                model.map_or_else(|| "?".into(), |m| params(m.params)),
                result.backend.name(),
                result.threads,
                test,
                summary.map_or_else(
                    || "-".into(),
                    |s| format!("{:.2} ± {:.2}", s.mean, s.stddev)
                )
            );
        }
    }

    out.push_str("\n| model | threads | test | wasm t/s | native t/s | wasm / native |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for (wasm, native) in pairs(report) {
        for ((test, w), (_, n)) in tests(report, wasm).into_iter().zip(tests(report, native)) {
            let (Some(w), Some(n)) = (w, n) else { continue };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {:.2} | {:.3} |",
                wasm.model,
                wasm.threads,
                test,
                w.mean,
                n.mean,
                w.mean / n.mean
            );
        }
    }

    let noisy = report.results.iter().any(|result| {
        tests(report, result)
            .iter()
            .filter_map(|(_, summary)| *summary)
            .any(|s| s.mean > 0.0 && s.stddev / s.mean > NOISY_SPREAD)
    });
    if noisy {
        let _ = writeln!(
            out,
            "\n> A spread above {:.0}% of the mean: the machine was probably busy. Rerun when \
             `uptime` shows it idle.",
            NOISY_SPREAD * 100.0
        );
    }

    out.push_str("\n| model | backend | threads | model load (ms) | peak RSS (MiB) |\n");
    out.push_str("|---|---|---|---|---|\n");
    for result in &report.results {
        let load = result.load_ms().map_or_else(
            || "-".into(),
            |s| format!("{:.1} ± {:.1}", s.mean, s.stddev),
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} |",
            result.model,
            result.backend.name(),
            result.threads,
            load,
            result.peak_rss_mib()
        );
    }
    out
}

/// The inference report as CSV, one row per model, backend, threads and test.
pub fn infer_csv(report: &InferReport) -> String {
    let mut out = String::from(
        "model,quantisation,size_bytes,params,backend,threads,test,runs,tps_mean,tps_stddev,\
         tps_median,load_ms_mean,peak_rss_mib,cpu,nnedge,wasmedge,llama_cpp\n",
    );
    for result in &report.results {
        let model = model_info(report, &result.model);
        for (test, summary) in tests(report, result) {
            let Some(summary) = summary else { continue };
            let fields = [
                result.model.clone(),
                model.map_or_else(String::new, |m| m.quantisation.clone()),
                model.map_or_else(String::new, |m| m.size_bytes.to_string()),
                model.map_or_else(String::new, |m| m.params.to_string()),
                result.backend.name().to_owned(),
                result.threads.to_string(),
                test,
                summary.count.to_string(),
                format!("{:.3}", summary.mean),
                format!("{:.3}", summary.stddev),
                format!("{:.3}", summary.median),
                result
                    .load_ms()
                    .map_or_else(String::new, |s| format!("{:.3}", s.mean)),
                format!("{:.1}", result.peak_rss_mib()),
                report.machine.cpu_model.clone(),
                report.versions.nnedge.clone(),
                report.versions.wasmedge.clone(),
                report.versions.llama_cpp.clone(),
            ];
            csv_row(&mut out, &fields);
        }
    }
    out
}

/// The serving report as Markdown: one row per concurrency level.
pub fn serve_markdown(report: &ServeReport) -> String {
    let s = &report.settings;
    let mut out = String::from("## nnedge bench serve\n\n");
    environment_lines(
        &mut out,
        &report.machine,
        &report.versions,
        report.load_average,
    );
    let _ = writeln!(
        out,
        "- endpoint: {} (model `{}`), max_tokens {}, {} requests per stream per level, \
         at most {:.0} s per level\n",
        s.url, s.model, s.max_tokens, s.requests_per_stream, s.level_seconds
    );
    out.push_str(
        "| concurrency | requests | errors | TTFT p50 / p95 / p99 (ms) | latency p50 / p95 / p99 (ms) \
         | overhead p50 / p99 (ms) | t/s per stream | aggregate t/s |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for level in &report.levels {
        let triple = |p: Option<crate::serve::Percentiles>| {
            p.map_or_else(
                || "-".into(),
                |p| format!("{:.0} / {:.0} / {:.0}", p.p50, p.p95, p.p99),
            )
        };
        let pair = level
            .overhead_ms
            .map_or_else(|| "-".into(), |p| format!("{:.1} / {:.1}", p.p50, p.p99));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            level.concurrency,
            level.requests,
            level.errors,
            triple(level.ttft_ms),
            triple(level.latency_ms),
            pair,
            level.stream_tps.map_or_else(
                || "-".into(),
                |s| format!("{:.2} ± {:.2}", s.mean, s.stddev)
            ),
            level.aggregate_tps
        );
    }
    for level in report
        .levels
        .iter()
        .filter(|l| !l.error_examples.is_empty())
    {
        let _ = writeln!(
            out,
            "\nerrors at concurrency {}: {}",
            level.concurrency,
            level.error_examples.join("; ")
        );
    }
    out
}

/// The serving report as CSV, one row per concurrency level.
pub fn serve_csv(report: &ServeReport) -> String {
    let mut out = String::from(
        "concurrency,requests,errors,completion_tokens,wall_s,ttft_p50_ms,ttft_p95_ms,\
         ttft_p99_ms,latency_p50_ms,latency_p95_ms,latency_p99_ms,overhead_p50_ms,\
         overhead_p99_ms,stream_tps_mean,\
         aggregate_tps,model,url,cpu,nnedge\n",
    );
    for level in &report.levels {
        let pick = |p: Option<crate::serve::Percentiles>,
                    f: fn(&crate::serve::Percentiles) -> f64| {
            p.map_or_else(String::new, |p| format!("{:.3}", f(&p)))
        };
        let fields = [
            level.concurrency.to_string(),
            level.requests.to_string(),
            level.errors.to_string(),
            level.completion_tokens.to_string(),
            format!("{:.3}", level.wall_seconds),
            pick(level.ttft_ms, |p| p.p50),
            pick(level.ttft_ms, |p| p.p95),
            pick(level.ttft_ms, |p| p.p99),
            pick(level.latency_ms, |p| p.p50),
            pick(level.latency_ms, |p| p.p95),
            pick(level.latency_ms, |p| p.p99),
            pick(level.overhead_ms, |p| p.p50),
            pick(level.overhead_ms, |p| p.p99),
            level
                .stream_tps
                .map_or_else(String::new, |s| format!("{:.3}", s.mean)),
            format!("{:.3}", level.aggregate_tps),
            report.settings.model.clone(),
            report.settings.url.clone(),
            report.machine.cpu_model.clone(),
            report.versions.nnedge.clone(),
        ];
        csv_row(&mut out, &fields);
    }
    out
}

/// The (name, t/s) of a result's two tests: `pp<N>` and `tg<N>`.
pub fn tests(report: &InferReport, result: &InferResult) -> [(String, Option<Summary>); 2] {
    [
        (format!("pp{}", report.settings.pp), result.pp_tps()),
        (format!("tg{}", report.settings.tg), result.tg_tps()),
    ]
}

/// The Wasm and native results of each model and thread count.
pub fn pairs(report: &InferReport) -> Vec<(&InferResult, &InferResult)> {
    let find = |of: &InferResult, backend| {
        report
            .results
            .iter()
            .find(|r| r.backend == backend && r.model == of.model && r.threads == of.threads)
    };
    report
        .results
        .iter()
        .filter(|r| r.backend == Backend::Wasm)
        .filter_map(|wasm| Some((wasm, find(wasm, Backend::Native)?)))
        .collect()
}

fn model_info<'a>(report: &'a InferReport, file: &str) -> Option<&'a ModelInfo> {
    report.models.iter().find(|m| m.file == file)
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn params(count: u64) -> String {
    if count >= 1_000_000_000 {
        format!("{:.2} B", count as f64 / 1e9)
    } else {
        format!("{:.2} M", count as f64 / 1e6)
    }
}

/// Appends one CSV row, quoting fields that need it (RFC 4180).
pub(crate) fn csv_row(out: &mut String, fields: &[String]) {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    out.push_str(&quoted.join(","));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        let mut out = String::new();
        csv_row(&mut out, &["a".into(), "b,c".into(), "say \"hi\"".into()]);
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn sizes_and_parameter_counts_read_like_llama_bench() {
        assert_eq!(mib(90_219_264), "86.04 MiB");
        assert_eq!(params(134_515_008), "134.52 M");
        assert_eq!(params(1_100_048_384), "1.10 B");
    }
}
